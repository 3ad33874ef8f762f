#!/usr/bin/env bash
# Parley on a local kind cluster, from nothing: the cluster (scripts/kind/kind-config.yaml),
# ingress-nginx, the images (built and loaded), and `helm install` with values-kind.yaml.
# Idempotent: re-running upgrades the release. Needs docker, kind, kubectl and helm.
#
#   scripts/kind/up.sh [--cluster parley] [--namespace parley]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

cluster=parley
namespace=parley
ingress_nginx=controller-v1.11.2
while [[ $# -gt 0 ]]; do
  case $1 in
    --cluster) cluster=$2; shift 2 ;;
    --namespace) namespace=$2; shift 2 ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --config scripts/kind/kind-config.yaml
fi
kubectl config use-context "kind-$cluster" >/dev/null

echo "ingress-nginx $ingress_nginx"
kubectl apply -f "https://raw.githubusercontent.com/kubernetes/ingress-nginx/$ingress_nginx/deploy/static/provider/kind/deploy.yaml"
kubectl -n ingress-nginx wait --for=condition=ready pod -l app.kubernetes.io/component=controller --timeout=180s

bash scripts/kind/images.sh --cluster "$cluster"

helm upgrade --install parley charts/parley --namespace "$namespace" --create-namespace \
  -f charts/parley/values-kind.yaml
echo "waiting for the release (Kafka, Redis Cluster and MongoDB start first; a few minutes)"
kubectl -n "$namespace" wait --for=condition=complete job -l app.kubernetes.io/instance=parley --timeout=15m
kubectl -n "$namespace" rollout status deployment -l app.kubernetes.io/instance=parley --timeout=10m
helm test parley --namespace "$namespace"
echo "ready: curl http://parley.localhost/v1/openapi.json"
