#include "manifest/match.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace cairn::manifest {

using json = cairn::json;

namespace {

bool is_empty(const json& v) {
  return v.is_null() || ((v.is_object() || v.is_array()) && v.empty());
}

bool is_quantity_map(std::string_view key) {
  return key == "limits" || key == "requests" || key == "hard" || key == "capacity" ||
         key == "overhead" || key == "allocatable";
}

bool ignored(const std::string& dotted, const std::vector<std::string>& ignore) {
  return std::find(ignore.begin(), ignore.end(), dotted) != ignore.end();
}

bool same_scalar(const json& want, const json& got, bool quantities) {
  if (want.is_number() && got.is_number()) {
    if (want.is_number_float() || got.is_number_float())
      return want.get<double>() == got.get<double>();
    if (want.is_number_unsigned() || got.is_number_unsigned()) {
      if (want.is_number_integer() && !want.is_number_unsigned() && want.get<int64_t>() < 0)
        return false;
      if (got.is_number_integer() && !got.is_number_unsigned() && got.get<int64_t>() < 0)
        return false;
      return want.get<uint64_t>() == got.get<uint64_t>();
    }
    return want.get<int64_t>() == got.get<int64_t>();
  }
  if (want == got) return true;
  if (!quantities) return false;
  // A quantity may be written as a number or a string in a manifest; the
  // apiserver stores its canonical string.
  auto as_q = [](const json& v) -> std::optional<long double> {
    if (v.is_string()) return parse_quantity(v.get_ref<const std::string&>());
    if (v.is_number()) return static_cast<long double>(v.get<double>());
    return std::nullopt;
  };
  auto a = as_q(want), b = as_q(got);
  if (!a || !b) return false;
  if (*a == *b) return true;
  return std::fabs(*a - *b) <= 1e-9L * std::max(std::fabs(*a), std::fabs(*b));
}

// path: for messages ("a.b[0].c"); dotted: for the ignore list ("a.b.c").
std::optional<Difference> diff(const json& want, const json& got, const std::string& path,
                               const std::string& dotted, bool quantities,
                               const std::vector<std::string>& ignore) {
  if (!dotted.empty() && ignored(dotted, ignore)) return std::nullopt;
  if (want.is_object()) {
    if (!got.is_object()) return Difference{path, "differs from git"};
    for (auto it = want.begin(); it != want.end(); ++it) {
      const std::string& key = it.key();
      std::string p = path.empty() ? key : path + "." + key;
      std::string d = dotted.empty() ? key : dotted + "." + key;
      auto g = got.find(key);
      if (g == got.end()) {
        if (is_empty(*it) || ignored(d, ignore)) continue;
        return Difference{p, "is missing (git sets it)"};
      }
      if (auto r = diff(*it, *g, p, d, quantities || is_quantity_map(key), ignore)) return r;
    }
    return std::nullopt;
  }
  if (want.is_array()) {
    if (!got.is_array()) return Difference{path, "differs from git"};
    if (want.size() != got.size())
      return Difference{path, "has " + std::to_string(got.size()) + " items, git has " +
                                  std::to_string(want.size())};
    for (size_t i = 0; i < want.size(); ++i) {
      if (auto r = diff(want[i], got[i], path + "[" + std::to_string(i) + "]", dotted, quantities,
                        ignore))
        return r;
    }
    return std::nullopt;
  }
  if (want.is_null()) return std::nullopt;  // unset in git: anything goes
  if (!same_scalar(want, got, quantities)) return Difference{path, "differs from git"};
  return std::nullopt;
}

}  // namespace

std::optional<Difference> first_difference(const json& manifest, const json& live,
                                           const std::vector<std::string>& ignore) {
  return diff(manifest, live, "", "", false, ignore);
}

std::optional<long double> parse_quantity(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  size_t i = 0;
  bool neg = false;
  if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
  size_t start = i;
  bool digits = false, dot = false;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
    if (s[i] == '.') {
      if (dot) return std::nullopt;
      dot = true;
    } else {
      digits = true;
    }
    ++i;
  }
  if (!digits) return std::nullopt;
  std::string num(s.substr(start, i - start));
  long double v = std::strtold(num.c_str(), nullptr);
  std::string_view suffix = s.substr(i);
  long double mult = 1, div = 1;  // divide for n/u/m so "500m" is exactly 0.5
  if (suffix.empty()) {
  } else if (suffix == "Ki") {
    mult = 1024.0L;
  } else if (suffix == "Mi") {
    mult = std::pow(1024.0L, 2);
  } else if (suffix == "Gi") {
    mult = std::pow(1024.0L, 3);
  } else if (suffix == "Ti") {
    mult = std::pow(1024.0L, 4);
  } else if (suffix == "Pi") {
    mult = std::pow(1024.0L, 5);
  } else if (suffix == "Ei") {
    mult = std::pow(1024.0L, 6);
  } else if (suffix == "n") {
    div = 1e9L;
  } else if (suffix == "u") {
    div = 1e6L;
  } else if (suffix == "m") {
    div = 1e3L;
  } else if (suffix == "k") {
    mult = 1e3L;
  } else if (suffix == "M") {
    mult = 1e6L;
  } else if (suffix == "G") {
    mult = 1e9L;
  } else if (suffix == "T") {
    mult = 1e12L;
  } else if (suffix == "P") {
    mult = 1e15L;
  } else if (suffix == "E") {
    mult = 1e18L;
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string_view e = suffix.substr(1);
    size_t j = 0;
    if (j < e.size() && (e[j] == '+' || e[j] == '-')) ++j;
    if (j == e.size() || e.size() > 6) return std::nullopt;
    for (size_t k = j; k < e.size(); ++k)
      if (!std::isdigit(static_cast<unsigned char>(e[k]))) return std::nullopt;
    long exp = std::strtol(std::string(e).c_str(), nullptr, 10);
    (exp < 0 ? div : mult) = std::pow(10.0L, exp < 0 ? -exp : exp);
  } else {
    return std::nullopt;
  }
  return (neg ? -v : v) * mult / div;
}

}  // namespace cairn::manifest
