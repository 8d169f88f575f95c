// The Release reconciler: renders the manifests under spec.path at the
// tracked commit, stamps them with their provenance, applies them with
// server-side apply, follows the rollout to health, prunes what git
// removed, rolls back to the last Deployed commit when a rollout fails, and
// puts back what someone changed by hand.
//
// The rollout's state lives in status (phase Progressing, lastAttemptedCommit,
// history[0].startedAt), so a restarted operator continues where it was.
//
// A reconcile is a list of steps (reconcile()): finalizer, spec, suspend,
// dependencies, source -> desired commit, signature, gate, rollback pin,
// roll out, progress and analysis, drift. Each returns kit::next() or the
// Outcome that ends the reconcile; the status is written once, at the end.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "git/git.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "operator/kit/outcome.h"
#include "source/source.h"

namespace cairn::release {

using kit::Outcome;
using source::SourceProvider;

// Something that happened to a Release, for metrics and notifications.
// Transitions (Deployed, Failed, RolledBack) are reported once their status
// is written, so a reconcile that is retried does not report them twice.
struct ReleaseEvent {
  enum class Type { kDeployed, kFailed, kRolledBack, kDriftCorrected, kPruned };
  Type type = Type::kDeployed;
  std::string ns, name;
  std::string commit, author, title, reason;
  std::optional<double> lead_time_seconds;        // kDeployed: commit time -> healthy
  std::optional<double> time_to_restore_seconds;  // kDeployed after a failure
  std::vector<api::NotifySpec> notify;            // the Release's spec.notify
};
std::string_view to_string(ReleaseEvent::Type t);

struct Options {
  std::chrono::seconds fetch_timeout{120};
  std::chrono::seconds stall_timeout{30};
  // How often a rollout in progress is looked at again.
  std::chrono::milliseconds progress_poll{1000};
  // How long a change admitted by break-glass (an object carrying
  // cairn.dev/break-glass) stays before git is put back.
  std::chrono::milliseconds break_glass_ttl = std::chrono::hours(1);
  // Fields other managers may own on applied objects, by "group/Kind"
  // ("apps/Deployment" -> {"spec.replicas"}): neither drift nor taken over.
  std::map<std::string, std::vector<std::string>> ignore_fields;
  // Objects of one apply rank (e.g. all Services) applied at once.
  int apply_concurrency = 4;
  // Called (on the reconciling thread) for each ReleaseEvent; may be empty.
  std::function<void(const ReleaseEvent&)> on_event;
  // As pipeline::Options::notify_failure.
  std::function<std::optional<std::string>(const std::string& key)> notify_failure;
};

class Reconciler {
 public:
  Reconciler(kube::Api& client, kube::Store& releases, kube::Store& pipelines,
             SourceProvider& sources, kube::EventSink& events, Options opts = {});
  Outcome reconcile(const std::string& key);
  void request_fetch(const std::string& key);
  static const kube::ApiResource& resource();

 private:
  struct Context;
  using Step = kit::Step (Reconciler::*)(Context&);

  // The steps, in order (reconciler.cc).
  Outcome finalize(Context& c);
  kit::Step ensure_finalizer(Context& c);
  kit::Step check_spec(Context& c);
  kit::Step check_suspend(Context& c);
  kit::Step check_dependencies(Context& c);
  kit::Step fetch_source(Context& c);
  kit::Step verify_signature(Context& c);
  kit::Step check_gate(Context& c);
  kit::Step pin_rollback(Context& c);
  // rollout.cc
  kit::Step roll_out(Context& c);
  kit::Step follow_progress(Context& c);
  // drift.cc
  kit::Step correct_drift(Context& c);

  Outcome finish(Context& c, Outcome outcome);

  // rollout.cc
  Outcome start_rollout(Context& c, const std::string& commit);
  // A commit the live objects carry that history lacks (a crash lost its record).
  void record_lost_apply(Context& c, const std::string& commit,
                         const std::vector<kube::json>& objects);
  Outcome rollout_failed(Context& c, const std::string& attempted, std::string why);
  Outcome deployed(Context& c, const std::string& attempted);
  struct Health {
    bool healthy = true;
    bool failed = false;
    std::string message;
  };
  // Asks Prometheus when healthy and analysis is set; an Outcome while it goes on.
  kit::Step analyse(Context& c, const std::string& attempted, Health& h);
  Health health(Context& c);

  // apply.cc
  std::expected<std::vector<kube::json>, kit::Error> render_commit(Context& c,
                                                                   const std::string& commit);
  enum class Mode {
    kRollout,    // apply everything (a new commit wins over break-glass)
    kSelfHeal,   // apply what drifted, completely, unless held by break-glass
    kDetectOnly  // say what drifted; apply only what break-glass held past its time
  };
  struct Applied {
    bool drift = false;
  };
  // Applies every object; the first error names the file, document and why.
  std::expected<Applied, kit::Error> apply_all(Context& c, const std::vector<kube::json>& objects,
                                               Mode mode);
  std::optional<kit::Error> apply_one(Context& c, const kube::json& obj, Mode mode, bool& drift);
  // Before a forced apply: Cairn's Apply entry takes the fields of other
  // managers, so that the apply removes what git does not set.
  std::optional<kit::Error> take_ownership(Context& c, const kube::ApiResource& r,
                                           const kube::json& live);
  std::vector<std::string> ignored_fields(const kube::json& obj) const;
  void prune(Context& c, const std::vector<api::InventoryEntry>& keep);
  // drift.cc: the hold on an object changed by break-glass (std::nullopt:
  // none, or not honoured here); an error when its namespace cannot be read.
  enum class Glass { kNone, kHeld, kExpired };
  std::expected<Glass, kit::Error> break_glass(Context& c, const kube::json& live);

  ReleaseEvent event(Context& c, ReleaseEvent::Type type, const std::string& commit,
                     const std::string& reason);
  void report(const ReleaseEvent& e);

  kube::Api& client_;
  kube::Store& releases_;
  kube::Store& pipelines_;
  SourceProvider& sources_;
  kube::EventSink& events_;
  Options opts_;
  source::Tracker tracker_;
};

}  // namespace cairn::release
