# shellcheck shell=bash
# Mailpit (SMTP server with an HTTP API): sourced by ../lib.sh, which defines the settings and
# helpers used here. The notifier's email channel sends to its SMTP port; tests read the delivered
# mail over its HTTP API. Chaos is enabled so tests can make SMTP refuse a recipient (a bounce).
# ------------------------------------------------------------- Mailpit ------
: "${PARLEY_MAILPIT_VERSION:=v1.33.1}"
: "${PARLEY_SMTP_PORT:=1025}"
: "${PARLEY_MAILPIT_HTTP_PORT:=8025}"
MAILPIT_DIR="$PARLEY_STACK_DIR/mailpit"

mailpit_bin() { echo "$PARLEY_CACHE_DIR/mailpit/$PARLEY_MAILPIT_VERSION/mailpit"; }

# Build once per version (`go install` from the Go module proxy; Go caches modules too).
ensure_mailpit_bin() {
  local bin dir
  bin=$(mailpit_bin)
  [[ -x $bin ]] && return 0
  ensure_go
  dir=$(dirname "$bin")
  log "mailpit: building Mailpit $PARLEY_MAILPIT_VERSION -> $bin (first time: a few minutes)"
  mkdir -p "$dir.tmp" "$PARLEY_STACK_DIR"
  if ! GOBIN="$dir.tmp" CGO_ENABLED=0 "$GO_BIN" install "github.com/axllent/mailpit@$PARLEY_MAILPIT_VERSION" \
    >"$PARLEY_STACK_DIR/go-build-mailpit.log" 2>&1; then
    log_tail "$PARLEY_STACK_DIR/go-build-mailpit.log" 30
    die "missing: Mailpit binary. 'go install github.com/axllent/mailpit@$PARLEY_MAILPIT_VERSION' failed (log: $PARLEY_STACK_DIR/go-build-mailpit.log)"
  fi
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

mailpit_answers() {
  curl -fsS -m 2 "http://$PARLEY_HOST:$PARLEY_MAILPIT_HTTP_PORT/livez" >/dev/null 2>&1 && port_open "$PARLEY_SMTP_PORT"
}

start_mailpit() {
  local pidfile="$MAILPIT_DIR/mailpit.pid"
  if pid_alive "$pidfile"; then
    log "mailpit: already running (pid $(<"$pidfile"))"
    return 0
  fi
  for p in "$PARLEY_SMTP_PORT" "$PARLEY_MAILPIT_HTTP_PORT"; do
    port_open "$p" &&
      die "mailpit: port $p is in use by a process not started by this stack (no live pid in $pidfile). Stop it or set PARLEY_SMTP_PORT / PARLEY_MAILPIT_HTTP_PORT."
  done
  ensure_mailpit_bin
  mkdir -p "$MAILPIT_DIR"
  log "mailpit: starting Mailpit $PARLEY_MAILPIT_VERSION on smtp://$PARLEY_HOST:$PARLEY_SMTP_PORT (API http://$PARLEY_HOST:$PARLEY_MAILPIT_HTTP_PORT)"
  start_bg "$pidfile" "$MAILPIT_DIR/mailpit.log" \
    "$(mailpit_bin)" --smtp "$PARLEY_HOST:$PARLEY_SMTP_PORT" --listen "$PARLEY_HOST:$PARLEY_MAILPIT_HTTP_PORT" \
    --database "$MAILPIT_DIR/mailpit.db" --max 5000 --smtp-auth-accept-any --smtp-auth-allow-insecure \
    --enable-chaos --disable-version-check --quiet
}
