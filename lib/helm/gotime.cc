// Go's time package (go1.19 src/time/format.go, time.go, zoneinfo*.go),
// ported for sprig's date functions. Not ported: the POSIX TZ rule at the
// end of a TZif file (Go uses it after the last transition; Debian's "fat"
// zoneinfo files list transitions to 2037), leap seconds (Go ignores them
// too) and $ZONEINFO.
#include "helm/gotime.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>

namespace cairn::helm::gotime {
namespace {

constexpr std::int64_t kSecsPerDay = 86400;

// ------------------------------------------------------------ calendar

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
std::int64_t days_from_civil(std::int64_t y, std::int64_t m, std::int64_t d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  std::int64_t year;
  int month, day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool is_leap(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int days_in(int month, std::int64_t year) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && is_leap(year)) return 29;
  return kDays[month - 1];
}

const char* const kLongMonths[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};
const char* const kShortMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char* const kLongDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};
const char* const kShortDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// The broken-down local time of t.
struct Fields {
  std::int64_t year;
  int month, day, yday, hour, min, sec, weekday;
  std::string zone;
  int offset;
};

Fields fields(const Time& t) {
  const Location::Zone& z = t.location().lookup(t.unix);
  std::int64_t local = t.unix + z.offset;
  std::int64_t days = floor_div(local, kSecsPerDay);
  std::int64_t secs = local - days * kSecsPerDay;
  Civil c = civil_from_days(days);
  Fields f;
  f.year = c.year;
  f.month = c.month;
  f.day = c.day;
  f.yday = static_cast<int>(days - days_from_civil(c.year, 1, 1)) + 1;
  f.hour = static_cast<int>(secs / 3600);
  f.min = static_cast<int>(secs / 60 % 60);
  f.sec = static_cast<int>(secs % 60);
  f.weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  f.zone = z.abbr;
  f.offset = z.offset;
  return f;
}

// ------------------------------------------------------------ zones

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// A TZif file (RFC 8536), its 64-bit data when there is any.
std::optional<Location> parse_tzif(const std::string& data, const std::string& name) {
  auto u = [&](std::size_t i) { return reinterpret_cast<const unsigned char*>(data.data()) + i; };
  if (data.size() < 44 || data.compare(0, 4, "TZif") != 0) return std::nullopt;
  std::size_t pos = 0;
  int tsize = 4;
  auto counts = [&](std::size_t at, std::uint32_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = be32(u(at + 20 + 4 * i));
  };
  std::uint32_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  counts(0, c);
  if (data[4] >= '2') {
    std::size_t v1 = 44 + std::size_t{c[3]} * 5 + std::size_t{c[4]} * 6 + c[5] +
                     std::size_t{c[2]} * 8 + c[1] + c[0];
    if (data.size() < v1 + 44 || data.compare(v1, 4, "TZif") != 0) return std::nullopt;
    pos = v1;
    tsize = 8;
    counts(pos, c);
  }
  pos += 44;
  const std::size_t timecnt = c[3], typecnt = c[4], charcnt = c[5];
  if (typecnt == 0 || data.size() < pos + timecnt * (tsize + 1) + typecnt * 6 + charcnt)
    return std::nullopt;
  Location loc;
  loc.name = name;
  std::vector<std::int64_t> when(timecnt);
  for (std::size_t i = 0; i < timecnt; ++i) {
    if (tsize == 8) {
      std::uint64_t v = (std::uint64_t{be32(u(pos))} << 32) | be32(u(pos + 4));
      when[i] = static_cast<std::int64_t>(v);
    } else {
      when[i] = static_cast<std::int32_t>(be32(u(pos)));
    }
    pos += tsize;
  }
  std::vector<int> idx(timecnt);
  for (std::size_t i = 0; i < timecnt; ++i) idx[i] = *u(pos + i);
  pos += timecnt;
  const std::size_t types_at = pos, chars_at = pos + typecnt * 6;
  for (std::size_t i = 0; i < typecnt; ++i) {
    const std::size_t at = types_at + i * 6;
    Location::Zone z;
    z.offset = static_cast<std::int32_t>(be32(u(at)));
    z.dst = *u(at + 4) != 0;
    std::size_t ai = *u(at + 5);
    if (ai < charcnt) {
      std::size_t e = ai;
      while (e < charcnt && data[chars_at + e] != '\0') ++e;
      z.abbr = data.substr(chars_at + ai, e - ai);
    }
    loc.zones.push_back(z);
  }
  for (std::size_t i = 0; i < timecnt; ++i) {
    if (idx[i] >= static_cast<int>(typecnt)) return std::nullopt;
    loc.transitions.emplace_back(when[i], idx[i]);
  }
  return loc;
}

std::optional<Loc> load_file(const std::string& path, const std::string& name) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, Loc> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find({path, name}); it != cache.end()) return it->second;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  auto loc = parse_tzif(ss.str(), name);
  if (!loc) return std::nullopt;
  Loc out = std::make_shared<const Location>(std::move(*loc));
  cache[{path, name}] = out;
  return out;
}

const auto kProcessStart = std::chrono::steady_clock::now();

// ------------------------------------------------------------ layouts

