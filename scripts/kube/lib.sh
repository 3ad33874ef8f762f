# shellcheck shell=bash
# Shared settings for scripts/kube/*.sh (sourced): a real Kubernetes control plane on 127.0.0.1.
#
#   etcd                      :${PARLEY_ETCD_PORT:-2479} (client), peer :$((port+1))
#   kube-apiserver            https://127.0.0.1:${PARLEY_KUBE_PORT:-6443}
#   kube-controller-manager   https://127.0.0.1:${PARLEY_KCM_PORT:-10357} (health only)
#
# State lives in $PARLEY_KUBE_DIR (default <repo>/.stack/kube): certificates, the service-account
# keys, etcd's data, logs, pid files and the admin kubeconfig (admin.kubeconfig). Binaries are
# built into $PARLEY_CACHE_DIR/kube/<version>-<key>/bin by build.sh.
KUBE_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_REPO_ROOT="$(cd "$KUBE_SCRIPTS_DIR/../.." && pwd)"
KUBE_SRC="$KUBE_SCRIPTS_DIR/src"

: "${PARLEY_CACHE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/parley}"
: "${PARLEY_STACK_DIR:=$KUBE_REPO_ROOT/.stack}"
: "${PARLEY_KUBE_DIR:=$PARLEY_STACK_DIR/kube}"
: "${PARLEY_ETCD_PORT:=2479}"
: "${PARLEY_KUBE_PORT:=6443}"
: "${PARLEY_KCM_PORT:=10357}"
: "${PARLEY_KUBE_START_TIMEOUT:=120}"

KUBE_VERSION=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$KUBE_SRC/kubernetes/go.mod")
ETCD_VERSION=$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" {print $3}' "$KUBE_SRC/etcd/go.mod")
# shellcheck disable=SC2034 # used by the scripts that source this file
KUBECONFIG_ADMIN="$PARLEY_KUBE_DIR/admin.kubeconfig"

klog() { printf '[kube] %s\n' "$*"; }
kdie() { printf '[kube] ERROR: %s\n' "$*" >&2; exit 1; }
