#!/usr/bin/env bash
# The README's first command (make demo): a local control plane with
# simulated nodes, a real git server, Cairn installed from its Helm chart
# (CRDs, RBAC and the webhook configuration; the operator and the webhook
# run here as local processes under the chart's ServiceAccounts), and a
# sample application whose Pipeline really lints, tests and builds it from
# git and whose Release rolls it out. It narrates what happens; `make down`
# stops everything it started.
set -euo pipefail
CAIRN_LOG_PREFIX=demo
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo=$CAIRN_REPO_ROOT
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" 2>/dev/null || true; }
: "${CAIRN_OPERATOR:=$repo/build/operator/cairn-operator}"
: "${CAIRN_WEBHOOK:=$repo/build/webhook/cairn-webhook}"
: "${CAIRN_CLI:=$repo/build/cmd/kubectl-cairn/kubectl-cairn}"
for b in "$CAIRN_OPERATOR" "$CAIRN_WEBHOOK" "$CAIRN_CLI"; do
  [ -x "$b" ] || die "$b is missing: run make build (make demo does)"
done
WEBHOOK_PORT=${CAIRN_WEBHOOK_PORT:-18443}
WEBHOOK_PROBE_PORT=${CAIRN_WEBHOOK_PROBE_PORT:-18482}
OP_PROBE_PORT=${CAIRN_OPERATOR_PROBE_PORT:-18481}
OP_METRICS_PORT=${CAIRN_OPERATOR_METRICS_PORT:-18480}

say "1. A local control plane: etcd, kube-apiserver and kube-controller-manager v1.20.2 (built from Debian's source), plus simulated nodes"
"$repo/hack/up.sh"
export KUBECONFIG=$CAIRN_KUBECONFIG
k() { "$CAIRN_KUBECTL" "$@"; }
k get nodes -o wide
echo "(The nodes are simulated: no container runtime runs here, so a Job's command runs as a local process, without isolation.)"

say "2. A real git server: git daemon, and git http-backend behind nginx with TLS and basic auth"
"$repo/hack/git-server.sh" start >/dev/null
set -a
. "${CAIRN_GIT_STATE:-$repo/.cairn-git}/git.env"
set +a
echo "git://     $CAIRN_GIT_DAEMON_URL"
echo "https://   $CAIRN_GIT_HTTPS_URL (user $CAIRN_GIT_USER)"

