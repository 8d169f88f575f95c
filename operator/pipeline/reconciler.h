// The Pipeline reconciler: polls (or is pushed) the source, records each new
// commit as a run, and runs the steps as Jobs in `after` order.
//
// State lives in the cluster, not here: a run is keyed by commit and spec
// generation, its Jobs are named from (pipeline, run, step), so a restarted
// operator adopts the Jobs it made before and never starts a step twice.
// The only in-memory state is when each Pipeline was last fetched and
// whether a push asked for a fetch now.
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
#include "source/source.h"

namespace cairn::pipeline {

struct Options {
  std::string checkout_image = "alpine/git:2.43.0";
  // Called when a run ends (for metrics and notifications), with the
  // Pipeline's spec.notify; may be empty.
  std::function<void(const std::string& ns, const std::string& name, const api::RunStatus& run,
                     double seconds, const std::vector<api::NotifySpec>& notify)>
      on_run_finished;
  std::chrono::seconds fetch_timeout{120};
  std::chrono::seconds stall_timeout{30};
  // Why the last notification for a resource ("Kind/ns/name") failed, if it
  // did; reported in the condition Notified. May be empty.
  std::function<std::optional<std::string>(const std::string& key)> notify_failure;
};

// Sets the condition Notified from `failure` when the resource has
// notification targets: False with the reason while the last delivery
// failed, True once one succeeds again (absent until a delivery fails).
void set_notified(std::vector<api::Condition>& conds, bool has_targets,
                  const std::optional<std::string>& failure, int64_t generation);

// Where mirrors come from (git::Cache in production).
class SourceProvider {
 public:
  virtual ~SourceProvider() = default;
  virtual std::shared_ptr<git::Source> source(const std::string& url) = 0;
};

// What a reconcile asks of the work queue.
struct Outcome {
  enum Kind { kDone, kRequeueAfter, kRetry } kind = kDone;
  std::chrono::milliseconds after{0};
  static Outcome done() { return {}; }
  static Outcome requeue_after(std::chrono::milliseconds d) { return {kRequeueAfter, d}; }
  static Outcome retry() { return {kRetry, {}}; }
};

class Reconciler {
 public:
  Reconciler(kube::Client& client, kube::Store& pipelines, kube::Store& jobs, kube::Store& pods,
             SourceProvider& sources, kube::EventRecorder& events, Options opts);

  Outcome reconcile(const std::string& key);

  // A push hook names this Pipeline: fetch at the next reconcile.
  void request_fetch(const std::string& key);

  static const kube::ApiResource& resource();

 private:
  struct Context;
  // Sets the Ready=False reason and message; with `report`, also an Event and a log line.
  Outcome fail_source(Context& c, const std::string& reason, const std::string& message,
                      Outcome outcome, bool report = true);
  void advance_run(Context& c, api::RunStatus& run);
  void finish_run(Context& c, api::RunStatus& run);
  void cancel_run(Context& c, api::RunStatus& run, const std::string& why);
  void collect_garbage(Context& c);
  void set_conditions(Context& c);
  Outcome write_status(Context& c, Outcome outcome);

  kube::Client& client_;
  kube::Store& pipelines_;
  kube::Store& jobs_;
  kube::Store& pods_;
  SourceProvider& sources_;
  kube::EventRecorder& events_;
  Options opts_;

  source::Tracker tracker_;
};

}  // namespace cairn::pipeline
