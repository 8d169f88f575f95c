#include "objdiff.h"

#include <set>

#include "manifest/kustomize.h"
#include "udiff.h"

namespace cairn::cli {

namespace {

using json = cairn::json;

constexpr const char* kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

bool is_secret(const json* obj) {
  return obj && obj->is_object() && obj->value("kind", "") == "Secret" &&
         obj->value("apiVersion", "") == "v1";
}

// The size of a value: decoded for data (base64), as written for stringData.
std::size_t value_size(const json& v, bool base64) {
  if (!v.is_string()) return v.dump().size();
  const std::string& s = v.get_ref<const std::string&>();
  if (!base64) return s.size();
  std::size_t pad = 0;
  for (auto it = s.rbegin(); it != s.rend() && *it == '='; ++it) ++pad;
  return s.size() / 4 * 3 - std::min<std::size_t>(pad, 2);
}

std::string marker(const json& v, bool base64, const char* side) {
  return "<redacted: " + std::to_string(value_size(v, base64)) + " bytes" + side + ">";
}

void redact_field(json* live, json* cairn, const char* field) {
  const bool base64 = std::string_view(field) == "data";
  json empty = json::object();
  json* l = live && live->contains(field) && (*live)[field].is_object() ? &(*live)[field] : &empty;
  json* c =
      cairn && cairn->contains(field) && (*cairn)[field].is_object() ? &(*cairn)[field] : &empty;
  std::set<std::string> keys;
  for (auto it = l->begin(); it != l->end(); ++it) keys.insert(it.key());
  for (auto it = c->begin(); it != c->end(); ++it) keys.insert(it.key());
  for (const std::string& k : keys) {
    const bool in_l = l->contains(k), in_c = c->contains(k);
    // Compared before either is replaced: equal values must look equal.
    const bool same = in_l && in_c && (*l)[k] == (*c)[k];
    if (in_l) (*l)[k] = marker((*l)[k], base64, same || !in_c ? "" : " (before)");
    if (in_c) (*c)[k] = marker((*c)[k], base64, same || !in_l ? "" : " (after)");
  }
}

void redact_last_applied(json* obj) {
  if (!obj || !obj->contains("metadata")) return;
  json& md = (*obj)["metadata"];
  if (md.contains("annotations") && md["annotations"].is_object() &&
      md["annotations"].contains(kLastApplied)) {
    md["annotations"][kLastApplied] = "<redacted>";
  }
}

}  // namespace

json without_server_fields(json obj) {
  if (!obj.is_object()) return obj;
  if (obj.contains("metadata") && obj["metadata"].is_object()) {
    for (const char* k : {"managedFields", "resourceVersion", "generation", "uid",
                          "creationTimestamp", "selfLink"}) {
      obj["metadata"].erase(k);
    }
  }
  obj.erase("status");
  return obj;
}

void redact_secret_values(json* live, json* cairn) {
  if (!is_secret(live) && !is_secret(cairn)) return;
  json* l = is_secret(live) ? live : nullptr;
  json* c = is_secret(cairn) ? cairn : nullptr;
  for (const char* field : {"data", "stringData"}) redact_field(l, c, field);
  redact_last_applied(l);
  redact_last_applied(c);
}

std::string object_label(const json& obj) {
  const json md = obj.value("metadata", json::object());
  const std::string ns = md.value("namespace", "");
  return obj.value("kind", "") + "/" + (ns.empty() ? "" : ns + "/") + md.value("name", "");
}

std::string object_diff(const json* live, const json* cairn) {
  std::optional<json> l, c;
  if (live) l = without_server_fields(*live);
  if (cairn) c = without_server_fields(*cairn);
  redact_secret_values(l ? &*l : nullptr, c ? &*c : nullptr);
  auto yaml = [](const std::optional<json>& o) {
    return o ? manifest::to_yaml({manifest::KObject{*o, ""}}) : std::string();
  };
  const std::string label = object_label(c ? *c : l ? *l : json::object());
  return unified_diff(yaml(l), yaml(c), "live/" + label, "cairn/" + label);
}

}  // namespace cairn::cli
