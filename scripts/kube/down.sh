#!/usr/bin/env bash
# Stops the control plane that up.sh started (SIGTERM, then SIGKILL after 20 s). `--wipe` also
# deletes its state (etcd data, certificates, kubeconfigs), so the next up.sh starts empty.
set -euo pipefail
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir=$PARLEY_KUBE_DIR
for name in kube-controller-manager kube-apiserver etcd; do
  stop_pid "$dir/run/$name.pid" "$name"
done
if [[ ${1:-} == --wipe ]]; then
  rm -rf "$dir"
  klog "wiped $dir"
fi
