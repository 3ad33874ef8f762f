#!/usr/bin/env bash
# Stop every server of the local stack (pid files; SIGTERM, then SIGKILL after
# PARLEY_STOP_TIMEOUT seconds).
#
#   scripts/stack/down.sh           stop, keep data (next up.sh restarts with it)
#   scripts/stack/down.sh --purge   stop and delete $PARLEY_STACK_DIR (data incl. PostgreSQL's, logs, configs)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
case ${1:-} in
  "") ;;
  --purge) purge=1 ;;
  -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
  *) die "unknown argument: $1 (usage: down.sh [--purge])" ;;
esac

if [[ ! -d $PARLEY_STACK_DIR ]]; then
  log "nothing to do: $PARLEY_STACK_DIR does not exist"
  exit 0
fi

exec 9>"$PARLEY_STACK_DIR/.lock"
flock -w 600 9 || die "another up.sh/down.sh holds $PARLEY_STACK_DIR/.lock"

# Stop all servers in parallel; each waits for its own processes. PostgreSQL
# goes last (after FerretDB, its only client), whichever backend is selected.
pids=()
for s in kafka ferretdb redis mailpit seaweedfs; do
  mapfile -t pidfiles < <(server_pidfiles "$s")
  stop_pidfiles "$s" "${pidfiles[@]}" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
stop_postgres || rc=1
((rc == 0)) || die "some servers failed to stop"

if ((purge)); then
  [[ -f $PARLEY_STACK_DIR/.parley-stack ]] ||
    die "refusing to purge $PARLEY_STACK_DIR: no .parley-stack marker (not created by up.sh?)"
  rm -rf "$PARLEY_STACK_DIR"
  log "purged $PARLEY_STACK_DIR"
fi
