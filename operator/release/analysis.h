// The analysis step of a rollout (spec.rollout.analysis): an instant query
// to Prometheus whose one sample must not exceed the threshold.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

namespace cairn::release {

struct Sample {
  double value = 0;
  std::string text;  // as Prometheus wrote it ("0.25", "NaN")
};

// Reads a /api/v1/query answer: a scalar, or a vector of exactly one sample.
// Errors say what was wrong ("returned no samples: write the query so that
// it always returns one, e.g. `... or vector(0)`", "returned 3 samples",
// Prometheus' own error).
std::expected<Sample, std::string> parse_query_result(std::string_view body);

// GET <base>/api/v1/query?query=<query>, TLS 1.2+ for https, bounded by
// `timeout`. An unreachable server or a non-2xx answer is an error naming it.
std::expected<Sample, std::string> query_prometheus(const std::string& base,
                                                    const std::string& query,
                                                    std::chrono::milliseconds timeout);

}  // namespace cairn::release
