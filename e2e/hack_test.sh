#!/usr/bin/env bash
# Bad input to the hack/ scripts gets a clear message and a fast failure,
# never a hang. Runs while the e2e cluster is up (its ports are taken).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd -P)
pass=0
failed=0

# expect NAME REGEX CMD...: CMD must fail within 60 s and print REGEX.
expect() {
  local name=$1 re=$2 out rc
  shift 2
  out=$(timeout 60 "$@" 2>&1)
  rc=$?
  if [ $rc -eq 124 ]; then
    echo "FAIL $name: hung (timed out after 60 s)"
    failed=$((failed + 1))
  elif [ $rc -eq 0 ]; then
    echo "FAIL $name: succeeded but should have failed; output: $out"
    failed=$((failed + 1))
  elif ! grep -Eq -- "$re" <<<"$out"; then
    echo "FAIL $name: message does not match /$re/: $out"
    failed=$((failed + 1))
  else
    echo "ok   $name: $(grep -E -- "$re" <<<"$out" | head -1)"
    pass=$((pass + 1))
  fi
}

# The running e2e cluster's ports (written by hack/up.sh).
set -a
# shellcheck disable=SC1091
. "${CAIRN_STATE_DIR:?}/cluster.env"
set +a
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

expect "wrong KUBE_BIN_DIR" "KUBE_BIN_DIR=/nonexistent/bin is not a directory.*unset it" \
  env KUBE_BIN_DIR=/nonexistent/bin "$repo/hack/build-kube.sh"
mkdir -p "$scratch/emptybin"
expect "KUBE_BIN_DIR without binaries" "has no executable 'kube-apiserver'" \
  env KUBE_BIN_DIR="$scratch/emptybin" "$repo/hack/build-kube.sh"

# The e2e cluster holds CAIRN_APISERVER_PORT: a second cluster on it must stop at once.
expect "apiserver port taken" "port ${CAIRN_APISERVER_PORT} .*already in use.*CAIRN_APISERVER_PORT=" \
  env CAIRN_STATE_DIR="$scratch/other" CAIRN_ETCD_PORT=22379 CAIRN_ETCD_PEER_PORT=22380 \
  CAIRN_KCM_PORT=21257 "$repo/hack/up.sh"
expect "etcd port taken" "port ${CAIRN_ETCD_PORT} .*already in use.*CAIRN_ETCD_PORT=" \
  env CAIRN_STATE_DIR="$scratch/other2" CAIRN_APISERVER_PORT=26443 CAIRN_ETCD_PEER_PORT=22380 \
  CAIRN_KCM_PORT=21257 "$repo/hack/up.sh"

# A missing package: a PATH on which etcd cannot be found.
mkdir -p "$scratch/path"
for t in bash env cat mkdir touch ls ss pgrep setsid flock base64 openssl curl realpath dirname \
  head tr cut grep sed rm mv ln chmod sleep date tail id mktemp; do
  p=$(command -v "$t") && ln -s "$p" "$scratch/path/$t"
done
expect "missing etcd" "'etcd' is missing: install Debian's 'etcd-server' package" \
  env PATH="$scratch/path" CAIRN_STATE_DIR="$scratch/other3" "$repo/hack/up.sh"

expect "bad port value" "CAIRN_APISERVER_PORT=http is not a port number" \
  env CAIRN_STATE_DIR="$scratch/other4" CAIRN_APISERVER_PORT=http "$repo/hack/up.sh"

echo "hack_test: $pass passed, $failed failed"
[ $failed -eq 0 ]
