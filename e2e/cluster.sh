#!/usr/bin/env bash
# ctest fixture for the e2e suite: `up` brings the local control plane and
# the node simulator up (twice, to prove `make up` is idempotent); `down`
# takes them down (twice, likewise) and fails if any process of this state
# directory is still alive afterwards.
#
# Environment (set by e2e/CMakeLists.txt): CAIRN_STATE_DIR, CAIRN_GIT_STATE,
# CAIRN_PROM_STATE, CAIRN_NODE_SIM. Prometheus listens on
# CAIRN_PROMETHEUS_PORT (default 19091). The git server's ports (CAIRN_GIT_DAEMON_PORT,
# CAIRN_GIT_HTTPS_PORT) keep hack/git-server.sh's defaults unless set.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd -P)
state=$(realpath -m -- "${CAIRN_STATE_DIR:?CAIRN_STATE_DIR must be set}")

# The default ports may be taken by a developer's own `make up`; the e2e
# cluster uses its own unless told otherwise.
export CAIRN_APISERVER_PORT=${CAIRN_APISERVER_PORT:-16443}
export CAIRN_ETCD_PORT=${CAIRN_ETCD_PORT:-12379}
export CAIRN_ETCD_PEER_PORT=${CAIRN_ETCD_PEER_PORT:-12380}
export CAIRN_KCM_PORT=${CAIRN_KCM_PORT:-11257}
export CAIRN_PROMETHEUS_PORT=${CAIRN_PROMETHEUS_PORT:-19091}

case ${1:-} in
  up)
    "$repo/hack/up.sh"
    out=$("$repo/hack/up.sh")
    echo "$out"
    grep -q "already up" <<<"$out" || { echo "cluster.sh: a second up.sh did not find the cluster up" >&2; exit 1; }
    # Cairn's CRDs, and the real git server the Pipeline and Release tests use.
    "$state/bin/kubectl" --kubeconfig "$state/kubeconfig" apply -f "$repo/crds/"
    "$repo/hack/git-server.sh" start
    # The real Prometheus that Release analysis queries and that scrapes Cairn.
    "$repo/hack/prometheus.sh" start
    ;;
  down)
    "$repo/hack/prometheus.sh" stop || true
    "$repo/hack/git-server.sh" stop || true
    "$repo/hack/down.sh"
    "$repo/hack/down.sh"
    left=$(pgrep -af -- "$state" | grep -v "cluster.sh" || true)
    if [ -n "$left" ]; then
      echo "cluster.sh: processes of $state are still running after down:" >&2
      echo "$left" >&2
      exit 1
    fi
    [ ! -e "$state" ] || { echo "cluster.sh: $state still exists after down" >&2; exit 1; }
    echo "cluster.sh: down, nothing left running"
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
