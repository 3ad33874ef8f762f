#!/usr/bin/env bash
# Parley's NetworkPolicies, enforced on the one-node cluster (kube-router; #20 rung 5): a pod
# outside the allowed set, in Parley's namespace or in another one, cannot open a TCP connection
# to Kafka, Redis or MongoDB, while the message worker, which the policies allow, can, from the
# same node at the same moment (so a refusal is the policy, not a dead server). Needs Parley
# installed by node-install.sh.
#
#   bash scripts/kube/node-netpol.sh
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
# shellcheck source=scripts/images/lib.sh
source "$KUBE_REPO_ROOT/scripts/images/lib.sh"
: "${PARLEY_NODE_RELEASE:=parley}"
: "${PARLEY_NODE_NAMESPACE:=parley}"
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
kubectl() { "$kbin/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ns=$PARLEY_NODE_NAMESPACE
rel=$PARLEY_NODE_RELEASE
other=parley-netpol-outsider
passed=0 failed=0
cleanup() {
  kubectl -n "$ns" delete pod netpol-intruder --wait=false >/dev/null 2>&1 || true
  kubectl delete namespace "$other" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
kubectl wait --for=delete "namespace/$other" --timeout=180s >/dev/null 2>&1 || true
kubectl create namespace "$other" >/dev/null
intruder() { # namespace
  kubectl apply -n "$1" -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: { name: netpol-intruder, labels: { app: netpol-intruder } }
spec:
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: probe
      image: $DEBIAN_IMAGE
      imagePullPolicy: Never
      command: [sleep, "600"]
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
YAML
}
intruder "$ns"
intruder "$other"
kubectl -n "$ns" wait --for=condition=Ready pod/netpol-intruder --timeout=120s >/dev/null
kubectl -n "$other" wait --for=condition=Ready pod/netpol-intruder --timeout=120s >/dev/null

# Targets by pod address (a Service address would test kube-proxy's DNAT as well; both go through
# the policy, the pod address is the narrower claim).
pod_ip() { kubectl -n "$ns" get pod -l "app.kubernetes.io/instance=$rel,app.kubernetes.io/component=$1" \
  -o jsonpath='{.items[0].status.podIP}'; }
declare -A targets=(
  [Kafka]="$(pod_ip kafka):9092"
  [Redis]="$(pod_ip redis):6379"
  [MongoDB]="$(pod_ip mongodb):27017"
)
worker=$(kubectl -n "$ns" get pod -l "app.kubernetes.io/instance=$rel,app.kubernetes.io/component=message-worker" \
  -o jsonpath='{.items[0].metadata.name}')
# The worker image has Node, not bash: a 3-second connect.
worker_reaches() { # ip:port
  kubectl -n "$ns" exec "$worker" -- node -e "
    const [h, p] = process.argv[1].split(':');
    const s = require('node:net').connect(Number(p), h, () => process.exit(0));
    s.on('error', () => process.exit(1));
    setTimeout(() => process.exit(2), 3000);" "$1"
}
intruder_reaches() { # namespace, ip:port
  kubectl -n "$1" exec netpol-intruder -- bash -c "timeout 3 bash -c 'exec 3<>/dev/tcp/${2%:*}/${2#*:}'"
}
intruder_refused() { # namespace, ip:port
  if intruder_reaches "$1" "$2"; then
    echo "connected to $2"
    return 1
  fi
}
for what in Kafka Redis MongoDB; do
  t=${targets[$what]}
  [[ $t == :* ]] && { check "$what has a pod" false; continue; }
  check "the message worker reaches $what ($t)" worker_reaches "$t"
  check "a pod in $ns outside the allowed set cannot reach $what" intruder_refused "$ns" "$t"
  check "a pod in another namespace cannot reach $what" intruder_refused "$other" "$t"
done
echo "network policies: $passed passed, $failed failed"
((failed == 0))