enum Std {
  stdNone,
  stdLongMonth,
  stdMonth,
  stdNumMonth,
  stdZeroMonth,
  stdLongWeekDay,
  stdWeekDay,
  stdDay,
  stdUnderDay,
  stdZeroDay,
  stdUnderYearDay,
  stdZeroYearDay,
  stdHour,
  stdHour12,
  stdZeroHour12,
  stdMinute,
  stdZeroMinute,
  stdSecond,
  stdZeroSecond,
  stdLongYear,
  stdYear,
  stdPM,
  stdpm,
  stdTZ,
  stdISO8601TZ,
  stdISO8601SecondsTZ,
  stdISO8601ShortTZ,
  stdISO8601ColonTZ,
  stdISO8601ColonSecondsTZ,
  stdNumTZ,
  stdNumSecondsTz,
  stdNumShortTZ,
  stdNumColonTZ,
  stdNumColonSecondsTZ,
  stdFracSecond0,
  stdFracSecond9,
};

struct Chunk {
  std::size_t prefix = 0;  // literal text before the element
  Std std = stdNone;
  std::size_t len = 0;  // the element's length in the layout
  int digits = 0;       // fractional seconds
  char sep = '.';
};

bool starts_lower(const std::string& s, std::size_t i) {
  return i < s.size() && s[i] >= 'a' && s[i] <= 'z';
}
bool is_digit(const std::string& s, std::size_t i) {
  return i < s.size() && s[i] >= '0' && s[i] <= '9';
}

// Go's nextStdChunk.
Chunk next_chunk(const std::string& l) {
  auto at = [&](std::size_t i, const char* lit) {
    return l.compare(i, std::strlen(lit), lit) == 0;
  };
  auto mk = [](std::size_t i, Std s, std::size_t n) { return Chunk{i, s, n, 0, '.'}; };
  for (std::size_t i = 0; i < l.size(); ++i) {
    switch (l[i]) {
      case 'J':
        if (at(i, "Jan")) {
          if (at(i, "January")) return mk(i, stdLongMonth, 7);
          if (!starts_lower(l, i + 3)) return mk(i, stdMonth, 3);
        }
        break;
      case 'M':
        if (at(i, "Mon")) {
          if (at(i, "Monday")) return mk(i, stdLongWeekDay, 6);
          if (!starts_lower(l, i + 3)) return mk(i, stdWeekDay, 3);
        }
        if (at(i, "MST")) return mk(i, stdTZ, 3);
        break;
      case '0':
        if (i + 1 < l.size() && l[i + 1] >= '1' && l[i + 1] <= '6') {
          static const Std k0x[] = {stdZeroMonth,  stdZeroDay,    stdZeroHour12,
                                    stdZeroMinute, stdZeroSecond, stdYear};
          return mk(i, k0x[l[i + 1] - '1'], 2);
        }
        if (at(i, "002")) return mk(i, stdZeroYearDay, 3);
        break;
      case '1':
        if (at(i, "15")) return mk(i, stdHour, 2);
        return mk(i, stdNumMonth, 1);
      case '2':
        if (at(i, "2006")) return mk(i, stdLongYear, 4);
        return mk(i, stdDay, 1);
      case '_':
        if (at(i, "_2")) {
          if (at(i, "_2006")) return mk(i + 1, stdLongYear, 4);  // a literal _ and the year
          return mk(i, stdUnderDay, 2);
        }
        if (at(i, "__2")) return mk(i, stdUnderYearDay, 3);
        break;
      case '3':
        return mk(i, stdHour12, 1);
      case '4':
        return mk(i, stdMinute, 1);
      case '5':
        return mk(i, stdSecond, 1);
      case 'P':
        if (at(i, "PM")) return mk(i, stdPM, 2);
        break;
      case 'p':
        if (at(i, "pm")) return mk(i, stdpm, 2);
        break;
      case '-':
        if (at(i, "-070000")) return mk(i, stdNumSecondsTz, 7);
        if (at(i, "-07:00:00")) return mk(i, stdNumColonSecondsTZ, 9);
        if (at(i, "-0700")) return mk(i, stdNumTZ, 5);
        if (at(i, "-07:00")) return mk(i, stdNumColonTZ, 6);
        if (at(i, "-07")) return mk(i, stdNumShortTZ, 3);
        break;
      case 'Z':
        if (at(i, "Z070000")) return mk(i, stdISO8601SecondsTZ, 7);
        if (at(i, "Z07:00:00")) return mk(i, stdISO8601ColonSecondsTZ, 9);
        if (at(i, "Z0700")) return mk(i, stdISO8601TZ, 5);
        if (at(i, "Z07:00")) return mk(i, stdISO8601ColonTZ, 6);
        if (at(i, "Z07")) return mk(i, stdISO8601ShortTZ, 3);
        break;
      case '.':
      case ',':
        if (i + 1 < l.size() && (l[i + 1] == '0' || l[i + 1] == '9')) {
          char ch = l[i + 1];
          std::size_t j = i + 1;
          while (j < l.size() && l[j] == ch) ++j;
          if (!is_digit(l, j)) {
            Chunk c = mk(i, ch == '0' ? stdFracSecond0 : stdFracSecond9, j - i);
            c.digits = static_cast<int>(j - (i + 1));
            c.sep = l[i];
            return c;
          }
        }
        break;
      default:
        break;
    }
  }
  return Chunk{l.size(), stdNone, 0, 0, '.'};
}

