// Writing a reconciled object's status, shared by the reconcilers.
#pragma once

#include "kube/client.h"
#include "kube/informer.h"
#include "log/log.h"
#include "pipeline/reconciler.h"

namespace cairn {

// Writes `status` into `object`'s status subresource unless it equals what
// was read (`original`). A compare-and-swap on the resourceVersion read: if
// the cache was stale the write fails and the reconcile runs again on fresh
// data, rather than overwriting a newer status. The written object goes back
// into `cache` so the next reconcile does not see the old status.
// `written` (optional) says whether the status now in the cluster is `status`.
inline pipeline::Outcome write_status(kube::Client& client, const kube::ApiResource& resource,
                                      kube::Store& cache, const kube::json& object,
                                      const kube::json& status, const kube::json& original,
                                      pipeline::Outcome outcome, bool* written = nullptr) {
  if (written) *written = false;
  if (status == original) {
    if (written) *written = true;  // nothing new to say: what was computed stands
    return outcome;
  }
  kube::json obj = object;
  obj["status"] = status;
  const std::string ns = object["metadata"].value("namespace", "");
  auto r = client.update(resource, ns, obj, "status");
  if (!r) {
    if (r.error().code == kube::Code::kNotFound) return pipeline::Outcome::done();
    log::warn("status write failed", {{"kind", resource.kind},
                                      {"namespace", ns},
                                      {"name", object["metadata"].value("name", "")},
                                      {"error", r.error().to_string()}});
    return pipeline::Outcome::retry();
  }
  cache.upsert(std::make_shared<const kube::json>(std::move(*r)));
  if (written) *written = true;
  return outcome;
}

}  // namespace cairn
