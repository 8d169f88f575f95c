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
#include "operator/kit/outcome.h"
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

using kit::Outcome;
using source::SourceProvider;

class Reconciler {
 public:
  Reconciler(kube::Api& client, kube::Store& pipelines, kube::Store& jobs, kube::Store& pods,
             SourceProvider& sources, kube::EventSink& events, Options opts);

  Outcome reconcile(const std::string& key);

  // A push hook names this Pipeline: fetch at the next reconcile.
  void request_fetch(const std::string& key);

  static const kube::ApiResource& resource();

 private:
  struct Context;
  // The steps, in order.
  kit::Step check_spec(Context& c);
  void fetch_source(Context& c);
  void record_runs(Context& c);
  bool drive_runs(Context& c);
  void collect_garbage(Context& c);
  kit::Verdict verdict(Context& c);
  Outcome finish(Context& c, Outcome outcome);

  void report_source_failure(Context& c, const std::string& reason, const std::string& message);
  void advance_run(Context& c, api::RunStatus& run);
  void start_step(Context& c, const api::RunStatus& run, const api::Step& step,
                  api::StepStatus& st);
  void observe_step(Context& c, const api::RunStatus& run, const api::Step& step,
                    api::StepStatus& st, const json& job);
  // What the newest Pod of a step's Job said when its container ended.
  struct Termination {
    std::string message;    // the termination message (results, or why it failed)
    std::string exit_text;  // "exit code 2", "checkout failed with exit code 128"
  };
  Termination last_termination(const std::string& ns, const std::string& job_name) const;
  void finish_run(Context& c, api::RunStatus& run);
  void cancel_run(Context& c, api::RunStatus& run, const std::string& why);

  kube::Api& client_;
  kube::Store& pipelines_;
  kube::Store& jobs_;
  kube::Store& pods_;
  SourceProvider& sources_;
  kube::EventSink& events_;
  Options opts_;

  source::Tracker tracker_;
};

}  // namespace cairn::pipeline
