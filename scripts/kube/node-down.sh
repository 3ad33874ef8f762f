#!/usr/bin/env bash
# Tears down the one-node cluster of node-up.sh and leaves no processes, mounts, network interfaces,
# iptables rules or cgroups behind: pods are stopped and removed through the CRI (which unmounts
# their volumes and deletes their network namespaces), then the node's processes stop, kube-proxy's
# rules are flushed, leftover mounts under the node's directory are unmounted, and the bridge, the
# PARLEY-NODE chain, the cgroups and the sysctls are put back. `--wipe` also deletes the state
# (etcd, containerd's images, volumes), so the next node-up.sh starts empty and re-imports images.
#
#   bash scripts/kube/node-down.sh [--wipe]
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
dir=$PARLEY_NODE_DIR
[[ -d $dir ]] || exit 0
nbin=$(bash "$KUBE_SCRIPTS_DIR/node-build.sh")
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")

stop_pid "$dir/run/kubelet.pid" kubelet
if alive "$dir/run/containerd.pid" containerd; then
  crictl() { "$nbin/crictl" --runtime-endpoint "unix://$CONTAINERD_SOCK" --timeout 30s "$@"; }
  mapfile -t pods < <(crictl pods -q 2>/dev/null)
  if ((${#pods[@]})); then
    crictl stopp "${pods[@]}" >/dev/null 2>&1 || true
    crictl rmp --force "${pods[@]}" >/dev/null 2>&1 || true
    klog "removed ${#pods[@]} pod sandboxes"
  fi
fi
stop_pid "$dir/run/containerd.pid" containerd
# Shims outlive containerd by design; ours name our socket on their command line.
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do kill -9 "$p" 2>/dev/null || true; done
stop_pid "$dir/run/kube-router.pid" kube-router
# kube-router's chains are KUBE-* (removed below with kube-proxy's), then its ipsets.
rbin=$(bash "$KUBE_SCRIPTS_DIR/netpol-build.sh")
"$rbin/kube-router" --cleanup-config >/dev/null 2>&1 || true
stop_pid "$dir/run/kube-proxy.pid" kube-proxy
"$kbin/kube-proxy" --cleanup >/dev/null 2>&1 || true
stop_pid "$dir/run/kube-scheduler.pid" kube-scheduler
bash "$KUBE_SCRIPTS_DIR/down.sh"

# Whatever is still mounted under the node's directory (deepest first), and network namespaces
# the CNI plugin made for our pods.
mapfile -t mounts < <(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r)
for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
if ((${#mounts[@]})); then klog "unmounted ${#mounts[@]} leftover mounts"; fi
if ip link show "$PARLEY_NODE_BRIDGE" >/dev/null 2>&1; then
  ip link del "$PARLEY_NODE_BRIDGE"
  klog "deleted bridge $PARLEY_NODE_BRIDGE"
fi
# The kubelet's and kube-proxy's chains (KUBE-*) in every table, IPv4 and IPv6: the rules that
# jump to them, then the chains. Nothing else on the machine uses KUBE-* chains.
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for t in filter nat mangle; do
    while IFS= read -r rule; do
      eval "$ipt -t $t ${rule/#-A/-D}" 2>/dev/null || true
    done < <("$ipt" -t "$t" -S 2>/dev/null | grep -E '^-A .* -j KUBE-')
    mapfile -t chains < <("$ipt" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}')
    for c in "${chains[@]}"; do "$ipt" -t "$t" -F "$c" 2>/dev/null || true; done
    for c in "${chains[@]}"; do "$ipt" -t "$t" -X "$c" 2>/dev/null || true; done
  done
done
# kube-router's ipsets, once no iptables rule uses them (a set in use cannot be destroyed).
if command -v ipset >/dev/null; then
  for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router-)' || true); do ipset destroy "$set" 2>/dev/null || true; done
fi
if iptables -C FORWARD -j PARLEY-NODE 2>/dev/null; then
  iptables -D FORWARD -j PARLEY-NODE
  iptables -F PARLEY-NODE
  iptables -X PARLEY-NODE
fi
# cgroups: deepest first; a directory with processes left in it is reported, not forced.
while read -r cg; do
  [[ -d $cg ]] || continue
  find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  if [[ -d $cg ]]; then klog "WARNING: cgroup $cg still has processes: $(tr '\n' ' ' <"$cg/cgroup.procs")"; fi
done < <(cgroup_dirs)
if [[ -s $dir/run/sysctl.saved ]]; then
  while IFS= read -r kv; do sysctl -qw "$kv" || true; done <"$dir/run/sysctl.saved"
  rm -f "$dir/run/sysctl.saved"
fi
# containerd's shims keep their sockets under /run/containerd whatever its state directory is.
rmdir /run/containerd/s /run/containerd/fifo /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd 2>/dev/null || true
if [[ ${1:-} == --wipe ]]; then
  rm -rf "${dir:?}"
  klog "wiped $dir"
fi
klog "node $PARLEY_NODE_NAME down"
