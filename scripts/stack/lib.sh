# shellcheck shell=bash
# Shared settings and helpers for scripts/stack/*.sh (sourced, not executed).
#
# Servers (all on 127.0.0.1):
#   kafka    Apache Kafka (KRaft, broker+controller)   :9092 (controller :9093)
#   ferretdb FerretDB v1, SQLite backend (MongoDB wire) :27017
#   redis    6-node Redis Cluster (3 masters+3 replicas) :7001-7006
#
# Layout:
#   $PARLEY_STACK_DIR  (default <repo>/.stack)  state: data, logs, pid files, configs
#   $PARLEY_CACHE_DIR  (default ~/.cache/parley) downloads/builds reused across runs:
#       kafka/<pom-hash>/libs      Kafka runtime jars (copied from ~/.m2)
#       ferretdb/<src-hash>/       parley-ferretdb binary
#       tools/bin                  helm, kubeconform (scripts/stack/tools.sh)

STACK_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_SCRIPTS_DIR/../.." && pwd)"

: "${PARLEY_STACK_DIR:=$REPO_ROOT/.stack}"
: "${PARLEY_CACHE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/parley}"
: "${PARLEY_HOST:=127.0.0.1}"

: "${PARLEY_KAFKA_PORT:=9092}"
: "${PARLEY_KAFKA_CONTROLLER_PORT:=9093}"
: "${PARLEY_KAFKA_HEAP_OPTS:=-Xms256m -Xmx512m}"
: "${PARLEY_MONGO_PORT:=27017}"
: "${PARLEY_MONGO_DB:=parley}"
: "${PARLEY_REDIS_BASE_PORT:=7001}"   # 6 nodes: base .. base+5

: "${PARLEY_START_TIMEOUT:=120}"      # seconds up.sh waits for all servers to answer
: "${PARLEY_STOP_TIMEOUT:=30}"        # seconds down.sh waits after SIGTERM before SIGKILL

KAFKA_DIR="$PARLEY_STACK_DIR/kafka"
FERRETDB_DIR="$PARLEY_STACK_DIR/ferretdb"
REDIS_DIR="$PARLEY_STACK_DIR/redis"
REDIS_PORTS=()
for _i in 0 1 2 3 4 5; do REDIS_PORTS+=("$((PARLEY_REDIS_BASE_PORT + _i))"); done
unset _i

# shellcheck disable=SC2034 # used by the scripts that source this file
SERVERS=(kafka ferretdb redis)

# ---------------------------------------------------------------- output ----
log()  { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die()  { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# Show the end of a log file (for error messages).
log_tail() {
  local file=$1 lines=${2:-25}
  if [[ -s $file ]]; then
    printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2
    printf -- '-----\n' >&2
  fi
}

now_s() { date +%s; }

# sha256 (first 16 hex chars) of the given files' contents.
hash_files() { cat "$@" | sha256sum | cut -c1-16; }

# --------------------------------------------------------------- processes --
# pid_alive PIDFILE -> 0 if the pid file names a live process.
pid_alive() {
  local pidfile=$1 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1  # zombie
  # Guard against a stale pid file whose pid now belongs to another program.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE 'kafka\.Kafka|parley-ferretdb|redis-server'
}

# start_bg PIDFILE LOGFILE CMD... : start CMD detached (own session, survives
# the calling shell and Ctrl-C) with output to LOGFILE; record its pid.
start_bg() {
  local pidfile=$1 logfile=$2
  shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  printf '\n===== %s starting: %s\n' "$(date -Is)" "$*" >>"$logfile"
  # setsid(1) execs in place when it is not a group leader (true in scripts),
  # so $! is the server's own pid.
  # 9>&-: do not let servers inherit the up.sh lock fd.
  setsid nohup "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
}

# stop_pidfiles NAME PIDFILE... : SIGTERM all, wait PARLEY_STOP_TIMEOUT, then SIGKILL.
stop_pidfiles() {
  local name=$1 pf pid deadline alive
  shift
  local pids=()
  for pf in "$@"; do
    if pid_alive "$pf"; then
      pids+=("$(<"$pf")")
    fi
  done
  if ((${#pids[@]} == 0)); then
    log "$name: not running"
    rm -f "$@"
    return 0
  fi
  log "$name: stopping (SIGTERM pid ${pids[*]})"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$(($(now_s) + PARLEY_STOP_TIMEOUT))
  while :; do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]} == 0)) && break
    if (($(now_s) >= deadline)); then
      warn "$name: still running after ${PARLEY_STOP_TIMEOUT}s, sending SIGKILL to ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$@"
  log "$name: stopped"
}

# ------------------------------------------------------------ raw probes ----
# These speak just enough of each wire protocol to prove the server answers,
# using bash's /dev/tcp (no client tools or JVM start-up needed).

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$PARLEY_HOST/$1" 2>/dev/null
}

