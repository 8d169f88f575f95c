// The git source of a Pipeline or Release: when to fetch it (interval, push
// requests, backoff after failures), the credentials from its Secret, and
// what a failure is called in a condition. Shared by both reconcilers.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/types.h"
#include "git/git.h"
#include "kube/client.h"

namespace cairn::source {

std::string now_s();  // metav1.Time of now
using git::short_sha;
// The git ref spec.source tracks: its branch, tag or commit. Inline: the
// webhook's policy (and its fuzz build) use it without the rest of lib/source.
inline git::Ref ref_of(const api::SourceSpec& s) {
  if (!s.branch.empty()) return {git::RefKind::kBranch, s.branch};
  if (!s.tag.empty()) return {git::RefKind::kTag, s.tag};
  return {git::RefKind::kCommit, s.commit};
}

// Where mirrors come from (git::Cache in production, a fake in tests).
class SourceProvider {
 public:
  virtual ~SourceProvider() = default;
  virtual std::shared_ptr<git::Source> source(const std::string& url) = 0;
};

// Why the source is unusable: a condition reason, a message that names the
// problem and the fix, and when to look again.
struct Failure {
  std::string reason;
  std::string message;
  std::chrono::milliseconds retry_after{0};
  // False when this is the failure of an earlier attempt, returned again
  // because its backoff is not over: nothing new to report (no Event).
  bool attempted = true;
};

// The git credentials of spec.secretRef in `ns` (none without one).
std::expected<git::Credentials, Failure> read_credentials(kube::Api& client, const std::string& ns,
                                                          const api::SourceSpec& spec);

// Trusted public keys from spec.verify.signersSecretRef in `ns`: every data
// value of the Secret (each may hold several OpenSSH key lines or armored
// OpenPGP blocks).
std::expected<std::vector<std::string>, Failure> read_signers(kube::Api& client,
                                                              const std::string& ns,
                                                              const api::SourceSpec& spec);

// Called after every fetch a Tracker makes (repository URL without
// credentials, success, seconds), for metrics. Set once at startup.
using FetchObserver = std::function<void(const std::string& url, bool ok, double seconds)>;
void set_fetch_observer(FetchObserver fn);

class Tracker {
 public:
  using Clock = std::chrono::steady_clock;
  // `now` replaces the steady clock (tests).
  Tracker(kube::Api& client, std::chrono::seconds fetch_timeout, std::chrono::seconds stall_timeout,
          std::function<Clock::time_point()> now = {});

  // A push hook named this resource: fetch at its next reconcile.
  void request(const std::string& key);
  // The resource is gone.
  void forget(const std::string& key);

  struct Fetch {
    bool fetched = false;  // a fetch ran in this call
    bool pushed = false;   // ... because a push asked for it
  };
  // Fetches `source` when the interval has passed since the last fetch, a
  // push asked for it, or `force`; with the credentials of spec.secretRef
  // in `ns`. Failures back off 1 s, 2 s, 4 s ... up to 5 minutes, however
  // often the resource is reconciled meanwhile (a Deployment or Job that
  // changes wakes it): until the backoff is over, the last failure is
  // returned again, with the time left, and nothing is fetched. Only a push
  // tries again sooner.
  std::expected<Fetch, Failure> fetch_if_due(const std::string& key, const std::string& ns,
                                             const api::SourceSpec& spec, git::Source& source,
                                             bool force = false);

 private:
  std::expected<git::Credentials, Failure> credentials(const std::string& ns,
                                                       const api::SourceSpec& spec);
  // Records a failure of `key` and returns it with its backoff.
  // `tried` says what was fetched (see attempt()).
  Failure failed(const std::string& key, const std::string& tried, Failure f);
  // The repository, ref and credentials a fetch used: a backoff holds only
  // while they stay the same (a fixed spec is tried at once).
  static std::string attempt(const std::string& ns, const api::SourceSpec& spec);

  kube::Api& client_;
  std::chrono::seconds fetch_timeout_, stall_timeout_;
  std::function<Clock::time_point()> now_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point> fetched_at_;  // guarded by mu_
  std::set<std::string> pushed_;                         // guarded by mu_
  struct Backoff {
    int failures = 0;
    Clock::time_point retry_at;
    Failure last;
    std::string tried;  // attempt() of the failed fetch
  };
  std::map<std::string, Backoff> backoff_;  // guarded by mu_
  // Last successful fetch per repository, and whose credentials it used.
  static constexpr std::chrono::seconds kShareFetchFor{2};
  static std::string identity(const std::string& ns, const api::SourceSpec& spec);
  std::map<std::string, std::pair<Clock::time_point, std::string>> recent_;  // guarded by mu_
};

}  // namespace cairn::source
