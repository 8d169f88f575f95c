#include "log/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

#include "json/json.h"

namespace cairn::log {
namespace {
std::atomic<Format> g_format{Format::kJson};
std::atomic<Level> g_level{Level::kInfo};
std::mutex g_mu;

const char* name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string now() {
  auto t = std::chrono::system_clock::now();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}
}  // namespace

void set_format(Format f) { g_format = f; }
void set_level(Level l) { g_level = l; }

bool parse_format(std::string_view s, Format& out) {
  if (s == "json") {
    out = Format::kJson;
  } else if (s == "text") {
    out = Format::kText;
  } else {
    return false;
  }
  return true;
}

namespace {
thread_local std::string t_trace;
}  // namespace

void set_trace(std::string trace) { t_trace = std::move(trace); }

std::string new_trace() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  uint64_t v = rng();
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = hex[v & 15];
  return s;
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  std::string line;
  if (g_format.load() == Format::kJson) {
    cairn::json j = {{"time", now()}, {"level", name(level)}, {"msg", msg}};
    for (const auto& [k, v] : fields) {
      if (!v.empty()) j[std::string(k)] = v;
    }
    if (!t_trace.empty()) j["trace"] = t_trace;
    line = j.dump(-1, ' ', false, cairn::json::error_handler_t::replace);
  } else {
    line = now() + " " + name(level) + " " + std::string(msg);
    for (const auto& [k, v] : fields) {
      if (!v.empty()) line += " " + std::string(k) + "=" + v;
    }
    if (!t_trace.empty()) line += " trace=" + t_trace;
  }
  line += '\n';
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace cairn::log
