// The status of a reconciled object, written once when the reconcile ends,
// however it ends (Flux's deferred patch). Steps change the status in
// memory and return an Outcome; only the reconciler's finish writes it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "operator/kit/outcome.h"

namespace cairn::kit {

// Sets Ready/Reconciling/Stalled from the verdict: the one place that turns
// an outcome into conditions.
void set_conditions(std::vector<api::Condition>& conds, const Verdict& v, int64_t generation,
                    std::chrono::system_clock::time_point now);

// Sets the condition Notified from `failure` when the resource has
// notification targets: False with the reason while the last delivery
// failed, True once one succeeds again (absent until a delivery fails).
void set_notified(std::vector<api::Condition>& conds, bool has_targets,
                  const std::optional<std::string>& failure, int64_t generation);

// observedGeneration moves only when the outcome settles the generation
// (success or a stall), never on a retry.
inline void settle_generation(int64_t& observed, int64_t generation, const Outcome& o) {
  if (o.settles_generation()) observed = generation;
}

class StatusScope {
 public:
  // `object` as read from `cache`; its status is what a write compares with.
  StatusScope(kube::Api& api, const kube::ApiResource& resource, kube::Store& cache,
              kube::json object);
  StatusScope(const StatusScope&) = delete;
  StatusScope& operator=(const StatusScope&) = delete;

  const kube::json& object() const { return object_; }
  const kube::json& original() const { return original_; }
  // After a metadata write (finalizers): the status write must carry the
  // new resourceVersion.
  void replace_object(kube::json object);

  // Writes `status` into the status subresource unless it equals what was
  // read. A compare-and-swap on the resourceVersion read: if the cache was
  // stale the write fails and the reconcile runs again on fresh data,
  // rather than overwriting a newer status. The written object goes back
  // into the cache so the next reconcile does not see the old status.
  // Returns `outcome`, or a retry when the write failed (done when the
  // object is gone). `written` says whether the cluster now holds `status`.
  Outcome close(const kube::json& status, Outcome outcome, bool* written = nullptr);

 private:
  kube::Api& api_;
  const kube::ApiResource& resource_;
  kube::Store& cache_;
  kube::json object_;
  kube::json original_;
};

}  // namespace cairn::kit