say "3. Cairn from its Helm chart (rendered without helm): CRDs, ServiceAccounts, least-privilege RBAC and the webhook configuration"
pki=$CAIRN_STATE/webhook-pki
mkdir -p "$pki"
if [ ! -s "$pki/tls.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=cairn-demo-ca \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$pki/tls.key" -out "$pki/tls.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/ext"
  openssl x509 -req -in "$pki/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/ext" -out "$pki/tls.crt" 2>/dev/null
fi
k create namespace cairn-system --dry-run=client -o yaml | k apply -f - >/dev/null
"$repo/hack/render-chart.sh" --release-name cairn --namespace cairn-system --include-crds \
  --set webhook.url="https://127.0.0.1:$WEBHOOK_PORT" \
  --set webhook.caBundle="$(base64 -w0 <"$pki/ca.crt")" >"$CAIRN_STATE/chart.yaml"
# No Pods really run here: apply what the local binaries need (the
# Deployments, Services and the rest stay in chart.yaml for a real cluster).
awk -v keep='^kind: (CustomResourceDefinition|ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding|ValidatingWebhookConfiguration)$' '
  function flush() { if (doc != "" && hit) printf "---\n%s", doc; doc = ""; hit = 0 }
  /^---/ { flush(); next }
  { doc = doc $0 "\n"; if ($0 ~ keep) hit = 1 }
  END { flush() }' "$CAIRN_STATE/chart.yaml" >"$CAIRN_STATE/chart-local.yaml"
k apply -f "$CAIRN_STATE/chart-local.yaml" | sed 's/^/  /'
k wait --for=condition=Established crd/pipelines.cairn.dev crd/releases.cairn.dev --timeout=30s >/dev/null

# Each binary runs with its ServiceAccount's token, under the chart's RBAC.
sa_kubeconfig() { # service-account-name file
  local secret token i
  for ((i = 0; i < 100; i++)); do
    secret=$(k -n cairn-system get sa "$1" -o jsonpath='{.secrets[0].name}' 2>/dev/null || true)
    [ -n "$secret" ] && break
    sleep 0.2
  done
  [ -n "$secret" ] || die "no token for ServiceAccount cairn-system/$1"
  token=$(k -n cairn-system get secret "$secret" -o jsonpath='{.data.token}' | base64 -d)
  cat >"$2" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:$CAIRN_APISERVER_PORT", certificate-authority: "$CAIRN_PKI/ca.crt"}}]
users: [{name: $1, user: {token: "$token"}}]
contexts: [{name: local, context: {cluster: local, user: $1}}]
current-context: local
KC
  chmod 600 "$2"
}
sa_of() { awk -v want="$1" '/^kind: ServiceAccount$/ {sa=1; next} sa && /^  name: / {if ($2 ~ want) print $2; sa=0}' "$CAIRN_STATE/chart-local.yaml" | head -1; }
op_sa=$(sa_of operator)
hook_sa=$(sa_of webhook)
sa_kubeconfig "$op_sa" "$CAIRN_STATE/operator.kubeconfig"
sa_kubeconfig "$hook_sa" "$CAIRN_STATE/webhook.kubeconfig"
if ! daemon_running cairn-webhook; then
  start cairn-webhook "$CAIRN_WEBHOOK" --kubeconfig "$CAIRN_STATE/webhook.kubeconfig" \
    --addr "127.0.0.1:$WEBHOOK_PORT" --tls-cert "$pki/tls.crt" --tls-key "$pki/tls.key" \
    --probe-addr "127.0.0.1:$WEBHOOK_PROBE_PORT" --namespace cairn-system \
    --operator-users "system:serviceaccount:cairn-system:$op_sa" \
    --platform-group system:masters \
    --git-cache-dir "$CAIRN_STATE/webhook-git" --log-format text
  wait_for cairn-webhook 30 "no ok from its /readyz" curl -fs "http://127.0.0.1:$WEBHOOK_PROBE_PORT/readyz" -o /dev/null
fi
if ! daemon_running cairn-operator; then
  start cairn-operator "$CAIRN_OPERATOR" --kubeconfig "$CAIRN_STATE/operator.kubeconfig" \
    --probe-addr "127.0.0.1:$OP_PROBE_PORT" --metrics-addr "127.0.0.1:$OP_METRICS_PORT" \
    --git-cache-dir "$CAIRN_STATE/git-cache" --log-format text
  wait_for cairn-operator 30 "no ok from its /readyz" curl -fs "http://127.0.0.1:$OP_PROBE_PORT/readyz" -o /dev/null
fi
echo "webhook  pid $(recorded_pid cairn-webhook) as system:serviceaccount:cairn-system:$hook_sa; log $CAIRN_LOGS/cairn-webhook.log"
echo "operator pid $(recorded_pid cairn-operator) as system:serviceaccount:cairn-system:$op_sa; log $CAIRN_LOGS/cairn-operator.log"

say "4. A sample application in git: a tiny shell adder with a real lint, test and build, and its manifests"
work=$CAIRN_STATE/demo-app
rm -rf "$work" "$CAIRN_GIT_REPOS/adder.git"
git init -q --bare "$CAIRN_GIT_REPOS/adder.git"
git -C "$CAIRN_GIT_REPOS/adder.git" config http.receivepack true
git init -q -b main "$work"
cat >"$work/add.sh" <<'APP'
#!/bin/sh
# add.sh A B: prints A + B
echo $(($1 + $2))
APP
cat >"$work/test.sh" <<'APP'
#!/bin/sh
set -e
[ "$(sh ./add.sh 2 3)" = 5 ] || { echo "FAIL: add.sh 2 3 should print 5, printed $(sh ./add.sh 2 3)" >&2; exit 1; }
[ "$(sh ./add.sh -1 1)" = 0 ] || { echo "FAIL: add.sh -1 1 should print 0" >&2; exit 1; }
echo "2 tests passed"
APP
cat >"$work/build.sh" <<'APP'
#!/bin/sh
set -e
mkdir -p dist && tar czf dist/adder.tgz add.sh
# Results for the Pipeline, one key=value per line (the step sends them to
# the termination log).
echo "artifact=adder-$(git rev-parse --short HEAD).tgz"
echo "sha256=$(sha256sum dist/adder.tgz | cut -c1-16)"
APP
manifests() { # image [extra pod annotations]
  mkdir -p "$work/deploy"
  cat >"$work/deploy/app.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: adder}
spec:
  replicas: 2
  selector: {matchLabels: {app: adder}}
  template:
    metadata:
      labels: {app: adder}
      annotations: {${2:-}}
    spec:
      containers: [{name: adder, image: "$1", ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: adder}
spec:
  selector: {app: adder}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: adder-settings}
data: {greeting: hello}
YAML
}
manifests "registry.example.com/adder:1"
commit() {
  git -C "$work" add -A
  git -C "$work" -c user.name="Ada Lovelace" -c user.email=ada@example.com commit -q -m "$1"
  git -C "$work" push -q "$CAIRN_GIT_REPOS/adder.git" HEAD:main
  git -C "$work" rev-parse HEAD
}
good=$(commit "adder: add two numbers")
echo "pushed $good"

say "5. Namespace shop is governed (cairn.dev/enforce=deny); a Pipeline follows main over https and runs audit -> test -> build as Jobs"
k create namespace shop --dry-run=client -o yaml | k apply -f - >/dev/null
k label namespace shop cairn.dev/enforce=deny --overwrite >/dev/null
k -n shop create secret generic git-auth --from-literal=username="$CAIRN_GIT_USER" \
  --from-literal=password="$CAIRN_GIT_PASSWORD" --from-file=ca.crt="$CAIRN_GIT_CA" \
  --dry-run=client -o yaml | k apply -f - >/dev/null
cat <<YAML | tee "$CAIRN_STATE/pipeline.yaml" | k apply -f -
apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: adder-ci, namespace: shop}
spec:
  source:
    url: $CAIRN_GIT_HTTPS_URL/adder.git
    branch: main
    secretRef: {name: git-auth}
    interval: 10s
  steps:
  - {name: audit, image: debian:12, script: "sh -n add.sh && sh -n test.sh && echo lint ok"}
  - {name: test, image: debian:12, after: [audit], script: "sh ./test.sh"}
  - {name: build, image: debian:12, after: [test], script: "sh ./build.sh > /dev/termination-log"}
