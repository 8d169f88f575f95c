#include "manifest/kustomize.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <utility>

#include "manifest/kinds.h"
#include "manifest/strategic_merge.h"
#include "manifest/yaml.h"

namespace cairn::manifest {

using json = cairn::json;

namespace {

// ---- resources as Kustomize tracks them ----

struct Id {
  std::string ns, name;
  bool operator==(const Id&) const = default;
};

struct Res {
  json obj;
  std::string file;
  std::vector<Id> previous;  // (namespace, name) it had before renames, oldest first
  std::string original_name;
  bool needs_hash = false;
  std::vector<std::string> prefixes, suffixes;  // applied, innermost first

  std::string str(const char* field) const {
    auto it = obj.find(field);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
  }
  std::string kind() const { return str("kind"); }
  std::string api_version() const { return str("apiVersion"); }
  std::string group() const { return api_group(api_version()); }
  std::string meta(const char* field) const {
    auto m = obj.find("metadata");
    if (m == obj.end() || !m->is_object()) return "";
    auto it = m->find(field);
    return it != m->end() && it->is_string() ? it->get<std::string>() : "";
  }
  std::string name() const { return meta("name"); }
  std::string ns() const { return meta("namespace"); }
  void rename(std::string ns_, std::string name_) {
    previous.push_back({ns(), name()});
    obj["metadata"]["name"] = std::move(name_);
    if (ns_.empty()) {
      obj["metadata"].erase("namespace");
    } else {
      obj["metadata"]["namespace"] = std::move(ns_);
    }
  }
  // Whether the object ever had this name (Kustomize matches patches and
  // references on the current and the original names).
  bool had_name(const std::string& n) const {
    if (name() == n) return true;
    return std::any_of(previous.begin(), previous.end(), [&](const Id& i) { return i.name == n; });
  }
};

using Resources = std::vector<Res>;

bool namespaced(const Res& r) { return !is_cluster_scoped_kind(r.api_version(), r.kind()); }

// ---- small helpers ----

std::string field_str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();  // a number or boolean written where Kustomize reads a string
}

bool is_remote(const std::string& s) {
  return s.find("://") != std::string::npos || s.starts_with("github.com/") ||
         s.starts_with("gitlab.com/") || s.starts_with("bitbucket.org/") || s.starts_with("git@") ||
         s.find("?ref=") != std::string::npos || s.starts_with("git::") || s.starts_with("oci://");
}

std::string base_name(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

bool is_under(const std::string& path, const std::string& dir) {
  return dir.empty() || path == dir || path.starts_with(dir + "/");
}

// Calls `f(parent, key)` for each place `path` (fields separated by '/',
// lists entered transparently) leads to in `node`; creates missing mappings
// along the way when `create`.
void visit(json& node, const std::vector<std::string>& path, std::size_t i, bool create,
           const std::function<void(json&, const std::string&)>& f) {
  if (node.is_array()) {
    for (auto& e : node) visit(e, path, i, create, f);
    return;
  }
  if (!node.is_object()) return;
  if (i + 1 == path.size()) {
    f(node, path[i]);
    return;
  }
  // A segment marked "[]" is a list: entered when there, never created.
  const bool list = path[i].ends_with("[]");
  const std::string key = list ? path[i].substr(0, path[i].size() - 2) : path[i];
  auto it = node.find(key);
  if (it == node.end() || it->is_null()) {
    if (!create || list) return;
    node[key] = json::object();
    it = node.find(key);
  }
  visit(*it, path, i + 1, create, f);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string base64(const std::string& in) {
  static const char* const kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// ---- Kustomize's tables ----

// The pod spec of a workload, by kind.
std::optional<std::string> pod_spec_path(const std::string& kind) {
  if (kind == "Pod") return "spec";
  if (kind == "Deployment" || kind == "ReplicaSet" || kind == "DaemonSet" ||
      kind == "StatefulSet" || kind == "Job" || kind == "ReplicationController") {
    return "spec/template/spec";
  }
  if (kind == "PodTemplate") return "template/spec";
  if (kind == "CronJob") return "spec/jobTemplate/spec/template/spec";
  return std::nullopt;
}

// Where one kind names another (Kustomize's nameReference configuration,
// the parts real manifests use). `kind_field`: the mapping holding the name
// must also say `kind: <referent>` (roleRef, subjects, scaleTargetRef).
struct RefSpec {
  std::string referent;
  std::string referrer;  // a kind, or "pod" for every kind with a pod spec
  std::string path;
  bool kind_field = false;
};

const std::vector<RefSpec>& ref_specs() {
  static const std::vector<RefSpec> kSpecs = {
      {"ConfigMap", "pod", "volumes/configMap/name"},
      {"ConfigMap", "pod", "volumes/projected/sources/configMap/name"},
      {"ConfigMap", "pod", "containers/env/valueFrom/configMapKeyRef/name"},
      {"ConfigMap", "pod", "initContainers/env/valueFrom/configMapKeyRef/name"},
      {"ConfigMap", "pod", "containers/envFrom/configMapRef/name"},
      {"ConfigMap", "pod", "initContainers/envFrom/configMapRef/name"},
      {"Secret", "pod", "volumes/secret/secretName"},
      {"Secret", "pod", "volumes/projected/sources/secret/name"},
      {"Secret", "pod", "containers/env/valueFrom/secretKeyRef/name"},
      {"Secret", "pod", "initContainers/env/valueFrom/secretKeyRef/name"},
      {"Secret", "pod", "containers/envFrom/secretRef/name"},
      {"Secret", "pod", "initContainers/envFrom/secretRef/name"},
      {"Secret", "pod", "imagePullSecrets/name"},
      {"Secret", "ServiceAccount", "imagePullSecrets/name"},
      {"Secret", "ServiceAccount", "secrets/name"},
      {"Secret", "Ingress", "spec/tls/secretName"},
      {"ServiceAccount", "pod", "serviceAccountName"},
      {"ServiceAccount", "pod", "serviceAccount"},
      {"ServiceAccount", "RoleBinding", "subjects/name", true},
      {"ServiceAccount", "ClusterRoleBinding", "subjects/name", true},
      {"PersistentVolumeClaim", "pod", "volumes/persistentVolumeClaim/claimName"},
      {"PriorityClass", "pod", "priorityClassName"},
      {"Role", "RoleBinding", "roleRef/name", true},
      {"ClusterRole", "RoleBinding", "roleRef/name", true},
      {"ClusterRole", "ClusterRoleBinding", "roleRef/name", true},
      {"Service", "Ingress", "spec/rules/http/paths/backend/service/name"},
      {"Service", "Ingress", "spec/defaultBackend/service/name"},
      {"Service", "Ingress", "spec/rules/http/paths/backend/serviceName"},
      {"Service", "Ingress", "spec/backend/serviceName"},
      {"Service", "StatefulSet", "spec/serviceName"},
      {"Service", "APIService", "spec/service/name"},
      {"Deployment", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", true},
      {"StatefulSet", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", true},
      {"ReplicaSet", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", true},
      {"PersistentVolume", "PersistentVolumeClaim", "spec/volumeName"},
  };
  return kSpecs;
}

// Where labels go (Kustomize's commonLabels configuration).
struct FieldSpec {
  std::string group;  // "*": any
  std::string kind;   // "": any
  std::string path;
  bool create;
};

const std::vector<FieldSpec>& selector_specs() {
  static const std::vector<FieldSpec> kSpecs = {
      {"", "Service", "spec/selector", true},
      {"", "ReplicationController", "spec/selector", true},
      {"*", "Deployment", "spec/selector/matchLabels", true},
      {"*", "ReplicaSet", "spec/selector/matchLabels", true},
      {"*", "DaemonSet", "spec/selector/matchLabels", true},
      {"apps", "StatefulSet", "spec/selector/matchLabels", true},
      {"batch", "Job", "spec/selector/matchLabels", false},
      {"batch", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false},
      {"policy", "PodDisruptionBudget", "spec/selector/matchLabels", false},
      {"networking.k8s.io", "NetworkPolicy", "spec/podSelector/matchLabels", false},
      {"networking.k8s.io", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", false},
      {"networking.k8s.io", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false},
  };
  return kSpecs;
}

const std::vector<FieldSpec>& template_label_specs() {
  static const std::vector<FieldSpec> kSpecs = {
      {"", "ReplicationController", "spec/template/metadata/labels", true},
      {"*", "Deployment", "spec/template/metadata/labels", true},
      {"*", "ReplicaSet", "spec/template/metadata/labels", true},
      {"*", "DaemonSet", "spec/template/metadata/labels", true},
      {"apps", "StatefulSet", "spec/template/metadata/labels", true},
      {"apps", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true},
      {"batch", "Job", "spec/template/metadata/labels", true},
      {"batch", "CronJob", "spec/jobTemplate/metadata/labels", true},
      {"batch", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true},
  };
  return kSpecs;
}

const std::vector<FieldSpec>& template_annotation_specs() {
  static const std::vector<FieldSpec> kSpecs = {
      {"", "ReplicationController", "spec/template/metadata/annotations", true},
      {"*", "Deployment", "spec/template/metadata/annotations", true},
      {"*", "ReplicaSet", "spec/template/metadata/annotations", true},
      {"*", "DaemonSet", "spec/template/metadata/annotations", true},
      {"apps", "StatefulSet", "spec/template/metadata/annotations", true},
      {"batch", "Job", "spec/template/metadata/annotations", true},
      {"batch", "CronJob", "spec/jobTemplate/metadata/annotations", true},
      {"batch", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true},
  };
  return kSpecs;
}

bool spec_applies(const FieldSpec& s, const Res& r) {
  return r.kind() == s.kind && (s.group == "*" || s.group == r.group());
}

void set_map_entries(json& parent, const std::string& key, const json& entries) {
  json& m = parent[key];
  if (!m.is_object()) m = json::object();
  for (const auto& [k, v] : entries.items()) m[k] = v;
}

void add_entries(Res& r, const std::vector<FieldSpec>& specs, const json& entries) {
  for (const auto& s : specs) {
    if (!spec_applies(s, r)) continue;
    const auto path = split(s.path, '/');
    visit(r.obj, path, 0, s.create, [&](json& parent, const std::string& key) {
      if (!s.create && (!parent.contains(key) || !parent[key].is_object())) return;
      set_map_entries(parent, key, entries);
    });
  }
}

// Kustomize's legacy order (its default): kinds listed first and last, the
// rest between; then group_version_kind; then name and namespace.
int kind_order(const std::string& kind) {
  static const std::vector<std::string> kFirst = {"Namespace",
                                                  "ResourceQuota",
                                                  "StorageClass",
                                                  "CustomResourceDefinition",
                                                  "ServiceAccount",
                                                  "PodSecurityPolicy",
                                                  "Role",
                                                  "ClusterRole",
                                                  "RoleBinding",
                                                  "ClusterRoleBinding",
                                                  "ConfigMap",
                                                  "Secret",
                                                  "Endpoints",
                                                  "Service",
                                                  "LimitRange",
                                                  "PriorityClass",
                                                  "PersistentVolume",
                                                  "PersistentVolumeClaim",
                                                  "Deployment",
                                                  "StatefulSet",
                                                  "CronJob",
                                                  "PodDisruptionBudget"};
  static const std::vector<std::string> kLast = {"MutatingWebhookConfiguration",
                                                 "ValidatingWebhookConfiguration"};
  if (auto it = std::find(kFirst.begin(), kFirst.end(), kind); it != kFirst.end()) {
    return static_cast<int>(it - kFirst.begin()) - static_cast<int>(kFirst.size());
  }
  if (auto it = std::find(kLast.begin(), kLast.end(), kind); it != kLast.end()) {
    return static_cast<int>(it - kLast.begin()) + 1;
  }
  return 0;
}

std::string gvk_string(const Res& r) {
  const std::string av = r.api_version();
  std::string group = api_group(av);
  std::string version = av.substr(av.find('/') == std::string::npos ? 0 : av.find('/') + 1);
  if (group.empty()) group = "~G";
  if (version.empty()) version = "~V";
  return group + "_" + version + "_" + r.kind();
}

std::string id_string(const Res& r) {
  std::string ns = r.ns().empty() ? "~X" : r.ns();
  std::string name = r.name().empty() ? "~N" : r.name();
  return gvk_string(r) + "|" + ns + "|" + name;
}

// ---- label selectors ----

// One requirement of a Kubernetes label selector.
struct Requirement {
  std::string key, op;  // "=", "!=", "in", "notin", "exists", "!"
  std::vector<std::string> values;
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::optional<std::vector<Requirement>> parse_selector(const std::string& sel) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : sel) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  std::vector<Requirement> out;
  for (auto p : parts) {
    p = trim(p);
    if (p.empty()) continue;
    Requirement r;
    if (auto pos = p.find("!="); pos != std::string::npos) {
      r = {trim(p.substr(0, pos)), "!=", {trim(p.substr(pos + 2))}};
    } else if (auto pos2 = p.find("=="); pos2 != std::string::npos) {
      r = {trim(p.substr(0, pos2)), "=", {trim(p.substr(pos2 + 2))}};
    } else if (auto pos3 = p.find('='); pos3 != std::string::npos) {
      r = {trim(p.substr(0, pos3)), "=", {trim(p.substr(pos3 + 1))}};
    } else if (auto open = p.find('('); open != std::string::npos) {
      const auto close = p.rfind(')');
      if (close == std::string::npos || close < open) return std::nullopt;
      const auto words = split(trim(p.substr(0, open)), ' ');
      std::vector<std::string> w;
      for (const auto& x : words) {
        if (!trim(x).empty()) w.push_back(trim(x));
      }
      if (w.size() != 2 || (w[1] != "in" && w[1] != "notin")) return std::nullopt;
      r.key = w[0];
      r.op = w[1];
      for (const auto& v : split(p.substr(open + 1, close - open - 1), ',')) {
        r.values.push_back(trim(v));
      }
    } else if (p[0] == '!') {
      r = {trim(p.substr(1)), "!", {}};
    } else {
      r = {p, "exists", {}};
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool selector_matches(const std::vector<Requirement>& reqs, const json& labels) {
  for (const auto& r : reqs) {
    const bool has = labels.is_object() && labels.contains(r.key);
    const std::string v = has ? field_str(labels, r.key.c_str()) : "";
    const bool in = std::find(r.values.begin(), r.values.end(), v) != r.values.end();
    if (r.op == "=" && !(has && in)) return false;
    if (r.op == "!=" && has && in) return false;
    if (r.op == "in" && !(has && in)) return false;
    if (r.op == "notin" && has && in) return false;
    if (r.op == "exists" && !has) return false;
    if (r.op == "!" && has) return false;
  }
  return true;
}

bool full_match(const std::string& pattern, const std::string& value) {
  try {
    return std::regex_match(value, std::regex(pattern));
  } catch (const std::regex_error&) {
    return pattern == value;
  }
}

// ---- Go's json.Marshal and the name hash ----

void go_json_string(const std::string& s, std::string& out) {
  out += '"';
  static const char* const kHex = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      continue;
    }
    // U+2028 and U+2029 (E2 80 A8/A9) are escaped too.
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
         static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
      continue;
    }
    out += static_cast<char>(c);
  }
  out += '"';
}

void go_json_to(const json& v, std::string& out) {
  switch (v.type()) {
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.items()) {  // std::map: sorted like Go's
        if (!first) out += ',';
        first = false;
        go_json_string(k, out);
        out += ':';
        go_json_to(e, out);
      }
      out += '}';
      return;
    }
    case json::value_t::array: {
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        go_json_to(v[i], out);
      }
      out += ']';
      return;
    }
    case json::value_t::string:
      go_json_string(v.get<std::string>(), out);
      return;
    default:
      out += v.dump();
  }
}

// ---- the build ----

constexpr const char* kKustomizationNames[] = {"kustomization.yaml", "kustomization.yml",
                                               "Kustomization"};

const std::set<std::string>& supported_fields() {
  static const std::set<std::string> kFields = {"apiVersion",      "kind",
                                                "metadata",        "resources",
                                                "bases",           "components",
                                                "namespace",       "namePrefix",
                                                "nameSuffix",      "commonLabels",
                                                "labels",          "commonAnnotations",
                                                "images",          "replicas",
                                                "patches",         "patchesStrategicMerge",
                                                "patchesJson6902", "configMapGenerator",
                                                "secretGenerator", "generatorOptions",
                                                "sortOptions"};
  return kFields;
}

const std::set<std::string>& unsupported_fields() {
  static const std::set<std::string> kFields = {
      "helmCharts",   "helmGlobals",    "helmChartInflationGenerator",
      "generators",   "transformers",   "validators",
      "replacements", "vars",           "openapi",
      "crds",         "configurations", "buildMetadata",
      "imageTags"};
  return kFields;
}

struct Failure {
  std::string file;
  std::string message;
};

template <typename T = void>
using Result = std::expected<T, Failure>;

class Builder {
 public:
  Builder(const FileTree& tree, const KustomizeOptions& opts) : tree_(tree), opts_(opts) {}

  // Builds the kustomization (or component) in `dir` into `acc`: a
  // kustomization starts from an empty `acc`; a component works on the
  // resources of the kustomization that names it.
  Result<> build(const std::string& dir, Resources& acc, bool component, int depth) {
    if (depth > opts_.max_depth) {
      return fail(dir, "kustomizations nested deeper than " + std::to_string(opts_.max_depth));
    }
    if (std::find(stack_.begin(), stack_.end(), dir) != stack_.end()) {
      std::string cycle;
      for (const auto& d : stack_) cycle += (d.empty() ? "." : d) + " -> ";
      return fail(dir, "a cycle of kustomizations: " + cycle + (dir.empty() ? "." : dir));
    }
    auto kfile = find_kustomization(tree_, dir);
    if (!kfile) return fail(dir, kfile.error());
    if (!*kfile) {
      return fail(dir.empty() ? "." : dir,
                  "no kustomization.yaml, kustomization.yml or Kustomization in this directory");
    }
    stack_.push_back(dir);
    auto r = build_file(dir, **kfile, acc, component, depth);
    stack_.pop_back();
    return r;
  }

  Result<> finish(Resources& acc, const std::string& kfile, const json& k) {
    if (auto r = add_hashes(acc); !r) return r;
    fix_references(acc);
    std::string order = "legacy";
    if (k.contains("sortOptions") && k["sortOptions"].is_object()) {
      order = field_str(k["sortOptions"], "order");
      if (order != "legacy" && order != "fifo") {
        return fail(kfile, "sortOptions.order: \"" + order + "\" is not legacy or fifo");
      }
    }
    if (order == "legacy") {
      std::stable_sort(acc.begin(), acc.end(), [](const Res& a, const Res& b) {
        const int ka = kind_order(a.kind()), kb = kind_order(b.kind());
        if (ka != kb) return ka < kb;
        const std::string ga = gvk_string(a), gb = gvk_string(b);
        if (ga != gb) return ga < gb;
        return id_string(a) < id_string(b);
      });
    }
    return {};
  }

  Result<json> root_kustomization(const std::string& dir) {
    auto kfile = find_kustomization(tree_, dir);
    if (!kfile || !*kfile) return json::object();
    return load_kustomization(**kfile);
  }

  std::size_t objects = 0;

 private:
  static std::unexpected<Failure> fail(std::string file, std::string message) {
    return std::unexpected(Failure{std::move(file), std::move(message)});
  }

  Result<std::string> read_file(const std::string& path, const std::string& kfile,
                                const std::string& field) {
    auto content = tree_.read(path);
    if (!content) return fail(kfile, field + ": " + content.error());
    if (!*content) return fail(kfile, field + ": " + path + " does not exist");
    if ((*content)->size() > opts_.max_file_bytes) {
      return fail(path, "the file has " + std::to_string((*content)->size()) +
                            " bytes, more than the limit of " +
                            std::to_string(opts_.max_file_bytes) + " bytes for one file");
    }
    bytes_ += (*content)->size();
    if (bytes_ > opts_.max_bytes) {
      return fail(path, "the files of the kustomization add up to more than " +
                            std::to_string(opts_.max_bytes) + " bytes (the limit)");
    }
    if (auto bad = invalid_utf8_at(**content); bad != std::string::npos) {
      return fail(path, "the file is not UTF-8 text (byte " + std::to_string(bad + 1) + ")");
    }
    return std::move(**content);
  }

  Result<std::vector<json>> parse_docs(const std::string& path, const std::string& text) {
    std::vector<json> out;
    if (path.ends_with(".json")) {
      JsonParse p = parse_json_text(text);
      if (p.error) return fail(path, *p.error);
      if (p.value) out.push_back(std::move(*p.value));
      return out;
    }
    YamlDocuments docs = parse_yaml(text);
    if (docs.error) {
      const YamlError& e = *docs.error;
      std::string at = path;
      if (e.line > 0) at += ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
      return fail(at, "document " + std::to_string(e.document) + ": " + e.message);
    }
    for (auto& d : docs.documents) {
      if (!d.value.is_null()) out.push_back(std::move(d.value));
    }
    return out;
  }

  Result<json> load_kustomization(const std::string& kfile) {
    auto text = read_file(kfile, kfile, "kustomization");
    if (!text) return std::unexpected(text.error());
    auto docs = parse_docs(kfile, *text);
    if (!docs) return std::unexpected(docs.error());
    if (docs->size() != 1 || !(*docs)[0].is_object()) {
      return fail(kfile, "a kustomization file must hold one mapping");
    }
    json k = std::move((*docs)[0]);
    for (const auto& [field, v] : k.items()) {
      if (unsupported_fields().contains(field)) {
        return fail(kfile, field +
                               ": not supported by Cairn's Kustomize (render it in CI and "
                               "commit the output, or remove the field)");
      }
      if (!supported_fields().contains(field)) {
        return fail(kfile, field + ": unknown field");
      }
    }
    return k;
  }

  Result<> build_file(const std::string& dir, const std::string& kfile, Resources& acc,
                      bool component, int depth) {
    auto loaded = load_kustomization(kfile);
    if (!loaded) return std::unexpected(loaded.error());
    const json& k = *loaded;
    const std::string kind = k.contains("kind") ? field_str(k, "kind") : "Kustomization";
    const std::string av = field_str(k, "apiVersion");
    if (component && kind != "Component") {
      return fail(kfile, "kind: " + kind + ": a component must be kind Component");
    }
    if (!component && kind != "Kustomization" && kind != "") {
      return fail(kfile, "kind: " + kind +
                             (kind == "Component" ? ": a component can only be listed in "
                                                    "components, not built or listed in resources"
                                                  : ": not Kustomization"));
    }
    if (!av.empty() && !av.starts_with("kustomize.config.k8s.io/")) {
      return fail(kfile, "apiVersion: " + av + " is not kustomize.config.k8s.io/...");
    }
    for (const char* field : {"bases", "resources"}) {
      if (auto r = resources(dir, kfile, k, field, acc, depth); !r) return r;
    }
    if (auto r = components(dir, kfile, k, acc, depth); !r) return r;
    for (const char* field : {"configMapGenerator", "secretGenerator"}) {
      if (auto r = generators(dir, kfile, k, field, acc); !r) return r;
    }
    if (auto r = check_duplicates(acc, kfile); !r) return r;
    return transform(dir, kfile, k, acc);
  }

  Result<const json*> list_field(const std::string& kfile, const json& k, const char* field) {
    auto it = k.find(field);
    if (it == k.end() || it->is_null()) return nullptr;
    if (!it->is_array()) return fail(kfile, std::string(field) + ": not a list");
    return &*it;
  }

  // Kustomize refuses the same object twice in one kustomization; checked
  // once all of its resources are in (sorting, not comparing every pair).
  Result<> check_duplicates(const Resources& acc, const std::string& kfile) {
    std::vector<std::pair<std::string, const Res*>> ids;
    ids.reserve(acc.size());
    for (const auto& r : acc) {
      ids.emplace_back(r.group() + '\0' + r.kind() + '\0' + r.ns() + '\0' + r.name(), &r);
    }
    std::stable_sort(ids.begin(), ids.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < ids.size(); ++i) {
      if (ids[i].first != ids[i - 1].first) continue;
      const Res& r = *ids[i].second;
      return fail(kfile, r.kind() + " " + r.name() + " (from " + r.file +
                             ") is already defined (in " + ids[i - 1].second->file +
                             "); Kustomize refuses the same object twice");
    }
    return {};
  }

  Result<> add_resource(Resources& acc, Res r, const std::string& kfile) {
    if (++objects > opts_.max_documents) {
      return fail(kfile, "more than " + std::to_string(opts_.max_documents) +
                             " objects (the limit); split the manifests across several Releases");
    }
    acc.push_back(std::move(r));
    return {};
  }

  Result<> resource_file(const std::string& path, const std::string& kfile,
                         const std::string& field, Resources& acc) {
    auto text = read_file(path, kfile, field);
    if (!text) return std::unexpected(text.error());
    auto docs = parse_docs(path, *text);
    if (!docs) return std::unexpected(docs.error());
    for (auto& d : *docs) {
      std::vector<json> items;
      if (d.is_object() && d.contains("items") && d["items"].is_array() &&
          field_str(d, "kind").ends_with("List")) {
        for (auto& i : d["items"]) items.push_back(std::move(i));
      } else {
        items.push_back(std::move(d));
      }
      for (auto& obj : items) {
        if (!obj.is_object() || field_str(obj, "kind").empty() || !obj.contains("metadata") ||
            !obj["metadata"].is_object() || field_str(obj["metadata"], "name").empty()) {
          if (obj.is_object() && field_str(obj, "kind") == "Kustomization") {
            return fail(kfile, field + ": " + path +
                                   " is a kustomization file; list its directory instead");
          }
          return fail(path, "a document without kind or metadata.name (listed in " + kfile + " " +
                                field + ")");
        }
        Res r;
        r.obj = std::move(obj);
        r.file = path;
        r.original_name = r.name();
        if (auto a = add_resource(acc, std::move(r), kfile); !a) return a;
      }
    }
    return {};
  }

  Result<> resources(const std::string& dir, const std::string& kfile, const json& k,
                     const char* field, Resources& acc, int depth) {
    auto list = list_field(kfile, k, field);
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const std::string where = std::string(field) + "[" + std::to_string(i) + "]";
      const json& e = (**list)[i];
      if (!e.is_string()) return fail(kfile, where + ": not a string");
      const std::string entry = e.get<std::string>();
      if (is_remote(entry)) {
        return fail(kfile, where + ": remote resource " + entry +
                               " is not supported; vendor it into the repository");
      }
      auto path = join_path(dir, entry);
      if (!path) return fail(kfile, where + ": " + entry + " climbs above the repository root");
      auto is_dir = tree_.is_dir(*path);
      if (!is_dir) return fail(kfile, where + ": " + is_dir.error());
      if (*is_dir) {
        Resources sub;
        if (auto r = build(*path, sub, false, depth + 1); !r) return r;
        for (auto& s : sub) {
          if (auto a = add_resource(acc, std::move(s), kfile); !a) return a;
          --objects;  // counted when first added
        }
        continue;
      }
      if (!is_under(*path, dir)) {
        return fail(kfile, where + ": " + entry +
                               " is a file outside the kustomization's directory (Kustomize "
                               "refuses it); list a directory with a kustomization instead");
      }
      if (auto r = resource_file(*path, kfile, where, acc); !r) return r;
    }
    return {};
  }

  Result<> components(const std::string& dir, const std::string& kfile, const json& k,
                      Resources& acc, int depth) {
    auto list = list_field(kfile, k, "components");
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const std::string where = "components[" + std::to_string(i) + "]";
      const json& e = (**list)[i];
      if (!e.is_string()) return fail(kfile, where + ": not a string");
      const std::string entry = e.get<std::string>();
      if (is_remote(entry)) return fail(kfile, where + ": remote component is not supported");
      auto path = join_path(dir, entry);
      if (!path) return fail(kfile, where + ": " + entry + " climbs above the repository root");
      if (auto r = build(*path, acc, true, depth + 1); !r) return r;
    }
    return {};
  }

  // ---- generators ----

  struct GenOptions {
    json labels = json::object(), annotations = json::object();
    bool disable_hash = false, immutable = false;
  };

  static GenOptions read_options(const json* o) {
    GenOptions g;
    if (!o || !o->is_object()) return g;
    if (o->contains("labels") && (*o)["labels"].is_object()) g.labels = (*o)["labels"];
    if (o->contains("annotations") && (*o)["annotations"].is_object()) {
      g.annotations = (*o)["annotations"];
    }
    g.disable_hash = o->value("disableNameSuffixHash", false);
    g.immutable = o->value("immutable", false);
    return g;
  }

  Result<json> generator_data(const std::string& dir, const std::string& kfile, const json& gen,
                              const std::string& where) {
    json data = json::object();
    auto put = [&](const std::string& key, std::string value) -> Result<> {
      if (key.empty()) return fail(kfile, where + ": an empty key");
      if (data.contains(key)) return fail(kfile, where + ": key " + key + " is defined twice");
      data[key] = std::move(value);
      return {};
    };
    if (auto it = gen.find("literals"); it != gen.end() && it->is_array()) {
      for (const auto& l : *it) {
        const std::string s = l.is_string() ? l.get<std::string>() : l.dump();
        const auto eq = s.find('=');
        if (eq == std::string::npos) {
          return fail(kfile, where + ".literals: \"" + s.substr(0, 40) + "\" is not key=value");
        }
        std::string v = s.substr(eq + 1);
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
          v = v.substr(1, v.size() - 2);
        }
        if (auto r = put(s.substr(0, eq), std::move(v)); !r) return std::unexpected(r.error());
      }
    }
    std::vector<std::string> envs;
    if (auto it = gen.find("envs"); it != gen.end() && it->is_array()) {
      for (const auto& e : *it) envs.push_back(field_str(json::object({{"v", e}}), "v"));
    }
    if (auto it = gen.find("env"); it != gen.end() && it->is_string()) envs.push_back(*it);
    for (const auto& env : envs) {
      auto text = load_local(dir, kfile, env, where + ".envs");
      if (!text) return std::unexpected(text.error());
      std::string body = *text;
      if (body.starts_with("\xEF\xBB\xBF")) body = body.substr(3);
      for (std::string line : split(body, '\n')) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const std::string t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        const auto eq = line.find('=');
        if (eq == std::string::npos) {
          return fail(kfile, where + ".envs: " + env +
                                 ": a line without '=' (Kustomize would "
                                 "read the variable from its environment)");
        }
        std::string key = line.substr(0, eq);
        key.erase(0, key.find_first_not_of(" \t"));
        if (auto r = put(key, line.substr(eq + 1)); !r) return std::unexpected(r.error());
      }
    }
    if (auto it = gen.find("files"); it != gen.end() && it->is_array()) {
      for (const auto& f : *it) {
        const std::string s = f.is_string() ? f.get<std::string>() : f.dump();
        std::string key, path = s;
        if (auto eq = s.find('='); eq != std::string::npos) {
          key = s.substr(0, eq);
          path = s.substr(eq + 1);
        } else {
          key = base_name(s);
        }
        auto text = load_local(dir, kfile, path, where + ".files");
        if (!text) return std::unexpected(text.error());
        if (auto r = put(key, std::move(*text)); !r) return std::unexpected(r.error());
      }
    }
    return data;
  }

