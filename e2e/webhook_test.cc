// The admission webhook end to end, as a user meets it: the real apiserver
// calls cairn-webhook (registered with a ValidatingWebhookConfiguration) for
// every change in a governed namespace, and people use kubectl. The operator
// runs as its own user (cairn-operator), so its rollouts and prunes are told
// apart from people's changes.
#include "support/webhook.h"

#include <gtest/gtest.h>

#include <thread>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;

const kube::ApiResource kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings",
                                      "RoleBinding", true};

std::string app_yaml(const std::string& color = "blue") {
  return e2e::app_yaml({.config_name = "settings", .config_data = "{color: " + color + "}"});
}

json release(const std::string& name, const std::string& url, const std::string& extra = "",
             const std::string& source_extra = "") {
  return yaml(release_yaml({.name = name,
                            .url = url,
                            .progress_deadline = "30s",
                            .source_extra = source_extra,
                            .extra = extra}));
}

kube::Result<json> wait_deployed(const std::string& ns, const std::string& commit,
                                 std::chrono::seconds limit = 60s) {
  return wait_for(
      kReleases, ns, "app",
      [&](const json& o) {
        const json st = o.value("status", json::object());
        return st.value("phase", "") == "Deployed" && st.value("currentCommit", "") == commit;
      },
      limit);
}

// A ConfigMap "settings" stamped as the operator would stamp it.
std::string stamped_settings(const std::string& ns, const std::string& release,
                             const std::string& url, const std::string& commit,
                             const std::string& color) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: " + ns +
         "\n  labels: {app.kubernetes.io/managed-by: cairn}\n  annotations:\n"
         "    cairn.dev/commit: \"" +
         commit + "\"\n    cairn.dev/source: \"" + url +
         "\"\n    cairn.dev/path: deploy/app.yaml\n    cairn.dev/release: " + ns + "/" + release +
         "\ndata: {color: " + color + "}\n";
}

std::map<std::string, std::string> with_app(std::map<std::string, std::string> files) {
  files["deploy/app.yaml"] = app_yaml();
  return files;
}

// A governed namespace with a Release of `repo` rolled out by the operator
// (running as cairn-operator) through the webhook.
struct Governed {
  explicit Governed(const std::string& prefix, std::vector<std::string> webhook_flags = {},
                    std::map<std::string, std::string> files = {})
      : ns(prefix, {{"cairn.dev/enforce", "deny"}}),
        repo("hook-" + ns.name()),
        a(repo.commit(with_app(std::move(files)), "A: web, service, settings")),
        hook(std::move(webhook_flags)) {
    ensure_operator_identity();
    hook.register_with_apiserver("cairn-e2e-" + ns.name(), ns.name());
    op = std::make_unique<OperatorProcess>(
        ns.name(), std::vector<std::string>{"--kubeconfig", kubeconfig_for("cairn-operator", ""),
                                            "--break-glass-ttl", "4s"});
  }
  std::string where() const {
    return "ns " + ns.name() + "\nwebhook log:\n" + hook.log_tail() + "\noperator log:\n" +
           op->log_tail();
  }
  // Every denial names the repository, the branch, the path and the Release.
  void expect_denied_with_directions(const std::pair<int, std::string>& r,
                                     const std::string& what) const {
    EXPECT_NE(r.first, 0) << what << " was admitted:\n" << r.second;
    for (const std::string& needle :
         {std::string("denied the request: Cairn:"), repo.git_url(), std::string("branch main"),
          std::string("deploy/"), "Release " + ns.name() + "/app"}) {
      EXPECT_NE(r.second.find(needle), std::string::npos)
          << what << ": the denial does not name \"" << needle << "\":\n"
          << r.second;
    }
  }

  TestNamespace ns;
  GitRepo repo;
  std::string a;
  WebhookProcess hook;
  std::unique_ptr<OperatorProcess> op;
};

