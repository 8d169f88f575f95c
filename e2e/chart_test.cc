// The Helm chart on the real control plane. No Pod really runs here (the
// node simulator only pretends), so the chart is rendered
// (hack/render-chart.sh), applied with kubectl, and the operator and the
// webhook run as host processes with the flags the chart gives them and the
// tokens of the chart's ServiceAccounts: everything they do goes through the
// chart's RBAC, not admin, and every governed change through the chart's
// ValidatingWebhookConfiguration (webhook.url pointing at the host process).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"
#include "support/webhook.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace res = kube::res;

const kube::ApiResource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles",
                                      "ClusterRole", false};
const kube::ApiResource kClusterRoleBindings{"rbac.authorization.k8s.io", "v1",
                                             "clusterrolebindings", "ClusterRoleBinding", false};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string fresh_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  char* p = ::mkdtemp(tmpl.data());
  return p ? p : "";
}

// The chart rendered for release "cairn" in `ns`: its documents as JSON.
struct Chart {
  std::string dir;
  std::vector<json> docs;
  std::string error;

  Chart(const std::string& ns, const std::string& values) {
    dir = fresh_dir("cairn-e2e-chart");
    std::ofstream(dir + "/values.yaml") << values;
    auto [rc, out] = sh(std::string(CAIRN_SOURCE_DIR) +
                        "/hack/render-chart.sh --release-name cairn --namespace " + ns + " -f " +
                        dir + "/values.yaml --output-dir " + dir + "/out 2>&1 >/dev/null");
    if (rc != 0) {
      error = "render-chart.sh failed:\n" + out;
      return;
    }
    std::ifstream in(dir + "/out/manifests.yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    // The renderer writes "---\n# Source: ...\n<document>" for each.
    std::string all = ss.str(), doc, line;
    std::istringstream lines(all);
    auto flush = [&] {
      if (doc.find("kind:") != std::string::npos) docs.push_back(yaml(doc));
      doc.clear();
    };
    while (std::getline(lines, line)) {
      if (line == "---") {
        flush();
        continue;
      }
      doc += line + "\n";
    }
    flush();
  }
  ~Chart() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::vector<json> of_kind(const std::string& kind) const {
    std::vector<json> out;
    for (const auto& d : docs)
      if (d.value("kind", "") == kind) out.push_back(d);
    return out;
  }
  // The args of the Deployment's container, without those that only make
  // sense in a Pod (listen addresses, in-container paths): the test
  // process supplies its own.
  std::vector<std::string> args(const std::string& deployment) const {
    static const std::set<std::string> pod_only = {
        "--addr", "--tls-cert", "--tls-key", "--probe-addr", "--metrics-addr", "--git-cache-dir"};
    std::vector<std::string> out;
    for (const auto& d : of_kind("Deployment")) {
      if (d["metadata"].value("name", "") != deployment) continue;
      const json a = d["spec"]["template"]["spec"]["containers"][0].value("args", json::array());
      for (size_t i = 0; i < a.size(); ++i) {
        std::string s = a[i].get<std::string>();
        if (pod_only.contains(s)) {
          ++i;  // and its value
          continue;
        }
        out.push_back(s);
      }
    }
    return out;
  }
};

// A kubeconfig holding the token of ServiceAccount ns/name (Kubernetes 1.20's
// token controller writes one into a Secret for every ServiceAccount).
// Written into `dir`.
std::string token_kubeconfig(const std::string& dir, const std::string& ns, const std::string& name,
                             std::string* err) {
  auto sa = wait_for(
      res::kServiceAccounts, ns, name,
      [](const json& o) { return !o.value("secrets", json::array()).empty(); }, 60s);
  if (!sa) {
    *err = "no token Secret for " + name + ": " + sa.error().to_string();
    return "";
  }
  std::string secret = (*sa)["secrets"][0].value("name", "");
  auto s = wait_for(
      res::kSecrets, ns, secret,
      [](const json& o) { return !o.value("data", json::object()).value("token", "").empty(); },
      30s);
  if (!s) {
    *err = "token Secret " + secret + ": " + s.error().to_string();
    return "";
  }
  auto token = kube::base64_decode((*s)["data"].value("token", ""));
  if (!token) {
    *err = "token of " + secret + " is not base64";
    return "";
  }
  std::string path = dir + "/" + name + ".kubeconfig";
  std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n"
                      << "    server: " << cluster_env("CAIRN_APISERVER_URL") << "\n"
                      << "    certificate-authority: " << cluster_env("CAIRN_PKI") << "/ca.crt\n"
                      << "users:\n- name: " << name << "\n  user:\n    token: " << *token << "\n"
                      << "contexts:\n- name: e2e\n  context: {cluster: e2e, user: " << name
                      << "}\ncurrent-context: e2e\n";
  return path;
}

// Deletes the chart's cluster-scoped objects (ClusterRoles and their
// bindings; the webhook configuration goes with WebhookProcess) however
// the test ends. The CRDs stay: every other test needs them.
struct ClusterScoped {
  std::vector<std::pair<const kube::ApiResource*, std::string>> objects;
  ~ClusterScoped() {
    for (const auto& [r, name] : objects) (void)client().remove(*r, "", name);
  }
};

// Applies what the chart renders, except its ValidatingWebhookConfiguration
// (returned in *vwc: registered once the webhook runs), as `helm install`
// would; the cluster-scoped objects are recorded in `cleanup`. Returns what
// went wrong, or "".
std::string install(const Chart& chart, ClusterScoped& cleanup, json* vwc) {
  json rest = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
  for (const auto& d : chart.docs) {
    const std::string kind = d.value("kind", "");
    const std::string name = d["metadata"].value("name", "");
    if (kind == "ValidatingWebhookConfiguration") {
      *vwc = d;
      continue;
    }
    if (kind == "ClusterRole") cleanup.objects.push_back({&kClusterRoles, name});
    if (kind == "ClusterRoleBinding") cleanup.objects.push_back({&kClusterRoleBindings, name});
    rest["items"].push_back(d);
  }
  // The chart's CRDs are the ones the fixture installed from crds/:
  // applying them must change nothing.
  const kube::ApiResource crd_res{"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                  "CustomResourceDefinition", false};
  auto generations = [&] {
    std::map<std::string, int64_t> g;
    for (const char* n : {"pipelines.cairn.dev", "releases.cairn.dev"})
      if (auto c = client().get(crd_res, "", n)) g[n] = (*c)["metadata"].value("generation", 0);
    return g;
  };
  auto before = generations();
  auto crds = kubectl("apply -f " + chart.dir + "/out/crds/");
  if (crds.first != 0) return "applying the chart's CRDs: " + crds.second;
  if (generations() != before) return "the chart's CRDs differ from the installed ones";
  // Everything else is accepted by a real 1.20 apiserver.
  std::ofstream(chart.dir + "/rest.json") << rest.dump();
  auto applied = kubectl("apply -f " + chart.dir + "/rest.json");
  if (applied.first != 0) return "kubectl apply of the rendered chart: " + applied.second;
  return "";
}

// True once the object no longer exists. Deletion is awaited by looking
// (a watch started after the object went would wait for nothing).
bool wait_gone(const kube::ApiResource& r, const std::string& ns, const std::string& name,
               std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto o = client().get(r, ns, name);
    if (!o && o.error().code == kube::Code::kNotFound) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string stamp(const json& o, const std::string& key) {
  return o["metadata"].value("annotations", json::object()).value(key, "");
}

TEST(Chart, ReleaseAndPipelineRunUnderTheChartsRbacAndWebhookConfiguration) {
  TestNamespace sys("e2e-chart");  // the release namespace ("cairn-system")
  TestNamespace rel_ns("e2e-chrel", {{"cairn.dev/enforce", "deny"}});
  TestNamespace pl_ns("e2e-chpl", {{"cairn.dev/enforce", "deny"}});
  TestNamespace other("e2e-chother");  // not managed by this Cairn
  const std::string& ns = sys.name();

  // The webhook's serving certificate exists before the chart is rendered:
  // the chart points its configuration at it (webhook.url + caBundle).
  WebhookProcess hook({}, /*start_now=*/false);
  Chart chart(ns, "watchNamespaces: [" + rel_ns.name() + ", " + pl_ns.name() +
                      "]\nwebhook:\n  platformGroup: system:masters\n  url: " + hook.url() +
                      "\n  caBundle: " + kube::base64_encode(hook.ca_pem()) + "\n");
  ASSERT_TRUE(chart.error.empty()) << chart.error;
  ClusterScoped cleanup;
  json vwc;
  std::string failed = install(chart, cleanup, &vwc);
  ASSERT_TRUE(failed.empty()) << failed;
  ASSERT_TRUE(vwc.is_object()) << "the chart renders no ValidatingWebhookConfiguration";
  ASSERT_GE(cleanup.objects.size(), 4u) << "the webhook's and the operator's (watch) ClusterRoles";

  std::string err;
  const std::string op_kc = token_kubeconfig(chart.dir, ns, "cairn-operator", &err);
  ASSERT_FALSE(op_kc.empty()) << err;
  const std::string hook_kc = token_kubeconfig(chart.dir, ns, "cairn-webhook", &err);
  ASSERT_FALSE(hook_kc.empty()) << err;

  // The webhook, as the chart runs it, under its ServiceAccount; then the
  // chart's configuration, which the apiserver must call it through.
  std::vector<std::string> hook_flags = chart.args("cairn-webhook");
  ASSERT_FALSE(hook_flags.empty());
  hook_flags.insert(hook_flags.end(), {"--kubeconfig", hook_kc, "--log-format", "text"});
  hook.add_flags(hook_flags);
  hook.start();
  ASSERT_TRUE(hook.register_configuration(vwc, rel_ns.name())) << hook.log_tail();

  // The operator, as the chart runs it (both namespaces, leader election
  // on a Lease in its own namespace), under its ServiceAccount.
  std::vector<std::string> op_flags = chart.args("cairn-operator");
  op_flags.insert(op_flags.end(), {"--kubeconfig", op_kc, "--log-format", "text"});
  GitRepo app("chart-app-" + rel_ns.name());
  std::string a = app.commit({{"deploy/app.yaml", web_app_yaml("web:1", true)}}, "A: web");
  OperatorProcess op(rel_ns.name(), op_flags);
  auto lease = wait_for(
      res::kLeases, ns, "cairn-operator",
      [](const json& o) { return !o["spec"].value("holderIdentity", "").empty(); }, 30s);
  ASSERT_TRUE(lease) << "leader election under the chart's Role: " << lease.error().to_string()
                     << "\n"
                     << op.log_tail();

  // ------------------------------------------------------------ Release
  const std::string rn = rel_ns.name();
  ASSERT_TRUE(client().create(kReleases, rn, yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" + app.git_url() + R"(", branch: main, interval: 10s}
  path: deploy
  prune: true
  rollout: {progressDeadline: 30s}
)")));
  auto ra = wait_release(rn, a, "Deployed");
  ASSERT_TRUE(ra) << ra.error().to_string() << "\noperator:\n"
                  << op.log_tail() << "\nwebhook:\n"
                  << hook.log_tail();
  EXPECT_EQ((*ra)["status"]["inventory"].size(), 3u);
  for (const auto& [r, name] : {std::pair{&res::kDeployments, "web"},
                                {&res::kServices, "web"},
                                {&res::kConfigMaps, "web-config"}}) {
    auto o = client().get(*r, rn, name);
    ASSERT_TRUE(o) << name;
    EXPECT_EQ(stamp(*o, "cairn.dev/commit"), a) << name;
    EXPECT_EQ(stamp(*o, "cairn.dev/release"), rn + "/web") << name;
  }
  EXPECT_NE(hook.metrics().find("result=\"allowed\""), std::string::npos)
      << "the rollout did not go through the chart's webhook configuration";

  // A person's change is refused through the chart's configuration...
  auto denied = kubectl("-n " + rn + " patch deployment web -p '{\"spec\":{\"replicas\":5}}'");
  EXPECT_NE(denied.first, 0) << denied.second;
  EXPECT_NE(denied.second.find("denied the request: Cairn"), std::string::npos) << denied.second;

  // ...while the operator's prune is a DELETE the webhook admits: the
  // chart's --operator-users names the chart's ServiceAccount.
  std::string b = app.commit({{"deploy/app.yaml", web_app_yaml("web:2", false)}}, "B: no config");
  auto rb = wait_release(rn, b, "Deployed");
  ASSERT_TRUE(rb) << rb.error().to_string() << "\n" << op.log_tail() << "\n" << hook.log_tail();
  EXPECT_FALSE(client().get(res::kConfigMaps, rn, "web-config")) << "pruned";
  auto d = client().get(res::kDeployments, rn, "web");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:2");

  // ----------------------------------------------------------- Pipeline
  const std::string pn = pl_ns.name();
  GitRepo ci("chart-ci-" + pn);
  std::string good = ci.commit({{"add.sh", "#!/bin/sh\necho $(($1 + $2))\n"},
                                {"test.sh", "#!/bin/sh\n[ \"$(sh ./add.sh 2 3)\" = 5 ]\n"}},
                               "the adder");
  ASSERT_TRUE(client().create(kPipelines, pn, yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: ci}
spec:
  source: {url: ")" + ci.git_url() + R"(", branch: main, interval: 10s}
  steps:
  - {name: audit, image: debian, script: "sh -n add.sh && sh -n test.sh"}
  - {name: test, image: debian, after: [audit], script: "sh ./test.sh"}
  - {name: build, image: debian, after: [test], script: "echo artifact=adder-$(git rev-parse --short HEAD) > /dev/termination-log"}
)")));
  auto run = wait_run(pn, "ci", good, 90s);
  ASSERT_TRUE(run) << run.error().to_string() << "\n" << op.log_tail();
  ASSERT_EQ(run->value("phase", ""), "Succeeded") << run->dump();
  ASSERT_EQ((*run)["steps"].size(), 3u);
  EXPECT_EQ((*run)["steps"][2]["results"].value("artifact", ""), "adder-" + good.substr(0, 7));

  // --------------------------------------- what the operator may not do
  const std::string op_user = "system:serviceaccount:" + ns + ":cairn-operator";
  const std::string hook_user = "system:serviceaccount:" + ns + ":cairn-webhook";
  ASSERT_TRUE(client().create(res::kSecrets, other.name(),
                              {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "not-yours"}}},
                               {"stringData", {{"password", "hunter2"}}}}));
  ASSERT_TRUE(client().create(res::kSecrets, rn,
                              {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "git-auth"}}},
                               {"stringData", {{"password", "s3cret"}}}}));
  {
    // A real request with the operator's own token.
    auto r = sh(cluster_env("KUBECTL") + " --kubeconfig " + op_kc + " -n " + other.name() +
                " get secret not-yours -o name 2>&1");
    EXPECT_NE(r.first, 0) << r.second;
    EXPECT_NE(r.second.find("Forbidden"), std::string::npos) << r.second;
    EXPECT_EQ(r.second.find("hunter2"), std::string::npos);
    auto mine = sh(cluster_env("KUBECTL") + " --kubeconfig " + op_kc + " -n " + rn +
                   " get secret git-auth -o name 2>&1");
    EXPECT_EQ(mine.first, 0) << "the Secrets of a managed namespace are readable: " << mine.second;
  }
  struct CanI {
    std::string user, what, ns;
    bool allowed;
  };
  for (const CanI& c : std::vector<CanI>{
           {op_user, "get secrets", other.name(), false},
           {op_user, "list secrets", rn, false},
           {op_user, "get secrets", rn, true},
           {op_user, "get secrets", pn, true},
           {op_user, "get secrets", "kube-system", false},
           {op_user, "create deployments.apps", other.name(), false},
           {op_user, "create deployments.apps", rn, true},
           {op_user, "delete configmaps", other.name(), false},
           {op_user, "create jobs.batch", other.name(), false},
           {op_user, "update releases.cairn.dev --subresource=status", other.name(), false},
           {op_user, "create namespaces", "", false},
           {op_user, "create clusterroles.rbac.authorization.k8s.io", "", false},
           {op_user, "update leases.coordination.k8s.io/cairn-operator", ns, true},
           {op_user, "update leases.coordination.k8s.io/someone-else", ns, false},
           {hook_user, "get secrets", other.name(), false},
           {hook_user, "get secrets", rn, true},
           {hook_user, "list namespaces", "", true},
           {hook_user, "update releases.cairn.dev", rn, false},
           {hook_user, "patch deployments.apps", rn, false},
       }) {
    std::string where = c.ns.empty() ? " --all-namespaces" : " -n " + c.ns;
    auto r = kubectl("auth can-i " + c.what + where + " --as=" + quote(c.user));
    // The answer is the last line (kubectl may warn first, e.g. that a
    // kind is not namespaced).
    std::string out = r.second;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    std::string answer = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
    EXPECT_EQ(answer, c.allowed ? "yes" : "no") << c.user << " " << c.what << where << ":\n"
                                                << r.second;
  }

  // Deleting the Release: the operator prunes what it applied (DELETEs the
  // webhook admits from its identity) and lets the Release go, all under
  // the chart's RBAC.
  ASSERT_TRUE(client().remove(kReleases, rn, "web"));
  EXPECT_TRUE(wait_gone(kReleases, rn, "web", 30s)) << op.log_tail() << "\n" << hook.log_tail();
  EXPECT_TRUE(wait_gone(res::kDeployments, rn, "web", 30s));
  EXPECT_TRUE(wait_gone(res::kServices, rn, "web", 30s));
}

