#include "api/conditions.h"

#include <algorithm>
#include <ctime>

namespace cairn::api {

std::string format_time(std::chrono::system_clock::time_point t) {
  std::time_t tt =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const Condition* find_condition(const std::vector<Condition>& conds, std::string_view type) {
  for (const Condition& c : conds) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

bool is_condition_true(const std::vector<Condition>& conds, std::string_view type) {
  const Condition* c = find_condition(conds, type);
  return c != nullptr && c->status == kConditionTrue;
}

bool set_condition(std::vector<Condition>& conds, std::string_view type, std::string_view status,
                   std::string_view reason, std::string_view message,
                   std::int64_t observed_generation, std::chrono::system_clock::time_point now) {
  auto it =
      std::find_if(conds.begin(), conds.end(), [&](const Condition& c) { return c.type == type; });
  if (it == conds.end()) {
    conds.push_back(Condition{std::string(type), std::string(status), std::string(reason),
                              std::string(message), format_time(now), observed_generation});
    return true;
  }
  Condition next = *it;
  if (next.status != status) {
    next.status = status;
    next.last_transition_time = format_time(now);
  } else if (next.last_transition_time.empty()) {
    next.last_transition_time = format_time(now);
  }
  next.reason = reason;
  next.message = message;
  next.observed_generation = observed_generation;
  if (next == *it) return false;
  *it = std::move(next);
  return true;
}

bool remove_condition(std::vector<Condition>& conds, std::string_view type) {
  auto n = std::erase_if(conds, [&](const Condition& c) { return c.type == type; });
  return n > 0;
}

bool set_ready(std::vector<Condition>& conds, std::string_view reason, std::string_view message,
               std::int64_t observed_generation, std::chrono::system_clock::time_point now) {
  bool changed = set_condition(conds, kReadyCondition, kConditionTrue, reason, message,
                               observed_generation, now);
  changed |= remove_condition(conds, kReconcilingCondition);
  changed |= remove_condition(conds, kStalledCondition);
  return changed;
}

bool set_reconciling(std::vector<Condition>& conds, std::string_view reason,
                     std::string_view message, std::int64_t observed_generation,
                     std::chrono::system_clock::time_point now) {
  bool changed = set_condition(conds, kReconcilingCondition, kConditionTrue, reason, message,
                               observed_generation, now);
  changed |= set_condition(conds, kReadyCondition, kConditionUnknown, reason, message,
                           observed_generation, now);
  changed |= remove_condition(conds, kStalledCondition);
  return changed;
}

bool set_stalled(std::vector<Condition>& conds, std::string_view reason, std::string_view message,
                 std::int64_t observed_generation, std::chrono::system_clock::time_point now) {
  bool changed = set_condition(conds, kStalledCondition, kConditionTrue, reason, message,
                               observed_generation, now);
  changed |= set_condition(conds, kReadyCondition, kConditionFalse, reason, message,
                           observed_generation, now);
  changed |= remove_condition(conds, kReconcilingCondition);
  return changed;
}

bool set_not_ready(std::vector<Condition>& conds, std::string_view reason, std::string_view message,
                   std::int64_t observed_generation, std::chrono::system_clock::time_point now) {
  bool changed = set_condition(conds, kReadyCondition, kConditionFalse, reason, message,
                               observed_generation, now);
  changed |= remove_condition(conds, kReconcilingCondition);
  changed |= remove_condition(conds, kStalledCondition);
  return changed;
}

}  // namespace cairn::api