TEST(Webhook, PeopleAreDeniedTheOperatorAndGitAreNot) {
  Governed g("e2e-hook", {"--scale", "deny"});
  const std::string& ns = g.ns.name();
  ASSERT_TRUE(client().create(kReleases, ns, release("app", g.repo.git_url())));
  auto ra = wait_deployed(ns, g.a);
  ASSERT_TRUE(ra) << "the operator's rollout must be admitted: " << ra.error().to_string() << "\n"
                  << g.where();
  EXPECT_NE(g.hook.metrics().find("rule=\"provenance\""), std::string::npos)
      << "the rollout did not go through the webhook";

  const std::string n = " -n " + ns + " ";
  {
    auto r = sh("KUBE_EDITOR='sed -i s/web:1/web:9/' " + cluster_env("KUBECTL") + n +
                "edit deployment web 2>&1");
    g.expect_denied_with_directions(r, "kubectl edit");
    EXPECT_NE(r.second.find("containers[0].image was changed"), std::string::npos) << r.second;
  }
  g.expect_denied_with_directions(
      kubectl(n + "patch deployment web -p '{\"spec\":{\"replicas\":5}}'"), "kubectl patch");
  g.expect_denied_with_directions(kubectl(n + "scale deployment web --replicas=3"),
                                  "kubectl scale");
  {
    // The manifest from git, changed, applied by hand.
    std::string changed = app_yaml("red");
    changed = changed.substr(changed.rfind("apiVersion: v1\nkind: ConfigMap"));
    auto r = kubectl(n + "apply -f -", changed);
    g.expect_denied_with_directions(r, "kubectl apply of a changed manifest");
    EXPECT_NE(r.second.find("data.color was changed"), std::string::npos) << r.second;
  }
  g.expect_denied_with_directions(kubectl(n + "delete configmap settings"), "kubectl delete");
  {
    auto r = kubectl(n + "create configmap extra --from-literal=a=b");
    g.expect_denied_with_directions(r, "kubectl create of an unstamped object");
    EXPECT_NE(r.second.find("was never in git"), std::string::npos) << r.second;
  }
  // Nothing of that reached the cluster.
  auto d = client().get(res::kDeployments, ns, "web");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["spec"].value("replicas", 0), 2);
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:1");
  EXPECT_TRUE(client().get(res::kConfigMaps, ns, "settings"));
  EXPECT_FALSE(client().get(res::kConfigMaps, ns, "extra"));

  // Who writes, not only what: with the Release suspended, a person applies
  // exactly what git has at a newer commit on the branch, stamped with it:
  // still refused, only the operator writes governed objects.
  ASSERT_TRUE(client().patch(kReleases, ns, "app", kube::PatchType::kMerge,
                             {{"spec", {{"suspend", true}}}}));
  std::string b = g.repo.commit({{"deploy/app.yaml", app_yaml("green")}}, "B: green");
  auto r = kubectl(n + "apply --server-side --field-manager=alice --force-conflicts -f -",
                   stamped_settings(ns, "app", g.repo.git_url(), b, "green"));
  g.expect_denied_with_directions(r, "a person applying git's own manifest");
  auto cm = client().get(res::kConfigMaps, ns, "settings");
  ASSERT_TRUE(cm);
  EXPECT_EQ((*cm)["data"].value("color", ""), "blue");
  // The operator applies it once the Release runs again.
  ASSERT_TRUE(client().patch(kReleases, ns, "app", kube::PatchType::kMerge,
                             {{"spec", {{"suspend", false}}}}));
  EXPECT_TRUE(wait_deployed(ns, b)) << g.where();
}

