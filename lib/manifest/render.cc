#include "manifest/render.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "api/names.h"

namespace cairn::manifest {

using json = cairn::json;

namespace {

// ---- YAML scalars ----

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Go's strconv.ParseUint(s, 0, 64) on an unsigned digit string (no sign):
// 0x/0X hex, 0o/0O octal, 0b/0B binary, a leading 0 octal, else decimal.
std::optional<std::uint64_t> parse_unsigned(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (UINT64_MAX - static_cast<std::uint64_t>(d)) / static_cast<std::uint64_t>(base)) {
      return std::nullopt;  // overflow
    }
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
  }
  return v;
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ (go-yaml's yamlStyleFloat)
bool is_yaml_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  std::size_t frac_digits = 0;
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && !(dot && frac_digits > 0)) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// The offset of the first byte that is not part of a well-formed UTF-8
// character (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF)
// or is a NUL (unless `nul_ok`), or npos.
std::size_t invalid_utf8_at(std::string_view s, bool nul_ok = false) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    // Text has no NUL (a file with one, yaml-cpp takes for UTF-16 or UTF-32).
    if (c == 0 && !nul_ok) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + n >= s.size()) return i;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

// yaml-cpp 0.7 writes the escapes \N and \_ of a double-quoted scalar as the
// single bytes 0x85 and 0xA0 instead of U+0085 and U+00A0 in UTF-8 (found by
// tests/fuzz/manifest_fuzz.cc: the object could not be written as JSON). The
// file is UTF-8 (checked first), so such a lone byte came from one of them:
// encode it. False if the text is still not UTF-8.
bool repair_yaml_cpp_escapes(std::string& s) {
  if (invalid_utf8_at(s, true) == std::string_view::npos) return true;
  std::string out;
  std::string_view rest = s;
  for (;;) {
    const std::size_t bad = invalid_utf8_at(rest, true);
    if (bad == std::string_view::npos) break;
    const auto b = static_cast<unsigned char>(rest[bad]);
    if (b != 0x85 && b != 0xA0) return false;
    out.append(rest.substr(0, bad));
    out.push_back('\xC2');
    out.push_back(rest[bad]);
    rest.remove_prefix(bad + 1);
  }
  out.append(rest);
  s = std::move(out);
  return true;
}

struct ScalarError {
  std::string message;
};

// A plain (unquoted, untagged) scalar as sigs.k8s.io/yaml resolves it, except
// that YAML 1.1's yes/no/on/off/y/n stay strings.
std::expected<json, ScalarError> resolve_plain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return json(nullptr);
  if (s == "true" || s == "True" || s == "TRUE") return json(true);
  if (s == "false" || s == "False" || s == "FALSE") return json(false);
  static const char* const kSpecial[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                                         "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
  for (const char* sp : kSpecial) {
    if (s == sp) {
      return std::unexpected(ScalarError{
          "infinity and NaN cannot be represented in JSON; quote the value if it is a string"});
    }
  }
  const char c = s[0];
  if (!is_digit(c) && c != '-' && c != '+' && c != '.') return json(s);

  std::string plain;
  plain.reserve(s.size());
  for (char ch : s) {
    if (ch != '_') plain.push_back(ch);
  }
  if (!plain.empty() && c != '.') {
    std::string_view digits = plain;
    bool negative = false;
    if (digits[0] == '-' || digits[0] == '+') {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (auto u = parse_unsigned(digits)) {
      if (!negative) {
        if (*u <= static_cast<std::uint64_t>(INT64_MAX)) return json(static_cast<std::int64_t>(*u));
        return json(*u);
      }
      if (*u <= static_cast<std::uint64_t>(INT64_MAX)) return json(-static_cast<std::int64_t>(*u));
      if (*u == static_cast<std::uint64_t>(INT64_MAX) + 1) return json(INT64_MIN);
      // A negative number below int64: a float, as in Go.
    }
  }
  if (is_yaml_float(plain)) {
    errno = 0;
    char* end = nullptr;
    double d = std::strtod(plain.c_str(), &end);
    if (errno != ERANGE && end == plain.c_str() + plain.size() && std::isfinite(d)) return json(d);
  }
  return json(s);
}

// ---- YAML events to JSON ----

// Thrown by the event handler to stop the parser at a node.
struct NodeError {
  YAML::Mark mark;
  std::string message;
};

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "a mapping";
    default:
      return "not a mapping";
  }
}

