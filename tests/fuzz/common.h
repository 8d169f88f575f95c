// What the parser fuzz targets share (kubeconfig_fuzz.cc, manifest_fuzz.cc,
// push_fuzz.cc, watch_fuzz.cc, termination_fuzz.cc): how a broken invariant
// is reported, and an oracle for UTF-8 that is not the code under test.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "json/json.h"

namespace cairn::fuzz {

// A printable excerpt of an input: at most `max` bytes, others escaped.
inline std::string printable(std::string_view s, size_t max = 600) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Reports a broken invariant and stops the run (libFuzzer keeps the input).
[[noreturn]] inline void fail(const char* target, const std::string& what, std::string_view input) {
  std::fprintf(stderr, "%s: %s\n  input: %s\n", target, what.c_str(), printable(input).c_str());
  __builtin_trap();
}

// Whether `s` is well-formed UTF-8, as cairn::json (which writes every
// object Cairn sends) judges it: dump() throws on anything else.
inline bool is_utf8(const std::string& s) {
  try {
    (void)cairn::json(s).dump();
    return true;
  } catch (const cairn::json::type_error&) {
    return false;
  }
}

inline bool dumps(const cairn::json& j) {
  try {
    (void)j.dump();
    return true;
  } catch (const cairn::json::type_error&) {
    return false;
  }
}

}  // namespace cairn::fuzz
