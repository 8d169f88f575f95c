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
#include <string>

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

  kube::Client& client_;
  kube::Store& releases_;
  kube::Store& pipelines_;
  SourceProvider& sources_;
  kube::EventRecorder& events_;
  Options opts_;
  source::Tracker tracker_;
};

}  // namespace cairn::release
