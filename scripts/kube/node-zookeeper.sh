#!/usr/bin/env bash
# The chart's ZooKeeper mode on the one-node cluster: builds its images (scripts/images/zookeeper.sh)
# and imports them into the node's containerd, installs Parley with kafka.mode=zookeeper (a
# 3-member ensemble, 3 Kafka 3.9 brokers; node/values-zookeeper.yaml over values-local.yaml) in a
# namespace of its own, waits for every Job and pod, runs `helm test` through the ingress, checks
# the ensemble has a leader and every broker registered in ZooKeeper, then uninstalls it. Run it
# with no other release holding the ingress host (test-cluster.sh runs it after node-uninstall.sh).
#
#   bash scripts/kube/node-zookeeper.sh [--keep]
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
keep=0
[[ ${1:-} == --keep ]] && keep=1
ns=parley-zk
release=parley
kbin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
nbin=$(bash "$KUBE_SCRIPTS_DIR/node-build.sh")
eval "$(bash "$KUBE_REPO_ROOT/scripts/stack/tools.sh" --env)"
export KUBECONFIG=$KUBECONFIG_ADMIN
kubectl() { "$kbin/kubectl" "$@"; }
passed=0 failed=0 # counted by check() (scripts/kube/lib.sh)

bash "$KUBE_REPO_ROOT/scripts/images/zookeeper.sh"
# shellcheck source=scripts/images/lib.sh
source "$KUBE_REPO_ROOT/scripts/images/lib.sh"
pom=$KUBE_REPO_ROOT/scripts/images/zookeeper/pom.xml
version() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$pom"; }
images=("localhost/parley-infra/zookeeper:$(version zookeeper.version)" "localhost/parley-infra/kafka:$(version kafka.version)")
imported=$(node_import_images "$nbin" "${images[@]}")
klog "$imported of ${images[*]} imported into containerd"

PARLEY_NODE_NAMESPACE=$ns PARLEY_NODE_RELEASE=$release bash "$KUBE_SCRIPTS_DIR/node-install.sh" \
  -f "$KUBE_SCRIPTS_DIR/node/values-zookeeper.yaml"
passed=$((passed + 1))
echo "ok   helm install in ZooKeeper mode: Jobs complete, pods Ready, helm test through the ingress"

zk() { # member, 4lw command
  kubectl -n "$ns" exec "$release-zookeeper-$1" -- bash -c \
    "exec 3<>/dev/tcp/127.0.0.1/$((2181 + $1)); echo $2 >&3; cat <&3"
}
modes=$(for i in 0 1 2; do zk "$i" srvr | sed -n 's/^Mode: //p'; done | sort | tr '\n' ' ')
check "the ensemble has one leader and two followers ($modes)" test "$modes" = "follower follower leader "
brokers=$(kubectl -n "$ns" exec "$release-zookeeper-0" -- bash -c \
  "java -cp '/apache-zookeeper/lib/*' -Dlog4j2.configurationFile=/apache-zookeeper/log4j2.yaml org.apache.zookeeper.ZooKeeperMain -server 127.0.0.1:2181 ls /brokers/ids 2>/dev/null" |
  grep -E '^\[[0-9, ]*\]$' | tail -1 || true)
check "every Kafka broker registered in ZooKeeper ($brokers)" test "$brokers" = "[0, 1, 2]"
# Every Topic the chart declares becomes Ready: the operator made it in the ZooKeeper-mode Kafka.
topics_ready() {
  local deadline=$((SECONDS + 120)) states
  while ((SECONDS < deadline)); do
    states=$(kubectl -n "$ns" get topics.parley.dev \
      -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
    [[ -n $states && $states != *False* && $states != *Unknown* && $(grep -c True <<<"$states") -eq $(wc -l <<<"$states") ]] && return 0
    sleep 3
  done
  echo "Topic Ready states: $(tr '\n' ' ' <<<"$states")" >&2
  return 1
}
check "the operator's Topics are Ready in the ZooKeeper-mode Kafka" topics_ready

if ((keep == 0)); then
  check "helm uninstall completes" helm uninstall "$release" -n "$ns" --wait --timeout 5m
  check "kubectl delete namespace $ns completes" kubectl delete namespace "$ns" --timeout=180s
fi
echo "zookeeper mode: $passed passed, $failed failed"
((failed == 0))
