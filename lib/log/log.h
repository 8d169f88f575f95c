// Structured logs: one JSON object per line on stderr (time, level, msg and
// fields such as kind, namespace, name, commit, run), so ELK or Loki ingest
// them as they are; or `text` for people. Never log credentials: callers pass
// redacted URLs and never Secret data.
#pragma once

#include <atomic>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cairn::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kJson, kText };

void set_format(Format f);
void set_level(Level l);
// Parses "json"/"text"; false if neither.
bool parse_format(std::string_view s, Format& out);

using Field = std::pair<std::string_view, std::string>;

// A trace id for the work this thread is doing (one reconcile), added as the
// field "trace" to every line the thread writes until cleared with "".
void set_trace(std::string trace);
// A fresh random trace id (16 hex digits).
std::string new_trace();

void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

}  // namespace cairn::log
