#!/usr/bin/env bash
# The README's first command (make demo). Today it shows the foundation that
# Cairn runs on: a local control plane built from Debian's Kubernetes source,
# the node simulator rolling out a Deployment and running a Job's command for
# real. The Cairn operator and webhook are not built yet (see README).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd -P)
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" 2>/dev/null || true; }

say "Starting the local control plane (etcd, kube-apiserver, kube-controller-manager v1.20.2) and the node simulator"
"$repo/hack/up.sh"
state=$(realpath -m -- "${CAIRN_STATE_DIR:-$repo/.cairn}")
export KUBECONFIG=$state/kubeconfig
kubectl=$state/bin/kubectl

say "Nodes (simulated: no container runtime, Job commands run as local processes)"
"$kubectl" get nodes -o wide

ns=cairn-demo
"$kubectl" create namespace "$ns" --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null

say "A Deployment of 3 replicas rolls out"
"$kubectl" -n "$ns" apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
YAML
"$kubectl" -n "$ns" rollout status deployment/web --timeout=120s
"$kubectl" -n "$ns" get pods -o wide

say "A Job whose command really runs (it computes a checksum and reports it as its termination message)"
"$kubectl" -n "$ns" delete job checksum --ignore-not-found >/dev/null
"$kubectl" -n "$ns" apply -f - <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: checksum}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: debian:bookworm
        command: [/bin/sh, -c]
        args: ["echo 'hello from cairn' | sha256sum | cut -c1-16 > /dev/termination-log"]
YAML
"$kubectl" -n "$ns" wait --for=condition=Complete job/checksum --timeout=120s
echo "termination message: $("$kubectl" -n "$ns" get pods -l job-name=checksum \
  -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.message}')"

say "Done. Look around with:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  $kubectl get all -A"
echo "Stop everything with: make down"