# Kafka ApiVersions v0 request; answers only once the broker is started.
kafka_answers() {
  local port=$PARLEY_KAFKA_PORT out
  out=$(timeout 3 bash -c "exec 3<>/dev/tcp/$PARLEY_HOST/$port &&
    printf '\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x07\x00\x04ping' >&3 &&
    head -c 10 <&3 | od -An -tx1" 2>/dev/null) || return 1
  # int32 length, int32 correlation id (7), int16 error_code (0)
  out=$(tr -s ' \n' '  ' <<<"$out")  # collapse od's line breaks/padding
  [[ $out =~ ^\ ?([0-9a-f]{2}\ ){4}00\ 00\ 00\ 07\ 00\ 00\ ?$ ]]
}

# MongoDB OP_MSG {ping: 1, $db: "admin"}; expects {ok: 1.0} back.
mongo_answers() {
  local port=$PARLEY_MONGO_PORT out
  out=$(timeout 3 bash -c "exec 3<>/dev/tcp/$PARLEY_HOST/$port &&
    printf '\x33\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00\x00\x00\x00\x00\x00\x1e\x00\x00\x00\x10ping\x00\x01\x00\x00\x00\x02\$db\x00\x06\x00\x00\x00admin\x00\x00' >&3 &&
    set -- \$(head -c 4 <&3 | od -An -tu1) &&
    head -c \$((\$1 + \$2 * 256 + \$3 * 65536 - 4)) <&3 | od -An -tx1" 2>/dev/null) || return 1
  out=$(tr -s ' \n' '  ' <<<"$out")
  [[ $out == *"01 6f 6b 00 00 00 00 00 00 00 f0 3f"* ]]  # "ok": double 1.0
}

redis_cli() { local port=$1; shift; timeout 5 redis-cli -h "$PARLEY_HOST" -p "$port" "$@"; }

redis_node_answers() { [[ $(redis_cli "$1" ping 2>/dev/null) == PONG ]]; }

redis_cluster_ok() {
  local port
  for port in "${REDIS_PORTS[@]}"; do
    redis_cli "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

# server_answers NAME -> 0 if that server is fully usable.
server_answers() {
  case $1 in
    kafka) kafka_answers ;;
    ferretdb) mongo_answers ;;
    redis) command -v redis-cli >/dev/null && redis_cluster_ok ;;
    *) return 1 ;;
  esac
}

server_log() {
  case $1 in
    kafka) echo "$KAFKA_DIR/logs/server.log (and $KAFKA_DIR/logs/kafka.out)" ;;
    ferretdb) echo "$FERRETDB_DIR/ferretdb.log" ;;
    redis) echo "$REDIS_DIR/<port>/redis.log" ;;
  esac
}

server_endpoint() {
  case $1 in
    kafka) echo "$PARLEY_HOST:$PARLEY_KAFKA_PORT (controller $PARLEY_HOST:$PARLEY_KAFKA_CONTROLLER_PORT)" ;;
    ferretdb) echo "mongodb://$PARLEY_HOST:$PARLEY_MONGO_PORT/$PARLEY_MONGO_DB" ;;
    redis) echo "$PARLEY_HOST:${REDIS_PORTS[0]}-${REDIS_PORTS[5]} (cluster)" ;;
  esac
}

# server_pidfiles NAME -> pid files of that server, one per line.
server_pidfiles() {
  local port
  case $1 in
    kafka) echo "$KAFKA_DIR/kafka.pid" ;;
    ferretdb) echo "$FERRETDB_DIR/ferretdb.pid" ;;
    redis) for port in "${REDIS_PORTS[@]}"; do echo "$REDIS_DIR/$port/redis.pid"; done ;;
  esac
}

# server_log_tail NAME: print the end of that server's log(s) to stderr.
server_log_tail() {
  local port
  case $1 in
    kafka) log_tail "$KAFKA_DIR/logs/kafka.out" 15; log_tail "$KAFKA_DIR/logs/server.log" 30 ;;
    ferretdb) log_tail "$FERRETDB_DIR/ferretdb.log" 30 ;;
    redis) for port in "${REDIS_PORTS[@]}"; do log_tail "$REDIS_DIR/$port/redis.log" 8; done ;;
  esac
}

