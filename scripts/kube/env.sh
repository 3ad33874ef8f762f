#!/usr/bin/env bash
# Prints the environment for the control plane up.sh started: eval "$(bash scripts/kube/env.sh)".
#   KUBECONFIG        the admin kubeconfig (system:masters)
#   PARLEY_KUBE_BIN   the directory with kubectl, kube-apiserver, … (also put first on PATH)
#   PARLEY_KUBE_DIR   the control plane's state directory (for tests that restart it)
set -euo pipefail
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_ADMIN"
printf 'export PARLEY_KUBE_BIN=%q\n' "$bin"
printf 'export PARLEY_KUBE_DIR=%q\n' "$PARLEY_KUBE_DIR"
# shellcheck disable=SC2016 # $PATH expands where the output is eval'd
printf 'export PATH=%q:"$PATH"\n' "$bin"
