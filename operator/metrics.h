// The operator's Prometheus metrics (prometheus-cpp), served as text by
// lib/http on --metrics-addr. Labels are bounded: kinds, results, and the
// namespace/name of Cairn's own resources — never commit ids.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/types.h"
#include "kube/informer.h"
#include "operator/release/reconciler.h"

namespace cairn::metrics {

// The (namespace, name) of every object in `store` whose Stalled condition is True.
std::vector<std::pair<std::string, std::string>> stalled_objects(const kube::Store& store);

class OperatorMetrics {
 public:
  OperatorMetrics();
  void reconciled(const std::string& kind, const std::string& result, double seconds);
  void run_finished(const std::string& ns, const std::string& name, const api::RunStatus& run,
                    double seconds);
  // The four DORA keys and the rest of a Release's life.
  void release_event(const release::ReleaseEvent& e);
  void git_fetch(const std::string& url, bool ok, double seconds);
  void notification(const std::string& result);
  // Counters kept elsewhere (informers, work queues), brought up to date at scrape time.
  void informer_totals(const std::string& resource, double events, double relists);
  void queue_totals(const std::string& name, double adds, double retries);
  void push(const std::string& result);
  void queue_depth(const std::string& name, double depth);
  // cairn_resource_stalled{kind,namespace,name}: 1 for each Pipeline or
  // Release of `kind` whose Stalled condition is True now (namespace, name);
  // the series of those no longer stalled are removed.
  void stalled(const std::string& kind,
               const std::vector<std::pair<std::string, std::string>>& now);
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
  prometheus::Family<prometheus::Histogram>& step_seconds_;
  prometheus::Family<prometheus::Counter>& deployments_;
  prometheus::Family<prometheus::Histogram>& lead_time_;
  prometheus::Family<prometheus::Histogram>& restore_time_;
  prometheus::Family<prometheus::Counter>& drift_;
  prometheus::Family<prometheus::Counter>& prunes_;
  prometheus::Family<prometheus::Counter>& fetches_;
  prometheus::Family<prometheus::Histogram>& fetch_seconds_;
  prometheus::Family<prometheus::Counter>& informer_events_;
  prometheus::Family<prometheus::Counter>& informer_relists_;
  prometheus::Family<prometheus::Counter>& queue_adds_;
  prometheus::Family<prometheus::Counter>& queue_retries_;
  prometheus::Family<prometheus::Counter>& notifications_;
  prometheus::Family<prometheus::Gauge>& stalled_;
  std::mutex stalled_mu_;
  std::map<std::string, std::set<std::pair<std::string, std::string>>> stalled_now_;
};

}  // namespace cairn::metrics
