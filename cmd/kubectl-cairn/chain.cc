#include "chain.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "api/names.h"
#include "api/validate.h"
#include "kube/util.h"

namespace cairn::cli {

namespace {

std::string str(const json& o, std::string_view key) {
  if (!o.is_object()) return {};
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& o, std::string_view key) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it != o.end() ? *it : kNull;
}

std::string annotation(const json& obj, std::string_view key) {
  return str(member(member(obj, "metadata"), "annotations"), key);
}

// Sets j[key] only when `v` is not empty (optional fields are left out).
void put(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

// {status, reason, message} of a condition, or null.
json condition(const json& obj, std::string_view type) {
  const json& conds = member(member(obj, "status"), "conditions");
  if (!conds.is_array()) return nullptr;
  for (const auto& c : conds) {
    if (str(c, "type") != type) continue;
    json out = {{"status", str(c, "status")}};
    put(out, "reason", str(c, "reason"));
    put(out, "message", str(c, "message"));
    return out;
  }
  return nullptr;
}

// "Name <email>" (as Pipeline runs record it) -> {name, email}.
json person(const std::string& s) {
  auto lt = s.rfind('<');
  auto gt = s.rfind('>');
  if (lt == std::string::npos || gt == std::string::npos || gt < lt) return {{"name", s}};
  std::string name = s.substr(0, lt);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return {{"name", name}, {"email", s.substr(lt + 1, gt - lt - 1)}};
}

json person(const std::string& name, const std::string& email) {
  json p = {{"name", name}};
  put(p, "email", email);
  return p;
}

std::string ref_text(const json& source) {
  for (const char* k : {"branch", "tag", "commit"}) {
    if (std::string v = str(source, k); !v.empty()) return std::string(k) + " " + v;
  }
  return {};
}

// The source's ref as {kind, name}, for comparing a Pipeline's with a Release's.
std::pair<std::string, std::string> ref_of(const json& source) {
  for (const char* k : {"branch", "tag", "commit"}) {
    if (std::string v = str(source, k); !v.empty()) return {k, v};
  }
  return {};
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

json step_json(const api::StepStatus& s) {
  json j = {{"name", s.name}, {"phase", std::string(api::to_string(s.phase))}};
  if (s.attempts > 0) j["attempts"] = s.attempts;
  put(j, "job", s.job);
  put(j, "startTime", s.start_time);
  put(j, "completionTime", s.completion_time);
  if (auto d = seconds_between(s.start_time, s.completion_time)) j["durationSeconds"] = *d;
  put(j, "message", s.message);
  if (!s.results.empty()) j["results"] = s.results;
  return j;
}

json run_json(const api::RunStatus& r) {
  json j = {{"id", r.id},
            {"commit", r.commit},
            {"trigger", std::string(api::to_string(r.trigger))},
            {"phase", std::string(api::to_string(r.phase))}};
  put(j, "author", r.author);
  put(j, "title", r.title);
  put(j, "startTime", r.start_time);
  put(j, "completionTime", r.completion_time);
  if (auto d = seconds_between(r.start_time, r.completion_time)) j["durationSeconds"] = *d;
  put(j, "message", r.message);
  j["steps"] = json::array();
  for (const auto& s : r.steps) j["steps"].push_back(step_json(s));
  return j;
}

json history_json(const api::HistoryEntry& h, const std::string& current) {
  json j = {{"commit", h.commit}, {"result", std::string(api::to_string(h.result))}};
  put(j, "startedAt", h.started_at);
  put(j, "finishedAt", h.finished_at);
  if (h.lead_time_seconds) j["leadTimeSeconds"] = *h.lead_time_seconds;
  put(j, "reason", h.reason);
  j["current"] = !current.empty() && h.commit == current;
  return j;
}

std::string field_errors(const std::vector<api::FieldError>& errs) {
  std::string out;
  for (const auto& e : errs) {
    if (!out.empty()) out += "; ";
    out += e.field + ": " + e.message;
  }
  return out;
}

// A Pipeline's runs, or an empty list when its status does not parse.
std::vector<api::RunStatus> runs_of(const json& pipeline) {
  auto st = api::parse_pipeline_status(member(pipeline, "status"));
  return st ? st->runs : std::vector<api::RunStatus>{};
}

// Title and author of `commit` from any Pipeline run that recorded it.
const api::RunStatus* run_with_commit(const std::vector<std::vector<api::RunStatus>>& all,
                                      const std::string& commit) {
  for (const auto& runs : all) {
    for (const auto& r : runs) {
      if (same_commit(commit, r.commit) && !r.title.empty()) return &r;
    }
  }
  return nullptr;
}

}  // namespace

Stamp read_stamp(const json& obj) {
  Stamp s;
  s.commit = annotation(obj, api::kCommitAnnotation);
  s.source = annotation(obj, api::kSourceAnnotation);
  s.path = annotation(obj, api::kPathAnnotation);
  s.release = annotation(obj, api::kReleaseAnnotation);
  s.managed =
      str(member(member(obj, "metadata"), "labels"), api::kManagedByLabel) == api::kManagedByValue;
  return s;
}

std::pair<std::string, std::string> split_key(const std::string& key,
                                              const std::string& default_ns) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {default_ns, key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

bool same_commit(const std::string& id, const std::string& full) {
  if (id.empty() || full.empty()) return false;
  if (id == full) return true;
  return id.size() >= 7 && id.size() < full.size() && is_hex(id) && full.rfind(id, 0) == 0;
}

std::optional<int64_t> seconds_between(const std::string& from, const std::string& to) {
  if (from.empty() || to.empty()) return std::nullopt;
  auto a = kube::parse_rfc3339(from);
  auto b = kube::parse_rfc3339(to);
  if (!a || !b) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(*b - *a).count();
}

std::string time_string(int64_t epoch_seconds) {
  return kube::rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(epoch_seconds)));
}

PipelineMatch find_pipeline(const api::ReleaseSpec& release, const json& pipeline_items,
                            const std::string& commit) {
  PipelineMatch m;
  if (!pipeline_items.is_array()) return m;
  if (release.gate) {
    for (const auto& p : pipeline_items) {
      if (str(member(p, "metadata"), "name") == release.gate->pipeline_ref.name) {
        m.pipeline = &p;
        m.matched_by = "gate";
        return m;
      }
    }
    m.missing_gate = release.gate->pipeline_ref.name;
    return m;
  }
  const std::string url = git::normalize_url(release.source.url);
  std::pair<std::string, std::string> ref;
  if (!release.source.branch.empty()) {
    ref = {"branch", release.source.branch};
  } else if (!release.source.tag.empty()) {
    ref = {"tag", release.source.tag};
  } else {
    ref = {"commit", release.source.commit};
  }
  // Of the Pipelines that follow the same repository and ref, prefer one that
  // ran the commit.
  std::vector<const json*> candidates;
  for (const auto& p : pipeline_items) {
    const json& src = member(member(p, "spec"), "source");
    if (git::normalize_url(str(src, "url")) == url && ref_of(src) == ref) candidates.push_back(&p);
  }
  std::sort(candidates.begin(), candidates.end(), [](const json* a, const json* b) {
    return str(member(*a, "metadata"), "name") < str(member(*b, "metadata"), "name");
  });
  for (const json* p : candidates) {
    if (tested_run(runs_of(*p), commit)) {
      m.pipeline = p;
      break;
    }
  }
  if (!m.pipeline && !candidates.empty()) m.pipeline = candidates.front();
  if (m.pipeline) m.matched_by = "source";
  return m;
}

std::optional<size_t> tested_run(const std::vector<api::RunStatus>& runs,
                                 const std::string& commit) {
  std::optional<size_t> any;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!same_commit(commit, runs[i].commit)) continue;
    if (runs[i].phase == api::RunPhase::kSucceeded) return i;
    if (!any) any = i;
  }
  return any;
}

