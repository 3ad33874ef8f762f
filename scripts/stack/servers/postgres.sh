# shellcheck shell=bash
# PostgreSQL, FerretDB's storage: sourced by ../lib.sh, which defines the settings and helpers used here.
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

# GIN indexes on _id and on indexed fields of every table FerretDB creates (ferretdb/id-index.sql says why).
# PARLEY_PG_ID_INDEX=0 removes the triggers (existing extra indexes stay).
pg_id_index() {
  if [[ $PARLEY_PG_ID_INDEX != 1 ]]; then
    pg_psql -d "$PG_DB" -c 'DROP EVENT TRIGGER IF EXISTS parley_id_gin' -c 'DROP EVENT TRIGGER IF EXISTS parley_gin_drop' >/dev/null 2>&1 || true
    return 0
  fi
  pg_psql -d "$PG_DB" -f "$STACK_SCRIPTS_DIR/ferretdb/id-index.sql" >/dev/null 2>"$PG_DIR/id-index.log" ||
    { log_tail "$PG_DIR/id-index.log"; die "postgres: could not install the _id index trigger (PARLEY_PG_ID_INDEX=0 skips it)"; }
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
