# shellcheck shell=bash disable=SC2034,SC2154 # settings for node-up.sh and node-down.sh
# A one-node Kubernetes cluster on this machine (sourced by node-up.sh, node-down.sh, node-env.sh;
# it sources ../lib.sh after setting its own defaults).
# Everything is a setting with a default that stays clear of the test suite's control plane
# (scripts/kube/up.sh on 2479/6443/10357) and of anything else on the machine:
#
#   PARLEY_NODE_DIR           state: containerd, kubelet, CNI, volumes, logs (<stack>/node)
#   PARLEY_ETCD_PORT          12479 (peer: +1)      PARLEY_KUBE_PORT   16443
#   PARLEY_KCM_PORT           20357                 PARLEY_SCHED_PORT  20259
#   PARLEY_KUBELET_PORT       20250 (healthz: PARLEY_KUBELET_HEALTHZ_PORT 20248)
#   PARLEY_PROXY_HEALTHZ_PORT 20256 (metrics: PARLEY_PROXY_METRICS_PORT 20249)
#   PARLEY_NETPOL_HEALTH_PORT 20244 (kube-router, the NetworkPolicy enforcer)
#   PARLEY_NODE_BRIDGE        parley0, with PARLEY_NODE_POD_CIDR 10.244.0.0/24; the node's own
#                             address (API server, kubelet) is the first one, 10.244.0.1
#   PARLEY_NODE_SERVICE_CIDR  10.96.0.0/16 (DNS at .10)
#   PARLEY_NODE_NAME          parley-node
#   PARLEY_NODE_INGRESS_NODEPORT 30080, PARLEY_NODE_INGRESS_HOSTS parley.local (space-separated)
# The control plane is scripts/kube/up.sh bound to the bridge address, its state in
# $PARLEY_NODE_DIR/control-plane.
: "${PARLEY_STACK_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/.stack}"
: "${PARLEY_NODE_DIR:=$PARLEY_STACK_DIR/node}"
: "${PARLEY_ETCD_PORT:=12479}"
: "${PARLEY_KUBE_PORT:=16443}"
: "${PARLEY_KCM_PORT:=20357}"
: "${PARLEY_SCHED_PORT:=20259}"
: "${PARLEY_KUBELET_PORT:=20250}"
: "${PARLEY_KUBELET_HEALTHZ_PORT:=20248}"
: "${PARLEY_PROXY_HEALTHZ_PORT:=20256}"
: "${PARLEY_PROXY_METRICS_PORT:=20249}"
: "${PARLEY_NETPOL_HEALTH_PORT:=20244}"
: "${PARLEY_NODE_BRIDGE:=parley0}"
: "${PARLEY_NODE_POD_CIDR:=10.244.0.0/24}"
: "${PARLEY_NODE_SERVICE_CIDR:=10.96.0.0/16}"
: "${PARLEY_NODE_NAME:=parley-node}"
# The ingress controller (Traefik): its NodePort on the node's address, and the host names that
# resolve to it inside the cluster (CoreDNS), so in-cluster clients go through the ingress too.
: "${PARLEY_NODE_INGRESS_NODEPORT:=30080}"
: "${PARLEY_NODE_INGRESS_HOSTS:=parley.local}"
# The node's own control plane: never a PARLEY_KUBE_DIR inherited from scripts/kube/env.sh (the
# test suite's control plane, whose etcd holds that directory).
PARLEY_KUBE_DIR=${PARLEY_NODE_KUBE_DIR:-$PARLEY_NODE_DIR/control-plane}
: "${PARLEY_CNI_BIN_DIR:=/usr/lib/cni}"
: "${PARLEY_RUNC:=$(command -v runc || echo /usr/sbin/runc)}"
export PARLEY_STACK_DIR PARLEY_NODE_DIR PARLEY_ETCD_PORT PARLEY_KUBE_PORT PARLEY_KCM_PORT PARLEY_KUBE_DIR
# The shared settings and helpers, with the ones above in force.
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

pod_prefix=${PARLEY_NODE_POD_CIDR%/*}
NODE_IP=${pod_prefix%.*}.$((${pod_prefix##*.} + 1))
svc_prefix=${PARLEY_NODE_SERVICE_CIDR%/*}
CLUSTER_DNS=${svc_prefix%.*}.10
export PARLEY_KUBE_BIND_ADDRESS=$NODE_IP
CONTAINERD_SOCK=$PARLEY_NODE_DIR/containerd/containerd.sock
# The node's cgroups sit under their own parent in every v1 hierarchy (and the unified one).
NODE_CGROUP=parley-node
cgroup_dirs() {
  local d
  for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -e $d/cgroup.procs ]] && echo "${d%/}/$NODE_CGROUP"
  done
}

# The node's own images (scripts/images/node.sh), and every image node-up.sh imports.
PAUSE_IMAGE=localhost/parley-node/pause:1
COREDNS_IMAGE=localhost/parley-node/coredns:$PARLEY_COREDNS_VERSION
LOCAL_PATH_IMAGE=localhost/parley-node/local-path-provisioner:$PARLEY_LOCAL_PATH_VERSION
TRAEFIK_IMAGE=localhost/parley-node/traefik:$TRAEFIK_VERSION
INGRESS_SERVICE=traefik.ingress-traefik.svc.cluster.local
# node_import_images NODE_BIN REF...: podman's storage → one docker-archive (layers shared between
# images are written once) → the node's containerd, skipping those containerd already has (its
# config digest is podman's image id). Prints how many it imported. Needs scripts/images/lib.sh.
node_import_images() {
  local nbin=$1 ref id todo=()
  shift
  for ref in "$@"; do
    id=$(pod image inspect --format '{{.Id}}' "$ref")
    "$nbin/ctr" --address "$CONTAINERD_SOCK" --namespace k8s.io images inspect "$ref" 2>/dev/null |
      grep -q "sha256:$id" || todo+=("$ref")
  done
  if ((${#todo[@]})); then
    pod save --multi-image-archive --format docker-archive "${todo[@]}" 2>/dev/null |
      "$nbin/ctr" --address "$CONTAINERD_SOCK" --namespace k8s.io images import --local - >/dev/null 2>&1 ||
      kdie "importing ${todo[*]} into containerd failed"
  fi
  echo "${#todo[@]}"
}

node_image_refs() { # with_parley (1|0): image names in podman's storage, one a line
  local re='^localhost/parley-(node/|base/debian:|base/node:)'
  if (($1)); then re='^(localhost/parley-(node/|infra/|base/debian:|base/node:)|docker.io/parley/)'; fi
  pod images --format '{{.Repository}}:{{.Tag}}' | grep -E "$re" | grep -v ':<none>$' | sort -u
}
