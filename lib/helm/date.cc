// sprig's date functions (Masterminds/sprig v3.2.3 date.go), with its
// quirks: a date that is neither a time.Time nor an int/int64 (a float64
// from values, a string) is the current time; an unknown zone is UTC;
// duration and durationRound take a string or an int64 (an int literal is
// 0s); toDate and dateModify give the zero time / the time unchanged where
// their must* twins fail.
#include <charconv>

#include "helm/functions.h"
#include "helm/gotime.h"

namespace cairn::helm {
namespace {

using R = std::expected<Value, std::string>;
using Args = std::vector<Value>;
namespace gt = gotime;

// The time sprig's dateInZone/dateAgo make of their argument.
gt::Time time_arg(const Value& v) {
  if (const gt::Time* t = gt::as_time(v)) return *t;
  if (v.is_int()) return gt::from_unix(v.as_int());
  return gt::now();
}

// time.Since(t): by the monotonic readings when both have one.
std::int64_t since(const gt::Time& t) {
  gt::Time n = gt::now();
  if (t.mono) return *n.mono - *t.mono;
  return (n.unix - t.unix) * gt::kSecond + (n.nsec - t.nsec);
}

std::string date_in_zone(const std::string& layout, const Value& date, const std::string& zone) {
  gt::Time t = time_arg(date);
  auto loc = gt::load_location(zone);
  return gt::format(t.in(loc ? *loc : gt::utc()), layout);
}

// Duration.Round(m), as Go (halves away from zero).
std::int64_t round_duration(std::int64_t d, std::int64_t m) {
  auto less_than_half = [](std::int64_t x, std::int64_t y) {
    return static_cast<std::uint64_t>(x) + static_cast<std::uint64_t>(x) <
           static_cast<std::uint64_t>(y);
  };
  std::int64_t r = d % m;
  if (d < 0) {
    r = -r;
    if (less_than_half(r, m)) return d + r;
    return d - m + r;
  }
  if (less_than_half(r, m)) return d - r;
  return d + m - r;
}

std::string duration_round(const Value& v) {
  std::int64_t d = 0;
  if (v.is_string()) {
    d = gt::parse_duration(v.as_string()).value_or(0);
  } else if (v.is_int() && v.int_type() == Value::IntType::kInt64) {
    d = v.as_int();
  } else if (const gt::Time* t = gt::as_time(v)) {
    d = since(*t);
  }
  std::uint64_t u = static_cast<std::uint64_t>(d);
  if (d < 0) u = -u;
  constexpr std::uint64_t kSec = gt::kSecond, kMin = 60 * kSec, kHour = 60 * kMin,
                          kDay = 24 * kHour, kMonth = 30 * kDay, kYear = 365 * kDay;
  if (u > kYear) return std::to_string(u / kYear) + "y";
  if (u > kMonth) return std::to_string(u / kMonth) + "mo";
  if (u > kDay) return std::to_string(u / kDay) + "d";
  if (u > kHour) return std::to_string(u / kHour) + "h";
  if (u > kMin) return std::to_string(u / kMin) + "m";
  if (u > kSec) return std::to_string(u / kSec) + "s";
  return "0s";
}

std::string duration(const Value& v) {
  std::int64_t n = 0;
  if (v.is_string()) {
    // strconv.ParseInt(s, 10, 64), 0 on error.
    std::string s = v.as_string();
    if (!s.empty() && s[0] == '+') s.erase(0, 1);
    std::int64_t out = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out, 10);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty()) n = out;
  } else if (v.is_int() && v.int_type() == Value::IntType::kInt64) {
    n = v.as_int();
  }
  // time.Duration(n) * time.Second wraps as Go's int64 does.
  return gt::duration_string(
      static_cast<std::int64_t>(static_cast<std::uint64_t>(n) * gt::kSecond));
}

R date_modify(const Args& a, bool must) {
  const gt::Time& t = *gt::as_time(a[1]);
  auto d = gt::parse_duration(a[0].as_string());
  if (!d) {
    if (must) return std::unexpected(d.error());
    return a[1];
  }
  return gt::make_value(t.add(*d));
}

R to_date(const Args& a, bool must) {
  auto t = gt::parse(a[0].as_string(), a[1].as_string(), gt::local());
  if (!t) {
    if (must) return std::unexpected(t.error());
    return gt::make_value(gt::Time{});
  }
  return gt::make_value(*t);
}

}  // namespace

void add_date_funcs(FuncMap& m) {
  using P = Param;
  auto add = [&](const char* name, std::vector<Param> params, Func fn) {
    m[name] = FuncSpec{std::move(fn), std::move(params)};
  };
  add("now", {}, [](FuncContext&, Args&) -> R { return gt::make_value(gt::now()); });
  add("date", {P::kString, P::kAny}, [](FuncContext&, Args& a) -> R {
    return Value(date_in_zone(a[0].as_string(), a[1], "Local"));
  });
  add("dateInZone", {P::kString, P::kAny, P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(date_in_zone(a[0].as_string(), a[1], a[2].as_string()));
  });
  m["date_in_zone"] = m["dateInZone"];
  add("htmlDate", {P::kAny},
      [](FuncContext&, Args& a) -> R { return Value(date_in_zone("2006-01-02", a[0], "Local")); });
  add("htmlDateInZone", {P::kAny, P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(date_in_zone("2006-01-02", a[0], a[1].as_string()));
  });
  add("dateModify", {P::kString, P::kTime},
      [](FuncContext&, Args& a) -> R { return date_modify(a, false); });
  m["date_modify"] = m["dateModify"];
  add("mustDateModify", {P::kString, P::kTime},
      [](FuncContext&, Args& a) -> R { return date_modify(a, true); });
  m["must_date_modify"] = m["mustDateModify"];
  add("toDate", {P::kString, P::kString},
      [](FuncContext&, Args& a) -> R { return to_date(a, false); });
  add("mustToDate", {P::kString, P::kString},
      [](FuncContext&, Args& a) -> R { return to_date(a, true); });
  add("unixEpoch", {P::kTime},
      [](FuncContext&, Args& a) -> R { return Value(std::to_string(gt::as_time(a[0])->unix)); });
  add("ago", {P::kAny}, [](FuncContext&, Args& a) -> R {
    return Value(gt::duration_string(round_duration(since(time_arg(a[0])), gt::kSecond)));
  });
  add("duration", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(duration(a[0])); });
  add("durationRound", {P::kAny},
      [](FuncContext&, Args& a) -> R { return Value(duration_round(a[0])); });
}

}  // namespace cairn::helm
