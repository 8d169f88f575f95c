#include "helm/chart.h"

#include <openssl/evp.h>

#include <algorithm>
#include <functional>
#include <set>

#include "helm/functions.h"
#include "helm/objects.h"
#include "helm/template.h"
#include "helm/yaml.h"

namespace cairn::helm {
namespace {

using manifest::FileTree;

Error err(Error::Code c, std::string msg) { return Error{c, std::move(msg)}; }

struct Chart {
  std::string dir;                           // in the tree
  std::string name;                          // Chart.yaml's name, or the dependency's alias
  Map meta;                                  // .Chart, with Helm's field names
  Value values;                              // values.yaml
  std::vector<git::File> templates;          // path relative to the chart
  std::map<std::string, std::string> files;  // .Files
  std::vector<git::File> crds;               // path relative to the chart
  std::vector<Chart> subcharts;
};

std::string rel(const std::string& dir, const std::string& path) {
  return dir.empty() ? path : path.substr(dir.size() + 1);
}

// Chart.yaml's keys as Helm's chart.Metadata fields are named.
Value metadata_value(const Value& v, int depth = 0) {
  static const std::map<std::string, std::string> kNames = {{"apiVersion", "APIVersion"},
                                                            {"name", "Name"},
                                                            {"version", "Version"},
                                                            {"kubeVersion", "KubeVersion"},
                                                            {"description", "Description"},
                                                            {"type", "Type"},
                                                            {"keywords", "Keywords"},
                                                            {"home", "Home"},
                                                            {"sources", "Sources"},
                                                            {"dependencies", "Dependencies"},
                                                            {"maintainers", "Maintainers"},
                                                            {"icon", "Icon"},
                                                            {"appVersion", "AppVersion"},
                                                            {"deprecated", "Deprecated"},
                                                            {"annotations", "Annotations"},
                                                            {"condition", "Condition"},
                                                            {"tags", "Tags"},
                                                            {"repository", "Repository"},
                                                            {"enabled", "Enabled"},
                                                            {"import-values", "ImportValues"},
                                                            {"alias", "Alias"},
                                                            {"email", "Email"},
                                                            {"url", "URL"}};
  if (v.is_list() && depth < 2) {
    List out;
    for (const Value& x : v.list()) out.push_back(metadata_value(x, depth + 1));
    return Value(std::move(out));
  }
  if (!v.is_map() || depth > 2) return v;
  Map out;
  for (const auto& [k, x] : v.map()) {
    auto it = kNames.find(k);
    // Annotations keep their keys.
    out[it == kNames.end() ? k : it->second] =
        k == "annotations" ? x : metadata_value(x, depth + 1);
  }
  return Value(std::move(out));
}

std::string meta_string(const Map& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end() || it->second.is_nil()) return "";
  return strval(it->second);
}

// ------------------------------------------------------------ .helmignore

struct IgnoreRule {
  std::string pattern;
  bool negate = false, dir_only = false;
};

std::vector<IgnoreRule> parse_helmignore(const std::string& text) {
  std::vector<IgnoreRule> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() + 1 : nl + 1;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t'))
      line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    IgnoreRule r;
    if (line[0] == '!') {
      r.negate = true;
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (!line.empty() && line[0] == '/') line.erase(0, 1);
    r.pattern = line;
    out.push_back(r);
  }
  return out;
}

bool ignored(const std::vector<IgnoreRule>& rules, const std::string& path) {
  bool out = false;
  // A rule matches the file or any of its parent directories: a rule
  // without '/' is matched against each path element, as Helm's.
  std::vector<std::string> parts;
  std::size_t s = 0, p;
  while ((p = path.find('/', s)) != std::string::npos) {
    parts.push_back(path.substr(s, p - s));
    s = p + 1;
  }
  parts.push_back(path.substr(s));
  for (const IgnoreRule& r : rules) {
    bool m = false;
    std::string prefix;
    for (std::size_t i = 0; i < parts.size() && !m; ++i) {
      bool is_dir = i + 1 < parts.size();
      prefix += (i ? "/" : "") + parts[i];
      if (r.dir_only && !is_dir) continue;
      m = r.pattern.find('/') == std::string::npos ? glob_match(r.pattern, parts[i], false)
                                                   : glob_match(r.pattern, prefix, false);
    }
    if (m) out = !r.negate;
  }
  return out;
}

// ------------------------------------------------------------ loading

std::expected<Chart, Error> load_chart(const FileTree& tree, const std::string& dir, int depth) {
  if (depth > 20)
    return std::unexpected(err(Error::Code::kInvalidChart, dir + ": subcharts nest too deep"));
  auto listed = tree.files_under(dir);
  if (!listed) return std::unexpected(err(Error::Code::kTree, listed.error()));
  Chart c;
  c.dir = dir;
  std::map<std::string, std::string> all;
  for (auto& f : *listed) all[rel(dir, f.path)] = std::move(f.content);
  auto chart_yaml = all.find("Chart.yaml");
  if (chart_yaml == all.end()) {
    return std::unexpected(err(Error::Code::kInvalidChart,
                               (dir.empty() ? "." : dir) + ": no Chart.yaml: not a Helm chart"));
  }
  auto meta = from_yaml(chart_yaml->second);
  if (!meta || !meta->is_map()) {
    return std::unexpected(err(Error::Code::kInvalidChart,
                               dir + "/Chart.yaml: " + (meta ? "not a mapping" : meta.error())));
  }
  c.meta = metadata_value(*meta).map();
  std::string api = meta_string(c.meta, "APIVersion");
  c.name = meta_string(c.meta, "Name");
  if (c.name.empty() || meta_string(c.meta, "Version").empty()) {
    return std::unexpected(
        err(Error::Code::kInvalidChart, dir + "/Chart.yaml: name and version are required"));
  }
  if (api != "v1" && api != "v2") {
    return std::unexpected(
        err(Error::Code::kInvalidChart,
            dir + "/Chart.yaml: apiVersion must be v1 or v2, not \"" + api + "\""));
  }
  for (const char* k :
       {"Description", "Type", "KubeVersion", "Home", "Icon", "AppVersion", "Condition", "Tags"})
    if (!c.meta.contains(k)) c.meta[k] = Value("");
  if (!c.meta.contains("Deprecated")) c.meta["Deprecated"] = Value(false);
  // apiVersion v1 keeps its dependencies in requirements.yaml.
  if (api == "v1" && all.contains("requirements.yaml")) {
    auto req = from_yaml(all["requirements.yaml"]);
    if (!req)
      return std::unexpected(
          err(Error::Code::kInvalidChart, dir + "/requirements.yaml: " + req.error()));
    if (req->is_map() && req->map().contains("dependencies"))
      c.meta["Dependencies"] = metadata_value(req->map()["dependencies"]);
  }
  std::vector<IgnoreRule> ignore;
  if (auto it = all.find(".helmignore"); it != all.end()) ignore = parse_helmignore(it->second);

  std::set<std::string> subdirs;
  for (auto& [path, content] : all) {
    if (ignored(ignore, path)) continue;
    if (path == "Chart.yaml" || path == "Chart.lock" || path == "requirements.yaml" ||
        path == "requirements.lock" || path == "values.schema.json") {
      continue;
    }
    if (path == "values.yaml") {
      auto v = from_yaml(content);
      if (!v)
        return std::unexpected(err(Error::Code::kInvalidChart, dir + "/values.yaml: " + v.error()));
      if (!v->is_nil() && !v->is_map())
        return std::unexpected(
            err(Error::Code::kInvalidChart, dir + "/values.yaml: not a mapping"));
      c.values = v->is_nil() ? Value(Map{}) : *v;
      continue;
    }
    if (path.rfind("templates/", 0) == 0) {
      c.templates.push_back({path, content});
      continue;
    }
    if (path.rfind("charts/", 0) == 0) {
      std::string sub = path.substr(7);
      std::size_t slash = sub.find('/');
      if (slash == std::string::npos) {
        if (sub.ends_with(".tgz") || sub.ends_with(".tar.gz")) {
          return std::unexpected(err(Error::Code::kNeedsNetwork,
                                     dir + "/charts/" + sub +
                                         ": packaged subcharts are not supported: unpack it into " +
                                         dir + "/charts/<name>/ and commit the directory"));
        }
        continue;
      }
      subdirs.insert(sub.substr(0, slash));
      continue;
    }
    if (path.rfind("crds/", 0) == 0) c.crds.push_back({path, content});
    c.files[path] = content;
  }
  if (c.values.is_nil()) c.values = Value(Map{});
  for (const std::string& s : subdirs) {
    std::string sub_dir = (dir.empty() ? "" : dir + "/") + "charts/" + s;
    auto has_chart = tree.read(sub_dir + "/Chart.yaml");
    if (!has_chart) return std::unexpected(err(Error::Code::kTree, has_chart.error()));
    if (!*has_chart) continue;
    auto sub = load_chart(tree, sub_dir, depth + 1);
    if (!sub) return sub;
    c.subcharts.push_back(std::move(*sub));
  }
  return c;
}

// ------------------------------------------------------------ values

// Helm's mergeMaps: src over dst, maps merged deep.
void merge_maps(Map& dst, const Map& src) {
  for (const auto& [k, v] : src) {
    auto it = dst.find(k);
    if (it != dst.end() && it->second.is_map() && v.is_map()) {
      merge_maps(it->second.map(), v.map());
    } else {
      dst[k] = deep_copy(v);
    }
  }
}

// Helm's coalesceTables: dst (user values) wins; a null in dst deletes the
// chart's default.
void coalesce_tables(Map& dst, const Map& src) {
  for (const auto& [k, v] : src) {
    auto it = dst.find(k);
    if (it == dst.end()) {
      dst[k] = deep_copy(v);
    } else if (it->second.is_nil()) {
      dst.erase(it);
    } else if (v.is_map() && it->second.is_map()) {
      coalesce_tables(it->second.map(), v.map());
    }
  }
}

void coalesce_globals(Map& sub, const Map& parent) {
  auto pg = parent.find("global");
  if (pg == parent.end() || !pg->second.is_map()) return;
  Value& sg = sub["global"];
  if (!sg.is_map()) sg = Value(Map{});
  for (const auto& [k, v] : pg->second.map()) {
    auto it = sg.map().find(k);
    if (v.is_map() && it != sg.map().end() && it->second.is_map()) {
      // The parent's globals win over the subchart's.
      Map merged = it->second.map();
      merge_maps(merged, v.map());
      it->second = Value(std::move(merged));
    } else {
      sg.map()[k] = deep_copy(v);
    }
  }
}

void coalesce(const Chart& c, Map& dest) {
  coalesce_tables(dest, c.values.map());
  for (const Chart& sub : c.subcharts) {
    Value& sv = dest[sub.name];
    if (!sv.is_map()) sv = Value(Map{});
    coalesce_globals(sv.map(), dest);
    coalesce(sub, sv.map());
  }
}

const Value* lookup_path(const Map& m, const std::string& path) {
  const Map* cur = &m;
  const Value* v = nullptr;
  std::size_t s = 0;
  while (true) {
    std::size_t p = path.find('.', s);
    std::string key = path.substr(s, p == std::string::npos ? std::string::npos : p - s);
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    v = &it->second;
    if (p == std::string::npos) return v;
    if (!v->is_map()) return nullptr;
    cur = &v->map();
    s = p + 1;
  }
}

// ------------------------------------------------------------ dependencies

struct Dependency {
  std::string name, alias, condition, repository, version;
  std::vector<std::string> tags;
  List import_values;
};

std::vector<Dependency> dependencies(const Chart& c) {
  std::vector<Dependency> out;
  auto it = c.meta.find("Dependencies");
  if (it == c.meta.end() || !it->second.is_list()) return out;
  for (const Value& d : it->second.list()) {
    if (!d.is_map()) continue;
    Dependency dep;
    dep.name = meta_string(d.map(), "Name");
    dep.alias = meta_string(d.map(), "Alias");
    dep.condition = meta_string(d.map(), "Condition");
    dep.repository = meta_string(d.map(), "Repository");
    dep.version = meta_string(d.map(), "Version");
    if (auto t = d.map().find("Tags"); t != d.map().end())
      for (const auto& s : strslice(t->second)) dep.tags.push_back(s);
    if (auto iv = d.map().find("ImportValues"); iv != d.map().end() && iv->second.is_list())
      dep.import_values = iv->second.list();
    out.push_back(std::move(dep));
  }
  return out;
}

// Whether a dependency is enabled: its condition (the first path that is a
// bool) wins over its tags, as Helm's processDependencyEnabled.
bool enabled(const Dependency& d, const Map& vals, const Map& top, const std::string& prefix) {
  if (!d.condition.empty()) {
    std::size_t s = 0;
    while (s <= d.condition.size()) {
      std::size_t p = d.condition.find(',', s);
      std::string path = d.condition.substr(s, p == std::string::npos ? std::string::npos : p - s);
      path.erase(0, path.find_first_not_of(' '));
      path.erase(path.find_last_not_of(' ') + 1);
      if (const Value* v = lookup_path(vals, path); v && v->kind() == Value::Kind::kBool)
        return v->as_bool();
      (void)prefix;
      if (p == std::string::npos) break;
      s = p + 1;
    }
  }
  if (d.tags.empty()) return true;
  auto tags = top.find("tags");
  if (tags == top.end() || !tags->second.is_map()) return true;
  bool has_true = false, has_false = false;
  for (const std::string& t : d.tags) {
    auto it = tags->second.map().find(t);
    if (it == tags->second.map().end() || it->second.kind() != Value::Kind::kBool) continue;
    (it->second.as_bool() ? has_true : has_false) = true;
  }
  return has_true || !has_false;
}

// Binds Chart.yaml's dependencies to the vendored subcharts (aliases make
// copies), refuses missing ones, drops disabled ones and applies
// import-values. `vals` are this chart's coalesced values.
std::expected<void, Error> process_dependencies(Chart& c, Map& vals, const Map& top, int depth) {
  std::vector<Dependency> deps = dependencies(c);
  std::vector<Chart> bound;
  std::set<std::string> used;
  for (const Dependency& d : deps) {
    auto it = std::find_if(c.subcharts.begin(), c.subcharts.end(),
                           [&](const Chart& s) { return meta_string(s.meta, "Name") == d.name; });
    if (it == c.subcharts.end()) {
      std::string where = d.repository.empty() ? "" : " from " + d.repository;
      return std::unexpected(err(
          Error::Code::kNeedsNetwork,
          "chart \"" + c.name + "\" depends on \"" + d.name + "\" (version \"" + d.version + "\"" +
              where + ") which is not vendored in " + (c.dir.empty() ? "" : c.dir + "/") +
              "charts/: Cairn does not fetch charts; run `helm dependency build` and commit "
              "charts/" +
              d.name + "/ unpacked"));
    }
    used.insert(it->dir);
    Chart s = *it;
    if (!d.alias.empty()) {
      s.name = d.alias;
      s.meta["Name"] = Value(d.alias);
    }
    if (!enabled(d, vals, top, "")) continue;
    // import-values: child values copied into the parent's.
    for (const Value& iv : d.import_values) {
      const Map& child = vals[s.name].is_map() ? vals[s.name].map() : Map{};
      std::string from, to;
      if (iv.is_string()) {
        from = "exports." + iv.as_string();
      } else if (iv.is_map()) {
        from = meta_string(iv.map(), "child");
        to = meta_string(iv.map(), "parent");
      }
      const Value* v = lookup_path(child, from);
      if (!v) continue;
      Map* dst = &vals;
      if (!to.empty() && to != ".") {
        std::size_t st = 0;
        while (true) {
          std::size_t p = to.find('.', st);
          Value& next = (*dst)[to.substr(st, p == std::string::npos ? std::string::npos : p - st)];
          if (p == std::string::npos) {
            if (v->is_map() && next.is_map())
              merge_maps(next.map(), v->map());
            else
              next = deep_copy(*v);
            dst = nullptr;
            break;
          }
          if (!next.is_map()) next = Value(Map{});
          dst = &next.map();
          st = p + 1;
        }
      }
      if (dst && v->is_map()) merge_maps(*dst, v->map());
    }
    bound.push_back(std::move(s));
  }
  // Subcharts no dependency names are rendered as they are.
  for (Chart& s : c.subcharts)
    if (!used.contains(s.dir)) bound.push_back(std::move(s));
  c.subcharts = std::move(bound);
  for (Chart& s : c.subcharts) {
    Value& sv = vals[s.name];
    if (!sv.is_map()) sv = Value(Map{});
    // An alias gets the chart's defaults and the globals under its own name.
    coalesce_globals(sv.map(), vals);
    coalesce(s, sv.map());
    if (auto r = process_dependencies(s, sv.map(), top, depth + 1); !r) return r;
  }
  return {};
}

// ------------------------------------------------------------ rendering

struct Renderable {
  std::string source_file;
  const Chart* chart;
  Value values;  // the chart's .Values
};

void collect(const Chart& c, const std::string& id, const Value& vals,
             std::map<std::string, Renderable>& out, std::vector<RenderedTemplate>& crds) {
  for (const auto& t : c.templates)
    out[id + "/" + t.path] = {(c.dir.empty() ? "" : c.dir + "/") + t.path, &c, vals};
  for (const auto& f : c.crds)
    crds.push_back(
        {id + "/" + f.path, (c.dir.empty() ? "" : c.dir + "/") + f.path, f.content, true});
  for (const Chart& s : c.subcharts) {
    Value sv;
    if (vals.is_map())
      if (auto it = vals.map().find(s.name); it != vals.map().end()) sv = it->second;
    if (!sv.is_map()) sv = Value(Map{});
    collect(s, id + "/charts/" + s.name, sv, out, crds);
  }
}

// Helm's sortTemplates: deeper paths first, then reverse lexical order;
// later definitions of a `define` win, so the parent chart's win.
std::vector<std::string> helm_order(const std::map<std::string, Renderable>& tpls) {
  std::vector<std::string> keys;
  for (const auto& [k, _] : tpls) keys.push_back(k);
  std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
    auto ca = std::count(a.begin(), a.end(), '/'), cb = std::count(b.begin(), b.end(), '/');
    if (ca != cb) return ca > cb;
    return a > b;
  });
  return keys;
}

