#!/usr/bin/env bash
# Start Parley's real local stack (Kafka, FerretDB on PostgreSQL, Redis Cluster, Mailpit, SeaweedFS) on 127.0.0.1.
# Idempotent: installs what is missing, starts what is not running, then waits
# until every server answers. Re-running with everything up is a quick no-op.
#
#   scripts/stack/up.sh            then: eval "$(scripts/stack/env.sh)"
#
# Env: PARLEY_STACK_DIR, PARLEY_CACHE_DIR, PARLEY_*_PORT, PARLEY_START_TIMEOUT,
#      PARLEY_FERRETDB_BACKEND=pg|sqlite (default pg; see lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

t0=$(date +%s%N)
mkdir -p "$PARLEY_STACK_DIR"
touch "$PARLEY_STACK_DIR/.parley-stack"   # marks the dir as ours (down.sh --purge checks it)

# One up/down at a time per state dir.
exec 9>"$PARLEY_STACK_DIR/.lock"
flock -w 600 9 || die "another up.sh/down.sh holds $PARLEY_STACK_DIR/.lock"

all_up=1
for s in "${SERVERS[@]}"; do
  server_answers "$s" || { all_up=0; break; }
done
# A FerretDB running with the other backend is restarted by start_ferretdb.
[[ $(ferretdb_running_backend) == "$PARLEY_FERRETDB_BACKEND" ]] || all_up=0

if ((all_up)); then
  log "all servers already up"
else
  # Kafka first: its JVM boots while PostgreSQL and FerretDB start.
  start_kafka
  [[ $PARLEY_FERRETDB_BACKEND == pg ]] && start_postgres   # waits until it accepts connections
  start_ferretdb
  start_redis
  start_seaweedfs
  ensure_redis_cluster
  start_mailpit
  for s in "${SERVERS[@]}"; do
    wait_for "$s" "$PARLEY_START_TIMEOUT"
    log "$s: up"
  done
fi

log "kafka:    $(server_endpoint kafka)  [Kafka $(kafka_version)]"
[[ $PARLEY_FERRETDB_BACKEND == pg ]] &&
  log "postgres: $(server_endpoint postgres)  [PostgreSQL $(pg_version), data $PG_DATA]"
log "ferretdb: $(server_endpoint ferretdb)  [FerretDB $(ferretdb_version), $(ferretdb_backend_label "$PARLEY_FERRETDB_BACKEND")]"
log "redis:    $(server_endpoint redis)  [$(redis-server --version | awk '{print $3}' | tr -d 'v=')]"
log "mailpit:  $(server_endpoint mailpit)  [Mailpit $PARLEY_MAILPIT_VERSION]"
log "s3:       $(server_endpoint seaweedfs)  [SeaweedFS $PARLEY_SEAWEEDFS_VERSION]"
log "state: $PARLEY_STACK_DIR   cache: $PARLEY_CACHE_DIR"
log "use:   eval \"\$($STACK_SCRIPTS_DIR/env.sh)\""
log "up.sh took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
