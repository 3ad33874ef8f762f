#!/usr/bin/env bash
# The Helm chart (#6): charts/ is what `npm run chart` generates from cdk8s/ (not stale); helm
# lint, helm template and NOTES.txt pass for every profile plus ZooKeeper mode, existing Secrets and every
# optional feature; each rendering equals the cdk8s app's manifests for the same values; every
# rendered document passes `kubeconform -strict` against offline schemas (Kubernetes 1.27 and
# the CRDs). helm and kubeconform come from scripts/stack/tools.sh (go install, cached).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
started=$(date +%s)
fail() {
  echo "chart check FAILED: $*" >&2
  exit 1
}
eval "$(bash scripts/stack/tools.sh --env)" || fail "could not install helm and kubeconform (scripts/stack/tools.sh)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kube_version=1.27.0

# 1. lint + template per values set.
chart=charts/parley
value_sets=(values.yaml values-kind.yaml values-minikube.yaml values-local.yaml values-production.yaml
  ci/zookeeper-values.yaml ci/existing-secrets-values.yaml ci/all-features-values.yaml ci/tracing-values.yaml)
# NOTES.txt is only rendered by `helm install`; a copy of the chart renders it as a template too.
cp -r "$chart" "$work/notes-chart"
cp "$chart/templates/NOTES.txt" "$work/notes-chart/notes.txt"
# shellcheck disable=SC2016 # a Helm template, not shell
printf '%s\n' '{{- tpl (.Files.Get "notes.txt") . | replace "\n" "\n# " | printf "# %s" }}' >"$work/notes-chart/templates/zz-notes.yaml"
pairs=()
for values in "${value_sets[@]}"; do
  out="$work/rendered-${values//\//-}"
  helm lint "$chart" --strict --kube-version "$kube_version" -f "$chart/$values" >"$work/lint.txt" 2>&1 ||
    { cat "$work/lint.txt" >&2; fail "helm lint with $values"; }
  # --api-versions: render the ServiceMonitors and PrometheusRule as on a cluster with the
  # Prometheus Operator (without it they are skipped; the real-API-server suite covers both).
  helm template parley "$chart" --namespace parley --kube-version "$kube_version" --include-crds \
    --api-versions monitoring.coreos.com/v1 -f "$chart/$values" >"$out" 2>"$work/err.txt" ||
    { cat "$work/err.txt" >&2; fail "helm template with $values"; }
  helm template parley "$work/notes-chart" --kube-version "$kube_version" -f "$chart/$values" \
    --show-only templates/zz-notes.yaml >/dev/null 2>"$work/err.txt" || { cat "$work/err.txt" >&2; fail "NOTES.txt with $values"; }
  pairs+=("$out=$chart/$values")
done

# 2. A bad value fails with a message naming the key.
if helm template parley "$chart" --kube-version "$kube_version" --set kafka.minInsyncReplicas=5 >/dev/null 2>"$work/err.txt" ||
  ! grep -q 'set kafka.minInsyncReplicas and kafka.replicationFactor' "$work/err.txt"; then
  cat "$work/err.txt" >&2
  fail "values validation did not reject kafka.minInsyncReplicas > kafka.replicationFactor"
fi
if helm template parley "$chart" --kube-version "$kube_version" --set kafka.mode=zk >/dev/null 2>"$work/err.txt" ||
  ! grep -q "/kafka/mode" "$work/err.txt"; then
  cat "$work/err.txt" >&2
  fail "values.schema.json did not reject kafka.mode=zk"
fi
if helm template parley "$chart" --kube-version "$kube_version" --set tracing.endpoint=otel-collector:4318 >/dev/null 2>"$work/err.txt" ||
  ! grep -q "/tracing/endpoint" "$work/err.txt"; then
  cat "$work/err.txt" >&2
  fail "values.schema.json did not reject tracing.endpoint=otel-collector:4318 (no http(s) scheme)"
fi

# 3. Not stale, each rendering = the cdk8s app's manifests for the same values, schemas built.
schemas=$(node --import tsx scripts/chart/check.ts "${pairs[@]}") ||
  fail "see above (regenerate with 'npm run chart'; the chart and app must agree)"

# 4. kubeconform -strict, offline, on every rendering and the plain manifests.
location="{{.ResourceKind}}-{{.Group}}-{{.ResourceAPIVersion}}.json"
kubeconform -strict -summary -schema-location "$schemas/$location" -schema-location "$schemas/parley/$location" \
  "$work"/rendered-* charts/manifests/parley.yaml || fail "kubeconform -strict found invalid documents"

echo "chart check passed in $(($(date +%s) - started)) s (${#value_sets[@]} value sets)"
