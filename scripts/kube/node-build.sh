#!/usr/bin/env bash
# Builds (once, then from the cache) what the one-node cluster runs beside the Kubernetes binaries
# of build.sh, all from the Go module proxy:
#   containerd, containerd-shim-runc-v2, ctr   github.com/containerd/containerd/v2
#   crictl                                      sigs.k8s.io/cri-tools
#   coredns                                     github.com/coredns/coredns
#   local-path-provisioner                      github.com/rancher/local-path-provisioner
#   pause                                       scripts/kube/src/pause (the pod sandbox)
#   traefik                                     scripts/kube/src/traefik (the ingress controller)
# Prints the directory that holds them: $PARLEY_CACHE_DIR/node/<key>/bin. runc and the CNI plugins
# are Debian's (apt-get install runc containernetworking-plugins).
#
#   bash scripts/kube/node-build.sh
set -euo pipefail
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# module/cmd@version per binary; the key covers them, the pause source and this script.
pkgs=(
  "github.com/containerd/containerd/v2/cmd/containerd@$PARLEY_CONTAINERD_VERSION"
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$PARLEY_CONTAINERD_VERSION"
  "github.com/containerd/containerd/v2/cmd/ctr@$PARLEY_CONTAINERD_VERSION"
  "sigs.k8s.io/cri-tools/cmd/crictl@$PARLEY_CRICTL_VERSION"
  "github.com/coredns/coredns@$PARLEY_COREDNS_VERSION"
  "github.com/rancher/local-path-provisioner@$PARLEY_LOCAL_PATH_VERSION"
)
key=$({
  printf '%s\n' "${pkgs[@]}"
  cat "$KUBE_SRC/pause/main.go" "$KUBE_SRC/pause/go.mod" "$KUBE_SRC"/traefik/{go.mod,go.sum,tools.go} "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
out=$PARLEY_CACHE_DIR/node/$key
bins=(containerd containerd-shim-runc-v2 ctr crictl coredns local-path-provisioner pause traefik)
built() {
  local b
  for b in "${bins[@]}"; do [[ -x $out/bin/$b ]] || return 1; done
}
if built; then
  echo "$out/bin"
  exit 0
fi
mkdir -p "$PARLEY_CACHE_DIR/node"
exec 8>"$PARLEY_CACHE_DIR/node/build.lock"
flock 8
if built; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || kdie "go is not installed (the node's binaries are built from the Go module proxy)"
log=$PARLEY_CACHE_DIR/node/build-$key.log
started=$(date +%s)
klog "building containerd $PARLEY_CONTAINERD_VERSION, crictl, CoreDNS $PARLEY_COREDNS_VERSION, local-path-provisioner $PARLEY_LOCAL_PATH_VERSION, Traefik $TRAEFIK_VERSION (cold: ~15 min; log: $log)" >&2
rm -rf "$out/bin.tmp"
mkdir -p "$out/bin.tmp"
{
  for p in "${pkgs[@]}"; do
    ldflags="-s -w"
    [[ $p == github.com/containerd/* ]] && ldflags+=" -X github.com/containerd/containerd/v2/version.Version=$PARLEY_CONTAINERD_VERSION"
    # No btrfs/devmapper/zfs snapshotters: they need cgo and headers, and overlayfs is what we use.
    GOBIN=$out/bin.tmp CGO_ENABLED=0 go install -trimpath -tags no_btrfs,no_devmapper,no_zfs -ldflags "$ldflags" "$p"
  done
  (cd "$KUBE_SRC/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/bin.tmp/pause" .)
  # Traefik through a wrapper module (its go.mod's replace lines make `go install …@v` refuse it).
  (cd "$KUBE_SRC/traefik" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$out/bin.tmp/traefik" github.com/traefik/traefik/v3/cmd/traefik)
} >"$log" 2>&1 || {
  tail -n 30 "$log" >&2
  kdie "build failed (log: $log)"
}
rm -rf "${out:?}/bin"
mv "$out/bin.tmp" "$out/bin"
klog "built in $(($(date +%s) - started)) s: $out/bin" >&2
echo "$out/bin"
