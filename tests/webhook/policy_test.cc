// The provenance policy against real git repositories (file://, libgit2
// mirrors) and a fake view of the cluster.
#include "webhook/policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "../git/testutil.h"
#include "api/names.h"
#include "manifest/render.h"

namespace cairn::webhook {
namespace {

using git::testing::Repo;
using git::testing::TempDir;
using json = cairn::json;

class FakeCluster : public ClusterView {
 public:
  std::map<std::string, Mode> modes;
  std::vector<std::shared_ptr<const ReleaseInfo>> rels;
  std::map<std::string, std::string> phases;  // "pipeline commit" -> phase
  std::set<std::string> pipelines;
  std::vector<std::string> keys;

  Mode mode(const std::string& ns) override {
    auto it = modes.find(ns);
    return it == modes.end() ? Mode::kNone : it->second;
  }
  std::vector<std::shared_ptr<const ReleaseInfo>> releases(const std::string& ns) override {
    std::vector<std::shared_ptr<const ReleaseInfo>> out;
    for (const auto& r : rels)
      if (r->ns == ns) out.push_back(r);
    return out;
  }
  std::optional<std::string> run_phase(const std::string&, const std::string& p,
                                       const std::string& commit) override {
    if (!pipelines.contains(p)) return std::nullopt;
    auto it = phases.find(p + " " + commit);
    return it == phases.end() ? "" : it->second;
  }
  std::expected<std::vector<std::string>, std::string> signers(const ReleaseInfo&) override {
    return keys;
  }
  std::optional<bool> is_namespaced(const std::string&, const std::string&) override {
    return std::nullopt;
  }
};

class LocalGit : public GitView {
 public:
  explicit LocalGit(std::string dir) : cache_(std::move(dir)) {}
  std::shared_ptr<git::Source> source(const std::string& url) override {
    return cache_.mirror(url);
  }
  std::expected<void, std::string> fetch(const ReleaseInfo&, git::Source& s) override {
    ++fetches;
    if (fail) return std::unexpected(std::string("Unreachable: connection refused"));
    auto r = s.fetch({});
    if (!r) return std::unexpected(r.error().to_string());
    return {};
  }
  int fetches = 0;
  bool fail = false;

 private:
  git::Cache cache_;
};

const char* kApp = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: shop/web:1
        resources:
          limits: {cpu: "0.5", memory: 128Mi}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
)";

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.write("deploy/app.yaml", kApp);
    commit_a_ = repo_.commit("A");
    repo_.push();
    cluster_.modes["shop"] = Mode::kDeny;
    cluster_.modes["loose"] = Mode::kWarn;
    cluster_.modes["watched"] = Mode::kAudit;
    add_release("shop");
    add_release("loose");
    add_release("watched");
    opts_.operator_users = {"system:serviceaccount:cairn-system:cairn-operator"};
    policy_ = std::make_unique<Policy>(cluster_, git_, opts_);
  }

  void add_release(const std::string& ns, const std::string& name = "app",
                   std::function<void(api::ReleaseSpec&)> edit = {}) {
    api::ReleaseSpec spec;
    spec.source.url = repo_.url();
    spec.source.branch = "main";
    spec.path = "deploy";
    if (edit) edit(spec);
    cluster_.rels.push_back(std::make_shared<const ReleaseInfo>(ReleaseInfo{ns, name, spec}));
  }

  // The object as the operator would apply it at `commit`, with what the
  // apiserver adds (defaults, uid, status).
  json live(const std::string& kind, const std::string& commit, const std::string& ns = "shop") {
    git::Mirror m(repo_.url(), tmp_ / ("render-" + commit));
    EXPECT_TRUE(m.fetch({}));
    auto files = m.files(commit, "deploy", {});
    if (!files) {
      ADD_FAILURE() << files.error().to_string();
      return {};
    }
    auto out = manifest::render({.release_namespace = ns,
                                 .release_name = "app",
                                 .commit = commit,
                                 .source_url = repo_.url(),
                                 .files = *files});
    EXPECT_TRUE(out);
    for (auto obj : out->objects) {
      if (obj["kind"] != kind) continue;
      obj["metadata"]["uid"] = "1234";
      obj["metadata"]["resourceVersion"] = "7";
      if (kind == "Deployment") {
        auto& c = obj["spec"]["template"]["spec"]["containers"][0];
        c["terminationMessagePath"] = "/dev/termination-log";
        c["resources"]["limits"]["cpu"] = "500m";  // the apiserver's canonical form
        obj["spec"]["strategy"] = {{"type", "RollingUpdate"}};
        obj["status"] = {{"replicas", 2}};
      }
      return obj;
    }
    ADD_FAILURE() << "no " << kind << " rendered";
    return {};
  }

  Review review(const std::string& op, json obj, const std::string& ns = "shop",
                const std::string& user = "alice", std::vector<std::string> groups = {}) {
    Review r;
    r.api_version = "admission.k8s.io/v1";
    r.uid = "u-1";
    std::string kind = obj.value("kind", "Deployment");
    r.kind = kind;
    r.group = kind == "Deployment" ? "apps" : "";
    r.version = "v1";
    r.resource_group = r.group;
    r.resource = kind == "Deployment" ? "deployments" : "configmaps";
    r.ns = ns;
    r.name = obj["metadata"].value("name", "");
    r.operation = op;
    r.username = user;
    r.groups = std::move(groups);
    if (op == "DELETE")
      r.old_object = std::move(obj);
    else
      r.object = std::move(obj);
    return r;
  }

  TempDir tmp_;
  Repo repo_{tmp_};
  std::string commit_a_;
  FakeCluster cluster_;
  LocalGit git_{tmp_ / "cache"};
  PolicyOptions opts_;
  std::unique_ptr<Policy> policy_;
};