std::string pad_int(std::int64_t v, int width) {
  std::string s = std::to_string(v < 0 ? -v : v);
  if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), '0');
  return v < 0 ? "-" + s : s;
}

bool is_iso(Std s) {
  return s == stdISO8601TZ || s == stdISO8601ColonTZ || s == stdISO8601SecondsTZ ||
         s == stdISO8601ShortTZ || s == stdISO8601ColonSecondsTZ;
}

void append_offset(std::string& b, Std std, int offset) {
  if (offset == 0 && is_iso(std)) {
    b += 'Z';
    return;
  }
  int zone = offset / 60;
  int absoffset = offset;
  if (zone < 0) {
    b += '-';
    zone = -zone;
    absoffset = -absoffset;
  } else {
    b += '+';
  }
  b += pad_int(zone / 60, 2);
  bool colon = std == stdISO8601ColonTZ || std == stdNumColonTZ ||
               std == stdISO8601ColonSecondsTZ || std == stdNumColonSecondsTZ;
  if (colon) b += ':';
  if (std != stdNumShortTZ && std != stdISO8601ShortTZ) b += pad_int(zone % 60, 2);
  if (std == stdISO8601SecondsTZ || std == stdNumSecondsTz || std == stdNumColonSecondsTZ ||
      std == stdISO8601ColonSecondsTZ) {
    if (colon) b += ':';
    b += pad_int(absoffset % 60, 2);
  }
}

// Go's quote (enough of it: quotes and backslashes escaped).
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Go's leadingInt: the digits at the start of s; false on overflow.
bool leading_int(std::string_view& s, std::uint64_t& x) {
  x = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (x > (std::uint64_t{1} << 63) / 10) return false;
    x = x * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (x > (std::uint64_t{1} << 63)) return false;
  }
  s.remove_prefix(i);
  return true;
}

// Go's atoi: an optionally signed integer and nothing else.
bool go_atoi(std::string_view s, int& out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  std::uint64_t x;
  if (!leading_int(s, x) || !s.empty() || x > 0x7fffffff) return false;
  out = neg ? -static_cast<int>(x) : static_cast<int>(x);
  return true;
}

bool getnum(std::string_view& s, bool fixed, int& out) {
  auto dig = [&](std::size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  if (!dig(0)) return false;
  if (!dig(1)) {
    if (fixed) return false;
    out = s[0] - '0';
    s.remove_prefix(1);
    return true;
  }
  out = (s[0] - '0') * 10 + (s[1] - '0');
  s.remove_prefix(2);
  return true;
}

bool getnum3(std::string_view& s, bool fixed, int& out) {
  int n = 0;
  std::size_t i = 0;
  for (; i < 3 && i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) n = n * 10 + (s[i] - '0');
  if (i == 0 || (fixed && i != 3)) return false;
  out = n;
  s.remove_prefix(i);
  return true;
}

// Go's lookup: a case-insensitive prefix match against a table.
bool lookup_name(const char* const* table, int n, std::string_view& s, int& out) {
  for (int i = 0; i < n; ++i) {
    std::string_view t = table[i];
    if (s.size() < t.size()) continue;
    bool ok = true;
    for (std::size_t j = 0; j < t.size() && ok; ++j)
      ok = std::tolower(static_cast<unsigned char>(s[j])) ==
           std::tolower(static_cast<unsigned char>(t[j]));
    if (ok) {
      out = i;
      s.remove_prefix(t.size());
      return true;
    }
  }
  return false;
}

std::size_t parse_signed_offset(std::string_view v) {
  if (v.empty() || (v[0] != '-' && v[0] != '+')) return 0;
  std::string_view rest = v.substr(1);
  std::uint64_t x;
  if (!leading_int(rest, x) || rest.size() == v.size() - 1 || x > 12) return 0;
  return v.size() - rest.size();
}

// Go's parseTimeZone: the length of a zone abbreviation at the start of v.
std::size_t parse_time_zone(std::string_view v) {
  if (v.size() < 3) return 0;
  if (v.size() >= 4 && (v.substr(0, 4) == "ChST" || v.substr(0, 4) == "MeST")) return 4;
  if (v.substr(0, 3) == "GMT") return 3 + parse_signed_offset(v.substr(3));
  if (v[0] == '+' || v[0] == '-') return parse_signed_offset(v);
  std::size_t n = 0;
  while (n < 6 && n < v.size() && v[n] >= 'A' && v[n] <= 'Z') ++n;
  switch (n) {
    case 3:
      return 3;
    case 4:
      return v[3] == 'T' || v.substr(0, 4) == "WITA" ? 4 : 0;
    case 5:
      return v[4] == 'T' ? 5 : 0;
    default:
      return 0;
  }
}

// Go's parseNanoseconds: value starts with the separator.
bool parse_nanos(std::string_view v, std::size_t n, int& ns, std::string& range_err) {
  if (v.empty() || (v[0] != '.' && v[0] != ',')) return false;
  if (n > 10) n = 10;
  if (!go_atoi(v.substr(1, n - 1), ns)) return false;
  if (ns < 0) {
    range_err = "fractional second";
    return true;
  }
  for (std::size_t i = 0; i < 10 - n; ++i) ns *= 10;
  return true;
}

}  // namespace

// ------------------------------------------------------------ Location

