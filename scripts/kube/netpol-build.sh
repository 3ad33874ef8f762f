#!/usr/bin/env bash
# Builds (once, then from the cache) the one-node cluster's NetworkPolicy enforcer: kube-router
# $PARLEY_KUBE_ROUTER_VERSION from the Go module proxy, of which the node runs only the network
# policy controller (iptables + ipset, so Debian's ipset is needed at run time). The CNI bridge
# plugin enforces no policy by itself. Prints the directory that holds the binary:
# $PARLEY_CACHE_DIR/netpol/<key>/bin. Separate from node-build.sh so that its cache key (and a
# cold rebuild of containerd, CoreDNS and Traefik) does not depend on it.
#
#   bash scripts/kube/netpol-build.sh
set -euo pipefail
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pkg="github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$PARLEY_KUBE_ROUTER_VERSION"
key=$({
  echo "$pkg"
  go env GOVERSION 2>/dev/null || true
  cat "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
out=$PARLEY_CACHE_DIR/netpol/$key
if [[ -x $out/bin/kube-router ]]; then
  echo "$out/bin"
  exit 0
fi
mkdir -p "$PARLEY_CACHE_DIR/netpol"
exec 8>"$PARLEY_CACHE_DIR/netpol/build.lock"
flock 8
if [[ -x $out/bin/kube-router ]]; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || kdie "go is not installed (kube-router is built from the Go module proxy)"
log=$PARLEY_CACHE_DIR/netpol/build-$key.log
started=$(date +%s)
klog "building kube-router $PARLEY_KUBE_ROUTER_VERSION (cold: ~3 min; log: $log)" >&2
rm -rf "$out/bin.tmp"
mkdir -p "$out/bin.tmp"
GOBIN=$out/bin.tmp CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "$pkg" >"$log" 2>&1 || {
  tail -n 30 "$log" >&2
  kdie "kube-router build failed (log: $log)"
}
rm -rf "${out:?}/bin"
mv "$out/bin.tmp" "$out/bin"
klog "built kube-router in $(($(date +%s) - started)) s: $out/bin" >&2
echo "$out/bin"
