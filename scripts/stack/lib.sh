# shellcheck shell=bash
# Shared settings and helpers for scripts/stack/*.sh (sourced, not executed).
#
# Servers (all on 127.0.0.1):
#   kafka    Apache Kafka (KRaft, broker+controller)   :9092 (controller :9093)
#   postgres PostgreSQL, FerretDB's storage (default)   :5433 (only with the pg backend)
#   ferretdb FerretDB v1 (MongoDB wire)                  :27017
#   redis    6-node Redis Cluster (3 masters+3 replicas) :7001-7006
#
# FerretDB backend: PARLEY_FERRETDB_BACKEND=pg (default) stores into the
# PostgreSQL above (database "ferretdb", role "ferretdb", trust auth); =sqlite
# uses FerretDB's SQLite backend (files in $PARLEY_STACK_DIR/ferretdb/data, no
# PostgreSQL). The SQLite backend full-scans even {_id: x} lookups and
# serializes all access, so it is much slower. The Mongo URL is the same.
#
# Layout:
#   $PARLEY_STACK_DIR  (default <repo>/.stack)  state: data, logs, pid files, configs
#       postgres/{data,run,postgres.log,postgres.pid}   (owned by the PostgreSQL OS user)
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
: "${PARLEY_FERRETDB_BACKEND:=pg}"    # pg | sqlite
: "${PARLEY_PG_PORT:=5433}"           # 5433: stay clear of a system PostgreSQL on 5432
: "${PARLEY_PG_BINDIR:=}"             # dir with postgres/initdb/pg_ctl (default: auto-detect)
: "${PARLEY_PG_ID_INDEX:=1}"          # 1: add a GIN index on _id to FerretDB's tables (see pg_ensure_db)
: "${PARLEY_PG_OS_USER:=}"            # OS user that runs PostgreSQL when up.sh runs as root
                                      # (default: "postgres" if it exists, else creates "parley-pg")

: "${PARLEY_START_TIMEOUT:=120}"      # seconds up.sh waits for all servers to answer
: "${PARLEY_STOP_TIMEOUT:=30}"        # seconds down.sh waits after SIGTERM before SIGKILL

KAFKA_DIR="$PARLEY_STACK_DIR/kafka"
FERRETDB_DIR="$PARLEY_STACK_DIR/ferretdb"
PG_DIR="$PARLEY_STACK_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_DB=ferretdb
PG_ROLE=ferretdb
REDIS_DIR="$PARLEY_STACK_DIR/redis"
REDIS_PORTS=()
for _i in 0 1 2 3 4 5; do REDIS_PORTS+=("$((PARLEY_REDIS_BASE_PORT + _i))"); done
unset _i

case $PARLEY_FERRETDB_BACKEND in
  pg | postgres | postgresql) PARLEY_FERRETDB_BACKEND=pg ;;
  sqlite) ;;
  *) printf '[stack] ERROR: PARLEY_FERRETDB_BACKEND=%s: expected pg or sqlite\n' "$PARLEY_FERRETDB_BACKEND" >&2; exit 1 ;;
esac

# shellcheck disable=SC2034 # used by the scripts that source this file
if [[ $PARLEY_FERRETDB_BACKEND == pg ]]; then
  SERVERS=(kafka postgres ferretdb redis)
else
  SERVERS=(kafka ferretdb redis)
fi

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
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE 'kafka\.Kafka|parley-ferretdb|redis-server|bin/postgres'
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
    postgres) pg_answers ;;
    ferretdb) mongo_answers ;;
    redis) command -v redis-cli >/dev/null && redis_cluster_ok ;;
    *) return 1 ;;
  esac
}

server_log() {
  case $1 in
    kafka) echo "$KAFKA_DIR/logs/server.log (and $KAFKA_DIR/logs/kafka.out)" ;;
    postgres) echo "$PG_DIR/postgres.log" ;;
    ferretdb) echo "$FERRETDB_DIR/ferretdb.log" ;;
    redis) echo "$REDIS_DIR/<port>/redis.log" ;;
  esac
}

