// The HTTP side of the webhook: POST /validate (governed kinds) and POST
// /validate-cairn (Pipeline and Release specs) take an AdmissionReview and
// answer one. A body that is not a well-formed review is answered 400 with
// the reason; nothing a client sends makes it crash or hang.
#pragma once

#include <functional>

#include "http/server.h"
#include "webhook/metrics.h"
#include "webhook/policy.h"

namespace cairn::webhook {

class Handler {
 public:
  // on_break_glass: record the Event (not called for dry-run requests).
  Handler(Policy& policy, Metrics* metrics,
          std::function<void(const Review&, const Decision&)> on_break_glass = {});
  http::Response operator()(const http::Request& req);

 private:
  Policy& policy_;
  Metrics* metrics_;
  std::function<void(const Review&, const Decision&)> on_break_glass_;
};

}  // namespace cairn::webhook
