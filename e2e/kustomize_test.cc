// Issue #17 end to end: a base and two overlays (dev, production) in one
// repository on the real git server, each deployed by its own Release; the
// objects are what `kustomize build` makes of them (prefixes, labels, image
// tags, patched fields, generated ConfigMaps with their hash names), a
// generator change rolls the Deployment out, and the webhook, which renders
// the same commit itself, admits the operator's applies and refuses a hand
// edit with directions to the overlay.
#include <gtest/gtest.h>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"
#include "support/webhook.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;

std::map<std::string, std::string> tree(const std::string& greeting) {
  return {
      {"base/kustomization.yaml", R"(resources: [deployment.yaml, service.yaml]
labels:
- pairs: {app.kubernetes.io/name: shop}
  includeSelectors: true
configMapGenerator:
- name: settings
  literals: [greeting=)" + greeting + R"(]
)"},
      {"base/deployment.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example.com/shop/web:1.0
        ports: [{containerPort: 8080}]
        envFrom: [{configMapRef: {name: settings}}]
)"},
      {"base/service.yaml", R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
)"},
      {"overlays/dev/kustomization.yaml", R"(resources: [../../base]
namePrefix: dev-
commonLabels: {env: dev}
images: [{name: registry.example.com/shop/web, newTag: "1.1-dev"}]
)"},
      {"overlays/production/kustomization.yaml", R"(resources: [../../base]
namePrefix: prod-
commonLabels: {env: production}
images: [{name: registry.example.com/shop/web, newTag: "1.0.3"}]
replicas: [{name: web, count: 3}]
patches:
- target: {kind: Deployment, name: web}
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/resources
      value: {limits: {memory: 256Mi}}
)"},
  };
}

json release(const std::string& name, const std::string& url, const std::string& path) {
  return yaml("apiVersion: cairn.dev/v1alpha1\nkind: Release\nmetadata: {name: " + name +
              "}\nspec:\n  source: {url: \"" + url + "\", branch: main, interval: 10s}\n  path: " +
              path + "\n  prune: true\n  rollout: {progressDeadline: 60s}\n");
}

std::string config_ref(const json& deployment) {
  return deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]
      .value("name", "");
}

TEST(Kustomize, OverlaysDeployThroughReleasesAndTheWebhookAgrees) {
  TestNamespace ns("e2e-kust", {{"cairn.dev/enforce", "deny"}});
  GitRepo repo("kust-" + ns.name());
  const std::string a = repo.commit(tree("hello"), "A: base and overlays");
  ensure_operator_identity();
  WebhookProcess hook;
  hook.register_with_apiserver("cairn-e2e-" + ns.name(), ns.name());
  OperatorProcess op(ns.name(), {"--kubeconfig", kubeconfig_for("cairn-operator", "")});
  const std::string n = ns.name();
  ASSERT_TRUE(client().create(kReleases, n, release("dev", repo.git_url(), "overlays/dev")));
  ASSERT_TRUE(
      client().create(kReleases, n, release("prod", repo.git_url(), "overlays/production")));
  for (const char* r : {"dev", "prod"}) {
    auto d = wait_release(n, a, "Deployed", 120s, r);
    ASSERT_TRUE(d) << r << ": " << d.error().to_string() << "\noperator:\n"
                   << op.log_tail() << "\nwebhook:\n"
                   << hook.log_tail();
  }

  // What kustomize build makes of each overlay.
  auto dev = client().get(res::kDeployments, n, "dev-web");
  auto prod = client().get(res::kDeployments, n, "prod-web");
  ASSERT_TRUE(dev && prod);
  EXPECT_EQ((*dev)["spec"]["template"]["spec"]["containers"][0].value("image", ""),
            "registry.example.com/shop/web:1.1-dev");
  EXPECT_EQ((*prod)["spec"]["template"]["spec"]["containers"][0].value("image", ""),
            "registry.example.com/shop/web:1.0.3");
  EXPECT_EQ((*dev)["spec"].value("replicas", 0), 1);
  EXPECT_EQ((*prod)["spec"].value("replicas", 0), 3);
  EXPECT_EQ((*prod)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].value(
                "memory", ""),
            "256Mi");
  for (const auto* d : {&*dev, &*prod}) {
    EXPECT_EQ((*d)["spec"]["selector"]["matchLabels"].value("app.kubernetes.io/name", ""), "shop");
    EXPECT_TRUE((*d)["metadata"]["labels"].contains("env"));
  }
  EXPECT_EQ((*dev)["metadata"]["labels"].value("env", ""), "dev");
  // The generated ConfigMap has its hash name, and the Deployment refers to it.
  const std::string dev_cm = config_ref(*dev);
  ASSERT_TRUE(dev_cm.starts_with("dev-settings-")) << dev_cm;
  EXPECT_EQ(dev_cm.size(), std::string("dev-settings-").size() + 10) << dev_cm;
  auto cm = client().get(res::kConfigMaps, n, dev_cm);
  ASSERT_TRUE(cm) << dev_cm;
  EXPECT_EQ((*cm)["data"].value("greeting", ""), "hello");
  // The stamp names the file each object came from.
  EXPECT_EQ((*dev)["metadata"]["annotations"].value("cairn.dev/path", ""), "base/deployment.yaml");
  EXPECT_EQ((*cm)["metadata"]["annotations"].value("cairn.dev/path", ""),
            "base/kustomization.yaml");

  // The webhook rendered the same overlay: a hand edit is refused, pointing
  // at the file.
  auto r = kubectl(" -n " + n + " set image deployment/prod-web web=evil:1");
  EXPECT_NE(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("base/deployment.yaml"), std::string::npos) << r.second;
  EXPECT_NE(r.second.find("Release " + n + "/prod"), std::string::npos) << r.second;

  // A generator change: a new ConfigMap name, so the Deployment rolls out;
  // the old ConfigMap is pruned.
  const std::string b =
      repo.commit({{"base/kustomization.yaml", tree("bonjour")["base/kustomization.yaml"]}},
                  "B: another greeting");
  auto d2 = wait_release(n, b, "Deployed", 120s, "dev");
  ASSERT_TRUE(d2) << d2.error().to_string() << "\n" << op.log_tail() << "\n" << hook.log_tail();
  dev = client().get(res::kDeployments, n, "dev-web");
  ASSERT_TRUE(dev);
  const std::string dev_cm2 = config_ref(*dev);
  EXPECT_NE(dev_cm2, dev_cm);
  EXPECT_TRUE(dev_cm2.starts_with("dev-settings-")) << dev_cm2;
  EXPECT_GE((*dev)["metadata"].value("generation", 0), 2);
  auto gone = client().get(res::kConfigMaps, n, dev_cm);
  EXPECT_FALSE(gone) << dev_cm << " was not pruned";
  EXPECT_NE(hook.metrics().find("rule=\"provenance\""), std::string::npos);
}

}  // namespace
}  // namespace cairn::e2e
