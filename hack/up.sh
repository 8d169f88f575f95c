#!/usr/bin/env bash
# Starts a local Kubernetes control plane for Cairn: etcd, kube-apiserver and
# kube-controller-manager (v1.20.2, from hack/build-kube.sh), all on
# 127.0.0.1, all state under ${CAIRN_STATE_DIR:-<repo>/.cairn}. There is no
# node: Pods stay Pending, which is all an operator's tests need.
#
# Idempotent: when the recorded daemons are alive and healthy it only prints
# the kubeconfig. Stop and delete everything with hack/down.sh (make down).
# Environment: see hack/lib.sh.
set -euo pipefail
CAIRN_LOG_PREFIX=up
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/real-node.sh
. "$CAIRN_HACK_DIR/real-node.sh"
REAL_NODE=${CAIRN_REAL_NODE:-0}

SERVICE_CIDR=10.96.0.0/16 # a /16: a /24 runs out after 254 Services
SERVICE_IP=10.96.0.1      # first address: the `kubernetes` Service
SA_ISSUER=https://kubernetes.default.svc.cluster.local

print_access() {
  log "kubeconfig: $CAIRN_KUBECONFIG (context \"cairn\"); kubectl v1.20.2: $CAIRN_KUBECTL"
  echo "export KUBECONFIG=$CAIRN_KUBECONFIG" 2>/dev/null || true
}

# ---------------------------------------------------------------- preflight
validate_ports
need_tool() { # tool debian-package
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' is missing: install Debian's '$2' package (make deps, i.e. hack/install-deps.sh)"
}
need_tool etcd etcd-server
need_tool jq jq
need_tool openssl openssl
need_tool curl curl
need_tool ss iproute2
need_tool pgrep procps
need_tool setsid util-linux
need_tool flock util-linux
need_tool base64 coreutils

if [ -d "$CAIRN_STATE" ] && [ ! -e "$CAIRN_MARKER" ] && [ -n "$(ls -A "$CAIRN_STATE")" ]; then
  die "$CAIRN_STATE exists, is not empty and was not created by hack/up.sh; set CAIRN_STATE_DIR to another directory"
fi
mkdir -p "$CAIRN_STATE"
touch "$CAIRN_MARKER"
# Keep the state out of git without touching the repository's .gitignore.
[ -e "$CAIRN_STATE/.gitignore" ] || echo '*' >"$CAIRN_STATE/.gitignore"
lock_state

