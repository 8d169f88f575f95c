// Go's time package, as far as sprig's date functions and templates need it:
// time.Time (an instant, a location and, for now(), a monotonic reading),
// Location (UTC, fixed zones, Local and IANA zones read from the system's
// zoneinfo as Go's LoadLocation does), Format/Parse with Go's reference
// layouts, and Duration's parsing and printing.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "helm/value.h"

namespace cairn::helm::gotime {

inline constexpr std::int64_t kSecond = 1'000'000'000;

// A *time.Location: zone types and the transitions between them.
struct Location {
  struct Zone {
    std::string abbr;
    int offset = 0;  // seconds east of UTC
    bool dst = false;
  };
  std::string name;
  std::vector<Zone> zones;                                // at least one
  std::vector<std::pair<std::int64_t, int>> transitions;  // unix second, zone index

  // The zone in effect at a unix second.
  const Zone& lookup(std::int64_t unix) const;
};
using Loc = std::shared_ptr<const Location>;

Loc utc();
// time.FixedZone(name, offset).
Loc fixed_zone(const std::string& name, int offset);
// time.Local: $TZ ("" is UTC, else a zoneinfo name or path), else
// /etc/localtime, else UTC. Read on each call (no cache of $TZ).
Loc local();
// time.LoadLocation: "" and "UTC" are UTC, "Local" is local(), anything
// else a file under /usr/share/zoneinfo (TZif). The error is Go's.
std::expected<Loc, std::string> load_location(const std::string& name);

struct Time {
  std::int64_t unix = -62135596800;  // the zero Time: January 1, year 1, UTC
  std::int32_t nsec = 0;
  Loc loc;                           // null is UTC
  std::optional<std::int64_t> mono;  // ns since process start, from now()

  const Location& location() const;
  bool is_zero() const { return unix == -62135596800 && nsec == 0; }
  Time in(Loc l) const { return Time{unix, nsec, std::move(l), std::nullopt}; }
  Time add(std::int64_t d) const;  // t.Add(Duration); keeps the monotonic reading
};

// time.Now() in Local, with a monotonic reading.
Time now();
// time.Unix(sec, 0) in Local.
Time from_unix(std::int64_t sec);
// time.Date(year, month, day, hour, min, sec, nsec, loc), normalising.
Time date(std::int64_t year, std::int64_t month, std::int64_t day, std::int64_t hour,
          std::int64_t min, std::int64_t sec, std::int64_t nsec, Loc loc);

// t.Format(layout) and t.String().
std::string format(const Time& t, const std::string& layout);
std::string to_string(const Time& t);
// time.ParseInLocation(layout, value, loc); the error is Go's ParseError.
std::expected<Time, std::string> parse(const std::string& layout, const std::string& value,
                                       const Loc& loc);

// time.ParseDuration and Duration.String.
std::expected<std::int64_t, std::string> parse_duration(const std::string& s);
std::string duration_string(std::int64_t d);

// A time.Time as a template value (an Object named "time.Time").
Value make_value(Time t);
// The time a value holds, if it is a time.Time.
const Time* as_time(const Value& v);

}  // namespace cairn::helm::gotime
