# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Shared helpers for hack/up.sh and hack/down.sh (sourced, never executed).
#
# Paths, ports and the bookkeeping of the local control plane's daemons. The
# caller sets CAIRN_LOG_PREFIX ("up", "down") before sourcing.
#
# Environment (all optional):
#   CAIRN_STATE_DIR        state directory        (default <repo>/.cairn)
#   CAIRN_APISERVER_PORT   kube-apiserver https   (default 6443)
#   CAIRN_ETCD_PORT        etcd client            (default 23790)
#   CAIRN_ETCD_PEER_PORT   etcd peer              (default 23800)
#   CAIRN_KCM_PORT         controller-manager https (default 10257)
#   KUBE_BIN_DIR           use these kube binaries (see hack/build-kube.sh)
#   CAIRN_NODE_SIM         path of cairn-node-sim: also start simulated nodes
#   CAIRN_SIM_NODES        how many nodes it registers (default 2)
#   CAIRN_REAL_NODE=1      also a real node: containerd, kube-scheduler, kubelet
#                          (hack/real-node.sh; needs root and make image)

CAIRN_LOG_PREFIX=${CAIRN_LOG_PREFIX:-cairn}

# Messages never fail: a closed stdout (`make up | head`) must not abort a
# start or stop half-way (SIGPIPE is ignored by the scripts for that reason).
log() { echo "${CAIRN_LOG_PREFIX}: $*" 2>/dev/null || true; }
warn() { echo "${CAIRN_LOG_PREFIX}: warning: $*" >&2 2>/dev/null || true; }
die() {
  echo "${CAIRN_LOG_PREFIX}: error: $*" >&2 2>/dev/null || true
  exit 1
}
trap '' PIPE

CAIRN_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
CAIRN_REPO_ROOT=$(cd "$CAIRN_HACK_DIR/.." && pwd -P)

# Absolute and normalised: it is matched against daemons' command lines.
CAIRN_STATE=$(realpath -m -- "${CAIRN_STATE_DIR:-$CAIRN_REPO_ROOT/.cairn}")
case $CAIRN_STATE in
  / | /root | /home | /tmp | /usr | /etc | /var | "$CAIRN_REPO_ROOT" | "${HOME:-/root}")
    die "CAIRN_STATE_DIR=$CAIRN_STATE is not acceptable as a state directory (it is deleted by 'make down'); pick a dedicated directory" ;;
esac
CAIRN_PKI=$CAIRN_STATE/pki
CAIRN_ETCD_DATA=$CAIRN_STATE/etcd
CAIRN_LOGS=$CAIRN_STATE/logs
CAIRN_PIDS=$CAIRN_STATE/pids
CAIRN_KUBECONFIG=$CAIRN_STATE/kubeconfig
CAIRN_KUBECTL=$CAIRN_STATE/bin/kubectl
# Written by up.sh into every state directory it creates; down.sh only ever
# deletes a directory that carries it.
CAIRN_MARKER=$CAIRN_STATE/.cairn-state

CAIRN_APISERVER_PORT=${CAIRN_APISERVER_PORT:-6443}
CAIRN_ETCD_PORT=${CAIRN_ETCD_PORT:-23790}
CAIRN_ETCD_PEER_PORT=${CAIRN_ETCD_PEER_PORT:-23800}
CAIRN_KCM_PORT=${CAIRN_KCM_PORT:-10257}

# Daemons in start order; stopped in reverse. The pid file is pids/<name>.pid
# and <name> is also the basename of the daemon's argv[0].
CAIRN_CP_DAEMONS=(etcd kube-apiserver kube-controller-manager)
# The node simulator (started when CAIRN_NODE_SIM names its binary) is
# recorded and stopped like the others.
CAIRN_DAEMONS=("${CAIRN_CP_DAEMONS[@]}" cairn-node-sim cairn-operator cairn-webhook)
# The real node (CAIRN_REAL_NODE=1, hack/real-node.sh), stopped first.
CAIRN_DAEMONS+=(kube-scheduler containerd-1 kubelet-1 containerd-2 kubelet-2 containerd-3 kubelet-3)

