# shellcheck shell=bash
# The real node of the local control plane (CAIRN_REAL_NODE=1 make up):
# containerd (Debian's 1.6) with runc, kube-scheduler and kubelet v1.20.2, all
# state under $CAIRN_STATE. Sourced by hack/up.sh and hack/down.sh after
# hack/lib.sh (uses start, wait_for, issue, write_kubeconfig, stop_daemon).
#
# Facts of this machine kind (shared/design.md, "Real components"): runc, not
# crun; the CRI needs restrict_oom_score_adj; there is no pod network, so
# pods that must be reached run with hostNetwork (a loopback-only CNI config
# keeps the runtime "network ready"); kubelet refuses --node-ip=127.0.0.1, so
# it registers the machine's address; nothing can be pulled, so the pause
# image and every image the pods run are built here (hack/image.sh) and
# imported into containerd (real_node_load).
#
# The node is named cairn-node, labelled cairn.dev/node=real and tainted
# cairn.dev/node=real:NoSchedule: only pods that select and tolerate it land
# there (the chart's values-real-node.yaml, the install test's app); every
# other pod stays with the simulated nodes.
#
# What kubelet changes outside the state directory, and `make down` undoes:
# sysctls it tunes (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops,
# kernel.keys.root_max*; their values are recorded here and restored),
# /var/log/pods and /var/log/containers (hard-wired in kubelet 1.20; removed
# when this node created them), cgroups under /cairn-node in each hierarchy,
# and containerd's shim sockets in /run/containerd/s.
#
# Environment: CAIRN_KUBELET_PORT (10250), CAIRN_KUBELET_HEALTHZ_PORT (10248),
# CAIRN_SCHEDULER_PORT (10259).

REAL_NODE_NAME=cairn-node
REAL_NODE_DIR=$CAIRN_STATE/node
REAL_NODE_SOCK=$REAL_NODE_DIR/containerd/containerd.sock
REAL_NODE_CGROUP=cairn-node
REAL_NODE_PAUSE=localhost/cairn-pause:3.2
CAIRN_KUBELET_PORT=${CAIRN_KUBELET_PORT:-10250}
CAIRN_KUBELET_HEALTHZ_PORT=${CAIRN_KUBELET_HEALTHZ_PORT:-10248}
CAIRN_SCHEDULER_PORT=${CAIRN_SCHEDULER_PORT:-10259}
REAL_NODE_SYSCTLS=(vm/overcommit_memory kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes)
# Paths outside the state directory that kubelet or containerd create.
REAL_NODE_OUTSIDE=(/var/log/pods /var/log/containers /run/containerd)

ctr_() { ctr --address "$REAL_NODE_SOCK" --namespace k8s.io "$@"; }

