// Typed errors for the Kubernetes client. Every call that can fail returns
// Result<T> = std::expected<T, Error>; an Error carries a code a controller can
// branch on and a message a person can act on.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace cairn::kube {

enum class Code {
  kOk = 0,
  kBadRequest,        // 400
  kUnauthorized,      // 401: credentials missing, wrong or expired
  kForbidden,         // 403: RBAC refuses
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kConflict,          // 409 (resourceVersion or precondition mismatch)
  kAlreadyExists,     // 409 with reason AlreadyExists
  kGone,              // 410: resourceVersion too old, re-list
  kInvalid,           // 422 with field causes
  kTooManyRequests,   // 429, retry_after honoured
  kServerError,       // 5xx
  kTimeout,           // 504 or a client-side timeout
  kUnavailable,       // connection refused, DNS, apiserver down
  kTls,               // certificate verification or handshake failed
  kConfig,            // kubeconfig or in-cluster config unusable
  kDecode,            // a body that is not the JSON we expected
  kCancelled,         // the caller cancelled
  kInternal,          // a bug on our side
};

std::string_view code_name(Code c);

// One field-level cause of an Invalid (422) answer.
struct Cause {
  std::string field;
  std::string reason;
  std::string message;
};

struct Error {
  Code code = Code::kInternal;
  int http_status = 0;        // 0 when no HTTP answer was received
  std::string reason;         // metav1.Status.reason (e.g. "AlreadyExists")
  std::string message;        // human-readable, already names the object
  std::vector<Cause> causes;  // Invalid: which fields and why
  std::optional<std::chrono::seconds> retry_after;

  // "NotFound: configmaps \"x\" not found" — code first, for logs and conditions.
  std::string to_string() const;

  // Whether retrying the same request later can succeed.
  bool retriable() const;
};

inline bool is_not_found(const Error& e) { return e.code == Code::kNotFound; }
inline bool is_conflict(const Error& e) { return e.code == Code::kConflict; }
inline bool is_already_exists(const Error& e) { return e.code == Code::kAlreadyExists; }
inline bool is_gone(const Error& e) { return e.code == Code::kGone; }

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Code code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return std::unexpected(std::move(e));
}

// Maps an HTTP answer from the apiserver (status code, body, Retry-After header)
// to an Error. The body is parsed as a metav1.Status when it is one; any other
// body (a proxy's HTML page, nothing at all) still gives a usable message.
Error error_from_response(int http_status, std::string_view body,
                          std::string_view retry_after_header = {});

}  // namespace cairn::kube
