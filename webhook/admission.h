// admission.k8s.io AdmissionReview in and out: parsing a review the
// apiserver sent (or anything else that reaches the socket) and writing the
// answer. Parsing never throws and never trusts the input: a body that is not
// JSON, is truncated, is not an AdmissionReview, or has fields of the wrong
// type comes back as an error naming what is wrong, answered 400.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.h"

namespace cairn::webhook {

using json = cairn::json;

struct Review {
  std::string api_version;  // of the review itself: admission.k8s.io/v1 or v1beta1
  std::string uid;
  // request.kind (the object's kind as the webhook sees it, after
  // matchPolicy: Equivalent) and request.resource.
  std::string group, version, kind;
  std::string resource_group, resource, sub_resource;  // request.resource, request.subResource
  std::string ns, name;
  std::string operation;  // CREATE, UPDATE, DELETE, CONNECT
  std::string username;
  std::vector<std::string> groups;
  // Both without metadata.managedFields (no decision reads them).
  json object;      // null when absent (DELETE)
  json old_object;  // null when absent (CREATE)
  bool dry_run = false;

  // "apps/Deployment" or "/ConfigMap" (core group).
  std::string group_kind() const { return group + "/" + kind; }
};

// Bodies larger than this are refused by the HTTP server before parsing.
inline constexpr size_t kMaxReviewBytes = 7u << 20;

std::expected<Review, std::string> parse_review(std::string_view body);

struct Cause {
  std::string field;  // "spec.steps[1].after[0]"
  std::string message;
};

struct Verdict {
  bool allowed = true;
  int code = 200;       // status.code when denied (403, or 422 for an invalid spec)
  std::string reason;   // status.reason when denied ("Forbidden", "Invalid")
  std::string message;  // status.message when denied
  // status.details.causes: kubectl lists them for an Invalid denial.
  std::vector<Cause> causes;
  std::vector<std::string> warnings;
};

// The AdmissionReview answer, in the review's own apiVersion. Warnings are
// cut to what the apiserver keeps (256 printable characters each, 4 KiB in
// all; Kubernetes truncates longer ones).
std::string answer(const Review& review, const Verdict& verdict);

}  // namespace cairn::webhook
