// Feedback after every deploy: the real Prometheus scrapes the operator and
// answers the DORA keys for a Release that deployed, failed and rolled back,
// and deployed again; notification endpoints get one signed JSON POST per
// event, and an endpoint that refuses them shows in the Release's condition.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/https_server.h"
#include "support/operator.h"
#include "support/webhook.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;

std::string app(const std::string& image, bool ready = true) {
  return R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
)" + std::string(ready ? "" : "      annotations: {sim.cairn.dev/ready: \"false\"}\n") +
         R"(    spec:
      containers: [{name: web, image: ")" +
         image + R"("}]
)";
}

std::string hmac_sha256_hex(const std::string& key, const std::string& body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    static const char* digits = "0123456789abcdef";
    hex += digits[out[i] >> 4];
    hex += digits[out[i] & 15];
  }
  return hex;
}

std::optional<double> prom(const std::string& query) {
  auto [rc, out] = sh("curl -fsS --get " + prom_env("CAIRN_PROMETHEUS_URL") +
                      "/api/v1/query --data-urlencode 'query=" + query + "'");
  if (rc != 0) return std::nullopt;
  json doc = json::parse(out, nullptr, false);
  if (doc.is_discarded()) return std::nullopt;
  const json r = doc.value("data", json::object()).value("result", json::array());
  if (r.size() != 1) return std::nullopt;
  return std::stod(r[0]["value"][1].get<std::string>());
}

// Follows Prometheus until the query has the value (it scrapes every second).
std::optional<double> wait_prom(const std::string& query, double want) {
  std::optional<double> last;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    last = prom(query);
    if (last && std::abs(*last - want) < 1e-9) return last;
    std::this_thread::sleep_for(250ms);
  }
  return last;
}