TEST_F(PolicyTest, UngovernedNamespaceIsAdmitted) {
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  auto d = policy_->decide(review("CREATE", cm, "elsewhere"));
  EXPECT_TRUE(d.verdict.allowed);
  EXPECT_EQ(d.rule, "not-governed");
}

TEST_F(PolicyTest, UnstampedCreateIsDeniedWithWhereToCommit) {
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  auto d = policy_->decide(review("CREATE", cm));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_EQ(d.verdict.code, 403);
  const auto& m = d.verdict.message;
  EXPECT_NE(m.find("no provenance stamp"), std::string::npos) << m;
  EXPECT_NE(m.find(repo_.url()), std::string::npos) << m;
  EXPECT_NE(m.find("branch main"), std::string::npos) << m;
  EXPECT_NE(m.find("deploy/"), std::string::npos) << m;
  EXPECT_NE(m.find("Release shop/app"), std::string::npos) << m;
}

TEST_F(PolicyTest, ObjectMatchingGitAtATrackedCommitIsAdmitted) {
  auto d = policy_->decide(review("UPDATE", live("Deployment", commit_a_)));
  EXPECT_TRUE(d.verdict.allowed) << d.verdict.message;
  EXPECT_EQ(d.rule, "provenance");
  // A second look is served from the caches: no further fetch.
  int fetches = git_.fetches;
  d = policy_->decide(review("UPDATE", live("Deployment", commit_a_)));
  EXPECT_TRUE(d.verdict.allowed) << d.verdict.message;
  EXPECT_EQ(git_.fetches, fetches);
}

TEST_F(PolicyTest, ObjectWithoutItsNamespaceIsInTheRequestsNamespace) {
  json obj = live("Deployment", commit_a_);
  obj["metadata"].erase("namespace");
  auto d = policy_->decide(review("CREATE", obj));
  EXPECT_TRUE(d.verdict.allowed) << d.verdict.message;
}

