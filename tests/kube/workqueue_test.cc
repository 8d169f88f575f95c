#include "kube/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace cairn::kube {
namespace {

using namespace std::chrono_literals;

TEST(WorkQueue, DedupesQueuedKeys) {
  WorkQueue q;
  q.add("a");
  q.add("a");
  q.add("b");
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), "b");
}

TEST(WorkQueue, KeyReAddedWhileProcessingWaitsForDone) {
  WorkQueue q;
  q.add("a");
  auto k = q.get();
  ASSERT_EQ(k, "a");
  q.add("a");
  EXPECT_EQ(q.len(), 0u) << "not handed out while being processed";
  q.done("a");
  EXPECT_EQ(q.len(), 1u) << "queued again once done";
  EXPECT_EQ(q.get(), "a");
  q.done("a");
  EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueue, NeverHandsOneKeyToTwoWorkers) {
  WorkQueue q;
  std::atomic<int> in_flight[4] = {};
  std::atomic<bool> violation{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        int idx = (*key)[0] - 'a';
        if (in_flight[idx].fetch_add(1) != 0) violation = true;
        std::this_thread::yield();
        in_flight[idx].fetch_sub(1);
        processed++;
        q.done(*key);
      }
    });
  }
  for (int i = 0; i < 20000; ++i) q.add(std::string(1, static_cast<char>('a' + i % 4)));
  q.shutdown_with_drain();
  for (auto& t : workers) t.join();
  EXPECT_FALSE(violation);
  EXPECT_GT(processed.load(), 0);
}

TEST(WorkQueue, AddAfterDelaysAndKeepsTheEarliest) {
  WorkQueue q;
  auto start = Clock::now();
  q.add_after("late", 200ms);
  q.add_after("late", 50ms);   // earlier deadline wins
  q.add_after("late", 400ms);  // later one ignored
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.delayed_len(), 1u);
  auto k = q.get();
  auto waited = Clock::now() - start;
  EXPECT_EQ(k, "late");
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 190ms);
}

TEST(WorkQueue, RateLimitedBacksOffPerKeyAndForgetResets) {
  WorkQueue q({.base_delay = 5ms, .max_delay = 1000ms, .qps = 1000, .burst = 1000});
  for (int i = 0; i < 3; ++i) q.add_rate_limited("k");
  EXPECT_EQ(q.requeues("k"), 3);
  EXPECT_EQ(q.retries(), 3u);
  q.forget("k");
  EXPECT_EQ(q.requeues("k"), 0);
}

TEST(WorkQueue, ShutdownWakesBlockedWorkers) {
  WorkQueue q;
  std::thread t([&] { EXPECT_EQ(q.get(), std::nullopt); });
  std::this_thread::sleep_for(20ms);  // let the worker block (not synchronisation of the result)
  q.shutdown();
  t.join();
  q.add("x");
  EXPECT_EQ(q.len(), 0u) << "adds after shutdown are dropped";
}

TEST(WorkQueue, DrainFinishesQueuedWork) {
  WorkQueue q;
  for (int i = 0; i < 10; ++i) q.add("k" + std::to_string(i));
  q.shutdown_with_drain();
  std::set<std::string> got;
  while (auto k = q.get()) {
    got.insert(*k);
    q.done(*k);
  }
  EXPECT_EQ(got.size(), 10u);
}

}  // namespace
}  // namespace cairn::kube
