#!/usr/bin/env bash
# Installs every Debian package Cairn needs to build, test and run its demo.
# Idempotent: packages already present are skipped, apt is only touched when
# something is missing. Needs root (or sudo) and Debian's package mirrors.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  # libraries (shared/design.md: the project's dependencies)
  libcpprest-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libgit2-dev libsimdjson-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libboost-dev
  # local control plane: etcd, and what building kube-apiserver from source needs
  etcd-server golang-go rsync jq dpkg-dev openssl curl procps psmisc iproute2 util-linux
  golang-github-modern-go-reflect2-dev
  # git server (git daemon, git http-backend behind nginx with TLS + basic auth);
  # ssh/gpg for lib/git's signature and SSH-transport tests against real tools
  git nginx-light fcgiwrap openssh-client openssh-server gpg gpg-agent
  # Prometheus for analysis and metrics tests
  prometheus
  # chart rendering (Go text/template + sprig, as Helm does)
  golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev
  # images and the real node (make image, CAIRN_REAL_NODE=1 make up): podman,
  # a Debian root by debootstrap, containerd + runc (not crun: the hybrid
  # cgroup hierarchy), CNI's loopback plugin, static busybox/libc for the
  # e2e app and pause images, iptables for kubelet's checks
  podman buildah debootstrap containerd runc containernetworking-plugins busybox-static
  iptables libc6-dev
  # load generators for bench/
  wrk hey
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: must run as root or with sudo available" >&2; exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# apt-get source needs a deb-src entry for the machine's own Debian suite.
src_list=/etc/apt/sources.list.d/cairn-src.sources
need_update=0
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  echo "install-deps: adding a deb-src entry for Debian ${suite} (${src_list})"
  $SUDO tee "$src_list" >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${suite}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $need_update -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  # Daemons installed here (nginx, etcd, prometheus) must not start system-wide
  # services: the project starts its own instances on its own ports.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  trap '[ $created_policy -eq 1 ] && $SUDO rm -f "$policy"' EXIT
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: done"
