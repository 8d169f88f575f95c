#!/usr/bin/env bash
# Builds Cairn's container images with podman, from nothing but Debian's apt
# mirrors (no registry can be reached):
#
#   base   Debian 12 (bookworm) minbase made by debootstrap from the mirrors
#          in the machine's apt sources; built once, cached outside the
#          checkout as a tarball keyed by BASE_RECIPE, imported into podman
#          as localhost/cairn-base:bookworm-<recipe>.
#   cairn  the Dockerfile at the repository root, FROM that base; prints the
#          image's size and digest.
#   pause  the real node's pod sandbox image (hack/image/pause.c, -static).
#   app    a tiny HTTP app for the install e2e test (busybox httpd).
#
#   hack/image.sh [base|cairn|pause|app|all]...    (default: all)
#
# Environment:
#   CAIRN_IMAGE        repository of Cairn's image (default localhost/cairn)
#   CAIRN_IMAGE_TAG    its tag (default dev)
#   CAIRN_IMAGE_BUILD  a label value baked into the image; a new value makes
#                      a new image (new digest) from the same source
#   CAIRN_CACHE        cache root (default ~/.cache/cairn)
# The last line of each build is "image: REF size=BYTES (MB) digest=sha256:...".
set -euo pipefail

die() { echo "image: error: $*" >&2; exit 1; }
log() { echo "image: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${CAIRN_CACHE:-${HOME:-/root}/.cache/cairn}
# Bumped whenever the base's recipe changes (packages, mirrors, cleanup).
BASE_RECIPE=r1
BASE_REF=localhost/cairn-base:bookworm-$BASE_RECIPE
PAUSE_REF=localhost/cairn-pause:3.2
APP_REF=localhost/cairn-e2e-app:1
IMAGE=${CAIRN_IMAGE:-localhost/cairn}
TAG=${CAIRN_IMAGE_TAG:-dev}
BUILD_LABEL=${CAIRN_IMAGE_BUILD:-}
IMAGES_DIR=$CACHE/images

# podman and buildah read this instead of /etc/containers/containers.conf:
# nothing system-wide is changed (rlimits, runc, cgroupfs, host network).
export CONTAINERS_CONF=$repo/hack/image/containers.conf

for tool in podman debootstrap tar gcc flock; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing; run hack/install-deps.sh (make deps)"
done
[ "$(id -u)" = 0 ] || die "podman builds here run as root (rootless podman cannot set the limits it needs); run as root"

mkdir -p "$IMAGES_DIR"
exec 8>"$IMAGES_DIR/.lock"
flock -w 1800 8 || die "another hack/image.sh holds $IMAGES_DIR/.lock"

# report REF: size and digest, one line.
report() {
  local size digest
  size=$(podman image inspect --format '{{.Size}}' "$1")
  digest=$(podman image inspect --format '{{.Digest}}' "$1")
  echo "image: $1 size=$size ($((size / 1000000)) MB) digest=$digest"
}

# The first URI of the apt sources that serves suite $1 (deb822 .sources
# files and one-line .list entries).
apt_uri() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types = $i
          if ($i ~ /^URIs:/) uris = $i
          if ($i ~ /^Suites:/) suites = $i
        }
        if (types ~ /[ \t]deb([ \t]|$)/ && (" " suites " ") ~ ("[ \t]" s "[ \t]")) {
          sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    { awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == s) print $i }' || true; }
  return 0
}

