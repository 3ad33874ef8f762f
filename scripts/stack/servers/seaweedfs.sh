# shellcheck shell=bash
# SeaweedFS (S3-compatible object store for the media role): sourced by ../lib.sh, which defines
# the settings and helpers used here. One `weed server` process runs master, volume server, filer
# and the S3 gateway. Ports (gRPC on each +10000) come from env; the defaults stay clear of
# 8080/8025/1025 (the web demo's and Mailpit's usual ports).
# --------------------------------------------------------------- SeaweedFS --
: "${PARLEY_SEAWEEDFS_VERSION:=v0.0.0-20261109003541-7506e5f91cd6}"
: "${PARLEY_S3_PORT:=8333}"
: "${PARLEY_SEAWEEDFS_MASTER_PORT:=9333}"
: "${PARLEY_SEAWEEDFS_VOLUME_PORT:=18080}"
: "${PARLEY_SEAWEEDFS_FILER_PORT:=18888}"
: "${PARLEY_S3_BUCKET:=parley-media}"
# Local-only credentials of the one identity the gateway accepts.
: "${PARLEY_S3_ACCESS_KEY:=parley}"
: "${PARLEY_S3_SECRET_KEY:=parley-local-secret}"

SEAWEEDFS_DIR="$PARLEY_STACK_DIR/seaweedfs"

seaweedfs_bin() { echo "$PARLEY_CACHE_DIR/seaweedfs/$PARLEY_SEAWEEDFS_VERSION/weed"; }

# SeaweedFS's go.mod has replace directives, so `go install pkg@version` refuses it: build inside
# the module as downloaded from the Go module proxy, once per version.
ensure_seaweedfs_bin() {
  local bin src
  bin=$(seaweedfs_bin)
  [[ -x $bin ]] && return 0
  ensure_go
  mkdir -p "$(dirname "$bin")" "$PARLEY_STACK_DIR"
  log "seaweedfs: building weed $PARLEY_SEAWEEDFS_VERSION -> $bin (first time: ~10 minutes on 2 cores)"
  src=$("$GO_BIN" mod download -json "github.com/seaweedfs/seaweedfs@$PARLEY_SEAWEEDFS_VERSION" |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $src ]] || die "seaweedfs: 'go mod download' gave no source dir for $PARLEY_SEAWEEDFS_VERSION"
  if ! (cd "$src" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" "$GO_BIN" build -trimpath -o "$bin.tmp" ./weed) \
    >"$PARLEY_STACK_DIR/go-build-seaweedfs.log" 2>&1; then
    log_tail "$PARLEY_STACK_DIR/go-build-seaweedfs.log" 30
    die "missing: SeaweedFS binary. 'go build ./weed' in $src failed (log: $PARLEY_STACK_DIR/go-build-seaweedfs.log)"
  fi
  mv "$bin.tmp" "$bin"
}

seaweedfs_answers() {
  # The S3 gateway answers an anonymous request with an S3 error document once it is serving.
  local out
  out=$(timeout 3 bash -c "exec 3<>/dev/tcp/$PARLEY_HOST/$PARLEY_S3_PORT &&
    printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && head -c 12 <&3" 2>/dev/null) || return 1
  [[ $out =~ ^HTTP/1\.[01]\ (200|403) ]]
}

start_seaweedfs() {
  local pidfile="$SEAWEEDFS_DIR/weed.pid" p
  if pid_alive "$pidfile"; then
    log "seaweedfs: already running (pid $(<"$pidfile"))"
    return 0
  fi
  for p in "$PARLEY_S3_PORT" "$PARLEY_SEAWEEDFS_MASTER_PORT" "$PARLEY_SEAWEEDFS_VOLUME_PORT" "$PARLEY_SEAWEEDFS_FILER_PORT"; do
    port_open "$p" &&
      die "seaweedfs: port $p is in use by a process not started by this stack. Stop it or set PARLEY_S3_PORT / PARLEY_SEAWEEDFS_*_PORT."
  done
  ensure_seaweedfs_bin
  mkdir -p "$SEAWEEDFS_DIR/data"
  cat >"$SEAWEEDFS_DIR/s3.json" <<JSON
{"identities":[{"name":"parley","credentials":[{"accessKey":"$PARLEY_S3_ACCESS_KEY","secretKey":"$PARLEY_S3_SECRET_KEY"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  log "seaweedfs: starting $PARLEY_SEAWEEDFS_VERSION on $(server_endpoint seaweedfs)"
  start_bg "$pidfile" "$SEAWEEDFS_DIR/weed.log" "$(seaweedfs_bin)" server \
    -ip="$PARLEY_HOST" -ip.bind="$PARLEY_HOST" -dir="$SEAWEEDFS_DIR/data" \
    -master.port="$PARLEY_SEAWEEDFS_MASTER_PORT" -master.port.grpc=$((PARLEY_SEAWEEDFS_MASTER_PORT + 10000)) \
    -master.volumeSizeLimitMB=64 \
    -volume.port="$PARLEY_SEAWEEDFS_VOLUME_PORT" -volume.port.grpc=$((PARLEY_SEAWEEDFS_VOLUME_PORT + 10000)) \
    -volume.max=50 \
    -filer -filer.port="$PARLEY_SEAWEEDFS_FILER_PORT" -filer.port.grpc=$((PARLEY_SEAWEEDFS_FILER_PORT + 10000)) \
    -s3 -s3.port="$PARLEY_S3_PORT" -s3.port.grpc=$((PARLEY_S3_PORT + 10000)) -s3.config="$SEAWEEDFS_DIR/s3.json"
}