# The cgroup v1 hierarchies (and the v2 one, if mounted) kubelet writes.
real_node_cgroup_dirs() {
  local m
  for m in /sys/fs/cgroup/*/; do
    [ -d "$m$REAL_NODE_CGROUP" ] && echo "$m$REAL_NODE_CGROUP"
  done
  return 0
}

# real_node_load IMAGE...: podman image -> containerd (k8s.io namespace).
real_node_load() {
  local img tmp
  tmp=$(mktemp -d "$REAL_NODE_DIR/load.XXXXXX")
  for img in "$@"; do
    CONTAINERS_CONF=$CAIRN_REPO_ROOT/hack/image/containers.conf podman image exists "$img" ||
      die "image $img is not in podman's store; build it first (make image)"
    CONTAINERS_CONF=$CAIRN_REPO_ROOT/hack/image/containers.conf \
      podman save --format docker-archive -o "$tmp/image.tar" "$img" >/dev/null 2>&1 ||
      die "podman save $img failed"
    ctr_ images import --no-unpack "$tmp/image.tar" >/dev/null 2>&1 ||
      die "ctr images import of $img into the real node's containerd failed"
    rm -f "$tmp/image.tar"
    log "loaded $img into the real node's containerd"
  done
  rm -rf "$tmp"
}

real_node_ready() {
  local body
  body=$(apiserver_get "/api/v1/nodes/$REAL_NODE_NAME") || return 1
  jq -e 'any(.status.conditions[]?; .type == "Ready" and .status == "True")' <<<"$body" >/dev/null 2>&1
}

real_node_start() {
  local t0=$SECONDS s m
  [ "$(id -u)" = 0 ] || die "CAIRN_REAL_NODE=1 needs root (kubelet and containerd manage cgroups and mounts)"
  for s in containerd:containerd runc:runc ctr:containerd iptables:iptables; do
    command -v "${s%%:*}" >/dev/null 2>&1 || die "'${s%%:*}' is missing: install Debian's '${s#*:}' (make deps)"
  done
  [ -x /usr/lib/cni/loopback ] || die "/usr/lib/cni/loopback is missing: install containernetworking-plugins (make deps)"
  for b in kube-scheduler kubelet; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR has no $b; run make kube (hack/build-kube.sh builds it)"
  done
  CONTAINERS_CONF=$CAIRN_REPO_ROOT/hack/image/containers.conf podman image exists "$REAL_NODE_PAUSE" 2>/dev/null ||
    die "the pause image $REAL_NODE_PAUSE is missing; run make image (hack/image.sh pause)"
  for s in $CAIRN_KUBELET_PORT $CAIRN_KUBELET_HEALTHZ_PORT $CAIRN_SCHEDULER_PORT; do
    [ -z "$(port_listeners "$s")" ] || die "port $s is in use; set CAIRN_KUBELET_PORT, CAIRN_KUBELET_HEALTHZ_PORT or CAIRN_SCHEDULER_PORT to free ports"
  done
  if pgrep -x kubelet >/dev/null; then
    die "a kubelet is already running on this machine (pid $(pgrep -x kubelet | head -1)); one real node per machine: stop the other cluster first (make down)"
  fi
  mkdir -p "$REAL_NODE_DIR"/{containerd,kubelet,cni/net.d,pki}

  # Record what exists before this node, so down.sh removes only what it made.
  if [ ! -e "$REAL_NODE_DIR/before.env" ]; then
    {
      for s in "${REAL_NODE_SYSCTLS[@]}"; do echo "sysctl $s $(cat "/proc/sys/$s" 2>/dev/null)"; done
      for s in "${REAL_NODE_OUTSIDE[@]}"; do [ -e "$s" ] && echo "existed $s"; done
      iptables-save 2>/dev/null | grep -q '^:KUBE-' && echo "existed iptables-KUBE"
      true
    } >"$REAL_NODE_DIR/before.env"
  fi

  # ------------------------------------------------------------ containerd
  cat >"$REAL_NODE_DIR/cni/net.d/10-cairn-loopback.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "cairn-loopback", "plugins": [{"type": "loopback"}]}
JSON
  cat >"$REAL_NODE_DIR/containerd/config.toml" <<TOML
version = 2
root = "$REAL_NODE_DIR/containerd/root"
state = "$REAL_NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.grpc.v1.cri.tracing"]
[grpc]
  address = "$REAL_NODE_SOCK"
[ttrpc]
  address = "$REAL_NODE_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$REAL_NODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REAL_NODE_PAUSE"
  # The machine does not let containers lower their OOM score adjustment.
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$REAL_NODE_DIR/cni/net.d"
TOML
  if ! daemon_running containerd; then
    log "starting containerd (socket $REAL_NODE_SOCK)"
    start containerd "$(command -v containerd)" --config "$REAL_NODE_DIR/containerd/config.toml"
  fi
  containerd_up() { ctr_ version >/dev/null 2>&1; }
  wait_for containerd 30 "no answer on $REAL_NODE_SOCK" containerd_up
  real_node_load "$REAL_NODE_PAUSE"

  # ------------------------------------------------------- kube-scheduler
  issue kube-scheduler "/CN=system:kube-scheduler" clientAuth
  issue kubelet "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" clientAuth
  issue kubelet-serving "/CN=$REAL_NODE_NAME" serverAuth "DNS:$REAL_NODE_NAME,IP:127.0.0.1"
  write_kubeconfig "$CAIRN_STATE/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
  write_kubeconfig "$REAL_NODE_DIR/kubelet.kubeconfig" "system:node:$REAL_NODE_NAME" kubelet
  if ! daemon_running kube-scheduler; then
    log "starting kube-scheduler (health on https://127.0.0.1:$CAIRN_SCHEDULER_PORT)"
    start kube-scheduler "$BIN_DIR/kube-scheduler" \
      --kubeconfig="$CAIRN_STATE/kube-scheduler.kubeconfig" \
      --bind-address=127.0.0.1 --secure-port="$CAIRN_SCHEDULER_PORT" --port=0 \
      --leader-elect=false --profiling=false
  fi
  sched_healthy() { [ "$(curl -ksS --max-time 3 "https://127.0.0.1:$CAIRN_SCHEDULER_PORT/healthz" 2>/dev/null)" = ok ]; }
  wait_for kube-scheduler 30 "no ok from https://127.0.0.1:$CAIRN_SCHEDULER_PORT/healthz" sched_healthy

  # --------------------------------------------------------------- kubelet
  for m in /sys/fs/cgroup/*/; do
    [ -w "$m" ] && [ "$m" != /sys/fs/cgroup/unified/ ] && mkdir -p "$m$REAL_NODE_CGROUP"
  done
  cat >"$REAL_NODE_DIR/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
port: $CAIRN_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $CAIRN_KUBELET_HEALTHZ_PORT
tlsCertFile: $CAIRN_PKI/kubelet-serving.crt
tlsPrivateKeyFile: $CAIRN_PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $CAIRN_PKI/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: /$REAL_NODE_CGROUP
failSwapOn: false
# No KUBE-* iptables chains: nothing here routes Service traffic.
makeIPTablesUtilChains: false
resolvConf: /etc/resolv.conf
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
serializeImagePulls: false
maxPods: 30
YAML
  if ! daemon_running kubelet; then
    log "starting kubelet (node $REAL_NODE_NAME, containerd $REAL_NODE_SOCK)"
    start kubelet "$BIN_DIR/kubelet" \
      --config="$REAL_NODE_DIR/kubelet/config.yaml" \
      --kubeconfig="$REAL_NODE_DIR/kubelet.kubeconfig" \
      --root-dir="$REAL_NODE_DIR/kubelet" \
      --cert-dir="$REAL_NODE_DIR/pki" \
      --seccomp-profile-root="$REAL_NODE_DIR/kubelet/seccomp" \
      --volume-plugin-dir="$REAL_NODE_DIR/kubelet/volume-plugins" \
      --container-runtime=remote \
      --container-runtime-endpoint="unix://$REAL_NODE_SOCK" \
      --hostname-override="$REAL_NODE_NAME" \
      --node-labels=cairn.dev/node=real \
      --register-with-taints=cairn.dev/node=real:NoSchedule \
      --v=1
  fi
  wait_for kubelet 90 "node $REAL_NODE_NAME did not become Ready" real_node_ready
  log "real node $REAL_NODE_NAME ready in $((SECONDS - t0))s (pods must select cairn.dev/node=real and tolerate its taint)"
}

