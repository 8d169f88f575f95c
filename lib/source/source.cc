#include "source/source.h"

#include "kube/util.h"

namespace cairn::source {

using Clock = std::chrono::steady_clock;
using kube::json;

namespace {
FetchObserver& fetch_observer() {
  static FetchObserver fn;
  return fn;
}
}  // namespace

void set_fetch_observer(FetchObserver fn) { fetch_observer() = std::move(fn); }

std::string now_s() { return kube::rfc3339(std::chrono::system_clock::now()); }

std::string Tracker::identity(const std::string& ns, const api::SourceSpec& spec) {
  return spec.secret_ref ? ns + "/" + spec.secret_ref->name : std::string();
}

std::string short_sha(const std::string& commit) { return commit.substr(0, 8); }

git::Ref ref_of(const api::SourceSpec& s) {
  if (!s.branch.empty()) return {git::RefKind::kBranch, s.branch};
  if (!s.tag.empty()) return {git::RefKind::kTag, s.tag};
  return {git::RefKind::kCommit, s.commit};
}

Tracker::Tracker(kube::Client& client, std::chrono::seconds fetch_timeout,
                 std::chrono::seconds stall_timeout)
    : client_(client), fetch_timeout_(fetch_timeout), stall_timeout_(stall_timeout) {}

void Tracker::request(const std::string& key) {
  std::lock_guard lock(mu_);
  pushed_.insert(key);
}

void Tracker::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  fetched_at_.erase(key);
  pushed_.erase(key);
  failures_.erase(key);
}

std::chrono::milliseconds Tracker::backoff(const std::string& key) {
  std::lock_guard lock(mu_);
  int n = std::min(failures_[key]++, 8);
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(1) * (1 << n),
                                             std::chrono::minutes(5));
}

std::expected<git::Credentials, Failure> Tracker::credentials(const std::string& ns,
                                                              const api::SourceSpec& spec) {
  return read_credentials(client_, ns, spec);
}

std::expected<git::Credentials, Failure> read_credentials(kube::Client& client,
                                                          const std::string& ns,
                                                          const api::SourceSpec& spec) {
  if (!spec.secret_ref) return git::Credentials{};
  const std::string& name = spec.secret_ref->name;
  auto s = client.get(kube::res::kSecrets, ns, name);
  if (!s) {
    bool missing = s.error().code == kube::Code::kNotFound;
    return std::unexpected(
        Failure{missing ? "SecretNotFound" : "SecretUnreadable",
                "spec.source.secretRef: Secret " + ns + "/" + name +
                    (missing ? " does not exist; create it with the git credentials"
                             : " cannot be read: " + s.error().to_string()),
                {}});
  }
  std::map<std::string, std::string> data;
  const json secret_data = s->value("data", json::object());
  for (const auto& [k, v] : secret_data.items()) {
    if (!v.is_string()) continue;
    if (auto d = kube::base64_decode(v.get<std::string>())) data[k] = *d;
  }
  return git::credentials_from_secret(data);
}

std::expected<std::vector<std::string>, Failure> read_signers(kube::Client& client,
                                                              const std::string& ns,
                                                              const api::SourceSpec& spec) {
  std::vector<std::string> keys;
  if (!spec.verify.signers_secret_ref) return keys;
  const std::string& name = spec.verify.signers_secret_ref->name;
  auto s = client.get(kube::res::kSecrets, ns, name);
  if (!s) {
    bool missing = s.error().code == kube::Code::kNotFound;
    return std::unexpected(
        Failure{missing ? "SignersNotFound" : "SignersUnreadable",
                "spec.source.verify.signersSecretRef: Secret " + ns + "/" + name +
                    (missing ? " does not exist; create it with the trusted public keys"
                             : " cannot be read: " + s.error().to_string()),
                {}});
  }
  const json secret_data = s->value("data", json::object());
  for (const auto& [k, v] : secret_data.items()) {
    if (!v.is_string()) continue;
    if (auto d = kube::base64_decode(v.get<std::string>())) keys.push_back(*d);
  }
  return keys;
}

std::expected<Tracker::Fetch, Failure> Tracker::fetch_if_due(const std::string& key,
                                                             const std::string& ns,
                                                             const api::SourceSpec& spec,
                                                             git::Source& source, bool force) {
  Fetch out;
  {
    std::lock_guard lock(mu_);
    out.pushed = pushed_.erase(key) > 0;
    auto it = fetched_at_.find(key);
    bool due = it == fetched_at_.end() || Clock::now() - it->second >= spec.interval;
    if (!due && !out.pushed && !force) return out;
    // Many resources often follow one repository (500 Releases of one
    // monorepo): a fetch that another of them made a moment ago, with the
    // same credentials, serves this one too.
    if (!out.pushed && !force) {
      auto r = recent_.find(git::normalize_url(spec.url));
      if (r != recent_.end() && r->second.second == identity(ns, spec) &&
          Clock::now() - r->second.first < kShareFetchFor) {
        fetched_at_[key] = r->second.first;
        return out;
      }
    }
  }
  auto creds = credentials(ns, spec);
  if (!creds) {
    Failure f = creds.error();
    f.retry_after = backoff(key);
    return std::unexpected(f);
  }
  const auto started = Clock::now();
  auto r =
      source.fetch({.creds = *creds, .timeout = fetch_timeout_, .stall_timeout = stall_timeout_});
  if (fetch_observer())
    fetch_observer()(source.url(), r.has_value(),
                     std::chrono::duration<double>(Clock::now() - started).count());
  if (!r) {
    const auto& e = r.error();
    std::string reason = e.code == git::Code::kAuth            ? "AuthenticationFailed"
                         : e.code == git::Code::kUntrustedHost ? "UntrustedHost"
                         : e.code == git::Code::kNotFound      ? "RepositoryNotFound"
                                                               : "FetchFailed";
    return std::unexpected(
        Failure{reason, "fetching " + source.url() + ": " + e.message, backoff(key)});
  }
  std::lock_guard lock(mu_);
  fetched_at_[key] = Clock::now();
  recent_[git::normalize_url(spec.url)] = {started, identity(ns, spec)};
  failures_.erase(key);
  out.fetched = true;
  return out;
}

}  // namespace cairn::source
