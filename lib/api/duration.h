// Go-style durations ("30s", "1m", "1h30m", "500ms", "1.5h"), the format of
// every duration field in the Pipeline and Release specs.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

namespace cairn::api {

// Parses one or more <decimal><unit> pairs, unit one of ns, us, µs, ms, s, m, h:
// what the CRD pattern ^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$ admits (plus the
// Greek mu, as Go). No sign and no bare "0", unlike Go: the CRD refuses them.
// Sub-millisecond remainders are dropped. The error says what is wrong and
// shows a valid example; it does not repeat the field name.
std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view s);

// Formats like Go's time.Duration.String(): "0s", "500ms", "1.5s", "1m0s",
// "1h30m0s". parse_duration(format_duration(d)) == d for every d >= 0.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace cairn::api
