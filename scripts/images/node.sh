#!/usr/bin/env bash
# Builds the one-node cluster's own images from the binaries of scripts/kube/node-build.sh, each a
# single static binary on an empty base (no shell, no libc): the pod sandbox (pause), CoreDNS,
# local-path-provisioner and Traefik. Their names are in scripts/kube/node/lib.sh.
#
#   bash scripts/images/node.sh <dir with pause, coredns, local-path-provisioner>
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../kube/node/lib.sh"
# shellcheck source=scripts/images/lib.sh
source "$KUBE_REPO_ROOT/scripts/images/lib.sh"
bin=${1:?usage: node.sh <bin dir>}
bash "$IMAGES_SCRIPTS_DIR/base.sh"
pod_setup

static_image() { # image, binary, user, args…
  local image=$1 binary=$2 user=$3 ctx
  shift 3
  ctx=$PARLEY_IMAGES_DIR/ctx/$(basename "$binary")
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$bin/$binary" "$ctx/$binary"
  {
    echo "FROM scratch"
    echo "COPY $binary /$binary"
    echo "USER $user"
    printf 'ENTRYPOINT ["/%s"]\n' "$binary"
  } >"$ctx/Containerfile"
  build_image "$image" "$ctx" "$ctx/Containerfile" "$(content_key -- "$ctx/Containerfile" "$ctx/$binary")"
}
static_image "$PAUSE_IMAGE" pause 65535
static_image "$COREDNS_IMAGE" coredns 65532
static_image "$LOCAL_PATH_IMAGE" local-path-provisioner 65532
static_image "$TRAEFIK_IMAGE" traefik 65532
