// The Release reconciler driven step by step against the shared fakes: no
// cluster, no git server. Each test says which exit it covers.
#include <gtest/gtest.h>

#include <thread>

#include "api/names.h"
#include "fakes/fakes.h"
#include "kube/util.h"
#include "operator/release/reconciler.h"

namespace cairn::release {
namespace {

using fakes::FakeApi;
using kube::json;
using K = kit::Outcome::Kind;

const std::string kUrl = "https://git.example.com/shop/app.git";
const kube::ApiResource kNs{"", "v1", "namespaces", "Namespace", false};
const kube::ApiResource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
const kube::ApiResource kDeployments{"apps", "v1", "deployments", "Deployment", true};

std::string config(const std::string& color) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: " + color +
         "}\n";
}

std::string deployment(const std::string& image) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n"
         "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
         "    spec: {containers: [{name: web, image: " +
         image + "}]}\n";
}

// A Deployment controller: "bad" images never become available.
void rollout_controller(json& o) {
  if (o.value("kind", "") != "Deployment") return;
  const std::string image = o["spec"]["template"]["spec"]["containers"][0].value("image", "");
  const int64_t gen = o["metadata"].value("generation", int64_t{1});
  if (image == "bad") {
    o["status"] = {
        {"observedGeneration", gen},
        {"replicas", 1},
        {"updatedReplicas", 1},
        {"unavailableReplicas", 1},
        {"conditions",
         {{{"type", "Progressing"}, {"status", "False"}, {"reason", "ProgressDeadlineExceeded"}}}}};
  } else {
    o["status"] = {{"observedGeneration", gen},
                   {"replicas", 1},
                   {"updatedReplicas", 1},
                   {"readyReplicas", 1},
                   {"availableReplicas", 1}};
  }
}

struct Harness {
  FakeApi api;
  fakes::FakeSources sources;
  fakes::FakeEvents events;
  kube::Store releases, pipelines;
  std::shared_ptr<fakes::FakeGit> repo = sources.repo(kUrl);
  Options opts;
  std::unique_ptr<Reconciler> rec;

  explicit Harness(const std::string& enforce = "deny") {
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}};
    if (!enforce.empty()) ns["metadata"]["labels"] = {{std::string(api::kEnforceLabel), enforce}};
    api.put(kNs, ns);
    api.on_applied = rollout_controller;
    opts.progress_poll = std::chrono::milliseconds(1);
    opts.apply_concurrency = 1;
    restart();
  }
  // A new operator process: nothing in memory survives.
  void restart() {
    rec = std::make_unique<Reconciler>(api, releases, pipelines, sources, events, opts);
  }
  void create(json spec_patch = json::object()) {
    json spec = {{"source", {{"url", kUrl}, {"branch", "main"}, {"interval", "1m"}}},
                 {"path", "deploy"}};
    fakes::merge_patch(spec, spec_patch);
    api.put(Reconciler::resource(), {{"apiVersion", "cairn.dev/v1alpha1"},
                                     {"kind", "Release"},
                                     {"metadata", {{"name", "app"}, {"namespace", "shop"}}},
                                     {"spec", spec}});
  }
  void edit_spec(const json& patch) {
    auto r = release();
    fakes::merge_patch(r["spec"], patch);
    r["metadata"]["generation"] = r["metadata"].value("generation", 1) + 1;
    api.put(Reconciler::resource(), r);
  }
  // The informer's cache follows the apiserver.
  void sync() {
    for (const auto& k : releases.keys()) releases.erase(k);
    for (const auto& r : api.all(Reconciler::resource()))
      releases.upsert(std::make_shared<const json>(r));
  }
  kit::Outcome reconcile() {
    sync();
    auto out = rec->reconcile("shop/app");
    sync();
    return out;
  }
  // Reconciles until nothing is left to do now (a poll), at most n times.
  kit::Outcome settle(int n = 10) {
    kit::Outcome out;
    for (int i = 0; i < n; ++i) {
      out = reconcile();
      if (out.kind() != K::kRequeue || out.after() >= std::chrono::seconds(1)) break;
    }
    return out;
  }
  json release() const { return *api.peek(Reconciler::resource(), "shop", "app"); }
  json status() const { return release().value("status", json::object()); }
  json condition(const std::string& type) const {
    for (const auto& c : status().value("conditions", json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return json::object();
  }
  std::string ready_reason() const { return condition("Ready").value("reason", ""); }
  std::optional<json> settings() const { return api.peek(kConfigMaps, "shop", "settings"); }
};

TEST(ReleaseReconciler, DeploysACommitStepByStepAndWritesStatusOnEveryExit) {
  Harness h;
  std::string a = h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();

  auto applied = h.reconcile();  // finalizer, source, roll out
  EXPECT_EQ(applied.kind(), K::kRequeue);
  EXPECT_EQ(h.status().value("phase", ""), "Progressing");
  EXPECT_EQ(h.condition("Reconciling").value("reason", ""), "Progressing");
  EXPECT_EQ(h.status().value("observedGeneration", 0), 1);
  ASSERT_TRUE(h.settings());
  EXPECT_EQ((*h.settings())["data"]["color"], "blue");
  EXPECT_EQ((*h.settings())["metadata"]["annotations"][std::string(api::kCommitAnnotation)], a);
  json fins = h.release()["metadata"].value("finalizers", json::array());
  EXPECT_EQ(fins, json::array({std::string(api::kFinalizer)}));

  auto healthy = h.reconcile();  // progress: a ConfigMap is healthy once applied
  EXPECT_EQ(healthy.kind(), K::kRequeue);
  EXPECT_EQ(healthy.after(), std::chrono::minutes(1)) << "the next poll";
  EXPECT_EQ(h.status().value("phase", ""), "Deployed");
  EXPECT_EQ(h.status().value("currentCommit", ""), a);
  EXPECT_EQ(h.ready_reason(), "Deployed");
  EXPECT_TRUE(h.events.has("Deployed"));

  // Steady: nothing changes, nothing is written.
  const auto writes = h.api.count("update", "releases") + h.api.count("patch", "releases");
  h.api.clear_calls();
  h.reconcile();
  EXPECT_EQ(h.api.count("update", "releases") + h.api.count("patch", "releases"), 0u) << writes;
  EXPECT_EQ(h.api.count("apply", "configmaps"), 1u) << "only the drift check's dry run";
}

TEST(ReleaseReconciler, AnInvalidSpecStallsAndSettlesTheGeneration) {
  Harness h;
  h.create({{"source", {{"interval", "often"}}}});
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kStalled);
  EXPECT_EQ(h.condition("Stalled").value("status", ""), "True");
  EXPECT_EQ(h.ready_reason(), "InvalidSpec");
  EXPECT_EQ(h.status().value("observedGeneration", 0), 1);
  EXPECT_EQ(h.api.count("apply"), 0u);
}