// One YAML document as JSON. Aliases are expanded by copying, within a
// budget of kMaxAliasNodes copied nodes; nesting is limited to kMaxDepth.
class JsonBuilder : public YAML::EventHandler {
 public:
  json root;
  int start_line = 0;  // 1-based
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override {
    start_line = mark.line + 1;
    start = mark;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(mark, json(nullptr), 1, 0, anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      throw NodeError{mark, "an alias refers to the node that contains it (a recursive alias)"};
    }
    const Anchored& a = it->second;
    if (static_cast<int>(stack_.size()) + a.height > kMaxDepth) {
      throw NodeError{mark, "nesting deeper than " + std::to_string(kMaxDepth) + " levels"};
    }
    charge(mark, a.nodes);
    add(mark, a.value, a.nodes, a.height, YAML::NullAnchor);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (tag == "?" && value == "<<" && expecting_key()) {
      stack_.back().merge_next = true;
      stack_.back().have_key = true;
      return;
    }
    if (invalid_utf8_at(value, true) == std::string_view::npos) {
      add(mark, scalar(mark, tag, value), 1, 0, anchor);
      return;
    }
    std::string text = value;
    if (!repair_yaml_cpp_escapes(text)) {
      throw NodeError{mark,
                      "a scalar whose escapes do not make UTF-8 text; write the characters "
                      "themselves"};
    }
    add(mark, scalar(mark, tag, text), 1, 0, anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    check_collection_tag(mark, tag, "seq");
    open(mark, json::array(), anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    check_collection_tag(mark, tag, "map");
    open(mark, json::object(), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    json value;
    YAML::Mark mark;
    YAML::anchor_t anchor = YAML::NullAnchor;
    std::size_t nodes = 1;
    int height = 1;
    // Mappings: the pending key, and the mappings merged in with `<<`.
    bool have_key = false;
    bool merge_next = false;
    std::string key;
    std::vector<json> merges;
  };
  struct Anchored {
    json value;
    std::size_t nodes = 0;
    int height = 0;
  };

  bool expecting_key() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().have_key;
  }

  void charge(const YAML::Mark& mark, std::size_t nodes) {
    copied_ += nodes;
    if (copied_ > kMaxAliasNodes) {
      throw NodeError{mark, "anchors and aliases expand to more than " +
                                std::to_string(kMaxAliasNodes) +
                                " nodes (an alias bomb?); write the values out instead"};
    }
  }

  static void check_collection_tag(const YAML::Mark& mark, const std::string& tag,
                                   std::string_view kind) {
    if (tag == "?" || tag == "!" || tag == std::string(kTagPrefix) + std::string(kind)) return;
    throw NodeError{mark, "unsupported tag " + tag};
  }

  json scalar(const YAML::Mark& mark, const std::string& tag, const std::string& value) {
    if (tag == "!") return json(value);  // quoted, block or `!`-tagged: a string
    auto resolved = resolve_plain(value);
    if (tag == "?") {
      if (!resolved) throw NodeError{mark, resolved.error().message};
      return *resolved;
    }
    if (tag.rfind(kTagPrefix, 0) != 0) throw NodeError{mark, "unsupported tag " + tag};
    const std::string t = tag.substr(kTagPrefix.size());
    if (t == "str" || t == "timestamp") return json(value);
    if (!resolved) throw NodeError{mark, resolved.error().message};
    if (t == "null" && resolved->is_null()) return *resolved;
    if (t == "bool" && resolved->is_boolean()) return *resolved;
    if (t == "int" && resolved->is_number_integer()) return *resolved;
    if (t == "float" && resolved->is_number()) return json(resolved->get<double>());
    if (t == "null" || t == "bool" || t == "int" || t == "float") {
      throw NodeError{mark, "the value tagged !!" + t + " is not a valid " + t};
    }
    throw NodeError{mark, "unsupported tag !!" + t};
  }

  void open(const YAML::Mark& mark, json value, YAML::anchor_t anchor) {
    if (expecting_key()) {
      throw NodeError{mark, "a mapping or list as a mapping key is not supported"};
    }
    if (static_cast<int>(stack_.size()) + 1 > kMaxDepth) {
      throw NodeError{mark, "nesting deeper than " + std::to_string(kMaxDepth) + " levels"};
    }
    Frame f;
    f.value = std::move(value);
    f.mark = mark;
    f.anchor = anchor;
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    for (auto& m : f.merges) {
      for (auto& [k, v] : m.items()) {
        if (!f.value.contains(k)) f.value[k] = v;
      }
    }
    add(f.mark, std::move(f.value), f.nodes, f.height, f.anchor);
  }

  static std::string key_string(const YAML::Mark& mark, const json& v) {
    switch (v.type()) {
      case json::value_t::string:
        return v.get<std::string>();
      case json::value_t::boolean:
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float:
        return v.dump();
      case json::value_t::null:
        throw NodeError{mark, "a mapping key is null"};
      default:
        throw NodeError{mark, "a mapping or list as a mapping key is not supported"};
    }
  }

  void add(const YAML::Mark& mark, json v, std::size_t nodes, int height, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      charge(mark, nodes);
      anchors_[anchor] = Anchored{v, nodes, height};
    }
    if (stack_.empty()) {
      root = std::move(v);
      return;
    }
    Frame& top = stack_.back();
    top.nodes += nodes;
    top.height = std::max(top.height, height + 1);
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
      return;
    }
    if (!top.have_key) {
      top.key = key_string(mark, v);
      top.have_key = true;
      return;
    }
    top.have_key = false;
    if (top.merge_next) {
      top.merge_next = false;
      bool ok = v.is_object();
      if (v.is_array()) {
        ok = std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); });
      }
      if (!ok) {
        throw NodeError{mark,
                        "the value of a merge key (<<) must be a mapping or a list of mappings"};
      }
      if (v.is_object()) {
        top.merges.push_back(std::move(v));
      } else {
        for (auto& e : v) top.merges.push_back(std::move(e));
      }
      return;
    }
    if (top.value.contains(top.key)) {
      throw NodeError{mark, "mapping key \"" + top.key + "\" is repeated"};
    }
    top.value[top.key] = std::move(v);
  }

  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::size_t copied_ = 0;
};