json assemble_trace(const TraceInput& in) {
  json errors = json::array(), warnings = json::array();
  const json& meta = member(in.object, "metadata");
  const bool is_release = in.resource.group == api::kGroup && in.resource.kind == api::kReleaseKind;
  const std::string kind = in.resource.kind;
  const std::string name = str(meta, "name");
  const std::string ns = str(meta, "namespace");
  const std::string what = kind + " " + (ns.empty() ? name : ns + "/" + name);

  json doc;
  // ---------------------------------------------------------------- object
  json object = {{"apiVersion", in.resource.api_version()}, {"kind", kind}, {"name", name}};
  put(object, "namespace", ns);
  const Stamp stamp = read_stamp(in.object);
  if (is_release) {
    object["stamp"] = nullptr;
  } else if (stamp.commit.empty()) {
    object["stamp"] = nullptr;
    errors.push_back(what + " has no provenance stamp (annotation " +
                     std::string(api::kCommitAnnotation) +
                     "): Cairn did not apply it, so it leads back to no commit");
  } else {
    json s = {{"commit", stamp.commit}};
    put(s, "source", git::redact_url(stamp.source));
    put(s, "path", stamp.path);
    put(s, "release", stamp.release);
    object["stamp"] = s;
    object["managedByCairn"] = stamp.managed;
    if (stamp.release.empty()) {
      errors.push_back(what + " carries a commit but no " + std::string(api::kReleaseAnnotation) +
                       " annotation, so no Release can be followed");
    }
  }
  doc["object"] = object;

  // --------------------------------------------------------------- release
  std::optional<api::ReleaseSpec> spec;
  std::optional<api::ReleaseStatus> status;
  std::string commit = in.commit;
  if (in.release) {
    const json& rel = *in.release;
    const json& rmeta = member(rel, "metadata");
    json r = {{"namespace", str(rmeta, "namespace")}, {"name", str(rmeta, "name")}};
    auto sp = api::parse_release_spec(member(rel, "spec"), str(rmeta, "name"));
    if (sp) {
      spec = *sp;
    } else {
      warnings.push_back("the Release's spec does not validate: " + field_errors(sp.error()));
    }
    auto st = api::parse_release_status(member(rel, "status"));
    if (st) {
      status = *st;
    } else {
      warnings.push_back("the Release's status does not parse: " + field_errors(st.error()));
    }
    const json& rspec = member(rel, "spec");
    r["phase"] =
        status && status->phase ? json(std::string(api::to_string(*status->phase))) : json(nullptr);
    r["ready"] = condition(rel, "Ready");
    if (json stalled = condition(rel, "Stalled");
        !stalled.is_null() && str(stalled, "status") == "True") {
      r["stalled"] = stalled;
    }
    json src = {{"url", git::redact_url(str(member(rspec, "source"), "url"))}};
    put(src, "ref", ref_text(member(rspec, "source")));
    r["source"] = src;
    r["path"] = str(rspec, "path");
    r["gate"] = spec && spec->gate ? json(spec->gate->pipeline_ref.name) : json(nullptr);
    if (spec && spec->suspend) r["suspended"] = true;
    if (status) {
      put(r, "currentCommit", status->current_commit);
      put(r, "desiredCommit", status->desired_commit);
      put(r, "lastAttemptedCommit", status->last_attempted_commit);
      put(r, "pinnedCommit", status->pinned_commit);
      if (is_release && commit.empty()) {
        commit = !status->current_commit.empty() ? status->current_commit
                                                 : status->last_attempted_commit;
      }
      if (!is_release && !stamp.commit.empty()) {
        bool current = status->current_commit == stamp.commit;
        r["objectCommitIsCurrent"] = current;
        if (!current) {
          warnings.push_back(
              what + " is stamped with commit " + git::short_sha(stamp.commit) +
              " but the Release's current commit is " +
              (status->current_commit.empty() ? std::string("none")
                                              : git::short_sha(status->current_commit)) +
              " (a rollout in progress, a change by hand, or an object the Release no longer "
              "applies)");
        }
        bool listed = false;
        for (const auto& e : status->inventory) {
          listed |=
              e.kind == kind && e.name == name && (e.namespace_.empty() || e.namespace_ == ns);
        }
        r["inInventory"] = listed;
        if (!listed) {
          warnings.push_back(what + " is not in the Release's status.inventory");
        }
      }
      r["history"] = json::array();
      for (const auto& h : status->history) {
        r["history"].push_back(history_json(h, status->current_commit));
      }
    }
    if (!is_release && !stamp.source.empty() &&
        git::normalize_url(stamp.source) !=
            git::normalize_url(str(member(rspec, "source"), "url"))) {
      warnings.push_back("the stamp's source " + git::redact_url(stamp.source) +
                         " is not the Release's repository " +
                         git::redact_url(str(member(rspec, "source"), "url")));
    }
    doc["release"] = r;
  } else {
    doc["release"] = nullptr;
    if (!stamp.release.empty() || is_release) {
      errors.push_back(!in.release_error.empty() ? in.release_error
                                                 : "Release " + stamp.release + " not found");
    }
  }

  // -------------------------------------------------------------- pipeline
  std::vector<api::RunStatus> runs;
  json pipeline = nullptr;
  if (spec) {
    PipelineMatch m = find_pipeline(*spec, in.pipelines, commit);
    if (!in.pipelines_error.empty()) {
      warnings.push_back("Pipelines cannot be listed: " + in.pipelines_error);
    } else if (!m.missing_gate.empty()) {
      warnings.push_back("the Release's gate names Pipeline " + m.missing_gate +
                         ", which does not exist");
    }
    if (m.pipeline) {
      const json& pmeta = member(*m.pipeline, "metadata");
      pipeline = {{"namespace", str(pmeta, "namespace")},
                  {"name", str(pmeta, "name")},
                  {"matchedBy", m.matched_by}};
      runs = runs_of(*m.pipeline);
      auto idx = tested_run(runs, commit);
      pipeline["run"] = idx ? run_json(runs[*idx]) : json(nullptr);
      json others = json::array();
      for (size_t i = 0; i < runs.size(); ++i) {
        if (idx && i == *idx) continue;
        if (!same_commit(commit, runs[i].commit)) continue;
        others.push_back({{"id", runs[i].id},
                          {"trigger", std::string(api::to_string(runs[i].trigger))},
                          {"phase", std::string(api::to_string(runs[i].phase))}});
      }
      pipeline["otherRuns"] = others;
      if (!idx && !commit.empty()) {
        warnings.push_back("Pipeline " + str(pmeta, "name") + " has no run of commit " +
                           git::short_sha(commit) +
                           " (it was never run, or left status.runs past historyLimit)");
      } else if (idx && m.matched_by == "gate" && runs[*idx].phase != api::RunPhase::kSucceeded) {
        warnings.push_back("the gating run " + runs[*idx].id + " of commit " +
                           git::short_sha(commit) + " did not succeed (" +
                           std::string(api::to_string(runs[*idx].phase)) + ")");
      }
    }
  }
  doc["pipeline"] = pipeline;

  // ---------------------------------------------------------------- commit
  if (commit.empty()) {
    doc["commit"] = nullptr;
    if (in.release) warnings.push_back("the Release has deployed no commit yet");
  } else {
    json c = {{"id", commit}};
    const api::RunStatus* run = nullptr;
    for (const auto& r : runs) {
      if (same_commit(commit, r.commit) && !r.title.empty()) {
        run = &r;
        break;
      }
    }
    if (in.git.info) {
      const auto& i = *in.git.info;
      c["id"] = i.id;
      c["from"] = "git";
      c["title"] = i.title;
      c["author"] = person(i.author_name, i.author_email);
      c["authorTime"] = time_string(i.author_time);
      c["committer"] = person(i.committer_name, i.committer_email);
      c["commitTime"] = time_string(i.commit_time);
      c["parents"] = i.parents;
    } else if (run) {
      c["from"] = "pipeline";
      c["title"] = run->title;
      c["author"] = person(run->author);
    } else {
      c["from"] = nullptr;
    }

    json sig;
    if (in.git.signature_required) {
      sig["required"] = true;
      if (in.git.signature) {
        sig["status"] = std::string(git::status_name(in.git.signature->status));
        put(sig, "key", in.git.signature->key_fingerprint);
        put(sig, "message", in.git.signature->message);
      } else {
        sig["status"] = "Unknown";
        put(sig, "message",
            !in.git.signature_error.empty() ? in.git.signature_error : in.git.error);
      }
    } else {
      sig["required"] = false;
      sig["status"] = "NotRequired";
      sig["signed"] = in.git.info ? json(in.git.info->has_signature) : json(nullptr);
    }
    c["signature"] = sig;

    json repo = {{"url", in.git.url}, {"status", in.git.repository}};
    put(repo, "error", in.git.error);
    c["repository"] = repo;
    if (!in.git.error.empty()) {
      if (in.git.repository == "unreachable") {
        warnings.push_back("the repository cannot be reached (" + in.git.error + "); " +
                           (in.git.info ? "the commit was read from the local cache"
                                        : "showing what the cluster knows"));
      } else {
        warnings.push_back("the commit cannot be read from git: " + in.git.error);
      }
    }
    doc["commit"] = c;
  }

  doc["errors"] = errors;
  doc["warnings"] = warnings;
  return doc;
}