bool whitespace_only(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
}

std::string remove_no_value(std::string s) {
  static const std::string kNoValue = "<no value>";
  std::size_t p = 0;
  while ((p = s.find(kNoValue, p)) != std::string::npos) s.erase(p, kNoValue.size());
  return s;
}

bool skipped(const std::string& name) {
  std::string base = name.substr(name.rfind('/') + 1);
  if (base.starts_with("_") || base == "NOTES.txt") return true;
  // Test hooks: Cairn does not run Helm tests.
  return name.find("/templates/tests/") != std::string::npos;
}

}  // namespace

std::expected<std::vector<RenderedTemplate>, Error> render_chart(const FileTree& tree,
                                                                 const std::string& chart_dir,
                                                                 const ChartOptions& opts) {
  auto loaded = load_chart(tree, chart_dir, 0);
  if (!loaded) return std::unexpected(loaded.error());
  Chart chart = std::move(*loaded);

  auto caps = make_capabilities(opts.kube_version, opts.api_versions);
  if (!caps) return std::unexpected(err(Error::Code::kInvalidChart, caps.error()));
  if (std::string kv = meta_string(chart.meta, "KubeVersion"); !kv.empty()) {
    auto ok = semver_check(kv, opts.kube_version);
    if (!ok)
      return std::unexpected(
          err(Error::Code::kInvalidChart, "Chart.yaml kubeVersion: " + ok.error()));
    if (!*ok) {
      return std::unexpected(
          err(Error::Code::kInvalidChart, "chart requires kubeVersion: " + kv +
                                              " which is incompatible with Kubernetes " +
                                              opts.kube_version));
    }
  }

  // User values: the values files in order, then the overrides.
  Map user;
  for (std::size_t i = 0; i < opts.values_files.size(); ++i) {
    auto v = from_yaml(opts.values_files[i]);
    if (!v) {
      return std::unexpected(err(Error::Code::kInvalidChart,
                                 "values file " + std::to_string(i + 1) + ": " + v.error()));
    }
    if (v->is_nil()) continue;
    if (!v->is_map()) {
      return std::unexpected(err(Error::Code::kInvalidChart,
                                 "values file " + std::to_string(i + 1) + ": not a mapping"));
    }
    merge_maps(user, v->map());
  }
  if (!opts.values.is_null() && !opts.values.is_object())
    return std::unexpected(err(Error::Code::kInvalidChart, "values: must be a mapping"));
  if (opts.values.is_object()) merge_maps(user, from_json(opts.values).map());
  coalesce(chart, user);
  Map top_copy = user;
  if (auto r = process_dependencies(chart, user, top_copy, 0); !r)
    return std::unexpected(r.error());

  std::map<std::string, Renderable> tpls;
  std::vector<RenderedTemplate> out;
  collect(chart, chart.name, Value(user), tpls, out);
  if (!opts.include_crds) out.clear();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

  static const FuncMap funcs = helm_funcs();
  TemplateSet set;
  std::vector<std::string> order = helm_order(tpls);
  for (const std::string& name : order) {
    const Renderable& r = tpls.at(name);
    const std::string* text = nullptr;
    for (const auto& t : r.chart->templates)
      if (name.ends_with("/" + t.path)) text = &t.content;
    if (auto p = set.parse(name, *text, &funcs); !p)
      return std::unexpected(
          err(Error::Code::kRender, "parse error at (" + p.error().substr(10) + ")"));
  }

  Value release(Map{{"Name", Value(opts.release_name)},
                    {"Namespace", Value(opts.release_namespace)},
                    {"Service", Value("Helm")},
                    {"IsInstall", Value(opts.is_install)},
                    {"IsUpgrade", Value(!opts.is_install)},
                    {"Revision", Value(1)}});
  Executor exec(set, funcs);
  std::vector<RenderedTemplate> rendered;
  for (const std::string& name : order) {
    if (skipped(name)) continue;
    const Renderable& r = tpls.at(name);
    std::string base = name.substr(0, name.rfind("/templates/") + 10);
    Map dot{{"Values", r.values},
            {"Release", release},
            {"Chart", Value(r.chart->meta)},
            {"Capabilities", *caps},
            {"Files", make_files(r.chart->files)},
            {"Template", Value(Map{{"Name", Value(name)}, {"BasePath", Value(base)}})}};
    auto text = exec.execute(name, Value(std::move(dot)));
    if (!text) return std::unexpected(err(Error::Code::kRender, text.error()));
    std::string t = remove_no_value(std::move(*text));
    if (whitespace_only(t)) continue;
    rendered.push_back({name, r.source_file, std::move(t), false});
  }
  std::sort(rendered.begin(), rendered.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& r : rendered) out.push_back(std::move(r));
  return out;
}

