#!/usr/bin/env bash
# Installs the Debian packages the one-node cluster and its image builds need, when missing:
# podman (image builds), runc, the CNI plugins, debootstrap, iptables, conntrack and ipset.
#
#   bash scripts/kube/node-deps.sh
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
((EUID == 0)) || kdie "the node needs root (mounts, network namespaces, cgroups)"
missing=()
for c in podman runc debootstrap iptables conntrack ipset; do command -v "$c" >/dev/null || missing+=("$c"); done
[[ -x $PARLEY_CNI_BIN_DIR/bridge ]] || missing+=(containernetworking-plugins)
((${#missing[@]})) || exit 0
klog "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
pkgs=(podman runc debootstrap iptables conntrack ipset containernetworking-plugins)
apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null && apt-get install -y -q "${pkgs[@]}" >/dev/null; } ||
  kdie "apt-get install ${pkgs[*]} failed"