json assemble_history(const json& release, const std::map<std::string, git::CommitInfo>& commits,
                      const json& pipeline_items, const std::string& git_error) {
  json doc;
  json warnings = json::array();
  const json& meta = member(release, "metadata");
  json r = {{"namespace", str(meta, "namespace")}, {"name", str(meta, "name")}};
  auto st = api::parse_release_status(member(release, "status"));
  if (!st) {
    warnings.push_back("the Release's status does not parse: " + field_errors(st.error()));
    st = api::ReleaseStatus{};
  }
  r["phase"] = st->phase ? json(std::string(api::to_string(*st->phase))) : json(nullptr);
  put(r, "currentCommit", st->current_commit);
  put(r, "pinnedCommit", st->pinned_commit);
  doc["release"] = r;

  std::vector<std::vector<api::RunStatus>> all_runs;
  if (pipeline_items.is_array()) {
    for (const auto& p : pipeline_items) all_runs.push_back(runs_of(p));
  }
  json hist = json::array();
  for (const auto& h : st->history) {
    json e = history_json(h, st->current_commit);
    if (auto it = commits.find(h.commit); it != commits.end()) {
      e["title"] = it->second.title;
      e["author"] = person(it->second.author_name, it->second.author_email);
    } else if (const api::RunStatus* run = run_with_commit(all_runs, h.commit)) {
      e["title"] = run->title;
      e["author"] = person(run->author);
    }
    hist.push_back(e);
  }
  doc["history"] = hist;
  if (!git_error.empty()) {
    warnings.push_back("commit titles from git are missing: " + git_error);
  }
  doc["warnings"] = warnings;
  return doc;
}