// ------------------------------------------------------------ cache

namespace {

std::string sha256_hex(const std::string& s) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), buf, &n, EVP_sha256(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += digits[buf[i] >> 4];
    out += digits[buf[i] & 15];
  }
  return out;
}

std::string options_key(const ChartOptions& o) {
  json j = {{"r", o.release_name}, {"n", o.release_namespace}, {"v", o.values},
            {"f", o.values_files}, {"k", o.kube_version},      {"a", o.api_versions},
            {"i", o.is_install},   {"c", o.include_crds}};
  return j.dump();
}

}  // namespace

std::expected<std::vector<RenderedTemplate>, Error> ChartCache::render(const FileTree& tree,
                                                                       const std::string& tree_id,
                                                                       const std::string& chart_dir,
                                                                       const ChartOptions& opts) {
  std::string identity = tree_id;
  if (identity.empty()) {
    auto files = tree.files_under(chart_dir);
    if (!files) return std::unexpected(err(Error::Code::kTree, files.error()));
    std::string all;
    for (const auto& f : *files) {
      all += f.path + '\0' + std::to_string(f.content.size()) + '\0' + f.content;
    }
    identity = sha256_hex(all);
  }
  std::string key = sha256_hex(identity + '\0' + chart_dir + '\0' + options_key(opts));
  {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++hits_;
      return *it->second->second;
    }
  }
  auto r = render_chart(tree, chart_dir, opts);
  if (!r) return r;  // failures are not cached: a fixed tree gets a new id
  auto shared = std::make_shared<const std::vector<RenderedTemplate>>(*r);
  std::lock_guard lock(mu_);
  if (index_.contains(key)) return r;
  lru_.emplace_front(key, shared);
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return r;
}

std::size_t ChartCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

}  // namespace cairn::helm
