// The rollout steps: apply a new commit, follow it to health (and through
// the analysis), and roll back to the last Deployed commit when it fails.
#include <sstream>

#include "api/conditions.h"
#include "api/names.h"
#include "kube/util.h"
#include "log/log.h"
#include "manifest/render.h"
#include "operator/release/analysis.h"
#include "operator/release/context.h"
#include "operator/release/health.h"
#include "source/source.h"

namespace cairn::release {

using kube::json;
using source::now_s;
using source::short_sha;

namespace {

std::vector<api::InventoryEntry> inventory_of(const std::vector<json>& objects) {
  std::vector<api::InventoryEntry> inv;
  for (const auto& o : objects) inv.push_back(manifest::inventory_entry(o));
  return inv;
}

}  // namespace

// A new commit wins over whatever was in progress or rolled back; a commit
// that failed is not retried until a newer one arrives.
kit::Step Reconciler::roll_out(Context& c) {
  c.failed_before = !c.status.history.empty() && c.status.history.front().commit == c.desired &&
                    c.status.history.front().result != api::HistoryResult::kDeployed;
  if (c.desired == c.status.last_attempted_commit || c.failed_before) return kit::next();
  return start_rollout(c, c.desired);
}

Outcome Reconciler::start_rollout(Context& c, const std::string& commit) {
  // A commit that does not descend from the deployed one replaces history
  // (a force-push, or spec.source now names another ref): it is deployed
  // like any new commit (design: a new commit wins; the old commits stay
  // readable for cairn.dev/rollback-to), and history says so.
  std::string rewritten;
  const std::string& cur = c.status.current_commit;
  if (!cur.empty() && commit != cur && commit != c.status.pinned_commit) {
    if (auto a = c.source->is_ancestor(cur, commit); a && !*a) {
      rewritten = "history rewritten: " + short_sha(commit) +
                  " does not descend from the deployed commit " + short_sha(cur) + " (" +
                  c.spec.source.ref_description() + " was force-pushed, or spec.source changed)";
      events_.warning(c.object, "HistoryRewritten",
                      rewritten + "; deploying it as the new head; " + short_sha(cur) +
                          " stays available to cairn.dev/rollback-to");
    }
  }
  auto objects = render_commit(c, commit);
  std::optional<kit::Error> err;
  if (!objects) err = objects.error();
  if (objects) record_lost_apply(c, commit, *objects);
  if (!err) {
    if (auto applied = apply_all(c, *objects, Mode::kRollout); !applied) err = applied.error();
  }
  if (err && err->transient()) {
    // The apiserver, not the commit: nothing is recorded against the
    // commit, and the rollout is tried again with backoff.
    log::warn("apply interrupted, will retry", {{"kind", "Release"},
                                                {"namespace", c.ns},
                                                {"name", c.name},
                                                {"commit", commit},
                                                {"error", err->message}});
    std::string msg = "commit " + short_sha(commit) + ": " + err->message + "; retrying";
    events_.warning(c.object, "ApplyRetrying", msg);
    return Outcome::retry(*err).with(kit::reconciling("ApplyRetrying", msg));
  }
  api::HistoryEntry h{.commit = commit, .started_at = now_s(), .reason = rewritten};
  c.status.last_attempted_commit = commit;
  if (err) {
    // Nothing (or not everything) of this commit could be applied: the
    // cluster keeps the last good commit.
    h.finished_at = now_s();
    h.result = api::HistoryResult::kFailed;
    h.reason = rewritten.empty() ? err->message : err->message + "; " + rewritten;
    c.status.history.insert(c.status.history.begin(), h);
    c.status.phase = api::ReleasePhase::kFailed;
    if (c.spec.rollout.auto_rollback && !c.status.current_commit.empty()) {
      if (auto prev = render_commit(c, c.status.current_commit))
        (void)apply_all(c, *prev, Mode::kRollout);
    }
    std::string msg = "commit " + short_sha(commit) + ": " + err->message;
    events_.warning(c.object, "ApplyFailed", msg);
    c.pending.push_back(event(c, ReleaseEvent::Type::kFailed, commit, err->message));
    return c.poll().with(kit::not_ready("ApplyFailed", msg));
  }
  auto inv = inventory_of(*objects);
  if (c.spec.prune) prune(c, inv);
  c.status.inventory = inv;
  c.status.history.insert(c.status.history.begin(), h);
  c.status.phase = api::ReleasePhase::kProgressing;
  events_.normal(c.object, "Progressing",
                 "applied commit " + short_sha(commit) + " (" + std::to_string(inv.size()) +
                     " objects); waiting for health");
  return Outcome::requeue(opts_.progress_poll)
      .with(kit::reconciling("Progressing", "rolling out commit " + short_sha(commit)));
}

// An apply whose record a crash lost (the operator killed between the apply
// and the status write, then a newer commit before its next reconcile): the
// live objects carry a commit that history does not. It goes into history
// before the new commit, so that history has no gaps. Its health was never
// checked; the reason says so.
void Reconciler::record_lost_apply(Context& c, const std::string& commit,
                                   const std::vector<json>& objects) {
  const std::string owner = c.ns + "/" + c.name;
  int looked = 0;
  for (const auto& obj : objects) {
    if (++looked > 3) return;  // the first objects that are live say it
    const json md = obj.value("metadata", json::object());
    auto r = client_.resource_for(obj.value("apiVersion", ""), obj.value("kind", ""));
    if (!r) return;
    auto live =
        client_.get(*r, r->namespaced ? md.value("namespace", c.ns) : "", md.value("name", ""));
    if (!live) continue;
    const json ann = (*live)["metadata"].value("annotations", json::object());
    if (ann.value(std::string(api::kReleaseAnnotation), "") != owner) continue;
    const std::string was = ann.value(std::string(api::kCommitAnnotation), "");
    if (was.empty() || was == commit || was == c.status.last_attempted_commit) return;
    for (const auto& h : c.status.history)
      if (h.commit == was) return;
    const std::string& last = c.status.last_attempted_commit;
    if (!last.empty()) {
      auto after = c.source->is_ancestor(last, was);
      if (!after || !*after) return;
    }
    const std::string at = now_s();
    c.status.history.insert(
        c.status.history.begin(),
        api::HistoryEntry{.commit = was,
                          .started_at = at,
                          .finished_at = at,
                          .result = api::HistoryResult::kDeployed,
                          .reason = "applied, but not recorded before the operator restarted; "
                                    "superseded before its health was checked"});
    return;
  }
}

// A rollout in progress: healthy (and through the analysis) is Deployed;
// failed or past the deadline is rolled back or Failed.
kit::Step Reconciler::follow_progress(Context& c) {
  if (c.status.phase != api::ReleasePhase::kProgressing || c.status.history.empty())
    return kit::next();
  const std::string attempted = c.status.last_attempted_commit;
  Health h = health(c);
  auto started = kube::parse_rfc3339(c.status.history.front().started_at);
  const bool deadline = started && c.now - *started > c.spec.rollout.progress_deadline;
  if (h.healthy && c.spec.rollout.analysis) {
    if (auto wait = analyse(c, attempted, h)) return wait;
  }
  if (h.healthy) return deployed(c, attempted);
  if (!h.failed && !deadline) {
    return Outcome::requeue(opts_.progress_poll)
        .with(kit::reconciling("Progressing",
                               "rolling out commit " + short_sha(attempted) + ": " + h.message));
  }
  return rollout_failed(
      c, attempted,
      deadline ? "not healthy within spec.rollout.progressDeadline: " + h.message : h.message);
}

// Healthy is not enough: ask Prometheus `count` times, `interval` apart.
// Returns an Outcome while the analysis goes on; a failed one marks `h`.
kit::Step Reconciler::analyse(Context& c, const std::string& attempted, Health& h) {
  const api::AnalysisSpec& an = *c.spec.rollout.analysis;
  auto& st = c.status.analysis;
  if (!st || st->commit != attempted) st = api::AnalysisStatus{.commit = attempted};
  if (st->passed >= an.count) return kit::next();
  auto progress = [&](const std::string& note) {
    return kit::reconciling("Analyzing", "commit " + short_sha(attempted) +
                                             " is healthy; analysis " + std::to_string(st->passed) +
                                             "/" + std::to_string(an.count) + " passed" + note);
  };
  auto last = kube::parse_rfc3339(st->last_query_at);
  if (last && c.now - *last < an.interval) {
    return Outcome::requeue(
               std::chrono::duration_cast<std::chrono::milliseconds>(an.interval - (c.now - *last)))
        .with(progress(""));
  }
  auto q = query_prometheus(an.prometheus, an.query, std::chrono::seconds(10));
  st->last_query_at = now_s();
  if (!q) {
    if (++st->errors < 3) {
      events_.warning(c.object, "AnalysisError",
                      "commit " + short_sha(attempted) + ": " + q.error());
      return Outcome::requeue(an.interval)
          .with(progress("; the last query failed (" + std::to_string(st->errors) +
                         "/3): " + q.error()));
    }
    h = {.healthy = false, .failed = true, .message = "analysis failed: " + q.error()};
    return kit::next();
  }
  st->errors = 0;
  st->last_value = q->text;
  if (q->value > an.threshold) {
    std::ostringstream t;
    t << an.threshold;
    h = {.healthy = false,
         .failed = true,
         .message = "analysis: the query returned " + q->text + ", above the threshold " + t.str() +
                    " (query " + std::to_string(st->passed + 1) + " of " +
                    std::to_string(an.count) + ")"};
    return kit::next();
  }
  if (++st->passed < an.count) return Outcome::requeue(an.interval).with(progress(""));
  return kit::next();
}

Outcome Reconciler::deployed(Context& c, const std::string& attempted) {
  api::HistoryEntry& top = c.status.history.front();
  top.finished_at = now_s();
  top.result = api::HistoryResult::kDeployed;
  if (auto info = c.source->commit(attempted)) {
    top.lead_time_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(c.now.time_since_epoch()).count() -
        info->commit_time;
  }
  ReleaseEvent ev = event(c, ReleaseEvent::Type::kDeployed, attempted, {});
  if (top.lead_time_seconds) ev.lead_time_seconds = static_cast<double>(*top.lead_time_seconds);
  // Time to restore: from the previous attempt's failure to now.
  if (c.status.history.size() > 1 && c.status.history[1].result != api::HistoryResult::kDeployed) {
    if (auto failed_at = kube::parse_rfc3339(c.status.history[1].finished_at))
      ev.time_to_restore_seconds = std::chrono::duration<double>(c.now - *failed_at).count();
  }
  c.pending.push_back(std::move(ev));
  c.status.current_commit = attempted;
  c.status.phase = api::ReleasePhase::kDeployed;
  events_.normal(c.object, "Deployed",
                 "commit " + short_sha(attempted) + " is deployed and healthy");
  return c.poll().with(kit::ready("Deployed", "commit " + short_sha(attempted) + " is deployed"));
}

Outcome Reconciler::rollout_failed(Context& c, const std::string& attempted, std::string why) {
  api::HistoryEntry& top = c.status.history.front();
  top.finished_at = now_s();
  if (!top.reason.empty()) why += "; " + top.reason;  // e.g. history rewritten
  top.reason = why;
  const std::string& cur = c.status.current_commit;
  if (c.spec.rollout.auto_rollback && !cur.empty() && cur != attempted) {
    auto objects = render_commit(c, cur);
    auto applied = objects ? apply_all(c, *objects, Mode::kRollout)
                           : std::expected<Applied, kit::Error>(std::unexpected(objects.error()));
    if (applied) {
      auto inv = inventory_of(*objects);
      if (c.spec.prune) prune(c, inv);
      c.status.inventory = inv;
    }
    top.result = api::HistoryResult::kRolledBack;
    top.reason = why + "; rolled back to " + short_sha(cur);
    c.status.phase = api::ReleasePhase::kRolledBack;
    events_.warning(c.object, "RolledBack",
                    "commit " + short_sha(attempted) + " failed (" + why + "); rolled back to " +
                        short_sha(cur));
    c.pending.push_back(event(c, ReleaseEvent::Type::kRolledBack, attempted, top.reason));
  } else {
    top.result = api::HistoryResult::kFailed;
    c.status.phase = api::ReleasePhase::kFailed;
    events_.warning(c.object, "RolloutFailed",
                    "commit " + short_sha(attempted) + " failed: " + why);
    c.pending.push_back(event(c, ReleaseEvent::Type::kFailed, attempted, why));
  }
  return c.poll().with(kit::not_ready(
      "RolloutFailed",
      "commit " + short_sha(attempted) + " failed: " + why + "; push a newer commit to retry"));
}

Reconciler::Health Reconciler::health(Context& c) {
  Health h;
  for (const auto& e : c.status.inventory) {
    auto r = client_.resource_for(e.api_version, e.kind);
    if (!r && r.error().code == kube::Code::kNotFound) continue;  // a kind no longer served
    auto live = r ? client_.get(*r, e.namespace_, e.name) : std::unexpected(r.error());
    if (!live) {
      // Missing, or not known to be healthy: an apiserver that cannot be
      // reached proves nothing either way.
      h.healthy = false;
      h.message = live.error().code == kube::Code::kNotFound
                      ? e.kind + " " + e.name + " is missing"
                      : "cannot check " + e.kind + " " + e.name + ": " + live.error().to_string();
      continue;
    }
    std::vector<json> pods;
    if (e.kind == "Deployment" || e.kind == "StatefulSet" || e.kind == "DaemonSet") {
      std::string sel;
      const json match =
          (*live)["spec"].value("selector", json::object()).value("matchLabels", json::object());
      for (const auto& [k, v] : match.items()) {
        if (v.is_string()) sel += (sel.empty() ? "" : ",") + k + "=" + v.get<std::string>();
      }
      if (auto p = client_.list(kube::res::kPods, e.namespace_, {.label_selector = sel})) {
        for (auto& item : (*p)["items"]) pods.push_back(std::move(item));
      }
    }
    HealthStatus s = assess_with_pods(*live, pods);
    if (s.health == release::Health::kFailed) {
      h.failed = true;
      h.healthy = false;
      h.message = s.message;
    } else if (s.health == release::Health::kProgressing) {
      h.healthy = false;
      if (!h.failed) h.message = s.message;
    }
  }
  return h;
}

}  // namespace cairn::release
