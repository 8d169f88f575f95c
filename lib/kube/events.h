// Writes core/v1 Events about objects. Repeats of the same event (same
// object, type, reason and message) are aggregated into one Event whose count
// goes up, as client-go's correlator does. Recording never blocks the caller:
// events go through a bounded queue to a writer thread, and are dropped (and
// counted) when the queue is full.
#pragma once

#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "kube/client.h"

namespace cairn::kube {

// Where a controller's Events go: EventRecorder writes them to the
// apiserver; tests record them in memory.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // `type` is "Normal" or "Warning"; `reason` is UpperCamelCase.
  virtual void record(const json& object, const std::string& type, const std::string& reason,
                      const std::string& message) = 0;
  void normal(const json& o, const std::string& reason, const std::string& message) {
    record(o, "Normal", reason, message);
  }
  void warning(const json& o, const std::string& reason, const std::string& message) {
    record(o, "Warning", reason, message);
  }
};

class EventRecorder final : public EventSink {
 public:
  EventRecorder(Client& client, std::string component, std::string instance = {},
                size_t queue_limit = 1000);
  ~EventRecorder() override;
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  void record(const json& object, const std::string& type, const std::string& reason,
              const std::string& message) override;

  // Waits until every queued event is written (tests, shutdown).
  void flush();
  uint64_t dropped() const;
  uint64_t written() const;

 private:
  struct Pending {
    json involved;
    std::string ns, type, reason, message;
    std::chrono::system_clock::time_point at;
  };
  struct Seen {
    std::string event_name;
    std::string ns;
    int64_t count = 0;
    std::string first_timestamp;
  };
  void loop();
  void write(const Pending& p);

  Client& client_;
  std::string component_, instance_;
  size_t limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool busy_ = false;          // guarded by mu_
  bool stop_ = false;          // guarded by mu_
  uint64_t dropped_ = 0;       // guarded by mu_
  uint64_t written_ = 0;       // guarded by mu_
  // Aggregation cache, LRU-bounded; only the writer thread touches it.
  std::map<std::string, std::pair<Seen, std::list<std::string>::iterator>> seen_;
  std::list<std::string> lru_;
  std::thread writer_;
};

}  // namespace cairn::kube