// ---- objects ----

struct Located {
  std::size_t file = 0;  // index into the sorted file list
  int document = 0;      // -1 for JSON files
  int item = -1;         // index in a List's items, -1 when not from a List
  int line = 0;
  int rank = 0;
  json object;
};

struct Renderer {
  const RenderInput& in;
  std::vector<const git::File*> files;
  std::vector<RenderError> errors;
  std::vector<Located> objects;
  std::size_t dropped_errors = 0;
  bool too_many = false;

  void error(std::size_t file, int document, int line, int column, std::string message) {
    if (errors.size() >= kMaxErrors) {
      ++dropped_errors;
      return;
    }
    errors.push_back({files[file]->path, document, line, column, std::move(message)});
  }

  std::string prefix_item(int item) const {
    return item < 0 ? std::string() : "items[" + std::to_string(item) + "]: ";
  }

  bool namespaced(const std::string& api_version, const std::string& kind) const {
    if (in.is_namespaced) {
      if (auto n = in.is_namespaced(api_version, kind)) return *n;
    }
    return !is_cluster_scoped_kind(api_version, kind);
  }

  // One top-level document (or JSON file).
  void document(std::size_t file, int doc, int line, json v) {
    if (v.is_null()) return;  // empty or comment-only
    if (!v.is_object()) {
      error(file, doc, line, 0,
            "the document is " + json_type_name(v) +
                ", not a mapping (a Kubernetes object with apiVersion, kind and metadata.name)");
      return;
    }
    const json* kind = v.contains("kind") ? &v["kind"] : nullptr;
    const bool listish = kind && kind->is_string() && kind->get<std::string>().ends_with("List") &&
                         v.contains("items");
    if (!listish) {
      object(file, doc, -1, line, std::move(v));
      return;
    }
    json& items = v["items"];
    if (items.is_null()) return;
    if (!items.is_array()) {
      error(file, doc, line, 0, kind->get<std::string>() + ": items is not a list");
      return;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      json& item = items[i];
      const int idx = static_cast<int>(i);
      if (!item.is_object()) {
        error(file, doc, line, 0,
              prefix_item(idx) + "the item is " + json_type_name(item) + ", not a mapping");
        continue;
      }
      if (item.contains("kind") && item["kind"].is_string() &&
          item["kind"].get<std::string>().ends_with("List") && item.contains("items")) {
        error(file, doc, line, 0, prefix_item(idx) + "a List inside a List is not supported");
        continue;
      }
      object(file, doc, idx, line, std::move(item));
      if (too_many) return;
    }
  }

