#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "kube/informer.h"

namespace cairn::kube {
namespace {

ObjectPtr obj(const std::string& ns, const std::string& name, const json& labels = json::object(),
              const std::string& owner = "", const std::string& rv = "1") {
  json o = {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"resourceVersion", rv}, {"labels", labels}}}};
  if (!ns.empty()) o["metadata"]["namespace"] = ns;
  if (!owner.empty()) o["metadata"]["ownerReferences"] = json::array({{{"uid", owner}}});
  return std::make_shared<const json>(std::move(o));
}

std::vector<std::string> names(const std::vector<ObjectPtr>& v) {
  std::vector<std::string> out;
  for (const auto& o : v) out.push_back(object_key(*o));
  return out;
}

TEST(Store, GetListKeysByNamespaceAndName) {
  Store s;
  s.upsert(obj("b", "x"));
  s.upsert(obj("a", "y"));
  s.upsert(obj("a", "x"));
  s.upsert(obj("", "cluster-wide"));
  EXPECT_EQ(s.size(), 4u);
  ASSERT_NE(s.get("a/x"), nullptr);
  EXPECT_EQ((*s.get("a/x"))["metadata"]["name"], "x");
  ASSERT_NE(s.get("cluster-wide"), nullptr);
  EXPECT_EQ(s.get("a/z"), nullptr);
  EXPECT_EQ(s.get("x"), nullptr);  // "x" exists only namespaced
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"cluster-wide", "a/x", "a/y", "b/x"}));
  EXPECT_EQ(names(s.list()), s.keys());
}

TEST(Store, NamespaceLookupIsExactNotAPrefix) {
  Store s;
  s.upsert(obj("app", "one"));
  s.upsert(obj("app-2", "two"));
  s.upsert(obj("ap", "three"));
  s.upsert(obj("app", "four"));
  EXPECT_EQ(names(s.by_index(Store::kByNamespace, "app")),
            (std::vector<std::string>{"app/four", "app/one"}));
  EXPECT_EQ(names(s.by_index(Store::kByNamespace, "app-2")),
            (std::vector<std::string>{"app-2/two"}));
  EXPECT_TRUE(s.by_index(Store::kByNamespace, "nope").empty());
  s.erase("app/four");
  EXPECT_EQ(names(s.by_index(Store::kByNamespace, "app")), (std::vector<std::string>{"app/one"}));
}

TEST(Store, UpdateReplacesObjectAndMovesIndexEntries) {
  Store s;
  s.upsert(obj("ns", "a", {{"tier", "web"}}, "owner-1", "1"));
  s.upsert(obj("ns", "b", {{"tier", "web"}}));
  EXPECT_EQ(names(s.by_index(Store::kByLabel, "tier=web")),
            (std::vector<std::string>{"ns/a", "ns/b"}));
  EXPECT_EQ(names(s.by_index(Store::kByOwner, "owner-1")), (std::vector<std::string>{"ns/a"}));

  ObjectPtr old = s.upsert(obj("ns", "a", {{"tier", "db"}}, "owner-2", "2"));
  ASSERT_NE(old, nullptr);
  EXPECT_EQ((*old)["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(names(s.by_index(Store::kByLabel, "tier=web")), (std::vector<std::string>{"ns/b"}));
  EXPECT_EQ(names(s.by_index(Store::kByLabel, "tier=db")), (std::vector<std::string>{"ns/a"}));
  EXPECT_TRUE(s.by_index(Store::kByOwner, "owner-1").empty());
  EXPECT_EQ(names(s.by_index(Store::kByOwner, "owner-2")), (std::vector<std::string>{"ns/a"}));
  EXPECT_EQ(s.size(), 2u);

  // The key is read from the object the store now holds: once the old
  // object is gone, lookups still find the entry (and ASan builds would
  // catch a key left pointing into the freed one).
  old.reset();
  ASSERT_NE(s.get("ns/a"), nullptr);
  EXPECT_EQ((*s.get("ns/a"))["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"ns/a", "ns/b"}));
}

TEST(Store, EraseReturnsTheObjectAndDropsItsIndexEntries) {
  Store s;
  s.upsert(obj("ns", "a", {{"tier", "web"}}, "o"));
  ObjectPtr gone = s.erase("ns/a");
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ((*gone)["metadata"]["name"], "a");
  EXPECT_EQ(s.erase("ns/a"), nullptr);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_TRUE(s.by_index(Store::kByLabel, "tier=web").empty());
  EXPECT_TRUE(s.by_index(Store::kByOwner, "o").empty());
  EXPECT_TRUE(s.by_index(Store::kByNamespace, "ns").empty());
}

TEST(Store, AddIndexCoversObjectsAlreadyStored) {
  Store s;
  s.upsert(obj("ns", "a"));
  s.upsert(obj("ns", "b"));
  s.add_index("name-length", [](const json& o) {
    return std::vector<std::string>{
        std::to_string(o["metadata"]["name"].get<std::string>().size())};
  });
  EXPECT_EQ(names(s.by_index("name-length", "1")), (std::vector<std::string>{"ns/a", "ns/b"}));
  s.upsert(obj("ns", "cc"));
  EXPECT_EQ(names(s.by_index("name-length", "2")), (std::vector<std::string>{"ns/cc"}));
  EXPECT_TRUE(s.by_index("no-such-index", "1").empty());
}

TEST(Store, ConcurrentReadersSeeWholeObjectsWhileAWriterUpdates) {
  Store s;
  for (int i = 0; i < 50; ++i) s.upsert(obj("ns", "o" + std::to_string(i), {{"l", "v"}}));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        for (const auto& o : s.by_index(Store::kByNamespace, "ns")) {
          if ((*o)["metadata"]["namespace"] != "ns") ++bad;
        }
        if (s.by_index(Store::kByLabel, "l=v").size() > 50) ++bad;
        auto one = s.get("ns/o7");
        if (!one || (*one)["metadata"]["name"] != "o7") ++bad;
      }
    });
  }
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 50; ++i) {
      s.upsert(obj("ns", "o" + std::to_string(i), {{"l", "v"}}, "", std::to_string(round)));
    }
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(s.size(), 50u);
}

}  // namespace
}  // namespace cairn::kube
