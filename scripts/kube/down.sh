#!/usr/bin/env bash
# Stops the control plane that up.sh started (SIGTERM, then SIGKILL after 20 s). `--wipe` also
# deletes its state (etcd data, certificates, kubeconfigs), so the next up.sh starts empty.
set -euo pipefail
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir=$PARLEY_KUBE_DIR
for name in kube-controller-manager kube-apiserver etcd; do
  pidfile=$dir/run/$name.pid
  [[ -s $pidfile ]] || continue
  pid=$(<"$pidfile")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$name"; then
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    klog "stopped $name"
  fi
  rm -f "$pidfile"
done
if [[ ${1:-} == --wipe ]]; then
  rm -rf "$dir"
  klog "wiped $dir"
fi
