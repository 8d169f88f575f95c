#!/usr/bin/env bash
# Imports images from podman's store into the containerd of every real node
# of the local cluster (CAIRN_REAL_NODE=1 make up): nothing can be pulled
# here, so what the nodes run is built by hack/image.sh and loaded this way.
#
#   hack/load-images.sh localhost/cairn:dev [IMAGE...]
# Environment: see hack/lib.sh (CAIRN_STATE_DIR selects the cluster).
set -euo pipefail
CAIRN_LOG_PREFIX=load-images
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ $# -gt 0 ] || die "usage: hack/load-images.sh IMAGE..."
[ -f "$CAIRN_STATE/cluster.env" ] || die "no cluster in $CAIRN_STATE; start one with CAIRN_REAL_NODE=1 make up"
CAIRN_REAL_NODES=$(sed -n 's/^CAIRN_REAL_NODES=//p' "$CAIRN_STATE/cluster.env")
[ -n "$CAIRN_REAL_NODES" ] || die "the cluster in $CAIRN_STATE has no real node; start it with CAIRN_REAL_NODE=1 make up"
export CAIRN_REAL_NODES
# shellcheck source=hack/real-node.sh
. "$CAIRN_HACK_DIR/real-node.sh"
real_node_load "$@"