json assemble_status(const std::string& ns, const json& release_items, const json& pipeline_items) {
  json doc = {{"namespace", ns}, {"releases", json::array()}, {"pipelines", json::array()}};
  auto by_name = [](const json& items) {
    std::vector<const json*> v;
    if (items.is_array()) {
      for (const auto& i : items) v.push_back(&i);
    }
    std::sort(v.begin(), v.end(), [](const json* a, const json* b) {
      return str(member(*a, "metadata"), "name") < str(member(*b, "metadata"), "name");
    });
    return v;
  };
  for (const json* rel : by_name(release_items)) {
    const json& meta = member(*rel, "metadata");
    json r = {{"name", str(meta, "name")}};
    auto st = api::parse_release_status(member(*rel, "status"));
    r["phase"] = st && st->phase ? json(std::string(api::to_string(*st->phase))) : json(nullptr);
    r["ready"] = condition(*rel, "Ready");
    if (json stalled = condition(*rel, "Stalled");
        !stalled.is_null() && str(stalled, "status") == "True") {
      r["stalled"] = stalled;
    }
    if (st) {
      put(r, "currentCommit", st->current_commit);
      put(r, "desiredCommit", st->desired_commit);
      put(r, "lastAttemptedCommit", st->last_attempted_commit);
      put(r, "pinnedCommit", st->pinned_commit);
    }
    const json& rspec = member(*rel, "spec");
    r["source"] = {{"url", git::redact_url(str(member(rspec, "source"), "url"))},
                   {"ref", ref_text(member(rspec, "source"))}};
    if (member(rspec, "suspend").is_boolean() && member(rspec, "suspend").get<bool>()) {
      r["suspended"] = true;
    }
    put(r, "creationTimestamp", str(meta, "creationTimestamp"));
    doc["releases"].push_back(r);
  }
  for (const json* pl : by_name(pipeline_items)) {
    const json& meta = member(*pl, "metadata");
    json p = {{"name", str(meta, "name")}};
    auto st = api::parse_pipeline_status(member(*pl, "status"));
    p["ready"] = condition(*pl, "Ready");
    if (json stalled = condition(*pl, "Stalled");
        !stalled.is_null() && str(stalled, "status") == "True") {
      p["stalled"] = stalled;
    }
    if (st) {
      put(p, "latestCommit", st->latest_commit);
      put(p, "lastSucceededCommit", st->last_succeeded_commit);
      if (!st->runs.empty()) {
        json run = run_json(st->runs.front());
        run.erase("steps");
        p["lastRun"] = run;
      } else {
        p["lastRun"] = nullptr;
      }
    }
    const json& src = member(member(*pl, "spec"), "source");
    p["source"] = {{"url", git::redact_url(str(src, "url"))}, {"ref", ref_text(src)}};
    put(p, "creationTimestamp", str(meta, "creationTimestamp"));
    doc["pipelines"].push_back(p);
  }
  return doc;
}

