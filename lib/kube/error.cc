#include "kube/error.h"

#include <charconv>

#include "json/json.h"

namespace cairn::kube {

std::string_view code_name(Code c) {
  switch (c) {
    case Code::kOk:
      return "OK";
    case Code::kBadRequest:
      return "BadRequest";
    case Code::kUnauthorized:
      return "Unauthorized";
    case Code::kForbidden:
      return "Forbidden";
    case Code::kNotFound:
      return "NotFound";
    case Code::kMethodNotAllowed:
      return "MethodNotAllowed";
    case Code::kConflict:
      return "Conflict";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kGone:
      return "Gone";
    case Code::kInvalid:
      return "Invalid";
    case Code::kTooManyRequests:
      return "TooManyRequests";
    case Code::kServerError:
      return "ServerError";
    case Code::kTimeout:
      return "Timeout";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kTls:
      return "TLS";
    case Code::kConfig:
      return "Config";
    case Code::kDecode:
      return "Decode";
    case Code::kCancelled:
      return "Cancelled";
    case Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Error::to_string() const {
  std::string out(code_name(code));
  out += ": ";
  out += message;
  for (const auto& c : causes) {
    out += "; ";
    out += c.field.empty() ? c.reason : c.field;
    out += ": ";
    out += c.message;
  }
  return out;
}

bool Error::retriable() const {
  switch (code) {
    case Code::kConflict:
    case Code::kTooManyRequests:
    case Code::kServerError:
    case Code::kTimeout:
    case Code::kUnavailable:
      return true;
    default:
      return false;
  }
}

namespace {

Code code_for(int status, std::string_view reason) {
  if (reason == "AlreadyExists") return Code::kAlreadyExists;
  if (reason == "Expired" || reason == "Gone") return Code::kGone;
  switch (status) {
    case 400:
      return Code::kBadRequest;
    case 401:
      return Code::kUnauthorized;
    case 403:
      return Code::kForbidden;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kMethodNotAllowed;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 422:
      return Code::kInvalid;
    case 429:
      return Code::kTooManyRequests;
    case 504:
      return Code::kTimeout;
    default:
      break;
  }
  if (reason == "Timeout" || reason == "ServerTimeout") return Code::kTimeout;
  if (status >= 500) return Code::kServerError;
  return Code::kInternal;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view h) {
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  long v = 0;
  auto [p, ec] = std::from_chars(h.data(), h.data() + h.size(), v);
  if (ec != std::errc() || p == h.data() || v < 0) return std::nullopt;
  return std::chrono::seconds(std::min<long>(v, 3600));
}

}  // namespace

Error error_from_response(int http_status, std::string_view body,
                          std::string_view retry_after_header) {
  Error e;
  e.http_status = http_status;
  cairn::json j = cairn::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.value("kind", "") == "Status") {
    e.reason = j.value("reason", "");
    e.message = j.value("message", "");
    if (auto d = j.find("details"); d != j.end() && d->is_object()) {
      if (auto cs = d->find("causes"); cs != d->end() && cs->is_array()) {
        for (const auto& c : *cs) {
          if (!c.is_object()) continue;
          e.causes.push_back({c.value("field", ""), c.value("reason", ""), c.value("message", "")});
        }
      }
      if (auto ra = d->find("retryAfterSeconds"); ra != d->end() && ra->is_number_integer()) {
        e.retry_after = std::chrono::seconds(std::clamp<long>(ra->get<long>(), 0, 3600));
      }
    }
  } else {
    // Not a Status: keep a bounded prefix of whatever came back.
    constexpr size_t kMax = 256;
    e.message = "HTTP " + std::to_string(http_status);
    if (!body.empty()) {
      e.message += ": ";
      e.message += body.substr(0, kMax);
    }
  }
  e.code = code_for(http_status, e.reason);
  if (e.message.empty()) e.message = "HTTP " + std::to_string(http_status);
  if (auto ra = parse_retry_after(retry_after_header)) e.retry_after = ra;
  if (e.code == Code::kTooManyRequests && !e.retry_after) e.retry_after = std::chrono::seconds(1);
  return e;
}

}  // namespace cairn::kube