build_base() {
  if podman image exists "$BASE_REF"; then
    log "base $BASE_REF present"
    return 0
  fi
  local tarball=$IMAGES_DIR/debian12-minbase-$BASE_RECIPE.tar
  if [ ! -s "$tarball" ]; then
    local mirror security rootfs t0=$SECONDS
    mirror=$(apt_uri bookworm | head -1)
    security=$(apt_uri bookworm-security | head -1)
    [ -n "$mirror" ] || die "no 'deb' entry for Debian bookworm in /etc/apt/sources.list{,.d}; add the Debian mirror there"
    rootfs=$(mktemp -d "$IMAGES_DIR/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap --variant=minbase bookworm from $mirror (once; cached in $tarball)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$IMAGES_DIR/debootstrap.log" 2>&1 || {
      tail -20 "$IMAGES_DIR/debootstrap.log" >&2
      die "debootstrap failed (log above, in $IMAGES_DIR/debootstrap.log); check the mirror in your apt sources"
    }
    # The image's apt reads the same mirrors as this machine.
    rm -f "$rootfs/etc/apt/sources.list"
    {
      printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror"
      if [ -n "$security" ]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
      fi
    } >"$rootfs/etc/apt/sources.list.d/debian.sources"
    # As Debian's official images: no recommends, no cached .debs or lists.
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90cairn-image"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" .
    mv -f "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
    log "base rootfs built in $((SECONDS - t0))s"
  fi
  podman import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$BASE_REF" >/dev/null 2>&1 ||
    die "podman import of $tarball failed; delete it and run again"
  report "$BASE_REF"
}

build_cairn() {
  build_base
  local t0=$SECONDS
  log "building $IMAGE:$TAG from $repo/Dockerfile (FROM $BASE_REF)"
  # --layers: unchanged steps (the apt installs) come from podman's layer
  # cache; the compile uses a ccache directory kept by buildah across builds
  # (RUN --mount=type=cache in the Dockerfile).
  podman build --layers --pull=never --build-arg "BASE=$BASE_REF" \
    --label "dev.cairn.build=$BUILD_LABEL" --target cairn -t "$IMAGE:$TAG" \
    -f "$repo/Dockerfile" "$repo" >"$IMAGES_DIR/cairn-build.log" 2>&1 || {
    tail -40 "$IMAGES_DIR/cairn-build.log" >&2
    die "podman build failed (log above, in $IMAGES_DIR/cairn-build.log)"
  }
  log "built $IMAGE:$TAG in $((SECONDS - t0))s"
  report "$IMAGE:$TAG"
}

build_small() { # REF CONTAINERFILE FILE...: a FROM-scratch image from files
  local ref=$1 file=$2 ctx
  shift 2
  ctx=$(mktemp -d)
  cp "$@" "$ctx/"
  podman build --layers --pull=never -t "$ref" -f "$repo/hack/image/$file" "$ctx" >"$IMAGES_DIR/${file%%.*}-build.log" 2>&1 || {
    tail -20 "$IMAGES_DIR/${file%%.*}-build.log" >&2
    rm -rf "$ctx"
    die "podman build of $ref failed (log above)"
  }
  rm -rf "$ctx"
  report "$ref"
}

build_pause() {
  local out=$IMAGES_DIR/pause-build
  mkdir -p "$out"
  gcc -static -O2 -s -o "$out/pause" "$repo/hack/image/pause.c" ||
    die "cannot compile hack/image/pause.c statically; install libc6-dev (make deps)"
  build_small "$PAUSE_REF" pause.Containerfile "$out/pause"
}

build_app() {
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' && [ -x /bin/busybox ] ||
    die "/bin/busybox is not Debian's static busybox; install busybox-static (make deps)"
  local out=$IMAGES_DIR/app-build
  mkdir -p "$out"
  cp /bin/busybox "$out/busybox"
  echo "cairn e2e app" >"$out/index.html"
  build_small "$APP_REF" app.Containerfile "$out/busybox" "$out/index.html"
}

[ $# -gt 0 ] || set -- all
for what in "$@"; do
  case $what in
    base) build_base ;;
    cairn) build_cairn ;;
    pause) build_pause ;;
    app) build_app ;;
    all) build_cairn; build_pause; build_app ;;
    *) die "unknown image '$what'; one of: base cairn pause app all" ;;
  esac
done