# "VAR port" pairs, for checks and messages.
cairn_ports() {
  echo "CAIRN_ETCD_PORT $CAIRN_ETCD_PORT"
  echo "CAIRN_ETCD_PEER_PORT $CAIRN_ETCD_PEER_PORT"
  echo "CAIRN_APISERVER_PORT $CAIRN_APISERVER_PORT"
  echo "CAIRN_KCM_PORT $CAIRN_KCM_PORT"
}

validate_ports() {
  local var port seen=" "
  while read -r var port; do
    if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
      die "$var=$port is not a port number (1-65535)"
    fi
    case $seen in *" $port "*) die "$var=$port is used twice; the four CAIRN_*_PORT values must differ" ;; esac
    seen="$seen$port "
  done < <(cairn_ports)
}

# Prints the listening socket(s) on a TCP port, any address; empty if free.
port_listeners() {
  ss -Hltnp "( sport = :$1 )" 2>/dev/null || ss -Hltn "( sport = :$1 )"
}

# Succeeds if pid $2 is alive and is daemon $1 of *this* state directory:
# argv[0]'s basename is $1 and an argument mentions the state directory.
# This guards against pid reuse and against other clusters' daemons.
pid_is_ours() {
  local name=$1 pid=$2 a
  local -a args=()
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
  [ ${#args[@]} -gt 0 ] || return 1 # exited (zombie) or kernel thread
  [ "${args[0]##*/}" = "$name" ] || return 1
  for a in "${args[@]:1}"; do
    case $a in *"$CAIRN_STATE/"* | *"$CAIRN_STATE") return 0 ;; esac
  done
  return 1
}

# Succeeds if pid $1 is gone or has exited (a zombie not yet reaped).
pid_exited() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  case ${stat%% *} in Z | X | x) return 0 ;; esac
  return 1
}

# The recorded pid of daemon $1, or empty.
recorded_pid() {
  local f=$CAIRN_PIDS/$1.pid
  if [ -f "$f" ]; then head -n1 "$f" | tr -dc 0-9; fi
}

# Succeeds if daemon $1 is recorded and its pid is still that daemon.
daemon_running() {
  local pid
  pid=$(recorded_pid "$1")
  [ -n "$pid" ] && pid_is_ours "$1" "$pid"
}

# Stops daemon $1 if its recorded pid is still that daemon: SIGTERM, up to
# 10 s, then SIGKILL. A pid that now belongs to another process is left alone.
# Removes the pid file. Prints nothing when there is no pid file. Counts the
# processes it signalled in CAIRN_STOPPED.
CAIRN_STOPPED=0
stop_daemon() {
  local name=$1 pid i other
  local f=$CAIRN_PIDS/$name.pid
  [ -f "$f" ] || return 0
  pid=$(recorded_pid "$name")
  if [ -n "$pid" ] && pid_is_ours "$name" "$pid"; then
    log "stopping $name (pid $pid)"
    CAIRN_STOPPED=$((CAIRN_STOPPED + 1))
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_is_ours "$name" "$pid" || break
      sleep 0.1
    done
    if pid_is_ours "$name" "$pid"; then
      warn "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        pid_is_ours "$name" "$pid" || break
        sleep 0.1
      done
      pid_is_ours "$name" "$pid" && warn "$name (pid $pid) survived SIGKILL"
    fi
  elif [ -n "$pid" ] && other=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-80) && [ -n "$other" ]; then
    log "$name: recorded pid $pid is now an unrelated process ($other); not touching it"
  else # gone, or an exited process not yet reaped (empty cmdline)
    log "$name (pid ${pid:-?}) was not running"
  fi
  rm -f "$f"
}