server_endpoint() {
  case $1 in
    kafka) echo "$PARLEY_HOST:$PARLEY_KAFKA_PORT (controller $PARLEY_HOST:$PARLEY_KAFKA_CONTROLLER_PORT)" ;;
    postgres) pg_url ;;
    ferretdb) echo "mongodb://$PARLEY_HOST:$PARLEY_MONGO_PORT/$PARLEY_MONGO_DB" ;;
    redis) echo "$PARLEY_HOST:${REDIS_PORTS[0]}-${REDIS_PORTS[5]} (cluster)" ;;
  esac
}

# server_pidfiles NAME -> pid files of that server, one per line.
server_pidfiles() {
  local port
  case $1 in
    kafka) echo "$KAFKA_DIR/kafka.pid" ;;
    postgres) echo "$PG_DIR/postgres.pid" ;;
    ferretdb) echo "$FERRETDB_DIR/ferretdb.pid" ;;
    redis) for port in "${REDIS_PORTS[@]}"; do echo "$REDIS_DIR/$port/redis.pid"; done ;;
  esac
}

# server_log_tail NAME: print the end of that server's log(s) to stderr.
server_log_tail() {
  local port
  case $1 in
    kafka) log_tail "$KAFKA_DIR/logs/kafka.out" 15; log_tail "$KAFKA_DIR/logs/server.log" 30 ;;
    postgres) log_tail "$PG_DIR/postgres.log" 30 ;;
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

# ----------------------------------------------------------- PostgreSQL -----
# Storage for FerretDB's pg backend: a private cluster in $PG_DIR/data, run by
# an unprivileged OS user (postgres refuses to run as root), listening on
# $PARLEY_HOST:$PARLEY_PG_PORT (+ a unix socket in $PG_DIR/run), trust auth
# (anyone on this machine can connect as any role: fine for a local test stack).

pg_url() { echo "postgres://$PG_ROLE@$PARLEY_HOST:$PARLEY_PG_PORT/$PG_DB"; }

# pg_bindir_ok DIR: DIR holds a usable server + client install.
pg_bindir_ok() {
  local d=$1 b
  [[ -n $d && -d $d ]] || return 1
  for b in postgres initdb pg_ctl pg_isready psql; do [[ -x $d/$b ]] || return 1; done
  "$d/postgres" --version >/dev/null 2>&1
}

# find_pg_bindir -> the bin dir of a complete PostgreSQL install
# ($PARLEY_PG_BINDIR, then where postgres/pg_ctl/initdb in PATH point, then
# Debian's /usr/lib/postgresql/<highest version>/bin).
find_pg_bindir() {
  local d c
  local cands=("$PARLEY_PG_BINDIR")
  for c in postgres pg_ctl initdb; do
    c=$(command -v "$c" 2>/dev/null) && cands+=("$(dirname "$(readlink -f "$c")")")
  done
  while read -r d; do cands+=("$d"); done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -t/ -k5,5nr)
  for d in "${cands[@]}"; do
    if pg_bindir_ok "$d"; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

PG_BINDIR=""
pg_bin() {
  [[ -n $PG_BINDIR ]] || PG_BINDIR=$(find_pg_bindir) || return 1
  echo "$PG_BINDIR/$1"
}

pg_version() { "$(pg_bin postgres)" --version | awk '{print $3}'; }

ensure_postgres() {
  PG_BINDIR=$(find_pg_bindir) || {
    apt_install "PostgreSQL server (FerretDB pg backend)" postgresql
    PG_BINDIR=$(find_pg_bindir) ||
      die "missing: PostgreSQL (postgres, initdb, pg_ctl, pg_isready, psql in one bin dir). Install Debian's 'postgresql', set PARLEY_PG_BINDIR, or use PARLEY_FERRETDB_BACKEND=sqlite."
  }
}

# The OS user that owns $PG_DIR and runs the server.
PG_OS_USER=""
pg_os_user() {
  if [[ -z $PG_OS_USER ]]; then
    if ((EUID != 0)); then
      PG_OS_USER=$(id -un)
    elif [[ -n $PARLEY_PG_OS_USER ]]; then
      PG_OS_USER=$PARLEY_PG_OS_USER
    elif id postgres >/dev/null 2>&1; then
      PG_OS_USER=postgres
    else
      PG_OS_USER=parley-pg
    fi
  fi
  echo "$PG_OS_USER"
}

