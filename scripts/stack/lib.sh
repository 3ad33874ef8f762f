# shellcheck shell=bash
# Shared settings and helpers for scripts/stack/*.sh (sourced, not executed).
#
# Servers (all on 127.0.0.1):
#   kafka    Apache Kafka (KRaft, broker+controller)   :9092 (controller :9093)
#   postgres PostgreSQL, FerretDB's storage (default)   :5433 (only with the pg backend)
#   ferretdb FerretDB v1 (MongoDB wire)                  :27017
#   redis    6-node Redis Cluster (3 masters+3 replicas) :7001-7006
#   mailpit  Mailpit SMTP (notification mail) + HTTP API :1025, :8025
#   seaweedfs SeaweedFS S3 gateway (+ master, volume, filer) :8333 (servers/seaweedfs.sh)
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
: "${PARLEY_PG_ID_INDEX:=1}"          # 1: GIN indexes on _id and indexed fields of FerretDB's tables (see pg_ensure_db)
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
  SERVERS=(kafka postgres ferretdb redis mailpit seaweedfs)
else
  SERVERS=(kafka ferretdb redis mailpit seaweedfs)
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
# is_stack_server PID -> 0 if PID's command line is one of the stack's servers.
is_stack_server() {
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null |
    grep -qE 'kafka\.Kafka|parley-ferretdb|redis-server|bin/postgres|mailpit|/weed server'
}

# pid_alive PIDFILE -> 0 if the pid file names a live process.
pid_alive() {
  local pidfile=$1 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1  # zombie
  # Guard against a stale pid file whose pid now belongs to another program.
  is_stack_server "$pid"
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
  local pid=$! i
  echo "$pid" >"$pidfile"
  # Until the background subshell execs setsid, /proc/PID/cmdline is this shell's, and
  # pid_alive would take the server for dead ("exited during start-up"; seen on a loaded
  # machine). Wait for the exec: a few ms, at most 5 s.
  for ((i = 0; i < 250; i++)); do
    is_stack_server "$pid" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
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
    mailpit) mailpit_answers ;;
    seaweedfs) seaweedfs_answers ;;
    *) return 1 ;;
  esac
}

server_log() {
  case $1 in
    kafka) echo "$KAFKA_DIR/logs/server.log (and $KAFKA_DIR/logs/kafka.out)" ;;
    postgres) echo "$PG_DIR/postgres.log" ;;
    ferretdb) echo "$FERRETDB_DIR/ferretdb.log" ;;
    redis) echo "$REDIS_DIR/<port>/redis.log" ;;
    mailpit) echo "$MAILPIT_DIR/mailpit.log" ;;
    seaweedfs) echo "$SEAWEEDFS_DIR/weed.log" ;;
  esac
}

server_endpoint() {
  case $1 in
    kafka) echo "$PARLEY_HOST:$PARLEY_KAFKA_PORT (controller $PARLEY_HOST:$PARLEY_KAFKA_CONTROLLER_PORT)" ;;
    postgres) pg_url ;;
    ferretdb) echo "mongodb://$PARLEY_HOST:$PARLEY_MONGO_PORT/$PARLEY_MONGO_DB" ;;
    redis) echo "$PARLEY_HOST:${REDIS_PORTS[0]}-${REDIS_PORTS[5]} (cluster)" ;;
    mailpit) echo "smtp://$PARLEY_HOST:$PARLEY_SMTP_PORT (API http://$PARLEY_HOST:$PARLEY_MAILPIT_HTTP_PORT)" ;;
    seaweedfs) echo "http://$PARLEY_HOST:$PARLEY_S3_PORT (S3, bucket $PARLEY_S3_BUCKET)" ;;
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
    mailpit) echo "$MAILPIT_DIR/mailpit.pid" ;;
    seaweedfs) echo "$SEAWEEDFS_DIR/weed.pid" ;;
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
    mailpit) log_tail "$MAILPIT_DIR/mailpit.log" 30 ;;
    seaweedfs) log_tail "$SEAWEEDFS_DIR/weed.log" 30 ;;
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

# ---------------------------------------------------------------- servers ---
# One file per server: how to install, configure, start and stop it.
for _server in kafka postgres ferretdb redis mailpit seaweedfs; do
  # shellcheck source=/dev/null
  source "$STACK_SCRIPTS_DIR/servers/$_server.sh"
done
unset _server
