#include "pipeline/reconciler.h"

#include <openssl/sha.h>

#include <algorithm>
#include <random>

#include "api/conditions.h"
#include "api/names.h"
#include "api/validate.h"
#include "kube/util.h"
#include "log/log.h"
#include "pipeline/job.h"
#include "source/source.h"
#include "status.h"

namespace cairn::pipeline {

using kube::json;
using source::now_s;
using source::ref_of;
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
  json original_status;
  api::PipelineSpec spec;
  api::PipelineStatus status;
  std::shared_ptr<git::Source> source;
  // Set by the source step; empty when the source is unusable.
  std::string ready_reason, ready_message;
  bool source_ok = false;
};

const kube::ApiResource& Reconciler::resource() { return kPipelines; }

Reconciler::Reconciler(kube::Client& client, kube::Store& pipelines, kube::Store& jobs,
                       kube::Store& pods, SourceProvider& sources, kube::EventRecorder& events,
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

Outcome Reconciler::fail_source(Context& c, const std::string& reason, const std::string& message,
                                Outcome outcome, bool report) {
  c.ready_reason = reason;
  c.ready_message = message;
  if (!report) return outcome;
  events_.warning(c.object, reason, message);
  log::warn("source failed", {{"kind", "Pipeline"},
                              {"namespace", c.ns},
                              {"name", c.name},
                              {"reason", reason},
                              {"error", message}});
  return outcome;
}

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

  c.original_status = c.object.value("status", json::object());
  if (auto st = api::parse_pipeline_status(c.original_status)) c.status = std::move(*st);

  auto spec = api::parse_pipeline_spec(c.object.value("spec", json::object()), c.name);
  if (!spec) {
    std::string msg;
    for (const auto& e : spec.error()) msg += (msg.empty() ? "" : "; ") + e.to_string();
    auto now = std::chrono::system_clock::now();
    api::set_condition(c.status.conditions, "Stalled", "True", "InvalidSpec", msg, c.generation,
                       now);
    api::set_condition(c.status.conditions, "Ready", "False", "InvalidSpec", msg, c.generation,
                       now);
    api::set_condition(c.status.conditions, "Reconciling", "False", "InvalidSpec", msg,
                       c.generation, now);
    c.status.observed_generation = c.generation;
    if (c.original_status.value("observedGeneration", int64_t{0}) != c.generation) {
      events_.warning(c.object, "InvalidSpec", msg);
    }
    // Stalled: nothing will change until the spec does, so no requeue.
    return write_status(c, Outcome::done());
  }
  c.spec = std::move(*spec);

  // ---------------------------------------------------------------- source
  const std::string requested = [&] {
    const json a = md.value("annotations", json::object());
    return a.value(std::string(api::kRequestedAtAnnotation), std::string());
  }();
  std::string manual_id;
  c.source = sources_.source(c.spec.source.url);
  Outcome next = Outcome::requeue_after(jitter(c.spec.source.interval));
  std::string latest;
  bool pushed = false;
  do {
    auto fetched =
        tracker_.fetch_if_due(key, c.ns, c.spec.source, *c.source, c.status.latest_commit.empty());
    if (!fetched) {
      const auto& f = fetched.error();
      next =
          fail_source(c, f.reason, f.message, Outcome::requeue_after(f.retry_after), f.attempted);
      break;
    }
    pushed = fetched->pushed;
    auto resolved = c.source->resolve(ref_of(c.spec.source));
    if (!resolved) {
      std::string what = c.spec.source.ref_description();
      next = fail_source(
          c, resolved.error().code == git::Code::kNotFound ? "RefNotFound" : "ResolveFailed",
          "spec.source: " + what + " of " + c.source->url() + ": " + resolved.error().message,
          next);
      break;
    }
    latest = *resolved;
    if (c.spec.source.verify.mode == api::VerifyMode::kHead) {
      auto keys = source::read_signers(client_, c.ns, c.spec.source);
      auto v = c.source->verify_signature(latest, keys.value_or(std::vector<std::string>{}));
      if (!v || v->status != git::SignatureStatus::kValid) {
        next = fail_source(c, "SignatureVerificationFailed",
                           "commit " + latest +
                               " is not signed by a key in spec.source.verify.signersSecretRef: " +
                               (v ? std::string(git::status_name(v->status)) + ": " + v->message
                                  : v.error().message),
                           next);
        latest.clear();
        break;
      }
    }
    c.source_ok = true;
  } while (false);

  // ------------------------------------------------------------------ runs
  const std::string gen = std::to_string(c.generation);
  // A new spec generation cancels what the old one started.
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
    run.commit = latest;
    run.trigger = trigger;
    run.phase = api::RunPhase::kPending;
    if (auto info = c.source->commit(latest)) {
      run.author = info->author_name + " <" + info->author_email + ">";
      run.title = info->title;
    }
    for (const auto& step : c.spec.steps) run.steps.push_back({.name = step.name});
    c.status.runs.insert(c.status.runs.begin(), std::move(run));
  };
  if (!latest.empty()) {
    add_run(short_sha(latest) + "-" + gen, pushed ? api::Trigger::kPush : api::Trigger::kPoll);
    c.status.latest_commit = latest;
    // A manual run per new value of the annotation, handled once (the
    // value is recorded in status, so neither a restart nor a spec change
    // starts it again).
    if (!requested.empty() && requested != c.status.last_handled_requested_at) {
      manual_id = short_sha(latest) + "-" + gen + "-m" + hash4(requested);
      add_run(manual_id, api::Trigger::kManual);
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
  // Start queued runs while there is room, advance the running ones, and
  // go round again when a run finished, so a queued run starts in the same
  // reconcile instead of waiting for the next event.
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
  collect_garbage(c);
  c.status.observed_generation = c.generation;
  if (!c.status.runs.empty()) c.status.last_run_phase = c.status.runs.front().phase;
  set_conditions(c);
  if (active && next.kind != Outcome::kRetry) {
    // Job events drive progress; this is only a safety net.
    next = Outcome::requeue_after(
        std::min(next.after.count() > 0 ? next.after : std::chrono::milliseconds(30000),
                 std::chrono::milliseconds(30000)));
  }
  return write_status(c, next);
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
    bool blocked = false, waiting = false;
    std::string blocker;
    for (const auto& dep : step->after) {
      const api::StepStatus* d = run.find_step(dep);
      if (!d || d->phase == api::StepPhase::kFailed || d->phase == api::StepPhase::kSkipped ||
          d->phase == api::StepPhase::kCancelled) {
        blocked = true;
        blocker = dep;
      } else if (d->phase != api::StepPhase::kSucceeded) {
        waiting = true;
      }
    }
    if (blocked) {
      st->phase = api::StepPhase::kSkipped;
      st->message = "not run: step \"" + blocker + "\" did not succeed";
      continue;
    }
    if (waiting) continue;
    const std::string job_name = api::job_name(c.name, run.id, step->name);
    st->job = job_name;
    kube::ObjectPtr job = jobs_.get(c.ns + "/" + job_name);
    if (!job) {
      JobInputs in{.ns = c.ns,
                   .pipeline = c.name,
                   .pipeline_uid = c.uid,
                   .run_id = run.id,
                   .commit = run.commit,
                   .source_url = c.spec.source.url,
                   .secret_name = c.spec.source.secret_ref ? c.spec.source.secret_ref->name : "",
                   .checkout_image = opts_.checkout_image,
                   .step = step};
      auto r = client_.create(kube::res::kJobs, c.ns, build_job(in));
      // AlreadyExists: made by us before a restart, or our cache lags. Either
      // way the Job is there and will be adopted; it is never made twice.
      if (!r && r.error().code != kube::Code::kAlreadyExists) {
        st->message = "cannot create Job " + job_name + ": " + r.error().to_string();
        continue;
      }
      if (st->phase == api::StepPhase::kPending) {
        st->phase = api::StepPhase::kRunning;
        st->start_time = now_s();
        st->attempts = 1;
      }
      continue;
    }
    const json& js = (*job).value("status", json::object());
    if (st->phase == api::StepPhase::kPending) {
      st->phase = api::StepPhase::kRunning;
      st->start_time = js.value("startTime", now_s());
    }
    st->attempts = std::max(
        1, js.value("failed", 0) + js.value("succeeded", 0) + (js.value("active", 0) > 0 ? 1 : 0));
    // The last Pod's termination message: results, or why it failed.
    std::string term, exit_text;
    std::string newest;
    for (const auto& p : pods_.by_index(kube::Store::kByLabel, "job-name=" + job_name)) {
      if ((*p)["metadata"].value("namespace", "") != c.ns) continue;
      std::string created = (*p)["metadata"].value("creationTimestamp", "");
      if (created < newest) continue;
      newest = created;
      for (const auto& cs :
           (*p).value("status", json::object()).value("containerStatuses", json::array())) {
        if (cs.value("name", "") != "step") continue;
        const json t = cs.value("state", json::object()).value("terminated", json::object());
        if (t.empty()) continue;
        term = t.value("message", "");
        exit_text = "exit code " + std::to_string(t.value("exitCode", 0));
      }
      for (const auto& cs :
           (*p).value("status", json::object()).value("initContainerStatuses", json::array())) {
        const json t = cs.value("state", json::object()).value("terminated", json::object());
        if (!t.empty() && t.value("exitCode", 0) != 0) {
          exit_text = "checkout failed with exit code " + std::to_string(t.value("exitCode", 0));
        }
      }
    }
    if (job_condition(*job, "Complete")) {
      st->phase = api::StepPhase::kSucceeded;
      st->completion_time = js.value("completionTime", now_s());
      st->results = parse_results(term);
      st->message.clear();
    } else if (job_condition(*job, "Failed")) {
      st->phase = api::StepPhase::kFailed;
      st->completion_time = now_s();
      std::string why = job_condition_text(*job, "Failed");
      st->message =
          "step \"" + step->name + "\" failed" + (exit_text.empty() ? "" : " (" + exit_text + ")") +
          (why.empty() ? "" : ": " + why) + (term.empty() ? "" : ": " + failure_excerpt(term));
      events_.warning(c.object, "StepFailed", "run " + run.id + ": " + st->message);
    }
  }
  finish_run(c, run);
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

void Reconciler::set_conditions(Context& c) {
  // kstatus: Ready summarises; Reconciling only while work is in progress;
  // Stalled only when a person must change something.
  auto now = std::chrono::system_clock::now();
  auto& conds = c.status.conditions;
  const api::RunStatus* running = nullptr;
  bool queued = false;
  for (const auto& r : c.status.runs) {
    if (r.phase == api::RunPhase::kRunning) running = &r;
    queued = queued || r.phase == api::RunPhase::kPending;
  }
  if (!c.source_ok) {
    api::set_not_ready(conds, c.ready_reason, c.ready_message, c.generation, now);
    return;
  }
  if (running || queued) {
    std::string msg =
        running ? "run " + running->id + " for commit " + short_sha(running->commit) + " is running"
                : "a run is queued";
    api::set_reconciling(conds, "RunInProgress", msg, c.generation, now);
    return;
  }
  const api::RunStatus* newest = c.status.runs.empty() ? nullptr : &c.status.runs.front();
  if (!newest) {
    api::set_reconciling(conds, "NoRuns", "waiting for the first run", c.generation, now);
  } else if (newest->phase == api::RunPhase::kSucceeded) {
    api::set_ready(conds, "Succeeded",
                   "run " + newest->id + " succeeded for commit " + short_sha(newest->commit),
                   c.generation, now);
  } else {
    // The commit failed its pipeline; a new commit (or a manual run) is
    // needed, and polling goes on, so this is not a stall.
    api::set_not_ready(conds,
                       newest->phase == api::RunPhase::kFailed ? "RunFailed" : "RunCancelled",
                       "run " + newest->id + ": " + newest->message, c.generation, now);
  }
}

void set_notified(std::vector<api::Condition>& conds, bool has_targets,
                  const std::optional<std::string>& failure, int64_t generation) {
  const auto now = std::chrono::system_clock::now();
  if (!has_targets) {
    api::remove_condition(conds, "Notified");
  } else if (failure) {
    api::set_condition(conds, "Notified", api::kConditionFalse, "NotificationFailed", *failure,
                       generation, now);
  } else if (api::find_condition(conds, "Notified")) {
    api::set_condition(conds, "Notified", api::kConditionTrue, "Delivered",
                       "the last notification was delivered", generation, now);
  }
}

Outcome Reconciler::write_status(Context& c, Outcome outcome) {
  if (opts_.notify_failure)
    set_notified(c.status.conditions, !c.spec.notify.empty(),
                 opts_.notify_failure("Pipeline/" + c.ns + "/" + c.name), c.generation);
  json status;
  api::to_json(status, c.status);
  return cairn::write_status(client_, kPipelines, pipelines_, c.object, status, c.original_status,
                             outcome);
}

}  // namespace cairn::pipeline
