#!/usr/bin/env bash
# e2e.install (issue #16): Cairn installed as a platform team would, on real
# kubelets, end to end:
#   1. build the image (make image: debootstrap base, Dockerfile, pause, app);
#   2. bring up a cluster with two real nodes (containerd + runc + kubelet);
#   3. install from the chart (rendered, applied): operator and webhook run as
#      pods from the image, non-root, read-only root, probes, chart certs;
#   4. a Release deploys an app built here; its pods become Ready;
#   5. the webhook (a pod) denies a hand edit, also by a team member whose
#      `edit` role now covers Releases (aggregated ClusterRoles);
#   6. upgrade to a rebuilt image (new digest): both Deployments roll, with
#      admissions driven throughout and none failing;
#   7. uninstall and take the cluster down: no process, mount, iptables
#      chain, cgroup, interface or file outside the state directory is left.
# Every wait is for a condition, with a deadline.
#
# Environment (set by e2e/CMakeLists.txt): CAIRN_STATE_DIR (its own cluster,
# not the shared e2e one; ports below differ from the shared cluster's, and
# are below the kernel's ephemeral range (32768-60999): a port in it can be
# taken at any moment by an outgoing connection's local end, and the app or a
# kubelet then fails to bind, as CI once saw).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd -P)
state=$(realpath -m -- "${CAIRN_STATE_DIR:?CAIRN_STATE_DIR must be set}")
export CAIRN_STATE_DIR=$state CAIRN_REAL_NODE=1 CAIRN_REAL_NODES=2
export CAIRN_APISERVER_PORT=27443 CAIRN_ETCD_PORT=27379 CAIRN_ETCD_PEER_PORT=27380 CAIRN_KCM_PORT=27257
export CAIRN_KUBELET_PORT=27250 CAIRN_KUBELET_HEALTHZ_PORT=27248 CAIRN_SCHEDULER_PORT=27259
export CAIRN_GIT_STATE=$state-git CAIRN_GIT_DAEMON_PORT=27418 CAIRN_GIT_HTTPS_PORT=27453
unset CAIRN_NODE_SIM KUBECONFIG
export CAIRN_IMAGE=localhost/cairn
NS=cairn-system
APP_PORT=27088
T0=$SECONDS
declare -A TIMES

