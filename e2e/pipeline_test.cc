// Pipelines end to end: the real control plane, the real git server (git
// daemon and git http-backend behind nginx with TLS and basic auth), the
// operator as a process, and the node simulator running the steps.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;
namespace fs = std::filesystem;

// A small app with a real lint, test and build.
std::map<std::string, std::string> app(bool broken = false) {
  return {{"add.sh", broken ? "#!/bin/sh\necho $(($1 - $2))\n" : "#!/bin/sh\necho $(($1 + $2))\n"},
          {"test.sh",
           "#!/bin/sh\nset -e\n[ \"$(sh ./add.sh 2 3)\" = 5 ] || { echo 'add 2 3 != 5' >&2; exit "
           "1; }\n"},
          {"README", "adder\n"}};
}

json pipeline(const std::string& name, const std::string& url, const std::string& extra_source = "",
              const std::string& steps = "") {
  std::string y = R"(
apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: )" +
                  name + R"(}
spec:
  source:
    url: ")" + url +
                  R"("
    branch: main
    interval: 10s
)" + extra_source +
                  R"(
  steps:
)" +
                  (steps.empty() ? R"(
  - {name: audit, image: debian, script: "sh -n add.sh && sh -n test.sh"}
  - {name: test, image: debian, after: [audit], script: "sh ./test.sh"}
  - {name: build, image: debian, after: [test], script: "echo artifact=adder-$(git rev-parse --short HEAD) > /dev/termination-log"}
)"
                                 : steps);
  return yaml(y);
}

json step_of(const json& run, const std::string& name) {
  for (const auto& s : run.value("steps", json::array())) {
    if (s.value("name", "") == name) return s;
  }
  return json();
}

bool job_exists(const std::string& ns, const std::string& name) {
  return static_cast<bool>(client().get(res::kJobs, ns, name));
}

