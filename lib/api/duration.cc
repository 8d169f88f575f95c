#include "api/duration.h"

#include <cstdint>
#include <limits>

namespace cairn::api {
namespace {

constexpr std::int64_t kNs = 1;
constexpr std::int64_t kUs = 1000 * kNs;
constexpr std::int64_t kMs = 1000 * kUs;
constexpr std::int64_t kS = 1000 * kMs;
constexpr std::int64_t kMin = 60 * kS;
constexpr std::int64_t kHour = 60 * kMin;

std::string quoted(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out = "\"";
  if (s.size() > kMax) {
    std::size_t n = kMax;  // not inside a UTF-8 sequence
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    out.append(s.substr(0, n)).append("...");
  } else {
    out.append(s);
  }
  return out + "\"";
}

std::unexpected<std::string> bad(std::string_view s, std::string_view why) {
  return std::unexpected(quoted(s) + " is not a duration: " + std::string(why) +
                         " (use e.g. 30s, 5m, 1h30m, 500ms)");
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view s) {
  if (s.empty()) return bad(s, "empty");
  // Durations are computed in nanoseconds, like Go, and bounded like Go's
  // (about 292 years), so a hostile "99999999999h" is an error, not an overflow.
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t start = i;
    std::int64_t whole = 0;
    bool overflow = false;
    while (i < s.size() && is_digit(s[i])) {
      if (whole > (max - (s[i] - '0')) / 10) overflow = true;
      if (!overflow) whole = whole * 10 + (s[i] - '0');
      ++i;
    }
    if (i == start) {
      return bad(s, i < s.size() && (s[i] == '-' || s[i] == '+')
                        ? "a sign is not allowed"
                        : "expected a number at offset " + std::to_string(i));
    }
    // Like Go: the fraction's digits as an integer and its scale, digits past
    // what fits ignored; 1.001s is exactly 1001ms.
    std::int64_t frac = 0;
    long double scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      std::size_t fstart = i;
      for (; i < s.size() && is_digit(s[i]); ++i) {
        if (frac > (max - 9) / 10) continue;
        frac = frac * 10 + (s[i] - '0');
        scale *= 10;
      }
      if (i == fstart) return bad(s, "expected digits after '.'");
    }
    std::size_t ustart = i;
    while (i < s.size() && !is_digit(s[i]) && s[i] != '.') ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    std::int64_t mult = 0;
    if (unit == "ns") {
      mult = kNs;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = kUs;  // U+00B5 micro sign and U+03BC Greek mu, as Go accepts
    } else if (unit == "ms") {
      mult = kMs;
    } else if (unit == "s") {
      mult = kS;
    } else if (unit == "m") {
      mult = kMin;
    } else if (unit == "h") {
      mult = kHour;
    } else if (unit.empty()) {
      return bad(s, "missing unit (ns, us, ms, s, m or h)");
    } else {
      return bad(s, "unknown unit " + quoted(unit) + " (use ns, us, ms, s, m or h)");
    }
    if (overflow || whole > max / mult) return bad(s, "too large");
    std::int64_t v = whole * mult;
    auto fv = static_cast<std::int64_t>(static_cast<long double>(frac) *
                                        (static_cast<long double>(mult) / scale));
    if (v > max - fv) return bad(s, "too large");
    v += fv;
    if (total > max - v) return bad(s, "too large");
    total += v;
  }
  return std::chrono::milliseconds(total / kMs);
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string sign;
  if (ms < 0) {
    sign = "-";
    // Negating the minimum would overflow; it is ~292 million years anyway.
    ms = ms == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max()
                                                        : -ms;
  }
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  std::string out = sign;
  std::int64_t h = ms / (kHour / kMs);
  ms %= kHour / kMs;
  std::int64_t m = ms / (kMin / kMs);
  ms %= kMin / kMs;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(ms / 1000);
  if (std::int64_t frac = ms % 1000; frac != 0) {
    std::string f = std::to_string(frac);
    f.insert(0, 3 - f.size(), '0');
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "s";
}

}  // namespace cairn::api
