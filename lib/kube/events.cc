#include "kube/events.h"

#include <unistd.h>

#include <cstdio>

#include "kube/util.h"

namespace cairn::kube {

namespace {
constexpr size_t kSeenLimit = 4096;
constexpr size_t kMessageLimit = 1024;  // the apiserver's own cap on Event messages

std::string hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}
}  // namespace

EventRecorder::EventRecorder(Client& client, std::string component, std::string instance,
                             size_t queue_limit)
    : client_(client),
      component_(std::move(component)),
      instance_(instance.empty() ? hostname() : std::move(instance)),
      limit_(queue_limit) {
  writer_ = std::thread([this] { loop(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  writer_.join();
}

void EventRecorder::record(const json& object, const std::string& type, const std::string& reason,
                           const std::string& message) {
  Pending p;
  const json md = object.value("metadata", json::object());
  p.involved = {{"apiVersion", object.value("apiVersion", "")},
                {"kind", object.value("kind", "")},
                {"name", md.value("name", "")},
                {"namespace", md.value("namespace", "")},
                {"uid", md.value("uid", "")},
                {"resourceVersion", md.value("resourceVersion", "")}};
  p.ns = md.value("namespace", "");
  if (p.ns.empty()) p.ns = "default";  // events about cluster-scoped objects
  p.type = type;
  p.reason = reason;
  p.message =
      message.size() > kMessageLimit ? message.substr(0, kMessageLimit - 3) + "..." : message;
  p.at = std::chrono::system_clock::now();
  std::lock_guard lock(mu_);
  if (stop_) return;
  if (queue_.size() >= limit_) {
    dropped_++;
    return;
  }
  queue_.push_back(std::move(p));
  cv_.notify_all();
}

void EventRecorder::flush() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return (queue_.empty() && !busy_) || stop_; });
}

uint64_t EventRecorder::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

uint64_t EventRecorder::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

void EventRecorder::loop() {
  for (;;) {
    Pending p;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      p = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    write(p);
    std::lock_guard lock(mu_);
    busy_ = false;
    cv_.notify_all();
  }
}

void EventRecorder::write(const Pending& p) {
  const std::string key = p.involved.value("uid", "") + "|" + p.involved.value("kind", "") + "|" +
                          p.ns + "/" + p.involved.value("name", "") + "|" + p.type + "|" +
                          p.reason + "|" + p.message;
  const std::string now = rfc3339(p.at);
  if (auto it = seen_.find(key); it != seen_.end()) {
    Seen& s = it->second.first;
    lru_.splice(lru_.begin(), lru_, it->second.second);
    json patch = {{"count", s.count + 1}, {"lastTimestamp", now}};
    auto r = client_.patch(res::kEvents, s.ns, s.event_name, PatchType::kMerge, patch);
    if (r) {
      s.count++;
      std::lock_guard lock(mu_);
      written_++;
      return;
    }
    // The Event expired (TTL) or was deleted: start a new one.
    lru_.erase(it->second.second);
    seen_.erase(it);
  }
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx",
                static_cast<unsigned long long>(p.at.time_since_epoch().count()));
  std::string name = p.involved.value("name", "object") + suffix;
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", name}, {"namespace", p.ns}}},
             {"involvedObject", p.involved},
             {"reason", p.reason},
             {"message", p.message},
             {"type", p.type},
             {"source", {{"component", component_}, {"host", instance_}}},
             {"reportingComponent", component_},
             {"reportingInstance", instance_},
             {"firstTimestamp", now},
             {"lastTimestamp", now},
             {"count", 1}};
  auto r = client_.create(res::kEvents, p.ns, ev);
  if (!r) return;  // events are best effort; the caller's work goes on
  {
    std::lock_guard lock(mu_);
    written_++;
  }
  lru_.push_front(key);
  seen_[key] = {Seen{name, p.ns, 1, now}, lru_.begin()};
  if (seen_.size() > kSeenLimit) {
    seen_.erase(lru_.back());
    lru_.pop_back();
  }
}

}  // namespace cairn::kube