TEST(Pipeline, GitDaemonRunSucceedsThenABrokenCommitFailsAtTest) {
  TestNamespace ns("e2e-pl");
  GitRepo repo("app-" + ns.name());
  std::string good = repo.commit(app(), "add the adder");
  ASSERT_EQ(good.size(), 40u);
  OperatorProcess op(ns.name());
  ASSERT_TRUE(client().create(kPipelines, ns.name(), pipeline("ci", repo.git_url())));

  auto run = wait_run(ns.name(), "ci", good);
  ASSERT_TRUE(run) << run.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ(run->value("phase", ""), "Succeeded") << run->dump(2);
  EXPECT_EQ(run->value("author", ""), "Ada Lovelace <ada@example.com>");
  EXPECT_EQ(run->value("title", ""), "add the adder");
  EXPECT_FALSE(run->value("startTime", "").empty());
  EXPECT_FALSE(run->value("completionTime", "").empty());
  for (const char* s : {"audit", "test", "build"}) {
    json st = step_of(*run, s);
    EXPECT_EQ(st.value("phase", ""), "Succeeded") << s;
    EXPECT_TRUE(job_exists(ns.name(), st.value("job", ""))) << s;
  }
  EXPECT_EQ(step_of(*run, "build")["results"].value("artifact", ""), "adder-" + good.substr(0, 7));
  auto p = client().get(kPipelines, ns.name(), "ci");
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)["status"].value("latestCommit", ""), good);
  EXPECT_EQ((*p)["status"].value("lastSucceededCommit", ""), good);
  EXPECT_TRUE(has_condition(*p, "Ready"));

  std::string bad = repo.commit(app(true), "subtract instead");
  auto failed = wait_run(ns.name(), "ci", bad);
  ASSERT_TRUE(failed) << failed.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ(failed->value("phase", ""), "Failed");
  EXPECT_NE(failed->value("message", "").find("step \"test\" failed"), std::string::npos)
      << failed->value("message", "");
  EXPECT_NE(failed->value("message", "").find("add 2 3 != 5"), std::string::npos)
      << "the failing step's own output says why: " << failed->value("message", "");
  EXPECT_EQ(step_of(*failed, "test").value("phase", ""), "Failed");
  json build = step_of(*failed, "build");
  EXPECT_EQ(build.value("phase", ""), "Skipped");
  auto jobs = client().list(res::kJobs, ns.name(), {.label_selector = "cairn.dev/step=build"});
  ASSERT_TRUE(jobs);
  EXPECT_EQ((*jobs)["items"].size(), 1u) << "build never started for the failed commit";
  auto pf = client().get(kPipelines, ns.name(), "ci");
  EXPECT_TRUE(has_condition(*pf, "Ready", "False"));
  EXPECT_EQ((*pf)["status"].value("lastSucceededCommit", ""), good);

  std::string m = op.metrics();
  std::string labels = "namespace=\"" + ns.name() + "\",phase=\"";
  EXPECT_NE(m.find("cairn_pipeline_runs_total{" + labels + "Succeeded\",pipeline=\"ci\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("cairn_pipeline_runs_total{" + labels + "Failed\",pipeline=\"ci\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("cairn_reconcile_total{kind=\"Pipeline\",result=\"success\"}"),
            std::string::npos);
  EXPECT_EQ(m.find(good), std::string::npos) << "no commit ids in metric labels";
}

TEST(Pipeline, HttpsWithBasicAuthAndAWrongPassword) {
  TestNamespace ns("e2e-plh");
  GitRepo repo("app-" + ns.name());
  std::string good = repo.commit(app(), "add the adder");
  auto ca = kube::read_file(git_env("CAIRN_GIT_CA"));
  ASSERT_TRUE(ca) << "git server CA missing";
  auto secret = [&](const std::string& name, const std::string& password) {
    return json{
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata", {{"name", name}}},
        {"stringData",
         {{"username", git_env("CAIRN_GIT_USER")}, {"password", password}, {"ca.crt", *ca}}}};
  };
  ASSERT_TRUE(
      client().create(res::kSecrets, ns.name(), secret("git-auth", git_env("CAIRN_GIT_PASSWORD"))));
  ASSERT_TRUE(client().create(res::kSecrets, ns.name(), secret("wrong-auth", "not-the-password")));
  OperatorProcess op(ns.name());
  ASSERT_TRUE(
      client().create(kPipelines, ns.name(),
                      pipeline("ci", repo.https_url(), "    secretRef: {name: git-auth}\n")));
  auto run = wait_run(ns.name(), "ci", good);
  ASSERT_TRUE(run) << run.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ(run->value("phase", ""), "Succeeded") << run->dump(2);

  ASSERT_TRUE(
      client().create(kPipelines, ns.name(),
                      pipeline("wrong", repo.https_url(), "    secretRef: {name: wrong-auth}\n")));
  auto p = wait_for(
      kPipelines, ns.name(), "wrong",
      [](const json& o) { return has_condition(o, "Ready", "False"); }, 30s);
  ASSERT_TRUE(p) << p.error().to_string();
  std::string msg;
  for (const auto& c : (*p)["status"]["conditions"]) {
    if (c.value("type", "") == "Ready") msg = c.value("reason", "") + ": " + c.value("message", "");
  }
  EXPECT_NE(msg.find("AuthenticationFailed"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("not-the-password"), std::string::npos) << "credentials never in status";
  EXPECT_EQ(op.log_tail(100000).find("not-the-password"), std::string::npos) << "nor in logs";
}

// Ready=False with `reason` and a message containing `needle`.
void expect_not_ready(const std::string& ns, const std::string& name, const std::string& type,
                      const std::string& reason, const std::string& needle) {
  auto p = wait_for(
      kPipelines, ns, name,
      [&](const json& o) {
        for (const auto& c : o.value("status", json::object()).value("conditions", json::array())) {
          if (c.value("type", "") == type && c.value("reason", "") == reason) return true;
        }
        return false;
      },
      30s);
  ASSERT_TRUE(p) << name << ": " << p.error().to_string();
  for (const auto& c : (*p)["status"]["conditions"]) {
    if (c.value("type", "") == type) {
      EXPECT_NE(c.value("message", "").find(needle), std::string::npos)
          << name << ": " << c.value("message", "");
    }
  }
}

TEST(Pipeline, BadSourcesAndSpecsAreReportedWithBackoff) {
  TestNamespace ns("e2e-plbad");
  GitRepo repo("app-" + ns.name());
  repo.commit(app(), "add the adder");
  OperatorProcess op(ns.name());
  ASSERT_TRUE(client().create(kPipelines, ns.name(),
                              pipeline("unreachable", "git://127.0.0.1:1/nothing.git")));
  json missing = pipeline("nobranch", repo.git_url());
  missing["spec"]["source"]["branch"] = "does-not-exist";
  ASSERT_TRUE(client().create(kPipelines, ns.name(), missing));
  ASSERT_TRUE(client().create(kPipelines, ns.name(),
                              pipeline("cycle", repo.git_url(), "",
                                       "  - {name: a, image: x, script: 'true', after: [b]}\n"
                                       "  - {name: b, image: x, script: 'true', after: [a]}\n")));
  ASSERT_TRUE(
      client().create(kPipelines, ns.name(),
                      pipeline("typo", repo.git_url(), "",
                               "  - {name: test, image: x, script: 'true'}\n"
                               "  - {name: build, image: x, script: 'true', after: [tset]}\n")));

  expect_not_ready(ns.name(), "unreachable", "Ready", "FetchFailed",
                   "git://127.0.0.1:1/nothing.git");
  expect_not_ready(ns.name(), "nobranch", "Ready", "RefNotFound", "does-not-exist");
  expect_not_ready(ns.name(), "cycle", "Stalled", "InvalidSpec", "cycle");
  expect_not_ready(ns.name(), "typo", "Stalled", "InvalidSpec", "spec.steps[1].after[0]");

  // Backoff, not a storm: over ten seconds the unreachable source is tried a
  // handful of times (1 s, 2 s, 4 s, ...), each reported in one aggregated Event.
  std::this_thread::sleep_for(10s);  // the measurement window, not synchronisation
  auto evs =
      client().list(res::kEvents, ns.name(), {.field_selector = "involvedObject.name=unreachable"});
  ASSERT_TRUE(evs);
  int attempts = 0;
  for (const auto& e : (*evs)["items"]) {
    if (e.value("reason", "") == "FetchFailed") attempts += e.value("count", 0);
  }
  EXPECT_GE(attempts, 2);
  EXPECT_LE(attempts, 7) << "retries must back off";
  // The cycle stays stalled without retries: no new runs, no Jobs.
  auto jobs = client().list(res::kJobs, ns.name());
  ASSERT_TRUE(jobs);
  EXPECT_TRUE((*jobs)["items"].empty());
}

TEST(Pipeline, SigkillMidRunCompletesWithNoStepRunTwice) {
  TestNamespace ns("e2e-plkill");
  GitRepo repo("app-" + ns.name());
  std::string marker = (fs::temp_directory_path() / ("cairn-e2e-marker-" + ns.name())).string();
  fs::remove(marker);
  std::string sha = repo.commit(app(), "add the adder");
  // Each step appends its name to a file on this machine (the simulator runs
  // steps as local processes), so executions can be counted exactly.
  std::string steps = "  - {name: one, image: x, script: 'echo one >> " + marker +
                      "; sleep 2'}\n"
                      "  - {name: two, image: x, after: [one], script: 'echo two >> " +
                      marker +
                      "; sleep 2'}\n"
                      "  - {name: three, image: x, after: [two], script: 'echo three >> " +
                      marker + "'}\n";
  auto op = std::make_unique<OperatorProcess>(ns.name());
  ASSERT_TRUE(client().create(kPipelines, ns.name(), pipeline("ci", repo.git_url(), "", steps)));
  auto mid = wait_for(
      kPipelines, ns.name(), "ci",
      [](const json& o) {
        for (const auto& r : o.value("status", json::object()).value("runs", json::array())) {
          for (const auto& s : r.value("steps", json::array())) {
            if (s.value("name", "") == "one" && s.value("phase", "") == "Running") return true;
          }
        }
        return false;
      },
      60s);
  ASSERT_TRUE(mid) << mid.error().to_string();
  op->kill9();
  op = std::make_unique<OperatorProcess>(ns.name());
  auto run = wait_run(ns.name(), "ci", sha);
  ASSERT_TRUE(run) << run.error().to_string() << "\n" << op->log_tail();
  EXPECT_EQ(run->value("phase", ""), "Succeeded") << run->dump(2);
  auto lines = kube::read_file(marker);
  ASSERT_TRUE(lines);
  EXPECT_EQ(*lines, "one\ntwo\nthree\n") << "every step ran exactly once, in order";
  auto jobs = client().list(res::kJobs, ns.name());
  EXPECT_EQ((*jobs)["items"].size(), 3u);
  for (const auto& s : (*run)["steps"]) EXPECT_EQ(s.value("attempts", 0), 1) << s.dump();
  fs::remove(marker);
}

TEST(Pipeline, TenCommitsInASecondRunTheNewestAndNeverTwoAtOnce) {
  TestNamespace ns("e2e-plconc");
  GitRepo repo("app-" + ns.name());
  std::string first = repo.commit(app(), "commit 0");
  std::string steps = "  - {name: slow, image: x, script: 'sleep 3'}\n";
  OperatorProcess op(ns.name());
  json p = pipeline("ci", repo.git_url(), "", steps);
  p["spec"]["source"]["interval"] = "10s";
  ASSERT_TRUE(client().create(kPipelines, ns.name(), p));
  auto running = wait_for(
      kPipelines, ns.name(), "ci",
      [](const json& o) {
        auto runs = o.value("status", json::object()).value("runs", json::array());
        return !runs.empty() && runs[0].value("phase", "") == "Running";
      },
      60s);
  ASSERT_TRUE(running) << running.error().to_string();
  std::string last;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= 10; ++i)
    last = repo.commit({{"n", std::to_string(i)}}, "commit " + std::to_string(i));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);

  // Follow every status the Pipeline goes through until the newest commit's
  // run has finished: at no point may two runs be Running.
  int max_running = 0;
  auto done = wait_for(
      kPipelines, ns.name(), "ci",
      [&](const json& o) {
        int n = 0;
        for (const auto& r : o.value("status", json::object()).value("runs", json::array())) {
          n += r.value("phase", "") == "Running";
        }
        max_running = std::max(max_running, n);
        for (const auto& r : o.value("status", json::object()).value("runs", json::array())) {
          if (r.value("commit", "") == last && r.value("phase", "") == "Succeeded") return true;
        }
        return false;
      },
      90s);
  ASSERT_TRUE(done) << done.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ(max_running, 1);
  std::set<std::string> ran;
  for (const auto& r : (*done)["status"]["runs"]) {
    std::string c = r.value("commit", "");
    std::string ph = r.value("phase", "");
    if (c == first || c == last) {
      EXPECT_EQ(ph, "Succeeded") << r.dump();
    } else {
      // An intermediate commit the operator saw was queued, then superseded.
      EXPECT_EQ(ph, "Cancelled") << r.dump();
      EXPECT_NE(r.value("message", "").find("superseded"), std::string::npos);
    }
  }
  auto jobs = client().list(res::kJobs, ns.name());
  EXPECT_LE((*jobs)["items"].size(), 2u) << "only the first and the newest commit ran";
}

