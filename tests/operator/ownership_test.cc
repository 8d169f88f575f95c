#include "operator/release/ownership.h"

#include <gtest/gtest.h>

namespace cairn::release {
namespace {

using json = cairn::json;

json entry(const std::string& manager, const std::string& op, json fields) {
  return {{"manager", manager},
          {"operation", op},
          {"apiVersion", "apps/v1"},
          {"fieldsType", "FieldsV1"},
          {"fieldsV1", std::move(fields)}};
}

json live(json entries) {
  return {{"apiVersion", "apps/v1"}, {"metadata", {{"managedFields", std::move(entries)}}}};
}

const json kEnv = {
    {"f:spec",
     {{"f:template",
       {{"f:spec",
         {{"f:containers",
           {{"k:{\"name\":\"web\"}",
             {{"f:env", {{"k:{\"name\":\"EXTRA\"}", {{".", json::object()}}}}}}}}}}}}}}}};

TEST(Ownership, ForeignFieldsLeaveOutCairnTheClusterStatusAndIgnoredPaths) {
  json l = live(json::array(
      {entry("cairn", "Apply", {{"f:spec", {{"f:replicas", json::object()}}}}),
       entry("kube-controller-manager", "Update",
             {{"f:metadata", {{"f:annotations", {{"f:deployment.kubernetes.io/revision", {}}}}}}}),
       entry("kubectl-edit", "Update",
             {{"f:status", {{"f:x", json::object()}}},
              {"f:spec", {{"f:replicas", json::object()}}}})}));
  EXPECT_TRUE(foreign_fields(l, "cairn", {"spec.replicas"}).empty());
  auto f = foreign_fields(l, "cairn", {});
  EXPECT_EQ(f.managers, std::vector<std::string>{"kubectl-edit"});
  EXPECT_EQ(f.fields, (json{{"f:spec", {{"f:replicas", json::object()}}}}));
}

TEST(Ownership, TakeOverMovesForeignFieldsIntoCairnsApplyEntry) {
  json l = live(json::array(
      {entry("cairn", "Apply", {{"f:spec", {{"f:replicas", json::object()}}}}),
       entry("kubectl-edit", "Update", kEnv),
       entry("hpa", "Update",
             {{"f:spec", {{"f:replicas", json::object()}}}, {"f:status", json::object()}})}));
  json out = take_ownership(l, "cairn", {"spec.replicas"}, {});
  ASSERT_EQ(out.size(), 2u) << out.dump();
  EXPECT_EQ(out[0]["manager"], "cairn");
  json want = kEnv;
  want["f:spec"]["f:replicas"] = json::object();
  EXPECT_EQ(out[0]["fieldsV1"], want);
  // The autoscaler keeps spec.replicas (ignored) and its status.
  EXPECT_EQ(out[1]["manager"], "hpa");
  EXPECT_EQ(out[1]["fieldsV1"],
            (json{{"f:status", json::object()}, {"f:spec", {{"f:replicas", json::object()}}}}));
}

TEST(Ownership, TakeOverAddsAnApplyEntryWhenCairnHasNone) {
  json out =
      take_ownership(live(json::array({entry("kubectl-create", "Update", kEnv)})), "cairn", {}, {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["manager"], "cairn");
  EXPECT_EQ(out[0]["operation"], "Apply");
  EXPECT_EQ(out[0]["apiVersion"], "apps/v1");
  EXPECT_EQ(out[0]["fieldsV1"], kEnv);
}

}  // namespace
}  // namespace cairn::release