step() { echo "install_test: [$((SECONDS - T0))s] $*"; }
fail() {
  echo "install_test: FAIL: $*" >&2
  exit 1
}
K() { "$state/bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }
# await SECONDS WHAT CMD...: polls CMD (every 0.5 s) until it succeeds.
# WHAT is expanded when await is called; DIAG (a command, optional) is run at
# the failure, to show the state then.
await() {
  local timeout=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what (not within ${timeout}s)${DIAG:+: $($DIAG 2>&1)}"
    sleep 0.5
  done
}
timed() { # NAME CMD...: runs CMD, records its duration
  local t=$SECONDS name=$1
  shift
  "$@"
  TIMES[$name]=$((SECONDS - t))
}

# ------------------------------------------------ what must be left as found
sysctls_before=$(for s in vm/overcommit_memory kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
  echo "$s=$(cat /proc/sys/$s)"
done)
outside_before=$(ls -d /var/log/pods /var/log/containers /run/containerd 2>/dev/null || true)
kube_chains_before=$(iptables-save 2>/dev/null | grep -c '^:KUBE-' || true)

leftovers() {
  local bad=0 l
  l=$(pgrep -af -- "$state" | grep -v install_test || true)
  [ -z "$l" ] || { echo "processes left: $l" >&2; bad=1; }
  l=$(findmnt -rn -o TARGET | grep -F -- "$state" || true)
  [ -z "$l" ] || { echo "mounts left: $l" >&2; bad=1; }
  [ "$(iptables-save 2>/dev/null | grep -c '^:KUBE-' || true)" = "$kube_chains_before" ] ||
    { echo "iptables KUBE-* chains left: $(iptables-save | grep '^:KUBE-')" >&2; bad=1; }
  l=$(ls -d /sys/fs/cgroup/*/cairn-node-* /sys/fs/cgroup/*/kubepods 2>/dev/null || true)
  [ -z "$l" ] || { echo "cgroups left: $l" >&2; bad=1; }
  l=$(ip -o link show 2>/dev/null | grep -o 'cairn-node-[0-9]*' || true)
  [ -z "$l" ] || { echo "interfaces left: $l" >&2; bad=1; }
  [ "$(ls -d /var/log/pods /var/log/containers /run/containerd 2>/dev/null || true)" = "$outside_before" ] ||
    { echo "files left outside the state directory: $(ls -d /var/log/pods /var/log/containers /run/containerd 2>/dev/null)" >&2; bad=1; }
  l=$(for s in vm/overcommit_memory kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
    echo "$s=$(cat /proc/sys/$s)"
  done)
  [ "$l" = "$sysctls_before" ] || { echo "sysctls changed: $(diff <(echo "$sysctls_before") <(echo "$l") | tr '\n' ' ')" >&2; bad=1; }
  [ ! -e "$state" ] || { echo "$state still exists" >&2; bad=1; }
  return $bad
}

teardown() {
  local rc=$?
  trap - EXIT
  [ $rc = 0 ] || { step "failed; logs of the cluster:"; tail -n 5 "$state"/logs/*.log 2>/dev/null | tail -n 80 || true; }
  step "down"
  local t=$SECONDS
  "$repo/hack/git-server.sh" stop >/dev/null 2>&1 || true
  "$repo/hack/down.sh" || rc=1
  TIMES[down]=$((SECONDS - t))
  if leftovers; then step "nothing left behind"; else
    echo "install_test: FAIL: make down left something behind (above)" >&2
    rc=1
  fi
  for k in image up install release upgrade-image upgrade uninstall down; do
    [ -n "${TIMES[$k]:-}" ] && echo "install_test: time $k ${TIMES[$k]}s"
  done
  echo "install_test: total $((SECONDS - T0))s, $([ $rc = 0 ] && echo PASS || echo FAIL)"
  exit $rc
}

# ------------------------------------------------------------ 1. the image
step "1. make image (base, Cairn from the Dockerfile, pause, app)"
build_image() {
  CAIRN_IMAGE_TAG=e2e-1 CAIRN_IMAGE_BUILD=e2e-1 "$repo/hack/image.sh" all | tee "$state.image.log"
}
mkdir -p "$(dirname "$state")"
export CONTAINERS_CONF=$repo/hack/image/containers.conf
timed image build_image
img_id() { podman image inspect --format '{{.Id}}' "$1"; }
ID1=$(img_id "$CAIRN_IMAGE:e2e-1")
size=$(podman image inspect --format '{{.Size}}' "$CAIRN_IMAGE:e2e-1")
step "image $CAIRN_IMAGE:e2e-1 id ${ID1:0:12}, $((size / 1000000)) MB"
# Lean: no compiler, no -dev package, no apt lists; both binaries start.
podman run --rm --entrypoint /bin/sh "$CAIRN_IMAGE:e2e-1" -c \
  'test ! -e /usr/bin/g++ && test ! -e /usr/bin/cc && test ! -e /usr/include/simdjson.h && test -z "$(ls /var/lib/apt/lists)" && ! dpkg-query -W -f "\${Package}\n" | grep -q -- "-dev$"' ||
  fail "the runtime image holds build tools, -dev packages or apt lists"
for b in cairn-operator cairn-webhook; do
  rc=0
  out=$(podman run --rm --read-only --user 65532:65532 --entrypoint "/usr/local/bin/$b" "$CAIRN_IMAGE:e2e-1" --help 2>&1) || rc=$?
  [ $rc != 127 ] && ! grep -q 'error while loading shared libraries' <<<"$out" && grep -q -- '--kubeconfig' <<<"$out" ||
    fail "$b does not start in the image (exit $rc): $out"
done
rm -f "$state.image.log"

# SIGTERM is honoured while the informers are still syncing (issue #16: the
# webhook ignored it and was killed after the grace period): each binary, in
# the image, against an apiserver that never answers, stops at once.
sig=$(mktemp -d)
[ -n "$sig" ] && [ -d "$sig" ] || fail "mktemp -d failed"
chmod 755 "$sig"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$sig/tls.key" \
  -out "$sig/tls.crt" -subj /CN=sigterm -days 1 2>/dev/null
cp "$sig/tls.crt" "$sig/ca.crt"
printf '%s\n' 'apiVersion: v1' 'kind: Config' \
  'clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1", certificate-authority: /cfg/ca.crt}}]' \
  'users: [{name: gone, user: {token: t}}]' \
  'contexts: [{name: gone, context: {cluster: gone, user: gone}}]' \
  'current-context: gone' >"$sig/kubeconfig"
chmod 644 "$sig/tls.key" "$sig/tls.crt" "$sig/ca.crt" "$sig/kubeconfig"
started() { podman logs "cairn-e2e-sigterm-$1" 2>&1 | grep -q .; }
for b in cairn-webhook cairn-operator; do
  extra=()
  [ $b = cairn-webhook ] && extra=(--addr 127.0.0.1:0 --tls-cert /cfg/tls.crt --tls-key /cfg/tls.key)
  podman run -d --name "cairn-e2e-sigterm-$b" -v "$sig:/cfg:ro" --entrypoint "/usr/local/bin/$b" \
    "$CAIRN_IMAGE:e2e-1" --kubeconfig /cfg/kubeconfig --probe-addr 127.0.0.1:0 "${extra[@]}" >/dev/null
  await 30 "$b did not start" started "$b"
  t=$SECONDS
  podman stop -t 30 "cairn-e2e-sigterm-$b" >/dev/null
  rc=$(podman inspect -f '{{.State.ExitCode}}' "cairn-e2e-sigterm-$b")
  out=$(podman logs "cairn-e2e-sigterm-$b" 2>&1 | tail -n 3)
  podman rm "cairn-e2e-sigterm-$b" >/dev/null
  [ "$rc" = 0 ] && [ $((SECONDS - t)) -le 5 ] && grep -q 'before the' <<<"$out" ||
    fail "$b did not stop on SIGTERM while its informers synced (exit $rc after $((SECONDS - t))s): $out"
  step "$b stopped on SIGTERM during informer sync in $((SECONDS - t))s (exit 0)"
done
rm -rf -- "$sig"

# --------------------------------------------------------- 2. real nodes
trap teardown EXIT
step "2. CAIRN_REAL_NODE=1 up (2 real nodes)"
timed up "$repo/hack/up.sh"
timed up-load "$repo/hack/load-images.sh" "$CAIRN_IMAGE:e2e-1" localhost/cairn-e2e-app:1
for n in cairn-node-1 cairn-node-2; do
  [ "$(K get node "$n" -o jsonpath='{.spec.taints[0].key}')" = cairn.dev/node ] || fail "$n is not tainted"
done

# --------------------------------------------------------- 3. the chart
step "3. install from the chart"
"$repo/hack/git-server.sh" start >/dev/null
# shellcheck disable=SC1091
. "$CAIRN_GIT_STATE/git.env"
values=$state/values.yaml
write_values() { # TAG
  cat >"$values" <<EOF
image: {repository: $CAIRN_IMAGE, tag: $1, pullPolicy: Never}
logFormat: text
operator:
  hostNetwork: true
  probes: {port: 27081}
  metrics: {port: 27080}
  nodeSelector: {cairn.dev/node: real}
  tolerations: [{key: cairn.dev/node, operator: Equal, value: real, effect: NoSchedule}]
  # No kube-proxy: the apiserver is reached on the node's loopback.
  env: [{name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}, {name: KUBERNETES_SERVICE_PORT, value: "$CAIRN_APISERVER_PORT"}]
  terminationGracePeriodSeconds: 15
webhook:
  hostNetwork: true
  # The test's admin is the platform team: it creates and deletes Releases.
  platformGroup: "system:masters"
  replicas: 2
  port: 27543
  probes: {port: 27082}
  antiAffinity: hard
  nodeSelector: {cairn.dev/node: real}
  tolerations: [{key: cairn.dev/node, operator: Equal, value: real, effect: NoSchedule}]
  env: [{name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}, {name: KUBERNETES_SERVICE_PORT, value: "$CAIRN_APISERVER_PORT"}]
  terminationGracePeriodSeconds: 20
EOF
}
render() { # FILE [FLAGS...]: CRDs first, then the templates, as `helm template --include-crds`
  local out=$1
  shift
  "$repo/hack/render-chart.sh" --release-name cairn --namespace "$NS" -f "$values" \
    --include-crds "$@" >"$out" || fail "rendering the chart failed"
}
install() {
  write_values e2e-1
  render "$state/chart-1.yaml"
  K create namespace "$NS" >/dev/null
  K apply -f "$state/chart-1.yaml" >/dev/null
  K -n "$NS" rollout status deployment/cairn-operator --timeout=180s >/dev/null ||
    fail "the operator did not roll out: $(K -n "$NS" get pods -o wide)"
  K -n "$NS" rollout status deployment/cairn-webhook --timeout=180s >/dev/null ||
    fail "the webhook did not roll out: $(K -n "$NS" get pods -o wide)"
}
timed install install
K -n "$NS" get pods -o wide
[ "$(K -n "$NS" get pods -l app.kubernetes.io/component=webhook -o jsonpath='{.items[*].spec.nodeName}' | tr ' ' '\n' | sort -u | wc -l)" = 2 ] ||
  fail "the two webhook replicas are not on two nodes"
# As the chart says: UID 65532, read-only root (seen from the host's /proc).
# in_pods NAME: pids of NAME running in this cluster's containers (their
# cgroups are under the nodes' roots; other cairn-webhooks on the machine,
# e.g. other test suites', are not).
in_pods() {
  local pid
  for pid in $(pgrep -x "$1" || true); do
    grep -q ':/cairn-node-[0-9]/' "/proc/$pid/cgroup" 2>/dev/null && echo "$pid"
  done
  return 0
}
for b in cairn-operator cairn-webhook; do
  for pid in $(in_pods "$b"); do
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
    [ "$uid" = 65532 ] || fail "$b (pid $pid) runs as uid $uid, not 65532"
    awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' || fail "$b (pid $pid) has a writable root filesystem"
  done
done
[ "$(in_pods cairn-webhook | wc -l)" -ge 2 ] || fail "no two cairn-webhook processes run in containers"
[ "$(in_pods cairn-operator | wc -l)" -ge 1 ] || fail "no cairn-operator process runs in a container"

# --------------------------------------------------------- 4. a Release
step "4. a Release deploys an app built here"
work=$(mktemp -d)
"$repo/hack/git-server.sh" create-repo app >/dev/null
git clone -q "$CAIRN_GIT_DAEMON_URL/app.git" "$work/app" 2>/dev/null
mkdir -p "$work/app/deploy"
cat >"$work/app/deploy/web.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostNetwork: true
      nodeSelector: {cairn.dev/node: real}
      tolerations: [{key: cairn.dev/node, operator: Equal, value: real, effect: NoSchedule}]
      securityContext: {runAsNonRoot: true, runAsUser: 65532}
      containers:
        - name: web
          image: localhost/cairn-e2e-app:1
          imagePullPolicy: Never
          args: ["-p", "$APP_PORT"]
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
          readinessProbe:
            httpGet: {path: /index.html, port: $APP_PORT}
            periodSeconds: 2
EOF
(cd "$work/app" && git add -A && git -c user.name=e2e -c user.email=e2e@cairn.dev commit -qm "web" &&
  git push -q origin HEAD:main 2>/dev/null)
commit=$(git -C "$work/app" rev-parse HEAD)
K create namespace shop >/dev/null
release() {
  K apply -f - >/dev/null <<EOF
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web, namespace: shop}
spec:
  source: {url: $CAIRN_GIT_DAEMON_URL/app.git, branch: main, interval: 10s}
  path: deploy
  rollout: {progressDeadline: 120s}
EOF
  deployed() { [ "$(K -n shop get release web -o jsonpath='{.status.phase} {.status.lastAttemptedCommit}')" = "Deployed $commit" ]; }
  release_diag() { K -n shop get release web -o yaml | tail -30; }
  DIAG=release_diag await 180 "the Release did not reach Deployed at $commit" deployed
}
timed release release
ready() { [ "$(K -n shop get deployment web -o jsonpath='{.status.readyReplicas}')" = 1 ]; }
app_diag() {
  K -n shop get pods -o wide
  K -n shop logs deployment/web --tail=20
  K -n shop logs deployment/web --previous --tail=20
}
DIAG=app_diag await 60 "the app's pod did not become Ready" ready
[ "$(curl -fsS --max-time 3 "http://127.0.0.1:$APP_PORT/index.html")" = "cairn e2e app" ] ||
  fail "the app does not answer on :$APP_PORT"
step "app Ready on $(K -n shop get pods -l app=web -o jsonpath='{.items[0].spec.nodeName}'), answering"

# --------------------------------------------------------- 5. a hand edit
step "5. the webhook denies a hand edit"
# A team member with the built-in edit role (bound before the namespace is
# governed: a RoleBinding is a governed kind, and this one is not in git).
K -n shop create rolebinding alice-edit --clusterrole=edit --user=alice >/dev/null
K label namespace shop cairn.dev/enforce=deny >/dev/null
[ "$(K --as=alice -n shop get release web -o jsonpath='{.metadata.name}')" = web ] ||
  fail "alice (edit) cannot read Releases: the aggregated ClusterRoles did not reach edit"
K --as=alice auth can-i patch releases.cairn.dev -n shop >/dev/null || fail "edit does not cover patching Releases"
denied() { # WHO...
  local out
  if out=$(K "$@" -n shop set image deployment/web web=localhost/cairn-e2e-app:hand 2>&1); then
    fail "a hand edit ($*) was admitted"
  fi
  grep -q 'denied the request' <<<"$out" || fail "the hand edit failed, but not by the webhook's denial: $out"
  echo "$out" | head -2
}
denied --as=alice
denied
[ "$(K -n shop get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" = localhost/cairn-e2e-app:1 ] ||
  fail "the image changed"

# --------------------------------------------------------- 6. upgrade
step "6. upgrade to a rebuilt image, admissions driven throughout"
rebuild() {
  CAIRN_IMAGE_TAG=e2e-2 CAIRN_IMAGE_BUILD="e2e-2-$(date +%s)" "$repo/hack/image.sh" cairn
  "$repo/hack/load-images.sh" "$CAIRN_IMAGE:e2e-2"
}
timed upgrade-image rebuild
ID2=$(img_id "$CAIRN_IMAGE:e2e-2")
[ "$ID2" != "$ID1" ] || fail "the rebuilt image has the same id as the first"

# Admission driver: server-side dry-run patches of the governed Deployment.
# Each must come back as the webhook's denial; anything else (connection
# refused, timeout, "failed calling webhook") is a failed admission.
drive=$state/admissions
mkdir -p "$drive"
: >"$drive/answered"
: >"$drive/failed"
driver() {
  local body
  while [ ! -e "$drive/stop" ]; do
    body=$(curl -sS --max-time 10 -A cairn-e2e -X PATCH --cacert "$state/pki/ca.crt" \
      --cert "$state/pki/admin.crt" --key "$state/pki/admin.key" \
      -H 'Content-Type: application/strategic-merge-patch+json' \
      --data '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"localhost/cairn-e2e-app:drive"}]}}}}' \
      "https://127.0.0.1:$CAIRN_APISERVER_PORT/apis/apps/v1/namespaces/shop/deployments/web?dryRun=All" 2>&1) || true
    if grep -q 'denied the request' <<<"$body"; then echo . >>"$drive/answered"; else
      echo "$body" | tr '\n' ' ' | cut -c1-300 >>"$drive/failed"
      echo >>"$drive/failed"
    fi
  done
}
driver &
driver_pid=$!
upgrade() {
  write_values e2e-2
  # As `helm upgrade` does, the chart's lookup finds the live Secrets, so the
  # certificates (and the caBundle) stay those the running replicas serve.
  K -n "$NS" get secrets -o json >"$state/live-secrets.json"
  render "$state/chart-2.yaml" --lookup-objects "$state/live-secrets.json"
  cmp -s <(grep caBundle "$state/chart-1.yaml") <(grep caBundle "$state/chart-2.yaml") ||
    fail "the upgrade would replace the webhook's CA (lookup did not find the Secret)"
  K apply -f "$state/chart-2.yaml" >/dev/null
  K -n "$NS" rollout status deployment/cairn-webhook --timeout=240s >/dev/null ||
    fail "the webhook did not roll to e2e-2: $(K -n "$NS" get pods -o wide)"
  K -n "$NS" rollout status deployment/cairn-operator --timeout=240s >/dev/null ||
    fail "the operator did not roll to e2e-2: $(K -n "$NS" get pods -o wide)"
}
timed upgrade upgrade
# A few more answers from the new replicas, then stop the driver.
n0=$(wc -l <"$drive/answered")
more() { [ "$(wc -l <"$drive/answered")" -ge $((n0 + 5)) ]; }
await 30 "no admissions answered after the rollout" more
touch "$drive/stop"
wait "$driver_pid" || true
answered=$(wc -l <"$drive/answered")
failed=$(grep -c . "$drive/failed" || true)
step "admissions during the upgrade: $answered answered, $failed failed"
[ "$failed" = 0 ] || fail "$failed admissions failed during the roll, e.g.: $(head -3 "$drive/failed")"
[ "$answered" -ge 20 ] || fail "only $answered admissions were driven during the upgrade"
for c in webhook operator; do
  ids=$(K -n "$NS" get pods -l app.kubernetes.io/component=$c -o jsonpath='{range .items[*]}{.status.containerStatuses[0].imageID}{"\n"}{end}' | sort -u)
  [ -n "$ids" ] && ! grep -qv "${ID2#sha256:}" <<<"$ids" || fail "the $c pods do not all run the rebuilt image ${ID2:0:19}: $ids"
done
denied

# --------------------------------------------------------- 7. uninstall
step "7. uninstall"
uninstall() {
  K -n shop delete release web --wait=true --timeout=60s >/dev/null || true
  K delete -f "$state/chart-2.yaml" --ignore-not-found --wait=true --timeout=120s >/dev/null
  gone() { [ -z "$(K -n "$NS" get pods -o name)" ]; }
  await 120 "the chart's pods did not go away" gone
  [ -z "$(in_pods cairn-webhook)$(in_pods cairn-operator)" ] ||
    fail "cairn processes still run in containers after the uninstall"
}
timed uninstall uninstall
step "passed; down and the leftover checks follow"
