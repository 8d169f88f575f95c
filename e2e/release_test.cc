// Releases end to end: manifests from the real git server rolled out to the
// real control plane by the operator, with the node simulator making Pods
// ready (or not, when the manifest asks it to).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "http/server.h"
#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;

json release(const std::string& url, const std::string& extra = "") {
  return yaml(release_yaml({.url = url, .extra = extra}));
}

std::string stamp(const json& o, const std::string& key) {
  return o["metadata"].value("annotations", json::object()).value(key, "");
}

TEST(Release, DeployChangePruneFailRollBackAndRecover) {
  TestNamespace ns("e2e-rel");
  GitRepo repo("rel-" + ns.name());
  std::string a =
      repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", true)}}, "A: web, service, config");
  OperatorProcess op(ns.name());
  ASSERT_TRUE(client().create(kReleases, ns.name(), release(repo.git_url())));

  auto ra = wait_release(ns.name(), a, "Deployed");
  ASSERT_TRUE(ra) << ra.error().to_string() << "\n" << op.log_tail();
  EXPECT_TRUE(has_condition(*ra, "Ready"));
  EXPECT_EQ((*ra)["status"].value("currentCommit", ""), a);
  EXPECT_EQ((*ra)["status"]["inventory"].size(), 3u);
  for (const auto& [r, name] : {std::pair{&res::kDeployments, "web"},
                                {&res::kServices, "web"},
                                {&res::kConfigMaps, "web-config"}}) {
    auto o = client().get(*r, ns.name(), name);
    ASSERT_TRUE(o) << name;
    EXPECT_EQ(stamp(*o, "cairn.dev/commit"), a);
    EXPECT_EQ(stamp(*o, "cairn.dev/source"), repo.git_url());
    EXPECT_EQ(stamp(*o, "cairn.dev/path"), "deploy/app.yaml");
    EXPECT_EQ(stamp(*o, "cairn.dev/release"), ns.name() + "/web");
    EXPECT_EQ((*o)["metadata"]["labels"].value("app.kubernetes.io/managed-by", ""), "cairn");
  }

  std::string b = repo.commit({{"deploy/app.yaml", web_app_yaml("web:2", true)}}, "B: new image");
  ASSERT_TRUE(wait_release(ns.name(), b, "Deployed"));
  auto d = client().get(res::kDeployments, ns.name(), "web");
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:2");

  std::string c =
      repo.commit({{"deploy/app.yaml", web_app_yaml("web:2", false)}}, "C: drop the config");
  ASSERT_TRUE(wait_release(ns.name(), c, "Deployed"));
  auto gone = client().get(res::kConfigMaps, ns.name(), "web-config");
  ASSERT_FALSE(gone) << "pruned: git no longer has it";
  EXPECT_EQ(gone.error().code, kube::Code::kNotFound);

  std::string dd =
      repo.commit({{"deploy/app.yaml", web_app_yaml("web:3", false, false)}}, "D: never ready");
  auto rd = wait_release(ns.name(), dd, "RolledBack", 60s);
  ASSERT_TRUE(rd) << rd.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ((*rd)["status"].value("currentCommit", ""), c);
  EXPECT_TRUE(has_condition(*rd, "Ready", "False"));
  const json& hist = (*rd)["status"]["history"];
  ASSERT_GE(hist.size(), 2u);
  EXPECT_EQ(hist[0].value("commit", ""), dd);
  EXPECT_EQ(hist[0].value("result", ""), "RolledBack");
  EXPECT_NE(hist[0].value("reason", "").find("progressDeadline"), std::string::npos)
      << hist[0].dump();
  EXPECT_EQ(hist[1].value("commit", ""), c);
  EXPECT_EQ(hist[1].value("result", ""), "Deployed");
  auto back = client().get(res::kDeployments, ns.name(), "web");
  EXPECT_EQ((*back)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:2");
  EXPECT_EQ(stamp(*back, "cairn.dev/commit"), c)
      << "the rollback is stamped with the commit it restored";

  // The failed commit is not retried; the next commit deploys normally.
  std::string e = repo.commit({{"deploy/app.yaml", web_app_yaml("web:4", false)}}, "E: fixed");
  auto re = wait_release(ns.name(), e, "Deployed");
  ASSERT_TRUE(re) << re.error().to_string() << "\n" << op.log_tail();
  int attempts_of_d = 0;
  for (const auto& h : (*re)["status"]["history"]) attempts_of_d += h.value("commit", "") == dd;
  EXPECT_EQ(attempts_of_d, 1) << "D was attempted once";
}

TEST(Release, HandEditsAreRevertedWithSelfHealAndOnlyReportedWithout) {
  TestNamespace ns("e2e-relheal");
  GitRepo repo("rel-" + ns.name());
  std::string a = repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", true)}}, "A");
  OperatorProcess op(ns.name());
  ASSERT_TRUE(client().create(kReleases, ns.name(), release(repo.git_url())));
  ASSERT_TRUE(wait_release(ns.name(), a, "Deployed"));

  // kubectl scale: the replica count git sets is put back within 5 s.
  ASSERT_TRUE(client().patch(res::kDeployments, ns.name(), "web", kube::PatchType::kMerge,
                             {{"spec", {{"replicas", 5}}}}, "scale"));
  auto healed = wait_for(
      res::kDeployments, ns.name(), "web",
      [](const json& o) { return o["spec"].value("replicas", 0) == 2; }, 5s);
  ASSERT_TRUE(healed) << "not reverted within 5 s: " << op.log_tail();
  // kubectl edit of a ConfigMap value likewise.
  ASSERT_TRUE(client().patch(res::kConfigMaps, ns.name(), "web-config", kube::PatchType::kMerge,
                             {{"data", {{"greeting", "edited by hand"}}}}));
  ASSERT_TRUE(wait_for(
      res::kConfigMaps, ns.name(), "web-config",
      [](const json& o) { return o["data"].value("greeting", "") == "hello"; }, 5s));
  auto evs =
      client().list(res::kEvents, ns.name(), {.field_selector = "involvedObject.kind=Release"});
  bool corrected = false;
  for (const auto& ev : (*evs)["items"]) corrected |= ev.value("reason", "") == "DriftCorrected";
  EXPECT_TRUE(corrected);

  // selfHeal off: the change stays, and the Release says so. The operator
  // acts on its cache: wait until it has reconciled the new spec, or an edit
  // racing the patch is (rightly) corrected under the old one.
  auto off = client().patch(kReleases, ns.name(), "web", kube::PatchType::kMerge,
                            {{"spec", {{"selfHeal", false}}}});
  ASSERT_TRUE(off);
  const int64_t gen = (*off)["metadata"].value("generation", int64_t{0});
  ASSERT_TRUE(wait_for(
      kReleases, ns.name(), "web",
      [gen](const json& o) {
        for (const auto& c : o.value("status", json::object()).value("conditions", json::array())) {
          if (c.value("type", "") == "Ready" && c.value("observedGeneration", int64_t{0}) >= gen)
            return true;
        }
        return false;
      },
      15s));
  ASSERT_TRUE(client().patch(res::kDeployments, ns.name(), "web", kube::PatchType::kMerge,
                             {{"spec", {{"replicas", 4}}}}, "scale"));
  auto reported = wait_for(
      kReleases, ns.name(), "web",
      [](const json& o) {
        for (const auto& c : o.value("status", json::object()).value("conditions", json::array())) {
          if (c.value("type", "") == "Ready" && c.value("reason", "") == "DriftDetected")
            return true;
        }
        return false;
      },
      15s);
  ASSERT_TRUE(reported) << reported.error().to_string();
  auto still = client().get(res::kDeployments, ns.name(), "web");
  EXPECT_EQ((*still)["spec"].value("replicas", 0), 4) << "reported, not corrected";
}

// What a person adds by hand (issue #15): an env var, an initContainer and a
// label, none of which git sets. Server-side apply alone would keep them
// (they belong to another field manager); putting git back must remove them.
kube::Result<json> add_by_hand(const std::string& ns, const std::string& break_glass = "") {
  json ops = json::array({{{"op", "add"},
                           {"path", "/spec/template/spec/containers/0/env"},
                           {"value", {{{"name", "EXTRA"}, {"value", "1"}}}}},
                          {{"op", "add"},
                           {"path", "/spec/template/spec/initContainers"},
                           {"value", {{{"name", "sneak"}, {"image", "busybox"}}}}},
                          {{"op", "add"}, {"path", "/metadata/labels/extra"}, {"value", "x"}}});
  if (!break_glass.empty()) {
    ops.push_back({{"op", "add"},
                   {"path", "/metadata/annotations/cairn.dev~1break-glass"},
                   {"value", break_glass}});
  }
  return client().patch(res::kDeployments, ns, "web", kube::PatchType::kJson, ops);
}

bool has_hand_fields(const json& d) {
  const json pod = d["spec"]["template"]["spec"];
  return pod["containers"][0].contains("env") || pod.contains("initContainers") ||
         d["metadata"].value("labels", json::object()).contains("extra");
}

bool ready_reason(const json& rel, const std::string& reason) {
  for (const auto& c : rel.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == "Ready" && c.value("reason", "") == reason) return true;
  }
  return false;
}

