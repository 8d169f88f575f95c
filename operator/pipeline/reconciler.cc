#include "operator/pipeline/reconciler.h"

#include <openssl/sha.h>

#include <algorithm>
#include <random>

#include "api/conditions.h"
#include "api/names.h"
#include "api/validate.h"
#include "kube/util.h"
#include "log/log.h"
#include "operator/kit/status.h"
#include "operator/pipeline/job.h"
#include "source/source.h"

namespace cairn::pipeline {

using kube::json;
using source::now_s;
using source::short_sha;

namespace {

const kube::ApiResource kPipelines{"cairn.dev", "v1alpha1", "pipelines", "Pipeline", true};

// A short, stable tag for a manual-run request value.
std::string hash4(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  char out[5];
  std::snprintf(out, sizeof out, "%02x%02x", d[0], d[1]);
  return out;
}

std::chrono::milliseconds jitter(std::chrono::milliseconds d) {
  // ±10%, so Pipelines created together do not poll in lockstep.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> f(0.9, 1.1);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * f(rng)));
}

bool job_condition(const json& job, const char* type) {
  for (const auto& c : job.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == type && c.value("status", "") == "True") return true;
  }
  return false;
}

std::string job_condition_text(const json& job, const char* type) {
  for (const auto& c : job.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == type) {
      std::string r = c.value("reason", "");
      std::string m = c.value("message", "");
      return m.empty() ? r : r + ": " + m;
    }
  }
  return {};
}

}  // namespace

struct Reconciler::Context {
  std::string key, ns, name, uid;
  int64_t generation = 0;
  json object;
  std::unique_ptr<kit::StatusScope> scope;
  api::PipelineSpec spec;
  api::PipelineStatus status;
  std::shared_ptr<git::Source> source;
  // What the source step found: the commit to run (empty when the source
  // is unusable), whether a push asked for it, and why not.
  std::string latest;
  bool pushed = false;
  std::optional<source::Failure> source_failure;  // the fetch failed: retried with backoff
  std::optional<kit::Verdict> source_problem;     // the ref or signature: polled again
};

const kube::ApiResource& Reconciler::resource() { return kPipelines; }

Reconciler::Reconciler(kube::Api& client, kube::Store& pipelines, kube::Store& jobs,
                       kube::Store& pods, SourceProvider& sources, kube::EventSink& events,
                       Options opts)
    : client_(client),
      pipelines_(pipelines),
      jobs_(jobs),
      pods_(pods),
      sources_(sources),
      events_(events),
      opts_(std::move(opts)),
      tracker_(client, opts_.fetch_timeout, opts_.stall_timeout) {}

void Reconciler::request_fetch(const std::string& key) { tracker_.request(key); }

Outcome Reconciler::reconcile(const std::string& key) {
  kube::ObjectPtr obj = pipelines_.get(key);
  if (!obj) {
    tracker_.forget(key);
    return Outcome::done();
  }
  Context c;
  c.key = key;
  c.object = *obj;
  const json& md = c.object["metadata"];
  c.ns = md.value("namespace", "");
  c.name = md.value("name", "");
  c.uid = md.value("uid", "");
  c.generation = md.value("generation", int64_t{0});
  // Deleting the Pipeline deletes its Jobs (owner references), which stops
  // the running steps; nothing else is held.
  if (md.contains("deletionTimestamp")) return Outcome::done();
  c.scope = std::make_unique<kit::StatusScope>(client_, kPipelines, pipelines_, c.object);
  if (auto st = api::parse_pipeline_status(c.scope->original())) c.status = std::move(*st);

  if (auto stalled = check_spec(c)) return finish(c, std::move(*stalled));
  fetch_source(c);  // a failure is reported, and the runs already started go on
  record_runs(c);
  const bool active = drive_runs(c);
  collect_garbage(c);
  if (!c.status.runs.empty()) c.status.last_run_phase = c.status.runs.front().phase;
  // Job events drive progress while a run is active; this is only a safety net.
  constexpr std::chrono::milliseconds kSafetyNet{30000};
  if (c.source_failure) {
    const auto& f = *c.source_failure;
    return finish(c, Outcome::retry(kit::Error::transient_error(f.message),
                                    active ? std::min(f.retry_after, kSafetyNet) : f.retry_after)
                         .with(kit::not_ready(f.reason, f.message)));
  }
  Outcome next = Outcome::requeue(jitter(c.spec.source.interval));
  if (active) next = Outcome::requeue(std::min(next.after(), kSafetyNet));
  return finish(c, next.with(verdict(c)));
}

