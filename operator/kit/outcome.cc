#include "operator/kit/outcome.h"

namespace cairn::kit {

Error Error::from(const kube::Error& e) {
  return {e.retriable() || e.code == kube::Code::kTls ? Kind::kTransient : Kind::kPermanent,
          e.to_string()};
}

std::string_view to_string(Outcome::Kind k) {
  switch (k) {
    case Outcome::Kind::kDone:
      return "Done";
    case Outcome::Kind::kRequeue:
      return "Requeue";
    case Outcome::Kind::kRetry:
      return "Retry";
    case Outcome::Kind::kStalled:
      return "Stalled";
  }
  return "";
}

}  // namespace cairn::kit