const Location::Zone& Location::lookup(std::int64_t unix) const {
  if (transitions.empty() || unix < transitions.front().first) {
    // Go's lookupFirstZone.
    bool first_used = false;
    for (const auto& t : transitions) first_used = first_used || t.second == 0;
    if (!first_used) return zones[0];
    if (!transitions.empty() && zones[transitions.front().second].dst) {
      for (int zi = transitions.front().second - 1; zi >= 0; --zi)
        if (!zones[zi].dst) return zones[zi];
    }
    for (const auto& z : zones)
      if (!z.dst) return z;
    return zones[0];
  }
  auto it = std::upper_bound(transitions.begin(), transitions.end(), unix,
                             [](std::int64_t u, const auto& t) { return u < t.first; });
  return zones[std::prev(it)->second];
}

Loc utc() {
  static const Loc kUtc =
      std::make_shared<const Location>(Location{"UTC", {Location::Zone{"UTC", 0, false}}, {}});
  return kUtc;
}

Loc fixed_zone(const std::string& name, int offset) {
  return std::make_shared<const Location>(
      Location{name, {Location::Zone{name, offset, false}}, {}});
}

Loc local() {
  const char* tz = std::getenv("TZ");
  if (tz == nullptr) {
    if (auto l = load_file("/etc/localtime", "Local")) return *l;
  } else {
    std::string s = tz;
    if (!s.empty() && s[0] == ':') s.erase(0, 1);
    if (!s.empty() && s[0] == '/') {
      if (auto l = load_file(s, s == "/etc/localtime" ? "Local" : s)) return *l;
    } else if (!s.empty() && s != "UTC" && s.find("..") == std::string::npos) {
      if (auto l = load_file("/usr/share/zoneinfo/" + s, s)) return *l;
    }
  }
  return utc();
}

std::expected<Loc, std::string> load_location(const std::string& name) {
  if (name.empty() || name == "UTC") return utc();
  if (name == "Local") return local();
  if (name.find("..") != std::string::npos || name[0] == '/' || name[0] == '\\')
    return std::unexpected("time: invalid location name");
  if (auto l = load_file("/usr/share/zoneinfo/" + name, name)) return *l;
  return std::unexpected("unknown time zone " + name);
}

// ------------------------------------------------------------ Time

const Location& Time::location() const { return loc ? *loc : *utc(); }

Time Time::add(std::int64_t d) const {
  Time t = *this;
  std::int64_t dsec = d / kSecond;
  std::int64_t nsec = t.nsec + d % kSecond;
  if (nsec >= kSecond) {
    ++dsec;
    nsec -= kSecond;
  } else if (nsec < 0) {
    --dsec;
    nsec += kSecond;
  }
  t.unix += dsec;
  t.nsec = static_cast<std::int32_t>(nsec);
  if (t.mono) *t.mono += d;
  return t;
}

Time now() {
  auto sys = std::chrono::system_clock::now().time_since_epoch();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(sys).count();
  Time t;
  t.unix = floor_div(ns, kSecond);
  t.nsec = static_cast<std::int32_t>(ns - t.unix * kSecond);
  t.loc = local();
  t.mono = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                kProcessStart)
               .count() +
           1;
  return t;
}

Time from_unix(std::int64_t sec) { return Time{sec, 0, local(), std::nullopt}; }

Time date(std::int64_t year, std::int64_t month, std::int64_t day, std::int64_t hour,
          std::int64_t min, std::int64_t sec, std::int64_t nsec, Loc loc) {
  auto norm = [](std::int64_t& hi, std::int64_t& lo, std::int64_t base) {
    if (lo < 0) {
      std::int64_t n = (-lo - 1) / base + 1;
      hi -= n;
      lo += n * base;
    }
    if (lo >= base) {
      std::int64_t n = lo / base;
      hi += n;
      lo -= n * base;
    }
  };
  std::int64_t m = month - 1;
  norm(year, m, 12);
  norm(sec, nsec, kSecond);
  norm(min, sec, 60);
  norm(hour, min, 60);
  norm(day, hour, 24);
  std::int64_t days = days_from_civil(year, m + 1, 1) + day - 1;
  std::int64_t unix = days * kSecsPerDay + hour * 3600 + min * 60 + sec;
  if (!loc) loc = utc();
  // As Go: the offset in effect at the wall time read as UTC, corrected
  // when that guess lands on the other side of a transition.
  int offset = loc->lookup(unix).offset;
  if (offset != 0) {
    int other = loc->lookup(unix - offset).offset;
    if (other != offset) offset = other;
  }
  return Time{unix - offset, static_cast<std::int32_t>(nsec), std::move(loc), std::nullopt};
}

