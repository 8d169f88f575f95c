// The Release reconciler: renders the manifests under spec.path at the
// tracked commit, stamps them with their provenance, applies them with
// server-side apply, follows the rollout to health, prunes what git
// removed, rolls back to the last Deployed commit when a rollout fails, and
// puts back what someone changed by hand.
//
// The rollout's state lives in status (phase Progressing, lastAttemptedCommit,
// history[0].startedAt), so a restarted operator continues where it was.
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
#include "pipeline/reconciler.h"
#include "source/source.h"

namespace cairn::release {

using pipeline::Outcome;
using pipeline::SourceProvider;

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
  // Objects of one apply rank (e.g. all Services) applied at once.
  int apply_concurrency = 4;
  // Called (on the reconciling thread) for each ReleaseEvent; may be empty.
  std::function<void(const ReleaseEvent&)> on_event;
  // As pipeline::Options::notify_failure.
  std::function<std::optional<std::string>(const std::string& key)> notify_failure;
};

class Reconciler {
 public:
  Reconciler(kube::Client& client, kube::Store& releases, kube::Store& pipelines,
             SourceProvider& sources, kube::EventRecorder& events, Options opts = {});
  Outcome reconcile(const std::string& key);
  void request_fetch(const std::string& key);
  static const kube::ApiResource& resource();

 private:
  struct Context;
  std::expected<std::vector<kube::json>, std::string> render_commit(Context& c,
                                                                    const std::string& commit);
  // Applies every object; returns the first error as "file: document: message".
  std::optional<std::string> apply_all(Context& c, const std::vector<kube::json>& objects,
                                       bool* drift = nullptr, bool dry_run_only = false);
  void prune(Context& c, const std::vector<api::InventoryEntry>& keep);
  struct Health {
    bool healthy = true;
    bool failed = false;
    std::string message;
  };
  Health health(Context& c);
  Outcome write_status(Context& c, Outcome outcome);
  ReleaseEvent event(Context& c, ReleaseEvent::Type type, const std::string& commit,
                     const std::string& reason);
  void report(const ReleaseEvent& e);

  kube::Client& client_;
  kube::Store& releases_;
  kube::Store& pipelines_;
  SourceProvider& sources_;
  kube::EventRecorder& events_;
  Options opts_;
  source::Tracker tracker_;
};

}  // namespace cairn::release
