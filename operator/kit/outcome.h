// What a reconcile (or one of its steps) ends with, as a value: what the
// work queue does next, and what the object's status says about it.
//
// Four ends, as in Flux and controller-runtime:
//   Done                  nothing to do until something changes;
//   Requeue(after)        look again later (a poll, a rollout in progress);
//   Retry(error)          a transient error: rate-limited retry;
//   Stalled(reason, msg)  cannot progress without a person: no requeue.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "kube/error.h"

namespace cairn::kit {

// Why a reconcile could not finish, for a person, and whether trying the same
// thing again later can succeed (an apiserver that cannot be reached, a
// conflict) or not (a manifest the apiserver refuses).
struct Error {
  enum class Kind { kTransient, kPermanent };
  Kind kind = Kind::kPermanent;
  std::string message;

  bool transient() const { return kind == Kind::kTransient; }
  static Error transient_error(std::string m) { return {Kind::kTransient, std::move(m)}; }
  static Error permanent(std::string m) { return {Kind::kPermanent, std::move(m)}; }
  // Transient when the request may succeed later: 429, 5xx, timeouts,
  // connections refused or cut (TLS included: a handshake cut mid-way).
  static Error from(const kube::Error& e);
  // The same error with `context` ("applying Deployment web: ") in front.
  Error within(const std::string& context) const { return {kind, context + message}; }
};

// What the Ready/Reconciling/Stalled conditions say when the reconcile ends.
// Conditions are set from it in one place (kit::set_conditions).
struct Verdict {
  enum class State {
    kUnchanged,    // leave the conditions as they are
    kReady,        // Ready=True
    kReconciling,  // work in progress: Reconciling=True, Ready=Unknown
    kNotReady,     // failed for now, retried by itself: Ready=False
    kStalled,      // needs a person: Stalled=True, Ready=False
    kSuspended,    // spec.suspend: Reconciling=False
  };
  State state = State::kUnchanged;
  std::string reason, message;
};

inline Verdict ready(std::string reason, std::string message) {
  return {Verdict::State::kReady, std::move(reason), std::move(message)};
}
inline Verdict reconciling(std::string reason, std::string message) {
  return {Verdict::State::kReconciling, std::move(reason), std::move(message)};
}
inline Verdict not_ready(std::string reason, std::string message) {
  return {Verdict::State::kNotReady, std::move(reason), std::move(message)};
}

class Outcome {
 public:
  enum class Kind { kDone, kRequeue, kRetry, kStalled };

  Outcome() = default;
  static Outcome done() { return {}; }
  static Outcome requeue(std::chrono::milliseconds after) {
    Outcome o;
    o.kind_ = Kind::kRequeue;
    o.after_ = after;
    return o;
  }
  // `after`: when the caller keeps its own backoff (a git source does);
  // otherwise the work queue's per-item backoff decides.
  static Outcome retry(Error e, std::optional<std::chrono::milliseconds> after = std::nullopt) {
    Outcome o;
    o.kind_ = Kind::kRetry;
    o.error_ = std::move(e);
    if (after) o.after_ = *after;
    o.retry_after_set_ = after.has_value();
    return o;
  }
  static Outcome stalled(std::string reason, std::string message) {
    Outcome o;
    o.kind_ = Kind::kStalled;
    o.verdict_ = {Verdict::State::kStalled, std::move(reason), std::move(message)};
    return o;
  }

  // The status this outcome reports (chainable: Outcome::requeue(d).with(ready(...))).
  Outcome with(Verdict v) && {
    verdict_ = std::move(v);
    return std::move(*this);
  }
  Outcome with(Verdict v) const& {
    Outcome o = *this;
    o.verdict_ = std::move(v);
    return o;
  }

  Kind kind() const { return kind_; }
  std::chrono::milliseconds after() const { return after_; }
  bool has_retry_after() const { return retry_after_set_; }
  const std::optional<Error>& error() const { return error_; }
  const Verdict& verdict() const { return verdict_; }
  // Success or a stall: this generation of the spec has been looked at in
  // full, so observedGeneration may say so. A retry has not.
  bool settles_generation() const { return kind_ != Kind::kRetry; }

 private:
  Kind kind_ = Kind::kDone;
  std::chrono::milliseconds after_{0};
  bool retry_after_set_ = false;
  std::optional<Error> error_;
  Verdict verdict_;
};

// What one step of a reconcile returns: std::nullopt goes on to the next
// step; an Outcome ends the reconcile there.
using Step = std::optional<Outcome>;
inline Step next() { return std::nullopt; }

std::string_view to_string(Outcome::Kind k);

}  // namespace cairn::kit
