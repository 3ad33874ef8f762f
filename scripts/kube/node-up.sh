#!/usr/bin/env bash
# Brings up a one-node Kubernetes cluster on this machine (idempotent), from nothing but the
# package registries: the control plane of up.sh bound to the node's bridge address, containerd
# with Debian's runc and CNI plugins, kube-scheduler, kube-proxy (iptables), the kubelet, CoreDNS,
# local-path-provisioner and Traefik (IngressClass traefik), with every image built here (scripts/images) and imported into
# containerd. Settings and their defaults: scripts/kube/node/lib.sh.
#
#   bash scripts/kube/node-up.sh [--no-parley-images]   # then:
#   eval "$(bash scripts/kube/node-env.sh)"              # KUBECONFIG, kubectl on PATH
#   bash scripts/kube/node-down.sh [--wipe]
#
# Needs root and Debian's podman, runc, debootstrap, containernetworking-plugins, iptables and
# ipset (installed here when missing: node-deps.sh).
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
# shellcheck source=scripts/images/lib.sh
source "$KUBE_REPO_ROOT/scripts/images/lib.sh"

parley_images=1
[[ ${1:-} == --no-parley-images ]] && parley_images=0
((EUID == 0)) || kdie "the node needs root (mounts, network namespaces, cgroups)"
t0=$(date +%s)
bash "$KUBE_SCRIPTS_DIR/node-deps.sh"

dir=$PARLEY_NODE_DIR
pki=$PARLEY_KUBE_DIR/pki
mkdir -p "$dir/logs" "$dir/run" "$dir/cni/net.d" "$dir/containerd" "$dir/kubelet" "$dir/volumes"
exec 9>"$dir/run/node-up.lock"
flock 9

# ---------------------------------------------------------------- builds ----
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
nbin=$(bash "$KUBE_SCRIPTS_DIR/node-build.sh")
rbin=$(bash "$KUBE_SCRIPTS_DIR/netpol-build.sh")
bash "$KUBE_REPO_ROOT/scripts/images/node.sh" "$nbin"
if ((parley_images)); then
  bash "$KUBE_REPO_ROOT/scripts/images/infra.sh"
  bash "$KUBE_REPO_ROOT/scripts/images/parley.sh"
fi
t_built=$(date +%s)

# --------------------------------------------------------------- network ----
# The bridge exists before the first pod so that the API server and the kubelet can bind to the
# node's address on it. Pods reach nothing beyond the bridge and the node itself: forwarded
# traffic from the bridge to any other interface is dropped (PARLEY-NODE chain).
if ! ip link show "$PARLEY_NODE_BRIDGE" >/dev/null 2>&1; then
  ip link add "$PARLEY_NODE_BRIDGE" type bridge
fi
ip addr replace "$NODE_IP/${PARLEY_NODE_POD_CIDR#*/}" dev "$PARLEY_NODE_BRIDGE"
ip link set "$PARLEY_NODE_BRIDGE" up
saved=$dir/run/sysctl.saved
if [[ ! -s $saved ]]; then
  {
    echo "net.ipv4.ip_forward=$(sysctl -n net.ipv4.ip_forward)"
    echo "net.bridge.bridge-nf-call-iptables=$(sysctl -n net.bridge.bridge-nf-call-iptables)"
  } >"$saved"
fi
# Services (kube-proxy's DNAT) route between pods on the bridge; bridged traffic sees iptables.
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
iptables -N PARLEY-NODE 2>/dev/null || iptables -F PARLEY-NODE
iptables -A PARLEY-NODE -i "$PARLEY_NODE_BRIDGE" ! -o "$PARLEY_NODE_BRIDGE" -j DROP
iptables -C FORWARD -j PARLEY-NODE 2>/dev/null || iptables -I FORWARD 1 -j PARLEY-NODE
sed -e "s|@BRIDGE@|$PARLEY_NODE_BRIDGE|g" -e "s|@DIR@|$dir|g" -e "s|@POD_CIDR@|$PARLEY_NODE_POD_CIDR|g" \
  -e "s|@NODE_IP@|$NODE_IP|g" "$KUBE_SCRIPTS_DIR/node/cni.conflist.tmpl" >"$dir/cni/net.d/10-parley.conflist"
while read -r cg; do mkdir -p "$cg"; done < <(cgroup_dirs)

