#include "kube/leader.h"

#include <random>

#include "kube/util.h"

namespace cairn::kube {

LeaderElector::LeaderElector(Client& client, LeaderElectionConfig cfg, LeaderCallbacks cb)
    : client_(client), cfg_(std::move(cfg)), cb_(std::move(cb)) {}

std::string LeaderElector::observed_leader() const {
  std::lock_guard lock(mu_);
  return observed_holder_;
}

bool LeaderElector::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopped_.load(); });
}

void LeaderElector::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

LeaderElector::Attempt LeaderElector::try_acquire_or_renew() {
  auto now_wall = std::chrono::system_clock::now();
  auto now = std::chrono::steady_clock::now();
  const int lease_secs = static_cast<int>(std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(cfg_.lease_duration).count()));

  auto got = client_.get(res::kLeases, cfg_.ns, cfg_.name);
  if (!got) {
    if (!is_not_found(got.error())) return Attempt::kError;
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", cfg_.name}, {"namespace", cfg_.ns}}},
                  {"spec",
                   {{"holderIdentity", cfg_.identity},
                    {"leaseDurationSeconds", lease_secs},
                    {"acquireTime", rfc3339_micro(now_wall)},
                    {"renewTime", rfc3339_micro(now_wall)},
                    {"leaseTransitions", 0}}}};
    auto created = client_.create(res::kLeases, cfg_.ns, lease);
    if (!created) return Attempt::kError;
    std::lock_guard lock(mu_);
    observed_holder_ = cfg_.identity;
    observed_renew_ = (*created)["spec"].value("renewTime", "");
    observed_at_ = now;
    last_lease_ = *created;
    return Attempt::kAcquired;
  }
  json lease = std::move(*got);
  json spec = lease.value("spec", json::object());
  std::string holder = spec.value("holderIdentity", "");
  std::string renew = spec.value("renewTime", "");
  int duration = spec.value("leaseDurationSeconds", lease_secs);
  bool changed;
  {
    std::lock_guard lock(mu_);
    changed = holder != observed_holder_ || renew != observed_renew_;
    if (changed) {
      observed_holder_ = holder;
      observed_renew_ = renew;
      observed_at_ = now;
    }
  }
  if (changed && cb_.on_new_leader && !holder.empty()) cb_.on_new_leader(holder);
  if (!holder.empty() && holder != cfg_.identity) {
    std::chrono::steady_clock::time_point seen;
    {
      std::lock_guard lock(mu_);
      seen = observed_at_;
    }
    // Still valid by our own clock since we saw it change: not ours to take.
    if (now < seen + std::chrono::seconds(duration)) return Attempt::kHeldByOther;
  }
  json& s = lease["spec"];
  if (holder != cfg_.identity) {
    s["acquireTime"] = rfc3339_micro(now_wall);
    s["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  s["holderIdentity"] = cfg_.identity;
  s["leaseDurationSeconds"] = lease_secs;
  s["renewTime"] = rfc3339_micro(now_wall);
  // The resourceVersion in the object makes this a compare-and-swap: if
  // another candidate wrote first, we get a Conflict and try again later.
  auto updated = client_.update(res::kLeases, cfg_.ns, lease);
  if (!updated) return Attempt::kError;
  std::lock_guard lock(mu_);
  observed_holder_ = cfg_.identity;
  observed_renew_ = (*updated)["spec"].value("renewTime", "");
  observed_at_ = now;
  last_lease_ = *updated;
  return Attempt::kAcquired;
}

void LeaderElector::release() {
  json lease;
  {
    std::lock_guard lock(mu_);
    lease = last_lease_;
  }
  if (lease.is_null()) return;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = rfc3339_micro(std::chrono::system_clock::now());
  (void)client_.update(res::kLeases, cfg_.ns, lease);
}

bool LeaderElector::run() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Campaign: jittered retries until the lease is ours.
  for (;;) {
    if (stopped_) return true;
    if (try_acquire_or_renew() == Attempt::kAcquired) break;
    std::uniform_real_distribution<double> jitter(1.0, 1.2);
    auto d = std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(cfg_.retry_period.count()) * jitter(rng)));
    if (!wait(d)) return true;
  }
  leader_ = true;
  if (cb_.on_started_leading) cb_.on_started_leading();

  // Lead: renew every retry period; give up after renew_deadline without success.
  auto last_renew = std::chrono::steady_clock::now();
  bool by_stop = false;
  for (;;) {
    if (!wait(cfg_.retry_period)) {
      by_stop = true;
      break;
    }
    auto attempt = try_acquire_or_renew();
    auto now = std::chrono::steady_clock::now();
    if (attempt == Attempt::kAcquired) {
      last_renew = now;
      continue;
    }
    if (attempt == Attempt::kHeldByOther || now - last_renew >= cfg_.renew_deadline) break;
  }
  leader_ = false;
  if (cb_.on_stopped_leading) cb_.on_stopped_leading();
  if (by_stop && cfg_.release_on_stop) release();
  return by_stop;
}

}  // namespace cairn::kube