kit::Step Reconciler::check_spec(Context& c) {
  auto spec = api::parse_pipeline_spec(c.object.value("spec", json::object()), c.name);
  if (spec) {
    c.spec = std::move(*spec);
    return kit::next();
  }
  std::string msg;
  for (const auto& e : spec.error()) msg += (msg.empty() ? "" : "; ") + e.to_string();
  if (c.scope->original().value("observedGeneration", int64_t{0}) != c.generation)
    events_.warning(c.object, "InvalidSpec", msg);
  // Stalled: nothing will change until the spec does, so no requeue.
  return Outcome::stalled("InvalidSpec", msg);
}

// Fetches when due and resolves the tracked ref into c.latest; a failure
// goes into c.source_failure (or, for the ref or signature, a Ready=False
// verdict) and c.latest stays empty.
void Reconciler::fetch_source(Context& c) {
  c.source = sources_.source(c.spec.source.url);
  auto fetched =
      tracker_.fetch_if_due(c.key, c.ns, c.spec.source, *c.source, c.status.latest_commit.empty());
  if (!fetched) {
    const auto& f = fetched.error();
    if (f.attempted) report_source_failure(c, f.reason, f.message);
    c.source_failure = f;
    return;
  }
  c.pushed = fetched->pushed;
  auto resolved = c.source->resolve(source::ref_of(c.spec.source));
  if (!resolved) {
    c.source_problem = kit::not_ready(
        resolved.error().code == git::Code::kNotFound ? "RefNotFound" : "ResolveFailed",
        "spec.source: " + c.spec.source.ref_description() + " of " + c.source->url() + ": " +
            resolved.error().message);
    report_source_failure(c, c.source_problem->reason, c.source_problem->message);
    return;
  }
  if (c.spec.source.verify.mode == api::VerifyMode::kHead) {
    auto keys = source::read_signers(client_, c.ns, c.spec.source);
    if (auto why = git::signature_problem(*c.source, *resolved,
                                          keys.value_or(std::vector<std::string>{}))) {
      c.source_problem = kit::not_ready(
          "SignatureVerificationFailed",
          "commit " + *resolved +
              " is not signed by a key in spec.source.verify.signersSecretRef: " + *why);
      report_source_failure(c, c.source_problem->reason, c.source_problem->message);
      return;
    }
  }
  c.latest = *resolved;
}

void Reconciler::report_source_failure(Context& c, const std::string& reason,
                                       const std::string& message) {
  events_.warning(c.object, reason, message);
  log::warn("source failed", {{"kind", "Pipeline"},
                              {"namespace", c.ns},
                              {"name", c.name},
                              {"reason", reason},
                              {"error", message}});
}

// A run per new commit (and per manual request); runs of an older spec
// generation are cancelled, and queued runs older than the newest superseded.
void Reconciler::record_runs(Context& c) {
  const std::string gen = std::to_string(c.generation);
  for (auto& run : c.status.runs) {
    if (api::is_finished(run.phase)) continue;
    auto dash = run.id.find('-');
    std::string run_gen = dash == std::string::npos ? "" : run.id.substr(dash + 1);
    run_gen = run_gen.substr(0, run_gen.find('-'));
    if (run_gen != gen) cancel_run(c, run, "the Pipeline's spec changed (generation " + gen + ")");
  }
  auto add_run = [&](const std::string& id, api::Trigger trigger) {
    if (c.status.find_run(id)) return;
    api::RunStatus run;
    run.id = id;
    run.commit = c.latest;
    run.trigger = trigger;
    run.phase = api::RunPhase::kPending;
    if (auto info = c.source->commit(c.latest)) {
      run.author = info->author_name + " <" + info->author_email + ">";
      run.title = info->title;
    }
    for (const auto& step : c.spec.steps) run.steps.push_back({.name = step.name});
    c.status.runs.insert(c.status.runs.begin(), std::move(run));
  };
  if (!c.latest.empty()) {
    add_run(short_sha(c.latest) + "-" + gen, c.pushed ? api::Trigger::kPush : api::Trigger::kPoll);
    c.status.latest_commit = c.latest;
    // A manual run per new value of the annotation, handled once (the
    // value is recorded in status, so neither a restart nor a spec change
    // starts it again).
    const std::string requested = c.object["metadata"]
                                      .value("annotations", json::object())
                                      .value(std::string(api::kRequestedAtAnnotation), "");
    if (!requested.empty() && requested != c.status.last_handled_requested_at) {
      add_run(short_sha(c.latest) + "-" + gen + "-m" + hash4(requested), api::Trigger::kManual);
      c.status.last_handled_requested_at = requested;
    }
  }
  // Only the newest queued run waits; older queued ones are superseded.
  bool newest_pending_seen = false;
  for (auto& run : c.status.runs) {  // newest first
    if (run.phase != api::RunPhase::kPending) continue;
    if (!newest_pending_seen) {
      newest_pending_seen = true;
      continue;
    }
    cancel_run(c, run, "superseded by a newer commit before it started");
  }
}

