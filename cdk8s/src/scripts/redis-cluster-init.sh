#!/bin/bash
# Forms the Redis Cluster once, and on every later run (re-install, upgrade) re-introduces the
# nodes to each other by their current IPs instead, so pods that came back with new addresses
# rejoin. Idempotent. Env: STS, HEADLESS, NODES, REPLICAS, REDIS_PASSWORD.
set -euo pipefail
cli() { redis-cli -a "$REDIS_PASSWORD" --no-auth-warning "$@"; }
info() { cli -h "$1" cluster info | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }
first="$STS-0.$HEADLESS"
ips=()
for i in $(seq 0 $((NODES - 1))); do
  host="$STS-$i.$HEADLESS"
  until cli -h "$host" ping 2>/dev/null | grep -q PONG; do
    echo "waiting for $host"
    sleep 2
  done
  ips+=("$(getent hosts "$host" | awk '{ print $1; exit }')")
done
if [[ $(info "$first" cluster_known_nodes) -gt 1 ]]; then
  echo "cluster already formed: meeting every node again at its current address"
  for ip in "${ips[@]}"; do cli -h "$first" cluster meet "$ip" 6379 >/dev/null; done
else
  echo "forming the cluster: ${ips[*]} with $REPLICAS replica(s) per master"
  cli --cluster create "${ips[@]/%/:6379}" --cluster-replicas "$REPLICAS" --cluster-yes
fi
for _ in $(seq 1 90); do
  if [[ $(info "$first" cluster_state) == ok ]]; then
    echo "cluster_state:ok"
    exit 0
  fi
  sleep 2
done
echo "the cluster did not reach cluster_state:ok within 180 s" >&2
cli -h "$first" cluster nodes >&2
exit 1
