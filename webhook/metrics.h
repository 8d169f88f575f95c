// The webhook's Prometheus metrics. Labels are bounded: namespace, kind,
// operation, rule and result; never object names or commit ids.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace cairn::webhook {

class Metrics {
 public:
  Metrics();
  void decided(const std::string& ns, const std::string& kind, const std::string& operation,
               const std::string& rule, const std::string& result, double seconds);
  void break_glass(const std::string& ns);
  void bad_request(const std::string& endpoint);
  void fetches(double total);
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  prometheus::Family<prometheus::Counter>& break_glass_;
  prometheus::Family<prometheus::Counter>& bad_requests_;
  prometheus::Family<prometheus::Counter>& fetches_;
  prometheus::Histogram::BucketBoundaries buckets_;
};

}  // namespace cairn::webhook