ensure_pg_os_user() {
  local u
  u=$(pg_os_user)
  id "$u" >/dev/null 2>&1 && return 0
  ((EUID == 0)) || die "postgres: OS user $u does not exist"
  log "postgres: creating system user $u (postgres refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
    die "postgres: 'useradd $u' failed; create an unprivileged user and set PARLEY_PG_OS_USER"
}

# pg_as_user CMD...: exec CMD as the PostgreSQL OS user (as-is when not root).
pg_as_user() {
  local u
  u=$(pg_os_user)
  if ((EUID == 0)) && [[ $u != root ]]; then
    exec setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
  else
    exec "$@"
  fi
}

# pg_run CMD...: run a PostgreSQL server tool as the PostgreSQL OS user, from
# $PG_DIR (the server resolves its own path and fails in an unreadable cwd
# such as /root).
pg_run() { (cd "$PG_DIR" && pg_as_user "$@"); }

# psql as the superuser over TCP (works whatever the socket dir is).
pg_psql() {
  local psql
  psql=$(pg_bin psql) || return 1
  PGCONNECT_TIMEOUT=3 "$psql" -X -q -v ON_ERROR_STOP=1 -h "$PARLEY_HOST" -p "$PARLEY_PG_PORT" -U postgres "$@"
}

# Ready = accepts connections AND FerretDB's role/database exist.
pg_answers() {
  local psql
  psql=$(pg_bin psql) || return 1
  [[ $(PGCONNECT_TIMEOUT=2 timeout 5 "$psql" -X -At -h "$PARLEY_HOST" -p "$PARLEY_PG_PORT" \
    -U "$PG_ROLE" -d "$PG_DB" -c 'select 1' 2>/dev/null) == 1 ]]
}

