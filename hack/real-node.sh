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
# CAIRN_REAL_NODES (default 1, at most 3) nodes, cairn-node-1..N, each with
# its own containerd, kubelet and cgroup root. They share the machine's
# network namespace: node 1 registers the machine's address, node 2 and 3 an
# address on an interface of their own, an empty bridge (cairn-node-2: 10.250.0.2; the "dummy" module is missing here), so
# hostNetwork pods on different nodes bind different addresses (two webhook
# replicas, a rollout without a gap). Each node is labelled cairn.dev/node=real
# and tainted cairn.dev/node=real:NoSchedule: only pods that select and
# tolerate it land there (the install test's chart values and app); every
# other pod stays with the simulated nodes.
#
# What kubelet changes outside the state directory, and `make down` undoes:
# sysctls it tunes (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops,
# kernel.keys.root_max*; their values are recorded here and restored),
# /var/log/pods and /var/log/containers (hard-wired in kubelet 1.20; removed
# when this node created them), cgroups under /cairn-node in each hierarchy,
# containerd's shim sockets in /run/containerd/s, the nodes' interfaces.
#
# Environment: CAIRN_REAL_NODES (1), CAIRN_KUBELET_PORT (10250, on each
# node's address), CAIRN_KUBELET_HEALTHZ_PORT (10248, +1 per further node),
# CAIRN_SCHEDULER_PORT (10259).

REAL_NODES=${CAIRN_REAL_NODES:-1}
[[ $REAL_NODES =~ ^[1-3]$ ]] || die "CAIRN_REAL_NODES=$REAL_NODES: 1, 2 or 3 real nodes"
REAL_NODE_DIR=$CAIRN_STATE/node
REAL_NODE_PAUSE=localhost/cairn-pause:3.2
CAIRN_KUBELET_PORT=${CAIRN_KUBELET_PORT:-10250}
CAIRN_KUBELET_HEALTHZ_PORT=${CAIRN_KUBELET_HEALTHZ_PORT:-10248}
CAIRN_SCHEDULER_PORT=${CAIRN_SCHEDULER_PORT:-10259}
REAL_NODE_SYSCTLS=(vm/overcommit_memory kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes)
# Paths outside the state directory that kubelet or containerd create.
REAL_NODE_OUTSIDE=(/var/log/pods /var/log/containers /run/containerd)

# Node i: its directory, containerd socket, address and interface.
node_dir() { echo "$REAL_NODE_DIR/$1"; }
node_sock() { echo "$REAL_NODE_DIR/$1/containerd/containerd.sock"; }
node_link() { echo "cairn-node-$1"; }
node_ip() {
  if [ "$1" = 1 ]; then
    ip -4 route get 192.0.2.255 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit } }'
  else
    echo "10.250.0.$1"
  fi
}
ctr_() { # NODE ARGS...
  local n=$1
  shift
  ctr --address "$(node_sock "$n")" --namespace k8s.io "$@"
}