# Stops kubelet, every container of the node, containerd and the scheduler,
# then removes what they left outside the state directory.
real_node_stop() {
  local s i id mnt
  [ -d "$REAL_NODE_DIR" ] || { stop_daemon kube-scheduler; return 0; }
  stop_daemon kubelet
  if daemon_running containerd; then
    # Containers outlive containerd (their shims are separate processes):
    # kill and delete every task and container of the node first.
    for id in $(ctr_ tasks list -q 2>/dev/null); do
      ctr_ tasks kill --all --signal SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for ((i = 0; i < 50; i++)); do
      [ -z "$(ctr_ tasks list 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"')" ] && break
      sleep 0.2
    done
    for id in $(ctr_ tasks list -q 2>/dev/null); do ctr_ tasks delete --force "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ containers list -q 2>/dev/null); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_daemon containerd
  stop_daemon kube-scheduler
  # Shims exit once their task is deleted; one that did not is killed by pid
  # (its command line names this node's containerd socket).
  for id in $(pgrep -x containerd-shim-runc-v2 2>/dev/null || true); do
    if tr '\0' ' ' <"/proc/$id/cmdline" 2>/dev/null | grep -qF -- "$REAL_NODE_SOCK"; then
      kill -KILL "$id" 2>/dev/null || true
    fi
  done
  # Mounts under the state directory (sandbox /dev/shm, overlay rootfs,
  # kubelet's volumes), deepest first.
  for ((i = 0; i < 3; i++)); do
    mapfile -t mnts < <(findmnt -rn -o TARGET | grep -F -- "$CAIRN_STATE/" | sort -r)
    [ ${#mnts[@]} -eq 0 ] && break
    for mnt in "${mnts[@]}"; do umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; done
  done
  # cgroups: leaves first (a cgroup with processes cannot be removed).
  while read -r s; do
    find "$s" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$s" ] && warn "cgroup $s could not be removed (processes still in it?)"
  done < <(real_node_cgroup_dirs)
  if [ -f "$REAL_NODE_DIR/before.env" ]; then
    while read -r kind what value; do
      case $kind in
        sysctl) [ -n "$value" ] && [ "$(cat "/proc/sys/$what" 2>/dev/null)" != "$value" ] &&
          { echo "$value" >"/proc/sys/$what" 2>/dev/null || warn "could not restore /proc/sys/$what to $value"; } ;;
      esac
    done <"$REAL_NODE_DIR/before.env"
    for s in "${REAL_NODE_OUTSIDE[@]}"; do
      grep -qxF "existed $s" "$REAL_NODE_DIR/before.env" || rm -rf -- "$s"
    done
  fi
  return 0
}
