#include "api/conditions.h"

#include <gtest/gtest.h>

namespace cairn::api {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point t0 = system_clock::from_time_t(1714564800);  // 2024-05-01T12:00:00Z

TEST(FormatTime, Rfc3339Seconds) {
  EXPECT_EQ(format_time(t0), "2024-05-01T12:00:00Z");
  EXPECT_EQ(format_time(t0 + std::chrono::milliseconds(999)), "2024-05-01T12:00:00Z");
}

TEST(SetCondition, KeepsTransitionTimeWhileStatusIsUnchanged) {
  std::vector<Condition> c;
  EXPECT_TRUE(set_condition(c, "Ready", "False", "Progressing", "applying", 1, t0));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].last_transition_time, "2024-05-01T12:00:00Z");

  // Same status, new reason and message: updated, time kept.
  EXPECT_TRUE(
      set_condition(c, "Ready", "False", "HealthCheck", "waiting for web", 2, t0 + seconds(30)));
  EXPECT_EQ(c[0].reason, "HealthCheck");
  EXPECT_EQ(c[0].message, "waiting for web");
  EXPECT_EQ(c[0].observed_generation, 2);
  EXPECT_EQ(c[0].last_transition_time, "2024-05-01T12:00:00Z");

  // Nothing new: no change reported, so no status write is needed.
  EXPECT_FALSE(
      set_condition(c, "Ready", "False", "HealthCheck", "waiting for web", 2, t0 + seconds(60)));

  // Status flips: time moves.
  EXPECT_TRUE(set_condition(c, "Ready", "True", "Deployed", "ok", 2, t0 + seconds(90)));
  EXPECT_EQ(c[0].last_transition_time, "2024-05-01T12:01:30Z");
  EXPECT_EQ(c.size(), 1u);
}

TEST(KStatus, ReconcilingThenReadyThenStalled) {
  std::vector<Condition> c;
  EXPECT_TRUE(set_reconciling(c, "Progressing", "applying abc", 4, t0));
  EXPECT_TRUE(is_condition_true(c, kReconcilingCondition));
  EXPECT_EQ(find_condition(c, kReadyCondition)->status, "Unknown");
  EXPECT_EQ(find_condition(c, kStalledCondition), nullptr);

  EXPECT_TRUE(set_ready(c, "Deployed", "abc is healthy", 4, t0 + seconds(5)));
  EXPECT_TRUE(is_condition_true(c, kReadyCondition));
  EXPECT_EQ(find_condition(c, kReconcilingCondition), nullptr);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_FALSE(set_ready(c, "Deployed", "abc is healthy", 4, t0 + seconds(10)));

  EXPECT_TRUE(set_stalled(c, "InvalidSpec", "spec.steps: cycle a -> b -> a", 5, t0 + seconds(20)));
  EXPECT_TRUE(is_condition_true(c, kStalledCondition));
  const Condition* ready = find_condition(c, kReadyCondition);
  EXPECT_EQ(ready->status, "False");
  EXPECT_EQ(ready->reason, "InvalidSpec");
  EXPECT_EQ(ready->observed_generation, 5);
  EXPECT_EQ(ready->last_transition_time, "2024-05-01T12:00:20Z");

  EXPECT_TRUE(set_not_ready(c, "SourceUnavailable", "fetch failed", 5, t0 + seconds(30)));
  EXPECT_EQ(find_condition(c, kStalledCondition), nullptr);
  EXPECT_EQ(find_condition(c, kReadyCondition)->last_transition_time, "2024-05-01T12:00:20Z");
  EXPECT_TRUE(remove_condition(c, kReadyCondition));
  EXPECT_FALSE(remove_condition(c, kReadyCondition));
  EXPECT_TRUE(c.empty());
}

}  // namespace
}  // namespace cairn::api
