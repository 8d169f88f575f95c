#include "fakes.h"

#include <cstdio>
#include <sstream>

#include "kube/util.h"

namespace cairn::fakes {

namespace {

const std::vector<kube::ApiResource> kKinds = {
    {"", "v1", "configmaps", "ConfigMap", true},
    {"", "v1", "secrets", "Secret", true},
    {"", "v1", "services", "Service", true},
    {"", "v1", "pods", "Pod", true},
    {"", "v1", "namespaces", "Namespace", false},
    {"apps", "v1", "deployments", "Deployment", true},
    {"batch", "v1", "jobs", "Job", true},
    {"cairn.dev", "v1alpha1", "releases", "Release", true},
    {"cairn.dev", "v1alpha1", "pipelines", "Pipeline", true},
};

// The fieldsV1 set an applied object sets: every map key; lists whole.
json fieldset(const json& v) {
  json out = json::object();
  if (!v.is_object()) return out;
  for (const auto& [k, sub] : v.items()) out["f:" + k] = fieldset(sub);
  return out;
}

bool labels_match(const json& obj, const std::string& selector) {
  const json labels = obj["metadata"].value("labels", json::object());
  std::stringstream in(selector);
  for (std::string term; std::getline(in, term, ',');) {
    if (term.empty()) continue;
    auto eq = term.find('=');
    if (eq == std::string::npos) {
      if (!labels.contains(term)) return false;
    } else if (labels.value(term.substr(0, eq), "") != term.substr(eq + 1)) {
      return false;
    }
  }
  return true;
}

// The keys of the map at `path` that only `manager`'s Apply entry owns.
bool owned_by_apply(const json& live, const std::string& manager,
                    const std::vector<std::string>& path) {
  for (const auto& e : live["metadata"].value("managedFields", json::array())) {
    if (e.value("manager", "") != manager || e.value("operation", "") != "Apply") continue;
    const json* node = &e["fieldsV1"];
    bool found = true;
    for (const auto& p : path) {
      if (!node->is_object() || !node->contains("f:" + p)) {
        found = false;
        break;
      }
      node = &(*node)["f:" + p];
    }
    if (found) return true;
  }
  return false;
}

}  // namespace

void merge_patch(json& target, const json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object();
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null()) {
      target.erase(k);
    } else {
      merge_patch(target[k], v);
    }
  }
}

kube::Error FakeApi::error(kube::Code code, const std::string& message) {
  kube::Error e;
  e.code = code;
  e.message = message;
  return e;
}

FakeApi::FakeApi() {
  for (const auto& k : kKinds) kinds_[k.api_version() + "/" + k.kind] = k;
}

std::vector<FakeApi::Call> FakeApi::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

size_t FakeApi::count(const std::string& verb, const std::string& resource) const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& c : calls_) n += c.verb == verb && (resource.empty() || c.resource == resource);
  return n;
}

void FakeApi::clear_calls() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

FakeApi::Key FakeApi::key(const kube::ApiResource& r, std::string_view ns,
                          std::string_view name) const {
  return {r.resource, r.namespaced ? std::string(ns) : "", std::string(name)};
}

std::optional<kube::Error> FakeApi::check(Call call) {
  {
    std::lock_guard lock(mu_);
    calls_.push_back(call);
  }
  if (fault) return fault(call);
  return std::nullopt;
}

void FakeApi::stamp(json& obj) {
  json& md = obj["metadata"];
  md["resourceVersion"] = std::to_string(++rv_);
  if (!md.contains("uid")) md["uid"] = "uid-" + std::to_string(rv_);
  if (!md.contains("creationTimestamp")) md["creationTimestamp"] = "2026-01-01T00:00:00Z";
  if (!md.contains("generation")) md["generation"] = 1;
}

void FakeApi::put(const kube::ApiResource& r, const json& obj) {
  std::lock_guard lock(mu_);
  json o = obj;
  stamp(o);
  const json& md = o["metadata"];
  objects_[key(r, md.value("namespace", ""), md.value("name", ""))] = o;
}

std::optional<json> FakeApi::peek(const kube::ApiResource& r, const std::string& ns,
                                  const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key(r, ns, name));
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<json> FakeApi::all(const kube::ApiResource& r) const {
  std::lock_guard lock(mu_);
  std::vector<json> out;
  for (const auto& [k, v] : objects_) {
    if (std::get<0>(k) == r.resource) out.push_back(v);
  }
  return out;
}

