#include "manifest/strategic_merge.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include "manifest/kinds.h"

namespace cairn::manifest {

using json = cairn::json;

namespace {

constexpr std::string_view kPatch = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

// How a list merges: Kubernetes' patchStrategy and patchMergeKey.
struct ListStrategy {
  enum Kind { kReplace, kMergeByKey, kMergePrimitives } kind = kReplace;
  std::string key;
};

struct Context {
  bool builtin = false;  // a kind Kubernetes defines (its lists have merge keys)
  std::string kind;
  std::vector<std::string> path;  // field names from the root, list levels left out

  std::string where() const {
    std::string s;
    for (const auto& p : path) s += (s.empty() ? "" : ".") + p;
    return s.empty() ? "the object" : s;
  }
};

// Groups of custom resources have a dot and do not end in .k8s.io; Kustomize
// has no schema for them and replaces their lists.
bool is_builtin(const json& obj) {
  if (!obj.is_object() || !obj.contains("apiVersion") || !obj["apiVersion"].is_string()) {
    return false;
  }
  const std::string group = api_group(obj["apiVersion"].get<std::string>());
  return group.find('.') == std::string::npos || group.ends_with(".k8s.io");
}

ListStrategy strategy_for(const Context& c) {
  const std::string& field = c.path.back();
  const std::string parent = c.path.size() >= 2 ? c.path[c.path.size() - 2] : "";
  if (field == "finalizers" && parent == "metadata") return {ListStrategy::kMergePrimitives, ""};
  if (field == "ownerReferences" && parent == "metadata") return {ListStrategy::kMergeByKey, "uid"};
  if (!c.builtin) return {};
  static const char* const kByName[] = {
      "containers",       "initContainers", "ephemeralContainers", "volumes",       "env",
      "imagePullSecrets", "resourceClaims", "schedulingGates",     "readinessGates"};
  for (const char* n : kByName) {
    if (field == n) {
      return {ListStrategy::kMergeByKey, field == "readinessGates" ? "conditionType" : "name"};
    }
  }
  if (field == "volumeMounts") return {ListStrategy::kMergeByKey, "mountPath"};
  if (field == "volumeDevices") return {ListStrategy::kMergeByKey, "devicePath"};
  if (field == "hostAliases") return {ListStrategy::kMergeByKey, "ip"};
  if (field == "topologySpreadConstraints") return {ListStrategy::kMergeByKey, "topologyKey"};
  if (field == "conditions") return {ListStrategy::kMergeByKey, "type"};
  if (field == "ports") {
    if (c.kind == "Service" && c.path.size() == 2 && parent == "spec") {
      return {ListStrategy::kMergeByKey, "port"};
    }
    if (parent == "containers" || parent == "initContainers" || parent == "ephemeralContainers") {
      return {ListStrategy::kMergeByKey, "containerPort"};
    }
  }
  return {};
}

std::string directive_of(const json& v) {
  if (!v.is_object()) return "";
  auto it = v.find(std::string(kPatch));
  return it != v.end() && it->is_string() ? it->get<std::string>() : "";
}

json without_directives(const json& v);

json strip(const json& v) {
  if (v.is_object()) return without_directives(v);
  if (v.is_array()) {
    json out = json::array();
    for (const auto& e : v) {
      if (e.is_object() && e.size() == 1 && !directive_of(e).empty()) continue;
      out.push_back(strip(e));
    }
    return out;
  }
  return v;
}

// A patch value that lands where nothing was: its directives removed and its
// nulls too (a null deletes, and there is nothing to delete).
json without_directives(const json& v) {
  json out = json::object();
  for (const auto& [k, e] : v.items()) {
    if (k.starts_with("$")) continue;
    if (e.is_null()) continue;
    out[k] = strip(e);
  }
  return out;
}

std::expected<void, std::string> merge_map(json& dst, const json& patch, Context& c);

std::expected<void, std::string> merge_value(json& dst, const json& patch, Context& c);

std::expected<void, std::string> merge_list(json& dst, const json& patch, Context& c) {
  // `- $patch: replace` anywhere in the patch list replaces the list.
  const bool replace = std::any_of(patch.begin(), patch.end(), [](const json& e) {
    return directive_of(e) == "replace" && e.size() == 1;
  });
  const ListStrategy s = replace ? ListStrategy{} : strategy_for(c);
  if (s.kind == ListStrategy::kReplace || !dst.is_array()) {
    dst = strip(patch);
    return {};
  }
  if (s.kind == ListStrategy::kMergePrimitives) {
    for (const auto& e : patch) {
      if (std::find(dst.begin(), dst.end(), e) == dst.end()) dst.push_back(e);
    }
    return {};
  }
  // As Kustomize (kyaml) orders a merged list: the patch's items first, in
  // the patch's order, then the items the patch does not name.
  json merged = json::array();
  std::vector<bool> named(dst.size(), false);
  for (const auto& item : patch) {
    if (!item.is_object() || !item.contains(s.key)) {
      return std::unexpected(c.where() + ": a list item without its merge key \"" + s.key + "\"");
    }
    auto it = std::find_if(dst.begin(), dst.end(), [&](const json& e) {
      return e.is_object() && e.contains(s.key) && e[s.key] == item[s.key];
    });
    if (it != dst.end()) named[static_cast<std::size_t>(it - dst.begin())] = true;
    if (directive_of(item) == "delete") continue;
    if (it == dst.end()) {
      merged.push_back(without_directives(item));
      continue;
    }
    json e = *it;
    if (auto r = merge_map(e, item, c); !r) return r;
    merged.push_back(std::move(e));
  }
  for (std::size_t i = 0; i < dst.size(); ++i) {
    if (!named[i]) merged.push_back(std::move(dst[i]));
  }
  dst = std::move(merged);
  return {};
}

std::expected<void, std::string> merge_value(json& dst, const json& patch, Context& c) {
  if (patch.is_object()) {
    if (!dst.is_object()) {
      dst = json::object();
    }
    return merge_map(dst, patch, c);
  }
  if (patch.is_array()) return merge_list(dst, patch, c);
  dst = patch;
  return {};
}

std::expected<void, std::string> merge_map(json& dst, const json& patch, Context& c) {
  const std::string d = directive_of(patch);
  if (d == "replace") {
    dst = without_directives(patch);
    return {};
  }
  if (d == "delete") {
    dst = nullptr;  // the caller removes it
    return {};
  }
  if (!d.empty() && d != "merge") {
    return std::unexpected(c.where() + ": unknown $patch directive \"" + d + "\"");
  }
  for (const auto& [k, v] : patch.items()) {
    if (k.starts_with(kDeleteFromPrimitiveList)) {
      const std::string field = k.substr(kDeleteFromPrimitiveList.size());
      if (dst.contains(field) && dst[field].is_array() && v.is_array()) {
        json kept = json::array();
        for (const auto& e : dst[field]) {
          if (std::find(v.begin(), v.end(), e) == v.end()) kept.push_back(e);
        }
        dst[field] = std::move(kept);
      }
      continue;
    }
    if (k.starts_with("$")) continue;  // $patch, $retainKeys, $setElementOrder/...
    if (v.is_null()) {
      dst.erase(k);
      continue;
    }
    c.path.push_back(k);
    json& slot = dst[k];
    auto r = merge_value(slot, v, c);
    c.path.pop_back();
    if (!r) return r;
    if (slot.is_null()) dst.erase(k);  // `$patch: delete` of a mapping
  }
  if (auto it = patch.find(std::string(kRetainKeys)); it != patch.end() && it->is_array()) {
    for (auto k = dst.begin(); k != dst.end();) {
      if (std::find(it->begin(), it->end(), json(k.key())) == it->end()) {
        k = dst.erase(k);
      } else {
        ++k;
      }
    }
  }
  return {};
}

// ---- RFC 6902 ----

std::optional<std::vector<std::string>> parse_pointer(const std::string& p) {
  std::vector<std::string> out;
  if (p.empty()) return out;
  if (p[0] != '/') return std::nullopt;
  std::size_t i = 1;
  for (;;) {
    std::size_t end = p.find('/', i);
    std::string seg = p.substr(i, end == std::string::npos ? std::string::npos : end - i);
    std::string unescaped;
    for (std::size_t k = 0; k < seg.size(); ++k) {
      if (seg[k] == '~' && k + 1 < seg.size() && (seg[k + 1] == '0' || seg[k + 1] == '1')) {
        unescaped += seg[k + 1] == '0' ? '~' : '/';
        ++k;
      } else {
        unescaped += seg[k];
      }
    }
    out.push_back(std::move(unescaped));
    if (end == std::string::npos) break;
    i = end + 1;
  }
  return out;
}

std::optional<std::size_t> array_index(const std::string& seg, std::size_t size, bool allow_end) {
  if (seg == "-") return allow_end ? std::optional<std::size_t>(size) : std::nullopt;
  if (seg.empty() || seg.size() > 9 || !std::all_of(seg.begin(), seg.end(), ::isdigit) ||
      (seg.size() > 1 && seg[0] == '0')) {
    return std::nullopt;
  }
  const std::size_t i = std::stoul(seg);
  if (i > size || (!allow_end && i == size)) return std::nullopt;
  return i;
}

json* resolve(json& doc, const std::vector<std::string>& path, std::size_t n) {
  json* cur = &doc;
  for (std::size_t i = 0; i < n; ++i) {
    if (cur->is_object()) {
      auto it = cur->find(path[i]);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      auto idx = array_index(path[i], cur->size(), false);
      if (!idx) return nullptr;
      cur = &(*cur)[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

std::expected<void, std::string> add_at(json& doc, const std::vector<std::string>& path, json v) {
  if (path.empty()) {
    doc = std::move(v);
    return {};
  }
  json* parent = resolve(doc, path, path.size() - 1);
  if (!parent) return std::unexpected("the parent does not exist");
  if (parent->is_object()) {
    (*parent)[path.back()] = std::move(v);
    return {};
  }
  if (parent->is_array()) {
    auto idx = array_index(path.back(), parent->size(), true);
    if (!idx) return std::unexpected("the index is out of range");
    parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(*idx), std::move(v));
    return {};
  }
  return std::unexpected("the parent is not a mapping or a list");
}

std::expected<json, std::string> remove_at(json& doc, const std::vector<std::string>& path) {
  if (path.empty()) return std::unexpected("cannot remove the whole document");
  json* parent = resolve(doc, path, path.size() - 1);
  if (!parent) return std::unexpected("the path does not exist");
  if (parent->is_object()) {
    auto it = parent->find(path.back());
    if (it == parent->end()) return std::unexpected("the path does not exist");
    json v = std::move(*it);
    parent->erase(it);
    return v;
  }
  if (parent->is_array()) {
    auto idx = array_index(path.back(), parent->size(), false);
    if (!idx) return std::unexpected("the index is out of range");
    json v = std::move((*parent)[*idx]);
    parent->erase(*idx);
    return v;
  }
  return std::unexpected("the path does not exist");
}

std::expected<void, std::string> apply_op(json& doc, const json& op) {
  if (!op.is_object() || !op.contains("op") || !op["op"].is_string() || !op.contains("path") ||
      !op["path"].is_string()) {
    return std::unexpected("an operation needs op and path");
  }
  const std::string name = op["op"].get<std::string>();
  auto path = parse_pointer(op["path"].get<std::string>());
  if (!path) return std::unexpected("path is not a JSON pointer");
  auto from = [&]() -> std::optional<std::vector<std::string>> {
    if (!op.contains("from") || !op["from"].is_string()) return std::nullopt;
    return parse_pointer(op["from"].get<std::string>());
  };
  if (name == "add") {
    if (!op.contains("value")) return std::unexpected("add needs a value");
    return add_at(doc, *path, op["value"]);
  }
  if (name == "remove") {
    auto r = remove_at(doc, *path);
    if (!r) return std::unexpected(r.error());
    return {};
  }
  if (name == "replace") {
    if (!op.contains("value")) return std::unexpected("replace needs a value");
    json* target = resolve(doc, *path, path->size());
    if (!target) return std::unexpected("the path does not exist");
    *target = op["value"];
    return {};
  }
  if (name == "move" || name == "copy") {
    auto f = from();
    if (!f) return std::unexpected(name + " needs from, a JSON pointer");
    json v;
    if (name == "move") {
      auto r = remove_at(doc, *f);
      if (!r) return std::unexpected("from: " + r.error());
      v = std::move(*r);
    } else {
      json* src = resolve(doc, *f, f->size());
      if (!src) return std::unexpected("from: the path does not exist");
      v = *src;
    }
    return add_at(doc, *path, std::move(v));
  }
  if (name == "test") {
    json* target = resolve(doc, *path, path->size());
    if (!target || !op.contains("value") || *target != op["value"]) {
      return std::unexpected("the test failed");
    }
    return {};
  }
  return std::unexpected("unknown op \"" + name + "\"");
}

}  // namespace

std::expected<json, std::string> strategic_merge(const json& target, const json& patch) {
  if (!patch.is_object()) return std::unexpected("a strategic merge patch must be a mapping");
  Context c;
  c.builtin = is_builtin(target);
  if (target.contains("kind") && target["kind"].is_string()) c.kind = target["kind"];
  json out = target;
  if (auto r = merge_map(out, patch, c); !r) return std::unexpected(r.error());
  return out;
}

std::expected<json, std::string> json_patch(const json& target, const json& operations) {
  if (!operations.is_array()) return std::unexpected("a JSON patch must be a list of operations");
  json out = target;
  for (std::size_t i = 0; i < operations.size(); ++i) {
    if (auto r = apply_op(out, operations[i]); !r) {
      std::string path;
      if (operations[i].is_object() && operations[i].contains("path") &&
          operations[i]["path"].is_string()) {
        path = " (" + operations[i]["path"].get<std::string>() + ")";
      }
      return std::unexpected("operation " + std::to_string(i) + path + ": " + r.error());
    }
  }
  return out;
}

}  // namespace cairn::manifest
