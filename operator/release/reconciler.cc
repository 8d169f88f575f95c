#include "release/reconciler.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "api/conditions.h"
#include "api/names.h"
#include "api/validate.h"
#include "kube/util.h"
#include "log/log.h"
#include "manifest/render.h"
#include "release/analysis.h"
#include "release/health.h"
#include "source/source.h"
#include "status.h"

namespace cairn::release {

using kube::json;
using manifest::identity;
using manifest::inventory_entry;
using manifest::is_manifest_file;
using manifest::render;
using manifest::RenderInput;
using source::now_s;
using source::ref_of;
using source::short_sha;

namespace {

const kube::ApiResource kReleases{"cairn.dev", "v1alpha1", "releases", "Release", true};

// Fields the apiserver owns: ignored when comparing a dry-run apply with
// the live object to decide whether someone changed it.
json comparable(json o) {
  if (o.contains("metadata")) {
    for (const char* k :
         {"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"}) {
      o["metadata"].erase(k);
    }
  }
  o.erase("status");
  return o;
}

// When the cairn.dev/break-glass annotation was last written: the time of
// the managedFields entry that owns it (nullopt without the annotation).
std::optional<std::chrono::system_clock::time_point> break_glass_since(const json& live) {
  const json md = live.value("metadata", json::object());
  const std::string key(api::kBreakGlassAnnotation);
  if (md.value("annotations", json::object()).value(key, "").empty()) return std::nullopt;
  std::optional<std::chrono::system_clock::time_point> since;
  for (const auto& e : md.value("managedFields", json::array())) {
    const json fields = e.value("fieldsV1", json::object());
    const json ann =
        fields.value("f:metadata", json::object()).value("f:annotations", json::object());
    if (!ann.contains("f:" + key)) continue;
    if (auto t = kube::parse_rfc3339(e.value("time", ""))) {
      if (!since || *t > *since) since = *t;
    }
  }
  // Without managedFields to say when, the hold starts now.
  return since ? since : std::chrono::system_clock::now();
}

}  // namespace

struct Reconciler::Context {
  std::string key, ns, name;
  int64_t generation = 0;
  json object;
  json original_status;
  api::ReleaseSpec spec;
  api::ReleaseStatus status;
  std::shared_ptr<git::Source> source;
  // Objects changed by break-glass and not yet restored: "Kind name", and
  // how long until the first hold ends.
  std::vector<std::string> held;
  std::optional<std::chrono::milliseconds> hold_ends_in;
  std::vector<ReleaseEvent> pending;  // reported once the status is written
  // An apiserver call failed in a way that says nothing about the commit
  // (connection refused, TLS handshake cut, 5xx, timeout): retry the
  // rollout later instead of failing the commit for good.
  std::atomic<bool> unreachable{false};
};

namespace {
bool transient(const kube::Error& e) { return e.retriable() || e.code == kube::Code::kTls; }
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

Reconciler::Reconciler(kube::Client& client, kube::Store& releases, kube::Store& pipelines,
                       SourceProvider& sources, kube::EventRecorder& events, Options opts)
    : client_(client),
      releases_(releases),
      pipelines_(pipelines),
      sources_(sources),
      events_(events),
      opts_(opts),
      tracker_(client, opts_.fetch_timeout, opts_.stall_timeout) {}

void Reconciler::request_fetch(const std::string& key) { tracker_.request(key); }

std::expected<std::vector<json>, std::string> Reconciler::render_commit(Context& c,
                                                                        const std::string& commit) {
  // The render's size limits, applied while reading: an oversized file is
  // refused from its header, never read into memory.
  auto files = c.source->files(
      commit, c.spec.path, [](std::string_view p) { return is_manifest_file(p); },
      manifest::read_limits());
  if (!files)
    return std::unexpected("reading " + c.spec.path + " at " + short_sha(commit) + ": " +
                           files.error().message);
  RenderInput in{.release_namespace = c.ns,
                 .release_name = c.name,
                 .commit = commit,
                 .source_url = c.spec.source.url,
                 .cluster_scope = c.spec.cluster_scope,
                 .files = std::move(*files)};
  in.is_namespaced = [this, &c](const std::string& av,
                                const std::string& kind) -> std::optional<bool> {
    auto r = client_.resource_for(av, kind);
    if (!r) {
      if (transient(r.error())) c.unreachable = true;
      return std::nullopt;
    }
    return r->namespaced;
  };
  auto out = render(in);
  if (!out) return std::unexpected(to_string(out.error()));
  return std::move(out->objects);
}

std::optional<std::string> Reconciler::apply_all(Context& c, const std::vector<json>& objects,
                                                 bool* drift, bool dry_run_only) {
  std::mutex mu;  // guards c.held, c.hold_ends_in and any_drift
  bool any_drift = false;
  auto one = [&](const json& obj) -> std::optional<std::string> {
    const json md = obj.value("metadata", json::object());
    std::string where =
        md.value("annotations", json::object()).value(std::string(api::kPathAnnotation), "") +
        ": " + obj.value("kind", "") + " " + md.value("name", "");
    auto r = client_.resource_of(obj);
    auto failed = [&](const kube::Error& e) {
      if (transient(e)) c.unreachable = true;
      return e.to_string();
    };
    if (!r) {
      failed(r.error());
      return where + ": " + r.error().message;
    }
    std::string ns = md.value("namespace", "");
    bool clear_break_glass = false;
    if (drift) {
      // Would applying change anything? A dry run answers without writing.
      auto live = client_.get(*r, ns, md.value("name", ""));
      auto would = client_.apply(*r, ns, obj, true, {}, {.dry_run = true});
      if (!would) return where + ": " + failed(would.error());
      if (live && comparable(*live) == comparable(*would)) return std::nullopt;
      // A break-glass change is left alone until its time is up.
      if (auto since = live ? break_glass_since(*live) : std::nullopt) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            *since + opts_.break_glass_ttl - std::chrono::system_clock::now());
        if (left.count() > 0) {
          std::lock_guard lock(mu);
          c.held.push_back(obj.value("kind", "") + " " + md.value("name", ""));
          if (!c.hold_ends_in || left < *c.hold_ends_in) c.hold_ends_in = left;
          return std::nullopt;
        }
        clear_break_glass = true;
      }
      {
        std::lock_guard lock(mu);
        any_drift = true;
      }
      if (dry_run_only) return std::nullopt;
    }
    auto applied = client_.apply(*r, ns, obj, true);
    if (!applied) return where + ": the apiserver refused it: " + failed(applied.error());
    if (clear_break_glass) {
      // Git is back: the emergency is over.
      json patch = {
          {"metadata", {{"annotations", {{std::string(api::kBreakGlassAnnotation), nullptr}}}}}};
      auto p = client_.patch(*r, ns, md.value("name", ""), kube::PatchType::kMerge, patch);
      if (!p) return where + ": removing the break-glass annotation: " + failed(p.error());
    }
    return std::nullopt;
  };

