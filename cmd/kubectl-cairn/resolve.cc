#include "resolve.h"

#include <algorithm>
#include <cctype>

namespace cairn::cli {

using cairn::json;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string str(const json& o, const char* key) {
  if (!o.is_object()) return {};
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool names(const Resource& r, const std::string& t) {
  if (t == r.resource || t == lower(r.kind) || (!r.singular.empty() && t == r.singular)) {
    return true;
  }
  for (const auto& s : r.short_names) {
    if (t == s) return true;
  }
  return false;
}

// A version string such as v1, v2beta1, v1alpha3.
bool looks_like_version(std::string_view s) {
  return s.size() >= 2 && s[0] == 'v' && std::isdigit(static_cast<unsigned char>(s[1]));
}

}  // namespace

void add_resource_list(std::vector<Resource>& out, const json& list) {
  if (!list.is_object()) return;
  std::string gv = str(list, "groupVersion");
  if (gv.empty()) return;
  std::string group, version = gv;
  if (auto slash = gv.find('/'); slash != std::string::npos) {
    group = gv.substr(0, slash);
    version = gv.substr(slash + 1);
  }
  auto it = list.find("resources");
  if (it == list.end() || !it->is_array()) return;
  for (const auto& r : *it) {
    Resource res;
    res.group = group;
    res.version = version;
    res.resource = str(r, "name");
    if (res.resource.empty() || res.resource.find('/') != std::string::npos) continue;
    res.kind = str(r, "kind");
    res.singular = str(r, "singularName");
    if (r.is_object() && r.contains("namespaced") && r["namespaced"].is_boolean()) {
      res.namespaced = r["namespaced"].get<bool>();
    }
    if (r.is_object() && r.contains("shortNames") && r["shortNames"].is_array()) {
      for (const auto& s : r["shortNames"]) {
        if (s.is_string()) res.short_names.push_back(s.get<std::string>());
      }
    }
    out.push_back(std::move(res));
  }
}

std::vector<std::string> group_versions(const json& group_list, bool preferred_only) {
  std::vector<std::string> out;
  if (!group_list.is_object() || !group_list.contains("groups") ||
      !group_list["groups"].is_array()) {
    return out;
  }
  for (const auto& g : group_list["groups"]) {
    if (!g.is_object()) continue;
    std::string preferred = str(g.value("preferredVersion", json::object()), "groupVersion");
    if (preferred_only) {
      if (!preferred.empty()) out.push_back(preferred);
      continue;
    }
    if (!g.contains("versions") || !g["versions"].is_array()) continue;
    for (const auto& v : g["versions"]) {
      std::string gv = str(v, "groupVersion");
      if (!gv.empty() && gv != preferred) out.push_back(gv);
    }
  }
  return out;
}

std::expected<Resource, std::string> resolve_kind(std::string_view typed,
                                                  const std::vector<Resource>& known) {
  const std::string t = lower(typed);
  struct Try {
    std::string name, version, group;
    bool has_group;
  };
  std::vector<Try> tries;
  auto dot = t.find('.');
  if (dot == std::string::npos) {
    tries.push_back({t, "", "", false});
  } else {
    std::string name = t.substr(0, dot), rest = t.substr(dot + 1);
    // "deployments.v1.apps": a version, then the group; "deployments.apps",
    // and groups with dots ("releases.cairn.dev"), are a group.
    if (auto dot2 = rest.find('.');
        dot2 != std::string::npos && looks_like_version(rest.substr(0, dot2))) {
      tries.push_back({name, rest.substr(0, dot2), rest.substr(dot2 + 1), true});
    }
    tries.push_back({name, "", rest, true});
  }
  for (const auto& k : tries) {
    for (const auto& r : known) {
      if (k.has_group && lower(r.group) != k.group) continue;
      if (!k.version.empty() && r.version != k.version) continue;
      if (names(r, k.name)) return r;
    }
  }
  return std::unexpected("the server has no resource type \"" + std::string(typed) +
                         "\"; `kubectl api-resources` lists the kinds it knows");
}

}  // namespace cairn::cli
