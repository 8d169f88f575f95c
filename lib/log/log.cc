#include "log/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

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

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  std::string line;
  if (g_format.load() == Format::kJson) {
    nlohmann::json j = {{"time", now()}, {"level", name(level)}, {"msg", msg}};
    for (const auto& [k, v] : fields) {
      if (!v.empty()) j[std::string(k)] = v;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = now() + " " + name(level) + " " + std::string(msg);
    for (const auto& [k, v] : fields) {
      if (!v.empty()) line += " " + std::string(k) + "=" + v;
    }
  }
  line += '\n';
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace cairn::log
