#!/usr/bin/env bash
# The one-node cluster suite (`npm run test:cluster`): the images, a node from nothing, Parley on
# it through the local profile, and a clean teardown. Each step prints its checks; the closing
# line counts the steps. Not part of `npm test`: a cold run builds Kubernetes, containerd, Traefik
# and every image (~45 min on 2 cores); a warm one takes ~5 min.
#
#   npm run test:cluster            # or: bash scripts/kube/test-cluster.sh [--keep]
#   --keep   leave the node running at the end (default: node-down.sh --wipe, then the check
#            that nothing is left)
set -uo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
keep=0
[[ ${1:-} == --keep ]] && keep=1
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
images() { bash "$here/../images/parley.sh" && bash "$here/../images/infra.sh" && bash "$here/../images/smoke.sh"; }
run() {
  step "images: build and check" images &&
    step "node up (from nothing or from the caches)" bash "$here/node-up.sh" &&
    step "node checks" bash "$here/node-smoke.sh" &&
    step "helm install with values-local.yaml, Jobs complete, pods Ready, helm test through the ingress" \
      bash "$here/node-install.sh"
}
run
if ((keep == 0)); then
  step "node down" bash "$here/node-down.sh" --wipe
  step "nothing of the node left" bash "$here/node-smoke.sh" --down
fi
echo
echo "cluster: $passed passed, $failed failed"
((failed == 0))