std::string format(const Time& t, const std::string& layout_in) {
  Fields f = fields(t);
  std::string b;
  std::string layout = layout_in;
  while (!layout.empty()) {
    Chunk c = next_chunk(layout);
    b.append(layout, 0, c.prefix);
    if (c.std == stdNone) break;
    layout.erase(0, c.prefix + c.len);
    switch (c.std) {
      case stdYear:
        b += pad_int((f.year < 0 ? -f.year : f.year) % 100, 2);
        break;
      case stdLongYear:
        b += pad_int(f.year, 4);
        break;
      case stdMonth:
        b += kShortMonths[f.month - 1];
        break;
      case stdLongMonth:
        b += kLongMonths[f.month - 1];
        break;
      case stdNumMonth:
        b += std::to_string(f.month);
        break;
      case stdZeroMonth:
        b += pad_int(f.month, 2);
        break;
      case stdWeekDay:
        b += kShortDays[f.weekday];
        break;
      case stdLongWeekDay:
        b += kLongDays[f.weekday];
        break;
      case stdDay:
        b += std::to_string(f.day);
        break;
      case stdUnderDay:
        if (f.day < 10) b += ' ';
        b += std::to_string(f.day);
        break;
      case stdZeroDay:
        b += pad_int(f.day, 2);
        break;
      case stdUnderYearDay:
        if (f.yday < 100) b += f.yday < 10 ? "  " : " ";
        b += std::to_string(f.yday);
        break;
      case stdZeroYearDay:
        b += pad_int(f.yday, 3);
        break;
      case stdHour:
        b += pad_int(f.hour, 2);
        break;
      case stdHour12:
      case stdZeroHour12: {
        int hr = f.hour % 12;
        if (hr == 0) hr = 12;
        b += pad_int(hr, c.std == stdZeroHour12 ? 2 : 0);
        break;
      }
      case stdMinute:
        b += std::to_string(f.min);
        break;
      case stdZeroMinute:
        b += pad_int(f.min, 2);
        break;
      case stdSecond:
        b += std::to_string(f.sec);
        break;
      case stdZeroSecond:
        b += pad_int(f.sec, 2);
        break;
      case stdPM:
        b += f.hour >= 12 ? "PM" : "AM";
        break;
      case stdpm:
        b += f.hour >= 12 ? "pm" : "am";
        break;
      case stdTZ:
        if (!f.zone.empty()) {
          b += f.zone;
        } else {
          int zone = f.offset / 60;
          b += zone < 0 ? '-' : '+';
          if (zone < 0) zone = -zone;
          b += pad_int(zone / 60, 2) + pad_int(zone % 60, 2);
        }
        break;
      case stdFracSecond0:
      case stdFracSecond9: {
        std::string digits = pad_int(t.nsec, 9);
        std::size_t n = std::min(c.digits, 9);
        if (c.std == stdFracSecond9) {
          while (n > 0 && digits[n - 1] == '0') --n;
          if (n == 0) break;
        }
        b += c.sep;
        b.append(digits, 0, n);
        break;
      }
      case stdNone:
        break;
      default:
        append_offset(b, c.std, f.offset);
        break;
    }
  }
  return b;
}

std::string to_string(const Time& t) {
  std::string s = format(t, "2006-01-02 15:04:05.999999999 -0700 MST");
  if (t.mono) {
    std::int64_t m = *t.mono;
    std::uint64_t u = m < 0 ? -static_cast<std::uint64_t>(m) : static_cast<std::uint64_t>(m);
    s += " m=";
    s += m < 0 ? '-' : '+';
    s += std::to_string(u / kSecond) + "." + pad_int(static_cast<std::int64_t>(u % kSecond), 9);
  }
  return s;
}

