#!/usr/bin/env bash
# Renders charts/cairn the way `helm template` does (no helm binary can be
# installed here): builds hack/chart/render.go with Debian's Go, sprig and
# yaml.v2 (no network, no modules) the first time or when it changed, then
# runs it with the arguments given.
#
#   hack/render-chart.sh --release-name cairn --namespace cairn-system \
#       [-f values.yaml] [--set a.b=c] [--output-dir DIR] [--include-crds]
#
# --chart defaults to charts/cairn. The binary is cached in
# $CAIRN_CHART_RENDER_DIR (default build/chart-render).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd -P)
dir=${CAIRN_CHART_RENDER_DIR:-$repo/build/chart-render}
bin=$dir/render
src=$repo/hack/chart/render.go
mkdir -p "$dir"
command -v go >/dev/null 2>&1 || {
  echo "render-chart: go is missing: run hack/install-deps.sh (golang-go, golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v2-dev)" >&2
  exit 1
}
(
  # Parallel callers (ctest -j) build once.
  flock 9
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    mkdir -p "$dir/go-cache"
    tmp=$(mktemp -d "$dir/src.XXXXXX")
    cp "$src" "$tmp/render.go"
    (cd "$tmp" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$dir/go-cache" GOFLAGS='' \
      go build -o "$bin.new" render.go) || { rm -rf "$tmp"; exit 1; }
    rm -rf "$tmp"
    mv -f "$bin.new" "$bin"
  fi
) 9>"$dir/.lock"
args=("$@")
have_chart=0
for a in "$@"; do
  case $a in --chart|--chart=*|-chart|-chart=*) have_chart=1 ;; esac
done
[ $have_chart -eq 1 ] || args=(--chart "$repo/charts/cairn" "${args[@]}")
exec "$bin" "${args[@]}"