TEST(ReleaseReconciler, AFailingSourceRetriesAndDoesNotSettleTheNewGeneration) {
  Harness h;
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  ASSERT_EQ(h.status().value("observedGeneration", 0), 1);

  h.repo->fail_fetch = true;
  h.edit_spec({{"source", {{"interval", "2m"}}}});  // generation 2
  h.rec->request_fetch("shop/app");                 // a push: fetch now
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kRetry);
  ASSERT_TRUE(out.error());
  EXPECT_TRUE(out.error()->transient());
  EXPECT_TRUE(out.has_retry_after()) << "the source keeps its own backoff";
  EXPECT_EQ(h.condition("Ready").value("status", ""), "False");
  EXPECT_NE(h.condition("Ready").value("message", "").find("stays deployed"), std::string::npos);
  EXPECT_EQ(h.status().value("observedGeneration", 0), 1) << "generation 2 was not looked at";
}

TEST(ReleaseReconciler, AnUnreachableApiserverRetriesWithoutFailingTheCommit) {
  Harness h;
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.api.fault = [](const FakeApi::Call& c) -> std::optional<kube::Error> {
    if (c.verb == "apply") return FakeApi::error(kube::Code::kUnavailable, "connection refused");
    return std::nullopt;
  };
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kRetry);
  EXPECT_FALSE(out.has_retry_after()) << "the work queue's backoff";
  EXPECT_TRUE(h.status().value("history", json::array()).empty())
      << "nothing is recorded against the commit";
  EXPECT_EQ(h.condition("Reconciling").value("reason", ""), "ApplyRetrying");
  EXPECT_TRUE(h.events.has("ApplyRetrying"));

  h.api.fault = nullptr;
  h.settle();
  EXPECT_EQ(h.status().value("phase", ""), "Deployed");
}

TEST(ReleaseReconciler, ARefusedManifestFailsTheCommitOnceAndIsNotRetried) {
  Harness h;
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.api.fault = [](const FakeApi::Call& c) -> std::optional<kube::Error> {
    if (c.verb == "apply") return FakeApi::error(kube::Code::kInvalid, "data.color: Invalid");
    return std::nullopt;
  };
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kRequeue) << "a poll for a newer commit, not a retry";
  EXPECT_EQ(h.status().value("phase", ""), "Failed");
  EXPECT_EQ(h.ready_reason(), "ApplyFailed");
  EXPECT_EQ(h.status()["history"].size(), 1u);
  h.api.clear_calls();
  h.reconcile();
  EXPECT_EQ(h.api.count("apply"), 0u) << "a failed commit waits for a newer one";
  EXPECT_EQ(h.status()["history"].size(), 1u);
}

