// Internal to lib/api: the API spelling of each enumeration, in declaration
// order, and reading an enumeration from JSON.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "api/json_reader.h"
#include "api/types.h"

namespace cairn::api::detail {

template <typename E>
struct EnumNames;

template <>
struct EnumNames<VerifyMode> {
  static constexpr std::array<std::string_view, 2> kNames{"none", "head"};
};
template <>
struct EnumNames<Trigger> {
  static constexpr std::array<std::string_view, 3> kNames{"poll", "push", "manual"};
};
template <>
struct EnumNames<RunPhase> {
  static constexpr std::array<std::string_view, 5> kNames{"Pending", "Running", "Succeeded",
                                                          "Failed", "Cancelled"};
};
template <>
struct EnumNames<StepPhase> {
  static constexpr std::array<std::string_view, 6> kNames{"Pending", "Running", "Succeeded",
                                                          "Failed",  "Skipped", "Cancelled"};
};
template <>
struct EnumNames<ReleasePhase> {
  static constexpr std::array<std::string_view, 4> kNames{"Progressing", "Deployed", "Failed",
                                                          "RolledBack"};
};
template <>
struct EnumNames<HistoryResult> {
  static constexpr std::array<std::string_view, 3> kNames{"Deployed", "Failed", "RolledBack"};
};
template <>
struct EnumNames<NotifyEvent> {
  static constexpr std::array<std::string_view, 6> kNames{
      "RunSucceeded", "RunFailed", "Deployed", "Failed", "RolledBack", "DriftCorrected"};
};

template <typename E>
std::string_view enum_name(E e) {
  const auto& names = EnumNames<E>::kNames;
  auto i = static_cast<std::size_t>(e);
  return i < names.size() ? names[i] : std::string_view("?");
}

template <typename E>
bool enum_parse(std::string_view s, E& out) {
  const auto& names = EnumNames<E>::kNames;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == s) {
      out = static_cast<E>(i);
      return true;
    }
  }
  return false;
}

// "none or head", "Pending, Running, Succeeded, Failed or Cancelled"
template <typename E>
std::string enum_choices() {
  const auto& names = EnumNames<E>::kNames;
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out.append(names[i]);
  }
  return out;
}

template <typename E>
std::string enum_error(std::string_view got) {
  return "must be " + enum_choices<E>() + ", not " + quote(got);
}

// The enumeration at o.key; absent, or wrong (reported), gives nullopt.
template <typename E>
std::optional<E> read_enum(const Object& o, std::string_view key) {
  auto s = o.string(key);
  if (!s) return std::nullopt;
  E e{};
  if (enum_parse(*s, e)) return e;
  o.errors().add(o.path(key), enum_error<E>(*s));
  return std::nullopt;
}

}  // namespace cairn::api::detail