TEST(Webhook, ForgedStampsAreDenied) {
  Governed g("e2e-forge");
  const std::string& ns = g.ns.name();
  const std::string url = g.repo.git_url();
  // Two more Releases of the same repository that the operator leaves
  // alone (suspended): one requires signed commits, one is gated on a
  // Pipeline.
  ASSERT_TRUE(client().create(
      res::kSecrets, ns,
      {{"apiVersion", "v1"},
       {"kind", "Secret"},
       {"metadata", {{"name", "signers"}}},
       {"stringData",
        {{"ada",
          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
          "ada@example.com"}}}}));
  ASSERT_TRUE(client().create(kReleases, ns, release("app", url)));
  ASSERT_TRUE(
      client().create(kReleases, ns,
                      release("signed", url, "  suspend: true\n",
                              ", verify: {mode: head, signersSecretRef: {name: signers}}")));
  ASSERT_TRUE(client().create(
      kReleases, ns,
      release("gated", url, "  suspend: true\n  gate: {pipelineRef: {name: ci}}\n")));
  ASSERT_TRUE(wait_deployed(ns, g.a)) << g.where();

  // A commit whose test fails, and the Pipeline that tests it.
  std::string broken = g.repo.commit({{"BROKEN", "yes\n"}}, "F: breaks the tests");
  ASSERT_TRUE(client().create(kPipelines, ns, yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: ci}
spec:
  source: {url: ")" + url + R"(", branch: main, interval: 10s}
  steps:
  - {name: test, image: debian, script: "test ! -e BROKEN"}
)")));
  auto failed = wait_run(ns, "ci", broken, 90s);
  ASSERT_TRUE(failed) << failed.error().to_string() << "\n" << g.where();
  ASSERT_EQ(failed->value("phase", ""), "Failed") << failed->dump();
  ASSERT_TRUE(wait_deployed(ns, broken)) << g.where();

  // Only on an unmerged branch (committed last: the work tree follows it).
  std::string side = g.repo.commit({{"deploy/app.yaml", app_yaml("red")}}, "side", "feature");
  GitRepo other("hook-other-" + ns);
  std::string foreign = other.commit({{"deploy/app.yaml", app_yaml("blue")}}, "elsewhere");

  // Applied with the operator's identity: a person could not write them at
  // all; these are the checks on what the operator itself may apply.
  const std::string apply = " --kubeconfig " + kubeconfig_for("cairn-operator", "") + " -n " + ns +
                            " apply --server-side --force-conflicts -f -";
  struct Case {
    std::string name, manifest, expect;
  } cases[] = {
      {"a commit id that does not exist",
       stamped_settings(ns, "app", url, "0123456789abcdef0123456789abcdef01234567", "blue"),
       "does not exist in"},
      {"a commit only on an unmerged branch", stamped_settings(ns, "app", url, side, "red"),
       "is not on branch main"},
      {"a real commit with a changed field", stamped_settings(ns, "app", url, broken, "purple"),
       "data.color differs from git"},
      {"a real commit from another repository",
       stamped_settings(ns, "app", other.git_url(), foreign, "blue"), "does not track"},
      {"an unsigned commit where signing is required",
       stamped_settings(ns, "signed", url, g.a, "blue"), "is not signed"},
      {"a commit whose gating Pipeline run failed",
       stamped_settings(ns, "gated", url, broken, "blue"), "did not pass Pipeline " + ns + "/ci"},
      {"an older commit than the one deployed", stamped_settings(ns, "app", url, g.a, "blue"),
       "is older than"},
  };
  for (const auto& c : cases) {
    auto r = kubectl(apply, c.manifest);
    EXPECT_NE(r.first, 0) << c.name << " was admitted:\n" << r.second << "\n" << g.where();
    EXPECT_NE(r.second.find(c.expect), std::string::npos)
        << c.name << ": expected \"" << c.expect << "\" in:\n"
        << r.second;
    EXPECT_NE(r.second.find("Release " + ns + "/"), std::string::npos) << r.second;
  }
  auto cm = client().get(res::kConfigMaps, ns, "settings");
  ASSERT_TRUE(cm);
  EXPECT_EQ((*cm)["metadata"]["annotations"].value("cairn.dev/commit", ""), broken);

  // Specs the CRD schema cannot judge are refused with their field paths.
  auto cycle = kubectl(" -n " + ns + " apply -f -", R"(apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: loop}
spec:
  source: {url: "https://git.example.com/a.git", branch: main}
  steps:
  - {name: a, image: x, script: "true", after: [b]}
  - {name: b, image: x, script: "true", after: [a]}
)");
  EXPECT_NE(cycle.first, 0) << cycle.second;
  EXPECT_NE(cycle.second.find("spec.steps"), std::string::npos) << cycle.second;
  EXPECT_NE(cycle.second.find("cycle"), std::string::npos) << cycle.second;
}

// Who may break glass is itself in git.
const char* kBreakGlassBinding = R"(apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: break-glass}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "cairn:break-glass"}]
)";

