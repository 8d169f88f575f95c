#include "api/types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cairn::api {
namespace {

using cairn::json;
using ::testing::ElementsAre;

const char* kPipelineStatus = R"({
  "observedGeneration": 3,
  "conditions": [
    {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "run 7 succeeded",
     "lastTransitionTime": "2024-05-01T12:00:00Z", "observedGeneration": 3}
  ],
  "latestCommit": "0123456789abcdef0123456789abcdef01234567",
  "lastSucceededCommit": "0123456789abcdef0123456789abcdef01234567",
  "lastRunPhase": "Succeeded",
  "runs": [
    {"id": "7", "commit": "0123456789abcdef0123456789abcdef01234567", "author": "Ada",
     "title": "Fix checkout", "trigger": "push", "phase": "Succeeded",
     "startTime": "2024-05-01T11:58:00Z", "completionTime": "2024-05-01T12:00:00Z",
     "message": "all steps succeeded",
     "steps": [
       {"name": "audit", "phase": "Succeeded", "job": "shop-ci-7-audit", "attempts": 2,
        "startTime": "2024-05-01T11:58:00Z", "completionTime": "2024-05-01T11:59:00Z",
        "message": "ok", "results": {"coverage": "81%", "image": "r/app@sha256:00"}},
       {"name": "test", "phase": "Skipped"}
     ]}
  ]
})";

const char* kReleaseStatus = R"({
  "observedGeneration": 9,
  "conditions": [
    {"type": "Ready", "status": "False", "reason": "RolledBack", "message": "health check failed",
     "lastTransitionTime": "2024-05-01T12:00:00Z", "observedGeneration": 9},
    {"type": "Stalled", "status": "True", "reason": "RolledBack", "message": "x",
     "lastTransitionTime": "2024-05-01T12:00:00Z"}
  ],
  "phase": "RolledBack",
  "desiredCommit": "1111111111111111111111111111111111111111",
  "currentCommit": "2222222222222222222222222222222222222222",
  "lastAttemptedCommit": "1111111111111111111111111111111111111111",
  "inventory": [
    {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "reader"}
  ],
  "history": [
    {"commit": "1111111111111111111111111111111111111111", "startedAt": "2024-05-01T11:55:00Z",
     "finishedAt": "2024-05-01T12:00:00Z", "result": "RolledBack", "reason": "deadline"},
    {"commit": "2222222222222222222222222222222222222222", "startedAt": "2024-04-30T10:00:00Z",
     "finishedAt": "2024-04-30T10:02:00Z", "result": "Deployed", "leadTimeSeconds": 5400}
  ]
})";

TEST(Enums, SpellingsRoundTrip) {
  EXPECT_EQ(to_string(RunPhase::kCancelled), "Cancelled");
  EXPECT_EQ(to_string(StepPhase::kSkipped), "Skipped");
  EXPECT_EQ(to_string(Trigger::kManual), "manual");
  EXPECT_EQ(to_string(VerifyMode::kHead), "head");
  EXPECT_EQ(to_string(ReleasePhase::kRolledBack), "RolledBack");
  EXPECT_EQ(to_string(HistoryResult::kDeployed), "Deployed");
  EXPECT_EQ(to_string(NotifyEvent::kDriftCorrected), "DriftCorrected");
  RunPhase p = RunPhase::kPending;
  EXPECT_TRUE(from_string("Failed", p));
  EXPECT_EQ(p, RunPhase::kFailed);
  EXPECT_FALSE(from_string("failed", p));  // case matters, as in the CRD enum
  EXPECT_EQ(p, RunPhase::kFailed);
  EXPECT_TRUE(is_finished(RunPhase::kCancelled));
  EXPECT_FALSE(is_finished(RunPhase::kRunning));
  EXPECT_TRUE(is_finished(StepPhase::kSkipped));
  EXPECT_FALSE(is_finished(StepPhase::kPending));
}