# wait_for NAME TIMEOUT_S: poll until NAME answers; fail early if one of its
# processes died; on failure name the server and point to its log.
wait_for() {
  local name=$1 timeout=$2 pf
  local deadline=$(($(now_s) + timeout))
  until server_answers "$name"; do
    while read -r pf; do
      if ! pid_alive "$pf"; then
        server_log_tail "$name"
        die "$name exited during start-up (no live process for $pf). See $(server_log "$name")"
      fi
    done < <(server_pidfiles "$name")
    if (($(now_s) >= deadline)); then
      server_log_tail "$name"
      die "$name did not answer on $(server_endpoint "$name") within ${timeout}s. See $(server_log "$name")"
    fi
    sleep 0.5
  done
}

# --------------------------------------------------------------- installs ---
# as_root CMD...: run as root (directly, or via sudo when available).
as_root() {
  if ((EUID == 0)); then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else return 1
  fi
}

_APT_UPDATED=0
# apt_install WHAT PKG...: install Debian packages, or explain what is missing.
apt_install() {
  local what=$1
  shift
  log "installing $what via apt-get: $*"
  if ! command -v apt-get >/dev/null; then
    die "missing: $what. No apt-get here; install packages [$*] (or equivalents) yourself."
  fi
  if ((_APT_UPDATED == 0)); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || warn "apt-get update failed"
    _APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >"$PARLEY_STACK_DIR/apt-install.log" 2>&1 || {
    log_tail "$PARLEY_STACK_DIR/apt-install.log" 20
    die "missing: $what. 'apt-get install $*' failed (full output: $PARLEY_STACK_DIR/apt-install.log). Install it manually (as root) and re-run."
  }
}

java_major() {
  java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit}'
}

ensure_java() {
  if ! command -v java >/dev/null || (($(java_major) < 17)); then
    apt_install "Java 17+ (for Kafka)" openjdk-17-jre-headless
  fi
  (($(java_major) >= 17)) || die "missing: Java 17+ for Kafka (found: $(java -version 2>&1 | head -1))"
}

ensure_maven() {
  command -v mvn >/dev/null || apt_install "Maven (to fetch Kafka jars)" maven
  command -v mvn >/dev/null || die "missing: mvn (Maven 3)"
}

# Go >= 1.21 can fetch the toolchain that FerretDB's go.mod asks for (GOTOOLCHAIN=auto)
# from the Go module proxy; Debian 12's golang-go (1.19) cannot, so it is not used.
find_go() {
  local g
  for g in "${GO:-}" "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$HOME/go/bin/go" "$HOME/sdk/go/bin/go"; do
    [[ -n $g && -x $g ]] || continue
    if "$g" version 2>/dev/null | grep -qE 'go1\.(2[1-9]|[3-9][0-9])'; then
      echo "$g"
      return 0
    fi
  done
  return 1
}

ensure_go() {
  GO_BIN=$(find_go) || die "missing: Go >= 1.21 (to build FerretDB/helm/kubeconform). Looked for \$GO, go in PATH, /usr/local/go/bin/go. Install Go from https://go.dev/dl or set GO=/path/to/go."
}

ensure_redis() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install "redis-server/redis-cli (Redis Cluster)" redis-server redis-tools
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    die "missing: redis-server and redis-cli (Debian packages redis-server redis-tools)"
  fi
}

# --------------------------------------------------------------- Kafka ------
KAFKA_POM="$STACK_SCRIPTS_DIR/kafka/pom.xml"

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM"; }

kafka_libs_dir() { echo "$PARLEY_CACHE_DIR/kafka/$(kafka_version)-$(hash_files "$KAFKA_POM")/libs"; }

# Resolve Kafka's runtime jars from Maven Central (once; ~/.m2 caches downloads).
ensure_kafka_libs() {
  local libs
  libs=$(kafka_libs_dir)
  [[ -f $libs/.complete ]] && return 0
  ensure_maven
  log "kafka: resolving Kafka $(kafka_version) jars from Maven Central into $libs"
  rm -rf "$libs.tmp"
  mkdir -p "$libs.tmp" "$PARLEY_STACK_DIR"
  if ! mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$libs.tmp" \
    >"$PARLEY_STACK_DIR/mvn-kafka.log" 2>&1; then
    log_tail "$PARLEY_STACK_DIR/mvn-kafka.log" 30
    die "missing: Kafka jars. 'mvn dependency:copy-dependencies' for $KAFKA_POM failed (log: $PARLEY_STACK_DIR/mvn-kafka.log)"
  fi
  [[ -n $(compgen -G "$libs.tmp/kafka_2.13-*.jar") ]] || die "missing: kafka_2.13 jar after Maven resolve (see $PARLEY_STACK_DIR/mvn-kafka.log)"
  touch "$libs.tmp/.complete"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
}

