#include "webhook/handler.h"

#include <chrono>

#include "log/log.h"

namespace cairn::webhook {

namespace {

http::Response bad_request(const std::string& why) {
  cairn::json body = {{"error", why}};
  return http::Response::json(400,
                              body.dump(-1, ' ', false, cairn::json::error_handler_t::replace));
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

Handler::Handler(Policy& policy, Metrics* metrics,
                 std::function<void(const Review&, const Decision&)> on_break_glass)
    : policy_(policy), metrics_(metrics), on_break_glass_(std::move(on_break_glass)) {}

http::Response Handler::operator()(const http::Request& req) {
  const bool cairn_specs = req.path == "/validate-cairn";
  if (req.path != "/validate" && !cairn_specs)
    return http::Response::text(404,
                                "not found: POST AdmissionReviews to /validate or "
                                "/validate-cairn\n");
  if (req.method != "POST") {
    auto r = http::Response::text(405, "method not allowed: POST an AdmissionReview\n");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  const auto start = std::chrono::steady_clock::now();
  auto review = parse_review(req.body);
  if (!review) {
    if (metrics_) metrics_->bad_request(req.path);
    return bad_request("not a well-formed AdmissionReview: " + review.error());
  }
  Decision d;
  try {
    d = cairn_specs ? policy_.validate_spec(*review) : policy_.decide(*review);
  } catch (const std::exception& e) {
    // The apiserver never sends such objects; a client that does gets a 400.
    if (metrics_) metrics_->bad_request(req.path);
    return bad_request(std::string("malformed object in the review: ") + e.what());
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (metrics_) {
    metrics_->decided(review->ns, review->group_kind(), review->operation, d.rule, d.result, secs);
    metrics_->fetches(static_cast<double>(policy_.fetches()));
  }
  if (d.break_glass && !review->dry_run) {
    if (metrics_) metrics_->break_glass(review->ns);
    // The audit line: who, what, why.
    log::warn("break-glass change admitted", {{"audit", "true"},
                                              {"user", review->username},
                                              {"groups", join(review->groups)},
                                              {"operation", review->operation},
                                              {"kind", review->group_kind()},
                                              {"namespace", review->ns},
                                              {"name", review->name},
                                              {"reason", d.break_glass_reason}});
    if (on_break_glass_) on_break_glass_(*review, d);
  } else if (d.result != "allowed") {
    log::info(
        "admission " + d.result,
        {{"user", review->username},
         {"operation", review->operation},
         {"kind", review->group_kind()},
         {"namespace", review->ns},
         {"name", review->name},
         {"rule", d.rule},
         {"dryRun", review->dry_run ? "true" : "false"},
         {"message", d.verdict.allowed ? (d.verdict.warnings.empty() ? "" : d.verdict.warnings[0])
                                       : d.verdict.message}});
  }
  return http::Response::json(200, answer(*review, d.verdict));
}

}  // namespace cairn::webhook