  // A file the kustomization loads (patch, generator input): in or below
  // its directory, as Kustomize's default load restrictions require.
  Result<std::string> load_local(const std::string& dir, const std::string& kfile,
                                 const std::string& rel, const std::string& where) {
    if (is_remote(rel)) return fail(kfile, where + ": remote file " + rel + " is not supported");
    auto path = join_path(dir, rel);
    if (!path) return fail(kfile, where + ": " + rel + " climbs above the repository root");
    if (!is_under(*path, dir)) {
      return fail(kfile, where + ": " + rel +
                             " is outside the kustomization's directory (Kustomize refuses it)");
    }
    return read_file(*path, kfile, where);
  }

  Result<> generators(const std::string& dir, const std::string& kfile, const json& k,
                      const char* field, Resources& acc) {
    auto list = list_field(kfile, k, field);
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    const bool secret = std::string_view(field) == "secretGenerator";
    const GenOptions global =
        read_options(k.contains("generatorOptions") ? &k["generatorOptions"] : nullptr);
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const std::string where = std::string(field) + "[" + std::to_string(i) + "]";
      const json& gen = (**list)[i];
      if (!gen.is_object()) return fail(kfile, where + ": not a mapping");
      const std::string name = field_str(gen, "name");
      if (name.empty()) return fail(kfile, where + ".name: missing");
      auto data = generator_data(dir, kfile, gen, where);
      if (!data) return std::unexpected(data.error());
      GenOptions opts = read_options(gen.contains("options") ? &gen["options"] : nullptr);
      for (const auto& [lk, lv] : global.labels.items()) {
        if (!opts.labels.contains(lk)) opts.labels[lk] = lv;
      }
      for (const auto& [ak, av] : global.annotations.items()) {
        if (!opts.annotations.contains(ak)) opts.annotations[ak] = av;
      }
      opts.disable_hash = opts.disable_hash || global.disable_hash;
      opts.immutable = opts.immutable || global.immutable;

      json obj = {{"apiVersion", "v1"},
                  {"kind", secret ? "Secret" : "ConfigMap"},
                  {"metadata", {{"name", name}}}};
      const std::string ns = field_str(gen, "namespace");
      if (!ns.empty()) obj["metadata"]["namespace"] = ns;
      if (!opts.labels.empty()) obj["metadata"]["labels"] = opts.labels;
      if (!opts.annotations.empty()) obj["metadata"]["annotations"] = opts.annotations;
      if (secret) {
        for (auto& [dk, dv] : data->items()) dv = base64(dv.get<std::string>());
        const std::string type = field_str(gen, "type");
        obj["type"] = type.empty() ? "Opaque" : type;
      }
      // As Kustomize writes them: a Secret always has data, a ConfigMap only
      // when it holds something.
      if (secret || !data->empty()) obj["data"] = std::move(*data);
      if (opts.immutable) obj["immutable"] = true;

      const std::string behavior =
          gen.contains("behavior") ? field_str(gen, "behavior") : std::string("create");
      auto existing = std::find_if(acc.begin(), acc.end(), [&](const Res& r) {
        return r.kind() == obj["kind"] && r.group().empty() && r.had_name(name) &&
               (ns.empty() || r.ns() == ns);
      });
      if (behavior == "create") {
        Res r;
        r.obj = std::move(obj);
        r.file = kfile;
        r.original_name = name;
        r.needs_hash = !opts.disable_hash;
        if (auto a = add_resource(acc, std::move(r), kfile); !a) return a;
        continue;
      }
      if (behavior != "merge" && behavior != "replace") {
        return fail(kfile,
                    where + ".behavior: \"" + behavior + "\" is not create, merge or replace");
      }
      if (existing == acc.end()) {
        return fail(kfile, where + ": behavior " + behavior + ": no " +
                               obj["kind"].get<std::string>() + " " + name +
                               " from the resources to " + behavior);
      }
      merge_generated(*existing, obj, behavior == "merge", !opts.disable_hash);
    }
    return {};
  }

  static void merge_generated(Res& existing, const json& gen, bool merge, bool needs_hash) {
    json& meta = existing.obj["metadata"];
    for (const char* f : {"labels", "annotations"}) {
      if (!gen["metadata"].contains(f)) continue;
      set_map_entries(meta, f, gen["metadata"][f]);
    }
    if (merge) {
      if (gen.contains("data")) set_map_entries(existing.obj, "data", gen["data"]);
    } else {
      existing.obj.erase("data");
      if (gen.contains("data")) existing.obj["data"] = gen["data"];
    }
    if (gen.contains("immutable")) existing.obj["immutable"] = true;
    existing.needs_hash = existing.needs_hash || needs_hash;
  }

  // ---- transformers, in Kustomize's order ----

  Result<> transform(const std::string& dir, const std::string& kfile, const json& k,
                     Resources& acc) {
    if (auto r = patches_strategic_merge(dir, kfile, k, acc); !r) return r;
    if (auto r = patches(dir, kfile, k, acc); !r) return r;
    if (auto r = set_namespace(kfile, k, acc); !r) return r;
    if (auto r = prefix_suffix(kfile, k, acc); !r) return r;
    if (auto r = common_labels(kfile, k, acc); !r) return r;
    if (auto r = labels(kfile, k, acc); !r) return r;
    if (auto r = annotations(kfile, k, acc); !r) return r;
    if (auto r = patches_json6902(dir, kfile, k, acc); !r) return r;
    if (auto r = replicas(kfile, k, acc); !r) return r;
    return images(kfile, k, acc);
  }

  Result<const json*> map_field(const std::string& kfile, const json& k, const char* field) {
    auto it = k.find(field);
    if (it == k.end() || it->is_null()) return nullptr;
    if (!it->is_object()) return fail(kfile, std::string(field) + ": not a mapping");
    for (const auto& [mk, mv] : it->items()) {
      if (!mv.is_string() && !mv.is_number() && !mv.is_boolean()) {
        return fail(kfile, std::string(field) + "." + mk + ": not a string");
      }
    }
    return &*it;
  }

  static json as_strings(const json& m) {
    json out = json::object();
    for (const auto& [mk, mv] : m.items()) {
      out[mk] = mv.is_string() ? mv.get<std::string>() : mv.dump();
    }
    return out;
  }

  Result<> set_namespace(const std::string& kfile, const json& k, Resources& acc) {
    if (!k.contains("namespace")) return {};
    const std::string ns = field_str(k, "namespace");
    if (ns.empty()) return {};
    (void)kfile;
    for (auto& r : acc) {
      if (r.kind() == "Namespace" && r.group().empty()) {
        r.rename("", ns);
        continue;
      }
      if (r.kind() == "RoleBinding" || r.kind() == "ClusterRoleBinding") {
        // Kustomize's default (setRoleBindingSubjects: defaultOnly): the
        // "default" ServiceAccount follows the namespace.
        if (r.obj.contains("subjects") && r.obj["subjects"].is_array()) {
          for (auto& s : r.obj["subjects"]) {
            if (s.is_object() && field_str(s, "kind") == "ServiceAccount" &&
                field_str(s, "name") == "default") {
              s["namespace"] = ns;
            }
          }
        }
      }
      if (!namespaced(r)) continue;
      if (r.ns() != ns) r.rename(ns, r.name());
    }
    return {};
  }

  Result<> prefix_suffix(const std::string& kfile, const json& k, Resources& acc) {
    const std::string prefix = field_str(k, "namePrefix"), suffix = field_str(k, "nameSuffix");
    (void)kfile;
    if (prefix.empty() && suffix.empty()) return {};
    for (auto& r : acc) {
      const std::string kind = r.kind();
      if (kind == "CustomResourceDefinition" || (kind == "Namespace" && r.group().empty()) ||
          (kind == "APIService" && r.group() == "apiregistration.k8s.io")) {
        continue;
      }
      r.rename(r.ns(), prefix + r.name() + suffix);
      if (!prefix.empty()) r.prefixes.push_back(prefix);
      if (!suffix.empty()) r.suffixes.push_back(suffix);
    }
    return {};
  }

  Result<> common_labels(const std::string& kfile, const json& k, Resources& acc) {
    auto m = map_field(kfile, k, "commonLabels");
    if (!m) return std::unexpected(m.error());
    if (!*m) return {};
    const json labels = as_strings(**m);
    for (auto& r : acc) {
      set_map_entries(r.obj["metadata"], "labels", labels);
      add_entries(r, selector_specs(), labels);
      add_entries(r, template_label_specs(), labels);
    }
    return {};
  }

  Result<> labels(const std::string& kfile, const json& k, Resources& acc) {
    auto list = list_field(kfile, k, "labels");
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const json& l = (**list)[i];
      const std::string where = "labels[" + std::to_string(i) + "]";
      if (!l.is_object()) return fail(kfile, where + ": not a mapping");
      auto pairs = map_field(kfile, l, "pairs");
      if (!pairs) return fail(kfile, where + "." + pairs.error().message);
      if (!*pairs) continue;
      for (const auto& [f, v] : l.items()) {
        if (f != "pairs" && f != "includeSelectors" && f != "includeTemplates" && f != "fields") {
          return fail(kfile, where + "." + f + ": unknown field");
        }
        if (f == "fields") return fail(kfile, where + ".fields: not supported");
      }
      const json entries = as_strings(**pairs);
      const bool selectors = l.value("includeSelectors", false);
      const bool templates = l.value("includeTemplates", false) || selectors;
      for (auto& r : acc) {
        set_map_entries(r.obj["metadata"], "labels", entries);
        if (selectors) add_entries(r, selector_specs(), entries);
        if (templates) add_entries(r, template_label_specs(), entries);
      }
    }
    return {};
  }

  Result<> annotations(const std::string& kfile, const json& k, Resources& acc) {
    auto m = map_field(kfile, k, "commonAnnotations");
    if (!m) return std::unexpected(m.error());
    if (!*m) return {};
    const json entries = as_strings(**m);
    for (auto& r : acc) {
      set_map_entries(r.obj["metadata"], "annotations", entries);
      add_entries(r, template_annotation_specs(), entries);
    }
    return {};
  }

  Result<> replicas(const std::string& kfile, const json& k, Resources& acc) {
    auto list = list_field(kfile, k, "replicas");
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const json& e = (**list)[i];
      const std::string where = "replicas[" + std::to_string(i) + "]";
      if (!e.is_object() || !e.contains("count") || !e["count"].is_number_integer()) {
        return fail(kfile, where + ": needs name and an integer count");
      }
      const std::string name = field_str(e, "name");
      for (auto& r : acc) {
        const std::string kind = r.kind();
        if ((kind == "Deployment" || kind == "ReplicaSet" || kind == "StatefulSet" ||
             kind == "ReplicationController") &&
            r.had_name(name)) {
          r.obj["spec"]["replicas"] = e["count"];
        }
      }
    }
    return {};
  }

  Result<> images(const std::string& kfile, const json& k, Resources& acc) {
    auto list = list_field(kfile, k, "images");
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const json& e = (**list)[i];
      if (!e.is_object() || field_str(e, "name").empty()) {
        return fail(kfile, "images[" + std::to_string(i) + "]: needs a name");
      }
      for (auto& r : acc) update_images(r.obj, e);
    }
    return {};
  }

  static void split_image(const std::string& image, std::string& name, std::string& tag,
                          std::string& digest) {
    std::string search = image;
    std::size_t slash = image.find('/');
    if (slash != std::string::npos && slash > 0) {
      search = image.substr(slash);
    } else {
      slash = 0;
    }
    auto at = search.find('@');
    auto colon = search.find(':');
    name = image;
    tag.clear();
    digest.clear();
    if (at == std::string::npos && colon == std::string::npos) return;
    if (at != std::string::npos && (colon == std::string::npos || at < colon)) {
      name = image.substr(0, at + slash);
      digest = image.substr(at + slash + 1);
      return;
    }
    if (at != std::string::npos) {
      name = image.substr(0, colon + slash);
      tag = image.substr(colon + slash + 1, at - colon - 1);
      digest = image.substr(at + slash + 1);
      return;
    }
    name = image.substr(0, colon + slash);
    tag = image.substr(colon + slash + 1);
  }

  static void update_images(json& node, const json& rule) {
    if (node.is_array()) {
      for (auto& e : node) update_images(e, rule);
      return;
    }
    if (!node.is_object()) return;
    for (auto& [key, v] : node.items()) {
      if ((key == "containers" || key == "initContainers") && v.is_array()) {
        for (auto& c : v) {
          if (c.is_object() && c.contains("image") && c["image"].is_string()) {
            c["image"] = new_image(c["image"].get<std::string>(), rule);
          }
        }
      }
      update_images(v, rule);
    }
  }

  static std::string new_image(const std::string& image, const json& rule) {
    std::string name, tag, digest;
    split_image(image, name, tag, digest);
    if (name != field_str(rule, "name")) return image;
    const std::string new_name = field_str(rule, "newName");
    const std::string new_tag = field_str(rule, "newTag");
    const std::string new_digest = field_str(rule, "digest");
    if (!new_name.empty()) name = new_name;
    if (!new_tag.empty() && !new_digest.empty()) {
      tag = new_tag;
      digest = new_digest;
    } else if (!new_tag.empty()) {
      tag = new_tag;
      digest.clear();
    } else if (!new_digest.empty()) {
      digest = new_digest;
      tag.clear();
    }
    if (!tag.empty()) name += ":" + tag;
    if (!digest.empty()) name += "@" + digest;
    return name;
  }

  // ---- patches ----

  struct Target {
    std::string group, version, kind, name, ns, labels, annotations;
    bool has_group = false, has_version = false;
  };

  static bool selects(const Target& t, const Res& r) {
    const std::string av = r.api_version();
    const std::string version = av.substr(av.find('/') == std::string::npos ? 0 : av.find('/') + 1);
    if (t.has_group && t.group != r.group()) return false;
    if (t.has_version && !t.version.empty() && t.version != version) return false;
    if (!t.kind.empty() && t.kind != r.kind()) return false;
    if (!t.name.empty()) {
      bool any = full_match(t.name, r.name()) || full_match(t.name, r.original_name);
      if (!any) return false;
    }
    if (!t.ns.empty() && !full_match(t.ns, r.ns())) return false;
    const json empty = json::object();
    const json& meta = r.obj["metadata"];
    if (!t.labels.empty()) {
      auto reqs = parse_selector(t.labels);
      if (!reqs || !selector_matches(*reqs, meta.contains("labels") ? meta["labels"] : empty)) {
        return false;
      }
    }
    if (!t.annotations.empty()) {
      auto reqs = parse_selector(t.annotations);
      if (!reqs ||
          !selector_matches(*reqs, meta.contains("annotations") ? meta["annotations"] : empty)) {
        return false;
      }
    }
    return true;
  }

  Result<Target> read_target(const std::string& kfile, const json& t, const std::string& where) {
    if (!t.is_object()) return fail(kfile, where + ": not a mapping");
    Target out;
    for (const auto& [f, v] : t.items()) {
      const std::string s = field_str(t, f.c_str());
      if (f == "group") {
        out.group = s;
        out.has_group = true;
      } else if (f == "version") {
        out.version = s;
        out.has_version = true;
      } else if (f == "kind") {
        out.kind = s;
      } else if (f == "name") {
        out.name = s;
      } else if (f == "namespace") {
        out.ns = s;
      } else if (f == "labelSelector") {
        out.labels = s;
        if (!parse_selector(s)) return fail(kfile, where + ".labelSelector: not a label selector");
      } else if (f == "annotationSelector") {
        out.annotations = s;
        if (!parse_selector(s)) {
          return fail(kfile, where + ".annotationSelector: not a selector");
        }
      } else {
        return fail(kfile, where + "." + f + ": unknown field");
      }
    }
    return out;
  }

  // The text of a patch: inline (`patch:`) or from a file (`path:`).
  Result<std::pair<std::string, std::string>> patch_text(const std::string& dir,
                                                         const std::string& kfile, const json& p,
                                                         const std::string& where) {
    const bool inline_ = p.contains("patch"), file = p.contains("path");
    if (inline_ == file) return fail(kfile, where + ": needs exactly one of patch and path");
    if (inline_) {
      if (!p["patch"].is_string()) return fail(kfile, where + ".patch: not a string");
      return std::pair{p["patch"].get<std::string>(), kfile};
    }
    const std::string rel = field_str(p, "path");
    auto text = load_local(dir, kfile, rel, where + ".path");
    if (!text) return std::unexpected(text.error());
    return std::pair{std::move(*text), *join_path(dir, rel)};
  }

  Result<> apply_json6902(Resources& acc, const json& ops, const Target& t,
                          const std::string& kfile, const std::string& where, bool need_match) {
    bool matched = false;
    for (auto& r : acc) {
      if (!selects(t, r)) continue;
      matched = true;
      auto out = json_patch(r.obj, ops);
      if (!out) {
        return fail(kfile, where + ": " + r.kind() + " " + r.name() + ": " + out.error());
      }
      r.obj = std::move(*out);
    }
    if (!matched && need_match) {
      return fail(kfile, where + ".target: no object matches kind " + t.kind + " name " + t.name);
    }
    return {};
  }

  Result<> apply_smp(Resources& acc, const json& patch, const std::optional<Target>& target,
                     const std::string& kfile, const std::string& where) {
    if (!patch.is_object()) return fail(kfile, where + ": a patch must be a mapping or a list");
    Target t;
    if (target) {
      t = *target;
    } else {
      const std::string av = field_str(patch, "apiVersion");
      t.kind = field_str(patch, "kind");
      if (t.kind.empty()) return fail(kfile, where + ": a patch without kind (and no target)");
      t.group = api_group(av);
      t.has_group = true;
      if (patch.contains("metadata") && patch["metadata"].is_object()) {
        t.name = std::regex_replace(field_str(patch["metadata"], "name"),
                                    std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
        t.ns = field_str(patch["metadata"], "namespace");
      }
    }
    bool matched = false;
    for (auto it = acc.begin(); it != acc.end();) {
      if (!selects(t, *it)) {
        ++it;
        continue;
      }
      matched = true;
      json p = patch;
      // The patch's identity is the target's: it never renames.
      p["apiVersion"] = it->obj["apiVersion"];
      p["kind"] = it->obj["kind"];
      if (!p.contains("metadata") || !p["metadata"].is_object()) p["metadata"] = json::object();
      p["metadata"]["name"] = it->name();
      if (it->ns().empty()) {
        p["metadata"].erase("namespace");
      } else {
        p["metadata"]["namespace"] = it->ns();
      }
      if (patch.value("$patch", "") == "delete") {
        it = acc.erase(it);
        --objects;
        continue;
      }
      auto out = strategic_merge(it->obj, p);
      if (!out) {
        return fail(kfile, where + ": " + it->kind() + " " + it->name() + ": " + out.error());
      }
      it->obj = std::move(*out);
      ++it;
    }
    if (!matched && !target) {
      return fail(kfile, where + ": no object matches kind " + t.kind + " name " +
                             (patch.contains("metadata") ? field_str(patch["metadata"], "name")
                                                         : std::string()));
    }
    return {};
  }

  // A patch's text: a list of operations (JSON 6902) or mappings (SMP).
  Result<> apply_patch_text(Resources& acc, const std::string& text, const std::string& source,
                            const std::optional<Target>& target, const std::string& kfile,
                            const std::string& where) {
    auto docs = parse_docs(source.ends_with(".json") ? source : source + ".yaml", text);
    if (!docs) {
      return fail(kfile, where + ": " + docs.error().file + ": " + docs.error().message);
    }
    for (const auto& d : *docs) {
      if (d.is_array()) {
        if (!target) return fail(kfile, where + ": a JSON 6902 patch needs a target");
        if (auto r = apply_json6902(acc, d, *target, kfile, where, false); !r) return r;
        continue;
      }
      if (auto r = apply_smp(acc, d, target, kfile, where); !r) return r;
    }
    return {};
  }

  Result<> patches(const std::string& dir, const std::string& kfile, const json& k,
                   Resources& acc) {
    auto list = list_field(kfile, k, "patches");
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const std::string where = "patches[" + std::to_string(i) + "]";
      const json& p = (**list)[i];
      if (!p.is_object()) return fail(kfile, where + ": not a mapping");
      for (const auto& [f, v] : p.items()) {
        if (f == "options") {
          if (v.is_object() &&
              (v.value("allowNameChange", false) || v.value("allowKindChange", false))) {
            return fail(kfile, where +
                                   ".options: allowNameChange/allowKindChange are not "
                                   "supported");
          }
        } else if (f != "patch" && f != "path" && f != "target") {
          return fail(kfile, where + "." + f + ": unknown field");
        }
      }
      std::optional<Target> target;
      if (p.contains("target") && !p["target"].is_null()) {
        auto t = read_target(kfile, p["target"], where + ".target");
        if (!t) return std::unexpected(t.error());
        target = *t;
      }
      auto text = patch_text(dir, kfile, p, where);
      if (!text) return std::unexpected(text.error());
      if (auto r = apply_patch_text(acc, text->first, text->second, target, kfile, where); !r) {
        return r;
      }
    }
    return {};
  }

  Result<> patches_strategic_merge(const std::string& dir, const std::string& kfile, const json& k,
                                   Resources& acc) {
    auto list = list_field(kfile, k, "patchesStrategicMerge");
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const std::string where = "patchesStrategicMerge[" + std::to_string(i) + "]";
      const json& e = (**list)[i];
      if (!e.is_string()) return fail(kfile, where + ": not a string");
      const std::string s = e.get<std::string>();
      std::string text = s, source = kfile;
      // An entry is a file, or (Kustomize allows it) the patch itself.
      if (s.find('\n') == std::string::npos) {
        auto t = load_local(dir, kfile, s, where);
        if (!t) return std::unexpected(t.error());
        text = std::move(*t);
        source = *join_path(dir, s);
      }
      if (auto r = apply_patch_text(acc, text, source, std::nullopt, kfile, where); !r) return r;
    }
    return {};
  }

  Result<> patches_json6902(const std::string& dir, const std::string& kfile, const json& k,
                            Resources& acc) {
    auto list = list_field(kfile, k, "patchesJson6902");
    if (!list) return std::unexpected(list.error());
    if (!*list) return {};
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
      const std::string where = "patchesJson6902[" + std::to_string(i) + "]";
      const json& p = (**list)[i];
      if (!p.is_object() || !p.contains("target")) {
        return fail(kfile, where + ": needs a target");
      }
      auto t = read_target(kfile, p["target"], where + ".target");
      if (!t) return std::unexpected(t.error());
      // The legacy field's name is exact, not a pattern.
      t->name = std::regex_replace(t->name, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
      auto text = patch_text(dir, kfile, p, where);
      if (!text) return std::unexpected(text.error());
      auto docs =
          parse_docs(text->second.ends_with(".json") ? text->second : "patch.yaml", text->first);
      if (!docs) return fail(kfile, where + ": " + docs.error().message);
      if (docs->size() != 1 || !(*docs)[0].is_array()) {
        return fail(kfile, where + ": a JSON 6902 patch must be one list of operations");
      }
      if (auto r = apply_json6902(acc, (*docs)[0], *t, kfile, where, true); !r) return r;
    }
    return {};
  }

  // ---- at the end: hashes and references ----

  Result<> add_hashes(Resources& acc) {
    for (auto& r : acc) {
      if (!r.needs_hash) continue;
      r.rename(r.ns(), r.name() + "-" + generated_name_hash(r.obj));
    }
    return {};
  }

  // Updates every reference to a renamed object. Candidates are the objects
  // of the referred kind that had the referenced name; when several do (a
  // base included twice under different prefixes), the one in the
  // referrer's namespace with the referrer's prefixes and suffixes wins.
  void fix_references(Resources& acc) {
    // Every name an object ever had, by kind: a reference is looked up, not
    // searched for (an overlay of 200 objects has thousands of references).
    ReferentIndex index;
    for (const auto& r : acc) {
      std::set<std::string> names = {r.name()};
      for (const auto& p : r.previous) names.insert(p.name);
      for (const auto& n : names) index[r.kind() + '\0' + n].push_back(&r);
    }
    for (auto& referrer : acc) {
      const std::string kind = referrer.kind();
      const auto pod = pod_spec_path(kind);
      for (const auto& spec : ref_specs()) {
        std::string path;
        if (spec.referrer == "pod") {
          if (!pod) continue;
          path = *pod + "/" + spec.path;
        } else if (spec.referrer == kind) {
          path = spec.path;
        } else {
          continue;
        }
        visit(referrer.obj, split(path, '/'), 0, false, [&](json& parent, const std::string& key) {
          auto it = parent.find(key);
          if (it == parent.end() || !it->is_string()) return;
          if (spec.kind_field && field_str(parent, "kind") != spec.referent) return;
          const std::string subject_ns =
              spec.kind_field && parent.contains("namespace") ? field_str(parent, "namespace") : "";
          const Res* to =
              referent(index, referrer, spec.referent, it->get<std::string>(), subject_ns);
          if (!to) return;
          *it = to->name();
          if (spec.referent == "ServiceAccount" && spec.kind_field && namespaced(*to)) {
            parent["namespace"] = to->ns();
          }
        });
      }
    }
  }

  using ReferentIndex = std::map<std::string, std::vector<const Res*>>;

  static const Res* referent(const ReferentIndex& index, const Res& referrer,
                             const std::string& kind, const std::string& name,
                             const std::string& subject_ns) {
    auto found = index.find(kind + '\0' + name);
    if (found == index.end()) return nullptr;
    std::vector<const Res*> cands = found->second;
    auto keep = [&](auto pred) {
      std::vector<const Res*> kept;
      std::copy_if(cands.begin(), cands.end(), std::back_inserter(kept), pred);
      if (!kept.empty()) cands = std::move(kept);
    };
    if (cands.size() > 1) {
      keep([&](const Res* c) {
        if (!namespaced(*c)) return true;
        const std::string want = subject_ns.empty() ? referrer.ns() : subject_ns;
        return c->ns() == want ||
               std::any_of(c->previous.begin(), c->previous.end(),
                           [&](const Id& i) { return i.ns == want && i.name == name; });
      });
    }
    if (cands.size() > 1) {
      keep([&](const Res* c) {
        return c->prefixes == referrer.prefixes && c->suffixes == referrer.suffixes;
      });
    }
    if (cands.size() > 1) {
      keep([&](const Res* c) { return c->name() == name || c->previous.back().name == name; });
    }
    const Res* c = cands.front();
    if (namespaced(*c) && !subject_ns.empty() && c->ns() != subject_ns) {
      const bool was = std::any_of(c->previous.begin(), c->previous.end(),
                                   [&](const Id& i) { return i.ns == subject_ns; });
      if (!was) return nullptr;
    }
    if (namespaced(*c) && subject_ns.empty() && namespaced(referrer) && c->ns() != referrer.ns()) {
      return nullptr;
    }
    return c;
  }

  const FileTree& tree_;
  const KustomizeOptions& opts_;
  std::vector<std::string> stack_;
  std::size_t bytes_ = 0;
};