TEST(PipelineStatus, RoundTripsFaithfully) {
  json in = json::parse(kPipelineStatus);
  auto s = parse_pipeline_status(in);
  ASSERT_TRUE(s.has_value()) << to_string(s.error());
  EXPECT_EQ(s->observed_generation, 3);
  EXPECT_EQ(s->last_run_phase, RunPhase::kSucceeded);
  ASSERT_EQ(s->runs.size(), 1u);
  EXPECT_EQ(s->runs[0].trigger, Trigger::kPush);
  EXPECT_EQ(s->runs[0].steps[0].attempts, 2);
  EXPECT_EQ(s->runs[0].steps[0].results.at("coverage"), "81%");
  EXPECT_EQ(s->runs[0].steps[1].phase, StepPhase::kSkipped);
  EXPECT_EQ(s->find_run("7")->find_step("test")->phase, StepPhase::kSkipped);
  EXPECT_EQ(s->find_run("8"), nullptr);
  json out = *s;
  EXPECT_EQ(out, in) << out.dump(2);
  EXPECT_EQ(out.get<PipelineStatus>(), *s);
}

TEST(PipelineStatus, UnknownFieldsAreIgnored) {
  json in = json::parse(kPipelineStatus);
  in["futureField"] = {{"x", 1}};
  in["runs"][0]["futureField"] = 1;
  auto s = parse_pipeline_status(in);
  ASSERT_TRUE(s.has_value());
  json out = *s;
  EXPECT_EQ(out, json::parse(kPipelineStatus));
}

TEST(PipelineStatus, EmptyAndNull) {
  EXPECT_EQ(parse_pipeline_status(json()).value(), PipelineStatus{});
  EXPECT_EQ(parse_pipeline_status(json::object()).value(), PipelineStatus{});
  EXPECT_EQ(json(PipelineStatus{}), json::object());
}

TEST(PipelineStatus, BadValuesAreErrorsWithPaths) {
  json in = json::parse(kPipelineStatus);
  in["runs"][0]["phase"] = "Done";
  in["runs"][0]["steps"][0]["attempts"] = "two";
  in["runs"][0]["steps"][0]["results"]["n"] = 3;
  in["observedGeneration"] = "3";
  auto s = parse_pipeline_status(in);
  ASSERT_FALSE(s.has_value());
  std::vector<std::string> e;
  for (const auto& x : s.error()) e.push_back(x.to_string());
  EXPECT_THAT(e,
              ElementsAre("status.observedGeneration: must be an integer, not a string",
                          "status.runs[0].phase: must be Pending, Running, Succeeded, Failed or "
                          "Cancelled, not \"Done\"",
                          "status.runs[0].steps[0].attempts: must be an integer, not a string",
                          "status.runs[0].steps[0].results.n: must be a string, not an integer"));
  EXPECT_THROW(in.get<PipelineStatus>(), std::invalid_argument);
  EXPECT_FALSE(parse_pipeline_status(json::array()).has_value());
}

TEST(ReleaseStatus, RoundTripsFaithfully) {
  json in = json::parse(kReleaseStatus);
  auto s = parse_release_status(in);
  ASSERT_TRUE(s.has_value()) << to_string(s.error());
  EXPECT_EQ(s->phase, ReleasePhase::kRolledBack);
  ASSERT_EQ(s->inventory.size(), 2u);
  EXPECT_EQ(s->inventory[1].namespace_, "");
  ASSERT_EQ(s->history.size(), 2u);
  EXPECT_FALSE(s->history[0].lead_time_seconds.has_value());
  EXPECT_EQ(s->history[1].lead_time_seconds, 5400);
  EXPECT_EQ(s->history[1].result, HistoryResult::kDeployed);
  json out = *s;
  EXPECT_EQ(out, in) << out.dump(2);
  EXPECT_EQ(out.get<ReleaseStatus>(), *s);
}

TEST(ReleaseStatus, BadValuesAreErrorsWithPaths) {
  json in = json::parse(kReleaseStatus);
  in["history"][1]["result"] = "Succeeded";
  in["inventory"] = "web";
  in["conditions"][0]["status"] = true;
  auto s = parse_release_status(in);
  ASSERT_FALSE(s.has_value());
  std::vector<std::string> e;
  for (const auto& x : s.error()) e.push_back(x.to_string());
  EXPECT_THAT(e, ElementsAre("status.conditions[0].status: must be a string, not a boolean",
                             "status.inventory: must be a list, not a string",
                             "status.history[1].result: must be Deployed, Failed or RolledBack, "
                             "not \"Succeeded\""));
}

TEST(Conditions, ParseStandalone) {
  auto c = parse_conditions(json::parse(R"([{"type": "Ready", "status": "True"}])"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->at(0).type, "Ready");
  EXPECT_FALSE(parse_conditions(json("x")).has_value());
  EXPECT_TRUE(parse_conditions(json()).value().empty());
}

}  // namespace
}  // namespace cairn::api