YAML
run_phase() { k -n shop get pipeline adder-ci -o jsonpath="{.status.runs[?(@.commit==\"$1\")].phase}" 2>/dev/null; }
wait_run() {
  local i
  for ((i = 0; i < 120; i++)); do
    case $(run_phase "$1") in Succeeded | Failed) return 0 ;; esac
    sleep 0.5
  done
  die "the run for $1 did not finish in 60 s; see $CAIRN_LOGS/cairn-operator.log"
}
wait_run "$good"
k -n shop get pipeline adder-ci
k -n shop get jobs -l cairn.dev/commit="$good"
echo "build results: $(k -n shop get pipeline adder-ci -o jsonpath='{.status.runs[0].steps[2].results}')"

say "6. A Release gated on that Pipeline rolls deploy/ out; every object is stamped with its commit"
cat <<YAML | tee "$CAIRN_STATE/release.yaml" | k apply -f -
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: adder, namespace: shop}
spec:
  source: {url: $CAIRN_GIT_HTTPS_URL/adder.git, branch: main, secretRef: {name: git-auth}, interval: 10s}
  path: deploy
  gate: {pipelineRef: {name: adder-ci}}
  rollout: {progressDeadline: 20s, autoRollback: true}
YAML
release_at() { # commit phase
  local i
  for ((i = 0; i < 180; i++)); do
    [ "$(k -n shop get release adder -o jsonpath='{.status.lastAttemptedCommit} {.status.phase}' 2>/dev/null)" = "$1 $2" ] && return 0
    sleep 0.5
  done
  die "the Release did not reach $2 for $1 in 90 s; see $CAIRN_LOGS/cairn-operator.log"
}
release_at "$good" Deployed
k -n shop get release adder
echo "stamp on deployment/adder:"
k -n shop get deployment adder -o go-template='{{range $k, $v := .metadata.annotations}}{{if or (eq $k "cairn.dev/commit") (eq $k "cairn.dev/source") (eq $k "cairn.dev/path") (eq $k "cairn.dev/release")}}  {{$k}}: {{$v}}{{"\n"}}{{end}}{{end}}'