// ---- YAML output, as Kustomize (go-yaml v3 through kyaml) writes it ----

// Whether a string can be written plain: it reads back as the same string
// (not a number, boolean or null, also under YAML 1.1, which Kustomize's
// readers use) and has none of YAML's indicators where they matter.
bool is_yaml11_bool(const std::string& s) {
  static const std::set<std::string> kYaml11 = {"y",  "Y",   "yes", "Yes", "YES", "n",
                                                "N",  "no",  "No",  "NO",  "on",  "On",
                                                "ON", "off", "Off", "OFF"};
  return kYaml11.contains(s);
}

bool plain_ok(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
  static const std::string kFirst = "-?:,[]{}#&*!|>'\"%@`";
  if (kFirst.find(s.front()) != std::string::npos &&
      !(s.front() == '-' && s.size() > 1 && s[1] != ' ' && !s.starts_with("---"))) {
    return false;
  }
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') return false;
  }
  static const std::set<std::string> kYaml11 = {"y",  "Y",   "yes", "Yes", "YES", "n",
                                                "N",  "no",  "No",  "NO",  "on",  "On",
                                                "ON", "off", "Off", "OFF"};
  if (is_yaml11_bool(s)) return false;
  YamlDocuments d = parse_yaml(s);
  return !d.error && d.documents.size() == 1 && d.documents[0].value.is_string() &&
         d.documents[0].value.get<std::string>() == s;
}

