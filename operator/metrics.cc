#include "operator/metrics.h"

#include <prometheus/text_serializer.h>

#include "kube/util.h"

namespace cairn::metrics {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

OperatorMetrics::OperatorMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      reconciles_(BuildCounter()
                      .Name("cairn_reconcile_total")
                      .Help("Reconciles by kind and result (success, error)")
                      .Register(*registry_)),
      reconcile_seconds_(BuildHistogram()
                             .Name("cairn_reconcile_duration_seconds")
                             .Help("Time spent in one reconcile, by kind")
                             .Register(*registry_)),
      runs_(BuildCounter()
                .Name("cairn_pipeline_runs_total")
                .Help("Finished pipeline runs by Pipeline and phase")
                .Register(*registry_)),
      run_seconds_(BuildHistogram()
                       .Name("cairn_pipeline_run_duration_seconds")
                       .Help("Duration of finished pipeline runs by Pipeline")
                       .Register(*registry_)),
      pushes_(BuildCounter()
                  .Name("cairn_push_hooks_total")
                  .Help("Push hook requests by result (accepted, refused)")
                  .Register(*registry_)),
      queue_depth_(BuildGauge()
                       .Name("cairn_workqueue_depth")
                       .Help("Keys waiting in a work queue")
                       .Register(*registry_)),
      step_seconds_(BuildHistogram()
                        .Name("cairn_pipeline_step_duration_seconds")
                        .Help("Duration of finished pipeline steps by Pipeline, step and phase")
                        .Register(*registry_)),
      deployments_(BuildCounter()
                       .Name("cairn_release_deployments_total")
                       .Help("Finished rollouts by Release and result (Deployed, Failed, "
                             "RolledBack): deployment frequency and change failure rate")
                       .Register(*registry_)),
      lead_time_(BuildHistogram()
                     .Name("cairn_release_lead_time_seconds")
                     .Help("Lead time for changes: from the commit's time to its rollout "
                           "being healthy, by Release")
                     .Register(*registry_)),
      restore_time_(BuildHistogram()
                        .Name("cairn_release_time_to_restore_seconds")
                        .Help("Time to restore: from a failed rollout to the next healthy one, "
                              "by Release")
                        .Register(*registry_)),
      drift_(BuildCounter()
                 .Name("cairn_release_drift_corrections_total")
                 .Help("Changes made outside git that were put back, by Release")
                 .Register(*registry_)),
      prunes_(BuildCounter()
                  .Name("cairn_release_prunes_total")
                  .Help("Objects deleted because git no longer has them, by Release")
                  .Register(*registry_)),
      fetches_(BuildCounter()
                   .Name("cairn_git_fetches_total")
                   .Help("Git fetches by repository and result (success, failure)")
                   .Register(*registry_)),
      fetch_seconds_(BuildHistogram()
                         .Name("cairn_git_fetch_duration_seconds")
                         .Help("Duration of git fetches by repository")
                         .Register(*registry_)),
      informer_events_(BuildCounter()
                           .Name("cairn_informer_events_total")
                           .Help("Watch events received, by resource")
                           .Register(*registry_)),
      informer_relists_(BuildCounter()
                            .Name("cairn_informer_relists_total")
                            .Help("Full re-lists (after 410 Gone or a failed watch), by resource")
                            .Register(*registry_)),
      queue_adds_(BuildCounter()
                      .Name("cairn_workqueue_adds_total")
                      .Help("Keys added to a work queue")
                      .Register(*registry_)),
      queue_retries_(BuildCounter()
                         .Name("cairn_workqueue_retries_total")
                         .Help("Keys put back after a failed reconcile")
                         .Register(*registry_)),
      notifications_(BuildCounter()
                         .Name("cairn_notifications_total")
                         .Help("Notification deliveries by result (delivered, retried, failed, "
                               "dropped)")
                         .Register(*registry_)),
      stalled_(BuildGauge()
                   .Name("cairn_resource_stalled")
                   .Help("1 while a Pipeline or Release is Stalled (needs a person: its Stalled "
                         "condition says what to fix)")
                   .Register(*registry_)) {}

void OperatorMetrics::reconciled(const std::string& kind, const std::string& result,
                                 double seconds) {
  reconciles_.Add({{"kind", kind}, {"result", result}}).Increment();
  reconcile_seconds_
      .Add({{"kind", kind}},
           prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30})
      .Observe(seconds);
}

