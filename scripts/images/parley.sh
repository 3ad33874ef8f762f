#!/usr/bin/env bash
# Builds the three Parley images from docker/Dockerfile (one target per service) with podman, on
# the base images base.sh makes here: the same Dockerfile the kind path builds with Docker, with
# NODE_IMAGE and NODE_BUILD_IMAGE set to the local bases. Tags are the chart's defaults
# (docker.io/parley/<service>:<package.json version>), so the chart needs no image override.
#
#   bash scripts/images/parley.sh [--tag 0.1.0]
set -euo pipefail
# shellcheck source=scripts/images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tag=$(node -p 'require(process.argv[1]).version' "$IMAGES_REPO_ROOT/package.json")
while [[ $# -gt 0 ]]; do
  case $1 in
    --tag) tag=$2; shift 2 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) idie "unknown argument: $1" ;;
  esac
done

bash "$IMAGES_SCRIPTS_DIR/base.sh"
pod_setup
for service in auth message operator; do
  image=docker.io/parley/$service:$tag
  started=$(date +%s)
  # --layers: the deps stage (npm ci, native builds) is built once and reused by every target and
  # by the next run while package.json and the lockfile are unchanged. --format docker keeps the
  # Dockerfile's HEALTHCHECK (OCI image configs have no field for it).
  pod build --isolation chroot --network host --layers --format docker \
    --file "$IMAGES_REPO_ROOT/docker/Dockerfile" --ignorefile "$IMAGES_REPO_ROOT/docker/Dockerfile.dockerignore" \
    --build-arg NODE_IMAGE="$NODE_IMAGE" --build-arg NODE_BUILD_IMAGE="$NODE_BUILD_IMAGE" \
    --target "$service" --tag "$image" "$IMAGES_REPO_ROOT" >"$PARLEY_IMAGES_DIR/build-$service.log" 2>&1 || {
    tail -n 30 "$PARLEY_IMAGES_DIR/build-$service.log" >&2
    idie "building $image failed (log: $PARLEY_IMAGES_DIR/build-$service.log)"
  }
  ilog "built $image in $(($(date +%s) - started)) s"
done