std::string double_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string scalar_yaml(const json& v) {
  if (v.is_null()) return "null";
  if (!v.is_string()) return v.dump();
  const std::string s = v.get<std::string>();
  if (plain_ok(s)) return s;
  // Double quotes for what would read as another type (go-yaml's choice),
  // and for escapes; single quotes for indicators.
  const bool printable = std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == '\x7f';
  });
  YamlDocuments d = parse_yaml(s);
  const bool other_type = is_yaml11_bool(s) || (!d.error && d.documents.size() == 1 &&
                                                !d.documents[0].value.is_string());
  if (printable && !other_type && !s.empty()) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }
  return double_quoted(s);
}

void emit_yaml(const json& v, int indent, std::string& out);

void emit_block_string(const std::string& s, int indent, std::string& out) {
  std::size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  out += trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
  if (!s.empty() && s.front() == ' ') out += "2";
  out += '\n';
  const std::string body = s.substr(0, s.size() - (trailing > 0 ? 1 : 0));
  for (const auto& line : split(body, '\n')) {
    if (!line.empty()) out += std::string(static_cast<std::size_t>(indent), ' ') + line;
    out += '\n';
  }
}

bool is_block_string(const json& v) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.find('\n') == std::string::npos) return false;
  // go-yaml falls back to quoting for text a literal block cannot hold.
  for (const auto& line : split(s, '\n')) {
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) return false;
  }
  return std::none_of(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == '\x7f';
  });
}