std::expected<Time, std::string> parse(const std::string& layout_in, const std::string& value_in,
                                       const Loc& local_loc) {
  std::string layout = layout_in;
  std::string_view value = value_in;
  std::string range_err;
  bool am = false, pm = false;
  int year = 0, month = -1, day = -1, yday = -1, hour = 0, min = 0, sec = 0, nsec = 0;
  Loc z;
  int zone_offset = -1;
  std::string zone_name;
  auto perr = [&](const std::string& layout_elem, std::string_view value_elem) {
    return std::unexpected("parsing time " + quote(value_in) + " as " + quote(layout_in) +
                           ": cannot parse " + quote(std::string(value_elem)) + " as " +
                           quote(layout_elem));
  };
  auto merr = [&](const std::string& msg) {
    return std::unexpected("parsing time " + quote(value_in) + msg);
  };
  for (;;) {
    Chunk c = next_chunk(layout);
    std::string prefix = layout.substr(0, c.prefix);
    std::string stdstr = layout.substr(c.prefix, c.len);
    // Go's skip: a space in the layout matches any run of spaces.
    {
      std::string_view p = prefix;
      bool ok = true;
      while (!p.empty()) {
        if (p[0] == ' ') {
          if (!value.empty() && value[0] != ' ') {
            ok = false;
            break;
          }
          while (!p.empty() && p[0] == ' ') p.remove_prefix(1);
          while (!value.empty() && value[0] == ' ') value.remove_prefix(1);
          continue;
        }
        if (value.empty() || value[0] != p[0]) {
          ok = false;
          break;
        }
        p.remove_prefix(1);
        value.remove_prefix(1);
      }
      if (!ok) return perr(prefix, value);
    }
    if (c.std == stdNone) {
      if (!value.empty()) return merr(": extra text: " + quote(std::string(value)));
      break;
    }
    layout.erase(0, c.prefix + c.len);
    bool ok = true;
    std::string_view hold = value;
    switch (c.std) {
      case stdYear:
        if (value.size() < 2 || !go_atoi(value.substr(0, 2), year)) {
          ok = false;
          break;
        }
        value.remove_prefix(2);
        year += year >= 69 ? 1900 : 2000;
        break;
      case stdLongYear:
        if (value.size() < 4 || !is_digit(std::string(value.substr(0, 1)), 0) ||
            !go_atoi(value.substr(0, 4), year)) {
          ok = false;
          break;
        }
        value.remove_prefix(4);
        break;
      case stdMonth:
        ok = lookup_name(kShortMonths, 12, value, month);
        ++month;
        break;
      case stdLongMonth:
        ok = lookup_name(kLongMonths, 12, value, month);
        ++month;
        break;
      case stdNumMonth:
      case stdZeroMonth:
        ok = getnum(value, c.std == stdZeroMonth, month);
        if (ok && (month <= 0 || month > 12)) range_err = "month";
        break;
      case stdWeekDay: {
        int ignore;
        ok = lookup_name(kShortDays, 7, value, ignore);
        break;
      }
      case stdLongWeekDay: {
        int ignore;
        ok = lookup_name(kLongDays, 7, value, ignore);
        break;
      }
      case stdDay:
      case stdUnderDay:
      case stdZeroDay:
        if (c.std == stdUnderDay && !value.empty() && value[0] == ' ') value.remove_prefix(1);
        ok = getnum(value, c.std == stdZeroDay, day);
        break;
      case stdUnderYearDay:
      case stdZeroYearDay:
        for (int i = 0; i < 2; ++i)
          if (c.std == stdUnderYearDay && !value.empty() && value[0] == ' ') value.remove_prefix(1);
        ok = getnum3(value, c.std == stdZeroYearDay, yday);
        break;
      case stdHour:
        ok = getnum(value, false, hour);
        if (hour < 0 || hour >= 24) range_err = "hour";
        break;
      case stdHour12:
      case stdZeroHour12:
        ok = getnum(value, c.std == stdZeroHour12, hour);
        if (hour < 0 || hour > 12) range_err = "hour";
        break;
      case stdMinute:
      case stdZeroMinute:
        ok = getnum(value, c.std == stdZeroMinute, min);
        if (min < 0 || min >= 60) range_err = "minute";
        break;
      case stdSecond:
      case stdZeroSecond: {
        ok = getnum(value, c.std == stdZeroSecond, sec);
        if (!ok) break;
        if (sec < 0 || sec >= 60) {
          range_err = "second";
          break;
        }
        // A fractional second after the seconds, even if the layout has none.
        if (value.size() >= 2 && (value[0] == '.' || value[0] == ',') && value[1] >= '0' &&
            value[1] <= '9') {
          Std next = next_chunk(layout).std;
          if (next == stdFracSecond0 || next == stdFracSecond9) break;
          std::size_t n = 2;
          while (n < value.size() && value[n] >= '0' && value[n] <= '9') ++n;
          ok = parse_nanos(value, n, nsec, range_err);
          value.remove_prefix(n);
        }
        break;
      }
      case stdPM:
      case stdpm: {
        if (value.size() < 2) {
          ok = false;
          break;
        }
        std::string_view p = value.substr(0, 2);
        value.remove_prefix(2);
        if (p == (c.std == stdPM ? "PM" : "pm"))
          pm = true;
        else if (p == (c.std == stdPM ? "AM" : "am"))
          am = true;
        else
          ok = false;
        break;
      }
      case stdTZ: {
        if (value.substr(0, 3) == "UTC") {
          z = utc();
          value.remove_prefix(3);
          break;
        }
        std::size_t n = parse_time_zone(value);
        if (n == 0) {
          ok = false;
          break;
        }
        zone_name = std::string(value.substr(0, n));
        value.remove_prefix(n);
        break;
      }
      case stdFracSecond0: {
        std::size_t nd = 1 + c.digits;
        if (value.size() < nd) {
          ok = false;
          break;
        }
        ok = parse_nanos(value, nd, nsec, range_err);
        value.remove_prefix(nd);
        break;
      }
      case stdFracSecond9: {
        if (value.size() < 2 || (value[0] != '.' && value[0] != ',') || value[1] < '0' ||
            value[1] > '9')
          break;
        std::size_t i = 0;
        while (i < 9 && i + 1 < value.size() && value[i + 1] >= '0' && value[i + 1] <= '9') ++i;
        ok = parse_nanos(value, 1 + i, nsec, range_err);
        value.remove_prefix(1 + i);
        break;
      }
      case stdNone:
        break;
      default: {  // numeric zone offsets
        if ((c.std == stdISO8601TZ || c.std == stdISO8601ShortTZ || c.std == stdISO8601ColonTZ) &&
            !value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          z = utc();
          break;
        }
        std::string_view sign, hh, mm, ss = "00";
        if (c.std == stdISO8601ColonTZ || c.std == stdNumColonTZ) {
          if (value.size() < 6 || value[3] != ':') {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2);
          value.remove_prefix(6);
        } else if (c.std == stdNumShortTZ || c.std == stdISO8601ShortTZ) {
          if (value.size() < 3) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = "00";
          value.remove_prefix(3);
        } else if (c.std == stdISO8601ColonSecondsTZ || c.std == stdNumColonSecondsTZ) {
          if (value.size() < 9 || value[3] != ':' || value[6] != ':') {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2),
          ss = value.substr(7, 2);
          value.remove_prefix(9);
        } else if (c.std == stdISO8601SecondsTZ || c.std == stdNumSecondsTz) {
          if (value.size() < 7) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2),
          ss = value.substr(5, 2);
          value.remove_prefix(7);
        } else {
          if (value.size() < 5) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2);
          value.remove_prefix(5);
        }
        int h = 0, m = 0, s = 0;
        ok = go_atoi(hh, h) && go_atoi(mm, m) && go_atoi(ss, s);
        zone_offset = (h * 60 + m) * 60 + s;
        if (sign[0] == '-')
          zone_offset = -zone_offset;
        else if (sign[0] != '+')
          ok = false;
        break;
      }
    }
    if (!range_err.empty()) return merr(": " + range_err + " out of range");
    if (!ok) {
      // Go reports the value from where the element failed.
      if (c.std == stdYear || c.std == stdLongYear) value = hold;
      return perr(stdstr, value);
    }
  }
  if (pm && hour < 12)
    hour += 12;
  else if (am && hour == 12)
    hour = 0;

  if (yday >= 0) {
    int d = 0, m = 0;
    if (is_leap(year)) {
      if (yday == 31 + 29) {
        m = 2;
        d = 29;
      } else if (yday > 31 + 29) {
        --yday;
      }
    }
    if (yday < 1 || yday > 365) return merr(": day-of-year out of range");
    if (m == 0) {
      static const int kBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
      m = (yday - 1) / 31 + 1;
      if (kBefore[m] < yday) ++m;
      d = yday - kBefore[m - 1];
    }
    if (month >= 0 && month != m) return merr(": day-of-year does not match month");
    month = m;
    if (day >= 0 && day != d) return merr(": day-of-year does not match day");
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > days_in(month, year)) return merr(": day out of range");

  if (z) return date(year, month, day, hour, min, sec, nsec, z);
  if (zone_offset != -1) {
    Time t = date(year, month, day, hour, min, sec, nsec, utc());
    t.unix -= zone_offset;
    const Location::Zone& lz = local_loc->lookup(t.unix);
    if (lz.offset == zone_offset && (zone_name.empty() || lz.abbr == zone_name)) {
      t.loc = local_loc;
      return t;
    }
    t.loc = fixed_zone(zone_name, zone_offset);
    return t;
  }
  if (!zone_name.empty()) {
    Time t = date(year, month, day, hour, min, sec, nsec, utc());
    std::optional<int> offset;
    for (const auto& zz : local_loc->zones) {
      if (zz.abbr == zone_name && local_loc->lookup(t.unix - zz.offset).abbr == zz.abbr) {
        offset = local_loc->lookup(t.unix - zz.offset).offset;
        break;
      }
    }
    if (!offset) {
      for (const auto& zz : local_loc->zones)
        if (zz.abbr == zone_name) {
          offset = zz.offset;
          break;
        }
    }
    if (offset) {
      t.unix -= *offset;
      t.loc = local_loc;
      return t;
    }
    int off = 0;
    if (zone_name.size() > 3 && zone_name.compare(0, 3, "GMT") == 0) {
      go_atoi(std::string_view(zone_name).substr(3), off);
      off *= 3600;
    }
    t.loc = fixed_zone(zone_name, off);
    return t;
  }
  return date(year, month, day, hour, min, sec, nsec, local_loc);
}

