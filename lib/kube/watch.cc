#include "kube/watch.h"

#include "kube/util.h"

namespace cairn::kube {

namespace {

using json = cairn::json;

std::string string_or(const json& obj, const char* key, std::string fallback = {}) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Empty when the object's metadata has the shape the informer and its store
// read, else what is wrong with it.
std::string check_metadata(const json& obj) {
  auto md = obj.find("metadata");
  if (md == obj.end()) return {};
  if (!md->is_object()) return "the object's metadata is not a mapping";
  for (const char* k : {"name", "namespace", "resourceVersion", "uid"}) {
    if (auto v = md->find(k); v != md->end() && !v->is_string())
      return std::string("the object's metadata.") + k + " is not a string";
  }
  if (auto labels = md->find("labels"); labels != md->end() && !labels->is_null()) {
    if (!labels->is_object()) return "the object's metadata.labels is not a mapping";
    for (const auto& [k, v] : labels->items()) {
      if (!v.is_string()) return "the object's metadata.labels has a value that is not a string";
    }
  }
  return {};
}

}  // namespace

std::expected<WatchEvent, std::string> parse_watch_event(std::string_view line,
                                                         bool trim_managed_fields) {
  json ev =
      trim_managed_fields ? parse_without_managed_fields(line) : json::parse(line, nullptr, false);
  if (ev.is_discarded() || !ev.is_object())
    return std::unexpected("watch sent a line that is not a JSON object");
  auto type = ev.find("type");
  if (type == ev.end() || !type->is_string() || type->get_ref<const std::string&>().empty())
    return std::unexpected("watch event without a type");
  auto obj = ev.find("object");
  if (obj == ev.end() || !obj->is_object()) return std::unexpected("watch event without an object");
  WatchEvent out;
  out.type = type->get<std::string>();
  out.object = std::move(*obj);
  if (out.type == "ERROR") {
    const json& st = out.object;
    auto code = st.find("code");
    const std::string reason = string_or(st, "reason");
    out.gone = (code != st.end() && code->is_number_integer() && code->get<int64_t>() == 410) ||
               reason == "Expired" || reason == "Gone";
    out.message = string_or(st, "message", "unknown");
    return out;
  }
  if (auto why = check_metadata(out.object); !why.empty())
    return std::unexpected("watch event (" + out.type + "): " + why);
  if (auto md = out.object.find("metadata"); md != out.object.end())
    out.resource_version = string_or(*md, "resourceVersion");
  return out;
}

}  // namespace cairn::kube
