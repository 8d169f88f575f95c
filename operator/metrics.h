// The operator's Prometheus metrics (prometheus-cpp), served as text by
// lib/http on --metrics-addr. Labels are bounded: kinds, results, and the
// namespace/name of Cairn's own resources — never commit ids.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace cairn::metrics {

class OperatorMetrics {
 public:
  OperatorMetrics();
  void reconciled(const std::string& kind, const std::string& result, double seconds);
  void run_finished(const std::string& ns, const std::string& name, const std::string& phase,
                    double seconds);
  void push(const std::string& result);
  void queue_depth(const std::string& name, double depth);
  // The text exposition format.
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Family<prometheus::Histogram>& reconcile_seconds_;
  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Histogram>& run_seconds_;
  prometheus::Family<prometheus::Counter>& pushes_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
};

}  // namespace cairn::metrics
