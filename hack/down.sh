#!/usr/bin/env bash
# Stops the local control plane started by hack/up.sh and deletes its state
# directory (PKI, etcd data, logs, kubeconfig). Only the processes recorded in
# pids/ are signalled, and only while /proc/PID/cmdline still shows the
# expected binary and this state directory. Safe to run when nothing is up.
# Environment: see hack/lib.sh.
set -euo pipefail
CAIRN_LOG_PREFIX=down
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/real-node.sh
. "$CAIRN_HACK_DIR/real-node.sh"

# The demo's git server, if one runs (hack/git-server.sh keeps its own state).
if [ -e "${CAIRN_GIT_STATE:-$CAIRN_REPO_ROOT/.cairn-git}" ]; then
  "$CAIRN_HACK_DIR/git-server.sh" stop || warn "the git server did not stop cleanly"
fi

if [ ! -e "$CAIRN_STATE" ]; then
  log "nothing to do: $CAIRN_STATE does not exist"
  exit 0
fi
[ -d "$CAIRN_STATE" ] || die "$CAIRN_STATE is not a directory; not touching it"
if [ ! -e "$CAIRN_MARKER" ]; then
  if [ -z "$(ls -A "$CAIRN_STATE")" ]; then
    rmdir "$CAIRN_STATE"
    log "nothing to do: removed the empty $CAIRN_STATE"
    exit 0
  fi
  die "$CAIRN_STATE was not created by hack/up.sh (no .cairn-state marker); refusing to delete it"
fi
command -v flock >/dev/null 2>&1 && lock_state

# The real node first: its containers, mounts, cgroups and sysctls.
real_node_stop

for ((i = ${#CAIRN_DAEMONS[@]} - 1; i >= 0; i--)); do
  stop_daemon "${CAIRN_DAEMONS[i]}"
done

orphans=$(unrecorded_daemons)
[ -z "$orphans" ] ||
  warn "still running against $CAIRN_STATE but not recorded in pids/, so left alone (pid name): $(tr '\n' ' ' <<<"$orphans")"

rm -rf -- "$CAIRN_STATE"
if [ "$CAIRN_STOPPED" = 0 ]; then
  log "nothing was running; removed $CAIRN_STATE"
else
  log "stopped $CAIRN_STOPPED process(es); removed $CAIRN_STATE"
fi
