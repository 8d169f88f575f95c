#include "operator/notify/notifier.h"

#include <gtest/gtest.h>

namespace cairn::notify {
namespace {

TEST(Notify, PayloadIsSlackTextPlusFields) {
  Notice n{.kind = "Release",
           .ns = "shop",
           .name = "web",
           .event = api::NotifyEvent::kRolledBack,
           .commit = "0123456789abcdef0123456789abcdef01234567",
           .author = "Ada",
           .title = "B: bad",
           .result = "RolledBack",
           .reason = "not healthy; rolled back to 89abcdef"};
  auto j = cairn::json::parse(payload(n));
  EXPECT_EQ(j["event"], "RolledBack");
  EXPECT_EQ(j["resource"]["kind"], "Release");
  EXPECT_EQ(j["resource"]["namespace"], "shop");
  EXPECT_EQ(j["commit"], n.commit);
  EXPECT_EQ(j["author"], "Ada");
  const std::string text = j["text"];
  EXPECT_NE(text.find("Release shop/web rolled back commit 01234567 \"B: bad\" by Ada"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rolled back to 89abcdef"), std::string::npos) << text;
}

TEST(Notify, PayloadLinksTheCommitWithoutCredentials) {
  Notice n{.kind = "Pipeline",
           .ns = "shop",
           .name = "ci",
           .event = api::NotifyEvent::kRunFailed,
           .commit = "0123456789abcdef0123456789abcdef01234567",
           .source = "https://ci-bot:s3cr3t@git.example.com/shop/app.git"};
  const std::string body = payload(n);
  EXPECT_EQ(body.find("s3cr3t"), std::string::npos) << body;
  auto j = cairn::json::parse(body);
  EXPECT_EQ(j["links"]["repository"], "https://git.example.com/shop/app");
  EXPECT_EQ(j["links"]["commit"],
            "https://git.example.com/shop/app/commit/0123456789abcdef0123456789abcdef01234567");
  n.source = "git://127.0.0.1/app.git";  // no web address to link to
  j = cairn::json::parse(payload(n));
  EXPECT_FALSE(j.contains("links"));
  EXPECT_EQ(j["source"], "git://127.0.0.1/app.git");
}

TEST(Notify, EndpointsShowOnlySchemeAndHost) {
  EXPECT_EQ(endpoint_of("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com");
  EXPECT_EQ(endpoint_of("https://user:pw@example.com:8443/x?token=1"), "https://example.com:8443");
  EXPECT_EQ(endpoint_of("nonsense"), "(not a URL)");
}

TEST(Notify, TargetsGetOnlyTheEventsTheyWant) {
  api::NotifySpec all{.url = "https://a"};
  api::NotifySpec some{.url = "https://b", .events = {api::NotifyEvent::kFailed}};
  EXPECT_TRUE(all.wants(api::NotifyEvent::kDeployed));
  EXPECT_FALSE(some.wants(api::NotifyEvent::kDeployed));
  EXPECT_TRUE(some.wants(api::NotifyEvent::kFailed));
}

}  // namespace
}  // namespace cairn::notify
