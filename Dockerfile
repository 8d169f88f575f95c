# syntax=docker/dockerfile:1
# Cairn's two binaries in one small image, as charts/cairn runs them
# (command: /usr/local/bin/cairn-operator or /usr/local/bin/cairn-webhook,
# UID 65532, read-only root filesystem):
#
#   docker build -t ghcr.io/cairn-dev/cairn:0.1.0 .
#   docker build --target operator -t cairn-operator .   # ENTRYPOINT cairn-operator
#   docker build --target webhook -t cairn-webhook .     # ENTRYPOINT cairn-webhook
#
# Debian 12 for both stages: the runtime libraries are the very packages the
# build linked against (hack/install-deps.sh lists the same -dev packages).

FROM debian:12 AS build
# GoogleTest too: CMake configures the tests (find_package(GTest REQUIRED)).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libcpprest-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libgit2-dev \
      prometheus-cpp-dev libboost-dev libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target cairn-operator cairn-webhook \
 && strip /build/operator/cairn-operator /build/webhook/cairn-webhook

FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libgit2-1.5 libyaml-cpp0.7 libssl3 \
      libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin cairn
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