  // Objects come sorted in apply order. Those of one rank (all Services,
  // all workloads, ...) do not depend on each other: they are applied
  // opts_.apply_concurrency at a time; a rank starts when the one before it
  // is done, and the first error (in manifest order) stops the rest.
  std::vector<std::optional<std::string>> errors(objects.size());
  for (size_t i = 0; i < objects.size();) {
    const int rank = manifest::apply_rank(objects[i].value("kind", ""));
    size_t end = i + 1;
    while (end < objects.size() && manifest::apply_rank(objects[end].value("kind", "")) == rank)
      ++end;
    const size_t n =
        std::min<size_t>(static_cast<size_t>(std::max(1, opts_.apply_concurrency)), end - i);
    if (n == 1) {
      for (size_t k = i; k < end; ++k) errors[k] = one(objects[k]);
    } else {
      std::atomic<size_t> next{i};
      std::vector<std::thread> threads;
      for (size_t t = 0; t < n; ++t) {
        threads.emplace_back([&] {
          for (size_t k = next++; k < end; k = next++) errors[k] = one(objects[k]);
        });
      }
      for (auto& t : threads) t.join();
    }
    for (size_t k = i; k < end; ++k)
      if (errors[k]) return errors[k];
    i = end;
  }
  if (drift) *drift = any_drift;
  return std::nullopt;
}