# ------------------------------------------------------------ node simulator
# ensure_node_sim: when CAIRN_NODE_SIM names the binary, keep one simulator
# running against this control plane and wait until its nodes are Ready.
SIM_NODES=${CAIRN_SIM_NODES:-2}
nodes_ready() {
  local body n
  body=$(apiserver_get /api/v1/nodes) || return 1
  n=$(jq '[.items[] | select(.metadata.name | startswith("sim-node-"))
           | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length' \
    <<<"$body" 2>/dev/null) || return 1
  [ "${n:-0}" -ge "$SIM_NODES" ]
}
ensure_node_sim() {
  [ -n "${CAIRN_NODE_SIM:-}" ] || return 0
  [ -x "$CAIRN_NODE_SIM" ] || die "CAIRN_NODE_SIM=$CAIRN_NODE_SIM is not an executable; build it first (make build)"
  if daemon_running cairn-node-sim; then
    log "node simulator already running (pid $(recorded_pid cairn-node-sim))"
    return 0
  fi
  rm -f "$CAIRN_PIDS/cairn-node-sim.pid"
  mkdir -p "$CAIRN_STATE/node-sim" "$CAIRN_PIDS" "$CAIRN_LOGS"
  log "starting the node simulator ($SIM_NODES nodes; development only: Job commands run as local processes, no isolation)"
  start cairn-node-sim "$CAIRN_NODE_SIM" --kubeconfig "$CAIRN_KUBECONFIG" --nodes "$SIM_NODES" \
    --workdir "$CAIRN_STATE/node-sim"
  wait_for cairn-node-sim 30 "nodes sim-node-* did not become Ready" nodes_ready
}

# ------------------------------------------------------------ already up?
all_running=1
any_recorded=0
real_node_daemons=()
if [ "$REAL_NODE" = 1 ]; then
  real_node_daemons=(kube-scheduler)
  for ((i = 1; i <= REAL_NODES; i++)); do real_node_daemons+=("containerd-$i" "kubelet-$i"); done
fi
for d in "${CAIRN_CP_DAEMONS[@]}" "${real_node_daemons[@]}"; do
  daemon_running "$d" || all_running=0
  [ -f "$CAIRN_PIDS/$d.pid" ] && any_recorded=1
done
if [ $all_running = 1 ] && [ -s "$CAIRN_KUBECONFIG" ] && apiserver_ready && kcm_healthy; then
  log "already up (state $CAIRN_STATE, apiserver https://127.0.0.1:$CAIRN_APISERVER_PORT)"
  ensure_node_sim
  print_access
  exit 0
fi
if [ $any_recorded = 1 ]; then
  # Some daemon died or is unhealthy: stop the survivors we started, keep
  # PKI and etcd data, and start all three again.
  log "found a stopped or unhealthy control plane in $CAIRN_STATE; restarting it"
  real_node_stop
  for ((i = ${#CAIRN_DAEMONS[@]} - 1; i >= 0; i--)); do
    stop_daemon "${CAIRN_DAEMONS[i]}"
  done
fi

# ------------------------------------------------------------------- ports
check_ports() {
  local var port who pid cmd
  while read -r var port; do
    who=$(port_listeners "$port")
    [ -z "$who" ] && continue
    pid=$(grep -o 'pid=[0-9]*' <<<"$who" | head -1 | cut -d= -f2)
    cmd=""
    [ -n "$pid" ] && cmd=" by pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100))"
    die "port $port on 127.0.0.1 is already in use${cmd}; stop that process or choose another port, e.g. $var=$((port + 1)) make up"
  done < <(cairn_ports)
}
check_ports
orphans=$(unrecorded_daemons)
[ -z "$orphans" ] || die "daemons of $CAIRN_STATE are running without pid files (pid name: $(tr '\n' ' ' <<<"$orphans")); stop them by pid, then run make up again"

# ---------------------------------------------------------------- binaries
BIN_DIR=$("$CAIRN_HACK_DIR/build-kube.sh") ||
  die "could not obtain kube-apiserver/kube-controller-manager/kubectl (hack/build-kube.sh failed, see above)"
BIN_DIR=$(realpath -- "$BIN_DIR")
for b in kube-apiserver kube-controller-manager kubectl; do
  [ -x "$BIN_DIR/$b" ] || die "hack/build-kube.sh returned $BIN_DIR, which has no executable $b"
done
check_ports # the first build takes minutes; check again right before binding

START=$SECONDS
mkdir -p "$CAIRN_PKI" "$CAIRN_ETCD_DATA" "$CAIRN_LOGS" "$CAIRN_PIDS" "$CAIRN_STATE/bin"
chmod 700 "$CAIRN_PKI" "$CAIRN_ETCD_DATA"
ln -sfn "$BIN_DIR/kubectl" "$CAIRN_KUBECTL"

# --------------------------------------------------------------------- PKI
# EC P-256 keys for TLS and client certificates; RSA 2048 for the
# service-account token signing key (RS256 is what every JWT consumer takes).
# Everything is reused when present, valid for another day, signed by the
# current CA and issued for the same subject/SANs (recorded in *.spec).
umask 077
new_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca_fresh=0
if ! { [ -s "$CAIRN_PKI/ca.key" ] && [ -s "$CAIRN_PKI/ca.crt" ] &&
  openssl x509 -in "$CAIRN_PKI/ca.crt" -noout -checkend 86400 >/dev/null 2>&1; }; then
  log "creating a CA in $CAIRN_PKI"
  new_ec_key "$CAIRN_PKI/ca.key"
  openssl req -x509 -new -sha256 -days 3650 -key "$CAIRN_PKI/ca.key" -subj "/CN=cairn-ca" \
    -extensions v3_ca -out "$CAIRN_PKI/ca.crt" 2>/dev/null -config <(
      cat <<'EOF'
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
    ) || die "openssl could not create the CA"
  ca_fresh=1
fi

# issue NAME SUBJECT EXT_KEY_USAGE [SAN]
issue() {
  local name=$1 subj=$2 eku=$3 san=${4:-}
  local crt=$CAIRN_PKI/$name.crt key=$CAIRN_PKI/$name.key spec="$subj|$eku|$san"
  if [ $ca_fresh = 0 ] && [ -s "$crt" ] && [ -s "$key" ] &&
    [ "$(cat "$CAIRN_PKI/$name.spec" 2>/dev/null)" = "$spec" ] &&
    openssl verify -CAfile "$CAIRN_PKI/ca.crt" "$crt" >/dev/null 2>&1 &&
    openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1; then
    return 0
  fi
  log "issuing $name certificate ($subj)"
  new_ec_key "$key"
  openssl req -new -sha256 -key "$key" -subj "$subj" -out "$CAIRN_PKI/$name.csr" 2>/dev/null
  openssl x509 -req -sha256 -days 825 -in "$CAIRN_PKI/$name.csr" \
    -CA "$CAIRN_PKI/ca.crt" -CAkey "$CAIRN_PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -extensions v3 -out "$crt" 2>/dev/null -extfile <(
      echo "[v3]"
      echo "basicConstraints = critical,CA:FALSE"
      echo "keyUsage = critical,digitalSignature"
      echo "extendedKeyUsage = $eku"
      echo "subjectKeyIdentifier = hash"
      echo "authorityKeyIdentifier = keyid"
      [ -z "$san" ] || echo "subjectAltName = $san"
    ) || die "openssl could not issue the $name certificate"
  rm -f "$CAIRN_PKI/$name.csr"
  echo "$spec" >"$CAIRN_PKI/$name.spec"
}
issue apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue admin "/O=system:masters/CN=cairn-admin" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth

if ! { [ -s "$CAIRN_PKI/sa.key" ] && [ -s "$CAIRN_PKI/sa.pub" ]; }; then
  log "creating the service-account signing key"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$CAIRN_PKI/sa.key" 2>/dev/null
  openssl pkey -in "$CAIRN_PKI/sa.key" -pubout -out "$CAIRN_PKI/sa.pub" 2>/dev/null
fi

# -------------------------------------------------------------- kubeconfigs
b64() { base64 -w0 <"$1"; }
# write_kubeconfig FILE USER CERT_NAME: credentials embedded, so the file
# stands alone (copy it anywhere).
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cairn
  cluster:
    server: https://127.0.0.1:$CAIRN_APISERVER_PORT
    certificate-authority-data: $(b64 "$CAIRN_PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$CAIRN_PKI/$3.crt")
    client-key-data: $(b64 "$CAIRN_PKI/$3.key")
contexts:
- name: cairn
  context:
    cluster: cairn
    user: $2
current-context: cairn
preferences: {}
EOF
}
write_kubeconfig "$CAIRN_KUBECONFIG" cairn-admin admin
write_kubeconfig "$CAIRN_STATE/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
umask 022

# ----------------------------------------------------------------- daemons
on_exit() {
  local rc=$? i
  [ $rc = 0 ] && return 0
  if [ ${#STARTED[@]} -gt 0 ]; then
    log "start-up failed or was interrupted; stopping what this run started (logs stay in $CAIRN_LOGS)"
    [ "$REAL_NODE" = 1 ] && real_node_stop
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
      stop_daemon "${STARTED[i]}" || true
    done
  fi
  exit $rc
}
trap on_exit EXIT
# Interrupted (Ctrl-C, kill): go through on_exit too, so no half-started
# control plane is left behind.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# etcd: plain http on loopback. Acceptable for a single-user development
# control plane; nothing but 127.0.0.1 can reach it. Small footprint: one
# member, 2 GiB backend quota, snapshot every 10000 writes.
ETCD_URL=http://127.0.0.1:$CAIRN_ETCD_PORT
ETCD_PEER_URL=http://127.0.0.1:$CAIRN_ETCD_PEER_PORT
log "starting etcd on $ETCD_URL"
start etcd "$(command -v etcd)" \
  --name=cairn \
  --data-dir="$CAIRN_ETCD_DATA" \
  --listen-client-urls="$ETCD_URL" \
  --advertise-client-urls="$ETCD_URL" \
  --listen-peer-urls="$ETCD_PEER_URL" \
  --initial-advertise-peer-urls="$ETCD_PEER_URL" \
  --initial-cluster="cairn=$ETCD_PEER_URL" \
  --initial-cluster-state=new \
  --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
  --snapshot-count=10000 \
  --logger=zap --log-outputs=stderr
etcd_healthy() { [[ $(curl -fsS --max-time 2 "$ETCD_URL/health" 2>/dev/null) == *'"health":"true"'* ]]; }
wait_for etcd 30 "no healthy answer on $ETCD_URL/health" etcd_healthy

# --endpoint-reconciler-type=none: the `kubernetes` Service keeps its
# ClusterIP but gets no Endpoints, because Endpoints may not hold a loopback
# address (the default reconciler would log that error every 10 s).
log "starting kube-apiserver on https://127.0.0.1:$CAIRN_APISERVER_PORT"
start kube-apiserver "$BIN_DIR/kube-apiserver" \
  --etcd-servers="$ETCD_URL" \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --secure-port="$CAIRN_APISERVER_PORT" \
  --tls-cert-file="$CAIRN_PKI/apiserver.crt" \
  --tls-private-key-file="$CAIRN_PKI/apiserver.key" \
  --tls-min-version=VersionTLS12 \
  --client-ca-file="$CAIRN_PKI/ca.crt" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
  --service-account-issuer="$SA_ISSUER" \
  --api-audiences="$SA_ISSUER" \
  --service-account-key-file="$CAIRN_PKI/sa.pub" \
  --service-account-signing-key-file="$CAIRN_PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --allow-privileged=true \
  --enable-priority-and-fairness=false \
  --endpoint-reconciler-type=none \
  --enable-aggregator-routing="$([ "$REAL_NODE" = 1 ] && echo true || echo false)" \
  --kubelet-client-certificate="$CAIRN_PKI/admin.crt" \
  --kubelet-client-key="$CAIRN_PKI/admin.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --profiling=false
wait_for kube-apiserver 60 "no ok from https://127.0.0.1:$CAIRN_APISERVER_PORT/readyz" apiserver_ready

# No --authentication/--authorization-kubeconfig: the secure port then only
# serves the always-allowed /healthz (anonymously), which is all we need, and
# the controller-manager does not look for a front-proxy CA that this
# apiserver does not have (that lookup fails and logs errors forever).
log "starting kube-controller-manager (health on https://127.0.0.1:$CAIRN_KCM_PORT)"
start kube-controller-manager "$BIN_DIR/kube-controller-manager" \
  --kubeconfig="$CAIRN_STATE/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="$CAIRN_KCM_PORT" \
  --port=0 \
  --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$CAIRN_PKI/sa.key" \
  --root-ca-file="$CAIRN_PKI/ca.crt" \
  --cluster-signing-cert-file="$CAIRN_PKI/ca.crt" \
  --cluster-signing-key-file="$CAIRN_PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --allocate-node-cidrs=false \
  --controllers='*' \
  --node-monitor-grace-period=40s \
  --concurrent-deployment-syncs=2 \
  --concurrent-replicaset-syncs=2 \
  --concurrent-endpoint-syncs=2 \
  --concurrent-service-endpoint-syncs=2 \
  --concurrent-namespace-syncs=2 \
  --concurrent-serviceaccount-token-syncs=2 \
  --concurrent-gc-syncs=5 \
  --profiling=false
wait_for kube-controller-manager 30 "no ok from https://127.0.0.1:$CAIRN_KCM_PORT/healthz" kcm_healthy

# The apiserver creates the `default` namespace; the controller-manager then
# creates its `default` ServiceAccount and token, without which Pods are
# rejected by the ServiceAccount admission plugin.
ns_default() { apiserver_get /api/v1/namespaces/default >/dev/null; }
sa_default_token() {
  [[ $(apiserver_get /api/v1/namespaces/default/serviceaccounts/default) == *'"secrets":[{'* ]]
}
wait_for kube-apiserver 30 "namespace default was not created" ns_default
wait_for kube-controller-manager 30 "serviceaccount default/default got no token" sa_default_token

ensure_node_sim
# The real node's pods are reached through their Endpoints (hostNetwork, the
# node's address): --enable-aggregator-routing makes the apiserver call a
# Service-referenced webhook at an endpoint, as there is no kube-proxy.
[ "$REAL_NODE" = 1 ] && real_node_start

# For tools and tests that need more than the kubeconfig (e.g. etcd's URL).
cat >"$CAIRN_STATE/cluster.env" <<EOF
CAIRN_STATE_DIR=$CAIRN_STATE
CAIRN_APISERVER_URL=https://127.0.0.1:$CAIRN_APISERVER_PORT
CAIRN_ETCD_URL=$ETCD_URL
CAIRN_PKI=$CAIRN_PKI
KUBECONFIG=$CAIRN_KUBECONFIG
KUBECTL=$CAIRN_KUBECTL
CAIRN_APISERVER_PORT=$CAIRN_APISERVER_PORT
CAIRN_ETCD_PORT=$CAIRN_ETCD_PORT
CAIRN_ETCD_PEER_PORT=$CAIRN_ETCD_PEER_PORT
CAIRN_KCM_PORT=$CAIRN_KCM_PORT
CAIRN_NODE_SIM=${CAIRN_NODE_SIM:-}
CAIRN_SIM_NODES=$SIM_NODES
CAIRN_REAL_NODE=$REAL_NODE
CAIRN_REAL_NODES=$([ "$REAL_NODE" = 1 ] && echo "$REAL_NODES")
EOF

trap - EXIT
log "up in $((SECONDS - START))s: etcd pid $(recorded_pid etcd), kube-apiserver pid $(recorded_pid kube-apiserver), kube-controller-manager pid $(recorded_pid kube-controller-manager); logs in $CAIRN_LOGS"
print_access