TEST(Feedback, DoraKeysInPrometheusAndNotifications) {
  TestNamespace ns("e2e-dora");
  // Two endpoints: one takes notifications, one refuses them.
  std::mutex mu;
  std::vector<HttpRequest> got;
  HttpsServer sink([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    got.push_back(r);
    return HttpResponse{200, "application/json", "{}"};
  });
  HttpsServer refuser([](const HttpRequest&) { return HttpResponse{403, "text/plain", "no"}; });
  // And one that is down: nothing listens on its port any more.
  int down_port = 0;
  {
    HttpsServer gone([](const HttpRequest&) { return HttpResponse{200, "text/plain", ""}; });
    down_port = gone.port();
  }
  ASSERT_TRUE(client().create(
      res::kSecrets, ns.name(),
      {{"apiVersion", "v1"},
       {"kind", "Secret"},
       {"metadata", {{"name", "hook"}}},
       {"stringData",
        {{"url", "https://127.0.0.1:" + std::to_string(sink.port()) + "/hooks/T0K3N-PATH"},
         {"token", "s3cr3t-token"},
         {"hmacKey", "k3y"},
         {"ca.crt", sink.ca_pem()}}}}));
  ASSERT_TRUE(client().create(res::kSecrets, ns.name(),
                              {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "refuser"}}},
                               {"stringData", {{"ca.crt", refuser.ca_pem()}}}}));

  GitRepo repo("dora-" + ns.name());
  std::string a = repo.commit({{"deploy/app.yaml", app("web:1")}}, "A: first");
  OperatorProcess op(ns.name());
  // Prometheus scrapes this operator from now on.
  const std::string target = prom_env("CAIRN_PROMETHEUS_TARGETS") + "/" + ns.name() + ".json";
  std::ofstream(target) << R"([{"targets":["127.0.0.1:)" << op.metrics_port()
                        << R"("],"labels":{"app":"cairn-operator"}}])";
  struct Cleanup {
    std::string f;
    ~Cleanup() { std::filesystem::remove(f); }
  } cleanup{target};

  json rel = yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" +
                  repo.git_url() +
                  R"(", branch: main, interval: 10s}
  path: deploy
  rollout: {progressDeadline: 8s}
  notify:
  - {url: "https://example.invalid/overridden-by-the-secret", secretRef: {name: hook}}
  - url: "https://127.0.0.1:)" +
                  std::to_string(refuser.port()) + R"(/x"
    secretRef: {name: refuser}
    events: [Deployed]
  - {url: "https://127.0.0.1:)" +
                  std::to_string(down_port) + R"(/down", events: [Deployed, RolledBack]}
)");
  ASSERT_TRUE(client().create(kReleases, ns.name(), rel));
  ASSERT_TRUE(wait_release(ns.name(), a, "Deployed")) << op.log_tail();
  std::string b = repo.commit({{"deploy/app.yaml", app("web:2", false)}}, "B: never ready");
  ASSERT_TRUE(wait_release(ns.name(), b, "RolledBack")) << op.log_tail();
  std::string c = repo.commit({{"deploy/app.yaml", app("web:3")}}, "C: fixed");
  ASSERT_TRUE(wait_release(ns.name(), c, "Deployed")) << op.log_tail();

  // The DORA keys, as Prometheus has them.
  const std::string sel = "{namespace=\"" + ns.name() + "\",release=\"web\"";
  auto deployed =
      wait_prom("sum(cairn_release_deployments_total" + sel + ",result=\"Deployed\"})", 2);
  EXPECT_EQ(deployed, 2) << "deployment frequency";
  auto cfr =
      wait_prom("sum(cairn_release_deployments_total" + sel +
                    ",result!=\"Deployed\"}) / sum(cairn_release_deployments_total" + sel + "})",
                1.0 / 3);
  ASSERT_TRUE(cfr);
  EXPECT_NEAR(*cfr, 1.0 / 3, 1e-9) << "change failure rate";
  EXPECT_EQ(wait_prom("sum(cairn_release_lead_time_seconds_count" + sel + "})", 2), 2)
      << "lead time observed for each healthy rollout";
  auto restore_count = wait_prom("sum(cairn_release_time_to_restore_seconds_count" + sel + "})", 1);
  EXPECT_EQ(restore_count, 1) << "time to restore observed once, for C after B";
  auto restore_sum = prom("sum(cairn_release_time_to_restore_seconds_sum" + sel + "})");
  ASSERT_TRUE(restore_sum);
  EXPECT_GT(*restore_sum, 0);

  // Prometheus scrapes the webhook too: its decisions are there.
  {
    TestNamespace governed("e2e-dora-gov", {{"cairn.dev/enforce", "deny"}});
    WebhookProcess hook;
    const std::string hook_target =
        prom_env("CAIRN_PROMETHEUS_TARGETS") + "/" + governed.name() + ".json";
    std::ofstream(hook_target) << R"([{"targets":["127.0.0.1:)" << hook.probe_port()
                               << R"("],"labels":{"app":"cairn-webhook"}}])";
    Cleanup hook_cleanup{hook_target};
    hook.register_with_apiserver("cairn-e2e-" + governed.name(), governed.name());
    auto denied =
        wait_prom("sum(cairn_admission_decisions_total{app=\"cairn-webhook\",namespace=\"" +
                      governed.name() + "\",result=\"denied\"}) > bool 0",
                  1);
    EXPECT_EQ(denied, 1) << "the webhook's decisions never reached Prometheus";
  }

  // Notifications: deployed A, rolled back B, deployed C — signed, with
  // the token, as Slack-compatible JSON.
  std::vector<json> bodies;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (got.size() >= 3) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  {
    std::lock_guard lock(mu);
    ASSERT_GE(got.size(), 3u);
    for (const auto& r : got) {
      EXPECT_EQ(r.method, "POST");
      EXPECT_EQ(r.path, "/hooks/T0K3N-PATH");
      EXPECT_EQ(r.headers.count("authorization") ? r.headers.at("authorization") : "",
                "Bearer s3cr3t-token");
      auto sig =
          r.headers.count("x-cairn-signature-256") ? r.headers.at("x-cairn-signature-256") : "";
      EXPECT_EQ(sig, "sha256=" + hmac_sha256_hex("k3y", r.body)) << r.body;
      bodies.push_back(json::parse(r.body));
    }
  }
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& j : bodies) seen.emplace_back(j.value("event", ""), j.value("commit", ""));
  EXPECT_NE(std::find(seen.begin(), seen.end(), std::pair<std::string, std::string>{"Deployed", a}),
            seen.end());
  EXPECT_NE(
      std::find(seen.begin(), seen.end(), std::pair<std::string, std::string>{"RolledBack", b}),
      seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), std::pair<std::string, std::string>{"Deployed", c}),
            seen.end());
  for (const auto& j : bodies) {
    EXPECT_FALSE(j.value("text", "").empty());
    EXPECT_EQ(j["resource"].value("name", ""), "web");
    if (j.value("commit", "") == b) {
      EXPECT_EQ(j.value("title", ""), "B: never ready");
      EXPECT_NE(j.value("reason", "").find("rolled back to"), std::string::npos) << j.dump();
    }
  }

  // The refusing endpoint and the one that is down both show in the
  // Release's condition (the working one hides neither), without their URL
  // paths (which may be credentials). The down one gave up after its
  // retries, on the notifier's thread: the rollouts above did not wait.
  const std::string down = "127.0.0.1:" + std::to_string(down_port);
  auto notified = wait_for(
      kReleases, ns.name(), "web",
      [&](const json& o) {
        for (const auto& cnd : o.value("status", json::object()).value("conditions", json::array()))
          if (cnd.value("type", "") == "Notified" && cnd.value("status", "") == "False") {
            const std::string m = cnd.value("message", "");
            return m.find("answered HTTP 403") != std::string::npos &&
                   m.find(down) != std::string::npos;
          }
        return false;
      },
      90s);
  ASSERT_TRUE(notified) << notified.error().to_string() << "\n" << op.log_tail();
  std::string msg;
  for (const auto& cnd : (*notified)["status"]["conditions"])
    if (cnd.value("type", "") == "Notified") msg = cnd.value("message", "");
  EXPECT_NE(msg.find("answered HTTP 403"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("/x"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("/down"), std::string::npos) << msg;
  EXPECT_EQ(op.log_tail(100000).find("s3cr3t-token"), std::string::npos);
  EXPECT_EQ(op.log_tail(100000).find("T0K3N-PATH"), std::string::npos);
}

// The series of a /metrics text: one per metric and label set, a
// histogram's buckets, sum and count folded into one.
std::set<std::string> series(const std::string& text) {
  static const std::regex le(R"(,?le="[^"]*")");
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::string s = std::regex_replace(line.substr(0, line.rfind(' ')), le, "");
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      auto brace = s.find('{');
      auto name_end = brace == std::string::npos ? s.size() : brace;
      if (name_end >= suffix.size() &&
          s.compare(name_end - suffix.size(), suffix.size(), suffix) == 0) {
        s.erase(name_end - suffix.size(), suffix.size());
        break;
      }
    }
    if (auto e = s.find("{}"); e != std::string::npos) s.erase(e, 2);
    out.insert(s);
  }
  return out;
}

