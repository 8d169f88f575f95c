#include "kube/ratelimit.h"

#include <gtest/gtest.h>

namespace cairn::kube {
namespace {

using namespace std::chrono_literals;

TEST(ItemBackoff, DoublesFromBaseToCapPerKey) {
  ItemBackoff b(5ms, 1000ms);
  EXPECT_EQ(b.next("a"), 5ms);
  EXPECT_EQ(b.next("a"), 10ms);
  EXPECT_EQ(b.next("a"), 20ms);
  EXPECT_EQ(b.next("b"), 5ms) << "keys back off independently";
  for (int i = 0; i < 100; ++i) b.next("a");
  EXPECT_EQ(b.next("a"), 1000ms) << "capped, no overflow";
  EXPECT_EQ(b.failures("a"), 104);
  b.forget("a");
  EXPECT_EQ(b.failures("a"), 0);
  EXPECT_EQ(b.next("a"), 5ms);
}

TEST(TokenBucket, BurstThenPaced) {
  TokenBucket bucket(10, 3);
  auto t0 = Clock::now();
  EXPECT_EQ(bucket.reserve(t0).count(), 0);
  EXPECT_EQ(bucket.reserve(t0).count(), 0);
  EXPECT_EQ(bucket.reserve(t0).count(), 0);
  auto wait = bucket.reserve(t0);
  EXPECT_NEAR(std::chrono::duration<double>(wait).count(), 0.1, 0.001);
  // A second later the bucket has refilled (up to burst).
  EXPECT_EQ(bucket.reserve(t0 + 1s).count(), 0);
}

TEST(Backoff, GrowsToCapWithJitterAndResets) {
  Backoff b(800ms, 30000ms);
  auto first = b.next();
  EXPECT_GE(first, 800ms);
  EXPECT_LE(first, 1000ms);
  std::chrono::milliseconds last{};
  for (int i = 0; i < 20; ++i) last = b.next();
  EXPECT_EQ(last, 30000ms);
  b.reset();
  EXPECT_LE(b.next(), 1000ms);
}

}  // namespace
}  // namespace cairn::kube