  void object(std::size_t file, int doc, int item, int line, json obj) {
    if (too_many) return;
    const std::string at = prefix_item(item);
    std::vector<std::string> missing;
    for (const char* field : {"apiVersion", "kind"}) {
      if (!obj.contains(field) || obj[field].is_null() ||
          (obj[field].is_string() && obj[field].get<std::string>().empty())) {
        missing.push_back(field);
      } else if (!obj[field].is_string()) {
        error(file, doc, line, 0,
              at + field + " is " + json_type_name(obj[field]) + ", not a string");
        return;
      }
    }
    json* meta = obj.contains("metadata") ? &obj["metadata"] : nullptr;
    if (meta && !meta->is_null() && !meta->is_object()) {
      error(file, doc, line, 0, at + "metadata is " + json_type_name(*meta) + ", not a mapping");
      return;
    }
    const json* name =
        meta && meta->is_object() && meta->contains("name") ? &(*meta)["name"] : nullptr;
    if (!name || name->is_null() || (name->is_string() && name->get<std::string>().empty())) {
      missing.push_back("metadata.name");
    } else if (!name->is_string()) {
      error(file, doc, line, 0,
            at + "metadata.name is " + json_type_name(*name) + ", not a string");
      return;
    }
    if (!missing.empty()) {
      std::string m = at + "no " + missing[0];
      for (std::size_t i = 1; i < missing.size(); ++i) {
        m += (i + 1 == missing.size() ? " or " : ", ") + missing[i];
      }
      if (missing.size() == 3) {
        m += " (not a Kubernetes object: keep only manifests under the Release's path)";
      } else if (missing.size() == 1 && missing[0] == "metadata.name" && meta &&
                 meta->is_object() && meta->contains("generateName")) {
        m += " (generateName is not supported: objects that Cairn applies need a fixed name)";
      }
      const std::string& path = files[file]->path;
      const std::string base = path.substr(path.rfind('/') + 1);
      if (base == "kustomization.yaml" || base == "kustomization.yml" ||
          (obj.contains("kind") && obj["kind"] == "Kustomization" && obj.contains("apiVersion") &&
           obj["apiVersion"].is_string() &&
           obj["apiVersion"].get<std::string>().starts_with("kustomize.config.k8s.io/"))) {
        m = at +
            "kustomization files are not supported: Cairn applies plain manifests; commit the "
            "output of `kustomize build` instead, or keep kustomization.yaml out of the "
            "Release's path";
      }
      error(file, doc, line, 0, m);
      return;
    }

    const std::string api_version = obj["apiVersion"].get<std::string>();
    const std::string kind_s = obj["kind"].get<std::string>();
    const std::string name_s = (*meta)["name"].get<std::string>();
    if (std::count(api_version.begin(), api_version.end(), '/') > 1 || api_version.front() == '/' ||
        api_version.back() == '/') {
      error(file, doc, line, 0, at + "apiVersion \"" + api_version + "\" is not group/version");
      return;
    }
    const std::string what = at + kind_s + " " + name_s;

    for (const char* field : {"namespace", "labels", "annotations"}) {
      if (!meta->contains(field) || (*meta)[field].is_null()) continue;
      const bool ok = std::string_view(field) == "namespace" ? (*meta)[field].is_string()
                                                             : (*meta)[field].is_object();
      if (!ok) {
        error(file, doc, line, 0,
              what + ": metadata." + field + " is " + json_type_name((*meta)[field]) + ", not " +
                  (std::string_view(field) == "namespace" ? "a string" : "a mapping"));
        return;
      }
    }

    // Scope and namespace.
    if (namespaced(api_version, kind_s)) {
      std::string ns;
      if (meta->contains("namespace") && (*meta)["namespace"].is_string()) {
        ns = (*meta)["namespace"].get<std::string>();
      }
      if (ns.empty()) ns = in.release_namespace;
      if (ns != in.release_namespace && !in.cluster_scope) {
        error(file, doc, line, 0,
              what + " is in namespace \"" + ns + "\", not the Release's namespace \"" +
                  in.release_namespace +
                  "\": set spec.clusterScope: true on the Release to manage other namespaces, "
                  "or move the object to namespace \"" +
                  in.release_namespace + "\" (or leave metadata.namespace out)");
        return;
      }
      (*meta)["namespace"] = ns;
    } else {
      if (!in.cluster_scope) {
        error(file, doc, line, 0,
              what +
                  " is cluster-scoped: set spec.clusterScope: true on the Release to manage "
                  "cluster-scoped objects, or move the object to a Release that has it");
        return;
      }
      meta->erase("namespace");
    }

    stamp(obj, files[file]->path);
    default_protocols(obj, api_group(api_version), kind_s);

    Located l;
    l.file = file;
    l.document = doc;
    l.item = item;
    l.line = line;
    l.rank = apply_rank(kind_s);
    l.object = std::move(obj);
    objects.push_back(std::move(l));
    if (objects.size() > in.max_documents) {
      too_many = true;
      errors.clear();
      dropped_errors = 0;
      errors.push_back({"", -1, 0, 0,
                        "more than " + std::to_string(in.max_documents) +
                            " objects under the Release's path (the limit); split the "
                            "manifests across several Releases"});
    }
  }

