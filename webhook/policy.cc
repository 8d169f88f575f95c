#include "webhook/policy.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <thread>

#include "api/names.h"
#include "api/validate.h"
#include "manifest/match.h"
#include "manifest/render.h"
#include "source/source.h"

namespace cairn::webhook {

using Clock = std::chrono::steady_clock;

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

std::set<std::string> default_governed_kinds() {
  return {"apps/Deployment",
          "apps/StatefulSet",
          "apps/DaemonSet",
          "batch/CronJob",
          "/Service",
          "/ConfigMap",
          "/ServiceAccount",
          "networking.k8s.io/Ingress",
          "networking.k8s.io/NetworkPolicy",
          "rbac.authorization.k8s.io/Role",
          "rbac.authorization.k8s.io/RoleBinding"};
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

const json& annotations_of(const json& obj) {
  if (!obj.is_object()) return kEmpty;
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return kEmpty;
  auto a = md->find("annotations");
  if (a == md->end() || !a->is_object()) return kEmpty;
  return *a;
}

std::string annotation(const json& obj, std::string_view key) {
  const json& a = annotations_of(obj);
  auto it = a.find(std::string(key));
  if (it == a.end() || !it->is_string()) return {};
  return it->get<std::string>();
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

// "commit to https://git/app.git (branch main) under deploy/; Release shop/app rolls it out"
std::string commit_to(const ReleaseInfo& r, const std::string& file = {}) {
  return "commit to " + git::redact_url(r.spec.source.url) + " (" +
         r.spec.source.ref_description() + ") " +
         (file.empty() ? "under " + path_of(r) : "in " + file) + " and Release " + r.key() +
         " rolls it out";
}

std::string commit_to_any(const std::vector<std::shared_ptr<const ReleaseInfo>>& rels,
                          const std::string& ns) {
  if (rels.empty())
    return "no Release in namespace " + ns +
           " tracks a repository: create one for the repository that holds this object";
  if (rels.size() == 1) return "Change it in git: " + commit_to(*rels[0]);
  std::string out = "Change it in git: one of: ";
  for (size_t i = 0; i < rels.size() && i < 5; ++i) {
    if (i) out += "; ";
    out += commit_to(*rels[i]);
  }
  if (rels.size() > 5) out += "; ...";
  return out;
}

bool has(const std::set<std::string>& s, const std::string& v) { return s.contains(v); }

// "deployments" for Deployment: how a kind's resource is usually named.
std::string plural_of(std::string kind) {
  for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (kind.ends_with("s") || kind.ends_with("x") || kind.ends_with("ch")) return kind + "es";
  if (kind.ends_with("y") && kind.size() > 1 && !std::strchr("aeiou", kind[kind.size() - 2]))
    return kind.substr(0, kind.size() - 1) + "ies";
  return kind + "s";
}

}  // namespace

struct Policy::Index {
  std::unordered_map<std::string, json> objects;  // manifest::identity -> stamped object
  std::string error;                              // the render failed
};

Policy::Policy(ClusterView& cluster, GitView& git, PolicyOptions opts)
    : cluster_(cluster), git_(git), opts_(std::move(opts)) {
  if (opts_.governed_kinds.empty()) opts_.governed_kinds = default_governed_kinds();
  if (opts_.manifest_cache_entries == 0) opts_.manifest_cache_entries = 1;
}

uint64_t Policy::fetches() const {
  std::lock_guard lock(fetch_mu_);
  return fetches_;
}

Decision Policy::finish(const Review& r, Mode mode, std::string rule, const Finding& f) {
  Decision d;
  d.rule = std::move(rule);
  d.mode = mode;
  std::string what = r.kind + " " + r.ns + "/" + r.name;
  switch (mode) {
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

Decision Policy::decide(const Review& r) {
  auto allow = [](std::string rule, Mode m = Mode::kNone) {
    Decision d;
    d.rule = std::move(rule);
    d.result = "allowed";
    d.mode = m;
    return d;
  };
  if (r.ns.empty()) return allow("cluster-scoped");
  if (has(opts_.exempt_namespaces, r.ns)) return allow("exempt-namespace");
  const Mode mode = cluster_.mode(r.ns);
  if (mode == Mode::kNone) return allow("not-governed");

  // Governed kind: by kind for the object itself; by resource for a
  // subresource (a scale request's kind is autoscaling/Scale).
  bool governed = false;
  if (r.sub_resource.empty()) {
    governed = has(opts_.governed_kinds, r.group_kind());
  } else {
    for (const auto& gk : opts_.governed_kinds) {
      size_t slash = gk.find('/');
      if (gk.substr(0, slash) == r.resource_group && plural_of(gk.substr(slash + 1)) == r.resource)
        governed = true;
    }
  }
  if (!governed) return allow("kind-not-governed", mode);
  if (r.operation == "CONNECT") return allow("connect", mode);
  if (r.sub_resource == "status") return allow("status", mode);

  if (has(opts_.exempt_users, r.username)) return allow("exempt-user", mode);
  for (const auto& g : r.groups)
    if (has(opts_.exempt_groups, g)) return allow("exempt-user", mode);

  const std::string what = r.kind + " " + r.ns + "/" + r.name;
  const auto releases = cluster_.releases(r.ns);
  // The Release that the object (or, for DELETE, the old object) names.
  const json& subject = r.operation == "DELETE" ? r.old_object : r.object;
  auto named = [&](const json& obj) -> std::shared_ptr<const ReleaseInfo> {
    std::string key = annotation(obj, api::kReleaseAnnotation);
    for (const auto& rel : releases)
      if (rel->key() == key) return rel;
    return nullptr;
  };

  if (r.sub_resource == "scale") {
    if (opts_.allow_scale) return allow("scale", mode);
    auto rel = named(r.old_object.is_null() ? r.object : r.old_object);
    std::string res = r.resource + " " + r.ns + "/" + r.name;
    return finish(r, mode, "scale",
                  {"scaling " + res + " by hand is turned off here",
                   rel ? "Set spec.replicas in git: " +
                             commit_to(*rel, annotation(r.old_object, api::kPathAnnotation))
                       : commit_to_any(releases, r.ns)});
  }

  // Break-glass.
  const std::string glass = annotation(subject, api::kBreakGlassAnnotation);
  bool in_group =
      std::find(r.groups.begin(), r.groups.end(), opts_.break_glass_group) != r.groups.end();
  if (!glass.empty() && in_group) {
    Decision d = allow("break-glass", mode);
    d.break_glass = true;
    d.break_glass_reason = glass;
    auto rel = named(subject);
    d.verdict.warnings = {
        "Cairn: break-glass change to " + what + " outside git (" + quote(glass) + ")",
        rel ? "Release " + rel->key() + " restores git when the break-glass time is up"
            : "no Release of this namespace names this object; commit the fix to git"};
    return d;
  }
  std::string glass_hint =
      glass.empty() ? "" : " (break-glass needs group " + opts_.break_glass_group + ")";

  if (r.operation == "DELETE") {
    if (has(opts_.operator_users, r.username)) return allow("operator-delete", mode);
    auto rel = named(subject);
    std::string file = annotation(subject, api::kPathAnnotation);
    std::string remedy = rel ? "Remove it from " + (file.empty() ? path_of(*rel) : file) + " in " +
                                   git::redact_url(rel->spec.source.url) + " (" +
                                   rel->spec.source.ref_description() + ") and Release " +
                                   rel->key() + " prunes it"
                             : commit_to_any(releases, r.ns);
    return finish(r, mode, "delete",
                  {what + " can only be deleted through git" + glass_hint, remedy});
  }

  auto f = check_provenance(r, r.object);
  if (!f) return allow("provenance", mode);
  f->problem += glass_hint;
  return finish(r, mode, "provenance", *f);
}

std::optional<Policy::Finding> Policy::check_provenance(const Review& r, const json& obj) {
  const std::string what = r.kind + " " + r.ns + "/" + r.name;
  const auto releases = cluster_.releases(r.ns);
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
                   commit_to_any(releases, r.ns)};
  }

  std::shared_ptr<const ReleaseInfo> rel;
  for (const auto& x : releases)
    if (x->key() == release) rel = x;
  if (!rel)
    return Finding{"the stamp of " + what + " names Release " + quote(release) +
                       ", which does not exist in namespace " + r.ns + " (or is invalid)",
                   commit_to_any(releases, r.ns)};
  if (git::normalize_url(source) != git::normalize_url(rel->spec.source.url))
    return Finding{"the stamp of " + what + " names repository " + quote(git::redact_url(source)) +
                       ", which Release " + rel->key() + " does not track",
                   "Change it in git: " + commit_to(*rel)};
  if (!is_full_sha(commit))
    return Finding{
        "the stamp of " + what + " has commit " + quote(commit) + ", which is not a full commit id",
        "Change it in git: " + commit_to(*rel)};
  if (auto f = check_commit(*rel, commit, what)) return f;

  auto src = git_.source(rel->spec.source.url);
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

bool Policy::fetch_once(const ReleaseInfo& rel, git::Source& src, Clock::time_point asked_at,
                        std::string* error) {
  const std::string url = git::normalize_url(rel.spec.source.url);
  std::shared_ptr<std::mutex> lock_of_url;
  {
    std::lock_guard lock(fetch_mu_);
    auto& m = fetch_locks_[url];
    if (!m) m = std::make_shared<std::mutex>();
    lock_of_url = m;
  }
  std::lock_guard one_at_a_time(*lock_of_url);
  Clock::time_point last{};
  {
    std::lock_guard lock(fetch_mu_);
    if (auto it = last_fetch_.find(url); it != last_fetch_.end()) last = it->second;
  }
  // A fetch that started after this request arrived has seen what this
  // request could see: no need for another.
  if (last >= asked_at) return true;
  // Unknown commits must not turn into a fetch storm: at most one fetch per
  // repository per min_fetch_interval.
  auto next = last + opts_.min_fetch_interval;
  if (auto now = Clock::now(); last != Clock::time_point{} && now < next) {
    std::this_thread::sleep_for(next - now);
  }
  const auto started = Clock::now();
  auto res = git_.fetch(rel, src);
  std::lock_guard lock(fetch_mu_);
  ++fetches_;
  if (!res) {
    if (error) *error = res.error();
    return false;
  }
  last_fetch_[url] = started;
  return true;
}

std::optional<std::string> Policy::resolve_head(git::Source& src, const git::Ref& ref) {
  const auto fetched = src.last_fetch();
  const std::string key = git::normalize_url(src.url()) + " " + git::to_string(ref);
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = heads_.find(key); it != heads_.end() && it->second.first == fetched)
      return it->second.second;
  }
  auto head = src.resolve(ref);
  if (!head) return std::nullopt;
  std::lock_guard lock(cache_mu_);
  if (heads_.size() > 10000) heads_.clear();
  // Stored with the fetch time read before resolving: a fetch that ended in
  // between makes the next decision read the ref again.
  heads_[key] = {fetched, *head};
  return *head;
}

std::optional<Policy::Finding> Policy::check_commit(const ReleaseInfo& rel,
                                                    const std::string& commit,
                                                    const std::string& what) {
  const auto asked_at = Clock::now();
  auto src = git_.source(rel.spec.source.url);
  const std::string repo = git::redact_url(rel.spec.source.url);
  std::string fetch_error;
  bool fetched = false;
  auto fetch = [&] {
    if (fetched) return;
    fetched = true;
    fetch_once(rel, *src, asked_at, &fetch_error);
  };
  auto unreachable = [&]() -> Finding {
    return Finding{"commit " + short_sha(commit) + " in the stamp of " + what +
                       " cannot be checked: " + repo + " cannot be fetched (" + fetch_error + ")",
                   "Try again when the repository is reachable; to deploy, " + commit_to(rel)};
  };

  // The commit exists (once seen, always: objects are immutable).
  const std::string commit_key = git::normalize_url(rel.spec.source.url) + " " + commit;
  bool exists = false;
  {
    std::lock_guard lock(cache_mu_);
    exists = commits_.contains(commit_key);
  }
  if (!exists) {
    exists = src->commit(commit).has_value();
    if (!exists) {
      fetch();
      exists = src->commit(commit).has_value();
    }
    if (exists) {
      std::lock_guard lock(cache_mu_);
      if (commits_.size() > 100000) commits_.clear();
      commits_.insert(commit_key);
    }
  }
  if (!exists) {
    if (!fetch_error.empty()) return unreachable();
    return Finding{
        "commit " + short_sha(commit) + " in the stamp of " + what + " does not exist in " + repo,
        "Change it in git: " + commit_to(rel)};
  }

  // It is reachable from the tracked ref.
  const git::Ref ref = source::ref_of(rel.spec.source);
  auto reachable = [&]() -> std::optional<bool> {
    auto head = resolve_head(*src, ref);
    if (!head) return std::nullopt;
    const std::string key = git::normalize_url(rel.spec.source.url) + " " + commit + " " + *head;
    {
      std::lock_guard lock(cache_mu_);
      if (auto it = ancestry_.find(key); it != ancestry_.end()) return it->second;
    }
    auto a = src->is_ancestor(commit, *head);
    if (!a) return std::nullopt;
    std::lock_guard lock(cache_mu_);
    if (ancestry_.size() > 100000) ancestry_.clear();
    ancestry_[key] = *a;
    return *a;
  };
  auto on_ref = reachable();
  if (!on_ref || !*on_ref) {
    fetch();  // the branch may have moved since the last fetch
    on_ref = reachable();
  }
  if (!on_ref || !*on_ref) {
    if (!on_ref && !fetch_error.empty()) return unreachable();
    return Finding{"commit " + short_sha(commit) + " in the stamp of " + what + " is not on " +
                       rel.spec.source.ref_description() + " of " + repo +
                       " (is it on an unmerged branch?)",
                   "Merge it into " + rel.spec.source.ref_description() + "; " +
                       commit_to(rel).substr(std::string("commit to ").size())};
  }

  // Signed by a trusted key, when the Release verifies signatures.
  if (rel.spec.source.verify.mode == api::VerifyMode::kHead) {
    auto keys = cluster_.signers(rel);
    if (!keys)
      return Finding{"commit " + short_sha(commit) + " cannot be verified: " + keys.error(),
                     "Fix spec.source.verify of Release " + rel.key()};
    std::string joined;
    for (const auto& k : *keys) joined += k + "\n";
    const std::string key = git::normalize_url(rel.spec.source.url) + " " + commit + " " +
                            std::to_string(std::hash<std::string>{}(joined));
    std::optional<bool> valid;
    {
      std::lock_guard lock(cache_mu_);
      if (auto it = signatures_.find(key); it != signatures_.end()) valid = it->second;
    }
    std::string status = "valid";
    if (!valid) {
      auto v = src->verify_signature(commit, *keys);
      valid = v && v->status == git::SignatureStatus::kValid;
      status = v ? std::string(git::status_name(v->status)) : v.error().message;
      if (v) {
        std::lock_guard lock(cache_mu_);
        if (signatures_.size() > 100000) signatures_.clear();
        signatures_[key] = *valid;
      }
    }
    if (!*valid)
      return Finding{"commit " + short_sha(commit) + " in the stamp of " + what +
                         " is not signed by a key in spec.source.verify.signersSecretRef of "
                         "Release " +
                         rel.key() + (status == "valid" ? "" : " (" + status + ")"),
                     "Sign the commit with a trusted key and " + commit_to(rel)};
  }

  // Passed the gating Pipeline.
  if (rel.spec.gate) {
    const std::string& p = rel.spec.gate->pipeline_ref.name;
    auto phase = cluster_.run_phase(rel.ns, p, commit);
    if (!phase)
      return Finding{"Release " + rel.key() + " is gated on Pipeline " + rel.ns + "/" + p +
                         ", which does not exist",
                     "Create the Pipeline, or remove spec.gate from Release " + rel.key()};
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
  const std::string key = rel.key() + "\n" + rel.spec.source.url + "\n" + rel.spec.path + "\n" +
                          (rel.spec.cluster_scope ? "1" : "0") + "\n" + commit;
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
  }
  auto idx = std::make_shared<Index>();
  auto files = src.files(
      commit, rel.spec.path, [](std::string_view p) { return manifest::is_manifest_file(p); },
      manifest::read_limits());
  if (!files) {
    idx->error = files.error().message;
  } else {
    manifest::RenderInput in{.release_namespace = rel.ns,
                             .release_name = rel.name,
                             .commit = commit,
                             .source_url = rel.spec.source.url,
                             .cluster_scope = rel.spec.cluster_scope,
                             .files = std::move(*files)};
    in.is_namespaced = [this](const std::string& av, const std::string& kind) {
      return cluster_.is_namespaced(av, kind);
    };
    auto out = manifest::render(in);
    if (!out) {
      idx->error = out.error().empty() ? "render failed" : out.error().front().to_string();
    } else {
      for (auto& o : out->objects) idx->objects.emplace(manifest::identity(o), std::move(o));
    }
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
