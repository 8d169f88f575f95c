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

// A steady clock that moves only when told.
struct FakeClock {
  Tracker::Clock::time_point t{std::chrono::hours(1)};
  std::function<Tracker::Clock::time_point()> fn() {
    return [this] { return t; };
  }
};

TEST(Tracker, FailuresBackOffExponentiallyAndResetOnSuccess) {
  auto client = offline_client();
  FakeClock clock;
  Tracker t(*client, std::chrono::seconds(5), std::chrono::seconds(5), clock.fn());
  FakeSource src;
  src.fail = true;
  api::SourceSpec spec;
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) {
    auto r = t.fetch_if_due("ns/a", "ns", spec, src);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().attempted);
    EXPECT_EQ(r.error().reason, "AuthenticationFailed");
    EXPECT_NE(r.error().message.find("https://git.example.com/app.git"), std::string::npos);
    delays.push_back(
        std::chrono::duration_cast<std::chrono::seconds>(r.error().retry_after).count());
    clock.t += r.error().retry_after;
  }
  EXPECT_EQ(src.fetches, 12);
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

TEST(Tracker, ReconcilesWithinTheBackoffDoNotFetchAgain) {
  // A Release is woken by every change of its Deployment, a Pipeline by its
  // Jobs and Pods: while the git server is down, none of that may turn into
  // fetch attempts faster than the backoff.
  auto client = offline_client();
  FakeClock clock;
  Tracker t(*client, std::chrono::seconds(5), std::chrono::seconds(5), clock.fn());
  FakeSource src;
  src.fail = true;
  api::SourceSpec spec;
  spec.interval = std::chrono::seconds(0);  // due at every call were it not for the backoff
  ASSERT_FALSE(t.fetch_if_due("ns/a", "ns", spec, src));  // 1st failure: 1 s
  clock.t += std::chrono::seconds(1);
  auto second = t.fetch_if_due("ns/a", "ns", spec, src);  // 2nd failure: 2 s
  ASSERT_FALSE(second);
  EXPECT_EQ(src.fetches, 2);
  for (int i = 0; i < 50; ++i) {
    clock.t += std::chrono::milliseconds(30);
    auto r = t.fetch_if_due("ns/a", "ns", spec, src, /*force=*/i % 2 == 0);
    ASSERT_FALSE(r);
    EXPECT_FALSE(r.error().attempted) << "the earlier failure, not a new attempt";
    EXPECT_EQ(r.error().message, second.error().message);
    EXPECT_EQ(r.error().retry_after, std::chrono::milliseconds(2000 - 30 * (i + 1)))
        << "the time left, so that the requeue lands when the backoff ends";
  }
  EXPECT_EQ(src.fetches, 2) << "50 reconciles within the backoff fetched nothing";
  clock.t += std::chrono::milliseconds(500);
  auto third = t.fetch_if_due("ns/a", "ns", spec, src);
  EXPECT_TRUE(third.error().attempted);
  EXPECT_EQ(src.fetches, 3) << "the backoff is over: tried again";
  EXPECT_EQ(third.error().retry_after, std::chrono::seconds(4));
  // A push is a reason to try at once.
  t.request("ns/a");
  EXPECT_TRUE(t.fetch_if_due("ns/a", "ns", spec, src).error().attempted);
  EXPECT_EQ(src.fetches, 4);
  // Another resource of the same repository has a backoff of its own.
  EXPECT_TRUE(t.fetch_if_due("ns/b", "ns", spec, src).error().attempted);
  EXPECT_EQ(src.fetches, 5);
}

TEST(Tracker, AChangedSourceIsTriedAtOnceDespiteTheBackoff) {
  // Someone fixes a wrong URL or branch after a few failures: the fix is
  // tried at its next reconcile, not minutes later, and starts a backoff of
  // its own.
  auto client = offline_client();
  FakeClock clock;
  Tracker t(*client, std::chrono::seconds(5), std::chrono::seconds(5), clock.fn());
  FakeSource src;
  src.fail = true;
  api::SourceSpec spec;
  spec.url = "https://git.example.com/wrong.git";
  spec.branch = "main";
  for (int i = 0; i < 5; ++i) {
    auto r = t.fetch_if_due("ns/a", "ns", spec, src);
    ASSERT_FALSE(r);
    clock.t += r.error().retry_after;
  }
  auto held = t.fetch_if_due("ns/a", "ns", spec, src, true);
  ASSERT_FALSE(held);
  ASSERT_TRUE(held.error().attempted);
  EXPECT_EQ(held.error().retry_after, std::chrono::seconds(32));
  EXPECT_FALSE(t.fetch_if_due("ns/a", "ns", spec, src, true).error().attempted)
      << "same source, within the backoff: not tried";
  const int before = src.fetches;
  spec.branch = "release";
  auto changed = t.fetch_if_due("ns/a", "ns", spec, src, true);
  EXPECT_EQ(src.fetches, before + 1) << "a changed ref is fetched at once";
  EXPECT_EQ(changed.error().retry_after, std::chrono::seconds(1)) << "with a backoff of its own";
  spec.url = "https://git.example.com/app.git";
  EXPECT_TRUE(t.fetch_if_due("ns/a", "ns", spec, src, true).error().attempted)
      << "so is a changed URL";
  src.fail = false;
  EXPECT_FALSE(t.fetch_if_due("ns/a", "ns", spec, src, true)) << "its own backoff holds";
  clock.t += std::chrono::seconds(1);
  EXPECT_TRUE(t.fetch_if_due("ns/a", "ns", spec, src, true));
}

TEST(Tracker, TimeoutsAndUnreachableServersSayWhatToDo) {
  auto client = offline_client();
  FakeClock clock;
  Tracker t(*client, std::chrono::seconds(5), std::chrono::seconds(5), clock.fn());
  struct Fails : FakeSource {
    git::Error next;
    git::Result<void> fetch(const git::FetchOptions&) override { return std::unexpected(next); }
  } src;
  api::SourceSpec spec;
  src.next = {git::Code::kTimeout,
              "the fetch of https://git.example.com/app.git made no progress for 30s (stall "
              "timeout): the server accepted the connection but stopped sending"};
  auto r = t.fetch_if_due("ns/a", "ns", spec, src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, "FetchTimedOut");
  EXPECT_EQ(r.error().message.find("fetching https://git.example.com/app.git: the fetch"),
            std::string::npos)
      << "the URL is not said twice: " << r.error().message;
  EXPECT_NE(r.error().message.find("--git-stall-timeout"), std::string::npos) << r.error().message;
  src.next = {git::Code::kUnreachable, "cannot connect to 127.0.0.1 port 1: Connection refused"};
  auto u = t.fetch_if_due("ns/b", "ns", spec, src);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().reason, "FetchFailed");
  EXPECT_NE(u.error().message.find("fetching https://git.example.com/app.git: cannot connect"),
            std::string::npos)
      << u.error().message;
  EXPECT_NE(u.error().message.find("check that the git server is up"), std::string::npos)
      << u.error().message;
}

}  // namespace
}  // namespace cairn::source
