#!/usr/bin/env bash
# Builds the Parley images (docker/Dockerfile, one target per service) and loads them into a kind
# cluster. Needs Docker (and kind, unless --no-load: e.g. after `eval $(minikube docker-env)`).
# Not run in CI: there is no Docker engine there.
#
#   scripts/kind/images.sh [--cluster parley] [--tag 0.1.0] [--no-load]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

cluster=parley
tag=$(node -p 'require("./package.json").version')
load=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --cluster) cluster=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --no-load) load=0; shift ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

tools=(docker)
((load)) && tools+=(kind)
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null; then
    echo "missing: $tool (https://docs.docker.com/get-docker/, https://kind.sigs.k8s.io/)" >&2
    exit 1
  fi
done
if ((load)) && ! kind get clusters | grep -qx "$cluster"; then
  echo "no kind cluster named '$cluster': create it with scripts/kind/up.sh or kind create cluster --name $cluster" >&2
  exit 1
fi

for service in auth message operator; do
  image="parley/$service:$tag"
  echo "building $image"
  DOCKER_BUILDKIT=1 docker build --file docker/Dockerfile --target "$service" --tag "$image" .
  if ((load)); then
    echo "loading $image into kind cluster $cluster"
    kind load docker-image "$image" --name "$cluster"
  fi
done
