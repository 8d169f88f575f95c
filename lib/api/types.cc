#include "api/types.h"

#include <limits>
#include <stdexcept>

#include "api/duration.h"
#include "api/enums.h"
#include "api/json_reader.h"

namespace cairn::api {

using cairn::json;

std::string_view to_string(VerifyMode v) { return detail::enum_name(v); }
std::string_view to_string(Trigger v) { return detail::enum_name(v); }
std::string_view to_string(RunPhase v) { return detail::enum_name(v); }
std::string_view to_string(StepPhase v) { return detail::enum_name(v); }
std::string_view to_string(ReleasePhase v) { return detail::enum_name(v); }
std::string_view to_string(HistoryResult v) { return detail::enum_name(v); }
std::string_view to_string(NotifyEvent v) { return detail::enum_name(v); }

bool from_string(std::string_view s, VerifyMode& out) { return detail::enum_parse(s, out); }
bool from_string(std::string_view s, Trigger& out) { return detail::enum_parse(s, out); }
bool from_string(std::string_view s, RunPhase& out) { return detail::enum_parse(s, out); }
bool from_string(std::string_view s, StepPhase& out) { return detail::enum_parse(s, out); }
bool from_string(std::string_view s, ReleasePhase& out) { return detail::enum_parse(s, out); }
bool from_string(std::string_view s, HistoryResult& out) { return detail::enum_parse(s, out); }
bool from_string(std::string_view s, NotifyEvent& out) { return detail::enum_parse(s, out); }

bool is_finished(RunPhase p) {
  return p == RunPhase::kSucceeded || p == RunPhase::kFailed || p == RunPhase::kCancelled;
}

bool is_finished(StepPhase p) {
  return p == StepPhase::kSucceeded || p == StepPhase::kFailed || p == StepPhase::kSkipped ||
         p == StepPhase::kCancelled;
}

std::string SourceSpec::ref_description() const {
  if (!branch.empty()) return "branch " + branch;
  if (!tag.empty()) return "tag " + tag;
  if (!commit.empty()) return "commit " + commit;
  return "no ref";
}

bool NotifySpec::wants(NotifyEvent e) const {
  if (events.empty()) return true;
  for (NotifyEvent x : events) {
    if (x == e) return true;
  }
  return false;
}

const Step* PipelineSpec::find_step(std::string_view name) const {
  for (const Step& s : steps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

StepStatus* RunStatus::find_step(std::string_view name) {
  for (StepStatus& s : steps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const StepStatus* RunStatus::find_step(std::string_view name) const {
  return const_cast<RunStatus*>(this)->find_step(name);
}

RunStatus* PipelineStatus::find_run(std::string_view id) {
  for (RunStatus& r : runs) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

const RunStatus* PipelineStatus::find_run(std::string_view id) const {
  return const_cast<PipelineStatus*>(this)->find_run(id);
}

// ---- to_json ----

namespace {

void put(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

template <typename T>
void put_list(json& j, const char* key, const std::vector<T>& v) {
  if (v.empty()) return;
  json a = json::array();
  for (const T& x : v) a.push_back(x);
  j[key] = std::move(a);
}

}  // namespace

void to_json(json& j, const LocalObjectReference& v) { j = json{{"name", v.name}}; }

void to_json(json& j, const VerifySpec& v) {
  j = json{{"mode", to_string(v.mode)}};
  if (v.signers_secret_ref) j["signersSecretRef"] = *v.signers_secret_ref;
}

void to_json(json& j, const SourceSpec& v) {
  j = json::object();
  j["url"] = v.url;
  put(j, "branch", v.branch);
  put(j, "tag", v.tag);
  put(j, "commit", v.commit);
  if (v.secret_ref) j["secretRef"] = *v.secret_ref;
  j["interval"] = format_duration(v.interval);
  j["verify"] = v.verify;
}

void to_json(json& j, const NotifySpec& v) {
  j = json{{"url", v.url}};
  if (v.secret_ref) j["secretRef"] = *v.secret_ref;
  if (!v.events.empty()) {
    json a = json::array();
    for (NotifyEvent e : v.events) a.push_back(to_string(e));
    j["events"] = std::move(a);
  }
}

void to_json(json& j, const EnvVar& v) {
  j = json{{"name", v.name}};
  put(j, "value", v.value);
}

void to_json(json& j, const Step& v) {
  j = json::object();
  j["name"] = v.name;
  j["image"] = v.image;
  put(j, "script", v.script);
  if (!v.command.empty()) j["command"] = v.command;
  if (!v.args.empty()) j["args"] = v.args;
  put_list(j, "env", v.env);
  if (v.timeout) j["timeout"] = format_duration(*v.timeout);
  j["retries"] = v.retries;
  if (!v.after.empty()) j["after"] = v.after;
}

void to_json(json& j, const PipelineSpec& v) {
  j = json::object();
  j["source"] = v.source;
  j["steps"] = json::array();
  for (const Step& s : v.steps) j["steps"].push_back(s);
  j["concurrency"] = v.concurrency;
  j["historyLimit"] = v.history_limit;
  put_list(j, "notify", v.notify);
}

void to_json(json& j, const AnalysisSpec& v) {
  j = json{{"prometheus", v.prometheus},
           {"query", v.query},
           {"threshold", v.threshold},
           {"interval", format_duration(v.interval)},
           {"count", v.count}};
}

void to_json(json& j, const RolloutSpec& v) {
  j = json{{"progressDeadline", format_duration(v.progress_deadline)},
           {"autoRollback", v.auto_rollback}};
  if (v.analysis) j["analysis"] = *v.analysis;
}

void to_json(json& j, const GateSpec& v) { j = json{{"pipelineRef", v.pipeline_ref}}; }

void to_json(json& j, const HelmSpec& v) {
  j = json::object();
  if (!v.values_files.empty()) j["valuesFiles"] = v.values_files;
  if (!v.values.empty()) j["values"] = v.values;
  put(j, "releaseName", v.release_name);
}

void to_json(json& j, const ReleaseSpec& v) {
  j = json::object();
  j["source"] = v.source;
  j["path"] = v.path;
  j["clusterScope"] = v.cluster_scope;
  if (v.helm) j["helm"] = *v.helm;
  if (v.gate) j["gate"] = *v.gate;
  j["rollout"] = v.rollout;
  j["prune"] = v.prune;
  j["selfHeal"] = v.self_heal;
  put_list(j, "dependsOn", v.depends_on);
  j["suspend"] = v.suspend;
  j["historyLimit"] = v.history_limit;
  put_list(j, "notify", v.notify);
}

void to_json(json& j, const Condition& v) {
  j = json::object();
  j["type"] = v.type;
  j["status"] = v.status;
  put(j, "reason", v.reason);
  put(j, "message", v.message);
  put(j, "lastTransitionTime", v.last_transition_time);
  if (v.observed_generation != 0) j["observedGeneration"] = v.observed_generation;
}

void to_json(json& j, const StepStatus& v) {
  j = json::object();
  j["name"] = v.name;
  j["phase"] = to_string(v.phase);
  put(j, "job", v.job);
  if (v.attempts != 0) j["attempts"] = v.attempts;
  put(j, "startTime", v.start_time);
  put(j, "completionTime", v.completion_time);
  put(j, "message", v.message);
  if (!v.results.empty()) j["results"] = v.results;
}

void to_json(json& j, const RunStatus& v) {
  j = json::object();
  j["id"] = v.id;
  j["commit"] = v.commit;
  put(j, "author", v.author);
  put(j, "title", v.title);
  j["trigger"] = to_string(v.trigger);
  j["phase"] = to_string(v.phase);
  put(j, "startTime", v.start_time);
  put(j, "completionTime", v.completion_time);
  put(j, "message", v.message);
  put_list(j, "steps", v.steps);
}

void to_json(json& j, const PipelineStatus& v) {
  j = json::object();
  if (v.observed_generation != 0) j["observedGeneration"] = v.observed_generation;
  put_list(j, "conditions", v.conditions);
  put(j, "latestCommit", v.latest_commit);
  put(j, "lastSucceededCommit", v.last_succeeded_commit);
  put(j, "lastHandledRequestedAt", v.last_handled_requested_at);
  if (v.last_run_phase) j["lastRunPhase"] = to_string(*v.last_run_phase);
  put_list(j, "runs", v.runs);
}

void to_json(json& j, const InventoryEntry& v) {
  j = json::object();
  j["apiVersion"] = v.api_version;
  j["kind"] = v.kind;
  put(j, "namespace", v.namespace_);
  j["name"] = v.name;
}

void to_json(json& j, const HistoryEntry& v) {
  j = json::object();
  j["commit"] = v.commit;
  put(j, "startedAt", v.started_at);
  put(j, "finishedAt", v.finished_at);
  j["result"] = to_string(v.result);
  put(j, "reason", v.reason);
  if (v.lead_time_seconds) j["leadTimeSeconds"] = *v.lead_time_seconds;
}

void to_json(json& j, const ReleaseStatus& v) {
  j = json::object();
  if (v.observed_generation != 0) j["observedGeneration"] = v.observed_generation;
  put_list(j, "conditions", v.conditions);
  if (v.phase) j["phase"] = to_string(*v.phase);
  put(j, "desiredCommit", v.desired_commit);
  put(j, "currentCommit", v.current_commit);
  put(j, "lastAttemptedCommit", v.last_attempted_commit);
  put(j, "lastHandledRollbackTo", v.last_handled_rollback_to);
  put(j, "pinnedCommit", v.pinned_commit);
  put(j, "pinnedWhileHeadWas", v.pinned_while_head_was);
  put_list(j, "inventory", v.inventory);
  put_list(j, "history", v.history);
  if (v.analysis) {
    json a = json::object();
    put(a, "commit", v.analysis->commit);
    if (v.analysis->passed) a["passed"] = v.analysis->passed;
    if (v.analysis->errors) a["errors"] = v.analysis->errors;
    put(a, "lastQueryAt", v.analysis->last_query_at);
    put(a, "lastValue", v.analysis->last_value);
    j["analysis"] = std::move(a);
  }
}

// ---- status parsing ----

namespace {

using detail::Errors;
using detail::item_path;
using detail::Object;
using detail::read_enum;

std::string str(const Object& o, std::string_view key) { return o.string(key).value_or(""); }

int small_int(const Object& o, std::string_view key) {
  auto v = o.integer(key);
  if (!v) return 0;
  if (*v < 0 || *v > std::numeric_limits<int>::max()) {
    o.errors().add(o.path(key),
                   "must be between 0 and " + std::to_string(std::numeric_limits<int>::max()));
    return 0;
  }
  return static_cast<int>(*v);
}

// Calls f(Object item) for each object in the list `a` (absent when null).
template <typename F>
void each_object_in(const json* a, const std::string& path, Errors& errs, F f) {
  if (a == nullptr || a->is_null()) return;
  if (!a->is_array()) {
    errs.add(path, "must be a list, not " + detail::describe(*a));
    return;
  }
  for (std::size_t i = 0; i < a->size(); ++i) {
    Object item(&(*a)[i], item_path(path, i), errs);
    if (item.present()) f(item);
  }
}

template <typename F>
void each_object(const Object& o, std::string_view key, F f) {
  each_object_in(o.get(key), o.path(key), o.errors(), f);
}

std::vector<Condition> read_conditions(const json* a, const std::string& path, Errors& errs) {
  std::vector<Condition> out;
  each_object_in(a, path, errs, [&](const Object& c) {
    Condition cond;
    cond.type = str(c, "type");
    cond.status = str(c, "status");
    cond.reason = str(c, "reason");
    cond.message = str(c, "message");
    cond.last_transition_time = str(c, "lastTransitionTime");
    cond.observed_generation = c.integer("observedGeneration").value_or(0);
    out.push_back(std::move(cond));
  });
  return out;
}

template <typename T>
std::expected<T, std::vector<FieldError>> done(T value, Errors& errs) {
  if (!errs.empty()) return std::unexpected(errs.take());
  return value;
}

}  // namespace

std::expected<std::vector<Condition>, std::vector<FieldError>> parse_conditions(
    const json& conditions) {
  Errors errs;
  return done(read_conditions(&conditions, "conditions", errs), errs);
}

std::expected<PipelineStatus, std::vector<FieldError>> parse_pipeline_status(const json& status) {
  Errors errs;
  Object o(&status, "status", errs);
  PipelineStatus s;
  s.observed_generation = o.integer("observedGeneration").value_or(0);
  s.conditions = read_conditions(o.get("conditions"), o.path("conditions"), errs);
  s.latest_commit = str(o, "latestCommit");
  s.last_succeeded_commit = str(o, "lastSucceededCommit");
  s.last_handled_requested_at = str(o, "lastHandledRequestedAt");
  s.last_run_phase = read_enum<RunPhase>(o, "lastRunPhase");
  each_object(o, "runs", [&](const Object& r) {
    RunStatus run;
    run.id = str(r, "id");
    run.commit = str(r, "commit");
    run.author = str(r, "author");
    run.title = str(r, "title");
    run.trigger = read_enum<Trigger>(r, "trigger").value_or(Trigger::kPoll);
    run.phase = read_enum<RunPhase>(r, "phase").value_or(RunPhase::kPending);
    run.start_time = str(r, "startTime");
    run.completion_time = str(r, "completionTime");
    run.message = str(r, "message");
    each_object(r, "steps", [&](const Object& st) {
      StepStatus step;
      step.name = str(st, "name");
      step.phase = read_enum<StepPhase>(st, "phase").value_or(StepPhase::kPending);
      step.job = str(st, "job");
      step.attempts = small_int(st, "attempts");
      step.start_time = str(st, "startTime");
      step.completion_time = str(st, "completionTime");
      step.message = str(st, "message");
      step.results = st.string_map("results").value_or(std::map<std::string, std::string>{});
      run.steps.push_back(std::move(step));
    });
    s.runs.push_back(std::move(run));
  });
  return done(std::move(s), errs);
}

std::expected<ReleaseStatus, std::vector<FieldError>> parse_release_status(const json& status) {
  Errors errs;
  Object o(&status, "status", errs);
  ReleaseStatus s;
  s.observed_generation = o.integer("observedGeneration").value_or(0);
  s.conditions = read_conditions(o.get("conditions"), o.path("conditions"), errs);
  s.phase = read_enum<ReleasePhase>(o, "phase");
  s.desired_commit = str(o, "desiredCommit");
  s.current_commit = str(o, "currentCommit");
  s.last_attempted_commit = str(o, "lastAttemptedCommit");
  s.last_handled_rollback_to = str(o, "lastHandledRollbackTo");
  s.pinned_commit = str(o, "pinnedCommit");
  s.pinned_while_head_was = str(o, "pinnedWhileHeadWas");
  if (o.get("analysis") && o.get("analysis")->is_object()) {
    Object a = o.object("analysis");
    s.analysis = AnalysisStatus{.commit = str(a, "commit"),
                                .passed = small_int(a, "passed"),
                                .errors = small_int(a, "errors"),
                                .last_query_at = str(a, "lastQueryAt"),
                                .last_value = str(a, "lastValue")};
  }
  each_object(o, "inventory", [&](const Object& i) {
    s.inventory.push_back(
        {str(i, "apiVersion"), str(i, "kind"), str(i, "namespace"), str(i, "name")});
  });
  each_object(o, "history", [&](const Object& h) {
    HistoryEntry e;
    e.commit = str(h, "commit");
    e.started_at = str(h, "startedAt");
    e.finished_at = str(h, "finishedAt");
    e.result = read_enum<HistoryResult>(h, "result").value_or(HistoryResult::kFailed);
    e.reason = str(h, "reason");
    e.lead_time_seconds = h.integer("leadTimeSeconds");
    s.history.push_back(std::move(e));
  });
  return done(std::move(s), errs);
}

void from_json(const json& j, PipelineStatus& v) {
  auto r = parse_pipeline_status(j);
  if (!r) throw std::invalid_argument(to_string(r.error()));
  v = std::move(*r);
}

void from_json(const json& j, ReleaseStatus& v) {
  auto r = parse_release_status(j);
  if (!r) throw std::invalid_argument(to_string(r.error()));
  v = std::move(*r);
}

}  // namespace cairn::api