  void stamp(json& obj, const std::string& path) const {
    json& meta = obj["metadata"];
    json& annotations = meta["annotations"];
    if (annotations.is_null()) annotations = json::object();
    annotations[std::string(api::kCommitAnnotation)] = in.commit;
    annotations[std::string(api::kSourceAnnotation)] = in.source_url;
    annotations[std::string(api::kPathAnnotation)] = path;
    annotations[std::string(api::kReleaseAnnotation)] =
        in.release_namespace + "/" + in.release_name;
    json& labels = meta["labels"];
    if (labels.is_null()) labels = json::object();
    labels[std::string(api::kManagedByLabel)] = std::string(api::kManagedByValue);
  }

  static json* child(json& j, std::initializer_list<const char*> path) {
    json* cur = &j;
    for (const char* p : path) {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(p);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    }
    return cur;
  }

  static void default_port_protocols(json* ports) {
    if (!ports || !ports->is_array()) return;
    for (json& p : *ports) {
      if (p.is_object() && (!p.contains("protocol") || p["protocol"].is_null())) {
        p["protocol"] = "TCP";
      }
    }
  }

  static void default_pod_spec(json* spec) {
    if (!spec || !spec->is_object()) return;
    for (const char* list : {"containers", "initContainers"}) {
      json* containers = child(*spec, {list});
      if (!containers || !containers->is_array()) continue;
      for (json& c : *containers) default_port_protocols(child(c, {"ports"}));
    }
  }

