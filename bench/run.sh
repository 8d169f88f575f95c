#!/usr/bin/env bash
# Runs every benchmark in bench/ against a fresh local control plane and
# prints their figures. Benchmarks are measurements, never pass/fail tests.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd -P)
build=$(realpath "${1:-$repo/build}")
benches=()
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] && benches+=("$b")
done
if [ ${#benches[@]} -eq 0 ]; then
  echo "bench: no benchmarks built yet (bench/ has none)"
  exit 0
fi
export CAIRN_STATE_DIR=$build/bench-cluster
export CAIRN_APISERVER_PORT=${CAIRN_APISERVER_PORT:-17443} CAIRN_ETCD_PORT=${CAIRN_ETCD_PORT:-13379}
export CAIRN_ETCD_PEER_PORT=${CAIRN_ETCD_PEER_PORT:-13380} CAIRN_KCM_PORT=${CAIRN_KCM_PORT:-12257}
export CAIRN_NODE_SIM=$build/hack/node-sim/cairn-node-sim
export KUBECONFIG=$CAIRN_STATE_DIR/kubeconfig
export CAIRN_GIT_STATE=$build/bench-git CAIRN_GIT_DAEMON_PORT=${CAIRN_GIT_DAEMON_PORT:-39418}
export CAIRN_GIT_HTTPS_PORT=${CAIRN_GIT_HTTPS_PORT:-39443}
export CAIRN_OPERATOR=$build/operator/cairn-operator CAIRN_WEBHOOK=$build/webhook/cairn-webhook
trap '"$repo/hack/git-server.sh" stop >/dev/null 2>&1; "$repo/hack/down.sh" >/dev/null' EXIT
"$repo/hack/up.sh" >/dev/null
"$repo/hack/git-server.sh" start >/dev/null
"$CAIRN_STATE_DIR/bin/kubectl" apply -f "$repo/crds/" >/dev/null
for b in "${benches[@]}"; do
  # BENCH=name runs just that one.
  [ -z "${BENCH:-}" ] || [ "$(basename "$b")" = "bench_$BENCH" ] || continue
  # Soaks take half an hour: only when named (make soak).
  case "$(basename "$b")" in bench_*_soak) [ -n "${BENCH:-}" ] || continue ;; esac
  echo "== $(basename "$b")"
  "$b"
done
