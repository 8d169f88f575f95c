#include "kube/workqueue.h"

namespace cairn::kube {

WorkQueue::WorkQueue(WorkQueueOptions opts)
    : backoff_(opts.base_delay, opts.max_delay), bucket_(opts.qps, opts.burst) {}

void WorkQueue::enqueue_locked(const std::string& key) {
  if (shutdown_ || draining_) return;
  adds_++;
  if (!dirty_.insert(key).second) return;  // already queued: dedupe
  if (processing_.contains(key)) return;   // queued again by done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  enqueue_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return add(key);
  std::lock_guard lock(mu_);
  if (shutdown_ || draining_) return;
  auto at = Clock::now() + delay;
  // Keep only the earliest deadline per key: a later add_after never delays
  // work that is already due sooner.
  if (auto it = waiting_at_.find(key); it != waiting_at_.end()) {
    if (it->second <= at) return;
    for (auto w = waiting_.lower_bound(it->second); w != waiting_.end() && w->first == it->second;
         ++w) {
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
    }
  }
  waiting_.emplace(at, key);
  waiting_at_[key] = at;
  cv_.notify_all();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  auto item = backoff_.next(key);
  auto global = std::chrono::duration_cast<std::chrono::milliseconds>(bucket_.reserve());
  {
    std::lock_guard lock(mu_);
    retries_++;
  }
  add_after(key, std::max(item, global));
}

void WorkQueue::forget(const std::string& key) { backoff_.forget(key); }

int WorkQueue::requeues(const std::string& key) { return backoff_.failures(key); }

void WorkQueue::promote_due_locked(Clock::time_point now) {
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waiting_at_.erase(key);
    enqueue_locked(key);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (shutdown_) return std::nullopt;
    promote_due_locked(Clock::now());
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (draining_) {
      if (processing_.empty()) {
        shutdown_ = true;
        cv_.notify_all();
      } else {
        cv_.wait(lock);
      }
      continue;
    }
    if (waiting_.empty()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, waiting_.begin()->first);
    }
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.contains(key) && !shutdown_) {
    queue_.push_back(key);
    cv_.notify_one();
  }
  if (draining_) cv_.notify_all();
}

void WorkQueue::shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

void WorkQueue::shutdown_with_drain() {
  std::lock_guard lock(mu_);
  draining_ = true;
  waiting_.clear();
  waiting_at_.clear();
  if (queue_.empty() && processing_.empty()) shutdown_ = true;
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutdown_ || draining_;
}

size_t WorkQueue::len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WorkQueue::delayed_len() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

uint64_t WorkQueue::adds() const {
  std::lock_guard lock(mu_);
  return adds_;
}

uint64_t WorkQueue::retries() const {
  std::lock_guard lock(mu_);
  return retries_;
}

}  // namespace cairn::kube
