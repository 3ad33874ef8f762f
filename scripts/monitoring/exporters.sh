#!/usr/bin/env bash
# Builds the exporters the live monitoring test runs beside the local stack, from the Go module
# proxy, into a cached bin dir, and prints that dir. redis_exporter and node_exporter only:
# kafka_exporter and percona's mongodb_exporter are not served by the proxy
# (monitoring/queries-without-data.yaml lists what therefore has no data locally).
#
#   scripts/monitoring/exporters.sh     build if missing; print the bin dir
#
# `go install module@version` needs the proxy's version list (403 here), so each exporter is built
# from a throwaway module that requires exactly that version. The proxy's checksum database does
# not know these two modules (404): their own checksum check is skipped (GONOSUMDB), their
# dependencies are still verified.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../stack/lib.sh"

: "${PARLEY_REDIS_EXPORTER_VERSION:=v1.62.0}"
: "${PARLEY_NODE_EXPORTER_VERSION:=v1.8.2}"
EXPORTERS_BIN="$PARLEY_CACHE_DIR/exporters/bin"

# build NAME MODULE VERSION
build() {
  local name=$1 module=$2 version=$3 stamp="$EXPORTERS_BIN/.$1.version" tmp
  [[ -x $EXPORTERS_BIN/$name && $(cat "$stamp" 2>/dev/null) == "$version" ]] && return 0
  ensure_go
  log "building $name $version ($module, Go module proxy)" >&2
  mkdir -p "$EXPORTERS_BIN"
  tmp=$(mktemp -d "$EXPORTERS_BIN/.tmp.XXXXXX")
  printf 'module exporterbuild\n\ngo 1.21\n' >"$tmp/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$module" >"$tmp/tools.go"
  if ! (cd "$tmp" && export GONOSUMDB="$module" GOFLAGS=-mod=mod CGO_ENABLED=0 &&
    "$GO_BIN" get "$module@$version" && "$GO_BIN" build -trimpath -o "$name" "$module") >"$tmp.log" 2>&1; then
    log_tail "$tmp.log" 30 >&2
    rm -rf "$tmp"
    die "could not build $name $version (log: $tmp.log)"
  fi
  mv -f "$tmp/$name" "$EXPORTERS_BIN/$name"
  echo "$version" >"$stamp"
  rm -rf "$tmp" "$tmp.log"
}

build redis_exporter github.com/oliver006/redis_exporter "$PARLEY_REDIS_EXPORTER_VERSION"
build node_exporter github.com/prometheus/node_exporter "$PARLEY_NODE_EXPORTER_VERSION"
echo "$EXPORTERS_BIN"
