#include "objdiff.h"

#include <gtest/gtest.h>

namespace cairn::cli {
namespace {

using json = cairn::json;

json deployment(const std::string& image) {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"shop","uid":"u1","resourceVersion":"42","generation":3,
      "creationTimestamp":"2026-01-01T00:00:00Z","managedFields":[{"manager":"cairn"}]},
    "spec":{"template":{"spec":{"containers":[{"name":"web","image":")" +
                     image + R"("}]}}},
    "status":{"replicas":1}})");
}

TEST(ObjDiff, ServerFieldsAreNoise) {
  json live = deployment("web:1");
  json would = deployment("web:1");
  would["metadata"]["resourceVersion"] = "43";
  would["metadata"]["managedFields"] = json::array();
  would["status"]["replicas"] = 3;
  EXPECT_EQ(object_diff(&live, &would), "");
  const json clean = without_server_fields(live);
  for (const char* k :
       {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"})
    EXPECT_FALSE(clean["metadata"].contains(k)) << k;
  EXPECT_FALSE(clean.contains("status"));
}

TEST(ObjDiff, ImageChangeIsOneLine) {
  json live = deployment("web:1"), would = deployment("web:2");
  const std::string d = object_diff(&live, &would);
  EXPECT_EQ(d.rfind("--- live/Deployment/shop/web\n+++ cairn/Deployment/shop/web\n@@ ", 0), 0u)
      << d;
  EXPECT_NE(d.find("\n-      - image: web:1\n+      - image: web:2\n"), std::string::npos) << d;
}

TEST(ObjDiff, NewAndPrunedObjects) {
  json obj = deployment("web:1");
  const std::string added = object_diff(nullptr, &obj);
  EXPECT_NE(added.find("@@ -0,0 +1,"), std::string::npos) << added;
  EXPECT_NE(added.find("+kind: Deployment\n"), std::string::npos) << added;
  const std::string pruned = object_diff(&obj, nullptr);
  EXPECT_NE(pruned.find(" +0,0 @@"), std::string::npos) << pruned;
  EXPECT_NE(pruned.find("-kind: Deployment\n"), std::string::npos) << pruned;
}

TEST(ObjDiff, ClusterScopedLabelHasNoNamespace) {
  EXPECT_EQ(object_label(json{{"kind", "ClusterRole"}, {"metadata", {{"name", "view"}}}}),
            "ClusterRole/view");
}

json secret(json data) {
  return json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", "db"}, {"namespace", "shop"}}},
              {"data", std::move(data)}};
}

TEST(ObjDiff, SecretValuesAreNeverPrinted) {
  // "c2VjcmV0MQ==" is "secret1" (7 bytes); "c2VjcmV0Mg==" is "secret2".
  json live = secret({{"same", "c2VjcmV0MQ=="}, {"changed", "c2VjcmV0MQ=="}, {"gone", "YQ=="}});
  json would = secret({{"same", "c2VjcmV0MQ=="}, {"changed", "c2VjcmV0Mg=="}, {"new", "YWJj"}});
  live["metadata"]["annotations"] = {
      {"kubectl.kubernetes.io/last-applied-configuration", R"({"data":{"same":"c2VjcmV0MQ=="}})"}};
  const std::string d = object_diff(&live, &would);
  EXPECT_EQ(d.find("c2VjcmV0"), std::string::npos) << d;
  EXPECT_EQ(d.find("YWJj"), std::string::npos) << d;
  EXPECT_NE(d.find("-  changed: \"<redacted: 7 bytes (before)>\""), std::string::npos) << d;
  EXPECT_NE(d.find("+  changed: \"<redacted: 7 bytes (after)>\""), std::string::npos) << d;
  EXPECT_NE(d.find("-  gone: \"<redacted: 1 bytes>\""), std::string::npos) << d;
  EXPECT_NE(d.find("+  new: \"<redacted: 3 bytes>\""), std::string::npos) << d;
  EXPECT_NE(d.find("   same: \"<redacted: 7 bytes>\""), std::string::npos) << d;
  EXPECT_NE(d.find("<redacted>"), std::string::npos) << d;

  // Equal Secrets: no diff at all.
  json again = live;
  again["metadata"].erase("annotations");
  json same = again;
  EXPECT_EQ(object_diff(&again, &same), "");
}

TEST(ObjDiff, OtherKindsAreNotRedacted) {
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "c"}, {"namespace", "shop"}}},
             {"data", {{"k", "v1"}}}};
  json cm2 = cm;
  cm2["data"]["k"] = "v2";
  const std::string d = object_diff(&cm, &cm2);
  EXPECT_NE(d.find("-  k: v1\n+  k: v2\n"), std::string::npos) << d;
}

}  // namespace
}  // namespace cairn::cli
