// Small helpers the client needs and that have no better home.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

#include "json/json.h"

namespace cairn::kube {

// The whole file, or why it could not be read (strerror text).
std::expected<std::string, std::string> read_file(const std::string& path);

// Standard base64 (RFC 4648), whitespace ignored. nullopt-like error on bad input.
std::expected<std::string, std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

std::string_view trim(std::string_view s);

// Kubernetes timestamps: metav1.Time (seconds) and metav1.MicroTime, UTC.
std::string rfc3339(std::chrono::system_clock::time_point t);
std::string rfc3339_micro(std::chrono::system_clock::time_point t);
// Parses "2006-01-02T15:04:05Z" (fractional seconds and offsets accepted).
std::expected<std::chrono::system_clock::time_point, std::string> parse_rfc3339(std::string_view s);

// Process-wide malloc settings for long-running controllers: a fixed mmap
// threshold (glibc's dynamic one lets large, short-lived buffers such as a
// 10 MB list response land in the heap and fragment it) and at most two
// arenas (cpprestsdk's thread pool would otherwise get one each). Call once,
// first thing in main.
void tune_malloc_for_controllers();

// Parses JSON (a discarded value if it is not JSON), leaving out every
// object's metadata.managedFields as it goes: they are never allocated, so a
// cache that would trim them afterwards is not left with the holes they
// leave in the heap between the objects it keeps.
cairn::json parse_without_managed_fields(std::string_view text);

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view s);

}  // namespace cairn::kube
