#include "operator/kit/controller.h"

#include <gtest/gtest.h>

#include "operator/kit/status.h"

namespace cairn::kit {
namespace {

using namespace std::chrono_literals;

TEST(Controller, EachOutcomeAsksTheQueueForWhatItMeans) {
  Outcome next;
  std::vector<std::string> observed;
  Controller c(
      "Thing", [&](const std::string&) { return next; },
      [&](const std::string& kind, const Outcome& o, double) {
        observed.push_back(kind + ":" + std::string(to_string(o.kind())));
      });
  auto run = [&](Outcome o) {
    next = o;
    c.enqueue("ns/a");
    auto key = c.queue().get();
    ASSERT_TRUE(key);
    c.process(*key);
  };
  run(Outcome::done());
  EXPECT_EQ(c.queue().len() + c.queue().delayed_len(), 0u);
  run(Outcome::stalled("InvalidSpec", "x"));
  EXPECT_EQ(c.queue().len() + c.queue().delayed_len(), 0u) << "a stall waits for a person";
  run(Outcome::requeue(1h));
  EXPECT_EQ(c.queue().delayed_len(), 1u);
  run(Outcome::retry(Error::transient_error("down")));
  EXPECT_EQ(c.queue().requeues("ns/a"), 1) << "rate-limited";
  EXPECT_EQ(observed, (std::vector<std::string>{"Thing:Done", "Thing:Stalled", "Thing:Requeue",
                                                "Thing:Retry"}));
}

TEST(Controller, AReconcileThatThrowsIsRetriedNotFatal) {
  Controller c("Thing", [](const std::string&) -> Outcome { throw std::runtime_error("bug"); });
  c.enqueue("ns/a");
  auto key = c.queue().get();
  ASSERT_TRUE(key);
  c.process(*key);
  EXPECT_EQ(c.queue().requeues("ns/a"), 1);
}

TEST(Outcome, OnlyARetryLeavesTheGenerationUnsettled) {
  EXPECT_TRUE(Outcome::done().settles_generation());
  EXPECT_TRUE(Outcome::requeue(1s).settles_generation());
  EXPECT_TRUE(Outcome::stalled("R", "m").settles_generation());
  EXPECT_FALSE(Outcome::retry(Error::transient_error("x")).settles_generation());
  int64_t observed = 1;
  settle_generation(observed, 2, Outcome::retry(Error::transient_error("x")));
  EXPECT_EQ(observed, 1);
  settle_generation(observed, 2, Outcome::requeue(1s));
  EXPECT_EQ(observed, 2);
}

}  // namespace
}  // namespace cairn::kit