// ------------------------------------------------------------ Duration

std::expected<std::int64_t, std::string> parse_duration(const std::string& orig) {
  auto invalid = [&] { return std::unexpected("time: invalid duration " + quote(orig)); };
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return invalid();
  static const std::pair<const char*, std::uint64_t> kUnits[] = {{"ns", 1},
                                                                 {"us", 1000},
                                                                 {"\xc2\xb5s", 1000},  // U+00B5
                                                                 {"\xce\xbcs", 1000},  // U+03BC
                                                                 {"ms", 1000000},
                                                                 {"s", 1000000000},
                                                                 {"m", 60ULL * 1000000000},
                                                                 {"h", 3600ULL * 1000000000}};
  const std::uint64_t kMax = std::uint64_t{1} << 63;
  std::uint64_t d = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid();
    std::size_t pl = s.size();
    std::uint64_t v;
    if (!leading_int(s, v)) return invalid();
    bool pre = pl != s.size();
    bool post = false;
    std::uint64_t f = 0;
    double scale = 1;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      std::size_t i = 0;
      bool overflow = false;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        if (overflow) continue;
        if (f > (kMax - 1) / 10) {
          overflow = true;
          continue;
        }
        std::uint64_t y = f * 10 + static_cast<std::uint64_t>(s[i] - '0');
        if (y > kMax) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = i > 0;
      s.remove_prefix(i);
    }
    if (!pre && !post) return invalid();
    std::size_t i = 0;
    while (i < s.size() && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9')) ++i;
    if (i == 0) return std::unexpected("time: missing unit in duration " + quote(orig));
    std::string_view u = s.substr(0, i);
    s.remove_prefix(i);
    std::uint64_t unit = 0;
    for (const auto& [name, n] : kUnits)
      if (u == name) unit = n;
    if (unit == 0)
      return std::unexpected("time: unknown unit " + quote(std::string(u)) + " in duration " +
                             quote(orig));
    if (v > kMax / unit) return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<std::uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMax) return invalid();
    }
    d += v;
    if (d > kMax) return invalid();
  }
  if (neg) return static_cast<std::int64_t>(-d);
  if (d > kMax - 1) return invalid();
  return static_cast<std::int64_t>(d);
}

