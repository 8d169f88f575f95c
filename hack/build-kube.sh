#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl, and the real node's
# kube-scheduler and kubelet, v1.20.2, from Debian's `kubernetes` source
# package, caching the binaries outside the checkout, keyed by version and
# recipe. Prints the directory holding the binaries.
#
#   KUBE_BIN_DIR=/path   use existing binaries instead (checked, not built):
#                        kube-apiserver, kube-controller-manager, kubectl, and
#                        with CAIRN_REAL_NODE=1 also kube-scheduler, kubelet
#   CAIRN_CACHE=/path    cache root (default ~/.cache/cairn)
set -euo pipefail

KUBE_VERSION=v1.20.2
# Bumped whenever the build recipe changes, so stale caches are rebuilt.
# r3: adds kube-scheduler and kubelet (CAIRN_REAL_NODE=1 make up).
RECIPE=r3
BINS=(kube-apiserver kube-controller-manager kubectl kube-scheduler kubelet)
# The recipe of these binaries did not change since r2: a machine that has r2's
# cache only builds what r2 lacked (kube-scheduler, kubelet: ~6 min, not ~15).
REUSE_FROM=r2
die() { echo "build-kube: $*" >&2; exit 1; }

check_dir() {
  local dir=$1 b
  for b in "${BINS[@]}"; do
    [ -x "$dir/$b" ] || return 1
  done
  "$dir/kube-apiserver" --version >/dev/null 2>&1 || return 1
}

if [ -n "${KUBE_BIN_DIR:-}" ]; then
  need=(kube-apiserver kube-controller-manager kubectl)
  [ "${CAIRN_REAL_NODE:-0}" = 1 ] && need+=(kube-scheduler kubelet)
  [ -d "$KUBE_BIN_DIR" ] || die "KUBE_BIN_DIR=$KUBE_BIN_DIR is not a directory; point it at a directory holding ${need[*]}, or unset it to build them"
  for b in "${need[@]}"; do
    [ -x "$KUBE_BIN_DIR/$b" ] || die "KUBE_BIN_DIR=$KUBE_BIN_DIR has no executable '$b'; it must hold ${need[*]} (or unset KUBE_BIN_DIR to build them from Debian's source)"
  done
  "$KUBE_BIN_DIR/kube-apiserver" --version >/dev/null 2>&1 ||
    die "KUBE_BIN_DIR=$KUBE_BIN_DIR/kube-apiserver does not run (--version failed); replace it or unset KUBE_BIN_DIR"
  echo "$KUBE_BIN_DIR"
  exit 0
fi

CACHE=${CAIRN_CACHE:-${HOME:-/root}/.cache/cairn}
OUT="$CACHE/kube/$KUBE_VERSION-$RECIPE"
if check_dir "$OUT"; then
  echo "$OUT"
  exit 0
fi

REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2
[ -f "$REFLECT2/go_above_118.go" ] ||
  die "Debian's golang-github-modern-go-reflect2-dev (>= 1.0.2) is missing; run hack/install-deps.sh (make deps)"
for tool in go rsync jq apt-get dpkg-source; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing; run hack/install-deps.sh (make deps) first"
done
grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
  die "no deb-src entry in apt's sources; run hack/install-deps.sh (make deps), which adds one"

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-kube-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Binaries of an earlier recipe that built them the same way are reused.
mkdir -p "$CACHE/kube"
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
todo=()
for b in "${BINS[@]}"; do
  old="$CACHE/kube/$KUBE_VERSION-$REUSE_FROM/$b"
  if [ -x "$old" ] && { "$old" --version || "$old" version --client; } >/dev/null 2>&1; then
    cp "$old" "$OUT.tmp/$b"
  else
    todo+=("$b")
  fi
done

echo "build-kube: fetching Debian's kubernetes source into $work" >&2
(cd "$work" && apt-get source -qq kubernetes >"$work/source.log" 2>&1) || {
  tail -20 "$work/source.log" >&2
  die "apt-get source kubernetes failed (see above); check the deb-src entry and run 'apt-get update'"
}
src=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -1)
[ -n "$src" ] || die "apt-get source produced no kubernetes-* directory"
grep -q 'gitVersion.*v1.20\|1.20.2' "$src/debian/changelog" 2>/dev/null ||
  echo "build-kube: warning: source is not labelled 1.20.2: $(head -1 "$src/debian/changelog")" >&2

# Kubernetes 1.20 vendors modern-go/reflect2 v1.0.1, which Go >= 1.18
# miscompiles into nil-pointer panics (any pretty-printed or YAML response
# crashes the apiserver). v1.0.2 is the fix and keeps the same API; Debian
# packages it, so it replaces the vendored copy.
rm -rf "$src/vendor/github.com/modern-go/reflect2"
cp -r "$REFLECT2" "$src/vendor/github.com/modern-go/reflect2"
rm -f "$src/vendor/github.com/modern-go/reflect2/go.mod"

echo "build-kube: building ${todo[*]} (about 8-20 minutes on 2 cores)" >&2
what=""
for b in "${todo[@]}"; do what="$what cmd/$b"; done
(
  cd "$src"
  # The same environment as debian/rules: a GOPATH symlink, CGO off.
  export GOPATH="$src/.go" CGO_ENABLED=0 GOFLAGS=-mod=vendor GO111MODULE=auto
  export GOCACHE="$CACHE/go-build" HOME="$work/home"
  mkdir -p .go/src/k8s.io "$HOME"
  ln -sfn ../../.. .go/src/k8s.io/kubernetes
  # Version stamp so `kubectl version` and /version report v1.20.2.
  export KUBE_GIT_VERSION=$KUBE_VERSION KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56
  make WHAT="${what# }" >"$work/build.log" 2>&1
) || {
  tail -40 "$work/build.log" >&2
  die "building kubernetes failed (log above)"
}

for b in "${todo[@]}"; do
  cp "$src/_output/bin/$b" "$OUT.tmp/$b"
done
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
check_dir "$OUT" || die "built binaries in $OUT do not run"
echo "build-kube: cached in $OUT" >&2
echo "$OUT"
