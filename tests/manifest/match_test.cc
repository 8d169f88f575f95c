#include "manifest/match.h"

#include <gtest/gtest.h>

namespace cairn::manifest {
namespace {

using json = cairn::json;

TEST(Match, ServerDefaultsAndExtraFieldsPass) {
  json want = {{"spec", {{"replicas", 2}, {"template", {{"containers", {{{"name", "a"}}}}}}}}};
  json got = {{"spec",
               {{"replicas", 2},
                {"strategy", "RollingUpdate"},
                {"template", {{"containers", {{{"name", "a"}, {"imagePullPolicy", "Always"}}}}}}}},
              {"status", {{"ready", 1}}}};
  EXPECT_FALSE(first_difference(want, got));
}

TEST(Match, ChangedValueNamesThePath) {
  json want = {{"spec", {{"containers", {{{"name", "a"}, {"image", "x:1"}}}}}}};
  json got = {{"spec", {{"containers", {{{"name", "a"}, {"image", "x:2"}}}}}}};
  auto d = first_difference(want, got);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path, "spec.containers[0].image");
  EXPECT_EQ(d->to_string().find("x:2"), std::string::npos);
}

TEST(Match, AnAddedListItemIsADifference) {
  json want = {{"env", {{{"name", "A"}, {"value", "1"}}}}};
  json got = {{"env", {{{"name", "A"}, {"value", "1"}}, {{"name", "B"}, {"value", "2"}}}}};
  auto d = first_difference(want, got);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path, "env");
  EXPECT_NE(d->what.find("2 items"), std::string::npos);
}

TEST(Match, MissingFieldAndEmptyValues) {
  EXPECT_TRUE(first_difference(json{{"a", 1}}, json::object()));
  EXPECT_FALSE(first_difference(json{{"a", json::object()}, {"b", json::array()}, {"c", nullptr}},
                                json::object()));
}

TEST(Match, NumbersByValueAndQuantitiesByAmount) {
  EXPECT_FALSE(first_difference(json{{"n", 1}}, json{{"n", 1.0}}));
  EXPECT_TRUE(first_difference(json{{"n", 1}}, json{{"n", "1"}}));
  json want = {{"resources", {{"limits", {{"cpu", "0.5"}, {"memory", "1Gi"}}}}}};
  json got = {{"resources", {{"limits", {{"cpu", "500m"}, {"memory", "1024Mi"}}}}}};
  EXPECT_FALSE(first_difference(want, got));
  got["resources"]["limits"]["cpu"] = "600m";
  EXPECT_TRUE(first_difference(want, got));
  // Outside resource maps, strings compare exactly.
  EXPECT_TRUE(first_difference(json{{"value", "0.5"}}, json{{"value", "500m"}}));
}

TEST(Match, IgnoredPaths) {
  json want = {{"spec", {{"replicas", 2}}}};
  json got = {{"spec", {{"replicas", 5}}}};
  EXPECT_TRUE(first_difference(want, got));
  EXPECT_FALSE(first_difference(want, got, {"spec.replicas"}));
}

TEST(Quantity, Parses) {
  EXPECT_EQ(parse_quantity("500m"), 0.5L);
  EXPECT_EQ(parse_quantity("2Ki"), 2048.0L);
  EXPECT_EQ(parse_quantity("1e3"), 1000.0L);
  EXPECT_EQ(parse_quantity("1.5k"), 1500.0L);
  EXPECT_EQ(parse_quantity("250u"), 0.00025L);
  EXPECT_EQ(parse_quantity("5e-1"), 0.5L);
  EXPECT_FALSE(parse_quantity("abc"));
  EXPECT_FALSE(parse_quantity("1Qi"));
  EXPECT_FALSE(parse_quantity(""));
}

}  // namespace
}  // namespace cairn::manifest