# --------------------------------------------------------- control plane ----
bash "$KUBE_SCRIPTS_DIR/up.sh"
cert scheduler "/CN=system:kube-scheduler" clientAuth
cert kube-proxy "/CN=system:kube-proxy" clientAuth
cert node "/O=system:nodes/CN=system:node:$PARLEY_NODE_NAME" clientAuth
cert kubelet "/CN=$PARLEY_NODE_NAME" serverAuth "IP:$NODE_IP,IP:127.0.0.1,DNS:$PARLEY_NODE_NAME"
kubeconfig "$dir/scheduler.kubeconfig" scheduler
kubeconfig "$dir/kube-proxy.kubeconfig" kube-proxy
kubeconfig "$dir/node.kubeconfig" node
kubectl() { "$kbin/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
# kube-proxy's default binding (system:node-proxier) comes with the API server's bootstrap roles;
# our kube-proxy authenticates as the user system:kube-proxy.
kubectl create clusterrolebinding parley-node-proxier --clusterrole system:node-proxier \
  --user system:kube-proxy >/dev/null 2>&1 || true
start kube-scheduler "$kbin/kube-scheduler" --kubeconfig "$dir/scheduler.kubeconfig" \
  --authentication-kubeconfig "$dir/scheduler.kubeconfig" --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$PARLEY_SCHED_PORT" --leader-elect=false --profiling=false
wait_for kube-scheduler curl -fsSk "https://127.0.0.1:$PARLEY_SCHED_PORT/healthz"

# ------------------------------------------------------------ containerd ----
runc=$PARLEY_RUNC
if ! (echo -1 >/proc/self/oom_score_adj) 2>/dev/null; then
  mkdir -p "$dir/bin"
  sed "s|@RUNC@|$PARLEY_RUNC|g" "$KUBE_SCRIPTS_DIR/node/runc-wrapper.tmpl" >"$dir/bin/runc"
  chmod +x "$dir/bin/runc"
  runc=$dir/bin/runc
fi
sed -e "s|@DIR@|$dir|g" -e "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|g" -e "s|@RUNC@|$runc|g" \
  -e "s|@CNI_BIN@|$PARLEY_CNI_BIN_DIR|g" "$KUBE_SCRIPTS_DIR/node/containerd.toml.tmpl" >"$dir/containerd/config.toml"
# The shim is found on PATH.
start containerd env PATH="$nbin:$PATH" "$nbin/containerd" --config "$dir/containerd/config.toml"
ctr() { "$nbin/ctr" --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }
wait_for containerd ctr version

# Images: from podman's storage into containerd (those it does not have yet).
mapfile -t refs < <(node_image_refs "$parley_images")
imported=$(node_import_images "$nbin" "${refs[@]}")
klog "images: $imported imported into containerd"
t_images=$(date +%s)

# ------------------------------------------------------- kube-proxy, kubelet ----
start kube-proxy "$kbin/kube-proxy" --kubeconfig "$dir/kube-proxy.kubeconfig" \
  --hostname-override "$PARLEY_NODE_NAME" --cluster-cidr "$PARLEY_NODE_POD_CIDR" --proxy-mode iptables \
  --bind-address "$NODE_IP" --healthz-bind-address "127.0.0.1:$PARLEY_PROXY_HEALTHZ_PORT" \
  --metrics-bind-address "127.0.0.1:$PARLEY_PROXY_METRICS_PORT" --conntrack-max-per-core 0 \
  --nodeport-addresses "$NODE_IP/32" --profiling=false
sed -e "s|@DIR@|$dir|g" -e "s|@PKI@|$pki|g" -e "s|@NODE_IP@|$NODE_IP|g" \
  -e "s|@KUBELET_PORT@|$PARLEY_KUBELET_PORT|g" -e "s|@HEALTHZ_PORT@|$PARLEY_KUBELET_HEALTHZ_PORT|g" \
  -e "s|@CGROUP@|$NODE_CGROUP|g" -e "s|@CLUSTER_DNS@|$CLUSTER_DNS|g" \
  "$KUBE_SCRIPTS_DIR/node/kubelet.yaml.tmpl" >"$dir/kubelet/config.yaml"
start kubelet "$kbin/kubelet" --config "$dir/kubelet/config.yaml" --kubeconfig "$dir/node.kubeconfig" \
  --root-dir "$dir/kubelet" --hostname-override "$PARLEY_NODE_NAME" --node-ip "$NODE_IP" \
  --node-labels "parley.dev/node=local"
wait_for "node $PARLEY_NODE_NAME Ready" kubectl wait --for=condition=Ready "node/$PARLEY_NODE_NAME" --timeout=5s
# NetworkPolicies: kube-router's policy controller alone (iptables + ipset on the bridge's
# traffic, which bridge-nf-call-iptables sends through iptables), with a role that reads only
# what it needs. The bridge plugin enforces nothing by itself. It starts once the Node object
# exists (it looks itself up by name), before any workload.
cert kube-router "/CN=system:parley-netpol" clientAuth
kubeconfig "$dir/kube-router.kubeconfig" kube-router
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: parley-netpol
rules:
  # Its informers also watch Services and endpoints (for the service proxy it does not run here).
  - apiGroups: [""]
    resources: [namespaces, pods, nodes, services, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: parley-netpol
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: parley-netpol
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: system:parley-netpol
YAML
start kube-router "$rbin/kube-router" --kubeconfig "$dir/kube-router.kubeconfig" \
  --hostname-override "$PARLEY_NODE_NAME" --run-firewall=true --run-router=false \
  --run-service-proxy=false --enable-cni=false --enable-ipv6=false \
  --service-cluster-ip-range "$PARLEY_NODE_SERVICE_CIDR" --health-port "$PARLEY_NETPOL_HEALTH_PORT" \
  --metrics-port 0 --iptables-sync-period 30s
wait_for "kube-router (NetworkPolicies)" curl -fsS "http://127.0.0.1:$PARLEY_NETPOL_HEALTH_PORT/healthz"

# ---------------------------------------------------------------- addons ----
rewrites=""
for h in $PARLEY_NODE_INGRESS_HOSTS; do rewrites+="        rewrite name exact $h $INGRESS_SERVICE\\n"; done
sed -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" -e "s|@CLUSTER_DNS@|$CLUSTER_DNS|g" -e "s|^@REWRITES@\$|${rewrites%\\n}|" \
  "$KUBE_SCRIPTS_DIR/node/coredns.yaml.tmpl" | kubectl apply -f - >/dev/null
sed -e "s|@TRAEFIK_IMAGE@|$TRAEFIK_IMAGE|g" -e "s|@NODEPORT@|$PARLEY_NODE_INGRESS_NODEPORT|g" \
  "$KUBE_SCRIPTS_DIR/node/traefik.yaml.tmpl" | kubectl apply -f - >/dev/null
sed -e "s|@LOCAL_PATH_IMAGE@|$LOCAL_PATH_IMAGE|g" -e "s|@HELPER_IMAGE@|$DEBIAN_IMAGE|g" \
  -e "s|@VOLUMES@|$dir/volumes|g" "$KUBE_SCRIPTS_DIR/node/local-path.yaml.tmpl" | kubectl apply -f - >/dev/null
kubectl -n kube-system rollout status deployment/coredns --timeout="${PARLEY_KUBE_START_TIMEOUT}s" >/dev/null ||
  kdie "CoreDNS did not become ready (kubectl -n kube-system describe pod -l k8s-app=kube-dns)"
kubectl -n local-path-storage rollout status deployment/local-path-provisioner --timeout="${PARLEY_KUBE_START_TIMEOUT}s" >/dev/null ||
  kdie "local-path-provisioner did not become ready"
kubectl -n ingress-traefik rollout status deployment/traefik --timeout="${PARLEY_KUBE_START_TIMEOUT}s" >/dev/null ||
  kdie "Traefik did not become ready (kubectl -n ingress-traefik logs deploy/traefik)"

rss=0
for n in etcd kube-apiserver kube-controller-manager; do
  rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$(<"$PARLEY_KUBE_DIR/run/$n.pid")/status")))
done
for n in kube-scheduler containerd kube-proxy kube-router kubelet; do
  rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$(<"$dir/run/$n.pid")/status")))
done
now=$(date +%s)
klog "node $PARLEY_NODE_NAME Ready in $((now - t0)) s (builds $((t_built - t0)) s, images $((t_images - t_built)) s," \
  "start $((now - t_images)) s); node processes RSS $((rss / 1024)) MiB; KUBECONFIG=$KUBECONFIG_ADMIN"
