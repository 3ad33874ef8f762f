#!/usr/bin/env bash
# Runs one of the one-node cluster's client scripts with the cluster's settings in its
# environment (the node's address, the ingress host and NodePort, the release, kubectl, helm and
# ctr on PATH), after raising the release's rate limits for load (node/values-load.yaml). Needs
# Parley installed by node-install.sh.
#
#   bash scripts/kube/node-client.sh faults [--rate 20] [--phase 20] [--fault gateway,worker,upgrade]
#        gateway and worker pods deleted mid-stream, helm upgrade to a new image tag (node-faults.ts)
#   bash scripts/kube/node-client.sh autoscale [--rate 200] [--users 120] [--max-load 180] [--cooldown 0]
#        the ConsumerAutoscaler scales the workers out on real lag (node-autoscale.ts)
set -euo pipefail
# shellcheck source=scripts/kube/node/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node/lib.sh"
: "${PARLEY_NODE_RELEASE:=parley}"
: "${PARLEY_NODE_NAMESPACE:=parley}"
case ${1:-} in
  faults | autoscale) script=$KUBE_SCRIPTS_DIR/node-$1.ts ;;
  *) kdie "usage: node-client.sh faults|autoscale [args…]" ;;
esac
shift
eval "$(bash "$KUBE_SCRIPTS_DIR/node-env.sh")"
eval "$(bash "$KUBE_REPO_ROOT/scripts/stack/tools.sh" --env)"
export PARLEY_NODE_IP=$NODE_IP PARLEY_NODE_INGRESS_NODEPORT PARLEY_NODE_INGRESS_HOST=${PARLEY_NODE_INGRESS_HOSTS%% *} \
  PARLEY_NODE_RELEASE PARLEY_NODE_NAMESPACE PARLEY_NODE_CHART=$KUBE_REPO_ROOT/charts/parley \
  PARLEY_NODE_CONTAINERD_SOCK=$CONTAINERD_SOCK
# The load runs' limits (node/values-load.yaml) over the installed release; a no-op (nothing
# rolls) when they are in force already.
helm upgrade "$PARLEY_NODE_RELEASE" "$KUBE_REPO_ROOT/charts/parley" -n "$PARLEY_NODE_NAMESPACE" \
  --reuse-values -f "$KUBE_SCRIPTS_DIR/node/values-load.yaml" --wait --timeout 5m >/dev/null
cd "$KUBE_REPO_ROOT"
exec node --import tsx "$script" "$@"