TEST_F(PolicyTest, ChangedFieldIsDeniedNamingTheField) {
  json obj = live("Deployment", commit_a_);
  obj["spec"]["replicas"] = 5;
  auto d = policy_->decide(review("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("spec.replicas differs from git"), std::string::npos)
      << d.verdict.message;
  EXPECT_NE(d.verdict.message.find("deploy/app.yaml"), std::string::npos) << d.verdict.message;

  obj = live("Deployment", commit_a_);
  obj["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/web:1";
  d = policy_->decide(review("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("containers[0].image"), std::string::npos) << d.verdict.message;
  // Values never appear in messages.
  EXPECT_EQ(d.verdict.message.find("evil"), std::string::npos) << d.verdict.message;
}

TEST_F(PolicyTest, IgnoredFieldsAreNotCompared) {
  opts_.ignore_fields["apps/Deployment"] = {"spec.replicas"};
  Policy p(cluster_, git_, opts_);
  json obj = live("Deployment", commit_a_);
  obj["spec"]["replicas"] = 7;
  EXPECT_TRUE(p.decide(review("UPDATE", obj)).verdict.allowed);
}

TEST_F(PolicyTest, ForgedCommitIdIsDeniedAfterOneFetch) {
  json obj = live("Deployment", commit_a_);
  obj["metadata"]["annotations"][std::string(api::kCommitAnnotation)] =
      "0123456789abcdef0123456789abcdef01234567";
  int before = git_.fetches;
  auto d = policy_->decide(review("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("does not exist"), std::string::npos) << d.verdict.message;
  EXPECT_EQ(git_.fetches, before + 1);
}

TEST_F(PolicyTest, CommitPushedAfterTheMirrorWasFetchedIsFoundByOneFetch) {
  ASSERT_TRUE(policy_->decide(review("UPDATE", live("Deployment", commit_a_))).verdict.allowed);
  repo_.write("deploy/app.yaml", std::string(kApp) + "  size: large\n");
  std::string b = repo_.commit("B");
  repo_.push();
  int before = git_.fetches;
  auto d = policy_->decide(review("UPDATE", live("ConfigMap", b)));
  EXPECT_TRUE(d.verdict.allowed) << d.verdict.message;
  EXPECT_EQ(git_.fetches, before + 1);
}

TEST_F(PolicyTest, CommitOnUnmergedBranchIsDenied) {
  repo_.git("checkout -q -b feature");
  repo_.write("deploy/app.yaml", std::string(kApp) + "  size: large\n");
  std::string side = repo_.commit("side");
  repo_.push();
  auto d = policy_->decide(review("UPDATE", live("ConfigMap", side)));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("is not on branch main"), std::string::npos)
      << d.verdict.message;
}

TEST_F(PolicyTest, StampFromAnotherRepositoryIsDenied) {
  json obj = live("Deployment", commit_a_);
  obj["metadata"]["annotations"][std::string(api::kSourceAnnotation)] =
      "https://git.example.com/other.git";
  auto d = policy_->decide(review("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("does not track"), std::string::npos) << d.verdict.message;
}

TEST_F(PolicyTest, UnreachableRepositoryIsDeniedSayingSo) {
  json obj = live("Deployment", commit_a_);
  git_.fail = true;
  auto d = policy_->decide(review("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("cannot be fetched"), std::string::npos) << d.verdict.message;
}

TEST_F(PolicyTest, GateRequiresASucceededRun) {
  cluster_.rels.clear();
  add_release("shop", "app", [](api::ReleaseSpec& s) { s.gate = api::GateSpec{{"ci"}}; });
  cluster_.pipelines.insert("ci");
  Policy p(cluster_, git_, opts_);
  json obj = live("Deployment", commit_a_);
  cluster_.phases["ci " + commit_a_] = "Failed";
  auto d = p.decide(review("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("did not pass Pipeline shop/ci"), std::string::npos)
      << d.verdict.message;
  cluster_.phases["ci " + commit_a_] = "Succeeded";
  EXPECT_TRUE(p.decide(review("UPDATE", obj)).verdict.allowed);
}

TEST_F(PolicyTest, UnsignedCommitIsDeniedWhereSigningIsRequired) {
  cluster_.rels.clear();
  add_release("shop", "app", [](api::ReleaseSpec& s) {
    s.source.verify.mode = api::VerifyMode::kHead;
    s.source.verify.signers_secret_ref = api::LocalObjectReference{"signers"};
  });
  cluster_.keys = {
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"};
  Policy p(cluster_, git_, opts_);
  auto d = p.decide(review("UPDATE", live("Deployment", commit_a_)));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("is not signed"), std::string::npos) << d.verdict.message;
}

TEST_F(PolicyTest, WarnAdmitsWithWarningsAndAuditOnlyCounts) {
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  auto w = policy_->decide(review("CREATE", cm, "loose"));
  EXPECT_TRUE(w.verdict.allowed);
  EXPECT_EQ(w.result, "warned");
  ASSERT_EQ(w.verdict.warnings.size(), 2u);
  EXPECT_NE(w.verdict.warnings[0].find("no provenance stamp"), std::string::npos);
  EXPECT_NE(w.verdict.warnings[1].find("Release loose/app"), std::string::npos);
  auto a = policy_->decide(review("CREATE", cm, "watched"));
  EXPECT_TRUE(a.verdict.allowed);
  EXPECT_EQ(a.result, "audited");
  EXPECT_TRUE(a.verdict.warnings.empty());
}

TEST_F(PolicyTest, BreakGlassNeedsTheGroupAndTheReason) {
  json obj = live("Deployment", commit_a_);
  obj["spec"]["replicas"] = 9;
  obj["metadata"]["annotations"][std::string(api::kBreakGlassAnnotation)] = "INC-42 hotfix";
  auto d = policy_->decide(review("UPDATE", obj, "shop", "bob", {"cairn:break-glass"}));
  EXPECT_TRUE(d.verdict.allowed);
  EXPECT_TRUE(d.break_glass);
  EXPECT_EQ(d.break_glass_reason, "INC-42 hotfix");
  ASSERT_FALSE(d.verdict.warnings.empty());
  EXPECT_NE(d.verdict.warnings[0].find("break-glass"), std::string::npos);

  auto outsider = policy_->decide(review("UPDATE", obj, "shop", "eve", {"devs"}));
  EXPECT_FALSE(outsider.verdict.allowed);
  EXPECT_NE(outsider.verdict.message.find("break-glass needs group cairn:break-glass"),
            std::string::npos)
      << outsider.verdict.message;
}

TEST_F(PolicyTest, DeleteOnlyByTheOperator) {
  json obj = live("ConfigMap", commit_a_);
  auto d = policy_->decide(review("DELETE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("can only be deleted through git"), std::string::npos);
  EXPECT_NE(d.verdict.message.find("Release shop/app prunes it"), std::string::npos)
      << d.verdict.message;
  auto op = policy_->decide(
      review("DELETE", obj, "shop", "system:serviceaccount:cairn-system:cairn-operator"));
  EXPECT_TRUE(op.verdict.allowed);
}

TEST_F(PolicyTest, SubresourcesAndExemptUsers) {
  Review r = review("UPDATE", live("Deployment", commit_a_));
  r.sub_resource = "status";
  r.object["status"] = {{"replicas", 99}};
  EXPECT_TRUE(policy_->decide(r).verdict.allowed);

  Review s = review("UPDATE", json{{"apiVersion", "autoscaling/v1"},
                                   {"kind", "Scale"},
                                   {"metadata", {{"name", "web"}}},
                                   {"spec", {{"replicas", 5}}}});
  s.kind = "Scale";
  s.group = "autoscaling";
  s.resource_group = "apps";
  s.resource = "deployments";
  s.sub_resource = "scale";
  s.old_object = s.object;
  EXPECT_TRUE(policy_->decide(s).verdict.allowed);
  opts_.allow_scale = false;
  Policy strict(cluster_, git_, opts_);
  auto d = strict.decide(s);
  EXPECT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("scaling deployments shop/web by hand is turned off"),
            std::string::npos)
      << d.verdict.message;

  json cm = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "kube-root-ca.crt"}}}};
  EXPECT_TRUE(policy_
                  ->decide(review("CREATE", cm, "shop", "system:serviceaccount:kube-system:x",
                                  {"system:serviceaccounts:kube-system"}))
                  .verdict.allowed);
  EXPECT_TRUE(policy_->decide(review("CREATE", cm, "kube-system")).verdict.allowed);
}

TEST_F(PolicyTest, UngovernedKindIsAdmitted) {
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "p"}}}};
  Review r = review("CREATE", pod);
  r.resource = "pods";
  EXPECT_EQ(policy_->decide(r).rule, "kind-not-governed");
}

TEST_F(PolicyTest, ObjectMissingFromTheCommitIsDenied) {
  json obj = live("ConfigMap", commit_a_);
  obj["metadata"]["name"] = "other";
  auto d = policy_->decide(review("CREATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("is not among the manifests under deploy/"), std::string::npos)
      << d.verdict.message;
}

TEST_F(PolicyTest, SpecValidationNamesFields) {
  Review r;
  r.api_version = "admission.k8s.io/v1";
  r.uid = "x";
  r.group = "cairn.dev";
  r.kind = "Pipeline";
  r.ns = "shop";
  r.name = "ci";
  r.operation = "CREATE";
  r.object = {{"apiVersion", "cairn.dev/v1alpha1"},
              {"kind", "Pipeline"},
              {"metadata", {{"name", "ci"}}},
              {"spec",
               {{"source", {{"url", "https://git.example.com/a.git"}, {"branch", "main"}}},
                {"steps",
                 {{{"name", "a"}, {"image", "x"}, {"script", "true"}, {"after", {"b"}}},
                  {{"name", "b"}, {"image", "x"}, {"script", "true"}, {"after", {"a"}}}}}}}};
  auto d = policy_->validate_spec(r);
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("spec.steps"), std::string::npos) << d.verdict.message;
  EXPECT_NE(d.verdict.message.find("cycle"), std::string::npos) << d.verdict.message;

  r.object["spec"]["steps"][0].erase("after");
  EXPECT_TRUE(policy_->validate_spec(r).verdict.allowed);

  r.kind = "Release";
  r.object = {
      {"apiVersion", "cairn.dev/v1alpha1"},
      {"kind", "Release"},
      {"metadata", {{"name", "app"}, {"annotations", {{"cairn.dev/rollback-to", "HEAD~1"}}}}},
      {"spec",
       {{"source", {{"url", "https://git.example.com/a.git"}, {"branch", "main"}, {"tag", "v1"}}},
        {"path", "deploy"}}}};
  d = policy_->validate_spec(r);
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("spec.source"), std::string::npos) << d.verdict.message;
  EXPECT_NE(d.verdict.message.find("cairn.dev/rollback-to"), std::string::npos)
      << d.verdict.message;
}

// Issue #9, hostile input: a Pipeline of 10,000 steps (about 690 kB of JSON,
// parsed from the AdmissionReview as the webhook receives it) is denied with
// a message that names the field and the limit, before any per-step work.
TEST_F(PolicyTest, TenThousandStepsAreDeniedNamingTheFieldAndTheLimit) {
  json steps = json::array();
  for (int i = 0; i < 10000; ++i) {
    steps.push_back({{"name", "s" + std::to_string(i)},
                     {"image", "busybox"},
                     {"script", "true"},
                     {"after", i ? json::array({"s" + std::to_string(i - 1)}) : json::array()}});
  }
  const json body = {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "u-10k"},
        {"kind", {{"group", "cairn.dev"}, {"version", "v1alpha1"}, {"kind", "Pipeline"}}},
        {"resource", {{"group", "cairn.dev"}, {"version", "v1alpha1"}, {"resource", "pipelines"}}},
        {"namespace", "shop"},
        {"name", "big"},
        {"operation", "CREATE"},
        {"userInfo", {{"username", "dev"}}},
        {"object",
         {{"apiVersion", "cairn.dev/v1alpha1"},
          {"kind", "Pipeline"},
          {"metadata", {{"name", "big"}, {"namespace", "shop"}}},
          {"spec",
           {{"source", {{"url", "https://git.example.com/a.git"}, {"branch", "main"}}},
            {"steps", steps}}}}}}}};
  const std::string text = body.dump();
  ASSERT_GT(text.size(), 600'000u);
  const auto start = std::chrono::steady_clock::now();
  auto r = parse_review(text);
  ASSERT_TRUE(r) << r.error();
  auto d = policy_->validate_spec(*r);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(d.verdict.allowed);
  EXPECT_NE(d.verdict.message.find("spec.steps: 10000 steps: at most 100 are allowed"),
            std::string::npos)
      << d.verdict.message;
  std::printf("10,000 steps (%zu bytes) denied in %.1f ms\n", text.size(),
              std::chrono::duration<double, std::milli>(took).count());
}

TEST(ParseKinds, KindDotGroup) {
  auto k = parse_kinds("Deployment.apps, ConfigMap,Ingress.networking.k8s.io");
  ASSERT_TRUE(k);
  EXPECT_EQ(*k,
            (std::set<std::string>{"apps/Deployment", "/ConfigMap", "networking.k8s.io/Ingress"}));
  EXPECT_FALSE(parse_kinds("deployment"));
  EXPECT_FALSE(parse_kinds(""));
}

}  // namespace
}  // namespace cairn::webhook