  static void default_protocols(json& obj, const std::string& group, const std::string& kind) {
    if (group.empty() && kind == "Service") {
      default_port_protocols(child(obj, {"spec", "ports"}));
    } else if (group.empty() && kind == "Pod") {
      default_pod_spec(child(obj, {"spec"}));
    } else if (group.empty() && kind == "PodTemplate") {
      default_pod_spec(child(obj, {"template", "spec"}));
    } else if (group == "batch" && kind == "CronJob") {
      default_pod_spec(child(obj, {"spec", "jobTemplate", "spec", "template", "spec"}));
    } else if ((group.empty() && kind == "ReplicationController") ||
               ((group == "apps" || group == "extensions") &&
                (kind == "Deployment" || kind == "ReplicaSet" || kind == "DaemonSet" ||
                 kind == "StatefulSet")) ||
               (group == "batch" && kind == "Job")) {
      default_pod_spec(child(obj, {"spec", "template", "spec"}));
    }
  }

  void yaml_file(std::size_t file) {
    std::istringstream stream(files[file]->content);
    YAML::Parser parser(stream);
    int doc = 0;
    int last_start = -1;
    for (;; ++doc) {
      JsonBuilder builder;
      try {
        if (!parser.HandleNextDocument(builder)) break;
        // yaml-cpp 0.7 does not consume a ',' outside a flow collection: it
        // returns an empty document there again and again, for ever
        // (jbeder/yaml-cpp#1040). A document that starts where the last one
        // did is that.
        if (builder.start.pos == last_start) {
          error(file, doc - 1, builder.start.line + 1, builder.start.column + 1,
                "the YAML parser cannot read past this point (a ',' outside [...] or {...}?); "
                "fix the syntax here");
          return;
        }
        last_start = builder.start.pos;
      } catch (const NodeError& e) {
        error(file, doc, e.mark.line + 1, e.mark.column + 1, e.message);
        return;
      } catch (const YAML::Exception& e) {
        // yaml-cpp quotes bytes of the input in some messages ("unknown
        // escape character: X", a single byte of a UTF-8 character): keep
        // printable ASCII only, so the message is valid UTF-8 in a condition.
        std::string msg = e.msg;
        for (char& ch : msg) {
          const auto u = static_cast<unsigned char>(ch);
          if (u < 0x20 || u >= 0x7f) ch = '?';
        }
        if (e.mark.is_null()) {
          error(file, doc, 0, 0, msg);
        } else {
          error(file, doc, e.mark.line + 1, e.mark.column + 1, msg);
        }
        return;
      }
      document(file, doc, builder.start_line, std::move(builder.root));
      if (too_many) return;
    }
  }

  struct JsonTooDeep {};

  void json_file(std::size_t file) {
    const std::string& content = files[file]->content;
    if (content.find_first_not_of(" \t\r\n") == std::string::npos) return;  // empty
    json v;
    try {
      v = json::parse(
          content,
          [](int depth, json::parse_event_t event, json&) {
            if ((event == json::parse_event_t::object_start ||
                 event == json::parse_event_t::array_start) &&
                depth >= kMaxDepth) {
              throw JsonTooDeep{};
            }
            return true;
          },
          true, false);
    } catch (const JsonTooDeep&) {
      error(file, -1, 0, 0, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      return;
    } catch (const json::out_of_range&) {
      // "number overflow parsing '1e400'" (found by tests/fuzz/manifest_fuzz.cc:
      // it was thrown out of render): without the number, which may be secret.
      error(file, -1, 0, 0, "a number is too large (beyond +-1.8e308, what JSON numbers can hold)");
      return;
    } catch (const json::parse_error& e) {
      // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ...;
      // last read: '...'": keep neither the id nor the text read (it may be secret).
      std::string m = e.what();
      if (auto p = m.find("] "); p != std::string::npos && m.starts_with("[json.exception")) {
        m = m.substr(p + 2);
      }
      if (auto p = m.find("; last read:"); p != std::string::npos) m.resize(p);
      error(file, -1, 0, 0, m);
      return;
    }
    document(file, -1, 0, std::move(v));
  }
};

}  // namespace

