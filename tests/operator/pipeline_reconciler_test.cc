// The Pipeline reconciler driven against the shared fakes: runs keyed by
// commit, Jobs named from their inputs, one status write per reconcile.
#include <gtest/gtest.h>

#include "api/names.h"
#include "fakes/fakes.h"
#include "operator/pipeline/reconciler.h"

namespace cairn::pipeline {
namespace {

using fakes::FakeApi;
using kube::json;
using K = kit::Outcome::Kind;

const std::string kUrl = "https://git.example.com/shop/app.git";
const kube::ApiResource kJobs{"batch", "v1", "jobs", "Job", true};

struct Harness {
  FakeApi api;
  fakes::FakeSources sources;
  fakes::FakeEvents events;
  kube::Store pipelines, jobs, pods;
  std::shared_ptr<fakes::FakeGit> repo = sources.repo(kUrl);
  std::vector<std::string> finished;
  std::unique_ptr<Reconciler> rec;

  Harness() { restart(); }
  void restart() {
    rec = std::make_unique<Reconciler>(
        api, pipelines, jobs, pods, sources, events,
        Options{.on_run_finished = [this](const std::string&, const std::string&,
                                          const api::RunStatus& run, double,
                                          const std::vector<api::NotifySpec>&) {
          finished.push_back(run.id);
        }});
  }
  void create(json steps) {
    api.put(Reconciler::resource(),
            {{"apiVersion", "cairn.dev/v1alpha1"},
             {"kind", "Pipeline"},
             {"metadata", {{"name", "ci"}, {"namespace", "shop"}}},
             {"spec",
              {{"source", {{"url", kUrl}, {"branch", "main"}, {"interval", "1m"}}},
               {"steps", std::move(steps)}}}});
  }
  void sync() {
    auto mirror = [](kube::Store& store, const std::vector<json>& objects) {
      for (const auto& k : store.keys()) store.erase(k);
      for (const auto& o : objects) store.upsert(std::make_shared<const json>(o));
    };
    mirror(pipelines, api.all(Reconciler::resource()));
    mirror(jobs, api.all(kJobs));
  }
  kit::Outcome reconcile() {
    sync();
    auto out = rec->reconcile("shop/ci");
    sync();
    return out;
  }
  json status() const {
    return api.peek(Reconciler::resource(), "shop", "ci")->value("status", json::object());
  }
  std::string ready_reason() const {
    for (const auto& c : status().value("conditions", json::array())) {
      if (c.value("type", "") == "Ready") return c.value("reason", "");
    }
    return "";
  }
  void complete(const std::string& job_name) {
    auto j = *api.peek(kJobs, "shop", job_name);
    j["status"] = {{"succeeded", 1}, {"conditions", {{{"type", "Complete"}, {"status", "True"}}}}};
    api.put(kJobs, j);
  }
};

json two_steps() {
  return json::array(
      {{{"name", "test"}, {"image", "x"}, {"script", "true"}},
       {{"name", "build"}, {"image", "x"}, {"script", "true"}, {"after", {"test"}}}});
}

TEST(PipelineReconciler, RunsTheStepsInOrderAsJobsNamedFromTheirInputs) {
  Harness h;
  std::string a = h.repo->commit("main", {{"f", "1"}});
  h.create(two_steps());
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kRequeue);
  EXPECT_LE(out.after(), std::chrono::seconds(30)) << "a run is active";
  ASSERT_EQ(h.status()["runs"].size(), 1u);
  const std::string run = h.status()["runs"][0].value("id", "");
  EXPECT_EQ(run, a.substr(0, 8) + "-1");
  const std::string test_job = api::job_name("ci", run, "test");
  EXPECT_TRUE(h.api.peek(kJobs, "shop", test_job));
  EXPECT_EQ(h.api.all(kJobs).size(), 1u) << "build waits for test";
  EXPECT_EQ(h.ready_reason(), "RunInProgress");

  h.complete(test_job);
  h.reconcile();
  const std::string build_job = api::job_name("ci", run, "build");
  ASSERT_TRUE(h.api.peek(kJobs, "shop", build_job));
  h.complete(build_job);
  out = h.reconcile();
  EXPECT_EQ(h.status()["runs"][0].value("phase", ""), "Succeeded");
  EXPECT_EQ(h.ready_reason(), "Succeeded");
  EXPECT_EQ(h.status().value("observedGeneration", 0), 1);
  EXPECT_EQ(h.finished, std::vector<std::string>{run});
  EXPECT_GE(out.after(), std::chrono::seconds(50)) << "nothing active: the next poll";
}

// The operator dies after creating a Job and before writing the run into
// status: the restarted one adopts the Job (AlreadyExists), never makes two.
TEST(PipelineReconciler, ACrashBetweenCreateAndStatusAdoptsTheJob) {
  Harness h;
  h.repo->commit("main", {{"f", "1"}});
  h.create(two_steps());
  h.api.fault = [](const FakeApi::Call& c) -> std::optional<kube::Error> {
    if (c.verb == "update" && c.subresource == "status")
      return FakeApi::error(kube::Code::kUnavailable, "operator killed");
    return std::nullopt;
  };
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kRetry) << "the status write failed";
  EXPECT_TRUE(h.status().empty());
  EXPECT_EQ(h.api.all(kJobs).size(), 1u);
  h.api.fault = nullptr;
  h.restart();
  h.reconcile();
  EXPECT_EQ(h.api.all(kJobs).size(), 1u);
  EXPECT_EQ(h.status()["runs"].size(), 1u);
  EXPECT_EQ(h.status()["runs"][0]["steps"][0].value("phase", ""), "Running");
}

TEST(PipelineReconciler, AnInvalidSpecStalls) {
  Harness h;
  h.create(json::array({{{"name", "a"}, {"image", "x"}, {"script", "true"}, {"after", {"a"}}}}));
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kStalled);
  EXPECT_EQ(h.ready_reason(), "InvalidSpec");
  EXPECT_TRUE(h.events.has("InvalidSpec"));
  EXPECT_EQ(h.api.all(kJobs).size(), 0u);
}

TEST(PipelineReconciler, AFailingFetchRetriesWhileStartedRunsGoOn) {
  Harness h;
  h.repo->commit("main", {{"f", "1"}});
  h.create(two_steps());
  h.reconcile();
  const std::string run = h.status()["runs"][0].value("id", "");
  h.repo->fail_fetch = true;
  h.rec->request_fetch("shop/ci");
  h.complete(api::job_name("ci", run, "test"));
  auto out = h.reconcile();
  EXPECT_EQ(out.kind(), K::kRetry);
  EXPECT_TRUE(out.has_retry_after());
  EXPECT_LE(out.after(), std::chrono::seconds(30)) << "a run is active: the safety net";
  EXPECT_EQ(h.ready_reason(), "FetchFailed");
  EXPECT_TRUE(h.api.peek(kJobs, "shop", api::job_name("ci", run, "build"))) << "the run went on";
}

}  // namespace
}  // namespace cairn::pipeline
