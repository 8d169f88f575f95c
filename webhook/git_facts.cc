#include "webhook/git_facts.h"

#include <functional>
#include <thread>

#include "source/source.h"
#include "webhook/policy.h"

namespace cairn::webhook {

using Clock = std::chrono::steady_clock;

namespace {

std::string url_key(const ReleaseInfo& rel) { return git::normalize_url(rel.spec.source.url); }

template <typename Map>
void bound(Map& m, size_t max) {
  if (m.size() > max) m.clear();
}

}  // namespace

GitFacts::GitFacts(GitView& git, std::chrono::milliseconds min_fetch_interval)
    : git_(git), min_fetch_interval_(min_fetch_interval) {}

uint64_t GitFacts::fetches() const {
  std::lock_guard lock(fetch_mu_);
  return fetches_;
}

bool GitFacts::fetch_once(const ReleaseInfo& rel, git::Source& src, Clock::time_point asked_at,
                          std::string* error) {
  const std::string url = url_key(rel);
  std::shared_ptr<std::mutex> lock_of_url;
  {
    std::lock_guard lock(fetch_mu_);
    auto& m = fetch_locks_[url];
    if (!m) m = std::make_shared<std::mutex>();
    lock_of_url = m;
  }
  std::lock_guard one_at_a_time(*lock_of_url);
  Clock::time_point last{};
  {
    std::lock_guard lock(fetch_mu_);
    if (auto it = last_fetch_.find(url); it != last_fetch_.end()) last = it->second;
  }
  // A fetch that started after this request arrived has seen what this
  // request could see: no need for another.
  if (last >= asked_at) return true;
  // Unknown commits must not turn into a fetch storm: at most one fetch per
  // repository per min_fetch_interval.
  auto next = last + min_fetch_interval_;
  if (auto now = Clock::now(); last != Clock::time_point{} && now < next) {
    std::this_thread::sleep_for(next - now);
  }
  const auto started = Clock::now();
  auto res = git_.fetch(rel, src);
  std::lock_guard lock(fetch_mu_);
  ++fetches_;
  if (!res) {
    if (error) *error = res.error();
    return false;
  }
  last_fetch_[url] = started;
  return true;
}

std::optional<std::string> GitFacts::resolve_head(git::Source& src, const git::Ref& ref) {
  const auto fetched = src.last_fetch();
  const std::string key = git::normalize_url(src.url()) + " " + git::to_string(ref);
  {
    std::lock_guard lock(mu_);
    if (auto it = heads_.find(key); it != heads_.end() && it->second.first == fetched)
      return it->second.second;
  }
  auto head = src.resolve(ref);
  if (!head) return std::nullopt;
  std::lock_guard lock(mu_);
  bound(heads_, 10000);
  // Stored with the fetch time read before resolving: a fetch that ended in
  // between makes the next decision read the ref again.
  heads_[key] = {fetched, *head};
  return *head;
}

GitFacts::Result GitFacts::exists(const ReleaseInfo& rel, const std::string& commit) {
  const auto asked_at = Clock::now();
  const std::string key = url_key(rel) + " " + commit;
  {
    std::lock_guard lock(mu_);
    if (commits_.contains(key)) return {Answer::kYes, {}};
  }
  auto src = git_.source(rel.spec.source.url);
  bool found = src->commit(commit).has_value();
  std::string error;
  if (!found) {
    fetch_once(rel, *src, asked_at, &error);
    found = src->commit(commit).has_value();
  }
  if (!found) return {error.empty() ? Answer::kNo : Answer::kUnknown, error};
  std::lock_guard lock(mu_);
  bound(commits_, 100000);
  commits_.insert(key);
  return {Answer::kYes, {}};
}

GitFacts::Result GitFacts::is_ancestor(const ReleaseInfo& rel, const std::string& ancestor,
                                       const std::string& descendant) {
  if (ancestor == descendant) return {Answer::kYes, {}};
  const std::string key = url_key(rel) + " " + ancestor + " " + descendant;
  {
    std::lock_guard lock(mu_);
    if (auto it = ancestry_.find(key); it != ancestry_.end())
      return {it->second ? Answer::kYes : Answer::kNo, {}};
  }
  auto src = git_.source(rel.spec.source.url);
  auto a = src->is_ancestor(ancestor, descendant);
  if (!a) return {Answer::kUnknown, a.error().message};
  std::lock_guard lock(mu_);
  bound(ancestry_, 100000);
  ancestry_[key] = *a;
  return {*a ? Answer::kYes : Answer::kNo, {}};
}

GitFacts::Result GitFacts::on_ref(const ReleaseInfo& rel, const std::string& commit) {
  const auto asked_at = Clock::now();
  auto src = git_.source(rel.spec.source.url);
  const git::Ref ref = source::ref_of(rel.spec.source);
  auto check = [&]() -> Result {
    auto head = resolve_head(*src, ref);
    if (!head) return {Answer::kUnknown, "cannot resolve " + rel.spec.source.ref_description()};
    return is_ancestor(rel, commit, *head);
  };
  Result r = check();
  if (r.answer == Answer::kYes) return r;
  // The ref may have moved since the last fetch.
  std::string error;
  if (!fetch_once(rel, *src, asked_at, &error)) return {Answer::kUnknown, error};
  return check();
}

std::expected<bool, std::string> GitFacts::signed_by(const ReleaseInfo& rel,
                                                     const std::string& commit,
                                                     const std::vector<std::string>& keys,
                                                     std::string* status) {
  std::string joined;
  for (const auto& k : keys) joined += k + "\n";
  const std::string key =
      url_key(rel) + " " + commit + " " + std::to_string(std::hash<std::string>{}(joined));
  {
    std::lock_guard lock(mu_);
    if (auto it = signatures_.find(key); it != signatures_.end()) return it->second;
  }
  auto src = git_.source(rel.spec.source.url);
  auto v = src->verify_signature(commit, keys);
  if (!v) return std::unexpected(v.error().message);
  const bool valid = v->status == git::SignatureStatus::kValid;
  if (status) *status = std::string(git::status_name(v->status));
  std::lock_guard lock(mu_);
  bound(signatures_, 100000);
  signatures_[key] = valid;
  return valid;
}

}  // namespace cairn::webhook
