#include "operator/release/reconciler.h"

#include <algorithm>

#include "api/conditions.h"
#include "api/names.h"
#include "api/validate.h"
#include "git/git.h"
#include "kube/util.h"
#include "operator/release/context.h"
#include "source/source.h"

namespace cairn::release {

using kube::json;
using source::short_sha;

namespace {

const kube::ApiResource kReleases{"cairn.dev", "v1alpha1", "releases", "Release", true};

json without(const json& list, const std::string& item) {
  json rest = json::array();
  for (const auto& f : list) {
    if (f != item) rest.push_back(f);
  }
  return rest;
}

}  // namespace

std::string_view to_string(ReleaseEvent::Type t) {
  switch (t) {
    case ReleaseEvent::Type::kDeployed:
      return "Deployed";
    case ReleaseEvent::Type::kFailed:
      return "Failed";
    case ReleaseEvent::Type::kRolledBack:
      return "RolledBack";
    case ReleaseEvent::Type::kDriftCorrected:
      return "DriftCorrected";
    case ReleaseEvent::Type::kPruned:
      return "Pruned";
  }
  return "";
}

ReleaseEvent Reconciler::event(Context& c, ReleaseEvent::Type type, const std::string& commit,
                               const std::string& reason) {
  ReleaseEvent e{.type = type, .ns = c.ns, .name = c.name, .commit = commit, .reason = reason};
  e.notify = c.spec.notify;
  if (c.source && !commit.empty()) {
    if (auto info = c.source->commit(commit)) {
      e.author = info->author_name;
      e.title = info->title;
    }
  }
  return e;
}

void Reconciler::report(const ReleaseEvent& e) {
  if (opts_.on_event) opts_.on_event(e);
}

const kube::ApiResource& Reconciler::resource() { return kReleases; }

Reconciler::Reconciler(kube::Api& client, kube::Store& releases, kube::Store& pipelines,
                       SourceProvider& sources, kube::EventSink& events, Options opts)
    : client_(client),
      releases_(releases),
      pipelines_(pipelines),
      sources_(sources),
      events_(events),
      opts_(std::move(opts)),
      tracker_(client, opts_.fetch_timeout, opts_.stall_timeout) {}

void Reconciler::request_fetch(const std::string& key) { tracker_.request(key); }

Outcome Reconciler::reconcile(const std::string& key) {
  kube::ObjectPtr obj = releases_.get(key);
  if (!obj) {
    tracker_.forget(key);
    return Outcome::done();
  }
  Context c;
  c.key = key;
  c.object = *obj;
  c.now = std::chrono::system_clock::now();
  const json& md = c.object["metadata"];
  c.ns = md.value("namespace", "");
  c.name = md.value("name", "");
  c.generation = md.value("generation", int64_t{0});
  if (auto st = api::parse_release_status(c.object.value("status", json::object())))
    c.status = std::move(*st);
  if (auto spec = api::parse_release_spec(c.object.value("spec", json::object()), c.name)) {
    c.spec_or = std::move(*spec);
  } else {
    c.spec_error = api::to_string(spec.error());
  }
  // Being deleted: nothing to report, the object is going away.
  if (md.contains("deletionTimestamp")) return finalize(c);

  c.scope = std::make_unique<kit::StatusScope>(client_, kReleases, releases_, c.object);
  static constexpr Step kSteps[] = {
      &Reconciler::ensure_finalizer,   &Reconciler::check_spec,    &Reconciler::check_suspend,
      &Reconciler::check_dependencies, &Reconciler::fetch_source,  &Reconciler::verify_signature,
      &Reconciler::check_gate,         &Reconciler::pin_rollback,  &Reconciler::roll_out,
      &Reconciler::follow_progress,    &Reconciler::correct_drift,
  };
  for (Step step : kSteps) {
    if (kit::Step out = (this->*step)(c)) return finish(c, std::move(*out));
  }
  return finish(c, c.poll());
}

// The one exit: conditions from the outcome's verdict, observedGeneration
// on success or a stall, and one status write.
Outcome Reconciler::finish(Context& c, Outcome outcome) {
  kit::set_conditions(c.status.conditions, outcome.verdict(), c.generation, c.now);
  kit::settle_generation(c.status.observed_generation, c.generation, outcome);
  if (opts_.notify_failure)
    kit::set_notified(c.status.conditions, !c.spec.notify.empty(),
                      opts_.notify_failure("Release/" + c.ns + "/" + c.name), c.generation);
  const auto limit = static_cast<size_t>(std::max(1, c.spec.history_limit));
  if (c.status.history.size() > limit) c.status.history.resize(limit);
  json status;
  api::to_json(status, c.status);
  bool written = false;
  Outcome out = c.scope->close(status, std::move(outcome), &written);
  // Transitions are reported once their status is written, so a reconcile
  // that is retried does not report them twice.
  if (written) {
    for (const auto& e : c.pending) report(e);
  }
  c.pending.clear();
  return out;
}

// A Release with prune removes what it applied when it is deleted.
Outcome Reconciler::finalize(Context& c) {
  const std::string fin(api::kFinalizer);
  const json& md = c.object["metadata"];
  json finalizers = md.value("finalizers", json::array());
  if (std::find(finalizers.begin(), finalizers.end(), fin) == finalizers.end())
    return Outcome::done();
  if (c.spec_or && c.spec_or->prune) {
    c.spec = *c.spec_or;
    prune(c, {});
    events_.normal(c.object, "Pruned",
                   "the Release was deleted; removed the " +
                       std::to_string(c.status.inventory.size()) + " objects it applied");
  }
  auto r = client_.patch(kReleases, c.ns, c.name, kube::PatchType::kMerge,
                         {{"metadata",
                           {{"finalizers", without(finalizers, fin)},
                            {"resourceVersion", md.value("resourceVersion", "")}}}});
  if (!r) return Outcome::retry(kit::Error::from(r.error()).within("removing the finalizer: "));
  releases_.upsert(std::make_shared<const json>(*r));
  return Outcome::done();
}

// The finalizer is there exactly when spec.prune is (so that deleting the
// Release deletes what it applied).
kit::Step Reconciler::ensure_finalizer(Context& c) {
  if (!c.spec_or) return kit::next();
  const std::string fin(api::kFinalizer);
  const json& md = c.object["metadata"];
  json finalizers = md.value("finalizers", json::array());
  const bool has = std::find(finalizers.begin(), finalizers.end(), fin) != finalizers.end();
  if (has == c.spec_or->prune) return kit::next();
  if (!has) finalizers.push_back(fin);
  auto r = client_.patch(kReleases, c.ns, c.name, kube::PatchType::kMerge,
                         {{"metadata",
                           {{"finalizers", has ? without(finalizers, fin) : finalizers},
                            {"resourceVersion", md.value("resourceVersion", "")}}}});
  if (!r) return Outcome::retry(kit::Error::from(r.error()).within("setting the finalizer: "));
  c.object = *r;
  c.scope->replace_object(*r);
  releases_.upsert(std::make_shared<const json>(*r));
  return kit::next();
}

kit::Step Reconciler::check_spec(Context& c) {
  if (!c.spec_or) return Outcome::stalled("InvalidSpec", c.spec_error);
  c.spec = *c.spec_or;
  return kit::next();
}

kit::Step Reconciler::check_suspend(Context& c) {
  if (!c.spec.suspend) return kit::next();
  return Outcome::done().with(
      {kit::Verdict::State::kSuspended, "Suspended", "spec.suspend is true: nothing is applied"});
}

kit::Step Reconciler::check_dependencies(Context& c) {
  for (const auto& dep : c.spec.depends_on) {
    auto d = releases_.get(c.ns + "/" + dep.name);
    bool ready = false;
    if (d) {
      auto st = api::parse_release_status((*d).value("status", json::object()));
      ready = st && api::is_condition_true(st->conditions, "Ready");
    }
    if (!ready) {
      return Outcome::requeue(std::chrono::seconds(5))
          .with(kit::reconciling("DependencyNotReady", "waiting for Release " + dep.name +
                                                           " (spec.dependsOn) to be Ready"));
    }
  }
  return kit::next();
}

// Fetches when due and resolves the tracked ref: the desired commit.
kit::Step Reconciler::fetch_source(Context& c) {
  c.source = sources_.source(c.spec.source.url);
  if (auto f = tracker_.fetch_if_due(c.key, c.ns, c.spec.source, *c.source); !f) {
    // No new commit is deployed while the source is unusable: say what
    // stays, and report only real attempts (not reconciles within the backoff).
    std::string msg = f.error().message;
    if (!c.status.current_commit.empty())
      msg += "; commit " + short_sha(c.status.current_commit) + " stays deployed";
    msg += "; retried with backoff (1s doubling to 5m)";
    if (f.error().attempted) events_.warning(c.object, f.error().reason, msg);
    // The mirror still holds the deployed commit: a change made by hand is
    // put back even while the source cannot be fetched.
    if (!c.status.current_commit.empty() && c.spec.self_heal &&
        c.status.phase != api::ReleasePhase::kProgressing) {
      if (auto cur = render_commit(c, c.status.current_commit)) {
        auto applied = apply_all(c, *cur, Mode::kSelfHeal);
        if (applied && applied->drift) {
          events_.normal(c.object, "DriftCorrected",
                         "a change made outside git was reverted to commit " +
                             short_sha(c.status.current_commit) +
                             " (kept while the source cannot be fetched)");
          report(event(c, ReleaseEvent::Type::kDriftCorrected, c.status.current_commit, {}));
        }
      }
    }
    return Outcome::retry(kit::Error::transient_error(msg), f.error().retry_after)
        .with(kit::not_ready(f.error().reason, msg));
  }
  auto resolved = c.source->resolve(source::ref_of(c.spec.source));
  if (!resolved) {
    std::string msg =
        "spec.source: " + c.spec.source.ref_description() + ": " + resolved.error().message;
    events_.warning(c.object, "RefNotFound", msg);
    return c.poll().with(kit::not_ready("RefNotFound", msg));
  }
  c.desired = *resolved;
  return kit::next();
}

// The webhook would refuse the objects of an unsigned commit anyway; say
// why here instead of failing the apply.
kit::Step Reconciler::verify_signature(Context& c) {
  if (c.spec.source.verify.mode != api::VerifyMode::kHead) return kit::next();
  auto keys = source::read_signers(client_, c.ns, c.spec.source);
  auto why = keys ? git::signature_problem(*c.source, c.desired, *keys)
                  : std::optional<std::string>(keys.error().message);
  if (!why) return kit::next();
  std::string msg = "commit " + short_sha(c.desired) +
                    " is not signed by a key in spec.source.verify.signersSecretRef (" + *why +
                    "); it will not be deployed";
  events_.warning(c.object, "SignatureVerificationFailed", msg);
  return c.poll().with(kit::not_ready("SignatureVerificationFailed", msg));
}

kit::Step Reconciler::check_gate(Context& c) {
  if (c.spec.gate) {
    const std::string& pipeline = c.spec.gate->pipeline_ref.name;
    std::string phase;
    if (auto p = pipelines_.get(c.ns + "/" + pipeline)) {
      if (auto st = api::parse_pipeline_status((*p).value("status", json::object()))) {
        for (const auto& r : st->runs) {
          if (r.commit == c.desired && (phase.empty() || r.phase == api::RunPhase::kSucceeded))
            phase = std::string(api::to_string(r.phase));
        }
      }
    }
    if (phase == "Failed" || phase == "Cancelled") {
      return c.poll().with(kit::not_ready(
          "GateFailed", "commit " + short_sha(c.desired) + " did not pass Pipeline " + pipeline +
                            " (" + phase + "); it will not be deployed"));
    }
    if (phase != "Succeeded") {
      return Outcome::requeue(std::chrono::seconds(2))
          .with(kit::reconciling("WaitingForGate", "commit " + short_sha(c.desired) +
                                                       " is waiting for Pipeline " + pipeline +
                                                       " to pass it"));
    }
  }
  c.status.desired_commit = c.desired;
  return kit::next();
}

// cairn.dev/rollback-to: <commit in history>. The commit is deployed and
// pinned while the tracked ref still points where it did, so the rollback
// does not fight git; a newer commit ends the pin and rolls forward.
kit::Step Reconciler::pin_rollback(Context& c) {
  const std::string rollback_to = c.object["metadata"]
                                      .value("annotations", json::object())
                                      .value(std::string(api::kRollbackToAnnotation), "");
  if (!rollback_to.empty() && rollback_to != c.status.last_handled_rollback_to) {
    c.status.last_handled_rollback_to = rollback_to;
    std::string found;
    for (const auto& h : c.status.history) {
      if (h.result == api::HistoryResult::kDeployed && rollback_to.size() >= 7 &&
          h.commit.rfind(rollback_to, 0) == 0) {
        found = h.commit;
      }
    }
    if (found.empty()) {
      std::string msg = "metadata.annotations[cairn.dev/rollback-to]: " + rollback_to +
                        " is not a Deployed commit in status.history; name one of those";
      events_.warning(c.object, "RollbackRefused", msg);
      return c.poll().with(kit::not_ready("RollbackRefused", msg));
    }
    c.status.pinned_commit = found;
    c.status.pinned_while_head_was = c.desired;
    events_.normal(c.object, "RollbackRequested",
                   "rolling back to " + short_sha(found) + " as requested");
  }
  if (c.status.pinned_commit.empty()) return kit::next();
  if (c.desired == c.status.pinned_while_head_was) {
    c.desired = c.status.pinned_commit;
    return kit::next();
  }
  events_.normal(c.object, "RollbackReleased",
                 "a newer commit " + short_sha(c.desired) +
                     " arrived; it replaces the rollback to " + short_sha(c.status.pinned_commit));
  c.status.pinned_commit.clear();
  c.status.pinned_while_head_was.clear();
  return kit::next();
}

}  // namespace cairn::release