TEST(Pipeline, SignedPushStartsARunAtOnceAndAnUnsignedOneIsRefused) {
  TestNamespace ns("e2e-plpush");
  GitRepo repo("app-" + ns.name());
  std::string first = repo.commit(app(), "first");
  fs::path dir = fs::temp_directory_path() / ("cairn-e2e-push-" + ns.name());
  fs::create_directories(dir);
  auto [rc, out] =
      sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
         "-subj /CN=push -addext subjectAltName=IP:127.0.0.1 -keyout " +
         (dir / "tls.key").string() + " -out " + (dir / "tls.crt").string() + " 2>&1");
  ASSERT_EQ(rc, 0) << out;
  const std::string token = "push-secret-" + ns.name();
  ASSERT_TRUE(client().create(res::kSecrets, ns.name(),
                              {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "push-hook"}}},
                               {"stringData", {{"token", token}}}}));
  int port = free_port();
  OperatorProcess op(ns.name(),
                     {"--push-addr", "127.0.0.1:" + std::to_string(port), "--push-tls-cert",
                      (dir / "tls.crt").string(), "--push-tls-key", (dir / "tls.key").string(),
                      "--push-secret", ns.name() + "/push-hook"});
  json p = pipeline("ci", repo.git_url(), "", "  - {name: s, image: x, script: 'true'}\n");
  p["spec"]["source"]["interval"] = "10m";  // only a push can start the second run
  ASSERT_TRUE(client().create(kPipelines, ns.name(), p));
  ASSERT_TRUE(wait_run(ns.name(), "ci", first));

  std::string second = repo.commit({{"x", "1"}}, "second");
  std::string payload = json{{"ref", "refs/heads/main"},
                             {"after", second},
                             {"repository", {{"clone_url", repo.git_url()}}}}
                            .dump();
  std::ofstream(dir / "payload.json") << payload;
  auto curl = [&](const std::string& header) {
    return sh("curl -s -o /dev/null -w '%{http_code}' --cacert " + (dir / "tls.crt").string() +
              " -H 'Content-Type: application/json' " + header + " --data-binary @" +
              (dir / "payload.json").string() + " https://127.0.0.1:" + std::to_string(port) +
              "/hook");
  };
  EXPECT_EQ(curl("").second, "401");
  EXPECT_EQ(curl("-H 'X-Hub-Signature-256: sha256=0000'").second, "401");
  EXPECT_EQ(curl("-H 'X-Gitlab-Token: wrong'").second, "401");

  auto [hrc, hmac] = sh("printf %s '" + payload + "' | openssl dgst -sha256 -hmac '" + token +
                        "' | sed 's/.*= //'");
  ASSERT_EQ(hrc, 0);
  hmac.erase(hmac.find_last_not_of("\n") + 1);
  auto sent = std::chrono::steady_clock::now();
  EXPECT_EQ(curl("-H 'X-Hub-Signature-256: sha256=" + hmac + "'").second, "202");
  auto started = wait_for(
      kPipelines, ns.name(), "ci",
      [&](const json& o) {
        for (const auto& r : o.value("status", json::object()).value("runs", json::array())) {
          if (r.value("commit", "") == second) return r.value("trigger", "") == "push";
        }
        return false;
      },
      10s);
  ASSERT_TRUE(started) << started.error().to_string() << "\n" << op.log_tail();
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 1s)
      << "a signed push starts the run within a second";
  fs::remove_all(dir);
}

