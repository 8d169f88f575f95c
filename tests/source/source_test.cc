#include "source/source.h"

#include <gtest/gtest.h>

namespace cairn::source {
namespace {

// A repository that counts fetches and fails them on request.
class FakeSource : public git::Source {
 public:
  int fetches = 0;
  bool fail = false;
  const std::string& url() const override { return url_; }
  git::Result<void> fetch(const git::FetchOptions&) override {
    fetches++;
    if (fail) return git::fail(git::Code::kAuth, "authentication failed");
    return {};
  }
  git::Result<std::string> resolve(const git::Ref&) override { return std::string(40, 'a'); }
  git::Result<git::CommitInfo> commit(const std::string&) override { return git::CommitInfo{}; }
  git::Result<std::vector<git::File>> files(const std::string&, const std::string&,
                                            const std::function<bool(std::string_view)>&,
                                            const git::ReadLimits&) override {
    return std::vector<git::File>{};
  }
  git::Result<bool> is_ancestor(const std::string&, const std::string&) override { return true; }
  git::Result<bool> reachable_from(const std::string&, const git::Ref&) override { return true; }
  git::Result<git::SignatureCheck> verify_signature(const std::string&,
                                                    const std::vector<std::string>&) override {
    return git::SignatureCheck{};
  }
  std::chrono::system_clock::time_point last_fetch() const override { return {}; }

 private:
  std::string url_ = "https://git.example.com/app.git";
};

std::unique_ptr<kube::Client> offline_client() {
  kube::Config cfg;
  cfg.server = "https://127.0.0.1:1";  // never contacted: no secretRef below
  return std::move(*kube::Client::create(cfg));
}

TEST(Tracker, FetchesWhenDueOrPushedOrForced) {
  auto client = offline_client();
  Tracker t(*client, std::chrono::seconds(5), std::chrono::seconds(5));
  FakeSource src;
  api::SourceSpec spec;
  spec.interval = std::chrono::hours(1);
  auto first = t.fetch_if_due("ns/a", "ns", spec, src);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->fetched) << "never fetched: due";
  auto second = t.fetch_if_due("ns/a", "ns", spec, src);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->fetched) << "within the interval";
  t.request("ns/a");
  auto pushed = t.fetch_if_due("ns/a", "ns", spec, src);
  ASSERT_TRUE(pushed);
  EXPECT_TRUE(pushed->fetched);
  EXPECT_TRUE(pushed->pushed);
  EXPECT_TRUE(t.fetch_if_due("ns/a", "ns", spec, src, /*force=*/true)->fetched);
  EXPECT_EQ(src.fetches, 3);
  t.forget("ns/a");
  EXPECT_TRUE(t.fetch_if_due("ns/a", "ns", spec, src, true)->fetched) << "forgotten: due again";
}

TEST(Tracker, AFetchMomentsAgoWithTheSameCredentialsIsShared) {
  auto client = offline_client();
  Tracker t(*client, std::chrono::seconds(5), std::chrono::seconds(5));
  FakeSource src;
  api::SourceSpec spec;
  ASSERT_TRUE(t.fetch_if_due("ns/a", "ns", spec, src)->fetched);
  // Another resource of the same repository, no credentials either: served.
  auto b = t.fetch_if_due("ns/b", "ns", spec, src);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->fetched);
  EXPECT_EQ(src.fetches, 1);
  // ... and then within its own interval.
  EXPECT_FALSE(t.fetch_if_due("ns/b", "ns", spec, src)->fetched);
  // A push for it still fetches.
  t.request("ns/b");
  EXPECT_TRUE(t.fetch_if_due("ns/b", "ns", spec, src)->fetched);
  EXPECT_EQ(src.fetches, 2);
}

TEST(Tracker, FailuresBackOffExponentiallyAndResetOnSuccess) {
  auto client = offline_client();
  Tracker t(*client, std::chrono::seconds(5), std::chrono::seconds(5));
  FakeSource src;
  src.fail = true;
  api::SourceSpec spec;
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) {
    auto r = t.fetch_if_due("ns/a", "ns", spec, src);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "AuthenticationFailed");
    EXPECT_NE(r.error().message.find("https://git.example.com/app.git"), std::string::npos);
    delays.push_back(
        std::chrono::duration_cast<std::chrono::seconds>(r.error().retry_after).count());
  }
  EXPECT_EQ(delays[0], 1);
  EXPECT_EQ(delays[1], 2);
  EXPECT_EQ(delays[2], 4);
  EXPECT_EQ(delays.back(), 256) << "doubling stops";
  src.fail = false;
  ASSERT_TRUE(t.fetch_if_due("ns/a", "ns", spec, src, true));
  src.fail = true;
  auto again = t.fetch_if_due("ns/a", "ns", spec, src, true);
  EXPECT_EQ(again.error().retry_after, std::chrono::seconds(1)) << "a success resets the backoff";
}

}  // namespace
}  // namespace cairn::source
