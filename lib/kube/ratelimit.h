// Rate limiting and backoff shared by the client and the work queue.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace cairn::kube {

using Clock = std::chrono::steady_clock;

// A token bucket: `qps` tokens per second, up to `burst` saved. reserve()
// takes a token and says how long to wait before using it (0 when one is free).
class TokenBucket {
 public:
  TokenBucket(double qps, int burst);
  std::chrono::nanoseconds reserve(Clock::time_point now = Clock::now());
  // Blocks the calling thread until a token is available.
  void acquire();

 private:
  std::mutex mu_;
  double qps_;
  double burst_;
  double tokens_;             // guarded by mu_
  Clock::time_point last_{};  // guarded by mu_
};

// Per-item exponential backoff: base·2ⁿ capped at `cap` (client-go's
// ItemExponentialFailureRateLimiter: 5 ms·2ⁿ, cap ~1000 s).
class ItemBackoff {
 public:
  explicit ItemBackoff(std::chrono::milliseconds base = std::chrono::milliseconds(5),
                       std::chrono::milliseconds cap = std::chrono::seconds(1000));
  std::chrono::milliseconds next(const std::string& key);
  void forget(const std::string& key);
  int failures(const std::string& key);

 private:
  std::mutex mu_;
  std::chrono::milliseconds base_, cap_;
  std::map<std::string, int> failures_;  // guarded by mu_
};

// Backoff for reconnecting a stream (a watch): starts at `initial`, doubles
// with jitter up to `cap`, resets after a success.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : initial_(initial), cap_(cap), current_(initial) {}
  std::chrono::milliseconds next();
  void reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_, cap_, current_;
};

}  // namespace cairn::kube