std::string RenderError::to_string() const {
  std::string s = file;
  if (!file.empty() && line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  if (!s.empty()) s += ": ";
  if (document >= 0) s += "document " + std::to_string(document) + ": ";
  return s + message;
}

std::string to_string(const std::vector<RenderError>& errors) {
  std::string s;
  for (const auto& e : errors) {
    if (!s.empty()) s += "\n";
    s += e.to_string();
  }
  return s;
}

std::string api_group(std::string_view api_version) {
  auto p = api_version.find('/');
  return p == std::string_view::npos ? std::string() : std::string(api_version.substr(0, p));
}

bool is_manifest_file(std::string_view path) {
  return path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json");
}

int apply_rank(const std::string& kind) {
  static const std::map<std::string, int, std::less<>> kRanks = {
      {"Namespace", 0},
      {"CustomResourceDefinition", 1},
      // What Pods and other objects need to exist first.
      {"PriorityClass", 2},
      {"StorageClass", 2},
      {"IngressClass", 2},
      {"RuntimeClass", 2},
      {"CSIDriver", 2},
      {"PodSecurityPolicy", 2},
      {"ResourceQuota", 2},
      {"LimitRange", 2},
      {"NetworkPolicy", 2},
      {"ServiceAccount", 3},
      {"ClusterRole", 4},
      {"Role", 4},
      {"ClusterRoleBinding", 5},
      {"RoleBinding", 5},
      {"ConfigMap", 6},
      {"Secret", 6},
      {"PersistentVolume", 7},
      {"PersistentVolumeClaim", 8},
      {"Service", 9},
      {"Endpoints", 9},
      // Workloads.
      {"PodTemplate", 10},
      {"Pod", 10},
      {"ReplicationController", 10},
      {"ReplicaSet", 10},
      {"Deployment", 10},
      {"StatefulSet", 10},
      {"DaemonSet", 10},
      {"Job", 10},
      {"CronJob", 10},
      // What refers to workloads and Services.
      {"HorizontalPodAutoscaler", 11},
      {"PodDisruptionBudget", 11},
      {"Ingress", 11},
      // Everything else (custom resources): 12.
      // Last: the API extensions that route calls to a backend the above runs.
      {"APIService", 13},
      {"ValidatingWebhookConfiguration", 13},
      {"MutatingWebhookConfiguration", 13},
  };
  auto it = kRanks.find(kind);
  return it == kRanks.end() ? 12 : it->second;
}

bool is_cluster_scoped_kind(const std::string& api_version, const std::string& kind) {
  static const std::map<std::string, std::vector<std::string>, std::less<>> kClusterScoped = {
      {"", {"Namespace", "Node", "PersistentVolume", "ComponentStatus"}},
      {"rbac.authorization.k8s.io", {"ClusterRole", "ClusterRoleBinding"}},
      {"apiextensions.k8s.io", {"CustomResourceDefinition"}},
      {"apiregistration.k8s.io", {"APIService"}},
      {"admissionregistration.k8s.io",
       {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}},
      {"storage.k8s.io", {"StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"}},
      {"scheduling.k8s.io", {"PriorityClass"}},
      {"networking.k8s.io", {"IngressClass"}},
      {"extensions", {"PodSecurityPolicy"}},
      {"policy", {"PodSecurityPolicy"}},
      {"node.k8s.io", {"RuntimeClass"}},
      {"certificates.k8s.io", {"CertificateSigningRequest"}},
      {"flowcontrol.apiserver.k8s.io", {"FlowSchema", "PriorityLevelConfiguration"}},
      {"authentication.k8s.io", {"TokenReview"}},
      {"authorization.k8s.io",
       {"SubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview"}},
  };
  auto it = kClusterScoped.find(api_group(api_version));
  if (it == kClusterScoped.end()) return false;
  return std::find(it->second.begin(), it->second.end(), kind) != it->second.end();
}

api::InventoryEntry inventory_entry(const json& obj) {
  auto str = [](const json& j, const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  api::InventoryEntry e;
  if (!obj.is_object()) return e;
  e.api_version = str(obj, "apiVersion");
  e.kind = str(obj, "kind");
  if (auto m = obj.find("metadata"); m != obj.end() && m->is_object()) {
    e.namespace_ = str(*m, "namespace");
    e.name = str(*m, "name");
  }
  return e;
}

std::string identity(const api::InventoryEntry& e) {
  return api_group(e.api_version) + "/" + e.kind + "/" + e.namespace_ + "/" + e.name;
}

std::string identity(const json& obj) { return identity(inventory_entry(obj)); }

std::expected<Rendered, std::vector<RenderError>> render(const RenderInput& in) {
  Renderer r{in, {}, {}, {}, 0, false};
  std::size_t bytes = 0;
  for (const auto& f : in.files) {
    if (!is_manifest_file(f.path)) continue;
    r.files.push_back(&f);
    bytes += f.content.size();
  }
  std::vector<RenderError> too_big;
  for (const git::File* f : r.files) {
    if (f->content.size() > in.max_file_bytes) {
      too_big.push_back({f->path, -1, 0, 0,
                         "the file has " + std::to_string(f->content.size()) +
                             " bytes, more than the limit of " + std::to_string(in.max_file_bytes) +
                             " bytes for one manifest file; split it into smaller files"});
    }
  }
  if (!too_big.empty()) return std::unexpected(std::move(too_big));
  if (bytes > in.max_bytes) {
    return std::unexpected(std::vector<RenderError>{
        {"", -1, 0, 0,
         "the manifests under the Release's path are " + std::to_string(bytes) +
             " bytes, more than the limit of " + std::to_string(in.max_bytes) +
             "; split them across several Releases"}});
  }
  // Objects are sent as JSON, which is UTF-8: a file that is not would render
  // into objects that cannot be written (and yaml-cpp does not check).
  std::vector<RenderError> not_text;
  for (const git::File* f : r.files) {
    if (auto bad = invalid_utf8_at(f->content); bad != std::string::npos) {
      const auto line = 1 + std::count(f->content.begin(),
                                       f->content.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
      const std::string what =
          f->content[bad] == '\0' ? " is a NUL" : " is not part of a UTF-8 character";
      not_text.push_back({f->path, -1, static_cast<int>(line), 0,
                          "the file is not UTF-8 text (byte " + std::to_string(bad + 1) + what +
                              "); save it as UTF-8"});
    }
  }
  if (!not_text.empty()) return std::unexpected(std::move(not_text));
  std::stable_sort(r.files.begin(), r.files.end(),
                   [](const git::File* a, const git::File* b) { return a->path < b->path; });

  for (std::size_t i = 0; i < r.files.size() && !r.too_many; ++i) {
    if (r.files[i]->path.ends_with(".json")) {
      r.json_file(i);
    } else {
      r.yaml_file(i);
    }
  }
  if (r.too_many) return std::unexpected(std::move(r.errors));

  // Duplicates, in file and document order: the later one is the error.
  std::map<std::string, const Located*> seen;
  for (const Located& l : r.objects) {
    const std::string id = identity(l.object);
    auto [it, inserted] = seen.emplace(id, &l);
    if (inserted) continue;
    const Located& first = *it->second;
    const json& meta = l.object["metadata"];
    std::string where = r.files[first.file]->path;
    if (first.document >= 0) where += " document " + std::to_string(first.document);
    if (first.item >= 0) where += " items[" + std::to_string(first.item) + "]";
    std::string ns = meta.value("namespace", "");
    r.error(l.file, l.document, l.line, 0,
            r.prefix_item(l.item) + l.object["kind"].get<std::string>() + " " +
                (ns.empty() ? "" : ns + "/") + meta["name"].get<std::string>() +
                " is defined twice: also in " + where);
  }

  if (!r.errors.empty()) {
    if (r.dropped_errors > 0) {
      r.errors.push_back(
          {"", -1, 0, 0, "... and " + std::to_string(r.dropped_errors) + " more errors"});
    }
    return std::unexpected(std::move(r.errors));
  }

  std::stable_sort(r.objects.begin(), r.objects.end(), [&](const Located& a, const Located& b) {
    return std::tie(a.rank, r.files[a.file]->path, a.document, a.item) <
           std::tie(b.rank, r.files[b.file]->path, b.document, b.item);
  });
  Rendered out;
  out.objects.reserve(r.objects.size());
  for (auto& l : r.objects) out.objects.push_back(std::move(l.object));
  return out;
}

}  // namespace cairn::manifest
