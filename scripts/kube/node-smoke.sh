#!/usr/bin/env bash
# Checks the one-node cluster node-up.sh started: the node is Ready; a pod of the Debian base image
# gets a local-path volume, resolves Service names through CoreDNS, reaches the API server through
# the `kubernetes` Service (kube-proxy: a plain request gets the TLS server's "HTTPS server" answer) and is reachable for `kubectl logs` and `exec`; every
# image of the node is known to containerd, and forwarding off the bridge is dropped. Prints one line per check, then a total.
#
#   bash scripts/kube/node-smoke.sh          # a running node
#   bash scripts/kube/node-smoke.sh --down   # after node-down.sh: nothing of the node is left
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
# shellcheck source=scripts/images/lib.sh
source "$KUBE_REPO_ROOT/scripts/images/lib.sh"
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
nbin=$(bash "$KUBE_SCRIPTS_DIR/node-build.sh")
if [[ ${1:-} == --down ]]; then
  left=()
  for f in "$PARLEY_NODE_DIR"/run/*.pid "$PARLEY_KUBE_DIR"/run/*.pid; do
    [[ -s $f ]] && kill -0 "$(<"$f")" 2>/dev/null && left+=("process $(basename "$f" .pid)")
  done
  pgrep -f "containerd-shim-runc-v2 .*$CONTAINERD_SOCK" >/dev/null && left+=("containerd shims")
  grep -q " $PARLEY_NODE_DIR/" /proc/self/mounts && left+=("mounts under $PARLEY_NODE_DIR")
  ip link show "$PARLEY_NODE_BRIDGE" >/dev/null 2>&1 && left+=("bridge $PARLEY_NODE_BRIDGE")
  ip -o link show type veth 2>/dev/null | grep -q "master $PARLEY_NODE_BRIDGE" && left+=("veth interfaces")
  iptables-save 2>/dev/null | grep -q -e KUBE- -e PARLEY-NODE && left+=("iptables chains")
  ip6tables-save 2>/dev/null | grep -q KUBE- && left+=("ip6tables chains")
  command -v ipset >/dev/null && ipset list -n 2>/dev/null | grep -qE '^(KUBE-|kube-router-)' && left+=("ipsets")
  while read -r cg; do [[ -d $cg ]] && left+=("cgroup $cg"); done < <(cgroup_dirs)
  if ((${#left[@]})); then
    printf 'left behind: %s\n' "${left[@]}"
    echo "node down: 0 passed, 1 failed"
    exit 1
  fi
  echo "node down: 1 passed, 0 failed (no processes, mounts, interfaces, iptables chains, ipsets or cgroups left)"
  exit 0
fi
kubectl() { "$kbin/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ns=parley-node-smoke
passed=0 failed=0
trap 'kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT

check "node $PARLEY_NODE_NAME is Ready" kubectl wait --for=condition=Ready "node/$PARLEY_NODE_NAME" --timeout=10s
# A previous run's namespace may still be terminating.
kubectl wait --for=delete "namespace/$ns" --timeout=180s >/dev/null 2>&1 || true
kubectl create namespace "$ns" >/dev/null
kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 16Mi } } }
---
apiVersion: v1
kind: Pod
metadata: { name: probe }
spec:
  securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: probe
      image: $DEBIAN_IMAGE
      imagePullPolicy: Never
      command: [sleep, "600"]
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
      volumeMounts: [{ name: data, mountPath: /data }]
  volumes: [{ name: data, persistentVolumeClaim: { claimName: data } }]
YAML
check "a pod with a local-path volume becomes Ready" kubectl -n "$ns" wait --for=condition=Ready pod/probe --timeout=120s
in_pod() { kubectl -n "$ns" exec probe -- bash -c "$1"; }
# shellcheck disable=SC2016 # expanded in the pod
check "the volume is writable by the pod's user" in_pod 'echo ok >/data/f && [[ $(cat /data/f) == ok ]]'
check "CoreDNS resolves kubernetes.default" in_pod 'getent hosts kubernetes.default.svc.cluster.local'
check "CoreDNS resolves kube-dns.kube-system" in_pod "getent hosts kube-dns.kube-system | grep -q $CLUSTER_DNS"
check "the API server answers through the kubernetes Service" in_pod \
  'exec 3<>/dev/tcp/kubernetes.default/443 && printf "GET /livez HTTP/1.0\r\n\r\n" >&3 && timeout 5 cat <&3 | grep -q "HTTPS server"'
# Checked by rule, not by sending: no test traffic goes to any address off this machine.
check "forwarding from the bridge to other interfaces is dropped" bash -c \
  "iptables -C FORWARD -j PARLEY-NODE && iptables -S PARLEY-NODE | grep -q -- '-i $PARLEY_NODE_BRIDGE ! -o $PARLEY_NODE_BRIDGE -j DROP'"
check "kubectl logs reaches the kubelet" kubectl -n "$ns" logs probe --limit-bytes=1
# The ingress: a Node echo server (HTTP, and a raw WebSocket-style upgrade) behind an Ingress of
# class traefik, reached from the probe pod by the ingress host name (CoreDNS → Traefik's Service).
host=${PARLEY_NODE_INGRESS_HOSTS%% *}
kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata: { name: echo }
data:
  echo.js: |
    const http = require('node:http');
    const server = http.createServer((req, res) => res.end('echo ' + req.headers.host + ' ' + req.url));
    server.on('upgrade', (req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n');
      socket.on('data', (d) => socket.write('pong:' + d));
    });
    server.listen(8080);
---
apiVersion: v1
kind: Pod
metadata: { name: echo, labels: { app: echo } }
spec:
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: echo
      image: $NODE_IMAGE
      imagePullPolicy: Never
      command: [node, /app/echo.js]
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
      readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
      volumeMounts: [{ name: app, mountPath: /app }]
  volumes: [{ name: app, configMap: { name: echo } }]
---
apiVersion: v1
kind: Service
metadata: { name: echo }
spec: { selector: { app: echo }, ports: [{ port: 80, targetPort: 8080 }] }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: echo }
spec:
  ingressClassName: traefik
  rules:
    - host: $host
      http: { paths: [{ path: /smoke, pathType: Prefix, backend: { service: { name: echo, port: { number: 80 } } } }] }
YAML
check "the echo backend becomes Ready" kubectl -n "$ns" wait --for=condition=Ready pod/echo --timeout=60s
ingress_get() {
  local out
  for _ in $(seq 1 20); do
    # shellcheck disable=SC2016 # expanded in the pod
    out=$(in_pod 'exec 3<>/dev/tcp/'"$host"'/80 && printf "GET /smoke/x HTTP/1.1\r\nHost: '"$host"'\r\nConnection: close\r\n\r\n" >&3 && timeout 5 cat <&3' 2>&1) &&
      grep -q "echo $host /smoke/x" <<<"$out" && return 0
    sleep 1
  done
  printf '%s\n' "$out"
  return 1
}
check "HTTP through the ingress ($host → Traefik → echo)" ingress_get
ingress_upgrade() {
  # shellcheck disable=SC2016 # expanded in the pod
  in_pod 'exec 3<>/dev/tcp/'"$host"'/80 && printf "GET /smoke/ws HTTP/1.1\r\nHost: '"$host"'\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" >&3 && sleep 1 && printf ping >&3 && { timeout 3 cat <&3 || true; }' |
    tr -d '\r' | grep -c -e '^HTTP/1.1 101' -e 'pong:ping' | grep -qx 2
}
check "a connection upgrade passes the ingress both ways" ingress_upgrade
nodeport() { curl -fsS -H "Host: $host" "http://$NODE_IP:$PARLEY_NODE_INGRESS_NODEPORT/smoke/n" | grep -q "echo $host /smoke/n"; }
check "the ingress answers on the node's address (NodePort $PARLEY_NODE_INGRESS_NODEPORT)" nodeport
# NetworkPolicies are enforced (kube-router): the probe reaches echo directly; once a policy
# admits only pods labelled role=client, it cannot; labelled, it can again.
echo_ip=$(kubectl -n "$ns" get pod echo -o jsonpath='{.status.podIP}')
reach_echo() { in_pod "timeout 3 bash -c 'exec 3<>/dev/tcp/$echo_ip/8080'"; }
check "without a policy, the probe reaches the echo pod" reach_echo
kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: echo-from-clients }
spec:
  podSelector: { matchLabels: { app: echo } }
  policyTypes: [Ingress]
  ingress: [{ from: [{ podSelector: { matchLabels: { role: client } } }] }]
YAML
refused() {
  for _ in $(seq 1 30); do
    reach_echo >/dev/null 2>&1 || return 0
    sleep 1
  done
  echo "still reachable 30 s after the policy"
  return 1
}
check "a NetworkPolicy cuts the probe off (kube-router enforces it)" refused
kubectl -n "$ns" label pod probe role=client >/dev/null
admitted() {
  for _ in $(seq 1 30); do
    reach_echo >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "not reachable 30 s after the label"
  return 1
}
check "labelled as the policy allows, the probe reaches it again" admitted
kubectl -n "$ns" delete networkpolicy echo-from-clients >/dev/null
images() {
  local have
  have=$("$nbin/ctr" --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null)
  for ref in $PAUSE_IMAGE $COREDNS_IMAGE $LOCAL_PATH_IMAGE $TRAEFIK_IMAGE $DEBIAN_IMAGE $NODE_IMAGE; do
    grep -qx "$ref" <<<"$have" || { echo "missing in containerd: $ref"; return 1; }
  done
}
check "the node's images are in containerd" images
echo "node: $passed passed, $failed failed"
((failed == 0))