TEST(ReleaseReconciler, AFailedRolloutRollsBackToTheLastDeployedCommit) {
  Harness h;
  std::string a = h.repo->commit("main", {{"deploy/app.yaml", deployment("good")}});
  h.create();
  h.settle();
  ASSERT_EQ(h.status().value("currentCommit", ""), a);
  std::string b = h.repo->commit("main", {{"deploy/app.yaml", deployment("bad")}});
  h.rec->request_fetch("shop/app");
  h.settle();
  EXPECT_EQ(h.status().value("phase", ""), "RolledBack");
  EXPECT_EQ(h.status().value("currentCommit", ""), a);
  EXPECT_EQ(h.status()["history"][0].value("commit", ""), b);
  EXPECT_EQ(h.status()["history"][0].value("result", ""), "RolledBack");
  auto web = h.api.peek(kDeployments, "shop", "web");
  ASSERT_TRUE(web);
  EXPECT_EQ((*web)["spec"]["template"]["spec"]["containers"][0]["image"], "good");
  EXPECT_TRUE(h.events.has("RolledBack"));
  EXPECT_EQ(h.ready_reason(), "RolloutFailed");
}

TEST(ReleaseReconciler, AGateHoldsTheCommitUntilItsRunSucceeds) {
  Harness h;
  std::string a = h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create({{"gate", {{"pipelineRef", {{"name", "ci"}}}}}});
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kRequeue);
  EXPECT_EQ(h.condition("Reconciling").value("reason", ""), "WaitingForGate");
  EXPECT_FALSE(h.settings());
  h.pipelines.upsert(std::make_shared<const json>(
      json{{"metadata", {{"name", "ci"}, {"namespace", "shop"}}},
           {"status", {{"runs", {{{"id", "r1"}, {"commit", a}, {"phase", "Succeeded"}}}}}}}));
  h.settle();
  EXPECT_EQ(h.status().value("currentCommit", ""), a);
}

TEST(ReleaseReconciler, AnUnsignedHeadIsNotDeployed) {
  Harness h;
  std::string a = h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.api.put(kube::ApiResource{"", "v1", "secrets", "Secret", true},
            {{"apiVersion", "v1"},
             {"kind", "Secret"},
             {"metadata", {{"name", "signers"}, {"namespace", "shop"}}},
             {"data", {{"ada", kube::base64_encode("ssh-ed25519 AAAA ada")}}}});
  h.create(
      {{"source", {{"verify", {{"mode", "head"}, {"signersSecretRef", {{"name", "signers"}}}}}}}});
  h.reconcile();
  EXPECT_EQ(h.ready_reason(), "SignatureVerificationFailed");
  EXPECT_FALSE(h.settings());
  h.repo->signatures[a] = git::SignatureStatus::kValid;
  h.rec->request_fetch("shop/app");
  h.settle();
  EXPECT_EQ(h.status().value("currentCommit", ""), a);
}

// A crash (every call fails from the n-th on), then a restarted operator:
// whatever step was interrupted, it converges to the same status, and no
// commit is recorded twice.
TEST(ReleaseReconciler, ConvergesAfterACrashAtEveryStep) {
  size_t calls = 0;
  {
    Harness clean;
    clean.repo->commit("main",
                       {{"deploy/app.yaml", config("blue") + "---\n" + deployment("good")}});
    clean.create();
    clean.settle();
    calls = clean.api.calls().size();
  }
  ASSERT_GT(calls, 5u);
  for (size_t crash_at = 0; crash_at < calls; ++crash_at) {
    Harness h;
    std::string a = h.repo->commit(
        "main", {{"deploy/app.yaml", config("blue") + "---\n" + deployment("good")}});
    h.create();
    size_t n = 0;
    h.api.fault = [&](const FakeApi::Call&) -> std::optional<kube::Error> {
      if (n++ >= crash_at) return FakeApi::error(kube::Code::kUnavailable, "operator killed");
      return std::nullopt;
    };
    h.settle(3);
    h.api.fault = nullptr;
    h.restart();
    h.settle();
    SCOPED_TRACE("crash at call " + std::to_string(crash_at));
    EXPECT_EQ(h.status().value("phase", ""), "Deployed");
    EXPECT_EQ(h.status().value("currentCommit", ""), a);
    EXPECT_EQ(h.status()["history"].size(), 1u);
    EXPECT_EQ(h.ready_reason(), "Deployed");
    EXPECT_EQ(h.api.all(kConfigMaps).size(), 1u);
    // Idempotent: once converged, another reconcile writes nothing.
    h.api.clear_calls();
    h.reconcile();
    EXPECT_EQ(h.api.count("update") + h.api.count("patch"), 0u);
  }
}

