// Status conditions the kstatus way: Ready is the summary; Reconciling=True
// while work is in progress; Stalled=True when progress needs a person. The
// abnormal-true conditions (Reconciling, Stalled) are removed, not set to
// False, when they stop applying.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace cairn::api {

inline constexpr std::string_view kReadyCondition = "Ready";
inline constexpr std::string_view kReconcilingCondition = "Reconciling";
inline constexpr std::string_view kStalledCondition = "Stalled";

inline constexpr std::string_view kConditionTrue = "True";
inline constexpr std::string_view kConditionFalse = "False";
inline constexpr std::string_view kConditionUnknown = "Unknown";

const Condition* find_condition(const std::vector<Condition>& conds, std::string_view type);
// Whether the condition exists with status "True".
bool is_condition_true(const std::vector<Condition>& conds, std::string_view type);

// Sets (or adds, at the end) the condition `type`. lastTransitionTime becomes
// `now` only when the status changes (or the condition is new); reason,
// message and observedGeneration are always updated. Returns whether anything
// changed, so a caller can skip a status write that would change nothing.
bool set_condition(std::vector<Condition>& conds, std::string_view type, std::string_view status,
                   std::string_view reason, std::string_view message,
                   std::int64_t observed_generation, std::chrono::system_clock::time_point now);

// Removes the condition `type`; returns whether it was there.
bool remove_condition(std::vector<Condition>& conds, std::string_view type);

// Done and healthy: Ready=True; Reconciling and Stalled removed.
bool set_ready(std::vector<Condition>& conds, std::string_view reason, std::string_view message,
               std::int64_t observed_generation, std::chrono::system_clock::time_point now);

// Work in progress: Reconciling=True and Ready=Unknown, both with this reason
// and message; Stalled removed.
bool set_reconciling(std::vector<Condition>& conds, std::string_view reason,
                     std::string_view message, std::int64_t observed_generation,
                     std::chrono::system_clock::time_point now);

// Cannot progress without a change by a person (invalid spec, failed commit
// not to be retried): Stalled=True and Ready=False with this reason and
// message; Reconciling removed.
bool set_stalled(std::vector<Condition>& conds, std::string_view reason, std::string_view message,
                 std::int64_t observed_generation, std::chrono::system_clock::time_point now);

// Failed for now, will retry by itself (source unreachable, apply refused):
// Ready=False with this reason and message; Reconciling and Stalled removed.
bool set_not_ready(std::vector<Condition>& conds, std::string_view reason, std::string_view message,
                   std::int64_t observed_generation, std::chrono::system_clock::time_point now);

// metav1.Time: "2006-01-02T15:04:05Z", UTC, whole seconds.
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace cairn::api