TEST(Pipeline, ManualRunsSpecChangesAndHistoryLimit) {
  TestNamespace ns("e2e-plman");
  GitRepo repo("app-" + ns.name());
  std::string sha = repo.commit(app(), "first");
  OperatorProcess op(ns.name());
  json p = pipeline("ci", repo.git_url(), "", "  - {name: s, image: x, script: 'true'}\n");
  p["spec"]["historyLimit"] = 5;
  ASSERT_TRUE(client().create(kPipelines, ns.name(), p));
  ASSERT_TRUE(wait_run(ns.name(), "ci", sha));

  auto runs_of = [](const json& o) {
    return o.value("status", json::object()).value("runs", json::array());
  };
  auto manual_done = [&](size_t n) {
    return wait_for(
        kPipelines, ns.name(), "ci",
        [&](const json& o) {
          size_t k = 0;
          for (const auto& r : runs_of(o)) {
            k += r.value("trigger", "") == "manual" && r.value("phase", "") == "Succeeded";
          }
          return k == n;
        },
        60s);
  };
  auto request = [&](const std::string& at) {
    return client().patch(kPipelines, ns.name(), "ci", kube::PatchType::kMerge,
                          {{"metadata", {{"annotations", {{"cairn.dev/requested-at", at}}}}}});
  };
  // Each new value of cairn.dev/requested-at is one manual run of the commit.
  ASSERT_TRUE(request("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(manual_done(1));
  ASSERT_TRUE(request("2026-01-02T00:00:00Z"));
  ASSERT_TRUE(manual_done(2));
  // Writing the same value again (e.g. re-applying a manifest) is no request.
  ASSERT_TRUE(client().patch(kPipelines, ns.name(), "ci", kube::PatchType::kMerge,
                             {{"metadata", {{"labels", {{"touched", "yes"}}}}}}));
  ASSERT_TRUE(request("2026-01-02T00:00:00Z"));
  auto now = client().get(kPipelines, ns.name(), "ci");
  ASSERT_TRUE(now);
  EXPECT_EQ(runs_of(*now).size(), 3u) << runs_of(*now).dump();

  // historyLimit 1: older runs leave status, and their Jobs are deleted. (The
  // spec change also starts a run for the new spec: that one is kept.)
  ASSERT_TRUE(client().patch(kPipelines, ns.name(), "ci", kube::PatchType::kMerge,
                             {{"spec", {{"historyLimit", 1}}}}));
  auto trimmed = wait_for(
      kPipelines, ns.name(), "ci",
      [&](const json& o) {
        auto r = runs_of(o);
        auto jobs = client().list(res::kJobs, ns.name());
        return r.size() == 1 && r[0].value("id", "").ends_with("-2") &&
               r[0].value("phase", "") == "Succeeded" && jobs && (*jobs)["items"].size() == 1;
      },
      60s);
  ASSERT_TRUE(trimmed) << trimmed.error().to_string();
  EXPECT_EQ(runs_of(*trimmed)[0].value("trigger", ""), "poll")
      << "the old manual request did not come back";

  // Changing the spec while a run is in progress cancels that run and starts
  // one for the new spec.
  json slow = {
      {"spec",
       {{"steps", json::array({{{"name", "s"}, {"image", "x"}, {"script", "sleep 30"}}})}}}};
  ASSERT_TRUE(client().patch(kPipelines, ns.name(), "ci", kube::PatchType::kMerge, slow));
  auto running = wait_for(
      kPipelines, ns.name(), "ci",
      [&](const json& o) {
        auto r = runs_of(o);
        return !r.empty() && r[0].value("phase", "") == "Running" &&
               r[0].value("id", "").ends_with("-3");
      },
      60s);
  ASSERT_TRUE(running) << running.error().to_string();
  json fast = {{"spec",
                {{"historyLimit", 5},
                 {"steps", json::array({{{"name", "s"}, {"image", "x"}, {"script", "true"}}})}}}};
  ASSERT_TRUE(client().patch(kPipelines, ns.name(), "ci", kube::PatchType::kMerge, fast));
  auto after = wait_for(
      kPipelines, ns.name(), "ci",
      [&](const json& o) {
        bool cancelled = false, newer_ok = false;
        for (const auto& r : runs_of(o)) {
          std::string id = r.value("id", "");
          if (id.ends_with("-3") && r.value("phase", "") == "Cancelled") cancelled = true;
          if (id.ends_with("-4") && r.value("phase", "") == "Succeeded") newer_ok = true;
        }
        return cancelled && newer_ok;
      },
      60s);
  ASSERT_TRUE(after) << after.error().to_string() << "\n" << op.log_tail();
  auto jobs = client().list(res::kJobs, ns.name(),
                            {.label_selector = "cairn.dev/run=" + sha.substr(0, 8) + "-3"});
  ASSERT_TRUE(jobs);
  for (const auto& j : (*jobs)["items"]) {
    EXPECT_TRUE(j["metadata"].contains("deletionTimestamp"))
        << "the cancelled run's Job is being deleted";
  }
}

}  // namespace
}  // namespace cairn::e2e