// ---- drift: put back completely (issue #15)

json hand_label_fields() { return {{"f:metadata", {{"f:labels", {{"f:extra", json::object()}}}}}}; }

// Killed after applying commit A but before its status write, then commit B
// pushed: the restarted operator deploys B, and history still has A (the
// live objects carried it), so history has no gaps.
TEST(ReleaseReconciler, AnApplyWhoseRecordACrashLostStaysInHistory) {
  Harness h;
  std::string a =
      h.repo->commit("main", {{"deploy/app.yaml", config("blue") + "---\n" + deployment("good")}});
  h.create();
  h.api.fault = [&](const FakeApi::Call& call) -> std::optional<kube::Error> {
    if (call.subresource == "status") return FakeApi::error(kube::Code::kUnavailable, "killed");
    return std::nullopt;
  };
  h.settle(1);
  h.api.fault = nullptr;
  ASSERT_FALSE(h.api.all(kConfigMaps).empty()) << "commit A was applied";
  std::string b =
      h.repo->commit("main", {{"deploy/app.yaml", config("green") + "---\n" + deployment("good")}});
  h.restart();
  h.settle();
  EXPECT_EQ(h.status().value("currentCommit", ""), b);
  const json hist = h.status()["history"];
  ASSERT_EQ(hist.size(), 2u) << hist.dump();
  EXPECT_EQ(hist[0].value("commit", ""), b);
  EXPECT_EQ(hist[1].value("commit", ""), a);
  EXPECT_NE(hist[1].value("reason", "").find("not recorded"), std::string::npos) << hist.dump();
}

TEST(ReleaseReconciler, SelfHealRemovesFieldsGitDoesNotSet) {
  Harness h;
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  h.api.edit(kConfigMaps, "shop", "settings", {{"metadata", {{"labels", {{"extra", "x"}}}}}},
             "kubectl-edit", hand_label_fields());
  h.api.clear_calls();
  h.reconcile();
  auto cm = h.settings();
  ASSERT_TRUE(cm);
  EXPECT_FALSE((*cm)["metadata"]["labels"].contains("extra")) << cm->dump();
  EXPECT_EQ(h.ready_reason(), "DriftCorrected");
  EXPECT_TRUE(h.events.has("DriftCorrected"));
  // The take-over came first, on the resourceVersion read.
  bool took_over = false;
  for (const auto& c : h.api.calls()) {
    if (c.verb == "patch" && c.resource == "configmaps") {
      took_over = c.body["metadata"].contains("managedFields") &&
                  c.body["metadata"].contains("resourceVersion");
    }
  }
  EXPECT_TRUE(took_over);
  // Converged: the next look finds nothing.
  h.events.clear();
  h.reconcile();
  EXPECT_FALSE(h.events.has("DriftCorrected"));
  EXPECT_EQ(h.ready_reason(), "Deployed");
}

TEST(ReleaseReconciler, AFieldOnlyAnotherManagerOwnsIsDrift) {
  Harness h;
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create({{"selfHeal", false}});
  h.settle();
  h.api.edit(kConfigMaps, "shop", "settings", {{"metadata", {{"labels", {{"extra", "x"}}}}}},
             "kubectl-label", hand_label_fields());
  h.reconcile();
  EXPECT_EQ(h.ready_reason(), "DriftDetected");
  EXPECT_TRUE((*h.settings())["metadata"]["labels"].contains("extra")) << "selfHeal is off";
}

TEST(ReleaseReconciler, TheClusterOwnFieldsAreNotDrift) {
  Harness h;
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  h.api.edit(kConfigMaps, "shop", "settings",
             {{"metadata", {{"annotations", {{"controller/owned", "1"}}}}}},
             "kube-controller-manager",
             {{"f:metadata", {{"f:annotations", {{"f:controller/owned", json::object()}}}}}});
  h.events.clear();
  h.reconcile();
  EXPECT_FALSE(h.events.has("DriftCorrected"));
  EXPECT_TRUE((*h.settings())["metadata"]["annotations"].contains("controller/owned"));
}

