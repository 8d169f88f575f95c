// The push receiver: an HTTPS endpoint for GitHub- and GitLab-style push
// hooks. A payload is trusted only when its HMAC (GitHub:
// X-Hub-Signature-256) or token (GitLab: X-Gitlab-Token) matches the shared
// secret; then every Pipeline (and, later, Release) that tracks the pushed
// repository and branch is fetched at once instead of at its next poll.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "http/server.h"
#include "kube/client.h"

namespace cairn::push {

// What a verified payload says was pushed.
struct PushEvent {
  std::vector<std::string> urls;  // every URL form the payload gives for the repository
  std::string branch;             // from refs/heads/<branch>
  std::string tag;                // from refs/tags/<tag>
};

enum class Verdict { kOk, kUnsigned, kBadSignature, kMalformed };

// Checks the request's signature or token against `secret` (constant time).
Verdict verify(const http::Request& req, const std::string& secret);

// Parses a GitHub or GitLab push payload; nullopt if it is not one.
std::optional<PushEvent> parse_push(const std::string& body);

struct ReceiverOptions {
  // Returns the shared secret, or an empty string when none is configured
  // (then every payload is refused).
  std::function<std::string()> secret;
  // Called for a verified push; returns the keys of what it triggered.
  std::function<std::vector<std::string>(const PushEvent&)> on_push;
};

class Receiver {
 public:
  explicit Receiver(ReceiverOptions opts) : opts_(std::move(opts)) {}
  http::Response handle(const http::Request& req);
  uint64_t accepted() const { return accepted_; }
  uint64_t refused() const { return refused_; }

 private:
  ReceiverOptions opts_;
  std::atomic<uint64_t> accepted_{0}, refused_{0};
};

}  // namespace cairn::push