std::string duration_string(std::int64_t d) {
  std::uint64_t u = static_cast<std::uint64_t>(d);
  bool neg = d < 0;
  if (neg) u = -u;
  // The fraction of v/10^prec without trailing zeros (and no point for 0).
  auto frac = [](std::uint64_t& v, int prec) {
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    return print ? "." + digits : std::string();
  };
  std::string out;
  if (u < static_cast<std::uint64_t>(kSecond)) {
    if (u == 0) return "0s";
    std::string unit;
    int prec;
    if (u < 1000) {
      prec = 0;
      unit = "ns";
    } else if (u < 1000000) {
      prec = 3;
      unit = "\xc2\xb5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    std::string f = frac(u, prec);
    out = std::to_string(u) + f + unit;
  } else {
    std::string f = frac(u, 9);
    out = std::to_string(u % 60) + f + "s";
    u /= 60;
    if (u > 0) {
      out = std::to_string(u % 60) + "m" + out;
      u /= 60;
      if (u > 0) out = std::to_string(u) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

// ------------------------------------------------------------ values

namespace {

using R = std::expected<Value, std::string>;

class TimeObject final : public Object {
 public:
  explicit TimeObject(Time t) : t_(std::move(t)) {}
  std::string type_name() const override { return "time.Time"; }
  std::optional<std::string> to_string() const override { return gotime::to_string(t_); }
  std::optional<Value> marshal() const override {
    return Value(format(t_, "2006-01-02T15:04:05.999999999Z07:00"));
  }
  std::optional<Value> field(const std::string& name) const override {
    Time t = t_;
    auto method = [&](std::function<R(const std::vector<Value>&)> fn) {
      return Value(Method{name, std::move(fn)});
    };
    auto no_args = [&](std::function<Value()> fn) {
      return method([fn, name = name](const std::vector<Value>& a) -> R {
        if (!a.empty()) return std::unexpected("wrong number of args for " + name);
        return fn();
      });
    };
    auto num = [](std::int64_t v) { return Value(v); };
    if (name == "Format")
      return method([t](const std::vector<Value>& a) -> R {
        if (a.size() != 1 || !a[0].is_string())
          return std::unexpected(std::string("wrong arguments for Format: want a layout"));
        return Value(format(t, a[0].as_string()));
      });
    if (name == "String") return no_args([t] { return Value(gotime::to_string(t)); });
    if (name == "Unix") return no_args([t] { return Value(t.unix, Value::IntType::kInt64); });
    if (name == "UnixMilli")
      return no_args(
          [t] { return Value(t.unix * 1000 + t.nsec / 1000000, Value::IntType::kInt64); });
    if (name == "UnixNano")
      return no_args([t] { return Value(t.unix * kSecond + t.nsec, Value::IntType::kInt64); });
    if (name == "IsZero") return no_args([t] { return Value(t.is_zero()); });
    if (name == "UTC") return no_args([t] { return make_value(t.in(utc())); });
    if (name == "Local") return no_args([t] { return make_value(t.in(local())); });
    if (name == "Add")
      return method([t](const std::vector<Value>& a) -> R {
        if (a.size() != 1 || !a[0].is_int())
          return std::unexpected(std::string("wrong arguments for Add: want a Duration"));
        return make_value(t.add(a[0].as_int()));
      });
    if (name == "AddDate")
      return method([t](const std::vector<Value>& a) -> R {
        if (a.size() != 3 || !a[0].is_int() || !a[1].is_int() || !a[2].is_int())
          return std::unexpected(std::string("wrong arguments for AddDate: want 3 ints"));
        Fields f = fields(t);
        Time r = date(f.year + a[0].as_int(), f.month + a[1].as_int(), f.day + a[2].as_int(),
                      f.hour, f.min, f.sec, t.nsec, t.loc ? t.loc : utc());
        return make_value(r);
      });
    Fields f = fields(t_);
    if (name == "Year") return no_args([y = f.year, num] { return num(y); });
    if (name == "Month") return no_args([m = f.month] { return Value(kLongMonths[m - 1]); });
    if (name == "Day") return no_args([v = f.day, num] { return num(v); });
    if (name == "YearDay") return no_args([v = f.yday, num] { return num(v); });
    if (name == "Weekday") return no_args([v = f.weekday] { return Value(kLongDays[v]); });
    if (name == "Hour") return no_args([v = f.hour, num] { return num(v); });
    if (name == "Minute") return no_args([v = f.min, num] { return num(v); });
    if (name == "Second") return no_args([v = f.sec, num] { return num(v); });
    if (name == "Nanosecond") return no_args([v = t_.nsec, num] { return num(v); });
    return std::nullopt;
  }
  const Time& time() const { return t_; }

 private:
  Time t_;
};

}  // namespace

Value make_value(Time t) {
  return Value(std::shared_ptr<const Object>(std::make_shared<TimeObject>(std::move(t))));
}

const Time* as_time(const Value& v) {
  if (v.kind() != Value::Kind::kObject) return nullptr;
  const auto* o = dynamic_cast<const TimeObject*>(&v.object());
  return o ? &o->time() : nullptr;
}

}  // namespace cairn::helm::gotime