# The cgroup v1 hierarchies (and the v2 one, if mounted) kubelet writes.
real_node_cgroup_dirs() {
  local m i
  for m in /sys/fs/cgroup/*/; do
    for i in 1 2 3; do
      [ -d "${m}cairn-node-$i" ] && echo "${m}cairn-node-$i"
    done
  done
  return 0
}

# real_node_load IMAGE...: podman images -> every node's containerd (k8s.io).
real_node_load() {
  local i img
  for img in "$@"; do
    CONTAINERS_CONF=$CAIRN_REPO_ROOT/hack/image/containers.conf podman image exists "$img" ||
      die "image $img is not in podman's store; build it first (make image)"
  done
  for ((i = 1; i <= REAL_NODES; i++)); do real_node_load_one "$i" "$@"; done
  log "loaded $* into the real nodes' containerd"
}

real_node_ready() { # NODE
  local body
  body=$(apiserver_get "/api/v1/nodes/cairn-node-$1") || return 1
  jq -e 'any(.status.conditions[]?; .type == "Ready" and .status == "True")' <<<"$body" >/dev/null 2>&1
}

real_node_start() {
  local t0=$SECONDS s m i
  [ "$(id -u)" = 0 ] || die "CAIRN_REAL_NODE=1 needs root (kubelet and containerd manage cgroups and mounts)"
  for s in containerd:containerd runc:runc ctr:containerd iptables:iptables ip:iproute2; do
    command -v "${s%%:*}" >/dev/null 2>&1 || die "'${s%%:*}' is missing: install Debian's '${s#*:}' (make deps)"
  done
  [ -x /usr/lib/cni/loopback ] || die "/usr/lib/cni/loopback is missing: install containernetworking-plugins (make deps)"
  for b in kube-scheduler kubelet; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR has no $b; run make kube (hack/build-kube.sh builds it)"
  done
  CONTAINERS_CONF=$CAIRN_REPO_ROOT/hack/image/containers.conf podman image exists "$REAL_NODE_PAUSE" 2>/dev/null ||
    die "the pause image $REAL_NODE_PAUSE is missing; run make image (hack/image.sh pause)"
  [ -n "$(node_ip 1)" ] || die "cannot find this machine's address (ip route get): kubelet needs a non-loopback node IP"
  mkdir -p "$REAL_NODE_DIR" "$CAIRN_STATE/bin"

  # Record what exists before the nodes, so down.sh removes only what they made.
  if [ ! -e "$REAL_NODE_DIR/before.env" ]; then
    {
      for s in "${REAL_NODE_SYSCTLS[@]}"; do echo "sysctl $s $(cat "/proc/sys/$s" 2>/dev/null)"; done
      for s in "${REAL_NODE_OUTSIDE[@]}"; do [ -e "$s" ] && echo "existed $s"; done
      true
    } >"$REAL_NODE_DIR/before.env"
  fi

  issue kube-scheduler "/CN=system:kube-scheduler" clientAuth
  write_kubeconfig "$CAIRN_STATE/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
  if ! daemon_running kube-scheduler; then
    for s in $CAIRN_SCHEDULER_PORT; do
      [ -z "$(port_listeners "$s")" ] || die "port $s is in use; set CAIRN_SCHEDULER_PORT to a free port"
    done
    log "starting kube-scheduler (health on https://127.0.0.1:$CAIRN_SCHEDULER_PORT)"
    start kube-scheduler "$BIN_DIR/kube-scheduler" \
      --kubeconfig="$CAIRN_STATE/kube-scheduler.kubeconfig" \
      --bind-address=127.0.0.1 --secure-port="$CAIRN_SCHEDULER_PORT" --port=0 \
      --leader-elect=false --profiling=false
  fi
  sched_healthy() { [ "$(curl -ksS --max-time 3 "https://127.0.0.1:$CAIRN_SCHEDULER_PORT/healthz" 2>/dev/null)" = ok ]; }
  wait_for kube-scheduler 30 "no ok from https://127.0.0.1:$CAIRN_SCHEDULER_PORT/healthz" sched_healthy

  for ((i = 1; i <= REAL_NODES; i++)); do real_node_start_one "$i"; done
  for ((i = 1; i <= REAL_NODES; i++)); do
    wait_for "kubelet-$i" 120 "node cairn-node-$i did not become Ready" real_node_ready "$i"
  done
  log "$REAL_NODES real node(s) ready in $((SECONDS - t0))s (pods must select cairn.dev/node=real and tolerate its taint)"
}

real_node_start_one() { # NODE
  local n=$1 dir sock ip name=cairn-node-$1 healthz=$((CAIRN_KUBELET_HEALTHZ_PORT + $1 - 1)) m
  dir=$(node_dir "$n")
  sock=$(node_sock "$n")
  if [ "$n" != 1 ] && ! ip link show "$(node_link "$n")" >/dev/null 2>&1; then
    ip link add "$(node_link "$n")" type bridge &&
      ip addr add "$(node_ip "$n")/32" dev "$(node_link "$n")" &&
      ip link set "$(node_link "$n")" up || die "cannot create the interface $(node_link "$n") for $name's address"
  fi
  ip=$(node_ip "$n")
  mkdir -p "$dir"/{containerd,kubelet,cni/net.d,pki}
  # argv[0] names the daemon in pid files and process lists: one symlink per node.
  ln -sfn "$(command -v containerd)" "$CAIRN_STATE/bin/containerd-$n"
  ln -sfn "$BIN_DIR/kubelet" "$CAIRN_STATE/bin/kubelet-$n"

  # ------------------------------------------------------------ containerd
  cat >"$dir/cni/net.d/10-cairn-loopback.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "cairn-loopback", "plugins": [{"type": "loopback"}]}
JSON
  cat >"$dir/containerd/config.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
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
    conf_dir = "$dir/cni/net.d"
TOML
  if ! daemon_running "containerd-$n"; then
    log "starting containerd for $name (socket $sock)"
    start "containerd-$n" "$CAIRN_STATE/bin/containerd-$n" --config "$dir/containerd/config.toml"
  fi
  containerd_up() { ctr_ "$1" version >/dev/null 2>&1; }
  wait_for "containerd-$n" 30 "no answer on $sock" containerd_up "$n"
  real_node_load_one "$n" "$REAL_NODE_PAUSE"

  # --------------------------------------------------------------- kubelet
  issue "kubelet-$n" "/O=system:nodes/CN=system:node:$name" clientAuth
  issue "kubelet-$n-serving" "/CN=$name" serverAuth "DNS:$name,IP:$ip"
  write_kubeconfig "$dir/kubelet.kubeconfig" "system:node:$name" "kubelet-$n"
  for m in /sys/fs/cgroup/*/; do
    [ -w "$m" ] && [ "$m" != /sys/fs/cgroup/unified/ ] && mkdir -p "${m}cairn-node-$n"
  done
  cat >"$dir/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: $CAIRN_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz
tlsCertFile: $CAIRN_PKI/kubelet-$n-serving.crt
tlsPrivateKeyFile: $CAIRN_PKI/kubelet-$n-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $CAIRN_PKI/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: /cairn-node-$n
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
  if ! daemon_running "kubelet-$n"; then
    for m in "$ip:$CAIRN_KUBELET_PORT" "127.0.0.1:$healthz"; do
      ss -Hltn "( src = ${m%:*} and sport = :${m##*:} )" 2>/dev/null | grep -q . &&
        die "$m is in use; set CAIRN_KUBELET_PORT / CAIRN_KUBELET_HEALTHZ_PORT to free ports"
    done
    log "starting kubelet for $name ($ip, containerd $sock)"
    start "kubelet-$n" "$CAIRN_STATE/bin/kubelet-$n" \
      --config="$dir/kubelet/config.yaml" \
      --kubeconfig="$dir/kubelet.kubeconfig" \
      --root-dir="$dir/kubelet" \
      --cert-dir="$dir/pki" \
      --seccomp-profile-root="$dir/kubelet/seccomp" \
      --volume-plugin-dir="$dir/kubelet/volume-plugins" \
      --container-runtime=remote \
      --container-runtime-endpoint="unix://$sock" \
      --hostname-override="$name" \
      --node-ip="$ip" \
      --node-labels=cairn.dev/node=real \
      --register-with-taints=cairn.dev/node=real:NoSchedule \
      --v=1
  fi
}