// One watched namespace: the operator's informers are namespaced, and the
// chart binds it no ClusterRole at all; a Release still rolls out.
TEST(Chart, OneWatchedNamespaceRunsOnRolesAlone) {
  TestNamespace sys("e2e-chart1");
  TestNamespace rel_ns("e2e-chone");
  const std::string& ns = sys.name();
  const std::string rn = rel_ns.name();
  Chart chart(ns, "watchNamespaces: [" + rn + "]\noperator: {leaderElection: {enabled: false}}\n");
  ASSERT_TRUE(chart.error.empty()) << chart.error;
  const std::string op_user = "system:serviceaccount:" + ns + ":cairn-operator";
  for (const auto& b : chart.of_kind("ClusterRoleBinding"))
    for (const auto& sub : b.value("subjects", json::array()))
      EXPECT_NE(sub.value("name", ""), "cairn-operator") << b.dump();
  ClusterScoped cleanup;
  json vwc;
  std::string failed = install(chart, cleanup, &vwc);
  ASSERT_TRUE(failed.empty()) << failed;
  std::string err;
  const std::string op_kc = token_kubeconfig(chart.dir, ns, "cairn-operator", &err);
  ASSERT_FALSE(op_kc.empty()) << err;

  GitRepo app("chart-one-" + rn);
  std::string a = app.commit({{"deploy/app.yaml", web_app_yaml("web:1", true)}}, "A: web");
  std::vector<std::string> op_flags = chart.args("cairn-operator");
  op_flags.insert(op_flags.end(), {"--kubeconfig", op_kc, "--log-format", "text"});
  OperatorProcess op(rn, op_flags);
  ASSERT_TRUE(client().create(kReleases, rn, yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" + app.git_url() + R"(", branch: main, interval: 10s}
  path: deploy
  rollout: {progressDeadline: 30s}
)")));
  auto ra = wait_release(rn, a, "Deployed");
  ASSERT_TRUE(ra) << ra.error().to_string() << "\n" << op.log_tail();
  EXPECT_TRUE(client().get(res::kConfigMaps, rn, "web-config"));
  for (const std::string& what : {std::string("list releases.cairn.dev"), std::string("list pods"),
                                  std::string("get secrets")}) {
    auto r = kubectl("auth can-i " + what + " --all-namespaces --as=" + quote(op_user));
    EXPECT_NE(r.first, 0) << what << " cluster-wide: " << r.second;
  }
  auto r = kubectl("auth can-i get secrets -n " + rn + " --as=" + quote(op_user));
  EXPECT_EQ(r.first, 0) << r.second;
  // The finalizer is the operator's to remove, under the same Role.
  ASSERT_TRUE(client().remove(kReleases, rn, "web"));
  EXPECT_TRUE(wait_gone(kReleases, rn, "web", 30s)) << op.log_tail();
}

}  // namespace
}  // namespace cairn::e2e
