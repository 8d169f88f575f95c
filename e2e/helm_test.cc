// Issue #18 end to end: a Helm chart (with a subchart vendored in charts/)
// and a values file in a repository on the real git server, deployed by a
// Release with spec.helm (valuesFiles, values, releaseName) in a namespace
// the webhook governs in deny mode. The objects are what `helm template`
// makes of the chart with those values; the webhook, which renders the same
// commit with the same spec.helm, admits the operator's applies and refuses a
// hand edit; a change to the values file in git upgrades the Release, and a
// change of spec.helm.values at the same commit reaches the Deployment.
#include <gtest/gtest.h>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"
#include "support/webhook.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;

std::map<std::string, std::string> chart_files(int replicas) {
  return {
      {"chart/Chart.yaml", R"(apiVersion: v2
name: web
version: 1.0.0
appVersion: "1.0"
dependencies:
- name: cache
  version: 0.1.0
  condition: cache.enabled
)"},
      {"chart/values.yaml", R"(replicaCount: 1
image:
  repository: registry.example.com/shop/web
  tag: "1.0"
greeting: hello
cache:
  enabled: true
global:
  team: nobody
)"},
      {"chart/templates/_helpers.tpl", R"({{- define "web.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "web.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
team: {{ .Values.global.team }}
{{- end -}}
)"},
      {"chart/templates/deployment.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        env:
        - name: GREETING
          value: {{ .Values.greeting | quote }}
        ports:
        - containerPort: 8080
)"},
      {"chart/templates/service.yaml", R"(apiVersion: v1
kind: Service
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  selector:
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
  - port: 80
    targetPort: 8080
)"},
      {"chart/templates/NOTES.txt", "{{ .Release.Name }} is installed.\n"},
      {"chart/charts/cache/Chart.yaml", "apiVersion: v2\nname: cache\nversion: 0.1.0\n"},
      {"chart/charts/cache/values.yaml", "size: 64Mi\n"},
      {"chart/charts/cache/templates/configmap.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cache
data:
  size: {{ .Values.size | quote }}
  team: {{ .Values.global.team | quote }}
)"},
      {"env/prod.yaml", "replicaCount: " + std::to_string(replicas) +
                            "\ngreeting: bonjour\ncache:\n  size: 128Mi\n"},
  };
}

json release(const std::string& url) {
  return yaml(R"(apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" +
              url + R"(", branch: main, interval: 10s}
  path: chart
  helm:
    releaseName: shop
    valuesFiles: [env/prod.yaml]
    values:
      image: {tag: "1.0.3"}
      global: {team: payments}
  prune: true
  rollout: {progressDeadline: 60s}
)");
}

std::string env_value(const json& deployment, const std::string& name) {
  for (const json& e : deployment["spec"]["template"]["spec"]["containers"][0]["env"]) {
    if (e.value("name", "") == name) return e.value("value", "");
  }
  return "";
}

