#!/usr/bin/env bash
# Builds (once, then from the cache) the Kubernetes binaries: etcd, kube-apiserver,
# kube-controller-manager and kubectl (the control plane the test suite runs), kube-scheduler,
# kube-proxy and kubelet (the one-node cluster, scripts/kube/node-up.sh), all at the release pinned in
# scripts/kube/src/*/go.mod. Prints the directory that holds the binaries.
#
#   bash scripts/kube/build.sh            # build or reuse; prints $PARLEY_CACHE_DIR/kube/<key>/bin
#
# Cache key: the wrapper modules (go.mod, go.sum, main.go) and this script. A cold build takes
# about 8-10 minutes on two cores; a warm one returns at once.
set -euo pipefail
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

key=$(cat "$KUBE_SRC"/kubernetes/go.mod "$KUBE_SRC"/kubernetes/go.sum "$KUBE_SRC"/kubernetes/tools.go \
  "$KUBE_SRC"/etcd/go.mod "$KUBE_SRC"/etcd/go.sum "$KUBE_SRC"/etcd/main.go "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
out="$PARLEY_CACHE_DIR/kube/$KUBE_VERSION-$key"
cmds=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl kubelet)
built() {
  local c
  for c in "${cmds[@]}" etcd; do [[ -x $out/bin/$c ]] || return 1; done
}
if built; then
  echo "$out/bin"
  exit 0
fi

# One build at a time (test.sh starts it early in the background; env.sh may ask meanwhile).
mkdir -p "$PARLEY_CACHE_DIR/kube"
exec 8>"$PARLEY_CACHE_DIR/kube/build.lock"
flock 8
if built; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || kdie "go is not installed (the control plane is built from the Go module proxy)"
mkdir -p "$out/bin.tmp"
build_log="$PARLEY_CACHE_DIR/kube/build-$key.log"
started=$(date +%s)
klog "building Kubernetes $KUBE_VERSION and etcd $ETCD_VERSION (cold: ~10 min; log: $build_log)" >&2

# The version the server reports (kubectl version, the chart's kubeVersion check) comes from
# ldflags; without them it is v0.0.0.
minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
vpkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for p in "${vpkgs[@]}"; do
  ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
{
  cd "$KUBE_SRC/kubernetes"
  CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$ldflags" -o "$out/bin.tmp/" \
    "${cmds[@]/#/k8s.io/kubernetes/cmd/}"
  cd "$KUBE_SRC/etcd"
  CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w" -o "$out/bin.tmp/etcd" .
} >"$build_log" 2>&1 || {
  tail -n 30 "$build_log" >&2
  kdie "build failed (log: $build_log)"
}
rm -rf "${out:?}/bin"
mv "$out/bin.tmp" "$out/bin"
klog "built in $(($(date +%s) - started)) s: $out/bin" >&2
echo "$out/bin"
