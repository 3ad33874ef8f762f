# shellcheck shell=bash disable=SC2034,SC2154 # settings and helpers for the scripts that source this file
# Shared settings for scripts/kube/*.sh (sourced): a real Kubernetes control plane on 127.0.0.1.
#
#   etcd                      :${PARLEY_ETCD_PORT:-2479} (client), peer :$((port+1))
#   kube-apiserver            https://${PARLEY_KUBE_BIND_ADDRESS:-127.0.0.1}:${PARLEY_KUBE_PORT:-6443}
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
: "${PARLEY_KUBE_BIND_ADDRESS:=127.0.0.1}"
# The one-node cluster's own binaries (node-build.sh), from the Go module proxy.
: "${PARLEY_CONTAINERD_VERSION:=v2.4.2}"
: "${PARLEY_CRICTL_VERSION:=v1.37.0}"
: "${PARLEY_COREDNS_VERSION:=v1.14.7}"
: "${PARLEY_LOCAL_PATH_VERSION:=v0.0.30}"
# The NetworkPolicy enforcer (netpol-build.sh): kube-router's policy controller alone. v2.1.0 is the
# only version the Go module proxy serves here, and security flaws are reported against it; it runs
# only on the throwaway test node, with its firewall alone (no BGP, no service proxy, no CNI).
: "${PARLEY_KUBE_ROUTER_VERSION:=v2.1.0}"
TRAEFIK_VERSION=$(awk '$1 == "require" && $2 == "github.com/traefik/traefik/v3" {print $3}' "$KUBE_SRC/traefik/go.mod")

# A test step of the node scripts: "ok"/"FAIL" and, on failure, the last lines of its output;
# counts into the caller's $passed and $failed.
check() { # what, command...
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
    printf '%s\n' "$out" | tail -n 5 | sed 's/^/     /'
  fi
}

# ---------------------------------------------------------------- processes ----
# The callers set $dir (state: logs/, run/) and $pki (certificates).
alive() { # pidfile, name
  [[ -s $1 ]] && kill -0 "$(<"$1")" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$(<"$1")/cmdline" 2>/dev/null | grep -q "$2"
}
start() { # name, command, args... (in its own session, logs in $dir/logs/<name>.log)
  local name=$1
  shift
  if alive "$dir/run/$name.pid" "$name"; then return 0; fi
  printf '\n===== %s starting %s\n' "$(date -Is)" "$name" >>"$dir/logs/$name.log"
  setsid nohup "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$dir/run/$name.pid"
}
wait_for() { # what, command...
  local what=$1 deadline=$(($(date +%s) + PARLEY_KUBE_START_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) > deadline)); then
      for l in "$dir"/logs/*.log; do
        printf -- '----- last lines of %s -----\n' "$l" >&2
        tail -n 15 "$l" >&2
      done
      kdie "$what did not become ready within ${PARLEY_KUBE_START_TIMEOUT} s (logs: $dir/logs)"
    fi
    sleep 0.5
  done
}
stop_pid() { # pidfile, name: SIGTERM, then SIGKILL after 20 s
  local pid
  [[ -s $1 ]] || return 0
  pid=$(<"$1")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2"; then
    kill "$pid"
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    klog "stopped $2"
  fi
  rm -f "$1"
}

# ---------------------------------------------------------------------- PKI ----
cert() { # name, subject, ext (clientAuth|serverAuth), [SANs]: signed by $pki/ca, made once
  local name=$1 subj=$2 usage=$3 san=${4:-}
  [[ -s $pki/$name.crt ]] && return 0
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
}
kubeconfig() { # file, user cert name: a kubeconfig for the API server with that certificate
  b64() { base64 -w0 <"$1"; }
  cat >"$1" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: parley-test
    cluster:
      server: https://$PARLEY_KUBE_BIND_ADDRESS:$PARLEY_KUBE_PORT
      certificate-authority-data: $(b64 "$pki/ca.crt")
users:
  - name: $2
    user:
      client-certificate-data: $(b64 "$pki/$2.crt")
      client-key-data: $(b64 "$pki/$2.key")
contexts:
  - name: parley-test
    context: { cluster: parley-test, user: $2 }
current-context: parley-test
YAML
  chmod 600 "$1"
}
