#include "webhook/policy.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "api/names.h"
#include "api/validate.h"
#include "manifest/git_tree.h"
#include "manifest/match.h"
#include "manifest/render.h"
#include "webhook/kinds.h"

namespace cairn::webhook {

using manifest::PathPattern;

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::kDeny:
      return "deny";
    case Mode::kWarn:
      return "warn";
    case Mode::kAudit:
      return "audit";
    case Mode::kNone:
      break;
  }
  return "none";
}

Mode mode_from_label(std::string_view v) {
  if (v == api::kEnforceDeny) return Mode::kDeny;
  if (v == api::kEnforceWarn) return Mode::kWarn;
  if (v == api::kEnforceAudit) return Mode::kAudit;
  return Mode::kNone;
}

std::vector<std::string> PolicyOptions::default_controller_fields() {
  return {
      // The Deployment controller's revision counter.
      "metadata.annotations[deployment.kubernetes.io/revision]",
      // The garbage collector (foreground/orphan deletion, dangling owners),
      // the PVC protection and namespace controllers.
      "metadata.finalizers",
      "metadata.ownerReferences",
      // The ServiceAccount token controller.
      "secrets",
      // The PersistentVolume binder and the scheduler's volume binding.
      "spec.volumeName",
      "metadata.annotations[pv.kubernetes.io/bind-completed]",
      "metadata.annotations[pv.kubernetes.io/bound-by-controller]",
      "metadata.annotations[volume.beta.kubernetes.io/storage-provisioner]",
      "metadata.annotations[volume.kubernetes.io/storage-provisioner]",
      "metadata.annotations[volume.kubernetes.io/selected-node]",
      // An autoscaler through the scale subresource.
      "spec.replicas",
  };
}

std::expected<std::set<std::string>, std::string> parse_kinds(std::string_view list) {
  std::set<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string item(list.substr(pos, comma - pos));
    pos = comma + 1;
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    size_t dot = item.find('.');
    std::string kind = item.substr(0, dot);
    std::string group = dot == std::string::npos ? "" : item.substr(dot + 1);
    if (kind.empty() || !std::isupper(static_cast<unsigned char>(kind[0])) ||
        !std::all_of(kind.begin(), kind.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0; }))
      return std::unexpected("\"" + item +
                             "\" is not Kind or Kind.group (e.g. Deployment.apps, ConfigMap)");
    out.insert(group + "/" + kind);
  }
  if (out.empty()) return std::unexpected("no kinds given");
  return out;
}

