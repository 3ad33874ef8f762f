#!/usr/bin/env bash
# Prints the environment for the one-node cluster node-up.sh started:
#   eval "$(bash scripts/kube/node-env.sh)"
#   KUBECONFIG (admin), PARLEY_KUBE_BIN (kubectl, …, first on PATH), CONTAINER_RUNTIME_ENDPOINT
#   (for crictl, also on PATH) and the node's settings.
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
nbin=$(bash "$KUBE_SCRIPTS_DIR/node-build.sh")
printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_ADMIN"
printf 'export PARLEY_KUBE_BIN=%q\n' "$kbin"
printf 'export PARLEY_NODE_DIR=%q\n' "$PARLEY_NODE_DIR"
printf 'export CONTAINER_RUNTIME_ENDPOINT=%q\n' "unix://$CONTAINERD_SOCK"
# shellcheck disable=SC2016 # $PATH expands where the output is eval'd
printf 'export PATH=%q:%q:"$PATH"\n' "$kbin" "$nbin"