# kafka_java MAIN_CLASS ARGS... : run a Kafka main class on the cached classpath.
kafka_java() { "${KAFKA_JAVA_CMD[@]}" "$@"; }

kafka_set_java_cmd() {
  local heap
  read -r -a heap <<<"$PARLEY_KAFKA_HEAP_OPTS"
  KAFKA_JAVA_CMD=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_DIR/config/log4j2.properties"
    -Dkafka.logs.dir="$KAFKA_DIR/logs"
    -cp "$(kafka_libs_dir)/*")
}

kafka_write_config() {
  mkdir -p "$KAFKA_DIR/config" "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  cat >"$KAFKA_DIR/config/server.properties" <<EOF
# Generated by scripts/stack/lib.sh - edits are overwritten on every up.sh.
# Single combined broker+controller node (KRaft), for tests only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$PARLEY_HOST:$PARLEY_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$PARLEY_HOST:$PARLEY_KAFKA_PORT,CONTROLLER://$PARLEY_HOST:$PARLEY_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$PARLEY_HOST:$PARLEY_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data

auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$KAFKA_DIR/config/log4j2.properties" <<'EOF'
# Generated by scripts/stack/lib.sh
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

# Random Kafka cluster id: 16 random bytes, URL-safe base64 without padding.
kafka_new_cluster_id() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

start_kafka() {
  local pidfile="$KAFKA_DIR/kafka.pid" cid
  if pid_alive "$pidfile"; then
    log "kafka: already running (pid $(<"$pidfile"))"
    return 0
  fi
  if port_open "$PARLEY_KAFKA_PORT" || port_open "$PARLEY_KAFKA_CONTROLLER_PORT"; then
    die "kafka: port $PARLEY_KAFKA_PORT or $PARLEY_KAFKA_CONTROLLER_PORT is in use by a process not started by this stack (no live pid in $pidfile). Stop it or set PARLEY_KAFKA_PORT / PARLEY_KAFKA_CONTROLLER_PORT."
  fi
  ensure_java
  ensure_kafka_libs
  kafka_write_config
  kafka_set_java_cmd
  if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
    [[ -s $KAFKA_DIR/cluster.id ]] || kafka_new_cluster_id >"$KAFKA_DIR/cluster.id"
    cid=$(<"$KAFKA_DIR/cluster.id")
    log "kafka: formatting storage (cluster id $cid)"
    kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cid" \
      -c "$KAFKA_DIR/config/server.properties" >"$KAFKA_DIR/logs/format.log" 2>&1 || {
      log_tail "$KAFKA_DIR/logs/format.log"
      die "kafka: storage format failed (see $KAFKA_DIR/logs/format.log)"
    }
  fi
  log "kafka: starting Kafka $(kafka_version) on $(server_endpoint kafka)"
  start_bg "$pidfile" "$KAFKA_DIR/logs/kafka.out" \
    "${KAFKA_JAVA_CMD[@]}" kafka.Kafka "$KAFKA_DIR/config/server.properties"
}

# ------------------------------------------------------------- FerretDB -----
FERRETDB_SRC="$STACK_SCRIPTS_DIR/ferretdb"

ferretdb_version() { sed -n 's:.*github.com/FerretDB/FerretDB \(v[^ ]*\).*:\1:p' "$FERRETDB_SRC/go.mod" | head -1; }

ferretdb_bin() {
  echo "$PARLEY_CACHE_DIR/ferretdb/$(ferretdb_version)-$(hash_files "$FERRETDB_SRC/main.go" "$FERRETDB_SRC/go.mod" "$FERRETDB_SRC/go.sum")/parley-ferretdb"
}

# Build the FerretDB wrapper once per source change (Go caches modules/builds too).
ensure_ferretdb_bin() {
  local bin
  bin=$(ferretdb_bin)
  [[ -x $bin ]] && return 0
  ensure_go
  log "ferretdb: building FerretDB $(ferretdb_version) wrapper -> $bin (first time: a few minutes)"
  mkdir -p "$(dirname "$bin")" "$PARLEY_STACK_DIR"
  if ! (cd "$FERRETDB_SRC" && CGO_ENABLED=0 GOFLAGS=-mod=readonly "$GO_BIN" build -trimpath -o "$bin.tmp" .) \
    >"$PARLEY_STACK_DIR/go-build-ferretdb.log" 2>&1; then
    log_tail "$PARLEY_STACK_DIR/go-build-ferretdb.log" 30
    die "missing: FerretDB binary. 'go build' in $FERRETDB_SRC failed (log: $PARLEY_STACK_DIR/go-build-ferretdb.log)"
  fi
  mv "$bin.tmp" "$bin"
}