std::expected<std::string, std::string> rollback_target(const json& release,
                                                        const std::string& to) {
  if (to.size() < 7 || to.size() > 40 || !is_hex(to)) {
    return std::unexpected("--to " + to +
                           ": name a commit by its id, or a prefix of at least 7 hex digits");
  }
  auto st = api::parse_release_status(member(release, "status"));
  if (!st)
    return std::unexpected("the Release's status does not parse: " + field_errors(st.error()));
  std::string lowered = to;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::set<std::string> deployed, matched_deployed;
  std::string other_result;
  for (const auto& h : st->history) {
    const bool match = same_commit(lowered, h.commit);
    if (h.result == api::HistoryResult::kDeployed) {
      deployed.insert(h.commit);
      if (match) matched_deployed.insert(h.commit);
    } else if (match && other_result.empty()) {
      other_result = std::string(api::to_string(h.result));
    }
  }
  if (matched_deployed.size() == 1) return *matched_deployed.begin();
  if (matched_deployed.size() > 1) {
    return std::unexpected("--to " + to + " is ambiguous: it names " +
                           std::to_string(matched_deployed.size()) +
                           " deployed commits; give more digits");
  }
  std::string known;
  for (const auto& c : deployed) known += (known.empty() ? "" : ", ") + git::short_sha(c);
  std::string why = other_result.empty()
                        ? "is not in the Release's history"
                        : "was never deployed successfully (its result was " + other_result + ")";
  return std::unexpected("commit " + to + " " + why + "; a rollback can name " +
                         (known.empty() ? std::string("no commit yet: none was deployed")
                                        : "a commit that was deployed: " + known) +
                         " (see `kubectl cairn history`)");
}

std::string rollback_annotation_value(const std::string& full_commit, const json& release) {
  const std::string current = annotation(release, api::kRollbackToAnnotation);
  const std::string handled = str(member(release, "status"), "lastHandledRollbackTo");
  for (size_t len : {size_t{40}, size_t{12}, size_t{16}, size_t{20}}) {
    std::string v = full_commit.substr(0, len);
    if (v != current && v != handled) return v;
  }
  return full_commit;
}

}  // namespace cairn::cli
