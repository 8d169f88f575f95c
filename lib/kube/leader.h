// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules
// (tools/leaderelection): a lease held by another identity is taken over only
// after it has not been renewed for leaseDuration as observed on *our* clock
// (no trust in the holder's clock); the leader renews every retryPeriod and
// gives up once it has failed to renew for renewDeadline; a clean shutdown
// releases the lease so a successor need not wait out the duration.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "kube/client.h"

namespace cairn::kube {

struct LeaderElectionConfig {
  std::string ns;
  std::string name;
  std::string identity;  // unique per process, e.g. hostname + "_" + random
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_stop = true;
};

struct LeaderCallbacks {
  // Called once leadership is acquired; start the work (do not block).
  std::function<void()> on_started_leading;
  // Called when leadership ends (lost, or stop()); stop the work.
  std::function<void()> on_stopped_leading;
  // Called when the observed leader changes (including to us).
  std::function<void(const std::string& identity)> on_new_leader;
};

class LeaderElector {
 public:
  LeaderElector(Client& client, LeaderElectionConfig cfg, LeaderCallbacks cb);
  // Blocks: campaigns, leads, and returns when leadership is lost or stop()
  // is called. Returns true if it returned because of stop().
  bool run();
  void stop();
  bool is_leader() const { return leader_.load(); }
  std::string observed_leader() const;

 private:
  enum class Attempt { kAcquired, kHeldByOther, kError };
  Attempt try_acquire_or_renew();
  void release();
  bool wait(std::chrono::milliseconds d);  // false if stopped

  Client& client_;
  LeaderElectionConfig cfg_;
  LeaderCallbacks cb_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopped_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // What we last saw of the lease and when (our clock); guarded by mu_.
  std::string observed_holder_;
  std::string observed_renew_;
  std::chrono::steady_clock::time_point observed_at_{};
  json last_lease_;
};

}  // namespace cairn::kube