# real_node_load_one NODE IMAGE...
real_node_load_one() {
  local n=$1 img tmp
  shift
  tmp=$(mktemp -d "$REAL_NODE_DIR/load.XXXXXX")
  for img in "$@"; do
    CONTAINERS_CONF=$CAIRN_REPO_ROOT/hack/image/containers.conf \
      podman save --format docker-archive -o "$tmp/image.tar" "$img" >/dev/null 2>&1 ||
      die "podman save $img failed; build it first (make image)"
    ctr_ "$n" images import --no-unpack "$tmp/image.tar" >/dev/null 2>&1 ||
      die "ctr images import of $img into cairn-node-$n's containerd failed"
    rm -f "$tmp/image.tar"
  done
  rm -rf "$tmp"
}

# Stops every kubelet, every container of the nodes, containerd and the
# scheduler, then removes what they left outside the state directory.
real_node_stop() {
  local s i n id mnt sock
  stop_daemon kube-scheduler
  [ -d "$REAL_NODE_DIR" ] || return 0
  for n in 1 2 3; do stop_daemon "kubelet-$n"; done
  for n in 1 2 3; do
    sock=$(node_sock "$n")
    if daemon_running "containerd-$n"; then
      # Containers outlive containerd (their shims are separate processes):
      # kill and delete every task and container of the node first.
      for id in $(ctr_ "$n" tasks list -q 2>/dev/null); do
        ctr_ "$n" tasks kill --all --signal SIGKILL "$id" >/dev/null 2>&1 || true
      done
      for ((i = 0; i < 50; i++)); do
        [ -z "$(ctr_ "$n" tasks list 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"')" ] && break
        sleep 0.2
      done
      for id in $(ctr_ "$n" tasks list -q 2>/dev/null); do ctr_ "$n" tasks delete --force "$id" >/dev/null 2>&1 || true; done
      for id in $(ctr_ "$n" containers list -q 2>/dev/null); do ctr_ "$n" containers delete "$id" >/dev/null 2>&1 || true; done
    fi
    stop_daemon "containerd-$n"
    # Shims exit once their task is deleted; one that did not is killed by pid
    # (its command line names this node's containerd socket).
    for id in $(pgrep -x containerd-shim 2>/dev/null; pgrep -f '^/usr/bin/containerd-shim-runc-v2 ' 2>/dev/null); do
      if tr '\0' ' ' <"/proc/$id/cmdline" 2>/dev/null | grep -qF -- "$sock"; then
        kill -KILL "$id" 2>/dev/null || true
      fi
    done
    if ip link show "$(node_link "$n")" >/dev/null 2>&1; then
      ip link del "$(node_link "$n")" || warn "could not delete the interface $(node_link "$n")"
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
        sysctl) if [ -n "$value" ] && [ "$(cat "/proc/sys/$what" 2>/dev/null)" != "$value" ]; then
          echo "$value" >"/proc/sys/$what" 2>/dev/null || warn "could not restore /proc/sys/$what to $value"
        fi ;;
      esac
    done <"$REAL_NODE_DIR/before.env"
    for s in "${REAL_NODE_OUTSIDE[@]}"; do
      grep -qxF "existed $s" "$REAL_NODE_DIR/before.env" || rm -rf -- "$s"
    done
  fi
  return 0
}