say "7. A hand edit in the governed namespace: the webhook refuses it and says where to make the change"
set +e
KUBE_EDITOR="sed -i s/replicas:\ 2/replicas:\ 5/" k -n shop edit deployment adder 2>&1 | sed 's/^/  /'
set -e
echo "replicas are still $(k -n shop get deployment adder -o jsonpath='{.spec.replicas}')"

say "8. A commit that breaks the tests: the Pipeline fails it, so the Release never deploys it"
printf '#!/bin/sh\necho $(($1 - $2))\n' >"$work/add.sh"
bad=$(commit "adder: subtract instead (oops)")
echo "pushed $bad"
wait_run "$bad"
echo "run: $(k -n shop get pipeline adder-ci -o jsonpath="{.status.runs[?(@.commit==\"$bad\")].message}")"
for ((i = 0; i < 60; i++)); do
  reason=$(k -n shop get release adder -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')
  [ "$reason" = GateFailed ] && break
  sleep 0.5
done
echo "release: $(k -n shop get release adder -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')"

say "9. A commit that passes its tests but crash-loops in the cluster: rolled back to the last good commit"
printf '#!/bin/sh\n# add.sh A B: prints A + B\necho $(($1 + $2))\n' >"$work/add.sh"
manifests "registry.example.com/adder:2" 'sim.cairn.dev/crash: "true"'
crash=$(commit "adder: version 2 (crashes on start)")
echo "pushed $crash"
wait_run "$crash"
echo "tests: $(run_phase "$crash")"
release_at "$crash" RolledBack
k -n shop get release adder
echo "history:"
k -n shop get release adder -o go-template='{{range .status.history}}  {{printf "%.8s" .commit}}  {{.result}}  {{with .reason}}{{.}}{{end}}{{"\n"}}{{end}}'
echo "deployment/adder runs $(k -n shop get deployment adder -o jsonpath='{.spec.template.spec.containers[0].image}') again"

say "10. kubectl cairn trace: from the live object to the commit and the Pipeline run that tested it"
plugin_dir=$(dirname "$CAIRN_CLI")
PATH="$plugin_dir:$PATH" k cairn trace deployment/adder -n shop --git-cache-dir "$CAIRN_STATE/cli-git"

say "Done. Look around with:"
echo "  export KUBECONFIG=$KUBECONFIG PATH=$plugin_dir:\$PATH"
echo "  $CAIRN_KUBECTL -n shop get pipelines,releases,jobs,deployments"
echo "  $CAIRN_KUBECTL cairn history release/adder -n shop"
echo "  $CAIRN_KUBECTL -n shop get release adder -o yaml"
echo "  curl -s http://127.0.0.1:$OP_METRICS_PORT/metrics | grep cairn_release_"
echo "  (the app: $work; push to $CAIRN_GIT_REPOS/adder.git and watch a new run and rollout)"
echo "Stop everything with: make down"