void FakeApi::edit(const kube::ApiResource& r, const std::string& ns, const std::string& name,
                   const json& patch, const std::string& manager, const json& fields) {
  std::lock_guard lock(mu_);
  json& o = objects_.at(key(r, ns, name));
  merge_patch(o, patch);
  json& mf = o["metadata"]["managedFields"];
  if (!mf.is_array()) mf = json::array();
  mf.push_back({{"manager", manager},
                {"operation", "Update"},
                {"apiVersion", o.value("apiVersion", "")},
                {"time", kube::rfc3339(std::chrono::system_clock::now())},
                {"fieldsType", "FieldsV1"},
                {"fieldsV1", fields}});
  stamp(o);
}

kube::Result<kube::ApiResource> FakeApi::resource_for(std::string_view api_version,
                                                      std::string_view kind) {
  if (auto e = check({.verb = "discovery", .resource = std::string(kind)}))
    return std::unexpected(*e);
  auto it = kinds_.find(std::string(api_version) + "/" + std::string(kind));
  if (it == kinds_.end())
    return std::unexpected(error(kube::Code::kNotFound, "no kind " + std::string(kind)));
  return it->second;
}

kube::Result<kube::ApiResource> FakeApi::resource_of(const json& obj) {
  return resource_for(obj.value("apiVersion", ""), obj.value("kind", ""));
}

kube::Result<json> FakeApi::get(const kube::ApiResource& r, std::string_view ns,
                                std::string_view name, std::string_view sub) {
  if (auto e = check({"get", r.resource, std::string(ns), std::string(name), std::string(sub)}))
    return std::unexpected(*e);
  std::lock_guard lock(mu_);
  auto it = objects_.find(key(r, ns, name));
  if (it == objects_.end())
    return std::unexpected(error(kube::Code::kNotFound, r.resource + " " + std::string(name)));
  return it->second;
}

