#include "json/json.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace cairn {
namespace {

// cairn::json only moves where small pieces are allocated: text in, the same
// text and the same comparisons out as nlohmann::json.
TEST(Json, SameTextAndOrderAsNlohmannJson) {
  const std::string text =
      R"({"z":1,"a":{"y":[1,2.5,"s",null,true,{"k":"v"}],"b":"a string longer than sixteen"},)"
      R"("m":-9223372036854775808,"u":18446744073709551615,"e":{},"l":[]})";
  json ours = json::parse(text);
  nlohmann::json theirs = nlohmann::json::parse(text);
  EXPECT_EQ(ours.dump(), theirs.dump());
  EXPECT_EQ(json::parse(ours.dump()), ours);
  json other = json::parse(text);
  other["a"]["y"][5]["k"] = "w";
  EXPECT_NE(other, ours);
  EXPECT_LT(ours, other);
}

// Values made on one thread and destroyed on another (an informer's objects
// released by a worker) give their memory back, whatever their size.
TEST(Json, ValuesCrossThreadsAndSizes) {
  std::vector<json> made(4);
  std::thread maker([&] {
    made[0] = json::parse(R"({"small":{"a":1}})");
    made[1] = json::array();
    for (int i = 0; i < 1000; ++i) made[1].push_back(i);  // storage well over 256 bytes
    made[2] = std::string(5000, 'x');
    made[3] = {{"nested", {{"deeper", {{"deepest", json::array({1, 2, 3})}}}}}};
  });
  maker.join();
  std::thread taker([&] {
    EXPECT_EQ(made[1].size(), 1000u);
    EXPECT_EQ(made[1][999], 999);
    EXPECT_EQ(made[3]["nested"]["deeper"]["deepest"][2], 3);
    made.clear();
  });
  taker.join();
  EXPECT_TRUE(made.empty());
}

// The informer copies each object it caches inside a Scope: the copy's small
// pieces come from the pool and go back to it when the last reference goes,
// on whatever thread that is; values made outside a Scope never touch it.
TEST(Json, ScopedCopiesUseThePoolAndGiveItBack) {
  const json parsed =
      json::parse(R"({"metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},)"
                  R"("data":{"key":"a value long enough to need its own heap buffer"}})");
  const auto before = json_pool::stats();
  json outside = parsed;  // no Scope: operator new, as nlohmann::json would
  EXPECT_EQ(json_pool::stats().in_use, before.in_use);

  std::shared_ptr<const json> cached;
  {
    json_pool::Scope pooled;
    cached = std::allocate_shared<const json>(json_pool::Allocator<json>(), parsed);
  }
  if (json_pool::stats().reserved == 0) GTEST_SKIP() << "no pool in this build (ASan)";
  EXPECT_GT(json_pool::stats().in_use, before.in_use);
  EXPECT_EQ(*cached, parsed);
  EXPECT_EQ(cached->dump(), outside.dump());

  // A copy of a pooled value made outside a Scope is an ordinary value.
  const auto with_cached = json_pool::stats().in_use;
  json edited = *cached;
  edited["metadata"]["labels"]["tier"] = "front";
  EXPECT_EQ(json_pool::stats().in_use, with_cached);

  std::thread([c = std::move(cached)]() mutable { c.reset(); }).join();
  EXPECT_EQ(json_pool::stats().in_use, before.in_use);
}

TEST(Json, ConcurrentChurnFromManyThreads) {
  std::vector<std::thread> ts;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        json j = {{"metadata", {{"name", "o-" + std::to_string(t) + "-" + std::to_string(i)}}},
                  {"data", {{"k", std::string(static_cast<size_t>(i % 300), 'v')}}}};
        json copy = j;
        copy["metadata"]["labels"]["x"] = "y";
        if (copy["metadata"]["name"] != j["metadata"]["name"]) ++wrong;
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace cairn
