#include "operator/notify/notifier.h"

#include <cpprest/http_client.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>

#include "git/git.h"
#include "kube/util.h"
#include "log/log.h"

namespace cairn::notify {

using json = cairn::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

std::string headline(const Notice& n) {
  const std::string who = n.kind + " " + n.ns + "/" + n.name;
  const std::string commit = n.commit.empty()
                                 ? ""
                                 : " commit " + git::short_sha(n.commit) +
                                       (n.title.empty() ? "" : " \"" + n.title + "\"") +
                                       (n.author.empty() ? "" : " by " + n.author);
  switch (n.event) {
    case api::NotifyEvent::kRunSucceeded:
      return ":white_check_mark: " + who + " run " + n.run + " succeeded for" + commit;
    case api::NotifyEvent::kRunFailed:
      return ":x: " + who + " run " + n.run + " failed for" + commit +
             (n.reason.empty() ? "" : ": " + n.reason);
    case api::NotifyEvent::kDeployed:
      return ":rocket: " + who + " deployed" + commit;
    case api::NotifyEvent::kFailed:
      return ":x: " + who + " failed to deploy" + commit +
             (n.reason.empty() ? "" : ": " + n.reason);
    case api::NotifyEvent::kRolledBack:
      return ":rewind: " + who + " rolled back" + commit +
             (n.reason.empty() ? "" : ": " + n.reason);
    case api::NotifyEvent::kDriftCorrected:
      return ":wrench: " + who + " put back a change made outside git (deployed" + commit + ")";
  }
  return who;
}

}  // namespace

std::string payload(const Notice& n) {
  json j = {{"text", headline(n)},
            {"event", std::string(api::to_string(n.event))},
            {"resource", {{"kind", n.kind}, {"namespace", n.ns}, {"name", n.name}}},
            {"commit", n.commit},
            {"author", n.author},
            {"title", n.title},
            {"result", n.result},
            {"reason", n.reason},
            {"time", kube::rfc3339(std::chrono::system_clock::now())}};
  if (!n.run.empty()) j["run"] = n.run;
  if (!n.source.empty()) {
    j["source"] = git::redact_url(n.source);
    if (auto web = git::web_url(n.source); !web.empty()) {
      j["links"]["repository"] = web;
      if (!n.commit.empty()) j["links"]["commit"] = web + "/commit/" + n.commit;
    }
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string endpoint_of(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return "(not a URL)";
  auto host_start = scheme + 3;
  auto end = url.find_first_of("/?#", host_start);
  std::string host =
      url.substr(host_start, end == std::string::npos ? std::string::npos : end - host_start);
  if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  return url.substr(0, host_start) + host;
}

Notifier::Notifier(kube::Client& client, Options opts)
    : client_(client), opts_(std::move(opts)), thread_([this] { run(); }) {}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::send(const Notice& n) {
  const std::string body = payload(n);
  std::lock_guard lock(mu_);
  for (const auto& t : n.targets) {
    if (!t.wants(n.event)) continue;
    if (queue_.size() >= opts_.queue_limit) {
      if (opts_.on_result) opts_.on_result("dropped");
      continue;
    }
    queue_.push_back({n, t, body, 0, Clock::now()});
  }
  cv_.notify_all();
}

std::optional<std::string> Notifier::failure(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end() || it->second.empty()) return std::nullopt;
  std::string all;
  for (const auto& [endpoint, why] : it->second) all += (all.empty() ? "" : "; ") + why;
  return all;
}

bool Notifier::flush(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return queue_.empty() && in_flight_ == 0; });
}

