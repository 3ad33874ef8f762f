#!/usr/bin/env bash
# Prints a directory holding the Prometheus Operator's real CRDs (monitoring.coreos.com_*.yaml),
# taken from its Go module through the module proxy (no image or chart registry is reachable).
# The chart's ServiceMonitors and PrometheusRule are tested against these schemas.
set -euo pipefail
version=v0.85.0
dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d $dir/example/prometheus-operator-crd ]] || { echo "no CRDs in $dir" >&2; exit 1; }
echo "$dir/example/prometheus-operator-crd"