TEST(Webhook, WarnAuditAndBreakGlass) {
  Governed g("e2e-glass", {}, {{"deploy/rbac.yaml", kBreakGlassBinding}});
  const std::string& ns = g.ns.name();
  ASSERT_TRUE(client().create(kReleases, ns, release("app", g.repo.git_url())));
  ASSERT_TRUE(wait_deployed(ns, g.a)) << g.where();

  // warn: admitted, and kubectl shows why it would not be.
  TestNamespace warn("e2e-warn", {{"cairn.dev/enforce", "warn"}});
  auto w = kubectl(" -n " + warn.name() + " create configmap loose --from-literal=a=b");
  EXPECT_EQ(w.first, 0) << w.second;
  EXPECT_NE(w.second.find("Warning: Cairn (warn):"), std::string::npos) << w.second;
  EXPECT_NE(w.second.find("was never in git"), std::string::npos) << w.second;

  // audit: admitted silently, and counted.
  TestNamespace audit("e2e-audit", {{"cairn.dev/enforce", "audit"}});
  auto a = kubectl(" -n " + audit.name() + " create configmap quiet --from-literal=a=b");
  EXPECT_EQ(a.first, 0) << a.second;
  EXPECT_EQ(a.second.find("Warning"), std::string::npos) << a.second;
  std::string m = g.hook.metrics();
  EXPECT_NE(m.find("namespace=\"" + audit.name() + "\""), std::string::npos) << m;
  EXPECT_NE(m.find("result=\"audited\""), std::string::npos) << m;

  // break-glass: members of cairn:break-glass may change a governed object
  // when it says why.
  ASSERT_TRUE(client().get(kRoleBindings, ns, "break-glass")) << g.where();
  const std::string glass =
      " -n " + ns +
      " --as=bob --as-group=cairn:break-glass patch deployment web -p "
      "'{\"metadata\":{\"annotations\":{\"cairn.dev/break-glass\":\"INC-7 hotfix\"}},"
      "\"spec\":{\"replicas\":3}}'";
  // A dry run gets the same answer and leaves no trace.
  auto dry = kubectl(glass + " --dry-run=server");
  EXPECT_EQ(dry.first, 0) << dry.second;
  EXPECT_NE(dry.second.find("break-glass"), std::string::npos) << dry.second;
  EXPECT_EQ(g.hook.metrics().find("cairn_admission_break_glass_total{"), std::string::npos);
  // Without the group, the same change is denied.
  auto outsider = kubectl(" -n " + ns +
                          " patch deployment web -p "
                          "'{\"metadata\":{\"annotations\":{\"cairn.dev/break-glass\":\"x\"}},"
                          "\"spec\":{\"replicas\":3}}'");
  EXPECT_NE(outsider.first, 0) << outsider.second;
  EXPECT_NE(outsider.second.find("may be set only by members of cairn:break-glass"),
            std::string::npos)
      << outsider.second;

  auto started = std::chrono::steady_clock::now();
  auto bg = kubectl(glass);
  ASSERT_EQ(bg.first, 0) << bg.second << "\n" << g.where();
  EXPECT_NE(bg.second.find("Warning: Cairn: break-glass UPDATE"), std::string::npos) << bg.second;
  EXPECT_NE(g.hook.metrics().find("cairn_admission_break_glass_total{namespace=\"" + ns + "\"} 1"),
            std::string::npos)
      << g.hook.metrics();
  EXPECT_NE(g.hook.log_tail().find("\"audit\":\"true\""), std::string::npos) << g.hook.log_tail();
  // The Release reports it, then puts git back when the break-glass time
  // (4 s here) is up, and the annotation goes with it.
  auto held = wait_for(
      kReleases, ns, "app",
      [](const json& o) {
        for (const auto& c : o.value("status", json::object()).value("conditions", json::array()))
          if (c.value("type", "") == "Ready" && c.value("reason", "") == "BreakGlass") return true;
        return false;
      },
      30s);
  EXPECT_TRUE(held) << held.error().to_string() << "\n" << g.where();
  auto restored = wait_for(
      res::kDeployments, ns, "web",
      [](const json& o) {
        return o["spec"].value("replicas", 0) == 2 && !o["metadata"]
                                                           .value("annotations", json::object())
                                                           .contains("cairn.dev/break-glass");
      },
      30s);
  ASSERT_TRUE(restored) << restored.error().to_string() << "\n" << g.where();
  // managedFields times have whole seconds: the hold is at least 3 of the 4 s.
  EXPECT_GE(std::chrono::steady_clock::now() - started, 3s);
  // The webhook recorded an Event on the object.
  auto events = client().list(res::kEvents, ns);
  ASSERT_TRUE(events);
  bool recorded = false;
  for (const auto& e : (*events)["items"])
    if (e.value("reason", "") == "BreakGlass" && e["involvedObject"].value("name", "") == "web" &&
        e["involvedObject"].value("kind", "") == "Deployment")
      recorded = true;
  EXPECT_TRUE(recorded) << events->dump();
}

TEST(Webhook, KilledWebhookFailsClosedOnlyWhereGoverned) {
  TestNamespace governed("e2e-closed", {{"cairn.dev/enforce", "deny"}});
  TestNamespace own("e2e-cairn-own");
  WebhookProcess hook({"--namespace", own.name()});
  hook.register_with_apiserver("cairn-e2e-" + governed.name(), governed.name());
  hook.kill9();

  auto r = kubectl(" -n " + governed.name() + " create configmap blocked --from-literal=a=b");
  EXPECT_NE(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("failed calling webhook"), std::string::npos) << r.second;
  EXPECT_FALSE(client().get(res::kConfigMaps, governed.name(), "blocked"));

  const std::string sys = "cairn-e2e-" + governed.name();
  auto k = kubectl(" -n kube-system create configmap " + sys + " --from-literal=a=b");
  EXPECT_EQ(k.first, 0) << k.second;
  (void)client().remove(res::kConfigMaps, "kube-system", sys);
  auto o = kubectl(" -n " + own.name() + " create configmap fine --from-literal=a=b");
  EXPECT_EQ(o.first, 0) << o.second;
  // Every kind is governed: a Secret fails closed too.
  auto s = kubectl(" -n " + governed.name() + " create secret generic s --from-literal=a=b");
  EXPECT_NE(s.first, 0) << s.second;
}

}  // namespace
}  // namespace cairn::e2e
