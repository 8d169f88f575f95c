// Who owns which fields of a live object (metadata.managedFields), and how
// Cairn takes over the fields nobody should own, so that a forced
// server-side apply puts an object back to git *completely*.
//
// Server-side apply only removes a field that the applier owns and no longer
// applies. An env var, an initContainer or a label added by `kubectl edit`
// belongs to another manager, so applying git leaves it in place. Cairn
// therefore first moves those fields into its own Apply entry; the apply
// then removes whatever git does not set.
//
// Fields of the cluster's own controllers stay theirs: a Deployment's
// revision annotation, a Service's allocated IPs, status, and fields listed
// as ignored (spec.replicas under an autoscaler).
//
// Pure: no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.h"

namespace cairn::release {

// Managers whose writes are the cluster running, never drift.
bool is_cluster_manager(std::string_view manager);

// Field sets (fieldsV1) owned by managers other than `own` and the
// cluster's, without status and the `ignore` paths (dotted: "spec.replicas").
struct ForeignFields {
  std::vector<std::string> managers;           // who owns them, for messages
  cairn::json fields = cairn::json::object();  // their union, as fieldsV1
  bool empty() const { return fields.empty(); }
};
ForeignFields foreign_fields(const cairn::json& live, const std::string& own,
                             const std::vector<std::string>& ignore);

// metadata.managedFields of `live` rewritten so that `own`'s Apply entry
// also owns every foreign field (and the fields of `own`'s other entries);
// what those entries keep (status, ignored paths) stays with them, and an
// entry left with nothing is dropped. `api_version` is the object's.
cairn::json take_ownership(const cairn::json& live, const std::string& own,
                           const std::vector<std::string>& ignore,
                           std::chrono::system_clock::time_point now);

// Deep union of two fieldsV1 trees.
void merge_fields(cairn::json& into, const cairn::json& from);

}  // namespace cairn::release
