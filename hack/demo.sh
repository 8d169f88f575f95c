#!/usr/bin/env bash
# The README's first command (make demo): a local control plane with
# simulated nodes, a real git server, Cairn's CRDs and operator, and a sample
# application whose Pipeline really lints, tests and builds it from git.
# It narrates what happens; `make down` stops everything it started.
set -euo pipefail
CAIRN_LOG_PREFIX=demo
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo=$CAIRN_REPO_ROOT
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" 2>/dev/null || true; }
: "${CAIRN_OPERATOR:=$repo/build/operator/cairn-operator}"
[ -x "$CAIRN_OPERATOR" ] || die "$CAIRN_OPERATOR is missing: run make build (make demo does)"

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

say "3. Cairn's CRDs and operator"
k apply -f "$repo/crds/"
k wait --for=condition=Established crd/pipelines.cairn.dev crd/releases.cairn.dev --timeout=30s >/dev/null
if daemon_running cairn-operator; then
  echo "operator already running (pid $(recorded_pid cairn-operator))"
else
  start cairn-operator "$CAIRN_OPERATOR" --kubeconfig "$CAIRN_KUBECONFIG" --probe-addr 127.0.0.1:${CAIRN_OPERATOR_PROBE_PORT:-18481} \
    --metrics-addr 127.0.0.1:${CAIRN_OPERATOR_METRICS_PORT:-18480} \
    --git-cache-dir "$CAIRN_STATE/git-cache" --log-format text
  wait_for cairn-operator 30 "no ok from its /readyz" curl -fsS http://127.0.0.1:${CAIRN_OPERATOR_PROBE_PORT:-18481}/readyz -o /dev/null
  echo "operator running (pid $(recorded_pid cairn-operator)); log: $CAIRN_LOGS/cairn-operator.log"
fi

say "4. A sample application in git: a tiny shell adder with a real lint, test and build"
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
commit() {
  git -C "$work" add -A
  git -C "$work" -c user.name="Ada Lovelace" -c user.email=ada@example.com commit -q -m "$1"
  git -C "$work" push -q "$CAIRN_GIT_REPOS/adder.git" HEAD:main
  git -C "$work" rev-parse HEAD
}
good=$(commit "adder: add two numbers")
echo "pushed $good"

say "5. A Pipeline that follows main over https and runs audit -> test -> build as Jobs"
k create namespace shop --dry-run=client -o yaml | k apply -f - >/dev/null
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

say "6. A bad commit: the test step fails, build never starts, the Pipeline says why"
printf '#!/bin/sh\necho $(($1 - $2))\n' >"$work/add.sh"
bad=$(commit "adder: subtract instead (oops)")
echo "pushed $bad"
wait_run "$bad"
k -n shop get pipeline adder-ci
echo "run message: $(k -n shop get pipeline adder-ci -o jsonpath="{.status.runs[?(@.commit==\"$bad\")].message}")"
k -n shop get events --field-selector involvedObject.name=adder-ci --sort-by=.lastTimestamp | tail -6

say "Done. Look around with:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  $CAIRN_KUBECTL -n shop get pipelines,jobs"
echo "  $CAIRN_KUBECTL -n shop get pipeline adder-ci -o yaml"
echo "  $CAIRN_KUBECTL explain pipeline.spec.steps"
echo "  (the app: $work; push to $CAIRN_GIT_REPOS/adder.git and watch a new run start)"
echo "Stop everything with: make down"
