# syntax=docker/dockerfile:1
# Cairn's two binaries in one small image, as charts/cairn runs them
# (command: /usr/local/bin/cairn-operator or /usr/local/bin/cairn-webhook,
# UID 65532, read-only root filesystem). No registry is needed: BASE is a
# Debian 12 root made by debootstrap (hack/image.sh, `make image`):
#
#   make image                                   # base + this file, size and digest
#   podman build --build-arg BASE=localhost/cairn-base:bookworm-r1 -t cairn .
#   ... --target operator / --target webhook     # ENTRYPOINT of one binary
#
# Debian 12 for both stages: the runtime libraries are the very packages the
# build linked against (hack/install-deps.sh lists the same -dev packages).
ARG BASE=localhost/cairn-base:bookworm-r1

FROM ${BASE} AS build
# GoogleTest too: CMake configures the tests (find_package(GTest REQUIRED)).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ccache \
      libcpprest-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libgit2-dev \
      libsimdjson-dev prometheus-cpp-dev libboost-dev libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The compiler cache survives between builds (a cache mount, outside the
# image and the checkout): a rebuild after a small change recompiles little.
# runtime-packages: the Debian packages that own the shared libraries the two
# binaries load, for the runtime stage (nothing more).
RUN --mount=type=cache,target=/ccache,id=cairn-ccache-bookworm \
    export CCACHE_DIR=/ccache CCACHE_MAXSIZE=2G \
 && cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && cmake --build /build -j"$(nproc)" --target cairn-operator cairn-webhook \
 && strip /build/operator/cairn-operator /build/webhook/cairn-webhook \
 && { ccache --show-stats | grep -iE 'hits|misses' || true; }
RUN set -e; \
    for lib in $(ldd /build/operator/cairn-operator /build/webhook/cairn-webhook \
                 | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do \
      real=$(readlink -f "$lib"); \
      dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "/usr$real"; \
    done | cut -d: -f1 | sort -u | grep -vx 'libc6\|libgcc-s1\|libstdc++6' >/build/runtime-packages \
 && cat /build/runtime-packages

FROM ${BASE} AS runtime
COPY --from=build /build/runtime-packages /tmp/runtime-packages
# Only the runtime libraries (and CA certificates for git over https): no
# compiler, no -dev package, no apt lists. The user is written directly: a
# minbase root has no useradd.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates $(cat /tmp/runtime-packages) \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /tmp/runtime-packages \
 && echo 'cairn:x:65532:65532:cairn:/tmp:/usr/sbin/nologin' >>/etc/passwd \
 && echo 'cairn:x:65532:' >>/etc/group
COPY --from=build /build/operator/cairn-operator /build/webhook/cairn-webhook /usr/local/bin/
# libgit2 looks for a home directory; /tmp is an emptyDir in the chart.
ENV HOME=/tmp
USER 65532:65532

FROM runtime AS webhook
EXPOSE 9443 8082
ENTRYPOINT ["/usr/local/bin/cairn-webhook"]

FROM runtime AS operator
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/cairn-operator"]

# The default target: both binaries (the chart sets the command).
FROM runtime AS cairn
ENTRYPOINT ["/usr/local/bin/cairn-operator"]