void Notifier::run() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    if (queue_.empty()) {
      cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
      continue;
    }
    // The delivery due first.
    auto next = queue_.begin();
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
      if (it->due < next->due) next = it;
    if (next->due > Clock::now()) {
      cv_.wait_until(lock, next->due);
      continue;
    }
    Delivery d = std::move(*next);
    queue_.erase(next);
    ++in_flight_;
    lock.unlock();
    bool retriable = false;
    auto err = deliver(d, &retriable);
    lock.lock();
    --in_flight_;
    const std::string key = d.notice.key();
    // The target as spec.notify names it (its Secret, else its URL): never
    // shown, only told apart.
    const std::string target =
        d.target.secret_ref ? "secret/" + d.target.secret_ref->name : "url/" + d.target.url;
    if (!err) {
      if (auto it = failures_.find(key); it != failures_.end()) {
        it->second.erase(target);
        if (it->second.empty()) failures_.erase(it);
      }
      if (opts_.on_result) opts_.on_result("delivered");
    } else if (retriable && d.attempt + 1 < opts_.max_attempts && !stopped_) {
      d.due = Clock::now() + opts_.first_backoff * (1 << d.attempt);
      ++d.attempt;
      queue_.push_back(std::move(d));
      if (opts_.on_result) opts_.on_result("retried");
    } else {
      auto& why = failures_[key][target];
      why = *err + " (after " + std::to_string(d.attempt + 1) + " attempts)";
      if (opts_.on_result) opts_.on_result("failed");
      log::warn("notification failed", {{"kind", d.notice.kind},
                                        {"namespace", d.notice.ns},
                                        {"name", d.notice.name},
                                        {"error", why}});
    }
    cv_.notify_all();
  }
}

std::optional<std::string> Notifier::deliver(const Delivery& d, bool* retriable) {
  *retriable = false;
  std::string url = d.target.url, token, hmac_key, ca;
  if (d.target.secret_ref) {
    auto s = client_.get(kube::res::kSecrets, d.notice.ns, d.target.secret_ref->name);
    if (!s) {
      *retriable = s.error().code != kube::Code::kNotFound;
      return "spec.notify secret " + d.target.secret_ref->name +
             " cannot be read: " + s.error().to_string();
    }
    const json data = s->value("data", json::object());
    auto get = [&](const char* k) -> std::string {
      if (!data.contains(k) || !data[k].is_string()) return {};
      return kube::base64_decode(data[k].get<std::string>()).value_or("");
    };
    if (auto u = get("url"); !u.empty()) url = u;
    token = get("token");
    hmac_key = get("hmacKey");
    ca = get("ca.crt");
  }
  const std::string where = endpoint_of(url);
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return "spec.notify url must be http or https (" + where + ")";
  try {
    web::http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(opts_.timeout));
    cfg.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) {
      SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
      ctx.set_default_verify_paths();
      if (!ca.empty()) {
        BIO* bio = BIO_new_mem_buf(ca.data(), static_cast<int>(ca.size()));
        X509_STORE* store = SSL_CTX_get_cert_store(ctx.native_handle());
        while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
          X509_STORE_add_cert(store, x);
          X509_free(x);
        }
        BIO_free(bio);
      }
    });
    web::http::client::http_client client(utility::conversions::to_string_t(url), cfg);
    web::http::http_request req(web::http::methods::POST);
    req.headers().set_content_type("application/json");
    req.headers().add("User-Agent", "cairn-operator");
    if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
    if (!hmac_key.empty())
      req.headers().add("X-Cairn-Signature-256", "sha256=" + hmac_hex(hmac_key, d.body));
    req.set_body(d.body, "application/json");
    auto resp = client.request(req).get();
    const int code = resp.status_code();
    if (code / 100 == 2) return std::nullopt;
    *retriable = code == 429 || code >= 500;
    return "notification to " + where + " answered HTTP " + std::to_string(code);
  } catch (const std::exception& e) {
    *retriable = true;
    std::string what = e.what();
    // Never echo the URL (it may be a credential): libraries sometimes quote it.
    if (what.find(url) != std::string::npos) what = "request failed";
    return "notification to " + where + " failed: " + what;
  }
}

}  // namespace cairn::notify
