#include "source/source.h"

#include "kube/util.h"

namespace cairn::source {

using Clock = Tracker::Clock;
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

Tracker::Tracker(kube::Api& client, std::chrono::seconds fetch_timeout,
                 std::chrono::seconds stall_timeout, std::function<Clock::time_point()> now)
    : client_(client),
      fetch_timeout_(fetch_timeout),
      stall_timeout_(stall_timeout),
      now_(now ? std::move(now) : [] { return Clock::now(); }) {}

void Tracker::request(const std::string& key) {
  std::lock_guard lock(mu_);
  pushed_.insert(key);
}

void Tracker::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  fetched_at_.erase(key);
  pushed_.erase(key);
  backoff_.erase(key);
}

std::string Tracker::attempt(const std::string& ns, const api::SourceSpec& spec) {
  return git::normalize_url(spec.url) + "|" + spec.branch + "|" + spec.tag + "|" + spec.commit +
         "|" + identity(ns, spec);
}

Failure Tracker::failed(const std::string& key, const std::string& tried, Failure f) {
  std::lock_guard lock(mu_);
  Backoff& b = backoff_[key];
  if (b.tried != tried) b.failures = 0;
  b.tried = tried;
  int n = std::min(b.failures++, 8);
  f.retry_after = std::min<std::chrono::milliseconds>(std::chrono::seconds(1) * (1 << n),
                                                      std::chrono::minutes(5));
  b.retry_at = now_() + f.retry_after;
  b.last = f;
  return f;
}

std::expected<git::Credentials, Failure> Tracker::credentials(const std::string& ns,
                                                              const api::SourceSpec& spec) {
  return read_credentials(client_, ns, spec);
}

std::expected<git::Credentials, Failure> read_credentials(kube::Api& client, const std::string& ns,
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

std::expected<std::vector<std::string>, Failure> read_signers(kube::Api& client,
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

namespace {

// What to do about a failed fetch, for the person reading the condition.
std::string fix_for(const git::Error& e) {
  switch (e.code) {
    case git::Code::kUnreachable:
      return "check that the git server is up and reachable from the operator";
    case git::Code::kTimeout:
      return "the server or the network is too slow or stuck: check them, or raise the "
             "operator's --git-stall-timeout / --git-fetch-timeout";
    default:
      return "";
  }
}

}  // namespace

std::expected<Tracker::Fetch, Failure> Tracker::fetch_if_due(const std::string& key,
                                                             const std::string& ns,
                                                             const api::SourceSpec& spec,
                                                             git::Source& source, bool force) {
  Fetch out;
  const std::string tried = attempt(ns, spec);
  {
    std::lock_guard lock(mu_);
    const auto now = now_();
    out.pushed = pushed_.erase(key) > 0;
    // Whatever woke the resource, a failing source is not tried again
    // before its backoff is over (a push may, and so may a changed source).
    if (auto b = backoff_.find(key); b != backoff_.end() && !out.pushed &&
                                     b->second.tried == tried && now < b->second.retry_at) {
      Failure f = b->second.last;
      f.attempted = false;
      f.retry_after = std::chrono::ceil<std::chrono::milliseconds>(b->second.retry_at - now);
      return std::unexpected(f);
    }
    auto it = fetched_at_.find(key);
    bool due = it == fetched_at_.end() || now - it->second >= spec.interval;
    if (!due && !out.pushed && !force) return out;
    // Many resources often follow one repository (500 Releases of one
    // monorepo): a fetch that another of them made a moment ago, with the
    // same credentials, serves this one too.
    if (!out.pushed && !force) {
      auto r = recent_.find(git::normalize_url(spec.url));
      if (r != recent_.end() && r->second.second == identity(ns, spec) &&
          now - r->second.first < kShareFetchFor) {
        fetched_at_[key] = r->second.first;
        return out;
      }
    }
  }
  auto creds = credentials(ns, spec);
  if (!creds) return std::unexpected(failed(key, tried, creds.error()));
  const auto started = now_();
  auto r =
      source.fetch({.creds = *creds, .timeout = fetch_timeout_, .stall_timeout = stall_timeout_});
  if (fetch_observer())
    fetch_observer()(source.url(), r.has_value(),
                     std::chrono::duration<double>(now_() - started).count());
  if (!r) {
    const auto& e = r.error();
    std::string reason = e.code == git::Code::kAuth            ? "AuthenticationFailed"
                         : e.code == git::Code::kUntrustedHost ? "UntrustedHost"
                         : e.code == git::Code::kNotFound      ? "RepositoryNotFound"
                         : e.code == git::Code::kTimeout       ? "FetchTimedOut"
                                                               : "FetchFailed";
    // lib/git's messages mostly name the repository already.
    std::string message = e.message.find(source.url()) == std::string::npos
                              ? "fetching " + source.url() + ": " + e.message
                              : e.message;
    if (std::string fix = fix_for(e); !fix.empty()) message += "; " + fix;
    return std::unexpected(failed(key, tried, Failure{reason, message, {}}));
  }
  std::lock_guard lock(mu_);
  fetched_at_[key] = now_();
  recent_[git::normalize_url(spec.url)] = {started, identity(ns, spec)};
  backoff_.erase(key);
  out.fetched = true;
  return out;
}

}  // namespace cairn::source