// Metrics label no commits: after 1,000 commits through a gated Release, a
// Pipeline and the webhook, the operator and the webhook have the series
// they had after the first ten.
TEST(Feedback, SeriesDoNotGrowWithCommits) {
  TestNamespace ns("e2e-series", {{"cairn.dev/enforce", "deny"}});
  GitRepo repo("series-" + ns.name());
  auto files = [](int i) {
    return std::map<std::string, std::string>{
        {"deploy/settings.yaml",
         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
         "data: {index: \"" +
             std::to_string(i) + "\"}\n"},
        {"ok", "yes\n"}};
  };
  std::vector<std::string> all = repo.commits(1, files, "first");
  ASSERT_EQ(all.size(), 1u);
  WebhookProcess hook;
  hook.register_with_apiserver("cairn-e2e-" + ns.name(), ns.name());
  // In a governed namespace only the operator's own identity may write.
  ensure_operator_identity();
  OperatorProcess op(ns.name(), {"--kubeconfig", kubeconfig_for("cairn-operator", "")});
  ASSERT_TRUE(client().create(kPipelines, ns.name(), yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: ci}
spec:
  source: {url: ")" + repo.git_url() + R"(", branch: main, interval: 10s}
  steps: [{name: check, image: x, script: "grep -q yes ok"}]
)")));
  ASSERT_TRUE(client().create(kReleases, ns.name(), yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" + repo.git_url() + R"(", branch: main, interval: 10s}
  path: deploy
  gate: {pipelineRef: {name: ci}}
  rollout: {progressDeadline: 30s}
)")));
  auto deployed = [&](const std::string& commit) {
    auto r = wait_release(ns.name(), commit, "Deployed");
    return r ? ""
             : r.error().to_string() + "\noperator:\n" + op.log_tail() + "\nwebhook:\n" +
                   hook.log_tail();
  };
  ASSERT_EQ(deployed(all.back()), "");
  auto operator_metrics = [&] {
    return sh("curl -fsS http://127.0.0.1:" + std::to_string(op.metrics_port()) + "/metrics")
        .second;
  };

  // The first ten commits (a create, then an update): every kind of series
  // the rest will touch exists now.
  auto more = repo.commits(
      9, [&](int i) { return files(1 + i); }, "early");
  ASSERT_EQ(more.size(), 9u);
  all.insert(all.end(), more.begin(), more.end());
  ASSERT_EQ(deployed(all.back()), "");
  const auto op_before = series(operator_metrics());
  const auto hook_before = series(hook.metrics());
  ASSERT_GT(op_before.size(), 20u);
  ASSERT_GT(hook_before.size(), 5u);

  // 990 more, in five pushes, each deployed through the gate and the webhook.
  constexpr int kPushes = 5;
  for (int p = 0; p < kPushes; ++p) {
    auto batch = repo.commits(
        198, [&](int i) { return files(10 + p * 198 + i); }, "later");
    ASSERT_EQ(batch.size(), 198u);
    all.insert(all.end(), batch.begin(), batch.end());
    ASSERT_EQ(deployed(all.back()), "") << "push " << p;
  }
  ASSERT_EQ(all.size(), 1000u);
  const std::string op_text = operator_metrics(), hook_text = hook.metrics();
  const auto op_after = series(op_text);
  const auto hook_after = series(hook_text);

  // A commit or run label would add a series per deployed commit (five or
  // more); a result seen for the first time (a retried status write) adds one.
  auto added = [](const std::set<std::string>& before, const std::set<std::string>& after) {
    std::vector<std::string> out;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(out));
    return out;
  };
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += "  " + x + "\n";
    return s;
  };
  auto op_added = added(op_before, op_after), hook_added = added(hook_before, hook_after);
  EXPECT_LT(op_added.size(), static_cast<size_t>(kPushes))
      << op_before.size() << " operator series after 10 commits, " << op_after.size()
      << " after 1,000; new:\n"
      << list(op_added);
  EXPECT_LT(hook_added.size(), static_cast<size_t>(kPushes))
      << hook_before.size() << " webhook series after 10 commits, " << hook_after.size()
      << " after 1,000; new:\n"
      << list(hook_added);
  for (const auto& c : all) {  // neither the id nor its short form as a label value
    for (const std::string& t : {op_text, hook_text}) {
      ASSERT_EQ(t.find(c), std::string::npos) << "commit " << c << " in a label";
      ASSERT_EQ(t.find("\"" + c.substr(0, 8)), std::string::npos)
          << "commit " << c << " in a label";
    }
  }
  // The work really went through both: runs, deployments, admissions.
  EXPECT_NE(op_text.find("cairn_pipeline_runs_total{namespace=\"" + ns.name()), std::string::npos);
  EXPECT_NE(op_text.find("cairn_release_deployments_total{namespace=\"" + ns.name()),
            std::string::npos);
  EXPECT_NE(hook_text.find("cairn_admission_decisions_total{"), std::string::npos);
}

}  // namespace
}  // namespace cairn::e2e