void Reconciler::prune(Context& c, const std::vector<api::InventoryEntry>& keep) {
  std::set<std::string> kept;
  for (const auto& e : keep) kept.insert(identity(e));
  const std::string me = c.ns + "/" + c.name;
  for (const auto& e : c.status.inventory) {
    if (kept.contains(identity(e))) continue;
    auto r = client_.resource_for(e.api_version, e.kind);
    if (!r) continue;
    auto live = client_.get(*r, e.namespace_, e.name);
    if (!live) continue;
    // Only what carries our stamp: never something a person re-created.
    std::string owner = (*live)["metadata"]
                            .value("annotations", json::object())
                            .value(std::string(api::kReleaseAnnotation), "");
    if (owner != me) continue;
    auto d = client_.remove(*r, e.namespace_, e.name,
                            {.precondition_uid = (*live)["metadata"].value("uid", ""),
                             .propagation_policy = "Background"});
    if (d) {
      events_.normal(c.object, "Pruned", e.kind + " " + e.name + " is no longer in git; deleted");
      report(event(c, ReleaseEvent::Type::kPruned, {}, e.kind + " " + e.name));
    }
  }
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

Outcome Reconciler::reconcile(const std::string& key) {
  kube::ObjectPtr obj = releases_.get(key);
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
  c.generation = md.value("generation", int64_t{0});
  c.original_status = c.object.value("status", json::object());
  if (auto st = api::parse_release_status(c.original_status)) c.status = std::move(*st);
  auto now_tp = std::chrono::system_clock::now();
  auto spec = api::parse_release_spec(c.object.value("spec", json::object()), c.name);

  // Finalizer: a Release with prune removes what it applied when deleted.
  const std::string fin(api::kFinalizer);
  json finalizers = md.value("finalizers", json::array());
  bool has_fin = std::find(finalizers.begin(), finalizers.end(), fin) != finalizers.end();
  auto set_finalizers = [&](const json& list) -> bool {
    auto r = client_.patch(
        kReleases, c.ns, c.name, kube::PatchType::kMerge,
        {{"metadata",
          {{"finalizers", list}, {"resourceVersion", md.value("resourceVersion", "")}}}});
    if (!r) return false;
    c.object = *r;
    releases_.upsert(std::make_shared<const json>(*r));
    return true;
  };
  if (md.contains("deletionTimestamp")) {
    if (!has_fin) return Outcome::done();
    if (spec && spec->prune) {
      c.spec = *spec;
      prune(c, {});
      events_.normal(c.object, "Pruned",
                     "the Release was deleted; removed the " +
                         std::to_string(c.status.inventory.size()) + " objects it applied");
    }
    json rest = json::array();
    for (const auto& f : finalizers) {
      if (f != fin) rest.push_back(f);
    }
    return set_finalizers(rest) ? Outcome::done() : Outcome::retry();
  }
  if (spec && spec->prune && !has_fin) {
    finalizers.push_back(fin);
    if (!set_finalizers(finalizers)) return Outcome::retry();
  } else if (spec && !spec->prune && has_fin) {
    json rest = json::array();
    for (const auto& f : finalizers) {
      if (f != fin) rest.push_back(f);
    }
    if (!set_finalizers(rest)) return Outcome::retry();
  }
  if (!spec) {
    std::string msg = api::to_string(spec.error());
    api::set_stalled(c.status.conditions, "InvalidSpec", msg, c.generation, now_tp);
    c.status.observed_generation = c.generation;
    return write_status(c, Outcome::done());
  }
  c.spec = std::move(*spec);
  c.status.observed_generation = c.generation;
  if (c.spec.suspend) {
    api::set_condition(c.status.conditions, "Reconciling", "False", "Suspended",
                       "spec.suspend is true: nothing is applied", c.generation, now_tp);
    return write_status(c, Outcome::done());
  }
  for (const auto& dep : c.spec.depends_on) {
    auto d = releases_.get(c.ns + "/" + dep.name);
    bool ready = false;
    if (d) {
      auto st = api::parse_release_status((*d).value("status", json::object()));
      ready = st && api::is_condition_true(st->conditions, "Ready");
    }
    if (!ready) {
      api::set_reconciling(c.status.conditions, "DependencyNotReady",
                           "waiting for Release " + dep.name + " (spec.dependsOn) to be Ready",
                           c.generation, now_tp);
      return write_status(c, Outcome::requeue_after(std::chrono::seconds(5)));
    }
  }

  // ---------------------------------------------------------------- source
  c.source = sources_.source(c.spec.source.url);
  auto not_ready = [&](const std::string& reason, const std::string& msg, Outcome o) {
    api::set_not_ready(c.status.conditions, reason, msg, c.generation, now_tp);
    events_.warning(c.object, reason, msg);
    return write_status(c, o);
  };
  if (auto f = tracker_.fetch_if_due(key, c.ns, c.spec.source, *c.source); !f) {
    // No new commit is deployed while the source is unusable: say what
    // stays, and report only real attempts (not reconciles within the backoff).
    std::string msg = f.error().message;
    if (!c.status.current_commit.empty())
      msg += "; commit " + short_sha(c.status.current_commit) + " stays deployed";
    msg += "; retried with backoff (1s doubling to 5m)";
    api::set_not_ready(c.status.conditions, f.error().reason, msg, c.generation, now_tp);
    if (f.error().attempted) events_.warning(c.object, f.error().reason, msg);
    // The mirror still holds the deployed commit: a change made by hand is
    // put back even while the source cannot be fetched.
    if (!c.status.current_commit.empty() && c.spec.self_heal &&
        c.status.phase != api::ReleasePhase::kProgressing) {
      if (auto cur = render_commit(c, c.status.current_commit)) {
        bool drift = false;
        if (!apply_all(c, *cur, &drift) && drift) {
          events_.normal(c.object, "DriftCorrected",
                         "a change made outside git was reverted to commit " +
                             short_sha(c.status.current_commit) +
                             " (kept while the source cannot be fetched)");
          report(event(c, ReleaseEvent::Type::kDriftCorrected, c.status.current_commit, {}));
        }
      }
    }
    return write_status(c, Outcome::requeue_after(f.error().retry_after));
  }
  auto resolved = c.source->resolve(ref_of(c.spec.source));
  if (!resolved) {
    return not_ready(
        "RefNotFound",
        "spec.source: " + c.spec.source.ref_description() + ": " + resolved.error().message,
        Outcome::requeue_after(c.spec.source.interval));
  }
  std::string desired = *resolved;
  const auto poll = Outcome::requeue_after(c.spec.source.interval);

  // ------------------------------------------------------------- signature
  // The webhook would refuse the objects of an unsigned commit anyway; say
  // why here instead of failing the apply.
  if (c.spec.source.verify.mode == api::VerifyMode::kHead) {
    std::string why;
    auto keys = source::read_signers(client_, c.ns, c.spec.source);
    if (!keys) {
      why = keys.error().message;
    } else if (auto v = c.source->verify_signature(desired, *keys); !v) {
      why = v.error().message;
    } else if (v->status != git::SignatureStatus::kValid) {
      why =
          std::string(git::status_name(v->status)) + (v->message.empty() ? "" : ": " + v->message);
    }
    if (!why.empty())
      return not_ready("SignatureVerificationFailed",
                       "commit " + short_sha(desired) +
                           " is not signed by a key in spec.source.verify.signersSecretRef (" +
                           why + "); it will not be deployed",
                       poll);
  }

  // ------------------------------------------------------------------ gate
  if (c.spec.gate) {
    auto p = pipelines_.get(c.ns + "/" + c.spec.gate->pipeline_ref.name);
    std::string phase;
    if (p) {
      if (auto st = api::parse_pipeline_status((*p).value("status", json::object()))) {
        for (const auto& r : st->runs) {
          if (r.commit == desired && (phase.empty() || r.phase == api::RunPhase::kSucceeded)) {
            phase = std::string(api::to_string(r.phase));
          }
        }
      }
    }
    if (phase != "Succeeded") {
      if (phase == "Failed" || phase == "Cancelled") {
        api::set_not_ready(c.status.conditions, "GateFailed",
                           "commit " + short_sha(desired) + " did not pass Pipeline " +
                               c.spec.gate->pipeline_ref.name + " (" + phase +
                               "); it will not be deployed",
                           c.generation, now_tp);
        return write_status(c, poll);
      }
      api::set_reconciling(c.status.conditions, "WaitingForGate",
                           "commit " + short_sha(desired) + " is waiting for Pipeline " +
                               c.spec.gate->pipeline_ref.name + " to pass it",
                           c.generation, now_tp);
      return write_status(c, Outcome::requeue_after(std::chrono::seconds(2)));
    }
  }
  c.status.desired_commit = desired;

  // ------------------------------------------------------ manual rollback
  // cairn.dev/rollback-to: <commit in history>. The commit is deployed and
  // pinned while the tracked ref still points where it did, so the rollback
  // does not fight git; a newer commit ends the pin and rolls forward.
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
      api::set_not_ready(c.status.conditions, "RollbackRefused", msg, c.generation, now_tp);
      return write_status(c, Outcome::requeue_after(c.spec.source.interval));
    }
    c.status.pinned_commit = found;
    c.status.pinned_while_head_was = desired;
    events_.normal(c.object, "RollbackRequested",
                   "rolling back to " + short_sha(found) + " as requested");
  }
  if (!c.status.pinned_commit.empty()) {
    if (desired == c.status.pinned_while_head_was) {
      desired = c.status.pinned_commit;
    } else {
      events_.normal(c.object, "RollbackReleased",
                     "a newer commit " + short_sha(desired) +
                         " arrived; it replaces the rollback to " +
                         short_sha(c.status.pinned_commit));
      c.status.pinned_commit.clear();
      c.status.pinned_while_head_was.clear();
    }
  }

  // -------------------------------------------------------- rollout state
  const bool progressing = c.status.phase == api::ReleasePhase::kProgressing;
  const std::string attempted = c.status.last_attempted_commit;
  const bool failed_before = !c.status.history.empty() &&
                             c.status.history.front().commit == desired &&
                             c.status.history.front().result != api::HistoryResult::kDeployed;

  auto start_rollout = [&](const std::string& commit) -> Outcome {
    c.unreachable = false;
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
    std::optional<std::string> err;
    if (!objects) err = objects.error();
    if (!err) err = apply_all(c, *objects);
    if (err && c.unreachable) {
      // The apiserver, not the commit: nothing is recorded against the
      // commit, and the rollout is tried again with backoff.
      log::warn("apply interrupted, will retry", {{"kind", "Release"},
                                                  {"namespace", c.ns},
                                                  {"name", c.name},
                                                  {"commit", commit},
                                                  {"error", *err}});
      events_.warning(c.object, "ApplyRetrying",
                      "commit " + short_sha(commit) + ": " + *err + "; retrying");
      return Outcome::retry();
    }
    api::HistoryEntry h{.commit = commit, .started_at = now_s(), .reason = rewritten};
    if (err) {
      // Nothing (or not everything) of this commit could be applied: the
      // cluster keeps the last good commit.
      h.finished_at = now_s();
      h.result = api::HistoryResult::kFailed;
      h.reason = rewritten.empty() ? *err : *err + "; " + rewritten;
      c.status.history.insert(c.status.history.begin(), h);
      c.status.last_attempted_commit = commit;
      c.status.phase = api::ReleasePhase::kFailed;
      if (c.spec.rollout.auto_rollback && !c.status.current_commit.empty()) {
        if (auto cur = render_commit(c, c.status.current_commit)) (void)apply_all(c, *cur);
      }
      events_.warning(c.object, "ApplyFailed", "commit " + short_sha(commit) + ": " + *err);
      c.pending.push_back(event(c, ReleaseEvent::Type::kFailed, commit, *err));
      api::set_not_ready(c.status.conditions, "ApplyFailed",
                         "commit " + short_sha(commit) + ": " + *err, c.generation, now_tp);
      return write_status(c, poll);
    }
    std::vector<api::InventoryEntry> inv;
    for (const auto& o : *objects) inv.push_back(inventory_entry(o));
    if (c.spec.prune) prune(c, inv);
    c.status.inventory = inv;
    c.status.history.insert(c.status.history.begin(), h);
    c.status.last_attempted_commit = commit;
    c.status.phase = api::ReleasePhase::kProgressing;
    events_.normal(c.object, "Progressing",
                   "applied commit " + short_sha(commit) + " (" + std::to_string(inv.size()) +
                       " objects); waiting for health");
    api::set_reconciling(c.status.conditions, "Progressing",
                         "rolling out commit " + short_sha(commit), c.generation, now_tp);
    return write_status(c, Outcome::requeue_after(opts_.progress_poll));
  };

  if (desired != attempted && !failed_before) {
    // A new commit wins over whatever was in progress or rolled back.
    return start_rollout(desired);
  }
  if (progressing) {
    Health h = health(c);
    api::HistoryEntry& top = c.status.history.front();
    auto started = kube::parse_rfc3339(top.started_at);
    bool deadline = started && now_tp - *started > c.spec.rollout.progress_deadline;
    if (h.healthy && c.spec.rollout.analysis) {
      // Healthy is not enough: ask Prometheus `count` times, `interval` apart.
      const api::AnalysisSpec& an = *c.spec.rollout.analysis;
      auto& st = c.status.analysis;
      if (!st || st->commit != attempted) st = api::AnalysisStatus{.commit = attempted};
      auto progress = [&](const std::string& note) {
        api::set_reconciling(c.status.conditions, "Analyzing",
                             "commit " + short_sha(attempted) + " is healthy; analysis " +
                                 std::to_string(st->passed) + "/" + std::to_string(an.count) +
                                 " passed" + note,
                             c.generation, now_tp);
      };
      if (st->passed < an.count) {
        auto last = kube::parse_rfc3339(st->last_query_at);
        if (last && now_tp - *last < an.interval) {
          progress("");
          return write_status(
              c, Outcome::requeue_after(std::chrono::duration_cast<std::chrono::milliseconds>(
                     an.interval - (now_tp - *last))));
        }
        auto q = query_prometheus(an.prometheus, an.query, std::chrono::seconds(10));
        st->last_query_at = now_s();
        if (!q) {
          if (++st->errors < 3) {
            events_.warning(c.object, "AnalysisError",
                            "commit " + short_sha(attempted) + ": " + q.error());
            progress("; the last query failed (" + std::to_string(st->errors) +
                     "/3): " + q.error());
            return write_status(c, Outcome::requeue_after(an.interval));
          }
          h = {.healthy = false, .failed = true, .message = "analysis failed: " + q.error()};
        } else {
          st->errors = 0;
          st->last_value = q->text;
          if (q->value > an.threshold) {
            std::ostringstream t;
            t << an.threshold;
            h = {.healthy = false,
                 .failed = true,
                 .message = "analysis: the query returned " + q->text + ", above the threshold " +
                            t.str() + " (query " + std::to_string(st->passed + 1) + " of " +
                            std::to_string(an.count) + ")"};
          } else if (++st->passed < an.count) {
            progress("");
            return write_status(c, Outcome::requeue_after(an.interval));
          }
        }
      }
    }
    if (h.healthy) {
      top.finished_at = now_s();
      top.result = api::HistoryResult::kDeployed;
      if (auto info = c.source->commit(attempted)) {
        top.lead_time_seconds =
            std::chrono::duration_cast<std::chrono::seconds>(now_tp.time_since_epoch()).count() -
            info->commit_time;
      }
      ReleaseEvent ev = event(c, ReleaseEvent::Type::kDeployed, attempted, {});
      if (top.lead_time_seconds) ev.lead_time_seconds = static_cast<double>(*top.lead_time_seconds);
      // Time to restore: from the previous attempt's failure to now.
      if (c.status.history.size() > 1 &&
          c.status.history[1].result != api::HistoryResult::kDeployed) {
        if (auto failed_at = kube::parse_rfc3339(c.status.history[1].finished_at)) {
          ev.time_to_restore_seconds = std::chrono::duration<double>(now_tp - *failed_at).count();
        }
      }
      c.pending.push_back(std::move(ev));
      c.status.current_commit = attempted;
      c.status.phase = api::ReleasePhase::kDeployed;
      events_.normal(c.object, "Deployed",
                     "commit " + short_sha(attempted) + " is deployed and healthy");
      api::set_ready(c.status.conditions, "Deployed",
                     "commit " + short_sha(attempted) + " is deployed", c.generation, now_tp);
      return write_status(c, poll);
    }
    if (!h.failed && !deadline) {
      api::set_reconciling(c.status.conditions, "Progressing",
                           "rolling out commit " + short_sha(attempted) + ": " + h.message,
                           c.generation, now_tp);
      return write_status(c, Outcome::requeue_after(opts_.progress_poll));
    }
    std::string why =
        deadline ? "not healthy within spec.rollout.progressDeadline: " + h.message : h.message;
    top.finished_at = now_s();
    if (!top.reason.empty()) why += "; " + top.reason;  // e.g. history rewritten
    top.reason = why;
    if (c.spec.rollout.auto_rollback && !c.status.current_commit.empty() &&
        c.status.current_commit != attempted) {
      auto cur = render_commit(c, c.status.current_commit);
      std::optional<std::string> err =
          cur ? apply_all(c, *cur) : std::optional<std::string>(cur.error());
      if (!err) {
        std::vector<api::InventoryEntry> inv;
        for (const auto& o : *cur) inv.push_back(inventory_entry(o));
        if (c.spec.prune) prune(c, inv);
        c.status.inventory = inv;
      }
      top.result = api::HistoryResult::kRolledBack;
      top.reason = why + "; rolled back to " + short_sha(c.status.current_commit);
      c.status.phase = api::ReleasePhase::kRolledBack;
      events_.warning(c.object, "RolledBack",
                      "commit " + short_sha(attempted) + " failed (" + why + "); rolled back to " +
                          short_sha(c.status.current_commit));
      c.pending.push_back(event(c, ReleaseEvent::Type::kRolledBack, attempted, top.reason));
    } else {
      top.result = api::HistoryResult::kFailed;
      c.status.phase = api::ReleasePhase::kFailed;
      events_.warning(c.object, "RolloutFailed",
                      "commit " + short_sha(attempted) + " failed: " + why);
      c.pending.push_back(event(c, ReleaseEvent::Type::kFailed, attempted, why));
    }
    api::set_not_ready(
        c.status.conditions, "RolloutFailed",
        "commit " + short_sha(attempted) + " failed: " + why + "; push a newer commit to retry",
        c.generation, now_tp);
    return write_status(c, poll);
  }

  // ------------------------------------------------------- steady: drift
  if (c.status.current_commit.empty()) return write_status(c, poll);
  auto cur = render_commit(c, c.status.current_commit);
  if (!cur) return write_status(c, poll);
  bool drift = false;
  auto err = apply_all(c, *cur, &drift, !c.spec.self_heal);
  if (!c.held.empty()) {
    std::string what;
    for (const auto& h : c.held) what += (what.empty() ? "" : ", ") + h;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(*c.hold_ends_in).count() + 1;
    events_.warning(c.object, "BreakGlass",
                    what + " changed outside git by break-glass; git is restored in " +
                        std::to_string(secs) + "s");
    api::set_not_ready(c.status.conditions, "BreakGlass",
                       what + " differs from commit " + short_sha(c.status.current_commit) +
                           " by break-glass; git is restored in " + std::to_string(secs) + "s",
                       c.generation, now_tp);
    return write_status(
        c, Outcome::requeue_after(std::min<std::chrono::milliseconds>(
               *c.hold_ends_in + std::chrono::milliseconds(200), c.spec.source.interval)));
  }
  if (drift) {
    if (c.spec.self_heal) {
      events_.normal(
          c.object, "DriftCorrected",
          "a change made outside git was reverted to commit " + short_sha(c.status.current_commit));
      report(event(c, ReleaseEvent::Type::kDriftCorrected, c.status.current_commit, {}));
      api::set_ready(
          c.status.conditions, "DriftCorrected",
          "commit " + short_sha(c.status.current_commit) + " is deployed; drift was corrected",
          c.generation, now_tp);
    } else {
      events_.warning(c.object, "DriftDetected",
                      "the cluster differs from commit " + short_sha(c.status.current_commit) +
                          " and spec.selfHeal is false");
      api::set_not_ready(c.status.conditions, "DriftDetected",
                         "the cluster differs from commit " + short_sha(c.status.current_commit) +
                             "; selfHeal is off, so it is reported, not corrected",
                         c.generation, now_tp);
    }
  } else if (!err && !failed_before) {
    api::set_ready(c.status.conditions, "Deployed",
                   "commit " + short_sha(c.status.current_commit) + " is deployed", c.generation,
                   now_tp);
  }
  return write_status(c, poll);
}

Outcome Reconciler::write_status(Context& c, Outcome outcome) {
  if (opts_.notify_failure)
    pipeline::set_notified(c.status.conditions, !c.spec.notify.empty(),
                           opts_.notify_failure("Release/" + c.ns + "/" + c.name), c.generation);
  if (c.status.history.size() > static_cast<size_t>(std::max(1, c.spec.history_limit))) {
    c.status.history.resize(static_cast<size_t>(std::max(1, c.spec.history_limit)));
  }
  json status;
  api::to_json(status, c.status);
  bool written = false;
  Outcome out = cairn::write_status(client_, kReleases, releases_, c.object, status,
                                    c.original_status, outcome, &written);
  if (written) {
    for (const auto& e : c.pending) report(e);
  }
  c.pending.clear();
  return out;
}

}  // namespace cairn::release
