#!/usr/bin/env bash
# Checks the images parley.sh and infra.sh built, each in its own network namespace with podman:
# every image runs as its non-root user; the Parley images load tsx and their native modules; Kafka
# formats its storage from the KAFKA_* contract and starts (KRaft, one node); the FerretDB stand-in
# answers mongosh; redis-server and redis-cli run. Prints one line per check, then a total.
#
#   bash scripts/images/smoke.sh
set -eEuo pipefail
trap 'echo "[images] smoke.sh: line $LINENO failed (exit $?): $BASH_COMMAND" >&2' ERR
# shellcheck source=scripts/images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pod_setup
tag=$(node -p 'require(process.argv[1]).version' "$IMAGES_REPO_ROOT/package.json")
# awk reads the whole list: `grep -m1` stopped at the first match, podman then died of SIGPIPE
# writing the rest, and under pipefail this script ended there without a word (CI: "FAIL images:
# build and check" twice, passing when run again).
first_image() { pod images --format '{{.Repository}}:{{.Tag}}' | awk -v p="$1" 'index($0, p) == 1 && !n++'; }
kafka=$(first_image localhost/parley-infra/kafka:)
mongodb=$(first_image localhost/parley-infra/mongodb:)
passed=0 failed=0
check() { # what, command...
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
    printf '%s\n' "$out" | grep -v 'systemd' | tail -n 5 | sed 's/^/     /'
  fi
}
run() { pod run --rm --network none --read-only --tmpfs /tmp "$@"; }
uid_is() { # image, uid
  [[ $(run "$1" id -u 2>/dev/null | tail -n 1) == "$2" ]]
}
names=()
cleanup() { for n in "${names[@]}"; do pod rm -f "$n" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

for s in auth message operator; do
  check "parley/$s runs as node (1000)" uid_is "docker.io/parley/$s:$tag" 1000
done
for s in auth message operator; do
  check "parley/$s resolves tsx from /app (its CMD is node --import tsx)" \
    run "docker.io/parley/$s:$tag" node --import tsx -e 'process.exit(0)'
done
check "parley/message loads better-sqlite3 and argon2" run "docker.io/parley/message:$tag" node -e \
  'new (require("better-sqlite3"))(":memory:").prepare("select 1").get(); require("@node-rs/argon2")'
check "redis runs as redis (999)" uid_is localhost/parley-infra/redis:7 999
check "redis-server and redis-cli" run localhost/parley-infra/redis:7 sh -c 'redis-server --version && redis-cli --version'
check "mongodb stand-in runs as mongodb (999)" uid_is "$mongodb" 999
check "kafka runs as appuser (1000)" uid_is "$kafka" 1000

names+=(parley-smoke-mongodb)
pod run -d --name parley-smoke-mongodb --network none "$mongodb" mongod --bind_ip_all --replSet rs0 >/dev/null 2>&1
mongo_ping() {
  for _ in $(seq 1 30); do
    pod exec parley-smoke-mongodb mongosh --quiet --eval "db.adminCommand('ping').ok" 2>/dev/null | grep -qx 1 && return 0
    sleep 1
  done
  return 1
}
check "mongodb stand-in answers mongosh ping" mongo_ping

names+=(parley-smoke-kafka)
pod run -d --name parley-smoke-kafka --network none -e CLUSTER_ID=smoke-test-cluster-id0 -e KAFKA_NODE_ID=0 \
  -e KAFKA_PROCESS_ROLES=broker,controller -e KAFKA_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093 \
  -e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 -e KAFKA_CONTROLLER_QUORUM_VOTERS=0@localhost:9093 \
  -e KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER -e KAFKA_INTER_BROKER_LISTENER_NAME=PLAINTEXT \
  -e KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT \
  -e KAFKA_LOG_DIRS=/var/lib/kafka/data/logs -e KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1 \
  -e 'KAFKA_HEAP_OPTS=-Xms256m -Xmx256m' "$kafka" >/dev/null 2>&1
kafka_started() {
  for _ in $(seq 1 120); do
    pod logs parley-smoke-kafka 2>&1 | grep -q 'Kafka Server started' && return 0
    pod logs parley-smoke-kafka 2>&1 | grep -q 'ERROR' && break
    sleep 1
  done
  pod logs parley-smoke-kafka 2>&1 | tail -n 5
  return 1
}
check "kafka starts from the KAFKA_* environment (KRaft)" kafka_started
kafka_props() { pod exec parley-smoke-kafka cat /opt/kafka/config/server.properties | grep -qx node.id=0; }
check "kafka wrote node.id=0 to server.properties" kafka_props

echo "images: $passed passed, $failed failed"
((failed == 0))