namespace {

const json kEmpty = json::object();

const json& field(const json& obj, const char* a, const char* b = nullptr) {
  if (!obj.is_object()) return kEmpty;
  auto x = obj.find(a);
  if (x == obj.end() || !x->is_object()) return kEmpty;
  if (!b) return *x;
  auto y = x->find(b);
  if (y == x->end() || !y->is_object()) return kEmpty;
  return *y;
}

std::string string_at(const json& map, std::string_view key) {
  auto it = map.find(std::string(key));
  if (it == map.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string annotation(const json& obj, std::string_view key) {
  return string_at(field(obj, "metadata", "annotations"), key);
}
std::string label(const json& obj, std::string_view key) {
  return string_at(field(obj, "metadata", "labels"), key);
}
bool has_annotation(const json& obj, std::string_view key) {
  return field(obj, "metadata", "annotations").contains(std::string(key));
}

using git::short_sha;

bool is_full_sha(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

// A value from a request, safe to quote in a message: printable, short.
std::string quote(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 80)) out += (c < 0x20 || c == 0x7f || c == '"') ? '?' : c;
  if (s.size() > 80) out += "...";
  return "\"" + out + "\"";
}

std::string path_of(const ReleaseInfo& r) {
  return r.spec.path.empty() ? "the repository root" : r.spec.path + "/";
}

// "commit to https://git/app.git (branch main) under deploy/ and Release shop/app rolls it out"
std::string commit_to(const ReleaseInfo& r, const std::string& file = {}) {
  return "commit to " + git::redact_url(r.spec.source.url) + " (" +
         r.spec.source.ref_description() + ") " +
         (file.empty() ? "under " + path_of(r) : "in " + file) + " and Release " + r.key() +
         " rolls it out";
}

std::string commit_to_any(const std::vector<std::shared_ptr<const ReleaseInfo>>& rels,
                          const std::string& ns) {
  if (rels.empty())
    return "No Release in namespace " + ns +
           " tracks a repository: ask the platform team for one, then commit the object to its "
           "repository";
  if (rels.size() == 1) return "Change it in git: " + commit_to(*rels[0]);
  std::string out = "Change it in git: one of: ";
  for (size_t i = 0; i < rels.size() && i < 5; ++i) {
    if (i) out += "; ";
    out += commit_to(*rels[i]);
  }
  if (rels.size() > 5) out += "; ...";
  return out;
}

bool in(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Whether `url` is allowed by cairn.dev/allowed-sources entries: the same
// repository, or under a prefix ending in '/' or '*'.
bool source_allowed(const std::vector<std::string>& allowed, const std::string& url) {
  const std::string u = git::normalize_url(url);
  for (const auto& a : allowed) {
    if (a.empty()) continue;
    if (a.back() == '*' || a.back() == '/') {
      const std::string prefix = a.back() == '*' ? a.substr(0, a.size() - 1) : a;
      if (url.starts_with(prefix) || u.starts_with(prefix)) return true;
    } else if (git::normalize_url(a) == u) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find_first_of(", \n", pos);
    if (end == std::string::npos) end = s.size();
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string join(const std::vector<manifest::Change>& changes, size_t max = 3) {
  std::string out;
  for (size_t i = 0; i < changes.size() && i < max; ++i)
    out += (i ? ", " : "") + changes[i].to_string() + " " + std::string(changes[i].verb());
  if (changes.size() > max) out += " (and " + std::to_string(changes.size() - max) + " more)";
  return out;
}

}  // namespace

NamespaceInfo namespace_info_of(const json& ns) {
  NamespaceInfo info;
  info.mode = mode_from_label(label(ns, api::kEnforceLabel));
  if (has_annotation(ns, api::kAllowedSourcesAnnotation))
    info.allowed_sources = split_list(annotation(ns, api::kAllowedSourcesAnnotation));
  return info;
}

std::shared_ptr<const ReleaseInfo> release_info_of(const json& obj) {
  const json& md = field(obj, "metadata");
  const std::string name = string_at(md, "name");
  auto spec =
      api::parse_release_spec(obj.is_object() ? obj.value("spec", json::object()) : kEmpty, name);
  if (!spec) return nullptr;
  auto info = std::make_shared<ReleaseInfo>();
  info->ns = string_at(md, "namespace");
  info->name = name;
  info->spec = std::move(*spec);
  auto st =
      api::parse_release_status(obj.is_object() ? obj.value("status", json::object()) : kEmpty);
  if (st) {
    for (const auto* c :
         {&st->desired_commit, &st->current_commit, &st->last_attempted_commit, &st->pinned_commit})
      if (!c->empty()) info->targets.insert(*c);
    info->current_commit = st->current_commit;
    for (const auto& h : st->history) info->history.push_back(h.commit);
  }
  // A rollback someone asked for: a commit of history, named by a prefix.
  const std::string to = annotation(obj, api::kRollbackToAnnotation);
  if (to.size() >= 7)
    for (const auto& c : info->history)
      if (c.starts_with(to)) info->targets.insert(c);
  return info;
}

// ---------------------------------------------------------------- requests

struct Policy::Request {
  const Review& r;
  Mode mode = Mode::kNone;
  NamespaceInfo ns;
  std::vector<std::shared_ptr<const ReleaseInfo>> releases;
  std::string what;  // "Deployment shop/web"
  bool break_glass_member = false;
  bool platform_member = false;
  // The object the request is about: the new one, the old one for DELETE.
  const json& subject() const { return r.operation == "DELETE" ? r.old_object : r.object; }
  // The Release a stamp (on either object) names.
  std::shared_ptr<const ReleaseInfo> named_release() const {
    std::string key = annotation(r.old_object, api::kReleaseAnnotation);
    if (key.empty()) key = annotation(r.object, api::kReleaseAnnotation);
    for (const auto& rel : releases)
      if (rel->key() == key) return rel;
    return nullptr;
  }
  // Where to make this change instead.
  std::string remedy() const {
    auto rel = named_release();
    if (!rel) return commit_to_any(releases, r.ns);
    std::string file = annotation(r.old_object, api::kPathAnnotation);
    if (file.empty()) file = annotation(r.object, api::kPathAnnotation);
    return "Change it in git: " + commit_to(*rel, file);
  }
};

struct Policy::Index {
  std::unordered_map<std::string, json> objects;  // manifest::identity -> stamped object
  std::string error;                              // the render failed
};

Policy::Policy(ClusterView& cluster, GitView& git, PolicyOptions opts)
    : cluster_(cluster), opts_(std::move(opts)), facts_(git, opts_.min_fetch_interval) {
  if (opts_.manifest_cache_entries == 0) opts_.manifest_cache_entries = 1;
  for (const auto& f : opts_.controller_fields)
    controller_patterns_.push_back(PathPattern::parse(f));
  for (const auto& [gk, fields] : opts_.ignore_fields)
    for (const auto& f : fields) ignore_patterns_[gk].push_back(PathPattern::parse(f));
}

Decision Policy::finish(const Request& q, std::string rule, const Finding& f) {
  Decision d;
  d.rule = std::move(rule);
  d.mode = q.mode;
  switch (q.mode) {
    case Mode::kDeny:
    case Mode::kNone:
      d.verdict.allowed = false;
      d.verdict.code = 403;
      d.verdict.reason = "Forbidden";
      d.verdict.message = "Cairn: " + f.problem + ". " + f.remedy + ".";
      d.result = "denied";
      break;
    case Mode::kWarn:
      d.verdict.warnings = {"Cairn (warn): " + f.problem, f.remedy};
      d.result = "warned";
      break;
    case Mode::kAudit:
      d.result = "audited";
      break;
  }
  return d;
}

Decision Policy::cannot_verify(const Review& r, std::string rule, const std::string& what) {
  Decision d;
  d.rule = std::move(rule);
  d.mode = Mode::kDeny;
  d.verdict.allowed = false;
  d.verdict.code = 403;
  d.verdict.reason = "Forbidden";
  d.verdict.message = "Cairn: cannot verify " + r.operation + " of " + r.kind + " " + r.ns +
                      (r.ns.empty() ? "" : "/") + r.name + ": " + what +
                      ". Nothing is admitted unverified here; try again shortly, and if it "
                      "persists ask the platform team to check the cairn-webhook";
  d.result = "denied";
  return d;
}

namespace {
Decision allowed(std::string rule, Mode m = Mode::kNone) {
  Decision d;
  d.rule = std::move(rule);
  d.result = "allowed";
  d.mode = m;
  return d;
}
}  // namespace

Decision Policy::decide(const Review& r) {
  // A Namespace request carries the namespace's own name as its namespace.
  if (r.kind == "Namespace" && r.group.empty() && r.sub_resource.empty() &&
      (r.resource.empty() || r.resource == "namespaces"))
    return decide_namespace(r);
  if (r.ns.empty()) return allowed("cluster-scoped");
  if (opts_.exempt_namespaces.contains(r.ns)) return allowed("exempt-namespace");
  auto info = cluster_.namespace_info(r.ns);
  if (!info) return cannot_verify(r, "cannot-verify", "namespace " + r.ns + ": " + info.error());
  if (info->mode == Mode::kNone) return allowed("not-governed");

  Request q{.r = r, .mode = info->mode, .ns = *info};
  q.what = r.kind + " " + r.ns + "/" + r.name;
  q.break_glass_member = in(r.groups, opts_.break_glass_group);
  q.platform_member = in(r.groups, opts_.platform_group);

  if (r.operation == "CONNECT") return decide_connect(q);
  const bool cairn_kind = is_cairn_resource(r);
  if (r.sub_resource == "status") {
    if (!cairn_kind || opts_.operator_users.contains(r.username)) return allowed("status", q.mode);
    q.releases = cluster_.releases(r.ns);
    return finish(q, "status",
                  {r.resource + "/status of " + r.ns + "/" + r.name +
                       " is written only by Cairn's operator (a gate reads it)",
                   "Runs and rollouts are recorded by the operator; push a commit or request a "
                   "run with the cairn.dev/requested-at annotation"});
  }
  const KindClass kc = classify(r);
  if (kc == KindClass::kFree) return allowed("free-kind", q.mode);

  q.releases = cluster_.releases(r.ns);
  if (opts_.operator_users.contains(r.username)) return decide_operator(q);
  if (opts_.component_users.contains(r.username) ||
      std::any_of(r.groups.begin(), r.groups.end(),
                  [&](const std::string& g) { return opts_.component_groups.contains(g); }))
    return decide_component(q);
  if (auto it = opts_.trusted_writers.find(r.username);
      it != opts_.trusted_writers.end() && it->second.contains(r.group_kind()) &&
      r.sub_resource.empty() && annotation(r.old_object, api::kCommitAnnotation).empty() &&
      annotation(r.object, api::kCommitAnnotation).empty())
    return allowed("trusted-writer", q.mode);
  if (cairn_kind) return decide_cairn_kind(q);
  // The platform bootstraps what a Release needs before git can deliver
  // anything: the Secrets its source and verify refer to (credentials,
  // signers). Secrets from git stay the operator's.
  if (q.platform_member && target_group_kind(r) == "/Secret" && r.sub_resource.empty() &&
      annotation(r.old_object, api::kCommitAnnotation).empty() &&
      annotation(r.object, api::kCommitAnnotation).empty())
    return allowed("platform-secret", q.mode);
  return decide_other(q);
}

// ------------------------------------------------------------- namespaces

Decision Policy::decide_namespace(const Review& r) {
  const std::string name = r.name;
  if (opts_.exempt_namespaces.contains(name)) return allowed("exempt-namespace");
  const bool platform = in(r.groups, opts_.platform_group);
  Request q{.r = r, .mode = Mode::kDeny};
  q.what = "Namespace " + name;
  auto platform_only = [&](const std::string& problem) {
    if (platform) return allowed("namespace-platform", Mode::kDeny);
    return finish(q, "namespace",
                  {problem + ", which only group " + opts_.platform_group + " may do",
                   "Ask the platform team (group " + opts_.platform_group + ")"});
  };
  const std::string meta_name(api::kNamespaceNameLabel);
  if (r.operation == "CREATE" || r.operation == "UPDATE") {
    std::string claimed = label(r.object, meta_name);
    if (field(r.object, "metadata", "labels").contains(meta_name) && claimed != name)
      return platform_only("label " + meta_name + " of Namespace " + name + " names " +
                           quote(claimed) + ", another namespace");
  }
  if (r.operation == "UPDATE") {
    const auto& ol = field(r.old_object, "metadata", "labels");
    const std::string key(api::kEnforceLabel);
    if (ol.contains(key) && label(r.old_object, key) != label(r.object, key))
      return platform_only(
          "label " + key + " of Namespace " + name +
          (field(r.object, "metadata", "labels").contains(key) ? " was changed" : " was removed"));
    const std::string src(api::kAllowedSourcesAnnotation);
    if (annotation(r.old_object, src) != annotation(r.object, src) ||
        has_annotation(r.old_object, src) != has_annotation(r.object, src))
      return platform_only("annotation " + src + " of Namespace " + name + " was changed");
  }
  if (r.operation == "DELETE") {
    if (mode_from_label(label(r.old_object, api::kEnforceLabel)) == Mode::kNone)
      return allowed("namespace");
    auto rels = cluster_.releases(name);
    if (!rels.empty())
      return platform_only("Namespace " + name + " is governed and holds " +
                           std::to_string(rels.size()) + " Release(s) with what they deployed");
  }
  return allowed("namespace");
}

// ---------------------------------------------------------------- CONNECT

Decision Policy::decide_connect(const Request& q) {
  const Review& r = q.r;
  const bool changes_what_runs = r.sub_resource == "exec" || r.sub_resource == "attach";
  if (!changes_what_runs || opts_.exec == ExecPolicy::kAllow) return allowed("connect", q.mode);
  if (q.break_glass_member && q.mode == Mode::kDeny) {
    Decision d = allowed("break-glass", q.mode);
    d.break_glass = true;
    d.break_glass_reason = r.sub_resource + " into a running container";
    d.verdict.warnings = {"Cairn: break-glass " + r.sub_resource + " into pod " + r.ns + "/" +
                          r.name + " is audited"};
    return d;
  }
  Request q2 = q;
  q2.releases = cluster_.releases(r.ns);
  return finish(
      q2, "exec",
      {r.sub_resource + " into pod " + r.ns + "/" + r.name +
           " changes what runs outside git; in this namespace only members of group " +
           opts_.break_glass_group + " may do it",
       "Reproduce it from git (" + commit_to_any(q2.releases, r.ns) + "), or ask a member of " +
           opts_.break_glass_group + "; kubectl logs and port-forward stay open"});
}

// --------------------------------------------------------------- operator

Decision Policy::decide_operator(const Request& q) {
  const Review& r = q.r;
  if (r.operation == "DELETE") return allowed("operator-delete", q.mode);
  const json& obj = r.object;
  // Its own bookkeeping first: the Jobs of Pipeline runs (they carry the
  // run's commit, not a Release's stamp).
  if (r.group_kind() == "batch/Job" && !label(obj, api::kPipelineLabel).empty() &&
      annotation(obj, api::kReleaseAnnotation).empty())
    return allowed("pipeline-job", q.mode);
  const bool stamped = !annotation(obj, api::kReleaseAnnotation).empty() ||
                       !annotation(obj, api::kPathAnnotation).empty() ||
                       label(obj, api::kManagedByLabel) == api::kManagedByValue;
  if (stamped && r.sub_resource.empty()) {
    // Taking over field ownership before putting git back (after break-glass,
    // or fields another manager set) changes only metadata.managedFields:
    // nothing that runs changes, so the old content need not match git yet.
    if (r.operation == "UPDATE" && manifest::diff(r.old_object, obj, 1).empty())
      return allowed("operator-ownership", q.mode);
    if (auto f = check_provenance(q)) return finish(q, "provenance", *f);
    if (is_cairn_resource(r))
      if (auto f = check_release_spec(q)) return finish(q, "cairn-spec", *f);
    return allowed("provenance", q.mode);
  }
  // Metadata (finalizers, handled annotations) of Releases and Pipelines.
  if (is_cairn_resource(r) && r.operation == "UPDATE") {
    static const std::vector<PathPattern> kMeta = {PathPattern::parse("metadata.finalizers"),
                                                   PathPattern::parse("metadata.annotations")};
    if (!check_changes(q, kMeta, r.username)) return allowed("operator-bookkeeping", q.mode);
  }
  return finish(q, "provenance",
                {q.what + " has no provenance stamp: Cairn's operator writes only objects "
                          "rendered from git",
                 q.remedy()});
}

// ------------------------------------------------------------- components

Decision Policy::decide_component(const Request& q) {
  const Review& r = q.r;
  // Kubernetes' controllers create what they derive (Pods, ReplicaSets, the
  // PVCs of StatefulSets, token Secrets, the default ServiceAccount) and
  // delete what they collect; objects from git keep what git says except the
  // fields the controllers own.
  if (r.operation != "UPDATE") return allowed("component", q.mode);
  if (classify(r) == KindClass::kDerived) return allowed("component", q.mode);
  if (annotation(r.old_object, api::kCommitAnnotation).empty() &&
      label(r.old_object, api::kManagedByLabel) != api::kManagedByValue)
    return allowed("component", q.mode);
  std::vector<PathPattern> allowed_paths = controller_patterns_;
  if (auto it = ignore_patterns_.find(target_group_kind(r)); it != ignore_patterns_.end())
    allowed_paths.insert(allowed_paths.end(), it->second.begin(), it->second.end());
  if (auto f = check_changes(q, allowed_paths, r.username)) return finish(q, "component", *f);
  return allowed("component", q.mode);
}

// ------------------------------------------------------- everyone else

std::optional<Policy::Finding> Policy::check_changes(const Request& q,
                                                     const std::vector<PathPattern>& allowed_paths,
                                                     const std::string& who) {
  auto changes = manifest::diff(q.r.old_object, q.r.object);
  std::vector<manifest::Change> refused;
  for (auto& c : changes) {
    bool ok = std::any_of(allowed_paths.begin(), allowed_paths.end(),
                          [&](const PathPattern& p) { return p.covers(c.path); });
    if (!ok) refused.push_back(std::move(c));
  }
  if (refused.empty()) return std::nullopt;
  std::string target = q.r.sub_resource.empty() ? q.what
                                                : q.r.resource + "/" + q.r.sub_resource + " of " +
                                                      q.r.ns + "/" + q.r.name;
  return Finding{target + ": " + join(refused) + " by " + quote(who) +
                     ", who may not change it: in this namespace only Cairn's operator changes "
                     "what runs, from git",
                 q.remedy()};
}

Decision Policy::decide_other(const Request& q) {
  const Review& r = q.r;
  const std::string glass_key(api::kBreakGlassAnnotation);
  const std::string glass_new = annotation(r.object, glass_key);
  const std::string glass_old = annotation(r.old_object, glass_key);
  const bool glass_touched =
      has_annotation(r.object, glass_key) != has_annotation(r.old_object, glass_key) ||
      glass_new != glass_old;

  // Break-glass: the group, with a reason on the object (or ending one).
  if (q.break_glass_member) {
    const std::string reason = r.operation == "DELETE" ? glass_old : glass_new;
    const bool ending = r.operation == "UPDATE" && glass_new.empty() && !glass_old.empty();
    if (!reason.empty() || ending) {
      Decision d = allowed("break-glass", q.mode);
      d.break_glass = true;
      d.break_glass_reason = reason.empty() ? "break-glass ended" : reason;
      auto rel = q.named_release();
      d.verdict.warnings = {
          "Cairn: break-glass " + r.operation + " of " + q.what + " outside git (" +
              quote(d.break_glass_reason) + ") is audited",
          rel ? "Release " + rel->key() + " puts git back when the break-glass time is up"
              : "no Release names this object; commit the fix to git"};
      return d;
    }
  }
  const std::string glass_hint =
      q.break_glass_member ? " (as a member of " + opts_.break_glass_group + ", set annotation " +
                                 glass_key + "=<reason> on the object first)"
                           : "";

  if (glass_touched && r.sub_resource.empty())
    return finish(q, "break-glass",
                  {"annotation " + glass_key + " on " + q.what + " may be set only by members of " +
                       opts_.break_glass_group + ", and " + quote(r.username) + " is not one",
                   "Ask a member of " + opts_.break_glass_group +
                       " to break glass; otherwise: " + q.remedy()});

  const KindClass kc = classify(r);
  if (r.sub_resource == "eviction" || (r.operation == "DELETE" && r.group_kind() == "/Pod"))
    return allowed("pod-restart", q.mode);  // its controller starts it again, as it was
  if (r.sub_resource == "token") return allowed("token", q.mode);

  if (r.operation == "CREATE" && r.sub_resource.empty()) {
    if (kc == KindClass::kDerived)
      return finish(q, "derived-kind",
                    {q.what + ": " + r.kind + "s here are made only by Kubernetes' controllers " +
                         "from objects in git (a bare " + r.kind + " from " + quote(r.username) +
                         " is refused)",
                     "Add the workload that makes it to git. " + q.remedy()});
    return finish(q, "not-from-git",
                  {q.what + " was never in git: in this namespace only Cairn's operator creates " +
                       "objects, from a commit" + glass_hint,
                   "Add it in git. " + q.remedy()});
  }
  if (r.operation == "DELETE")
    return finish(q, "delete",
                  {q.what + " can only be deleted through git" + glass_hint,
                   "Remove it from git and its Release prunes it. " + q.remedy()});
  if (r.sub_resource == "scale") {
    std::vector<PathPattern> ok;
    if (opts_.allow_scale) ok.push_back(PathPattern::parse("spec.replicas"));
    if (auto it = ignore_patterns_.find(target_group_kind(r)); it != ignore_patterns_.end())
      ok.insert(ok.end(), it->second.begin(), it->second.end());
    if (auto f = check_changes(q, ok, r.username))
      return finish(q, "scale",
                    {f->problem + glass_hint, "Set spec.replicas in git. " + q.remedy()});
    return allowed("scale", q.mode);
  }
  if (!r.sub_resource.empty() && r.sub_resource != "ephemeralcontainers")
    return allowed("subresource", q.mode);
  if (kc == KindClass::kDerived || r.sub_resource == "ephemeralcontainers")
    return finish(q, "derived-kind",
                  {q.what + " is managed by Kubernetes' controllers; a change by " +
                       quote(r.username) + " is refused" + glass_hint,
                   "Change the workload that makes it in git. " + q.remedy()});
  std::vector<PathPattern> ok;
  if (auto it = ignore_patterns_.find(r.group_kind()); it != ignore_patterns_.end())
    ok = it->second;
  if (auto f = check_changes(q, ok, r.username)) {
    f->problem += glass_hint;
    return finish(q, "diff", *f);
  }
  return allowed("allowed-fields", q.mode);
}

// ---------------------------------------------------- Releases, Pipelines

Decision Policy::decide_cairn_kind(const Request& q) {
  const Review& r = q.r;
  const bool is_release = r.kind == api::kReleaseKind;
  if (q.platform_member) {
    if (r.operation != "DELETE")
      if (auto f = check_release_spec(q)) return finish(q, "cairn-spec", *f);
    return allowed("platform", q.mode);
  }
  const std::string kinds = is_release ? "Releases" : "Pipelines";
  if (r.operation != "UPDATE")
    return finish(
        q, "cairn-kind",
        {q.what + ": " + kinds + " in this namespace come from git (a parent Release) " +
             "or from the platform group " + opts_.platform_group + "; " + quote(r.username) +
             " may not " + (r.operation == "CREATE" ? "create" : "delete") + " one",
         "Commit it to the repository of the parent Release, or ask the platform team. " +
             commit_to_any(q.releases, r.ns)});
  // The operational handles stay open to whoever RBAC lets patch them.
  std::vector<PathPattern> handles = {
      PathPattern::parse("spec.suspend"),
      PathPattern::parse("metadata.annotations[" + std::string(api::kRequestedAtAnnotation) + "]"),
      PathPattern::parse("metadata.annotations[" + std::string(api::kRollbackToAnnotation) + "]")};
  if (auto f = check_changes(q, handles, r.username)) {
    f->problem += " (" + kinds + " here come from git or the platform group; open to everyone: " +
                  "spec.suspend, " + std::string(api::kRequestedAtAnnotation) + ", " +
                  std::string(api::kRollbackToAnnotation) + ")";
    return finish(q, "cairn-kind", *f);
  }
  if (is_release) {
    const std::string to = annotation(r.object, api::kRollbackToAnnotation);
    if (!to.empty() && to != annotation(r.old_object, api::kRollbackToAnnotation)) {
      auto old = release_info_of(r.old_object);
      bool found = old && to.size() >= 7 &&
                   std::any_of(old->history.begin(), old->history.end(),
                               [&](const std::string& c) { return c.starts_with(to); });
      if (!found)
        return finish(q, "rollback",
                      {"annotation " + std::string(api::kRollbackToAnnotation) + " of " + q.what +
                           " names " + quote(to) + ", which is not a commit in status.history",
                       "Roll back to a commit listed by kubectl cairn history, or commit the "
                       "fix to git"});
    }
  }
  return allowed("operational-handle", q.mode);
}

std::optional<Policy::Finding> Policy::check_release_spec(const Request& q) {
  const Review& r = q.r;
  const json& obj = r.object;
  const json spec = obj.is_object() ? obj.value("spec", json::object()) : json::object();
  const json source = spec.is_object() ? spec.value("source", json::object()) : json::object();
  const std::string url = source.is_object() ? source.value("url", "") : "";
  if (q.ns.allowed_sources && !url.empty() && !source_allowed(*q.ns.allowed_sources, url))
    return Finding{q.what + " follows " + quote(git::redact_url(url)) + ", which namespace " +
                       r.ns + " does not allow (annotation " +
                       std::string(api::kAllowedSourcesAnnotation) + ")",
                   "Use one of the allowed repositories, or ask the platform team to allow it"};
  if (r.kind != api::kReleaseKind) return std::nullopt;
  const json gate = spec.is_object() ? spec.value("gate", json::object()) : json::object();
  const json ref = gate.is_object() ? gate.value("pipelineRef", json::object()) : json::object();
  const std::string pipeline = ref.is_object() ? ref.value("name", "") : "";
  if (pipeline.empty()) return std::nullopt;
  auto psrc = cluster_.pipeline_source(r.ns, pipeline);
  if (psrc && git::normalize_url(*psrc) != git::normalize_url(url))
    return Finding{q.what + " is gated on Pipeline " + r.ns + "/" + pipeline + ", which follows " +
                       quote(git::redact_url(*psrc)) + ", not " + quote(git::redact_url(url)),
                   "Gate on a Pipeline that tests the repository the Release deploys"};
  return std::nullopt;
}

// -------------------------------------------------------------- provenance

std::optional<Policy::Finding> Policy::check_provenance(const Request& q) {
  const Review& r = q.r;
  const json& obj = r.object;
  const std::string& what = q.what;
  const std::string commit = annotation(obj, api::kCommitAnnotation);
  const std::string source = annotation(obj, api::kSourceAnnotation);
  const std::string file = annotation(obj, api::kPathAnnotation);
  const std::string release = annotation(obj, api::kReleaseAnnotation);

  std::vector<std::string> missing;
  if (commit.empty()) missing.emplace_back(api::kCommitAnnotation);
  if (source.empty()) missing.emplace_back(api::kSourceAnnotation);
  if (file.empty()) missing.emplace_back(api::kPathAnnotation);
  if (release.empty()) missing.emplace_back(api::kReleaseAnnotation);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return Finding{what + " has no provenance stamp (annotation " + list +
                       " missing): this namespace only takes changes from git",
                   commit_to_any(q.releases, r.ns)};
  }
  std::shared_ptr<const ReleaseInfo> rel;
  for (const auto& x : q.releases)
    if (x->key() == release) rel = x;
  if (!rel)
    return Finding{"the stamp of " + what + " names Release " + quote(release) +
                       ", which does not exist in namespace " + r.ns + " (or is invalid)",
                   commit_to_any(q.releases, r.ns)};
  if (git::normalize_url(source) != git::normalize_url(rel->spec.source.url))
    return Finding{"the stamp of " + what + " names repository " + quote(git::redact_url(source)) +
                       ", which Release " + rel->key() + " does not track",
                   "Change it in git: " + commit_to(*rel)};
  if (!is_full_sha(commit))
    return Finding{
        "the stamp of " + what + " has commit " + quote(commit) + ", which is not a full commit id",
        "Change it in git: " + commit_to(*rel)};
  if (auto f = check_target(q, *rel, commit)) return f;

  auto src = facts_.source(rel->spec.source.url);
  auto idx = manifests(*rel, *src, commit);
  if (!idx->error.empty())
    return Finding{"the manifests under " + path_of(*rel) + " at commit " + short_sha(commit) +
                       " do not render: " + idx->error,
                   "Fix them in git: " + commit_to(*rel)};
  // The object as the manifests name it. The apiserver sends namespaced
  // objects with their namespace; one without is in the request's.
  auto entry = manifest::inventory_entry(obj);
  std::vector<std::string> ignore = {"apiVersion"};
  if (entry.namespace_.empty()) {
    entry.namespace_ = r.ns;
    ignore.emplace_back("metadata.namespace");
  }
  auto it = idx->objects.find(manifest::identity(entry));
  if (it == idx->objects.end())
    return Finding{what + " is not among the manifests under " + path_of(*rel) + " at commit " +
                       short_sha(commit),
                   "Add it in git: " + commit_to(*rel)};
  if (auto ig = opts_.ignore_fields.find(r.group_kind()); ig != opts_.ignore_fields.end())
    ignore.insert(ignore.end(), ig->second.begin(), ig->second.end());
  if (auto diff = manifest::first_difference(it->second, obj, ignore)) {
    std::string in_file = annotation(it->second, api::kPathAnnotation);
    return Finding{
        what + ": " + diff->to_string() + " at commit " + short_sha(commit) + " (" + in_file + ")",
        "Change it in git: " + commit_to(*rel, in_file)};
  }
  return std::nullopt;
}

std::optional<Policy::Finding> Policy::check_target(const Request& q, const ReleaseInfo& rel,
                                                    const std::string& commit) {
  const std::string& what = q.what;
  const std::string repo = git::redact_url(rel.spec.source.url);
  auto unreachable = [&](const std::string& error) -> Finding {
    return Finding{"commit " + short_sha(commit) + " in the stamp of " + what +
                       " cannot be checked: " + repo + " cannot be read (" + error +
                       "); nothing is admitted unverified",
                   "Try again when the repository is reachable; to deploy, " + commit_to(rel)};
  };

  auto ex = facts_.exists(rel, commit);
  if (ex.answer == GitFacts::Answer::kUnknown) return unreachable(ex.error);
  if (ex.answer == GitFacts::Answer::kNo)
    return Finding{
        "commit " + short_sha(commit) + " in the stamp of " + what + " does not exist in " + repo,
        "Change it in git: " + commit_to(rel)};

  // A target of the Release now: what its status says; or a commit on the
  // tracked ref that is not older than the deployed one (the operator
  // applies a new head before it records it); or, read again from the
  // apiserver, what a status the cache has not seen yet says (a rollback).
  if (!rel.targets.contains(commit)) {
    auto on = facts_.on_ref(rel, commit);
    if (on.answer == GitFacts::Answer::kUnknown) return unreachable(on.error);
    bool forward = false;
    if (on.answer == GitFacts::Answer::kYes) {
      forward = rel.current_commit.empty();
      if (!forward) {
        auto newer = facts_.is_ancestor(rel, rel.current_commit, commit);
        if (newer.answer == GitFacts::Answer::kUnknown) return unreachable(newer.error);
        forward = newer.answer == GitFacts::Answer::kYes;
      }
    }
    if (!forward) {
      auto fresh = cluster_.fresh_release(rel.ns, rel.name);
      if (!fresh) return unreachable("Release " + rel.key() + ": " + fresh.error());
      const bool target = *fresh && (*fresh)->targets.contains(commit);
      if (!target && on.answer == GitFacts::Answer::kNo)
        return Finding{"commit " + short_sha(commit) + " in the stamp of " + what + " is not on " +
                           rel.spec.source.ref_description() + " of " + repo +
                           " (is it on an unmerged branch?)",
                       "Merge it into " + rel.spec.source.ref_description() + "; " +
                           commit_to(rel).substr(std::string("commit to ").size())};
      if (!target)
        return Finding{"commit " + short_sha(commit) + " in the stamp of " + what +
                           " is older than " + short_sha(rel.current_commit) + ", which Release " +
                           rel.key() + " deploys: an older commit is not its target",
                       "Roll back with kubectl cairn rollback (annotation " +
                           std::string(api::kRollbackToAnnotation) +
                           ", a commit from status.history), or revert in git"};
    }
  }

  // Signed by a trusted key, when the Release verifies signatures.
  if (rel.spec.source.verify.mode == api::VerifyMode::kHead) {
    auto keys = cluster_.signers(rel);
    if (!keys)
      return Finding{"commit " + short_sha(commit) + " cannot be verified: " + keys.error(),
                     "Fix spec.source.verify of Release " + rel.key()};
    std::string status = "valid";
    auto valid = facts_.signed_by(rel, commit, *keys, &status);
    if (!valid || !*valid)
      return Finding{"commit " + short_sha(commit) + " in the stamp of " + what +
                         " is not signed by a key in spec.source.verify.signersSecretRef of "
                         "Release " +
                         rel.key() +
                         (!valid              ? " (" + valid.error() + ")"
                          : status == "valid" ? ""
                                              : " (" + status + ")"),
                     "Sign the commit with a trusted key and " + commit_to(rel)};
  }

  // Passed the gating Pipeline, which must test the same repository.
  if (rel.spec.gate) {
    const std::string& p = rel.spec.gate->pipeline_ref.name;
    auto psrc = cluster_.pipeline_source(rel.ns, p);
    auto phase = cluster_.run_phase(rel.ns, p, commit);
    if (!phase || !psrc)
      return Finding{"Release " + rel.key() + " is gated on Pipeline " + rel.ns + "/" + p +
                         ", which does not exist",
                     "Create the Pipeline, or remove spec.gate from Release " + rel.key()};
    if (git::normalize_url(*psrc) != git::normalize_url(rel.spec.source.url))
      return Finding{"Release " + rel.key() + " is gated on Pipeline " + rel.ns + "/" + p +
                         ", which follows another repository",
                     "Gate on a Pipeline that tests " + repo};
    if (*phase != "Succeeded")
      return Finding{
          "commit " + short_sha(commit) + " in the stamp of " + what +
              (phase->empty()
                   ? " has no run of Pipeline " + rel.ns + "/" + p
                   : " did not pass Pipeline " + rel.ns + "/" + p + " (its run is " + *phase + ")"),
          "Push a commit that passes Pipeline " + p + "; Release " + rel.key() + " deploys it"};
  }
  return std::nullopt;
}

std::shared_ptr<const Policy::Index> Policy::manifests(const ReleaseInfo& rel, git::Source& src,
                                                       const std::string& commit) {
  // Everything the render depends on (spec.helm's values included): a
  // Release edited at the same commit renders anew.
  const manifest::ReleaseRef ref = manifest::ReleaseRef::of(rel.ns, rel.name, rel.spec);
  const std::string key = ref.key(commit);
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
  }
  auto idx = std::make_shared<Index>();
  // The one render the operator and kubectl cairn do too.
  auto out =
      manifest::render_at(src, commit, ref, [this](const std::string& av, const std::string& kind) {
        return cluster_.is_namespaced(av, kind);
      });
  if (!out) {
    idx->error = out.error().empty() ? "render failed" : out.error().front().to_string();
  } else {
    for (auto& o : out->objects) idx->objects.emplace(manifest::identity(o), std::move(o));
  }
  std::lock_guard lock(cache_mu_);
  if (auto it = index_.find(key); it != index_.end()) return it->second.first;
  lru_.push_front(key);
  index_.emplace(key, std::make_pair(idx, lru_.begin()));
  while (index_.size() > opts_.manifest_cache_entries) {
    index_.erase(lru_.back());
    lru_.pop_back();
  }
  return idx;
}

Decision Policy::validate_spec(const Review& r) {
  Decision d;
  d.rule = "spec";
  d.result = "allowed";
  d.mode = Mode::kDeny;
  if (r.operation != "CREATE" && r.operation != "UPDATE") return d;
  if (!r.sub_resource.empty()) return d;  // status: written by the operator
  if (r.group != api::kGroup) return d;
  const json& obj = r.object;
  std::string name = r.name;
  if (obj.contains("metadata") && obj["metadata"].is_object()) {
    auto n = obj["metadata"].find("name");
    if (n != obj["metadata"].end() && n->is_string()) name = n->get<std::string>();
  }
  json spec = obj.contains("spec") ? obj["spec"] : json(nullptr);
  std::vector<api::FieldError> errors;
  if (r.kind == api::kPipelineKind) {
    auto p = api::parse_pipeline_spec(spec, name);
    if (!p) errors = p.error();
  } else if (r.kind == api::kReleaseKind) {
    auto p = api::parse_release_spec(spec, name);
    if (!p) errors = p.error();
    std::string to = annotation(obj, api::kRollbackToAnnotation);
    bool hex =
        to.size() >= 7 && to.size() <= 40 && std::all_of(to.begin(), to.end(), [](unsigned char c) {
          return std::isdigit(c) || (c >= 'a' && c <= 'f');
        });
    if (!to.empty() && !hex)
      errors.push_back({"metadata.annotations[" + std::string(api::kRollbackToAnnotation) + "]",
                        "must be a commit id (7 to 40 lower-case hex digits) from status.history"});
  } else {
    return d;
  }
  if (errors.empty()) return d;
  std::string msg;
  for (size_t i = 0; i < errors.size() && i < 20; ++i) {
    msg += (i ? "; " : "") + errors[i].to_string();
    d.verdict.causes.push_back({errors[i].field, errors[i].message});
  }
  if (errors.size() > 20) msg += "; and " + std::to_string(errors.size() - 20) + " more";
  d.verdict.allowed = false;
  d.verdict.code = 422;
  d.verdict.reason = "Invalid";
  d.verdict.message = "Cairn: " + r.kind + " " + r.ns + "/" + name + " is invalid: " + msg;
  d.result = "denied";
  return d;
}

}  // namespace cairn::webhook
