#include "metrics.h"

#include <prometheus/text_serializer.h>

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
                                   const std::string& phase, double seconds) {
  runs_.Add({{"namespace", ns}, {"pipeline", name}, {"phase", phase}}).Increment();
  run_seconds_
      .Add({{"namespace", ns}, {"pipeline", name}},
           prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600})
      .Observe(seconds);
}

void OperatorMetrics::push(const std::string& result) {
  pushes_.Add({{"result", result}}).Increment();
}

void OperatorMetrics::queue_depth(const std::string& name, double depth) {
  queue_depth_.Add({{"name", name}}).Set(depth);
}

std::string OperatorMetrics::render() const {
  prometheus::TextSerializer s;
  return s.Serialize(registry_->Collect());
}

}  // namespace cairn::metrics
