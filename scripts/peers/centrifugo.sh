#!/usr/bin/env bash
# Builds Centrifugo v6 from the Go module proxy into ~/.cache/parley/centrifugo (idempotent) and
# prints the binary's path. Used by scripts/peers/centrifugo.ts; never needed by CI.
#
#   bash scripts/peers/centrifugo.sh            # → ~/.cache/parley/centrifugo/v6.9.1/bin/centrifugo
#   CENTRIFUGO_VERSION=latest bash scripts/peers/centrifugo.sh
set -euo pipefail
VERSION="${CENTRIFUGO_VERSION:-v6.9.1}"
CACHE="${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/centrifugo"
if [[ "$VERSION" == latest ]]; then
  VERSION="$(cd /tmp && GOFLAGS=-mod=mod go list -m -f '{{.Version}}' github.com/centrifugal/centrifugo/v6@latest)"
fi
BIN="$CACHE/$VERSION/bin/centrifugo"
if [[ ! -x "$BIN" ]]; then
  echo "building centrifugo $VERSION (go install, a few minutes the first time)…" >&2
  mkdir -p "$CACHE/$VERSION"
  # CGO off: a static binary, no C toolchain needed; GOBIN keeps it out of ~/go/bin.
  (cd /tmp && CGO_ENABLED=0 GOBIN="$CACHE/$VERSION/bin.tmp" \
    go install "github.com/centrifugal/centrifugo/v6@$VERSION" >&2)
  mv "$CACHE/$VERSION/bin.tmp" "$CACHE/$VERSION/bin"
fi
"$BIN" version >&2
echo "$BIN"