TEST(Release, SelfHealAndBreakGlassRemoveWhatWasAddedByHand) {
  TestNamespace ns("e2e-relfull", {{"cairn.dev/enforce", "deny"}});
  GitRepo repo("rel-" + ns.name());
  std::string a = repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", false)}}, "A");
  OperatorProcess op(ns.name(), {"--break-glass-ttl", "6s"});
  ASSERT_TRUE(client().create(kReleases, ns.name(), release(repo.git_url())));
  ASSERT_TRUE(wait_release(ns.name(), a, "Deployed")) << op.log_tail();

  // Self-heal: the added fields are gone, not only the values git sets.
  ASSERT_TRUE(add_by_hand(ns.name()));
  auto healed = wait_for(
      res::kDeployments, ns.name(), "web", [](const json& d) { return !has_hand_fields(d); }, 15s);
  ASSERT_TRUE(healed) << healed.error().to_string() << "\n" << op.log_tail();

  // selfHeal off, and break-glass in a deny namespace: the change stays for
  // the TTL, then git is put back completely all the same.
  auto off = client().patch(kReleases, ns.name(), "web", kube::PatchType::kMerge,
                            {{"spec", {{"selfHeal", false}}}});
  ASSERT_TRUE(off);
  const int64_t gen = (*off)["metadata"].value("generation", int64_t{0});
  ASSERT_TRUE(wait_for(
      kReleases, ns.name(), "web",
      [gen](const json& o) {
        return o.value("status", json::object()).value("observedGeneration", int64_t{0}) >= gen;
      },
      15s));
  ASSERT_TRUE(add_by_hand(ns.name(), "INC-7 hotfix"));
  auto held = wait_for(
      kReleases, ns.name(), "web", [](const json& o) { return ready_reason(o, "BreakGlass"); },
      15s);
  ASSERT_TRUE(held) << held.error().to_string() << "\n" << op.log_tail();
  auto during = client().get(res::kDeployments, ns.name(), "web");
  ASSERT_TRUE(during);
  EXPECT_TRUE(has_hand_fields(*during)) << "held for the TTL";
  auto restored = wait_for(
      res::kDeployments, ns.name(), "web",
      [](const json& d) {
        return !has_hand_fields(d) && !d["metadata"]
                                           .value("annotations", json::object())
                                           .contains("cairn.dev/break-glass");
      },
      30s);
  ASSERT_TRUE(restored) << restored.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ((*restored)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:1");
}

TEST(Release, BadManifestsKeepTheLastGoodCommitAndSayWhere) {
  TestNamespace ns("e2e-relbad");
  GitRepo repo("rel-" + ns.name());
  std::string a = repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", false)}}, "A");
  OperatorProcess op(ns.name());
  ASSERT_TRUE(client().create(kReleases, ns.name(), release(repo.git_url())));
  ASSERT_TRUE(wait_release(ns.name(), a, "Deployed"));

  struct Case {
    std::string file, content, needle;
  } cases[] = {
      {"deploy/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
       "deploy/broken.yaml"},
      {"deploy/unknown.yaml", "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n",
       "Gizmo"},
      {"deploy/elsewhere.yaml",
       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n",
       "clusterScope"},
      {"deploy/invalid.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid}\n",
       "Not_Valid"},
  };
  std::map<std::string, std::string> files = {{"deploy/app.yaml", web_app_yaml("web:1", false)}};
  for (const auto& k : cases) {
    files = {{"deploy/app.yaml", web_app_yaml("web:1", false)}, {k.file, k.content}};
    std::string bad = repo.commit(files, "bad: " + k.file);
    auto r = wait_for(
        kReleases, ns.name(), "web",
        [&](const json& o) {
          const json st = o.value("status", json::object());
          return st.value("lastAttemptedCommit", "") == bad &&
                 !st.value("history", json::array()).empty() &&
                 st["history"][0].value("commit", "") == bad &&
                 st["history"][0].contains("finishedAt");
        },
        30s);
    ASSERT_TRUE(r) << k.file << ": " << r.error().to_string() << "\n" << op.log_tail();
    std::string reason = (*r)["status"]["history"][0].value("reason", "");
    EXPECT_NE(reason.find(k.needle), std::string::npos) << k.file << ": " << reason;
    EXPECT_EQ((*r)["status"].value("currentCommit", ""), a)
        << "the cluster keeps the last good commit";
    EXPECT_TRUE(has_condition(*r, "Ready", "False"));
    auto d = client().get(res::kDeployments, ns.name(), "web");
    EXPECT_EQ(stamp(*d, "cairn.dev/commit"), a);
    repo.commit({{k.file, ""}}, "revert " + k.file);  // the next case starts from a clean tree
  }
}

TEST(Release, GatedOnAPipelineDeploysOnlyCommitsThatPassed) {
  TestNamespace ns("e2e-relgate");
  GitRepo repo("rel-" + ns.name());
  std::map<std::string, std::string> good = {{"deploy/app.yaml", web_app_yaml("web:1", false)},
                                             {"ok", "yes\n"}};
  std::string a = repo.commit(good, "A: passes");
  OperatorProcess op(ns.name());
  ASSERT_TRUE(client().create(kPipelines, ns.name(), yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: ci}
spec:
  source: {url: ")" + repo.git_url() + R"(", branch: main, interval: 10s}
  steps: [{name: check, image: x, script: "grep -q yes ok"}]
)")));
  ASSERT_TRUE(client().create(kReleases, ns.name(),
                              release(repo.git_url(), "  gate: {pipelineRef: {name: ci}}\n")));
  auto ra = wait_release(ns.name(), a, "Deployed");
  ASSERT_TRUE(ra) << ra.error().to_string() << "\n" << op.log_tail();

  std::string b = repo.commit({{"deploy/app.yaml", web_app_yaml("web:2", false)}, {"ok", "no\n"}},
                              "B: fails CI");
  auto gated = wait_for(
      kReleases, ns.name(), "web",
      [](const json& o) {
        for (const auto& c : o.value("status", json::object()).value("conditions", json::array())) {
          if (c.value("type", "") == "Ready" && c.value("reason", "") == "GateFailed") return true;
        }
        return false;
      },
      60s);
  ASSERT_TRUE(gated) << gated.error().to_string() << "\n" << op.log_tail();
  auto d = client().get(res::kDeployments, ns.name(), "web");
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:1")
      << "a commit that failed its Pipeline is not deployed";
  EXPECT_EQ((*gated)["status"].value("currentCommit", ""), a);
  (void)b;
}

TEST(Release, ManualRollbackHoldsUntilANewerCommitAndDeleteWithPruneCleansUp) {
  TestNamespace ns("e2e-relman");
  GitRepo repo("rel-" + ns.name());
  std::string a = repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", true)}}, "A");
  OperatorProcess op(ns.name());
  ASSERT_TRUE(client().create(kReleases, ns.name(), release(repo.git_url())));
  ASSERT_TRUE(wait_release(ns.name(), a, "Deployed"));
  std::string b = repo.commit({{"deploy/app.yaml", web_app_yaml("web:2", true)}}, "B");
  ASSERT_TRUE(wait_release(ns.name(), b, "Deployed"));

  auto annotate = [&](const std::string& v) {
    return client().patch(kReleases, ns.name(), "web", kube::PatchType::kMerge,
                          {{"metadata", {{"annotations", {{"cairn.dev/rollback-to", v}}}}}});
  };
  // A commit that is not in history is refused, with a reason.
  ASSERT_TRUE(annotate("0123456789abcdef"));
  auto refused = wait_for(
      kReleases, ns.name(), "web",
      [](const json& o) {
        for (const auto& c : o.value("status", json::object()).value("conditions", json::array())) {
          if (c.value("reason", "") == "RollbackRefused") return true;
        }
        return false;
      },
      15s);
  ASSERT_TRUE(refused) << refused.error().to_string();

  ASSERT_TRUE(annotate(a.substr(0, 8)));
  auto back = wait_release(ns.name(), a, "Deployed");
  ASSERT_TRUE(back) << back.error().to_string() << "\n" << op.log_tail();
  auto d = client().get(res::kDeployments, ns.name(), "web");
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:1");
  EXPECT_EQ(stamp(*d, "cairn.dev/commit"), a);
  // Over more than one poll interval the rollback is not undone by the
  // branch still pointing at B (the rollback does not fight git).
  std::this_thread::sleep_for(12s);  // the observation window, not synchronisation
  auto still = client().get(kReleases, ns.name(), "web");
  EXPECT_EQ((*still)["status"].value("currentCommit", ""), a);
  // A newer commit ends the rollback.
  std::string c = repo.commit({{"deploy/app.yaml", web_app_yaml("web:3", true)}}, "C");
  ASSERT_TRUE(wait_release(ns.name(), c, "Deployed"));

  // Deleting the Release (prune: true) removes what it applied.
  ASSERT_TRUE(client().remove(kReleases, ns.name(), "web"));
  // Bounded wait until the finalizer has run and the objects are gone.
  for (int i = 0; i < 100; ++i) {
    if (!client().get(kReleases, ns.name(), "web") &&
        !client().get(res::kServices, ns.name(), "web") &&
        !client().get(res::kConfigMaps, ns.name(), "web-config"))
      break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(client().get(kReleases, ns.name(), "web")) << "the finalizer was removed";
  EXPECT_FALSE(client().get(res::kServices, ns.name(), "web"));
  EXPECT_FALSE(client().get(res::kConfigMaps, ns.name(), "web-config"));
}

TEST(Release, SigkillDuringARolloutFinishesItOnce) {
  TestNamespace ns("e2e-relkill");
  GitRepo repo("rel-" + ns.name());
  std::string a = repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", false)}}, "A");
  auto op = std::make_unique<OperatorProcess>(ns.name());
  ASSERT_TRUE(client().create(kReleases, ns.name(),
                              release(repo.git_url(), "  rollout: {progressDeadline: 60s}\n")));
  ASSERT_TRUE(wait_release(ns.name(), a, "Deployed"));
  // minReadySeconds keeps the rollout in progress long enough to kill the
  // operator in the middle of it.
  std::string slow = web_app_yaml("web:2", false);
  slow.replace(slow.find("  replicas: 2\n"), 13, "  replicas: 2\n  minReadySeconds: 6\n");
  std::string b = repo.commit({{"deploy/app.yaml", slow}}, "B: slow to become available");
  auto mid = wait_release(ns.name(), b, "Progressing", 30s);
  ASSERT_TRUE(mid) << mid.error().to_string();
  op->kill9();
  op = std::make_unique<OperatorProcess>(ns.name());
  auto done = wait_release(ns.name(), b, "Deployed", 60s);
  ASSERT_TRUE(done) << done.error().to_string() << "\n" << op->log_tail();
  int entries_for_b = 0;
  for (const auto& h : (*done)["status"]["history"]) entries_for_b += h.value("commit", "") == b;
  EXPECT_EQ(entries_for_b, 1) << (*done)["status"]["history"].dump();
  auto d = client().get(res::kDeployments, ns.name(), "web");
  EXPECT_EQ(stamp(*d, "cairn.dev/commit"), b);
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:2");
}

TEST(Release, SuspendAndDependsOn) {
  TestNamespace ns("e2e-reldep");
  GitRepo repo("rel-" + ns.name());
  std::string a = repo.commit(
      {{"deploy/app.yaml", web_app_yaml("web:1", false)},
       {"db/db.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db}\ndata: {ready: \"yes\"}\n"}},
      "A");
  OperatorProcess op(ns.name());
  // web depends on database; database starts suspended, so web waits.
  json db = release(repo.git_url());
  db["metadata"]["name"] = "database";
  db["spec"]["path"] = "db";
  db["spec"]["suspend"] = true;
  ASSERT_TRUE(client().create(kReleases, ns.name(), db));
  ASSERT_TRUE(client().create(kReleases, ns.name(),
                              release(repo.git_url(), "  dependsOn: [{name: database}]\n")));
  auto waiting = wait_for(
      kReleases, ns.name(), "web",
      [](const json& o) {
        for (const auto& c : o.value("status", json::object()).value("conditions", json::array())) {
          if (c.value("reason", "") == "DependencyNotReady") return true;
        }
        return false;
      },
      30s);
  ASSERT_TRUE(waiting) << waiting.error().to_string();
  EXPECT_FALSE(client().get(res::kDeployments, ns.name(), "web"))
      << "nothing applied before the dependency is Ready";
  EXPECT_FALSE(client().get(res::kConfigMaps, ns.name(), "db"))
      << "a suspended Release applies nothing";

  ASSERT_TRUE(client().patch(kReleases, ns.name(), "database", kube::PatchType::kMerge,
                             {{"spec", {{"suspend", false}}}}));
  auto up = wait_for(
      kReleases, ns.name(), "web",
      [&](const json& o) {
        return o.value("status", json::object()).value("currentCommit", "") == a &&
               has_condition(o, "Ready");
      },
      60s);
  ASSERT_TRUE(up) << up.error().to_string() << "\n" << op.log_tail();
  EXPECT_TRUE(client().get(res::kConfigMaps, ns.name(), "db"));
}

// The value of an instant query, as the real Prometheus answers it now.
std::optional<double> prometheus_value(const std::string& query) {
  auto [rc, out] = sh("curl -fsS --get " + prom_env("CAIRN_PROMETHEUS_URL") +
                      "/api/v1/query --data-urlencode 'query=" + query + "'");
  if (rc != 0) return std::nullopt;
  json doc = json::parse(out, nullptr, false);
  if (doc.is_discarded()) return std::nullopt;
  const json r = doc.value("data", json::object()).value("result", json::array());
  if (r.size() != 1) return std::nullopt;
  return std::stod(r[0]["value"][1].get<std::string>());
}

// Waits (following Prometheus, not sleeping blindly) until the query returns `want`.
bool wait_prometheus(const std::string& query, double want) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (prometheus_value(query) == want) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

TEST(Release, AnalysisOverThresholdRollsBack) {
  TestNamespace ns("e2e-analysis");
  // The application's error ratio, served to the real Prometheus from here.
  std::atomic<double> ratio{0};
  auto server = http::Server::start(
      {.address = "127.0.0.1", .port = 0, .threads = 1}, [&](const http::Request&) {
        std::ostringstream m;
        m << "cairn_e2e_error_ratio{release=\"" << ns.name() << "\"} " << ratio.load() << "\n";
        return http::Response{200, "text/plain; version=0.0.4", m.str(), {}};
      });
  ASSERT_TRUE(server) << server.error();
  const std::string targets = prom_env("CAIRN_PROMETHEUS_TARGETS");
  ASSERT_FALSE(targets.empty()) << "no Prometheus in the e2e fixture";
  const std::string target_file = targets + "/" + ns.name() + ".json";
  std::ofstream(target_file) << R"([{"targets":["127.0.0.1:)" << (*server)->port() << R"("]}])";
  struct Cleanup {
    std::string f;
    ~Cleanup() { std::filesystem::remove(f); }
  } cleanup{target_file};
  const std::string query = "max(cairn_e2e_error_ratio{release=\"" + ns.name() + "\"})";
  ASSERT_TRUE(wait_prometheus(query, 0)) << "Prometheus never scraped the test's target";

  GitRepo repo("analysis-" + ns.name());
  std::string a = repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", false)}}, "A");
  OperatorProcess op(ns.name());
  json rel = yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" +
                  repo.git_url() + R"(", branch: main, interval: 10s}
  path: deploy
  rollout:
    progressDeadline: 30s
    analysis:
      prometheus: ")" +
                  prom_env("CAIRN_PROMETHEUS_URL") + R"("
      query: ')" + query +
                  R"('
      threshold: 0.1
      interval: 1s
      count: 3
)");
  // (the test's yaml() reads 0.1 as a string; a Release written by hand
  // goes through kubectl, which reads it as a number)
  rel["spec"]["rollout"]["analysis"]["threshold"] = 0.1;
  auto created = client().create(kReleases, ns.name(), rel);
  ASSERT_TRUE(created) << created.error().to_string();
  auto ra = wait_release(ns.name(), a, "Deployed");
  ASSERT_TRUE(ra) << ra.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ((*ra)["status"]["analysis"].value("commit", ""), a);
  EXPECT_EQ((*ra)["status"]["analysis"].value("passed", 0), 3);

  // The next commit's errors cross the threshold once it is healthy.
  ratio = 0.5;
  ASSERT_TRUE(wait_prometheus(query, 0.5));
  std::string b = repo.commit({{"deploy/app.yaml", web_app_yaml("web:2", false)}}, "B: bad");
  auto rb = wait_release(ns.name(), b, "RolledBack");
  ASSERT_TRUE(rb) << rb.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ((*rb)["status"].value("currentCommit", ""), a);
  const json top = (*rb)["status"]["history"][0];
  EXPECT_EQ(top.value("commit", ""), b);
  EXPECT_EQ(top.value("result", ""), "RolledBack");
  EXPECT_NE(top.value("reason", "").find("returned 0.5, above the threshold 0.1"),
            std::string::npos)
      << top.dump();
  auto d = client().get(res::kDeployments, ns.name(), "web");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:1");
}

}  // namespace
}  // namespace cairn::e2e
