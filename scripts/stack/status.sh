#!/usr/bin/env bash
# Print whether each server of the local stack answers.
#
#   scripts/stack/status.sh                exit 0 if all up, 1 otherwise
#   scripts/stack/status.sh --wait [SECS]  block until all answer (default 60 s) or fail
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wait_s=""
case ${1:-} in
  "") ;;
  --wait) wait_s=${2:-60}; [[ $wait_s =~ ^[0-9]+$ ]] || die "--wait takes a number of seconds" ;;
  -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
  *) die "unknown argument: $1 (usage: status.sh [--wait [seconds]])" ;;
esac

if [[ -n $wait_s ]]; then
  deadline=$(($(now_s) + wait_s))
  for s in "${SERVERS[@]}"; do
    until server_answers "$s"; do
      if (($(now_s) >= deadline)); then
        die "$s did not answer on $(server_endpoint "$s") within ${wait_s}s. See $(server_log "$s") (start it with scripts/stack/up.sh)"
      fi
      sleep 0.5
    done
  done
fi

rc=0
for s in "${SERVERS[@]}"; do
  pids=()
  while read -r pf; do pid_alive "$pf" && pids+=("$(<"$pf")"); done < <(server_pidfiles "$s")
  if server_answers "$s"; then state=up; else state=down; rc=1; fi
  extra=""
  [[ $s == ferretdb ]] && extra="  [$(ferretdb_backend_label "$(ferretdb_running_backend)")]"
  printf '%-9s %-5s %s%s%s\n' "$s" "$state" "$(server_endpoint "$s")" \
    "$( ((${#pids[@]})) && echo "  pid ${pids[*]}" || echo "  (no live pid)")" "$extra"
done
if [[ $(ferretdb_running_backend) != "$PARLEY_FERRETDB_BACKEND" ]] && pid_alive "$FERRETDB_DIR/ferretdb.pid"; then
  echo "note: FerretDB runs the $(ferretdb_running_backend) backend but PARLEY_FERRETDB_BACKEND=$PARLEY_FERRETDB_BACKEND (up.sh restarts it)"
fi
exit "$rc"
