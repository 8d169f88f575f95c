#include "webhook/metrics.h"

#include <prometheus/text_serializer.h>

namespace cairn::webhook {

using prometheus::BuildCounter;
using prometheus::BuildHistogram;

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      decisions_(BuildCounter()
                     .Name("cairn_admission_decisions_total")
                     .Help("Admission decisions by namespace, kind, operation, rule and result "
                           "(allowed, denied, warned, audited)")
                     .Register(*registry_)),
      seconds_(BuildHistogram()
                   .Name("cairn_admission_duration_seconds")
                   .Help("Time to decide one AdmissionReview, by result")
                   .Register(*registry_)),
      break_glass_(BuildCounter()
                       .Name("cairn_admission_break_glass_total")
                       .Help("Changes admitted by break-glass, by namespace")
                       .Register(*registry_)),
      bad_requests_(BuildCounter()
                        .Name("cairn_admission_bad_requests_total")
                        .Help("Requests answered 400 (not a well-formed AdmissionReview)")
                        .Register(*registry_)),
      fetches_(BuildCounter()
                   .Name("cairn_admission_git_fetches_total")
                   .Help("Fetches made because a review named a commit not yet known")
                   .Register(*registry_)),
      buckets_{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5} {}

void Metrics::decided(const std::string& ns, const std::string& kind, const std::string& operation,
                      const std::string& rule, const std::string& result, double seconds) {
  decisions_
      .Add({{"namespace", ns},
            {"kind", kind},
            {"operation", operation},
            {"rule", rule},
            {"result", result}})
      .Increment();
  seconds_.Add({{"result", result}}, buckets_).Observe(seconds);
}

void Metrics::break_glass(const std::string& ns) {
  break_glass_.Add({{"namespace", ns}}).Increment();
}

void Metrics::bad_request(const std::string& endpoint) {
  bad_requests_.Add({{"endpoint", endpoint}}).Increment();
}

void Metrics::fetches(double total) {
  auto& c = fetches_.Add({});
  if (total > c.Value()) c.Increment(total - c.Value());
}

std::string Metrics::render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cairn::webhook