void break_glass(Harness& h, const std::string& color) {
  const std::string key(api::kBreakGlassAnnotation);
  h.api.edit(kConfigMaps, "shop", "settings",
             {{"metadata", {{"annotations", {{key, "INC-7"}}}}}, {"data", {{"color", color}}}},
             "kubectl-patch",
             {{"f:metadata", {{"f:annotations", {{"f:" + key, json::object()}}}}},
              {"f:data", {{"f:color", json::object()}}}});
}

TEST(ReleaseReconciler, BreakGlassHoldsInADenyNamespaceThenGitIsBackWithoutSelfHeal) {
  Harness h("deny");
  // managedFields times have whole seconds: the hold may start up to 1s early.
  h.opts.break_glass_ttl = std::chrono::milliseconds(1500);
  h.restart();
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create({{"selfHeal", false}});
  h.settle();
  break_glass(h, "red");
  auto held = h.reconcile();
  EXPECT_EQ(held.kind(), K::kRequeue);
  EXPECT_LE(held.after(), std::chrono::milliseconds(1700));
  EXPECT_EQ(h.ready_reason(), "BreakGlass");
  EXPECT_EQ((*h.settings())["data"]["color"], "red");

  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  h.reconcile();
  auto cm = *h.settings();
  EXPECT_EQ(cm["data"]["color"], "blue") << "put back although selfHeal is false";
  EXPECT_FALSE(cm["metadata"]["annotations"].contains(std::string(api::kBreakGlassAnnotation)));
  h.reconcile();
  EXPECT_EQ(h.ready_reason(), "Deployed");
}

TEST(ReleaseReconciler, BreakGlassOutsideADenyNamespaceIsIgnored) {
  Harness h("warn");
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  break_glass(h, "red");
  h.reconcile();
  EXPECT_TRUE(h.events.has("BreakGlassIgnored"));
  auto cm = *h.settings();
  EXPECT_EQ(cm["data"]["color"], "blue") << "self-healed at once";
  EXPECT_FALSE(cm["metadata"]["annotations"].contains(std::string(api::kBreakGlassAnnotation)));
}

TEST(ReleaseReconciler, BreakGlassWaitsWhileTheNamespaceCannotBeReadNow) {
  Harness h("deny");
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  break_glass(h, "red");
  h.api.fault = [](const FakeApi::Call& c) -> std::optional<kube::Error> {
    if (c.verb == "get" && c.resource == "namespaces")
      return FakeApi::error(kube::Code::kUnavailable, "connection refused");
    return std::nullopt;
  };
  h.reconcile();
  EXPECT_EQ((*h.settings())["data"]["color"], "red") << "not reverted on a blip";
  EXPECT_NE(h.ready_reason(), "BreakGlass") << "nor trusted";
}

TEST(ReleaseReconciler, BreakGlassIsNotTrustedWhereTheNamespaceIsRefused) {
  Harness h("deny");
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  break_glass(h, "red");
  h.api.fault = [](const FakeApi::Call& c) -> std::optional<kube::Error> {
    if (c.verb == "get" && c.resource == "namespaces")
      return FakeApi::error(kube::Code::kForbidden, "namespaces is forbidden");
    return std::nullopt;
  };
  h.reconcile();
  EXPECT_EQ((*h.settings())["data"]["color"], "blue");
  EXPECT_TRUE(h.events.has("BreakGlassIgnored"));
}

TEST(ReleaseReconciler, DeletingAReleasePrunesWhatItAppliedAndReleasesTheFinalizer) {
  Harness h;
  h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  auto r = h.release();
  r["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  h.api.put(Reconciler::resource(), r);
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kDone);
  EXPECT_FALSE(h.settings());
  EXPECT_TRUE(h.release()["metadata"].value("finalizers", json::array()).empty());
}

TEST(ReleaseReconciler, ManualRollbackPinsWhileTheHeadStays) {
  Harness h;
  std::string a = h.repo->commit("main", {{"deploy/app.yaml", config("blue")}});
  h.create();
  h.settle();
  std::string b = h.repo->commit("main", {{"deploy/app.yaml", config("green")}});
  h.rec->request_fetch("shop/app");
  h.settle();
  ASSERT_EQ(h.status().value("currentCommit", ""), b);
  auto r = h.release();
  r["metadata"]["annotations"] = {{std::string(api::kRollbackToAnnotation), a.substr(0, 10)}};
  h.api.put(Reconciler::resource(), r);
  h.settle();
  EXPECT_EQ(h.status().value("currentCommit", ""), a);
  EXPECT_EQ(h.status().value("pinnedCommit", ""), a);
  EXPECT_EQ((*h.settings())["data"]["color"], "blue");
}

}  // namespace
}  // namespace cairn::release