// Starts queued runs while there is room, advances the running ones, and
// goes round again when a run finished, so a queued run starts in the same
// reconcile instead of waiting for the next event. Returns whether a run
// is still active.
bool Reconciler::drive_runs(Context& c) {
  bool active = false;
  for (int pass = 0; pass < 4; ++pass) {
    int running = 0;
    for (const auto& run : c.status.runs) running += run.phase == api::RunPhase::kRunning;
    for (auto it = c.status.runs.rbegin(); it != c.status.runs.rend(); ++it) {  // oldest first
      if (it->phase != api::RunPhase::kPending || running >= c.spec.concurrency) continue;
      it->phase = api::RunPhase::kRunning;
      it->start_time = now_s();
      running++;
      events_.normal(c.object, "RunStarted",
                     "run " + it->id + " started for commit " + short_sha(it->commit) + " (" +
                         std::string(api::to_string(it->trigger)) + ")" +
                         (it->title.empty() ? "" : ": " + it->title));
      log::info("run started", {{"kind", "Pipeline"},
                                {"namespace", c.ns},
                                {"name", c.name},
                                {"run", it->id},
                                {"commit", it->commit}});
    }
    active = false;
    bool finished = false, queued = false;
    for (auto& run : c.status.runs) {
      if (run.phase == api::RunPhase::kRunning) {
        advance_run(c, run);
        active = active || run.phase == api::RunPhase::kRunning;
        finished = finished || run.phase != api::RunPhase::kRunning;
      }
      queued = queued || run.phase == api::RunPhase::kPending;
    }
    if (!finished || !queued) break;
  }
  return active;
}

void Reconciler::cancel_run(Context& c, api::RunStatus& run, const std::string& why) {
  run.phase = api::RunPhase::kCancelled;
  run.message = why;
  run.completion_time = now_s();
  for (auto& st : run.steps) {
    if (!api::is_finished(st.phase)) {
      st.phase = api::StepPhase::kCancelled;
      st.completion_time = run.completion_time;
    }
  }
  // Deleting its Jobs stops whatever still runs (Background: Pods go too).
  for (const auto& j :
       jobs_.by_index(kube::Store::kByLabel, std::string(api::kRunLabel) + "=" + run.id)) {
    if ((*j)["metadata"].value("namespace", "") != c.ns) continue;
    (void)client_.remove(kube::res::kJobs, c.ns, (*j)["metadata"].value("name", ""),
                         {.propagation_policy = "Background"});
  }
  events_.normal(c.object, "RunCancelled", "run " + run.id + " cancelled: " + why);
}

namespace {

// Whether a step may start: "" when every step it runs after succeeded; the
// name of one that failed, was skipped or cancelled (the step is skipped);
// or nullopt while one is still to finish.
std::optional<std::string> blocker_of(const api::Step& step, const api::RunStatus& run) {
  bool waiting = false;
  for (const auto& dep : step.after) {
    const api::StepStatus* d = run.find_step(dep);
    if (!d || d->phase == api::StepPhase::kFailed || d->phase == api::StepPhase::kSkipped ||
        d->phase == api::StepPhase::kCancelled)
      return dep;
    if (d->phase != api::StepPhase::kSucceeded) waiting = true;
  }
  if (waiting) return std::nullopt;
  return std::string();
}

}  // namespace

void Reconciler::advance_run(Context& c, api::RunStatus& run) {
  // Steps of a run whose spec changed mid-run keep the spec they started
  // with only through their Jobs; a step missing from the spec is cancelled.
  for (const auto& name : api::topological_order(c.spec)) {
    const api::Step* step = c.spec.find_step(name);
    api::StepStatus* st = run.find_step(name);
    if (!step) continue;
    if (!st) {
      run.steps.push_back({.name = name});
      st = &run.steps.back();
    }
    if (api::is_finished(st->phase)) continue;
    auto blocker = blocker_of(*step, run);
    if (!blocker) continue;  // waiting for a step it runs after
    if (!blocker->empty()) {
      st->phase = api::StepPhase::kSkipped;
      st->message = "not run: step \"" + *blocker + "\" did not succeed";
      continue;
    }
    st->job = api::job_name(c.name, run.id, step->name);
    if (kube::ObjectPtr job = jobs_.get(c.ns + "/" + st->job))
      observe_step(c, run, *step, *st, *job);
    else
      start_step(c, run, *step, *st);
  }
  finish_run(c, run);
}

