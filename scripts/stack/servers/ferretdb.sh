# shellcheck shell=bash
# FerretDB (MongoDB wire): sourced by ../lib.sh, which defines the settings and helpers used here.
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
