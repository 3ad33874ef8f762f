#!/usr/bin/env bash
# Starts a real Kubernetes control plane on 127.0.0.1 (idempotent): etcd, kube-apiserver and
# kube-controller-manager at the release pinned in scripts/kube/src, built by build.sh. No
# kubelet or scheduler: objects are admitted, stored and reconciled by the controllers (ReplicaSets,
# garbage collection, namespaces), and pods stay Pending.
#
#   bash scripts/kube/up.sh        # prints nothing else than progress; then:
#   eval "$(bash scripts/kube/env.sh)"   # KUBECONFIG (admin), PARLEY_KUBE_BIN on PATH
#   bash scripts/kube/down.sh
#
# The API server runs with --authorization-mode=Node,RBAC and the default admission plugins
# (PodSecurity, ServiceAccount, NamespaceLifecycle, …). Certificates (a self-signed CA, the
# serving certificate, an admin client certificate in system:masters, the controller-manager's
# client certificate) and the service-account key pair are made once per state directory.
set -euo pipefail
# shellcheck source=scripts/kube/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=$(bash "$KUBE_SCRIPTS_DIR/build.sh")
dir=$PARLEY_KUBE_DIR
pki=$dir/pki
mkdir -p "$dir/logs" "$dir/run" "$pki"
exec 9>"$dir/run/up.lock"
flock 9

# ----------------------------------------------------------------- PKI ----
if [[ ! -s $pki/ca.crt ]]; then
  klog "making certificates and the service-account key pair in $pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=parley-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
fi
cert apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:$PARLEY_KUBE_BIND_ADDRESS,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=parley-admin" clientAuth
cert controller-manager "/CN=system:kube-controller-manager" clientAuth
# The API server's identity towards kubelets (logs, exec, port-forward).
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth

kubeconfig "$KUBECONFIG_ADMIN" admin
kubeconfig "$dir/controller-manager.kubeconfig" controller-manager

# -------------------------------------------------------------- servers ----
started=$(date +%s)
start etcd "$bin/etcd" --name parley-test --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$PARLEY_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$PARLEY_ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((PARLEY_ETCD_PORT + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((PARLEY_ETCD_PORT + 1))" \
  --initial-cluster "parley-test=http://127.0.0.1:$((PARLEY_ETCD_PORT + 1))" \
  --quota-backend-bytes 2147483648 --log-level warn
wait_for etcd curl -fsS "http://127.0.0.1:$PARLEY_ETCD_PORT/health"

# On loopback (the test suite's control plane), --endpoint-reconciler-type none: the API server
# refuses a loopback advertise address otherwise. On the node's bridge address (node-up.sh), the
# `kubernetes` Service gets that endpoint, so pods reach the API server.
reconciler=()
[[ $PARLEY_KUBE_BIND_ADDRESS == 127.* ]] && reconciler=(--endpoint-reconciler-type none)
start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$PARLEY_ETCD_PORT" \
  --bind-address "$PARLEY_KUBE_BIND_ADDRESS" --advertise-address "$PARLEY_KUBE_BIND_ADDRESS" \
  --secure-port "$PARLEY_KUBE_PORT" "${reconciler[@]}" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" --kubelet-preferred-address-types InternalIP,Hostname \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.96.0.0/16 \
  --authorization-mode Node,RBAC \
  --allow-privileged=false --profiling=false
wait_for kube-apiserver curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
  "https://$PARLEY_KUBE_BIND_ADDRESS:$PARLEY_KUBE_PORT/readyz"

start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$dir/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$PARLEY_KCM_PORT" \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --use-service-account-credentials --leader-elect=false \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --profiling=false
wait_for kube-controller-manager curl -fsSk "https://127.0.0.1:$PARLEY_KCM_PORT/healthz"
# The namespace "default" and its ServiceAccount exist once the controllers run.
wait_for "the default ServiceAccount" "$bin/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" get serviceaccount default -n default

rss=0
for n in etcd kube-apiserver kube-controller-manager; do
  rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$(<"$dir/run/$n.pid")/status")))
done
klog "control plane $KUBE_VERSION up in $(($(date +%s) - started)) s (RSS $((rss / 1024)) MiB): KUBECONFIG=$KUBECONFIG_ADMIN"