void Reconciler::start_step(Context& c, const api::RunStatus& run, const api::Step& step,
                            api::StepStatus& st) {
  JobInputs in{.ns = c.ns,
               .pipeline = c.name,
               .pipeline_uid = c.uid,
               .run_id = run.id,
               .commit = run.commit,
               .source_url = c.spec.source.url,
               .secret_name = c.spec.source.secret_ref ? c.spec.source.secret_ref->name : "",
               .checkout_image = opts_.checkout_image,
               .step = &step};
  auto r = client_.create(kube::res::kJobs, c.ns, build_job(in));
  // AlreadyExists: made by us before a restart, or our cache lags. Either
  // way the Job is there and will be adopted; it is never made twice.
  if (!r && r.error().code != kube::Code::kAlreadyExists) {
    st.message = "cannot create Job " + st.job + ": " + r.error().to_string();
    return;
  }
  if (st.phase == api::StepPhase::kPending) {
    st.phase = api::StepPhase::kRunning;
    st.start_time = now_s();
    st.attempts = 1;
  }
}

Reconciler::Termination Reconciler::last_termination(const std::string& ns,
                                                     const std::string& job_name) const {
  Termination out;
  std::string newest;
  for (const auto& p : pods_.by_index(kube::Store::kByLabel, "job-name=" + job_name)) {
    if ((*p)["metadata"].value("namespace", "") != ns) continue;
    std::string created = (*p)["metadata"].value("creationTimestamp", "");
    if (created < newest) continue;
    newest = created;
    const json status = (*p).value("status", json::object());
    for (const auto& cs : status.value("containerStatuses", json::array())) {
      if (cs.value("name", "") != "step") continue;
      const json t = cs.value("state", json::object()).value("terminated", json::object());
      if (t.empty()) continue;
      out.message = t.value("message", "");
      out.exit_text = "exit code " + std::to_string(t.value("exitCode", 0));
    }
    for (const auto& cs : status.value("initContainerStatuses", json::array())) {
      const json t = cs.value("state", json::object()).value("terminated", json::object());
      if (!t.empty() && t.value("exitCode", 0) != 0)
        out.exit_text = "checkout failed with exit code " + std::to_string(t.value("exitCode", 0));
    }
  }
  return out;
}

void Reconciler::observe_step(Context& c, const api::RunStatus& run, const api::Step& step,
                              api::StepStatus& st, const json& job) {
  const json& js = job.value("status", json::object());
  if (st.phase == api::StepPhase::kPending) {
    st.phase = api::StepPhase::kRunning;
    st.start_time = js.value("startTime", now_s());
  }
  st.attempts = std::max(
      1, js.value("failed", 0) + js.value("succeeded", 0) + (js.value("active", 0) > 0 ? 1 : 0));
  // The last Pod's termination message: results, or why it failed.
  const Termination term = last_termination(c.ns, st.job);
  if (job_condition(job, "Complete")) {
    st.phase = api::StepPhase::kSucceeded;
    st.completion_time = js.value("completionTime", now_s());
    st.results = parse_results(term.message);
    st.message.clear();
  } else if (job_condition(job, "Failed")) {
    st.phase = api::StepPhase::kFailed;
    st.completion_time = now_s();
    std::string why = job_condition_text(job, "Failed");
    st.message = "step \"" + step.name + "\" failed" +
                 (term.exit_text.empty() ? "" : " (" + term.exit_text + ")") +
                 (why.empty() ? "" : ": " + why) +
                 (term.message.empty() ? "" : ": " + failure_excerpt(term.message));
    events_.warning(c.object, "StepFailed", "run " + run.id + ": " + st.message);
  }
}