start_ferretdb() {
  local pidfile="$FERRETDB_DIR/ferretdb.pid" bin
  if pid_alive "$pidfile"; then
    log "ferretdb: already running (pid $(<"$pidfile"))"
    return 0
  fi
  port_open "$PARLEY_MONGO_PORT" &&
    die "ferretdb: port $PARLEY_MONGO_PORT is in use by a process not started by this stack (no live pid in $pidfile). Stop it or set PARLEY_MONGO_PORT."
  ensure_ferretdb_bin
  bin=$(ferretdb_bin)
  mkdir -p "$FERRETDB_DIR/data"
  log "ferretdb: starting FerretDB $(ferretdb_version) (SQLite) on $(server_endpoint ferretdb)"
  start_bg "$pidfile" "$FERRETDB_DIR/ferretdb.log" \
    "$bin" --listen-addr="$PARLEY_HOST:$PARLEY_MONGO_PORT" --handler=sqlite \
    --sqlite-url="file:$FERRETDB_DIR/data/" --log-level=warn
}

# ---------------------------------------------------------------- Redis -----
redis_write_config() {
  local port=$1 dir="$REDIS_DIR/$1"
  mkdir -p "$dir"
  cat >"$dir/redis.conf" <<EOF
# Generated by scripts/stack/lib.sh - edits are overwritten on every up.sh.
bind $PARLEY_HOST
port $port
protected-mode no
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 5000
cluster-require-full-coverage yes
appendonly no
save 3600 1 300 100 60 10000
dbfilename dump.rdb
maxmemory 256mb
maxmemory-policy noeviction
EOF
}

start_redis() {
  local port started=()
  ensure_redis
  for port in "${REDIS_PORTS[@]}"; do
    if pid_alive "$REDIS_DIR/$port/redis.pid"; then
      continue
    fi
    port_open "$port" &&
      die "redis: port $port is in use by a process not started by this stack (no live pid in $REDIS_DIR/$port/redis.pid). Stop it or set PARLEY_REDIS_BASE_PORT."
    redis_write_config "$port"
    printf '\n===== %s starting redis-server on %s\n' "$(date -Is)" "$port" >>"$REDIS_DIR/$port/redis.log"
    redis-server "$REDIS_DIR/$port/redis.conf" 9>&- || die "redis: redis-server on port $port failed to start. See $REDIS_DIR/$port/redis.log"
    started+=("$port")
  done
  if ((${#started[@]})); then
    log "redis: started nodes on ports ${started[*]}"
  else
    log "redis: all 6 nodes already running"
  fi
}

# Create the cluster once; a restarted cluster re-forms from each node's nodes.conf.
ensure_redis_cluster() {
  local port deadline fresh=1 addrs=()
  deadline=$(($(now_s) + 15))
  for port in "${REDIS_PORTS[@]}"; do
    until redis_node_answers "$port"; do
      pid_alive "$REDIS_DIR/$port/redis.pid" || { log_tail "$REDIS_DIR/$port/redis.log"; die "redis: node $port exited. See $REDIS_DIR/$port/redis.log"; }
      (($(now_s) < deadline)) || die "redis: node $port did not answer PING. See $REDIS_DIR/$port/redis.log"
      sleep 0.2
    done
    addrs+=("$PARLEY_HOST:$port")
    # A node that knows other nodes (or owns slots) belongs to an existing cluster.
    if ! redis_cli "$port" cluster info | grep -q '^cluster_known_nodes:1\b' ||
      ! redis_cli "$port" cluster info | grep -q '^cluster_slots_assigned:0\b'; then
      fresh=0
    fi
  done
  redis_cluster_ok && return 0
  if ((fresh)); then
    log "redis: creating cluster (3 masters + 3 replicas) on ${addrs[*]}"
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
      >"$REDIS_DIR/cluster-create.log" 2>&1 || {
      log_tail "$REDIS_DIR/cluster-create.log"
      die "redis: 'redis-cli --cluster create' failed (see $REDIS_DIR/cluster-create.log)"
    }
  else
    log "redis: cluster already formed; waiting for cluster_state:ok"
  fi
}
