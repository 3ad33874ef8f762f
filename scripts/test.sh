#!/usr/bin/env bash
# The one test command (`npm test`): installs what is missing, runs static checks and unit tests,
# brings up the real local stack (Kafka, FerretDB, Redis Cluster), runs the contract and
# integration suites against it, then Parley on a one-node Kubernetes cluster built here, and ends
# with "N passed, N failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

step() { printf '\n=== %s\n' "$*"; }

step "dependencies (npm ci when node_modules is missing or stale)"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules up to date"
fi

# The Kubernetes control plane (scripts/kube) compiles for ~8 minutes on a cold machine, and the
# one-node cluster's own binaries (containerd, CoreDNS, Traefik, kube-router) for ~15 more: start
# that now, beside the static checks and unit tests; a warm cache returns at once.
kube_build_log="$log_dir/kube-build.log"
{ bash scripts/kube/build.sh && bash scripts/kube/node-build.sh && bash scripts/kube/netpol-build.sh; } >"$kube_build_log" 2>&1 &
kube_build=$!

step "static checks: types, lint, format, generated docs"
npx tsc -p .
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
node --import tsx scripts/gen-config-docs.ts --check
node --import tsx scripts/gen-metrics-docs.ts --check
# The SDK as npm users get it: compiled into services/client/dist (the web demo bundles that) and
# packed; services/standalone/src/sdk-package.int.test.ts installs the tarball into a scratch project.
bash scripts/sdk/pack.sh >/dev/null
# Further checks (generated files current, chart lint/validation, …): one script each.
for check in scripts/checks/*.sh; do
  [[ -e $check ]] || continue
  step "check: $check"
  bash "$check"
done

passed=0
failed=0
# Runs a command with its output to $1 and to this terminal, and returns its exit status. Not
# `cmd | tee`: a child the command leaves behind keeps the pipe open and tee waits for it forever
# (a test whose services outlived it once held CI until its 90-minute limit). Such leftovers are
# named and killed here instead.
run_logged() { # log file, command...
  local out=$1
  shift
  : >"$out" # before tail opens it (the command's own redirection may come later)
  "$@" >"$out" 2>&1 &
  local pid=$!
  tail -n +1 -f --pid="$pid" "$out"
  local rc=0
  wait "$pid" || rc=$?
  local fd left=()
  for fd in /proc/[0-9]*/fd/*; do
    [[ $(readlink "$fd" 2>/dev/null) == "$out" ]] && left+=("$(cut -d/ -f3 <<<"$fd")")
  done
  if ((${#left[@]})); then
    mapfile -t left < <(printf '%s\n' "${left[@]}" | sort -u)
    echo "WARNING: processes left running by '$*', killed:"
    ps -o pid=,args= -p "$(IFS=,; echo "${left[*]}")" || true
    kill -9 "${left[@]}" 2>/dev/null || true
  fi
  return "$rc"
}

run_mocha() { # name, mocha args...
  local name=$1
  shift
  local out="$log_dir/$name.log"
  local rc=0
  run_logged "$out" npx mocha "$@" || rc=$?
  local p f
  p=$(grep -Eo '^ +[0-9]+ passing' "$out" | grep -Eo '[0-9]+' | tail -1 || true)
  f=$(grep -Eo '^ +[0-9]+ failing' "$out" | grep -Eo '[0-9]+' | tail -1 || true)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [[ $rc -ne 0 && -z "$f" ]]; then failed=$((failed + 1)); fi # crashed before reporting
}

step "unit tests (no network: scripts/testing/no-network.mjs refuses ports)"
run_mocha unit --require scripts/testing/no-network.mjs 'services/*/src/**/*.test.ts' 'operators/src/**/*.test.ts' 'cdk8s/src/**/*.test.ts' --ignore '**/*.int.test.ts'

step "real local stack"
bash scripts/stack/up.sh
# Debian packages that integration tests drive, installed when missing.
need_deb() { # binary, package, what for
  [[ -x $1 ]] && return 0
  step "installing $2 (Debian) for $3"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "$2" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$2" >/dev/null; }
}
# playwright-core cannot download a browser here.
need_deb /usr/bin/chromium chromium "the web demo's browser end-to-end test"
need_deb /usr/bin/prometheus prometheus "the live monitoring test (services/standalone/src/monitoring/prometheus.int.test.ts)"
eval "$(bash scripts/stack/env.sh)"

step "real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager: scripts/kube)"
wait "$kube_build" || { cat "$kube_build_log"; exit 1; }
cat "$kube_build_log"
bash scripts/kube/up.sh
eval "$(bash scripts/kube/env.sh)"
# helm for the chart's lifecycle tests (cdk8s/src/*.int.test.ts)
eval "$(bash scripts/stack/tools.sh --env)"

step "contract and integration tests against the real stack"
run_mocha integration 'services/*/src/**/*.int.test.ts' 'operators/src/**/*.int.test.ts' 'cdk8s/src/**/*.int.test.ts'

# The one-node cluster (#20): every image built here, a real kubelet with containerd and runc,
# Parley installed with values-local.yaml, every Job complete and pod Ready, helm test through the
# ingress, NetworkPolicies enforced, then torn down leaving nothing behind. Each step counts as a
# test. The fault run is `npm run test:cluster` (README).
step "one-node Kubernetes cluster: scripts/kube/test-cluster.sh --smoke"
# The suite's control plane is done with: stop it, and run the node without its environment.
bash scripts/kube/down.sh
cluster_out="$log_dir/cluster.log"
cluster_rc=0
run_logged "$cluster_out" env -u KUBECONFIG -u PARLEY_KUBE_DIR -u PARLEY_KUBE_BIN \
  bash scripts/kube/test-cluster.sh --smoke || cluster_rc=$?
p=$(grep -Eo '^cluster: [0-9]+ passed' "$cluster_out" | grep -Eo '[0-9]+' | tail -1 || true)
f=$(grep -Eo '^cluster: [0-9]+ passed, [0-9]+ failed' "$cluster_out" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || true)
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [[ $cluster_rc -ne 0 && ${f:-0} -eq 0 ]]; then failed=$((failed + 1)); fi

echo
echo "test run took $(($(date +%s) - started)) s"
echo "tests: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
