// Notifications (spec.notify on Pipelines and Releases): a JSON POST per
// event to each endpoint that wants it — a Slack-compatible `text` plus
// structured fields — signed with an HMAC key or carrying a bearer token
// from the endpoint's Secret. Delivery happens on the notifier's own thread,
// with retries and backoff; a reconcile never waits for it. The last failure
// per resource is kept so that the reconciler can report it in a condition.
//
// The endpoint's Secret (spec.notify[].secretRef) may hold: `url` (replaces
// spec.notify[].url — keep Slack webhook URLs, which are credentials, here),
// `token` (sent as `Authorization: Bearer`), `hmacKey` (the body's
// HMAC-SHA256 in `X-Cairn-Signature-256: sha256=<hex>`) and `ca.crt` (a CA
// to trust for an https endpoint besides the system's). TLS 1.2+ only.
// Messages and logs show an endpoint as scheme://host[:port] only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/types.h"
#include "kube/client.h"

namespace cairn::notify {

struct Notice {
  std::string kind;  // "Pipeline" or "Release"
  std::string ns, name;
  api::NotifyEvent event = api::NotifyEvent::kDeployed;
  std::string commit, author, title, run, result, reason;
  std::string source;                    // the resource's spec.source.url (credentials removed)
  std::vector<api::NotifySpec> targets;  // the resource's spec.notify
  std::string key() const { return kind + "/" + ns + "/" + name; }
};

// The request body: {"text": ..., "event", "resource": {kind, namespace,
// name}, "commit", "author", "title", "run", "result", "reason", "time",
// "source", "links": {"repository", "commit"}}. Links are given when the
// source has a web address (git::web_url).
std::string payload(const Notice& n);

// scheme://host[:port] of a URL: what messages may show of an endpoint.
std::string endpoint_of(const std::string& url);

struct Options {
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{1000};  // doubles per attempt
  std::chrono::milliseconds timeout{10000};       // per request
  size_t queue_limit = 1000;                      // deliveries waiting; more are dropped
  // Results for metrics: "delivered", "failed" (gave up), "retried", "dropped".
  std::function<void(const std::string& result)> on_result;
};

class Notifier {
 public:
  explicit Notifier(kube::Client& client, Options opts = {});
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues one delivery per target that wants n.event; returns at once.
  void send(const Notice& n);
  // Why deliveries for a resource (Notice::key()) failed for good, one
  // message per endpoint whose last delivery failed ("; " between them);
  // nullopt when every endpoint's last delivery succeeded (or none was made).
  // One endpoint that works does not hide another that does not.
  std::optional<std::string> failure(const std::string& key) const;
  // Waits until nothing is queued or in flight (tests, shutdown), up to `limit`.
  bool flush(std::chrono::milliseconds limit);
  void stop();

 private:
  struct Delivery {
    Notice notice;
    api::NotifySpec target;
    std::string body;
    int attempt = 0;
    std::chrono::steady_clock::time_point due;
  };
  void run();
  // Empty on success; else the reason, and whether trying again may help.
  std::optional<std::string> deliver(const Delivery& d, bool* retriable);

  kube::Client& client_;
  Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> queue_;  // guarded by mu_
  int in_flight_ = 0;           // guarded by mu_
  bool stopped_ = false;        // guarded by mu_
  // resource key -> target (its Secret's name, or its URL) -> why its last
  // delivery failed; guarded by mu_.
  std::map<std::string, std::map<std::string, std::string>> failures_;
  std::thread thread_;
};

}  // namespace cairn::notify