pg_accepting() {
  local isready
  isready=$(pg_bin pg_isready) || return 1
  "$isready" -q -h "$PARLEY_HOST" -p "$PARLEY_PG_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

# initdb once (idempotent: PG_VERSION marks a complete cluster).
pg_init() {
  local u dir
  u=$(pg_os_user)
  mkdir -p "$PG_DIR/run"
  if ((EUID == 0)) && [[ $u != root ]]; then
    dir=$PG_DIR
    while dir=$(dirname "$dir") && [[ $dir != / ]]; do
      (pg_as_user test -x "$dir") ||
        die "postgres: OS user $u cannot enter $dir (needs o+x); set PARLEY_STACK_DIR elsewhere or use PARLEY_FERRETDB_BACKEND=sqlite"
    done
    chown "$u:" "$PG_DIR" "$PG_DIR/run"
    if [[ -d $PG_DATA && $(stat -c %U "$PG_DATA") != "$u" ]]; then chown -R "$u:" "$PG_DATA"; fi
  fi
  chmod 700 "$PG_DIR/run"
  [[ -s $PG_DATA/PG_VERSION ]] && return 0
  rm -rf "$PG_DATA"
  log "postgres: initdb $PG_DATA (PostgreSQL $(pg_version), OS user $u)"
  pg_run "$(pg_bin initdb)" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
    >"$PG_DIR/initdb.log" 2>&1 || {
    log_tail "$PG_DIR/initdb.log"
    die "postgres: initdb failed (see $PG_DIR/initdb.log)"
  }
  printf "\n# Parley local stack (scripts/stack/lib.sh rewrites parley.conf on every up.sh)\ninclude_if_exists 'parley.conf'\n" |
    pg_run tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

pg_write_config() {
  local sockdir="$PG_DIR/run"
  # Unix socket paths are limited to 107 bytes; without one, everything uses TCP.
  ((${#sockdir} + 16 <= 107)) || sockdir=""
  pg_run tee "$PG_DATA/parley.conf" >/dev/null <<EOF
# Generated by scripts/stack/lib.sh - edits are overwritten on every up.sh.
listen_addresses = '$PARLEY_HOST'
port = $PARLEY_PG_PORT
unix_socket_directories = '$sockdir'
max_connections = 100            # FerretDB pools up to 50 connections
shared_buffers = 128MB
work_mem = 8MB

# THROWAWAY LOCAL TEST STACK ONLY: durability is traded for speed. With these
# an OS crash or power loss can corrupt the cluster (a server crash or SIGKILL
# loses at most the last few commits). Recreate it with
# 'scripts/stack/down.sh --purge'. Never copy these settings to a real server.
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 1GB
checkpoint_timeout = 15min

# Small box (2 cores, small /dev/shm in containers): no parallel query workers, no JIT.
max_parallel_workers_per_gather = 0
jit = off

log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

# FerretDB's role and database (idempotent).
pg_ensure_db() {
  pg_psql -d postgres -c "DO \$\$BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN CREATE ROLE $PG_ROLE LOGIN; END IF;
    END\$\$;" >/dev/null || die "postgres: could not create role $PG_ROLE (see $PG_DIR/postgres.log)"
  if [[ $(pg_psql -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") != 1 ]]; then
    log "postgres: creating database $PG_DB (owner $PG_ROLE)"
    pg_psql -d postgres -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE" >/dev/null ||
      die "postgres: could not create database $PG_DB (see $PG_DIR/postgres.log)"
  fi
  pg_id_index
}

# FerretDB v1.24's PostgreSQL backend turns {_id: v} (and every equality) into
# `_jsonb->'_id' @> '<v>'`, which its own unique btree index on (_jsonb->'_id')
# cannot serve, so findById is a sequential scan. An event trigger adds a GIN
# (jsonb_path_ops) index on the same expression to every table FerretDB creates,
# which serves `@>`: findById becomes an index scan. FerretDB does not know about
# this index (listIndexes does not show it); it goes away with the table.
# PARLEY_PG_ID_INDEX=0 removes the trigger (existing extra indexes stay).
pg_id_index() {
  if [[ $PARLEY_PG_ID_INDEX != 1 ]]; then
    pg_psql -d "$PG_DB" -c 'DROP EVENT TRIGGER IF EXISTS parley_id_gin' >/dev/null 2>&1 || true
    return 0
  fi
  pg_psql -d "$PG_DB" >/dev/null 2>"$PG_DIR/id-index.log" <<'SQL' || { log_tail "$PG_DIR/id-index.log"; die "postgres: could not install the _id index trigger (PARLEY_PG_ID_INDEX=0 skips it)"; }
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION public.parley_id_gin_for(tbl oid) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  SELECT c.oid, c.relname, n.nspname INTO r
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = tbl AND c.relkind = 'r' AND c.relname NOT LIKE '\_ferretdb\_%'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
     AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '_jsonb' AND NOT a.attisdropped);
  IF FOUND THEN
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> ''_id'') jsonb_path_ops)',
                   'parley_idgin_' || r.oid, r.nspname, r.relname);
  END IF;
END
$fn$;
CREATE OR REPLACE FUNCTION public.parley_id_gin() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM public.parley_id_gin_for(d.objid) FROM pg_event_trigger_ddl_commands() d
    WHERE d.command_tag = 'CREATE TABLE' AND d.object_type = 'table';
END
$fn$;
DROP EVENT TRIGGER IF EXISTS parley_id_gin;
CREATE EVENT TRIGGER parley_id_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION public.parley_id_gin();
-- tables created while the trigger was off
SELECT public.parley_id_gin_for(c.oid) FROM pg_class c WHERE c.relkind = 'r';
SQL
}

# Start PostgreSQL and wait until it accepts connections (FerretDB needs it).
start_postgres() {
  local pidfile="$PG_DIR/postgres.pid" deadline run_as
  ensure_postgres
  if pid_alive "$pidfile"; then
    log "postgres: already running (pid $(<"$pidfile"))"
  else
    port_open "$PARLEY_PG_PORT" &&
      die "postgres: port $PARLEY_PG_PORT is in use by a process not started by this stack (no live pid in $pidfile). Stop it or set PARLEY_PG_PORT."
    ensure_pg_os_user
    pg_init
    pg_write_config
    log "postgres: starting PostgreSQL $(pg_version) on $(pg_url)"
    run_as=()
    if ((EUID == 0)) && [[ $(pg_os_user) != root ]]; then
      run_as=(setpriv --reuid="$(pg_os_user)" --regid="$(id -g "$(pg_os_user)")" --init-groups --)
    fi
    # start_bg's pid is the postmaster's: setsid, nohup and setpriv all exec.
    (cd "$PG_DIR" && start_bg "$pidfile" "$PG_DIR/postgres.log" "${run_as[@]}" "$(pg_bin postgres)" -D "$PG_DATA")
  fi
  deadline=$(($(now_s) + PARLEY_START_TIMEOUT))
  until pg_accepting; do
    if ! pid_alive "$pidfile"; then
      log_tail "$PG_DIR/postgres.log"
      die "postgres exited during start-up. See $PG_DIR/postgres.log"
    fi
    if (($(now_s) >= deadline)); then
      log_tail "$PG_DIR/postgres.log"
      die "postgres did not accept connections on $PARLEY_HOST:$PARLEY_PG_PORT within ${PARLEY_START_TIMEOUT}s. See $PG_DIR/postgres.log"
    fi
    sleep 0.2
  done
  pg_ensure_db
}

# Fast shutdown (disconnects clients, clean checkpoint) via pg_ctl; falls back
# to signals through the pid file.
stop_postgres() {
  local pidfile="$PG_DIR/postgres.pid" pg_ctl
  if [[ -s $PG_DATA/postmaster.pid ]] && pg_ctl=$(pg_bin pg_ctl) &&
    pg_run "$pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; then
    log "postgres: stopping (pg_ctl stop -m fast)"
    if pg_run "$pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$PARLEY_STOP_TIMEOUT" >/dev/null 2>&1; then
      rm -f "$pidfile"
      log "postgres: stopped"
      return 0
    fi
    warn "postgres: pg_ctl stop failed; signalling the pid instead"
  fi
  stop_pidfiles postgres "$pidfile"
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

# The backend the running FerretDB was started with (a FerretDB started before
# backends were selectable used SQLite).
ferretdb_running_backend() { cat "$FERRETDB_DIR/backend" 2>/dev/null || echo sqlite; }

ferretdb_backend_label() { [[ $1 == pg ]] && echo "PostgreSQL backend" || echo "SQLite backend"; }

start_ferretdb() {
  local pidfile="$FERRETDB_DIR/ferretdb.pid" bin args
  if pid_alive "$pidfile"; then
    if [[ $(ferretdb_running_backend) == "$PARLEY_FERRETDB_BACKEND" ]]; then
      log "ferretdb: already running (pid $(<"$pidfile"), $(ferretdb_backend_label "$PARLEY_FERRETDB_BACKEND"))"
      return 0
    fi
    log "ferretdb: running with the $(ferretdb_running_backend) backend; restarting with $PARLEY_FERRETDB_BACKEND"
    stop_pidfiles ferretdb "$pidfile"
  fi
  port_open "$PARLEY_MONGO_PORT" &&
    die "ferretdb: port $PARLEY_MONGO_PORT is in use by a process not started by this stack (no live pid in $pidfile). Stop it or set PARLEY_MONGO_PORT."
  ensure_ferretdb_bin
  bin=$(ferretdb_bin)
  mkdir -p "$FERRETDB_DIR/data"
  if [[ $PARLEY_FERRETDB_BACKEND == pg ]]; then
    # "postgresql" is the v1 handler's name; "pg" is an alias for it.
    args=(--handler=postgresql --postgresql-url="$(pg_url)")
  else
    args=(--handler=sqlite --sqlite-url="file:$FERRETDB_DIR/data/")
  fi
  log "ferretdb: starting FerretDB $(ferretdb_version) ($(ferretdb_backend_label "$PARLEY_FERRETDB_BACKEND")) on $(server_endpoint ferretdb)"
  echo "$PARLEY_FERRETDB_BACKEND" >"$FERRETDB_DIR/backend"
  start_bg "$pidfile" "$FERRETDB_DIR/ferretdb.log" \
    "$bin" --listen-addr="$PARLEY_HOST:$PARLEY_MONGO_PORT" "${args[@]}" --log-level=warn
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
