#include "manifest/diff.h"

#include <gtest/gtest.h>

namespace cairn::manifest {
namespace {

using json = cairn::json;

std::vector<std::string> paths(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) out.push_back(c.to_string() + " " + std::string(c.verb()));
  return out;
}

TEST(Diff, SameObjectHasNoChange) {
  json a = {{"spec", {{"replicas", 2}, {"list", {1, 2}}}}};
  EXPECT_TRUE(diff(a, a).empty());
  json b = {{"spec", {{"replicas", 2.0}, {"list", {1, 2}}}}};
  EXPECT_TRUE(diff(a, b).empty()) << "numbers compare by value";
}

TEST(Diff, AddedRemovedAndChangedKeys) {
  json a = {{"data", {{"a", "1"}, {"b", "2"}}}};
  json b = {{"data", {{"b", "3"}, {"c", "4"}}}};
  EXPECT_EQ(paths(diff(a, b)), (std::vector<std::string>{"data.a was removed", "data.b was changed",
                                                         "data.c was added"}));
}

TEST(Diff, AMappingAddedWholeIsReportedKeyByKey) {
  json a = {{"metadata", {{"name", "x"}}}};
  json b = {
      {"metadata", {{"name", "x"}, {"annotations", {{"deployment.kubernetes.io/revision", "1"}}}}}};
  EXPECT_EQ(paths(diff(a, b)),
            (std::vector<std::string>{
                "metadata.annotations[\"deployment.kubernetes.io/revision\"] was added"}));
}

TEST(Diff, ListsOfTheSameLengthByElementOtherwiseAsAWhole) {
  json a = {{"c", {{{"name", "web"}, {"image", "a"}}}}};
  json b = {{"c", {{{"name", "web"}, {"image", "b"}}}}};
  EXPECT_EQ(paths(diff(a, b)), (std::vector<std::string>{"c[0].image was changed"}));
  json c = {{"c", {{{"name", "web"}, {"image", "a"}}, {{"name", "side"}}}}};
  EXPECT_EQ(paths(diff(a, c)), (std::vector<std::string>{"c was changed"}));
}

TEST(Diff, WhatTheApiserverWritesIsNotAChange) {
  json a = {{"metadata", {{"resourceVersion", "1"}, {"generation", 1}}}, {"status", {{"x", 1}}}};
  json b = {{"metadata", {{"resourceVersion", "2"}, {"generation", 2}, {"managedFields", {1}}}},
            {"status", {{"x", 2}}}};
  EXPECT_TRUE(diff(a, b).empty());
  // ... only at those places: a "status" key inside spec is a change.
  json c = {{"spec", {{"status", 1}}}};
  json d = {{"spec", {{"status", 2}}}};
  EXPECT_EQ(diff(c, d).size(), 1u);
}

TEST(Diff, TypeChangeAndNullAreChanges) {
  EXPECT_EQ(diff(json{{"a", 1}}, json{{"a", "1"}}).size(), 1u);
  EXPECT_EQ(diff(json{{"a", nullptr}}, json::object()).size(), 1u);
  EXPECT_EQ(diff(json::object(), json{{"a", json::object()}}).size(), 1u);
}

TEST(Diff, StopsAtMax) {
  json a = json::object(), b = json::object();
  for (int i = 0; i < 100; ++i) b["k" + std::to_string(i)] = i;
  EXPECT_EQ(diff(a, b, 5).size(), 5u);
}

TEST(PathPattern, CoversThePathAndWhatIsUnderIt) {
  auto p = PathPattern::parse("metadata.annotations[cairn.dev/rollback-to]");
  EXPECT_EQ(p.segments,
            (std::vector<std::string>{"metadata", "annotations", "cairn.dev/rollback-to"}));
  EXPECT_TRUE(p.covers({"metadata", "annotations", "cairn.dev/rollback-to"}));
  EXPECT_FALSE(p.covers({"metadata", "annotations", "cairn.dev/break-glass"}));
  EXPECT_FALSE(p.covers({"metadata", "annotations"}));
  auto secrets = PathPattern::parse("secrets");
  EXPECT_TRUE(secrets.covers({"secrets"}));
  EXPECT_TRUE(secrets.covers({"secrets", "[0]", "name"}));
  EXPECT_FALSE(secrets.covers({"spec"}));
}

TEST(PathPattern, KeyPatternsSkipListIndexesAndWildcardsMatchOneSegment) {
  auto image = PathPattern::parse("spec.template.spec.containers.image");
  EXPECT_TRUE(image.covers({"spec", "template", "spec", "containers", "[1]", "image"}));
  EXPECT_FALSE(image.covers({"spec", "template", "spec", "containers", "[1]", "command"}));
  auto any = PathPattern::parse("metadata.*.team");
  EXPECT_TRUE(any.covers({"metadata", "labels", "team"}));
  EXPECT_FALSE(any.covers({"metadata", "labels", "owner"}));
  auto idx = PathPattern::parse("spec.ports[*].nodePort");
  EXPECT_TRUE(idx.covers({"spec", "ports", "[0]", "nodePort"}));
  auto rest = PathPattern::parse("spec.**");
  EXPECT_TRUE(rest.covers({"spec"}));
  EXPECT_TRUE(rest.covers({"spec", "a", "[2]"}));
}

TEST(Change, QuotesKeysThatAreNotIdentifiersAndNeverValues) {
  Change c{{"metadata", "annotations", "a.b/c\"d"}, Change::What::kAdded};
  EXPECT_EQ(c.to_string(), "metadata.annotations[\"a.b/c?d\"]");
}

}  // namespace
}  // namespace cairn::manifest
