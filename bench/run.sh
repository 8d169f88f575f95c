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
trap '"$repo/hack/down.sh" >/dev/null' EXIT
"$repo/hack/up.sh" >/dev/null
for b in "${benches[@]}"; do
  echo "== $(basename "$b")"
  "$b"
done
