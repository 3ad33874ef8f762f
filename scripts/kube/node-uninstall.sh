#!/usr/bin/env bash
# Uninstalls Parley from the one-node cluster the way the README says, and checks that nothing is
# left hanging: `helm uninstall` removes the operator and its Topic resources at once, so a Topic
# holding a finalizer only the operator removes would stay Terminating and keep its namespace from
# being deleted (found on this node; fixed by holding the finalizer only for deletionPolicy Delete,
# which the chart's Topics do not use). Then `kubectl delete namespace` must complete.
#
#   bash scripts/kube/node-uninstall.sh
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
: "${PARLEY_NODE_RELEASE:=parley}"
: "${PARLEY_NODE_NAMESPACE:=parley}"
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
eval "$(bash "$KUBE_REPO_ROOT/scripts/stack/tools.sh" --env)"
export KUBECONFIG=$KUBECONFIG_ADMIN
kubectl() { "$kbin/kubectl" "$@"; }
ns=$PARLEY_NODE_NAMESPACE
passed=0 failed=0 # counted by check() (scripts/kube/lib.sh)

topics() { kubectl -n "$ns" get topics.parley.dev -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.finalizers}{"\n"}{end}'; }
echo "Topics before: $(topics | wc -l), with a finalizer: $(topics | awk 'NF > 1' | wc -l)"
check "the chart's Topics hold no finalizer (deletionPolicy Retain)" test "$(topics | awk 'NF > 1' | wc -l)" -eq 0
check "helm uninstall completes" helm uninstall "$PARLEY_NODE_RELEASE" -n "$ns" --wait --timeout 180s
gone() {
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    [[ -z $(topics) ]] && return 0
    sleep 2
  done
  echo "left: $(topics | tr '\n' ' ')" >&2
  return 1
}
check "no Topic resource is left (none stays Terminating)" gone
check "kubectl delete namespace $ns completes" kubectl delete namespace "$ns" --timeout=180s
echo "uninstall: $passed passed, $failed failed"
((failed == 0))
