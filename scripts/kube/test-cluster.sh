#!/usr/bin/env bash
# The one-node cluster suite (`npm run test:cluster`): the images, a node from nothing, Parley on
# it through the local profile, its NetworkPolicies enforced, the ConsumerAutoscaler on real lag,
# faults (pods deleted mid-stream, a rolling upgrade), helm uninstall, the chart's ZooKeeper mode,
# and a clean teardown. Each step prints its
# checks; the closing line counts the steps. `npm test` runs the --smoke part. A cold run builds
# containerd, CoreDNS, Traefik, kube-router and every image (~21 min on 2 cores, the control
# plane's ~8 more unless built already); a warm one takes about 10 minutes with the load runs.
#
#   npm run test:cluster            # or: bash scripts/kube/test-cluster.sh [--keep] [--smoke]
#   --keep   leave the node running with Parley at the end (default: helm uninstall,
#            node-down.sh --wipe, then the check that nothing is left)
#   --smoke  everything but the load, fault and ZooKeeper-mode runs (what `npm test` runs)
set -uo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
keep=0 smoke=0
for a in "$@"; do
  case $a in
    --keep) keep=1 ;;
    --smoke) smoke=1 ;;
    *) echo "unknown argument $a (--keep, --smoke)" >&2; exit 2 ;;
  esac
done
passed=0 failed=0
step() { # what, command...
  local what=$1 t0=$SECONDS
  shift
  printf '\n== %s\n' "$what"
  if "$@"; then
    passed=$((passed + 1))
    printf '== ok   %s (%d s)\n' "$what" $((SECONDS - t0))
  else
    failed=$((failed + 1))
    printf '== FAIL %s (%d s)\n' "$what" $((SECONDS - t0))
    return 1
  fi
}
images() { bash "$here/node-deps.sh" && bash "$here/../images/parley.sh" && bash "$here/../images/infra.sh" && bash "$here/../images/smoke.sh"; }
run() {
  step "images: build and check" images &&
    step "node up (from nothing or from the caches)" bash "$here/node-up.sh" &&
    step "node checks" bash "$here/node-smoke.sh" &&
    step "helm install with values-local.yaml, Jobs complete, pods Ready, helm test through the ingress" \
      bash "$here/node-install.sh" &&
    step "NetworkPolicies: only the allowed pods reach Kafka, Redis and MongoDB" bash "$here/node-netpol.sh" &&
    if ((smoke == 0)); then
      step "the ConsumerAutoscaler scales the workers out on real lag through the ingress" \
        bash "$here/node-client.sh" autoscale &&
        step "faults: gateway and worker pods deleted mid-stream, helm upgrade to a new image tag" \
          bash "$here/node-client.sh" faults
    fi &&
    if ((keep == 0)); then
      step "helm uninstall: no Topic left Terminating, the namespace deletes" bash "$here/node-uninstall.sh" &&
        if ((smoke == 0)); then
          step "ZooKeeper mode: a 3-member ensemble and Kafka 3.9 brokers built here, helm test through the ingress" \
            bash "$here/node-zookeeper.sh"
        fi
    fi
}
run
if ((keep == 0)); then
  step "node down" bash "$here/node-down.sh" --wipe
  step "nothing of the node left" bash "$here/node-smoke.sh" --down
fi
echo
echo "cluster: $passed passed, $failed failed"
((failed == 0))
