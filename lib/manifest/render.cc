#include "manifest/render.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "api/names.h"
#include "helm/chart.h"
#include "manifest/kinds.h"
#include "manifest/kustomize.h"
#include "manifest/yaml.h"

namespace cairn::manifest {

using json = cairn::json;

namespace {

// ---- objects ----

struct Located {
  std::size_t file = 0;  // index into the sorted file list
  int document = 0;      // -1 for JSON files
  int item = -1;         // index in a List's items, -1 when not from a List
  int line = 0;
  int rank = 0;
  std::size_t seq = 0;  // order of arrival: a kustomization's output order
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
    l.seq = objects.size();
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
    YamlDocuments parsed = parse_yaml(files[file]->content);
    for (std::size_t d = 0; d < parsed.documents.size() && !too_many; ++d) {
      document(file, static_cast<int>(d), parsed.documents[d].line,
               std::move(parsed.documents[d].value));
    }
    if (too_many || !parsed.error) return;
    const YamlError& e = *parsed.error;
    error(file, e.document, e.line, e.column, e.message);
  }

  void json_file(std::size_t file) {
    JsonParse parsed = parse_json_text(files[file]->content);
    if (parsed.error) {
      error(file, -1, 0, 0, *parsed.error);
      return;
    }
    if (parsed.value) document(file, -1, 0, std::move(*parsed.value));
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

bool is_manifest_file(std::string_view path) {
  return path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json");
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

namespace {

std::expected<Rendered, std::vector<RenderError>> finish(Renderer& r);

// `all`: every file is manifests (a chart's rendered templates), whatever
// its name.
std::expected<Rendered, std::vector<RenderError>> render_files(const RenderInput& in,
                                                               const std::vector<git::File>& files,
                                                               bool all = false) {
  Renderer r{in, {}, {}, {}, 0, false};
  std::size_t bytes = 0;
  for (const auto& f : files) {
    if (!all && !is_manifest_file(f.path)) continue;
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
  return finish(r);
}

// The objects of a kustomization, validated and stamped like plain
// manifests; cairn.dev/path names the file each came from.
std::expected<Rendered, std::vector<RenderError>> render_kustomization(const RenderInput& in,
                                                                       const std::string& dir) {
  KustomizeOptions opts;
  opts.max_documents = in.max_documents;
  opts.max_bytes = in.max_bytes;
  opts.max_file_bytes = in.max_file_bytes;
  auto built = kustomize_build(*in.tree, dir, opts);
  if (!built) return std::unexpected(std::move(built.error()));
  std::deque<git::File> sources;  // the Renderer keeps pointers: a deque keeps them valid
  std::map<std::string, std::size_t> index;
  Renderer r{in, {}, {}, {}, 0, false};
  for (auto& k : *built) {
    auto [it, added] = index.emplace(k.file, r.files.size());
    if (added) {
      sources.push_back({k.file, ""});
      r.files.push_back(&sources.back());
    }
    r.object(it->second, -1, -1, 0, std::move(k.object));
    if (r.too_many) return std::unexpected(std::move(r.errors));
  }
  return finish(r);
}

RenderError single(std::string file, std::string message) {
  return {std::move(file), -1, 0, 0, std::move(message)};
}

// A Helm chart at `dir`, rendered with spec.helm's options, each template's
// output then read like a manifest file.
std::expected<Rendered, std::vector<RenderError>> render_helm_chart(const RenderInput& in,
                                                                    const std::string& dir) {
  helm::ChartOptions opts;
  opts.release_name =
      in.helm && !in.helm->release_name.empty() ? in.helm->release_name : in.release_name;
  opts.release_namespace = in.release_namespace;
  opts.kube_version = in.kube_version;
  std::vector<std::string> files;  // spec.helm.valuesFiles, for messages
  if (in.helm) {
    opts.values = in.helm->values.is_object() ? in.helm->values : json::object();
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < in.helm->values_files.size(); ++i) {
      const std::string field = "spec.helm.valuesFiles[" + std::to_string(i) + "]";
      auto path = join_path("", in.helm->values_files[i]);
      if (!path || path->empty()) {
        return std::unexpected(std::vector<RenderError>{
            single("", field + ": must be a relative path inside the repository, without '..'")});
      }
      auto content = in.tree->read(*path);
      if (!content)
        return std::unexpected(std::vector<RenderError>{single(*path, content.error())});
      if (!*content) {
        return std::unexpected(std::vector<RenderError>{
            single("", field + ": " + *path + " does not exist at commit " + in.commit +
                           " (values files are paths from the repository root)")});
      }
      bytes += (*content)->size();
      if ((*content)->size() > in.max_file_bytes || bytes > in.max_bytes) {
        return std::unexpected(std::vector<RenderError>{
            single(*path, field + ": the values file is larger than the limit of " +
                              std::to_string(in.max_file_bytes) + " bytes")});
      }
      if (auto bad = invalid_utf8_at(**content); bad != std::string::npos) {
        return std::unexpected(std::vector<RenderError>{
            single(*path, field + ": the file is not UTF-8 text (byte " + std::to_string(bad + 1) +
                              "); save it as UTF-8")});
      }
      opts.values_files.push_back(std::move(**content));
      files.push_back(*path);
    }
  }
  auto rendered = helm::render_chart(*in.tree, dir, opts);
  if (!rendered) {
    std::string msg = rendered.error().message;
    // lib/helm numbers the values files; name them instead.
    if (msg.starts_with("values file ")) {
      std::size_t n = 0;
      const auto colon = msg.find(':');
      std::from_chars(msg.data() + 12, msg.data() + std::min(colon, msg.size()), n);
      if (n >= 1 && n <= files.size() && colon != std::string::npos) {
        return std::unexpected(std::vector<RenderError>{
            single(files[n - 1], "spec.helm.valuesFiles[" + std::to_string(n - 1) +
                                     "]: not valid values" + msg.substr(colon))});
      }
    }
    std::string what;
    switch (rendered.error().code) {
      case helm::Error::Code::kNeedsNetwork:
        what = "the chart needs the network: ";
        break;
      case helm::Error::Code::kRender:
        what = "a template failed: ";
        break;
      case helm::Error::Code::kInvalidChart:
        what = "invalid chart: ";
        break;
      case helm::Error::Code::kTree:
        break;
    }
    return std::unexpected(std::vector<RenderError>{single(dir, "helm: " + what + msg)});
  }
  std::vector<git::File> outputs;
  outputs.reserve(rendered->size());
  std::set<std::string> templates;  // CRDs are copied verbatim: their lines are the file's
  for (auto& t : *rendered) {
    // crds/ holds other files too (a README): Helm installs only manifests.
    if (t.crd && !is_manifest_file(t.source_file)) continue;
    if (!t.crd) templates.insert(t.source_file);
    outputs.push_back({t.source_file, std::move(t.text)});
  }
  auto out = render_files(in, outputs, true);
  if (!out) {
    for (RenderError& e : out.error()) {
      if (e.line > 0 && templates.contains(e.file)) e.message += " (line in the template's output)";
    }
  }
  return out;
}

std::expected<Rendered, std::vector<RenderError>> finish(Renderer& r) {
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
    return std::tie(a.rank, r.files[a.file]->path, a.document, a.item, a.seq) <
           std::tie(b.rank, r.files[b.file]->path, b.document, b.item, b.seq);
  });
  Rendered out;
  out.objects.reserve(r.objects.size());
  for (auto& l : r.objects) out.objects.push_back(std::move(l.object));
  return out;
}

}  // namespace

std::expected<Rendered, std::vector<RenderError>> render(const RenderInput& in) {
  if (!in.tree) return render_files(in, in.files);
  auto dir = join_path("", in.path);
  if (!dir) {
    return std::unexpected(std::vector<RenderError>{
        {"", -1, 0, 0, "spec.path \"" + in.path + "\" climbs above the repository root"}});
  }
  const std::string chart_file = dir->empty() ? "Chart.yaml" : *dir + "/Chart.yaml";
  auto chart = in.tree->read(chart_file);
  if (!chart) return std::unexpected(std::vector<RenderError>{single(*dir, chart.error())});
  if (*chart) return render_helm_chart(in, *dir);
  if (in.helm) {
    return std::unexpected(std::vector<RenderError>{
        single("", "spec.helm is set, but spec.path \"" + *dir +
                       "\" holds no Chart.yaml: point spec.path at a Helm chart, or remove "
                       "spec.helm")});
  }
  auto kfile = find_kustomization(*in.tree, *dir);
  if (!kfile) return std::unexpected(std::vector<RenderError>{{*dir, -1, 0, 0, kfile.error()}});
  if (*kfile) return render_kustomization(in, *dir);
  auto files = in.tree->files_under(*dir);
  if (!files) return std::unexpected(std::vector<RenderError>{{*dir, -1, 0, 0, files.error()}});
  return render_files(in, *files);
}

}  // namespace cairn::manifest
