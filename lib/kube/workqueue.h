// A work queue with client-go's guarantees: a key queued many times is
// processed once; a key being processed is never handed to a second worker
// (re-adds wait until done()); failures back off per key (5 ms·2ⁿ, capped)
// and a global token bucket bounds the overall retry rate.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "kube/ratelimit.h"

namespace cairn::kube {

struct WorkQueueOptions {
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{1000 * 1000};
  double qps = 10;  // global bucket for rate-limited re-adds
  int burst = 100;
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions opts = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  // Re-adds after the larger of the key's backoff and the global bucket's wait.
  void add_rate_limited(const std::string& key);
  // Clears the key's failure count (call after a success).
  void forget(const std::string& key);
  int requeues(const std::string& key);

  // Blocks until a key is ready or the queue shuts down (nullopt).
  std::optional<std::string> get();
  // Marks a key processed; if it was re-added meanwhile, it is queued again.
  void done(const std::string& key);

  // Stops handing out keys; get() returns nullopt at once. Keys being
  // processed may still call done().
  void shutdown();
  // Lets workers finish every key already queued (not those delayed), then stops.
  void shutdown_with_drain();
  bool shutting_down() const;

  size_t len() const;          // ready keys
  size_t delayed_len() const;  // keys waiting for their delay

  // Totals, for metrics.
  uint64_t adds() const;
  uint64_t retries() const;

 private:
  void enqueue_locked(const std::string& key);
  void promote_due_locked(Clock::time_point now);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;     // guarded by mu_
  std::set<std::string> dirty_;       // queued or to be queued after processing; guarded by mu_
  std::set<std::string> processing_;  // guarded by mu_
  std::multimap<Clock::time_point, std::string> waiting_;  // guarded by mu_
  std::map<std::string, Clock::time_point> waiting_at_;    // earliest per key; guarded by mu_
  bool shutdown_ = false;                                  // guarded by mu_
  bool draining_ = false;                                  // guarded by mu_
  uint64_t adds_ = 0;                                      // guarded by mu_
  uint64_t retries_ = 0;                                   // guarded by mu_
  ItemBackoff backoff_;
  TokenBucket bucket_;
};

}  // namespace cairn::kube
