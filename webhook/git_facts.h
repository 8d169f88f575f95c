// What the webhook asks git about a commit, and the cache of the answers
// that cannot change: a commit exists (objects are immutable), is an
// ancestor of another, is signed by a set of keys. Refs change only when the
// mirror fetches, so a ref is read from disk only after a fetch. An unknown
// commit triggers one bounded fetch, at most one per repository per
// min_fetch_interval.
#pragma once

#include <chrono>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/types.h"
#include "git/git.h"

namespace cairn::webhook {

struct ReleaseInfo;

// The git side: a mirror per repository, and one bounded fetch with the
// Release's credentials.
class GitView {
 public:
  virtual ~GitView() = default;
  virtual std::shared_ptr<git::Source> source(const std::string& url) = 0;
  virtual std::expected<void, std::string> fetch(const ReleaseInfo& r, git::Source& source) = 0;
};

class GitFacts {
 public:
  GitFacts(GitView& git, std::chrono::milliseconds min_fetch_interval);

  enum class Answer { kYes, kNo, kUnknown };  // kUnknown: git could not be read
  struct Result {
    Answer answer = Answer::kUnknown;
    std::string error;  // why git could not be read (kUnknown)
  };

  std::shared_ptr<git::Source> source(const std::string& url) { return git_.source(url); }
  // Whether `commit` exists in the Release's repository (fetching once when
  // it is not known yet).
  Result exists(const ReleaseInfo& rel, const std::string& commit);
  // Whether `commit` is reachable from the Release's ref (fetching once when
  // it is not, since the ref may have moved).
  Result on_ref(const ReleaseInfo& rel, const std::string& commit);
  // Whether `ancestor` is `descendant` or reachable from it.
  Result is_ancestor(const ReleaseInfo& rel, const std::string& ancestor,
                     const std::string& descendant);
  // Whether `commit` is signed by one of `keys`; the status name when not.
  std::expected<bool, std::string> signed_by(const ReleaseInfo& rel, const std::string& commit,
                                             const std::vector<std::string>& keys,
                                             std::string* status);
  uint64_t fetches() const;

 private:
  bool fetch_once(const ReleaseInfo& rel, git::Source& src,
                  std::chrono::steady_clock::time_point asked_at, std::string* error);
  std::optional<std::string> resolve_head(git::Source& src, const git::Ref& ref);

  GitView& git_;
  const std::chrono::milliseconds min_fetch_interval_;

  mutable std::mutex fetch_mu_;  // guards last_fetch_, fetches_ and fetch_locks_
  std::map<std::string, std::chrono::steady_clock::time_point> last_fetch_;  // by repository
  uint64_t fetches_ = 0;
  std::map<std::string, std::shared_ptr<std::mutex>> fetch_locks_;  // one fetch per repository

  std::mutex mu_;                                     // guards the caches below
  std::unordered_map<std::string, bool> ancestry_;    // "url commit head" -> is ancestor
  std::unordered_map<std::string, bool> signatures_;  // "url commit keys-hash" -> valid
  // "url ref" -> the commit it pointed to, and the mirror's last fetch when
  // it was read.
  std::unordered_map<std::string, std::pair<std::chrono::system_clock::time_point, std::string>>
      heads_;
  std::unordered_set<std::string> commits_;  // "url commit" known to exist
};

}  // namespace cairn::webhook
