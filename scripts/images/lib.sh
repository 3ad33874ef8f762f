# shellcheck shell=bash disable=SC2034,SC2154 # settings and helpers for the scripts that source this file
# Shared settings for scripts/images/*.sh (sourced): container images built on this machine, with
# no Docker engine and no registry. podman (Debian's 4.3) builds them with chroot isolation into a
# storage of our own under the cache, so nothing here touches /var/lib/containers or
# /etc/containers; scripts/kube/node-up.sh imports them into the node's containerd.
#
#   PARLEY_IMAGES_DIR   podman storage, containers.conf and build caches
#                       (default $PARLEY_CACHE_DIR/images)
#   PARLEY_DEBIAN_MIRROR  debootstrap's mirror (default: the first URI in apt's sources)
IMAGES_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGES_REPO_ROOT="$(cd "$IMAGES_SCRIPTS_DIR/../.." && pwd)"

: "${PARLEY_CACHE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/parley}"
: "${PARLEY_IMAGES_DIR:=$PARLEY_CACHE_DIR/images}"
: "${PARLEY_DEBIAN_SUITE:=bookworm}"
if [[ -z ${PARLEY_DEBIAN_MIRROR:-} ]]; then
  PARLEY_DEBIAN_MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  : "${PARLEY_DEBIAN_MIRROR:=http://deb.debian.org/debian}"
fi

# The Node release is the Dockerfile's (its default NODE_IMAGE). The images' names: localhost/… (what podman calls an unqualified local name), the tags the chart
# and values-local.yaml use.
NODE_VERSION=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9.]*\)-.*/\1/p' "$IMAGES_REPO_ROOT/docker/Dockerfile")
# npm as bundled with that Node release (the official image's), for `npm ci` in the deps stage.
: "${PARLEY_NPM_VERSION:=10.8.2}"
DEBIAN_IMAGE=localhost/parley-base/debian:$PARLEY_DEBIAN_SUITE
NODE_IMAGE=localhost/parley-base/node:$NODE_VERSION-$PARLEY_DEBIAN_SUITE-slim
NODE_BUILD_IMAGE=localhost/parley-base/node-build:$NODE_VERSION-$PARLEY_DEBIAN_SUITE

ilog() { printf '[images] %s\n' "$*" >&2; }
idie() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

# podman with our storage and settings: runc (crun refuses the hybrid cgroup layout), cgroupfs,
# and default ulimits no higher than the machine's hard limits.
pod() {
  CONTAINERS_CONF=$PARLEY_IMAGES_DIR/containers.conf \
    podman --root "$PARLEY_IMAGES_DIR/storage" --runroot "$PARLEY_IMAGES_DIR/run" \
    --runtime runc --cgroup-manager cgroupfs --storage-driver overlay "$@"
}
pod_setup() {
  command -v podman >/dev/null || idie "podman is not installed (apt-get install podman runc debootstrap)"
  mkdir -p "$PARLEY_IMAGES_DIR"
  # Rootful podman raises a container's limits to these defaults, and fails when one is above the
  # hard limit it runs under (seen: nproc 32768 inside a build although the shell's is higher).
  local nofile=${PARLEY_PODMAN_NOFILE:-20000} nproc=${PARLEY_PODMAN_NPROC:-32768} h
  h=$(ulimit -Hn)
  [[ $h != unlimited ]] && ((h < nofile)) && nofile=$h
  h=$(ulimit -Hu)
  [[ $h != unlimited ]] && ((h < nproc)) && nproc=$h
  cat >"$PARLEY_IMAGES_DIR/containers.conf.tmp" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  mv "$PARLEY_IMAGES_DIR/containers.conf.tmp" "$PARLEY_IMAGES_DIR/containers.conf"
}

# A cache key from files' contents and extra words: one line of 16 hex digits.
content_key() { # words... -- files...
  {
    while [[ $# -gt 0 && $1 != -- ]]; do
      echo "$1"
      shift
    done
    [[ ${1:-} == -- ]] && shift
    cat "$@"
  } | sha256sum | cut -c1-16
}

# build_image IMAGE CONTEXT CONTAINERFILE KEY [podman build args…]: builds IMAGE unless an image of
# that name carries the label parley.key=KEY (the inputs' hash), so a changed input rebuilds it.
build_image() {
  local image=$1 ctx=$2 file=$3 key=$4 have log started
  shift 4
  have=$(pod image inspect --format '{{index .Labels "parley.key"}}' "$image" 2>/dev/null || true)
  [[ $have == "$key" ]] && return 0
  log=$PARLEY_IMAGES_DIR/build-$(basename "${image%%:*}").log
  started=$(date +%s)
  pod build --isolation chroot --network host --layers=false --format docker --label "parley.key=$key" \
    --file "$file" --tag "$image" "$@" "$ctx" >"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    idie "building $image failed (log: $log)"
  }
  ilog "built $image in $(($(date +%s) - started)) s"
}