void Reconciler::finish_run(Context& c, api::RunStatus& run) {
  bool any_running = false, any_failed = false, all_ok = true;
  const api::StepStatus* failed = nullptr;
  for (const auto& st : run.steps) {
    if (!c.spec.find_step(st.name)) continue;
    any_running = any_running || st.phase == api::StepPhase::kRunning;
    if (st.phase == api::StepPhase::kFailed && !failed) failed = &st;
    any_failed = any_failed || st.phase == api::StepPhase::kFailed;
    all_ok = all_ok && st.phase == api::StepPhase::kSucceeded;
  }
  bool pending_left = false;
  for (const auto& st : run.steps)
    pending_left = pending_left || st.phase == api::StepPhase::kPending;
  if (any_running || (pending_left && !any_failed)) return;
  if (any_failed) {
    // Nothing still runs: steps that never started will not.
    for (auto& st : run.steps) {
      if (st.phase == api::StepPhase::kPending) {
        st.phase = api::StepPhase::kSkipped;
        st.message = "not run: the run failed";
      }
    }
  }
  run.completion_time = now_s();
  if (all_ok) {
    run.phase = api::RunPhase::kSucceeded;
    run.message = "all " + std::to_string(run.steps.size()) + " steps succeeded";
    c.status.last_succeeded_commit = run.commit;
    events_.normal(c.object, "RunSucceeded",
                   "run " + run.id + " succeeded for commit " + short_sha(run.commit));
  } else {
    run.phase = api::RunPhase::kFailed;
    run.message = failed ? failed->message : "a step did not succeed";
    events_.warning(c.object, "RunFailed", "run " + run.id + " failed: " + run.message);
  }
  if (opts_.on_run_finished) {
    double secs = 0;
    auto a = kube::parse_rfc3339(run.start_time), b = kube::parse_rfc3339(run.completion_time);
    if (a && b) secs = std::chrono::duration<double>(*b - *a).count();
    opts_.on_run_finished(c.ns, c.name, run, secs, c.spec.notify);
  }
  log::info("run finished", {{"kind", "Pipeline"},
                             {"namespace", c.ns},
                             {"name", c.name},
                             {"run", run.id},
                             {"commit", run.commit},
                             {"phase", std::string(api::to_string(run.phase))}});
}

void Reconciler::collect_garbage(Context& c) {
  size_t limit = static_cast<size_t>(std::max(1, c.spec.history_limit));
  std::vector<api::RunStatus> kept;
  for (auto& run : c.status.runs) {  // newest first; running runs are never dropped
    if (kept.size() < limit || !api::is_finished(run.phase)) {
      kept.push_back(std::move(run));
      continue;
    }
    for (const auto& j :
         jobs_.by_index(kube::Store::kByLabel, std::string(api::kRunLabel) + "=" + run.id)) {
      if ((*j)["metadata"].value("namespace", "") != c.ns) continue;
      if ((*j)["metadata"]
              .value("labels", json::object())
              .value(std::string(api::kPipelineLabel), "") != c.name) {
        continue;
      }
      (void)client_.remove(kube::res::kJobs, c.ns, (*j)["metadata"].value("name", ""),
                           {.propagation_policy = "Background"});
    }
  }
  c.status.runs = std::move(kept);
}

// kstatus: Ready summarises; Reconciling only while work is in progress;
// Stalled only when a person must change something.
kit::Verdict Reconciler::verdict(Context& c) {
  if (c.source_problem) return *c.source_problem;
  const api::RunStatus* running = nullptr;
  bool queued = false;
  for (const auto& r : c.status.runs) {
    if (r.phase == api::RunPhase::kRunning) running = &r;
    queued = queued || r.phase == api::RunPhase::kPending;
  }
  if (running || queued) {
    return kit::reconciling("RunInProgress", running
                                                 ? "run " + running->id + " for commit " +
                                                       short_sha(running->commit) + " is running"
                                                 : "a run is queued");
  }
  const api::RunStatus* newest = c.status.runs.empty() ? nullptr : &c.status.runs.front();
  if (!newest) return kit::reconciling("NoRuns", "waiting for the first run");
  if (newest->phase == api::RunPhase::kSucceeded) {
    return kit::ready("Succeeded",
                      "run " + newest->id + " succeeded for commit " + short_sha(newest->commit));
  }
  // The commit failed its pipeline; a new commit (or a manual run) is
  // needed, and polling goes on, so this is not a stall.
  return kit::not_ready(newest->phase == api::RunPhase::kFailed ? "RunFailed" : "RunCancelled",
                        "run " + newest->id + ": " + newest->message);
}

// The one exit: conditions from the outcome's verdict, observedGeneration
// on success or a stall, and one status write.
Outcome Reconciler::finish(Context& c, Outcome outcome) {
  kit::set_conditions(c.status.conditions, outcome.verdict(), c.generation,
                      std::chrono::system_clock::now());
  kit::settle_generation(c.status.observed_generation, c.generation, outcome);
  if (opts_.notify_failure)
    kit::set_notified(c.status.conditions, !c.spec.notify.empty(),
                      opts_.notify_failure("Pipeline/" + c.ns + "/" + c.name), c.generation);
  json status;
  api::to_json(status, c.status);
  return c.scope->close(status, std::move(outcome));
}

}  // namespace cairn::pipeline