void OperatorMetrics::run_finished(const std::string& ns, const std::string& name,
                                   const api::RunStatus& run, double seconds) {
  const std::string phase(api::to_string(run.phase));
  runs_.Add({{"namespace", ns}, {"pipeline", name}, {"phase", phase}}).Increment();
  run_seconds_
      .Add({{"namespace", ns}, {"pipeline", name}},
           prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600})
      .Observe(seconds);
  for (const auto& st : run.steps) {
    auto a = kube::parse_rfc3339(st.start_time), b = kube::parse_rfc3339(st.completion_time);
    if (!a || !b) continue;
    step_seconds_
        .Add({{"namespace", ns},
              {"pipeline", name},
              {"step", st.name},
              {"phase", std::string(api::to_string(st.phase))}},
             prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 120, 300, 600, 1800})
        .Observe(std::chrono::duration<double>(*b - *a).count());
  }
}

void OperatorMetrics::release_event(const release::ReleaseEvent& e) {
  const prometheus::Labels who = {{"namespace", e.ns}, {"release", e.name}};
  using T = release::ReleaseEvent::Type;
  switch (e.type) {
    case T::kDeployed:
    case T::kFailed:
    case T::kRolledBack: {
      auto l = who;
      l["result"] = std::string(release::to_string(e.type));
      deployments_.Add(l).Increment();
      break;
    }
    case T::kDriftCorrected:
      drift_.Add(who).Increment();
      break;
    case T::kPruned:
      prunes_.Add(who).Increment();
      break;
  }
  if (e.lead_time_seconds) {
    lead_time_
        .Add(who, prometheus::Histogram::BucketBoundaries{30, 60, 300, 900, 1800, 3600, 7200, 21600,
                                                          86400, 259200, 604800})
        .Observe(*e.lead_time_seconds);
  }
  if (e.time_to_restore_seconds) {
    restore_time_
        .Add(who, prometheus::Histogram::BucketBoundaries{5, 15, 30, 60, 300, 900, 1800, 3600,
                                                          14400, 86400})
        .Observe(*e.time_to_restore_seconds);
  }
}

void OperatorMetrics::notification(const std::string& result) {
  notifications_.Add({{"result", result}}).Increment();
}

void OperatorMetrics::git_fetch(const std::string& url, bool ok, double seconds) {
  fetches_.Add({{"repository", url}, {"result", ok ? "success" : "failure"}}).Increment();
  fetch_seconds_
      .Add({{"repository", url}},
           prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120})
      .Observe(seconds);
}

namespace {
void catch_up(prometheus::Counter& c, double total) {
  if (total > c.Value()) c.Increment(total - c.Value());
}
}  // namespace

void OperatorMetrics::informer_totals(const std::string& resource, double events, double relists) {
  catch_up(informer_events_.Add({{"resource", resource}}), events);
  catch_up(informer_relists_.Add({{"resource", resource}}), relists);
}

void OperatorMetrics::queue_totals(const std::string& name, double adds, double retries) {
  catch_up(queue_adds_.Add({{"name", name}}), adds);
  catch_up(queue_retries_.Add({{"name", name}}), retries);
}

void OperatorMetrics::push(const std::string& result) {
  pushes_.Add({{"result", result}}).Increment();
}

void OperatorMetrics::queue_depth(const std::string& name, double depth) {
  queue_depth_.Add({{"name", name}}).Set(depth);
}

std::vector<std::pair<std::string, std::string>> stalled_objects(const kube::Store& store) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& obj : store.list()) {
    auto st = obj->find("status");
    if (st == obj->end() || !st->is_object()) continue;
    auto conds = st->find("conditions");
    if (conds == st->end() || !conds->is_array()) continue;
    for (const auto& c : *conds) {
      if (c.is_object() && c.value("type", "") == "Stalled" && c.value("status", "") == "True") {
        auto md = obj->find("metadata");
        if (md != obj->end() && md->is_object())
          out.emplace_back(md->value("namespace", ""), md->value("name", ""));
        break;
      }
    }
  }
  return out;
}

void OperatorMetrics::stalled(const std::string& kind,
                              const std::vector<std::pair<std::string, std::string>>& now) {
  std::lock_guard lock(stalled_mu_);
  auto& before = stalled_now_[kind];
  std::set<std::pair<std::string, std::string>> current(now.begin(), now.end());
  for (const auto& [ns, name] : before) {
    if (!current.contains({ns, name}))
      stalled_.Remove(&stalled_.Add({{"kind", kind}, {"namespace", ns}, {"name", name}}));
  }
  for (const auto& [ns, name] : current)
    stalled_.Add({{"kind", kind}, {"namespace", ns}, {"name", name}}).Set(1);
  before = std::move(current);
}

std::string OperatorMetrics::render() const {
  prometheus::TextSerializer s;
  return s.Serialize(registry_->Collect());
}

}  // namespace cairn::metrics
