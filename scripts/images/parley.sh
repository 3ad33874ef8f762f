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
# The build's inputs: the Dockerfile, what its COPY lines read, and the bases. Unchanged inputs
# keep the images as they are (a rebuild would give them new ids, and node-up.sh would re-import).
mapfile -t inputs < <(cd "$IMAGES_REPO_ROOT" && git ls-files --cached --others --exclude-standard -- \
  docker package.json package-lock.json tsconfig.base.json tsconfig.json services operators \
  cdk8s/package.json scripts/jwt-keygen.ts | grep -v -e '\.test\.ts$' -e '/node_modules/' | sort)
key=$(cd "$IMAGES_REPO_ROOT" && content_key "$tag" "$(pod image inspect --format '{{.Id}}' "$NODE_IMAGE" "$NODE_BUILD_IMAGE")" \
  "${inputs[@]}" -- "${inputs[@]}")
for service in auth message operator; do
  image=docker.io/parley/$service:$tag
  # A stamp, not a label: a label would change every stage's config and so the shared deps layer.
  stamp=$PARLEY_IMAGES_DIR/parley-$service.stamp
  if [[ -s $stamp && $(<"$stamp") == "$key $(pod image inspect --format '{{.Id}}' "$image" 2>/dev/null)" ]]; then
    continue
  fi
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
  echo "$key $(pod image inspect --format '{{.Id}}' "$image")" >"$stamp"
  ilog "built $image in $(($(date +%s) - started)) s"
done
