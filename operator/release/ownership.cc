#include "operator/release/ownership.h"

#include <array>
#include <sstream>

#include "kube/util.h"

namespace cairn::release {

using json = cairn::json;

namespace {

// fieldsV1 keys of a dotted path: "spec.replicas" -> f:spec, f:replicas.
std::vector<std::string> field_keys(const std::string& dotted) {
  std::vector<std::string> keys;
  std::stringstream in(dotted);
  for (std::string part; std::getline(in, part, '.');) {
    if (!part.empty()) keys.push_back("f:" + part);
  }
  return keys;
}

// Moves the subtree at `keys` from `from` into `to`; parents emptied by the
// move go too (an empty node would mean "owns this field as a leaf").
void move_subtree(json& from, json& to, const std::vector<std::string>& keys, size_t i = 0) {
  if (i >= keys.size() || !from.is_object()) return;
  auto it = from.find(keys[i]);
  if (it == from.end()) return;
  if (i + 1 == keys.size()) {
    to[keys[i]] = std::move(*it);
    from.erase(keys[i]);
    return;
  }
  json& sub_to = to[keys[i]];
  if (!sub_to.is_object()) sub_to = json::object();
  move_subtree(*it, sub_to, keys, i + 1);
  if (it->empty()) from.erase(keys[i]);
  if (sub_to.empty()) to.erase(keys[i]);
}

// Splits an entry's fields into what is foreign (returned) and what its
// manager keeps (left in `fields`): status and the ignored paths.
json split_foreign(json& fields, const std::vector<std::string>& ignore) {
  json kept = json::object();
  move_subtree(fields, kept, {"f:status"});
  for (const auto& path : ignore) move_subtree(fields, kept, field_keys(path));
  json foreign = std::move(fields);
  fields = std::move(kept);
  return foreign;
}

bool is_status_entry(const json& e) { return e.value("subresource", "") == "status"; }

bool is_own_apply(const json& e, const std::string& own) {
  return e.value("manager", "") == own && e.value("operation", "") == "Apply" &&
         !e.contains("subresource");
}

}  // namespace

bool is_cluster_manager(std::string_view manager) {
  static constexpr std::array<std::string_view, 3> kCluster = {"kube-controller-manager",
                                                               "kube-scheduler", "kubelet"};
  for (auto m : kCluster) {
    if (manager == m) return true;
  }
  return false;
}

void merge_fields(json& into, const json& from) {
  if (!from.is_object()) return;
  if (!into.is_object()) into = json::object();
  for (const auto& [k, v] : from.items()) merge_fields(into[k], v);
}

ForeignFields foreign_fields(const json& live, const std::string& own,
                             const std::vector<std::string>& ignore) {
  ForeignFields out;
  const json md = live.value("metadata", json::object());
  for (const auto& e : md.value("managedFields", json::array())) {
    const std::string manager = e.value("manager", "");
    if (manager == own || is_cluster_manager(manager) || is_status_entry(e)) continue;
    json fields = e.value("fieldsV1", json::object());
    json foreign = split_foreign(fields, ignore);
    if (foreign.empty()) continue;
    out.managers.push_back(manager);
    merge_fields(out.fields, foreign);
  }
  return out;
}

json take_ownership(const json& live, const std::string& own,
                    const std::vector<std::string>& ignore,
                    std::chrono::system_clock::time_point now) {
  const json md = live.value("metadata", json::object());
  json entries = json::array();
  json taken = json::object();
  std::optional<size_t> own_apply;
  for (const auto& e : md.value("managedFields", json::array())) {
    if (is_own_apply(e, own)) {
      own_apply = entries.size();
      entries.push_back(e);
      continue;
    }
    const std::string manager = e.value("manager", "");
    if (is_cluster_manager(manager) || is_status_entry(e)) {
      entries.push_back(e);
      continue;
    }
    json rest = e;
    json fields = e.value("fieldsV1", json::object());
    merge_fields(taken, split_foreign(fields, ignore));
    if (fields.empty()) continue;  // nothing left to own
    rest["fieldsV1"] = std::move(fields);
    entries.push_back(std::move(rest));
  }
  if (!own_apply) {
    own_apply = entries.size();
    entries.push_back({{"manager", own},
                       {"operation", "Apply"},
                       {"apiVersion", live.value("apiVersion", "")},
                       {"time", kube::rfc3339(now)},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", json::object()}});
  }
  json& mine = entries[*own_apply]["fieldsV1"];
  merge_fields(mine, taken);
  return entries;
}

}  // namespace cairn::release
