#include "kube/ratelimit.h"

#include <algorithm>
#include <random>
#include <thread>

namespace cairn::kube {

TokenBucket::TokenBucket(double qps, int burst)
    : qps_(qps > 0 ? qps : 1e9), burst_(std::max(1, burst)), tokens_(burst_) {}

std::chrono::nanoseconds TokenBucket::reserve(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (last_ != Clock::time_point{}) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  }
  last_ = std::max(last_, now);
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / qps_ * 1e9));
}

void TokenBucket::acquire() {
  auto wait = reserve();
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
}

ItemBackoff::ItemBackoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
    : base_(base), cap_(cap) {}

std::chrono::milliseconds ItemBackoff::next(const std::string& key) {
  std::lock_guard lock(mu_);
  int n = failures_[key]++;
  // 2ⁿ overflows long before the cap matters; stop doubling once past it.
  if (n >= 40) return cap_;
  auto d = base_ * (int64_t{1} << n);
  return std::min(d, cap_);
}

void ItemBackoff::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int ItemBackoff::failures(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

std::chrono::milliseconds Backoff::next() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto d = current_;
  current_ = std::min(cap_, current_ * 2);
  // Up to +25% jitter so many clients do not reconnect in lockstep.
  std::uniform_real_distribution<double> jitter(1.0, 1.25);
  auto j =
      std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * jitter(rng)));
  return std::min(j, cap_);
}

}  // namespace cairn::kube