void emit_value_after_key(const json& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += '\n';
    emit_yaml(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out += '\n';
    emit_yaml(v, indent, out);  // Kustomize does not indent a list under its key
  } else if (is_block_string(v)) {
    out += ' ';
    emit_block_string(v.get<std::string>(), indent + 2, out);
  } else {
    out += ' ';
    out += v.is_object() ? "{}" : v.is_array() ? "[]" : scalar_yaml(v);
    out += '\n';
  }
}

void emit_yaml(const json& v, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.is_object()) {
    for (const auto& [k, e] : v.items()) {
      out += pad + scalar_yaml(json(k)) + ":";
      emit_value_after_key(e, indent, out);
    }
    return;
  }
  if (v.is_array()) {
    for (const auto& e : v) {
      out += pad + "-";
      if (e.is_object() && !e.empty()) {
        // The first key on the dash's line, the others under it.
        std::string inner;
        emit_yaml(e, indent + 2, inner);
        out += " " + inner.substr(static_cast<std::size_t>(indent) + 2);
      } else if (e.is_array() && !e.empty()) {
        std::string inner;
        emit_yaml(e, indent + 2, inner);
        out += " " + inner.substr(static_cast<std::size_t>(indent) + 2);
      } else if (is_block_string(e)) {
        out += ' ';
        emit_block_string(e.get<std::string>(), indent + 2, out);
      } else {
        out += " " +
               (e.is_object()  ? std::string("{}")
                : e.is_array() ? std::string("[]")
                               : scalar_yaml(e)) +
               "\n";
      }
    }
    return;
  }
  out += pad + scalar_yaml(v) + "\n";
}

}  // namespace

