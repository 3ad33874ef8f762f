#!/usr/bin/env bash
# Stop, start and break single servers of the local stack, and bring it back to healthy.
# Used by the fault harness (scripts/chaos/); safe to run by hand.
#
#   scripts/stack/ctl.sh stop kafka|ferretdb        SIGTERM, wait (SIGKILL after PARLEY_STOP_TIMEOUT)
#   scripts/stack/ctl.sh start kafka|ferretdb       start if down, wait until it answers
#   scripts/stack/ctl.sh restart kafka|ferretdb     stop, then start
#   scripts/stack/ctl.sh redis-masters              ports of the Redis masters that own slots
#   scripts/stack/ctl.sh kill-redis-master [PORT]   SIGKILL a master (default: the first); prints its port
#   scripts/stack/ctl.sh redis-failed-over PORT     exit 0 once PORT's slots are served by another node
#   scripts/stack/ctl.sh heal [SECS]                up.sh, then wait until every Redis node is a connected
#                                                   master or replica (3 + 3) with cluster_state:ok
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,13p' "$0"; }

# Same lock as up.sh/down.sh: one start/stop at a time per state dir.
lock() {
  mkdir -p "$PARLEY_STACK_DIR"
  exec 9>"$PARLEY_STACK_DIR/.lock"
  flock -w 300 9 || die "another up.sh/down.sh/ctl.sh holds $PARLEY_STACK_DIR/.lock"
}

one_of() {
  case ${1:-} in
    kafka | ferretdb) ;;
    *) die "expected kafka or ferretdb, got '${1:-}'" ;;
  esac
}

stop_one() {
  local pidfiles
  mapfile -t pidfiles < <(server_pidfiles "$1")
  stop_pidfiles "$1" "${pidfiles[@]}"
}

start_one() {
  case $1 in
    kafka) start_kafka ;;
    ferretdb) start_ferretdb ;;
  esac
  wait_for "$1" "$PARLEY_START_TIMEOUT"
  log "$1: up"
}

# "PORT ROLE MASTER_LINK" per live node, from CLUSTER NODES as seen by any live node.
redis_nodes_view() {
  local port
  for port in "${REDIS_PORTS[@]}"; do
    if redis_node_answers "$port"; then
      redis_cli "$port" cluster nodes 2>/dev/null && return 0
    fi
  done
  return 1
}

redis_masters() {
  redis_nodes_view | awk '$3 ~ /master/ && $3 !~ /fail/ && $8 == "connected" && NF >= 9 {
    split($2, a, "[:@]"); print a[2] }' | sort -n
}

redis_pid() { local pidfile="$REDIS_DIR/$1/redis.pid"; pid_alive "$pidfile" && cat "$pidfile"; }

kill_redis_master() {
  local port=${1:-} pid
  [[ -n $port ]] || port=$(redis_masters | head -1)
  [[ -n $port ]] || die "redis: no master found"
  redis_masters | grep -qx "$port" || die "redis: $port is not a master"
  pid=$(redis_pid "$port") || die "redis: no live pid for node $port"
  kill -KILL "$pid"
  echo "$port"
}

# Every live node agrees that PORT owns no slots any more and that the masters owning them are
# reachable (its replica took over), and reports cluster_state:ok.
redis_failed_over() {
  local port=$1 p view
  for p in "${REDIS_PORTS[@]}"; do
    [[ $p == "$port" ]] && continue
    redis_node_answers "$p" || continue
    redis_cli "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    view=$(redis_cli "$p" cluster nodes 2>/dev/null) || return 1
    # Slot owners: not PORT, not failing, link connected (or myself).
    awk -v dead="$port" 'NF >= 9 && $3 ~ /master/ {
        split($2, a, "[:@]")
        if (a[2] == dead || $3 ~ /fail/ || $8 != "connected") bad = 1
      } END { exit bad }' <<<"$view" || return 1
  done
}

# Healthy: all 6 answer with cluster_state:ok; 3 masters own slots; every replica's link is up.
redis_settled() {
  local port info masters=0 replicas=0
  redis_cluster_ok || return 1
  for port in "${REDIS_PORTS[@]}"; do
    info=$(redis_cli "$port" info replication 2>/dev/null) || return 1
    if grep -q '^role:master' <<<"$info"; then
      masters=$((masters + 1))
    elif grep -q '^master_link_status:up' <<<"$info"; then
      replicas=$((replicas + 1))
    fi
  done
  ((masters == 3 && replicas == 3))
}

heal() {
  local timeout=${1:-120} deadline
  deadline=$(($(now_s) + timeout))
  PARLEY_START_TIMEOUT=$timeout bash "$STACK_SCRIPTS_DIR/up.sh"
  until redis_settled; do
    if (($(now_s) >= deadline)); then
      redis_nodes_view >&2 || true
      die "redis: not 3 masters + 3 connected replicas with cluster_state:ok within ${timeout}s"
    fi
    sleep 0.5
  done
  for s in "${SERVERS[@]}"; do server_answers "$s" || die "$s does not answer after heal"; done
  log "healthy: ${SERVERS[*]}"
}

cmd=${1:-}
shift || true
case $cmd in
  stop) one_of "${1:-}"; lock; stop_one "$1" ;;
  start) one_of "${1:-}"; lock; start_one "$1" ;;
  restart) one_of "${1:-}"; lock; stop_one "$1"; start_one "$1" ;;
  redis-masters) redis_masters ;;
  kill-redis-master) kill_redis_master "${1:-}" ;;
  redis-failed-over) [[ -n ${1:-} ]] || die "redis-failed-over PORT"; redis_failed_over "$1" ;;
  heal) heal "${1:-120}" ;;
  -h | --help | "") usage ;;
  *) usage >&2; die "unknown command: $cmd" ;;
esac