TEST(HelmRelease, ChartDeploysWithValuesAndUpgradesOnAValuesCommit) {
  TestNamespace ns("e2e-helm", {{"cairn.dev/enforce", "deny"}});
  GitRepo repo("helm-" + ns.name());
  const std::string a = repo.commit(chart_files(2), "A: chart, subchart and prod values");
  ensure_operator_identity();
  WebhookProcess hook;
  hook.register_with_apiserver("cairn-e2e-" + ns.name(), ns.name());
  OperatorProcess op(ns.name(), {"--kubeconfig", kubeconfig_for("cairn-operator", "")});
  const std::string n = ns.name();
  ASSERT_TRUE(client().create(kReleases, n, release(repo.git_url())));
  auto deployed = wait_release(n, a, "Deployed", 120s);
  ASSERT_TRUE(deployed) << deployed.error().to_string() << "\noperator:\n"
                        << op.log_tail() << "\nwebhook:\n"
                        << hook.log_tail();

  // Names from spec.helm.releaseName; values from values.yaml, the values
  // file and spec.helm.values, in that order.
  auto d = client().get(res::kDeployments, n, "shop-web");
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ((*d)["spec"].value("replicas", 0), 2) << "replicaCount from env/prod.yaml";
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""),
            "registry.example.com/shop/web:1.0.3")
      << "the tag from spec.helm.values, the repository from values.yaml";
  EXPECT_EQ(env_value(*d, "GREETING"), "bonjour") << "from env/prod.yaml";
  EXPECT_EQ((*d)["metadata"]["labels"].value("team", ""), "payments") << "a global value";
  EXPECT_EQ((*d)["metadata"]["labels"].value("app.kubernetes.io/instance", ""), "shop");
  EXPECT_EQ((*d)["metadata"]["annotations"].value("cairn.dev/path", ""),
            "chart/templates/deployment.yaml");
  EXPECT_EQ((*d)["metadata"]["annotations"].value("cairn.dev/commit", ""), a);
  auto svc = client().get(res::kServices, n, "shop-web");
  ASSERT_TRUE(svc) << svc.error().to_string();
  // The subchart's object, with the global and the values file's override.
  auto cm = client().get(res::kConfigMaps, n, "shop-cache");
  ASSERT_TRUE(cm) << cm.error().to_string();
  EXPECT_EQ((*cm)["data"].value("team", ""), "payments");
  EXPECT_EQ((*cm)["data"].value("size", ""), "128Mi");
  EXPECT_EQ((*cm)["metadata"]["annotations"].value("cairn.dev/path", ""),
            "chart/charts/cache/templates/configmap.yaml");
  // The inventory is exactly the chart's three objects (no NOTES.txt).
  EXPECT_EQ((*deployed)["status"]["inventory"].size(), 3u) << (*deployed)["status"].dump();

  // The webhook rendered the same chart with the same spec.helm: a hand edit
  // is refused, pointing at the template.
  auto r = kubectl(" -n " + n + " set image deployment/shop-web web=evil:1");
  EXPECT_NE(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("chart/templates/deployment.yaml"), std::string::npos) << r.second;
  EXPECT_NE(r.second.find("Release " + n + "/web"), std::string::npos) << r.second;

  // A change to the values file in git: the Release upgrades.
  const std::string b =
      repo.commit({{"env/prod.yaml", chart_files(3)["env/prod.yaml"]}}, "B: three replicas");
  auto upgraded = wait_release(n, b, "Deployed", 120s);
  ASSERT_TRUE(upgraded) << upgraded.error().to_string() << "\n"
                        << op.log_tail() << "\n"
                        << hook.log_tail();
  d = client().get(res::kDeployments, n, "shop-web");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["spec"].value("replicas", 0), 3);
  EXPECT_EQ((*d)["metadata"]["annotations"].value("cairn.dev/commit", ""), b);
  EXPECT_EQ((*upgraded)["status"].value("currentCommit", ""), b);

  // spec.helm.values changed at the same commit: the operator and the webhook
  // both render anew (neither serves the old values from a cache), and the
  // Deployment gets the new tag.
  auto patched =
      client().patch(kReleases, n, "web", kube::PatchType::kMerge,
                     json::parse(R"({"spec": {"helm": {"values": {"image": {"tag": "1.0.4"}}}}})"));
  ASSERT_TRUE(patched) << patched.error().to_string();
  auto retagged = wait_for(
      res::kDeployments, n, "shop-web",
      [](const json& o) {
        return o["spec"]["template"]["spec"]["containers"][0].value("image", "") ==
               "registry.example.com/shop/web:1.0.4";
      },
      90s);
  ASSERT_TRUE(retagged) << retagged.error().to_string() << "\n"
                        << op.log_tail() << "\n"
                        << hook.log_tail();
  EXPECT_EQ((*retagged)["metadata"]["annotations"].value("cairn.dev/commit", ""), b);
  EXPECT_EQ((*retagged)["spec"].value("replicas", 0), 3) << "the values file still applies";
  EXPECT_NE(hook.metrics().find("rule=\"provenance\""), std::string::npos);
}

// A chart whose template fails: the Release's status says which template,
// line and column, and nothing is applied.
TEST(HelmRelease, TemplateErrorReachesTheStatusCondition) {
  TestNamespace ns("e2e-helm-err");
  GitRepo repo("helm-err-" + ns.name());
  auto files = chart_files(1);
  files["chart/templates/service.yaml"] =
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports: {{ required "
      "\"set service.ports\" .Values.service.ports }}\n";
  const std::string a = repo.commit(files, "A: a template that fails");
  ensure_operator_identity();
  OperatorProcess op(ns.name(), {"--kubeconfig", kubeconfig_for("cairn-operator", "")});
  const std::string n = ns.name();
  ASSERT_TRUE(client().create(kReleases, n, release(repo.git_url())));
  auto failed = wait_release(n, a, "Failed", 120s);
  ASSERT_TRUE(failed) << failed.error().to_string() << "\noperator:\n" << op.log_tail();
  std::string ready;
  for (const json& c : (*failed)["status"]["conditions"]) {
    if (c.value("type", "") == "Ready") ready = c.value("message", "");
  }
  EXPECT_NE(ready.find("web/templates/service.yaml:6:"), std::string::npos) << ready;
  EXPECT_FALSE(client().get(res::kDeployments, n, "shop-web")) << "nothing of the chart applied";
}

}  // namespace
}  // namespace cairn::e2e
