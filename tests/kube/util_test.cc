#include "kube/util.h"

#include <gtest/gtest.h>

namespace cairn::kube {
namespace {

TEST(ParseWithoutManagedFields, LeavesOutOnlyMetadataManagedFields) {
  const std::string list = R"({
    "kind": "ConfigMapList", "metadata": {"resourceVersion": "7"},
    "items": [
      {"metadata": {"name": "a", "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {}}}]},
       "data": {"managedFields": "a key of the data: kept"}},
      {"metadata": {"name": "b", "labels": {"managedFields": "kept"}},
       "spec": {"template": {"metadata": {"managedFields": [1]}}},
       "list": [{"managedFields": "an array element's key: kept"}]}
    ]})";
  auto j = parse_without_managed_fields(list);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["metadata"]["resourceVersion"], "7");
  const auto& a = j["items"][0];
  EXPECT_EQ(a["metadata"]["name"], "a");
  EXPECT_FALSE(a["metadata"].contains("managedFields"));
  EXPECT_EQ(a["data"]["managedFields"], "a key of the data: kept");
  const auto& b = j["items"][1];
  EXPECT_EQ(b["metadata"]["labels"]["managedFields"], "kept");
  EXPECT_FALSE(b["spec"]["template"]["metadata"].contains("managedFields"));
  EXPECT_EQ(b["list"][0]["managedFields"], "an array element's key: kept");

  // A watch event, as the informer reads it.
  auto ev = parse_without_managed_fields(
      R"({"type":"ADDED","object":{"metadata":{"name":"c","managedFields":[]},"data":{}}})");
  EXPECT_EQ(ev["object"]["metadata"]["name"], "c");
  EXPECT_FALSE(ev["object"]["metadata"].contains("managedFields"));

  EXPECT_TRUE(parse_without_managed_fields(R"({"metadata": {"managedFields": [)").is_discarded());
}

}  // namespace
}  // namespace cairn::kube
