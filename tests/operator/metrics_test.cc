// The stalled gauge behind the chart's CairnResourceStalled alert.
#include "operator/metrics.h"

#include <gtest/gtest.h>

#include <memory>

namespace cairn::metrics {
namespace {

using kube::json;

kube::ObjectPtr object(const std::string& ns, const std::string& name, const std::string& stalled) {
  json o = {{"metadata", {{"namespace", ns}, {"name", name}, {"uid", ns + "/" + name}}}};
  if (!stalled.empty())
    o["status"]["conditions"] = json::array(
        {{{"type", "Ready"}, {"status", "False"}}, {{"type", "Stalled"}, {"status", stalled}}});
  return std::make_shared<const json>(std::move(o));
}

TEST(StalledGauge, OnlyObjectsWhoseStalledConditionIsTrue) {
  kube::Store store;
  store.upsert(object("shop", "web", "True"));
  store.upsert(object("shop", "api", "False"));
  store.upsert(object("shop", "db", ""));
  store.upsert(std::make_shared<const json>(json{{"metadata", {{"name", "x"}}}, {"status", 1}}));
  auto s = stalled_objects(store);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], (std::pair<std::string, std::string>{"shop", "web"}));
}

TEST(StalledGauge, SeriesComeAndGoWithTheCondition) {
  OperatorMetrics m;
  m.stalled("Release", {{"shop", "web"}, {"shop", "api"}});
  std::string text = m.render();
  EXPECT_NE(text.find(R"(cairn_resource_stalled{kind="Release",name="web",namespace="shop"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(name="api")"), std::string::npos);
  m.stalled("Release", {{"shop", "api"}});
  text = m.render();
  EXPECT_EQ(text.find(R"(name="web")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(cairn_resource_stalled{kind="Release",name="api",namespace="shop"} 1)"),
            std::string::npos);
}

}  // namespace
}  // namespace cairn::metrics