# Processes running one of our binaries against this state directory that no
# pid file records (e.g. pids/ was deleted by hand). Prints "pid name" lines.
unrecorded_daemons() {
  local d p
  for d in "${CAIRN_DAEMONS[@]}"; do
    for p in $(pgrep -x "${d:0:15}" 2>/dev/null || true); do
      [ "$p" = "$(recorded_pid "$d")" ] && continue
      pid_is_ours "$d" "$p" && echo "$p $d"
    done
  done
  return 0
}

# Takes an exclusive lock on the state directory (fd 9) so that up.sh and
# down.sh never run concurrently against the same cluster.
lock_state() {
  exec 9>"$CAIRN_STATE/.lock"
  flock -w 30 9 || die "another hack/up.sh or hack/down.sh holds $CAIRN_STATE/.lock; wait for it to finish"
}

# curl against the apiserver with the admin credentials; $1 is the path.
# Not with curl's own User-Agent: the apiserver pretty-prints JSON for
# curl/wget, and in the v1.20.2 binaries built by hack/build-kube.sh (vendored
# modern-go/reflect2 v1.0.1 compiled with Go 1.19) that code path panics
# (the request fails with "Empty reply" / HTTP/2 INTERNAL_ERROR).
apiserver_get() {
  curl -fsS --max-time 3 -A cairn-hack --cacert "$CAIRN_PKI/ca.crt" \
    --cert "$CAIRN_PKI/admin.crt" --key "$CAIRN_PKI/admin.key" \
    "https://127.0.0.1:$CAIRN_APISERVER_PORT$1" 2>/dev/null
}

apiserver_ready() { [ "$(apiserver_get /readyz)" = ok ]; }

# The controller-manager serves /healthz over https with a self-signed
# certificate; -k is used for this loopback health probe only.
kcm_healthy() {
  [ "$(curl -ksS --max-time 3 "https://127.0.0.1:$CAIRN_KCM_PORT/healthz" 2>/dev/null)" = ok ]
}

# ------------------------------------------------------- starting daemons
# Daemons this run of up.sh started (stopped again if start-up fails).
STARTED=()

# start NAME BINARY ARGS...: detached in its own session (setsid, stdin from
# /dev/null, output to logs/NAME.log) so it outlives this script and the
# terminal. The subshell execs setsid, which execs the daemon without forking
# (the subshell is not a process-group leader), so $! is the daemon's pid.
start() {
  local name=$1 bin=$2 log=$CAIRN_LOGS/$1.log pid i
  shift 2
  [ -f "$log" ] && mv -f "$log" "$log.prev"
  echo "# $(date -Is) $bin $*" >"$log"
  (
    trap - PIPE # lib.sh ignores it; the daemon gets the default back
    # Close inherited descriptors (the state lock on 9, a caller's pipes) so
    # the daemon neither holds the lock nor keeps a caller's pipe open.
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid "$bin" "$@" </dev/null >>"$log" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$CAIRN_PIDS/$name.pid"
  STARTED+=("$name")
  # Until the subshell has exec'd, /proc/PID/cmdline is still bash's.
  for ((i = 0; i < 100; i++)); do
    pid_is_ours "$name" "$pid" && return 0
    pid_exited "$pid" && break
    sleep 0.1
  done
  fail "$name" "exited right after starting"
}

fail() { # name message
  echo "${CAIRN_LOG_PREFIX}: ---- last lines of $CAIRN_LOGS/$1.log ----" >&2 2>/dev/null || true
  tail -n 25 "$CAIRN_LOGS/$1.log" >&2 2>/dev/null || true
  die "$1 $2 (log: $CAIRN_LOGS/$1.log)"
}

# wait_for NAME SECONDS WHAT CHECK...: polls CHECK until it succeeds; fails
# early with the log's tail if daemon NAME exits, or after SECONDS.
wait_for() {
  local name=$1 timeout=$2 what=$3 deadline=$((SECONDS + $2))
  shift 3
  until "$@"; do
    daemon_running "$name" || fail "$name" "exited during start-up"
    [ $SECONDS -lt $deadline ] || fail "$name" "did not get ready within ${timeout}s ($what)"
    sleep 0.5
  done
}
