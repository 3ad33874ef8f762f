#!/usr/bin/env bash
# Monitoring (#6): the alerting rules load and their promtool tests pass (each alert quiet before
# and firing after its `for:`), every alert has severity, summary, description and a runbook_url
# whose anchor is a section of monitoring/RUNBOOKS.md, the dashboards are current and valid
# JSON, and every metric a rule or dashboard queries exists
# (Parley's in the code, exporters' in monitoring/exporter-metrics.yaml). promtool comes from
# Debian's prometheus package, installed when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
started=$(date +%s)
fail() {
  echo "monitoring check FAILED: $*" >&2
  exit 1
}
if ! command -v promtool >/dev/null; then
  echo "installing promtool (apt-get install prometheus)"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends prometheus >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update >/dev/null && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends prometheus >/dev/null; } ||
    fail "promtool is missing and 'apt-get install prometheus' failed"
fi
rules=monitoring/prometheus/rules.yaml
promtool check rules "$rules" || fail "promtool check rules $rules"
(cd monitoring/prometheus && promtool test rules rules.test.yaml) || fail "promtool test rules (monitoring/prometheus/rules.test.yaml)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node --import tsx scripts/chart/dashboards.ts "$work" || fail "could not generate the dashboards"
diff -r "$work" monitoring/dashboards || fail "monitoring/dashboards is stale: run 'npm run chart'"
node --import tsx scripts/chart/metrics-check.ts || fail "alerts or dashboards incomplete, or naming metrics that do not exist"
echo "monitoring check passed in $(($(date +%s) - started)) s"