std::expected<std::optional<std::string>, std::string> find_kustomization(const FileTree& tree,
                                                                          const std::string& dir) {
  std::optional<std::string> found;
  for (const char* name : kKustomizationNames) {
    const std::string path = dir.empty() ? std::string(name) : dir + "/" + name;
    auto content = tree.read(path);
    if (!content) return std::unexpected(content.error());
    if (!*content) continue;
    if (found) {
      return std::unexpected("found both " + base_name(*found) + " and " + name +
                             " in one directory; keep one");
    }
    found = path;
  }
  return found;
}

std::string go_json(const json& value) {
  std::string out;
  go_json_to(value, out);
  return out;
}

std::string generated_name_hash(const json& object) {
  const std::string kind = field_str(object, "kind");
  json m = {{"kind", kind}, {"name", ""}};
  const bool has_data =
      object.contains("data") && object["data"].is_object() && !object["data"].empty();
  // Measured against Kustomize v5.5: the name is empty, `immutable` is left
  // out, and a ConfigMap without data hashes its data as "" (a Secret's as {}).
  if (has_data) {
    m["data"] = object["data"];
  } else {
    m["data"] = kind == "Secret" ? json::object() : json("");
  }
  if (kind == "Secret") m["type"] = field_str(object, "type");
  if (object.contains("binaryData") && object["binaryData"].is_object() &&
      !object["binaryData"].empty()) {
    m["binaryData"] = object["binaryData"];
  }
  const std::string encoded = go_json(m);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(encoded.data()), encoded.size(), digest);
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 5; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  for (char& c : out) {
    switch (c) {
      case '0':
        c = 'g';
        break;
      case '1':
        c = 'h';
        break;
      case '3':
        c = 'k';
        break;
      case 'a':
        c = 'm';
        break;
      case 'e':
        c = 't';
        break;
      default:
        break;
    }
  }
  return out;
}

std::expected<std::vector<KObject>, std::vector<RenderError>> kustomize_build(
    const FileTree& tree, const std::string& dir, const KustomizeOptions& opts) {
  Builder b(tree, opts);
  Resources acc;
  auto to_errors = [](const Failure& f) {
    return std::vector<RenderError>{{f.file, -1, 0, 0, f.message}};
  };
  if (auto r = b.build(dir, acc, false, 0); !r) return std::unexpected(to_errors(r.error()));
  auto k = b.root_kustomization(dir);
  if (!k) return std::unexpected(to_errors(k.error()));
  auto kfile = find_kustomization(tree, dir);
  if (auto r = b.finish(acc, kfile && *kfile ? **kfile : dir, *k); !r) {
    return std::unexpected(to_errors(r.error()));
  }
  std::vector<KObject> out;
  out.reserve(acc.size());
  for (auto& r : acc) out.push_back({std::move(r.obj), std::move(r.file)});
  return out;
}

std::string to_yaml(const std::vector<KObject>& objects) {
  std::string out;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (i) out += "---\n";
    emit_yaml(objects[i].object, 0, out);
  }
  return out;
}

}  // namespace cairn::manifest