kube::Result<json> FakeApi::list(const kube::ApiResource& r, std::string_view ns,
                                 const kube::ListOptions& opts) {
  if (auto e = check({"list", r.resource, std::string(ns)})) return std::unexpected(*e);
  std::lock_guard lock(mu_);
  json items = json::array();
  for (const auto& [k, v] : objects_) {
    if (std::get<0>(k) != r.resource || (!ns.empty() && std::get<1>(k) != ns)) continue;
    if (labels_match(v, opts.label_selector)) items.push_back(v);
  }
  return json{{"items", items}, {"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
}

kube::Result<json> FakeApi::create(const kube::ApiResource& r, std::string_view ns, const json& obj,
                                   const kube::WriteOptions& opts) {
  const std::string name = obj["metadata"].value("name", "");
  if (auto e = check({"create", r.resource, std::string(ns), name, "", opts.dry_run, obj}))
    return std::unexpected(*e);
  std::lock_guard lock(mu_);
  auto k = key(r, ns, name);
  if (objects_.contains(k))
    return std::unexpected(error(kube::Code::kAlreadyExists, name + " already exists"));
  json o = obj;
  o["metadata"]["namespace"] = std::string(ns);
  stamp(o);
  if (!opts.dry_run) objects_[k] = o;
  return o;
}

kube::Result<json> FakeApi::update(const kube::ApiResource& r, std::string_view ns, const json& obj,
                                   std::string_view sub, const kube::WriteOptions& opts) {
  const std::string name = obj["metadata"].value("name", "");
  if (auto e =
          check({"update", r.resource, std::string(ns), name, std::string(sub), opts.dry_run, obj}))
    return std::unexpected(*e);
  std::lock_guard lock(mu_);
  auto it = objects_.find(key(r, ns, name));
  if (it == objects_.end()) return std::unexpected(error(kube::Code::kNotFound, name));
  if (obj["metadata"].value("resourceVersion", "") !=
      it->second["metadata"].value("resourceVersion", ""))
    return std::unexpected(error(kube::Code::kConflict, "the object has been modified"));
  json o = it->second;
  if (sub == "status") {
    o["status"] = obj.value("status", json::object());
  } else {
    json status = o.value("status", json::object());
    o = obj;
    o["status"] = status;
  }
  stamp(o);
  if (!opts.dry_run) it->second = o;
  return o;
}

kube::Result<json> FakeApi::patch(const kube::ApiResource& r, std::string_view ns,
                                  std::string_view name, kube::PatchType, const json& p,
                                  std::string_view sub, const kube::WriteOptions& opts) {
  if (auto e = check({"patch", r.resource, std::string(ns), std::string(name), std::string(sub),
                      opts.dry_run, p}))
    return std::unexpected(*e);
  std::lock_guard lock(mu_);
  auto it = objects_.find(key(r, ns, name));
  if (it == objects_.end()) return std::unexpected(error(kube::Code::kNotFound, std::string(name)));
  const std::string want = p.value("metadata", json::object()).value("resourceVersion", "");
  if (!want.empty() && want != it->second["metadata"].value("resourceVersion", ""))
    return std::unexpected(error(kube::Code::kConflict, "the object has been modified"));
  json o = it->second;
  merge_patch(o, p);
  stamp(o);
  if (!opts.dry_run) it->second = o;
  return o;
}

kube::Result<json> FakeApi::apply(const kube::ApiResource& r, std::string_view ns, const json& obj,
                                  bool, std::string_view sub, const kube::WriteOptions& opts) {
  const std::string name = obj["metadata"].value("name", "");
  if (auto e =
          check({"apply", r.resource, std::string(ns), name, std::string(sub), opts.dry_run, obj}))
    return std::unexpected(*e);
  const std::string manager = opts.field_manager.empty() ? "cairn" : opts.field_manager;
  std::lock_guard lock(mu_);
  auto k = key(r, ns, name);
  auto it = objects_.find(k);
  json o = it == objects_.end() ? json{{"metadata", json::object()}} : it->second;
  // What the applier owned and no longer applies goes (maps of labels,
  // annotations and data); what others own stays.
  for (const auto& path : std::vector<std::vector<std::string>>{
           {"metadata", "labels"}, {"metadata", "annotations"}, {"data"}}) {
    json* live_map = &o;
    const json* applied_map = &obj;
    for (const auto& p : path) {
      live_map = live_map->is_object() && live_map->contains(p) ? &(*live_map)[p] : nullptr;
      applied_map = applied_map && applied_map->is_object() && applied_map->contains(p)
                        ? &(*applied_map)[p]
                        : nullptr;
      if (!live_map) break;
    }
    if (!live_map || !live_map->is_object()) continue;
    std::vector<std::string> gone;
    for (const auto& [key_name, v] : live_map->items()) {
      if (applied_map && applied_map->contains(key_name)) continue;
      auto owned = path;
      owned.push_back(key_name);
      if (owned_by_apply(o, manager, owned)) gone.push_back(key_name);
    }
    for (const auto& g : gone) live_map->erase(g);
  }
  json body = obj;
  merge_patch(o, body);
  json mf = json::array();
  for (const auto& e : o["metadata"].value("managedFields", json::array())) {
    if (!(e.value("manager", "") == manager && e.value("operation", "") == "Apply"))
      mf.push_back(e);
  }
  json set = fieldset(obj);
  set.erase("f:apiVersion");
  set.erase("f:kind");
  mf.push_back({{"manager", manager},
                {"operation", "Apply"},
                {"apiVersion", obj.value("apiVersion", "")},
                {"time", kube::rfc3339(std::chrono::system_clock::now())},
                {"fieldsType", "FieldsV1"},
                {"fieldsV1", set}});
  o["metadata"]["managedFields"] = mf;
  if (r.namespaced) o["metadata"]["namespace"] = std::string(ns);
  if (opts.dry_run) {
    json shown = o;
    stamp(shown);
    if (it != objects_.end())
      shown["metadata"]["resourceVersion"] = it->second["metadata"]["resourceVersion"];
    return shown;
  }
  stamp(o);
  if (on_applied) on_applied(o);
  objects_[k] = o;
  return o;
}

kube::Result<json> FakeApi::remove(const kube::ApiResource& r, std::string_view ns,
                                   std::string_view name, const kube::DeleteOptions& opts) {
  if (auto e = check({"delete", r.resource, std::string(ns), std::string(name)}))
    return std::unexpected(*e);
  std::lock_guard lock(mu_);
  auto it = objects_.find(key(r, ns, name));
  if (it == objects_.end()) return std::unexpected(error(kube::Code::kNotFound, std::string(name)));
  if (opts.precondition_uid && *opts.precondition_uid != it->second["metadata"].value("uid", ""))
    return std::unexpected(error(kube::Code::kConflict, "uid precondition failed"));
  json o = it->second;
  objects_.erase(it);
  return o;
}

// ---- git

std::string FakeGit::commit(const std::string& branch, std::map<std::string, std::string> files,
                            const std::string& title) {
  std::lock_guard lock(mu_);
  char id[41];
  std::snprintf(id, sizeof id, "%08x%032x", 0xc0ffee00u + static_cast<unsigned>(next_), next_);
  next_++;
  commits_[id] = {std::move(files), branches_[branch], title};
  branches_[branch] = id;
  return id;
}

void FakeGit::set_branch(const std::string& branch, const std::string& id) {
  std::lock_guard lock(mu_);
  branches_[branch] = id;
}

git::Result<void> FakeGit::fetch(const git::FetchOptions&) {
  std::lock_guard lock(mu_);
  fetches++;
  if (fail_fetch) return git::fail(git::Code::kUnreachable, "connection refused");
  return {};
}

git::Result<std::string> FakeGit::resolve(const git::Ref& ref) {
  std::lock_guard lock(mu_);
  if (ref.kind == git::RefKind::kCommit) {
    if (commits_.contains(ref.name)) return ref.name;
  } else if (auto it = branches_.find(ref.name); it != branches_.end() && !it->second.empty()) {
    return it->second;
  }
  return git::fail(git::Code::kNotFound, "no ref " + ref.name);
}

git::Result<git::CommitInfo> FakeGit::commit(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& [full, c] : commits_) {
    if (full.rfind(id, 0) != 0) continue;
    git::CommitInfo info;
    info.id = full;
    info.title = c.title;
    info.author_name = "Ada";
    info.author_email = "ada@example.com";
    info.commit_time = 1767225600;
    if (!c.parent.empty()) info.parents.push_back(c.parent);
    return info;
  }
  return git::fail(git::Code::kNotFound, "no commit " + id);
}

git::Result<std::vector<git::File>> FakeGit::files(
    const std::string& commit, const std::string& path,
    const std::function<bool(std::string_view)>& filter, const git::ReadLimits&) {
  std::lock_guard lock(mu_);
  auto it = commits_.find(commit);
  if (it == commits_.end()) return git::fail(git::Code::kNotFound, "no commit " + commit);
  std::vector<git::File> out;
  const std::string prefix = path.empty() || path == "." ? "" : path + "/";
  for (const auto& [p, content] : it->second.files) {
    if (p.rfind(prefix, 0) != 0 && p != path) continue;
    if (filter && !filter(p)) continue;
    out.push_back({p, content});
  }
  return out;
}

git::Result<bool> FakeGit::is_ancestor(const std::string& commit, const std::string& descendant) {
  std::lock_guard lock(mu_);
  for (std::string at = descendant; !at.empty();) {
    if (at == commit) return true;
    auto it = commits_.find(at);
    if (it == commits_.end()) break;
    at = it->second.parent;
  }
  return false;
}

git::Result<bool> FakeGit::reachable_from(const std::string& commit, const git::Ref& ref) {
  auto head = resolve(ref);
  if (!head) return std::unexpected(head.error());
  return is_ancestor(commit, *head);
}

git::Result<git::SignatureCheck> FakeGit::verify_signature(const std::string& commit,
                                                           const std::vector<std::string>&) {
  std::lock_guard lock(mu_);
  git::SignatureCheck c;
  auto it = signatures.find(commit);
  c.status = it == signatures.end() ? git::SignatureStatus::kUnsigned : it->second;
  return c;
}

std::shared_ptr<git::Source> FakeSources::source(const std::string& url) { return repo(url); }

std::shared_ptr<FakeGit> FakeSources::repo(const std::string& url) {
  std::lock_guard lock(mu_);
  auto& r = repos_[url];
  if (!r) r = std::make_shared<FakeGit>(url);
  return r;
}

// ---- events

void FakeEvents::record(const json&, const std::string& type, const std::string& reason,
                        const std::string& message) {
  std::lock_guard lock(mu_);
  events_.push_back({type, reason, message});
}

std::vector<FakeEvents::Event> FakeEvents::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

bool FakeEvents::has(const std::string& reason) const {
  std::lock_guard lock(mu_);
  for (const auto& e : events_) {
    if (e.reason == reason) return true;
  }
  return false;
}

void FakeEvents::clear() {
  std::lock_guard lock(mu_);
  events_.clear();
}

}  // namespace cairn::fakes
