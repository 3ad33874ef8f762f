#!/usr/bin/env bash
# Installs (or upgrades) Parley on the one-node cluster of node-up.sh with the chart's local
# profile (charts/parley/values-local.yaml: images built here, Traefik ingress, 3 Kafka brokers,
# Redis Cluster 3+3, the FerretDB stand-in), waits until every Job completed and every pod is
# Ready, then runs `helm test`. Exits non-zero naming what did not get there, with its last logs.
#
#   bash scripts/kube/node-install.sh [--no-test] [helm args…]
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
: "${PARLEY_NODE_RELEASE:=parley}"
: "${PARLEY_NODE_NAMESPACE:=parley}"
: "${PARLEY_NODE_INSTALL_TIMEOUT:=600}"
run_test=1
if [[ ${1:-} == --no-test ]]; then
  run_test=0
  shift
fi
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
eval "$(bash "$KUBE_REPO_ROOT/scripts/stack/tools.sh" --env)"
export KUBECONFIG=$KUBECONFIG_ADMIN
kubectl() { "$kbin/kubectl" "$@"; }
ns=$PARLEY_NODE_NAMESPACE
chart=$KUBE_REPO_ROOT/charts/parley

started=$(date +%s)
helm upgrade --install "$PARLEY_NODE_RELEASE" "$chart" -n "$ns" --create-namespace \
  -f "$chart/values-local.yaml" "$@" >/dev/null
klog "helm upgrade --install $PARLEY_NODE_RELEASE (namespace $ns) done; waiting for Jobs and pods"

# Jobs complete and pods Ready; failing pods are named with their reason and last log lines.
pending() {
  kubectl -n "$ns" get jobs -o jsonpath='{range .items[?(@.status.succeeded!=1)]}job/{.metadata.name}{"\n"}{end}'
  # Failed pods: a Job retrying (its Job is listed above) or an earlier helm test (replaced next run).
  kubectl -n "$ns" get pods --field-selector=status.phase!=Succeeded,status.phase!=Failed \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    awk '$2 != "True" {print "pod/" $1}'
}
deadline=$((started + PARLEY_NODE_INSTALL_TIMEOUT))
while :; do
  left=$(pending)
  [[ -z $left ]] && break
  if (($(date +%s) > deadline)); then
    kubectl -n "$ns" get pods -o wide >&2
    for what in $left; do
      printf -- '----- %s: last log lines -----\n' "$what" >&2
      kubectl -n "$ns" logs "$what" --all-containers --tail=5 >&2 2>&1 || true
    done
    kdie "not ready within ${PARLEY_NODE_INSTALL_TIMEOUT} s: $(tr '\n' ' ' <<<"$left")"
  fi
  sleep 3
done
klog "every Job completed and every pod Ready in $(($(date +%s) - started)) s"
if ((run_test)); then
  # Not --logs: helm would also ask logs of the test's ConfigMap hook, and fail.
  if ! helm test "$PARLEY_NODE_RELEASE" -n "$ns" --timeout 5m >"$PARLEY_NODE_DIR/logs/helm-test.out" 2>&1; then
    cat "$PARLEY_NODE_DIR/logs/helm-test.out" >&2
    kubectl -n "$ns" logs "job/$PARLEY_NODE_RELEASE-test" --tail=30 >&2 || true
    kdie "helm test failed"
  fi
  kubectl -n "$ns" logs "job/$PARLEY_NODE_RELEASE-test" --tail=20
  klog "helm test passed"
fi
