#include "api/names.h"

#include <algorithm>
#include <cstdint>

namespace cairn::api {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out += is_lower_alnum(c) ? c : '-';
  }
  return out;
}

// FNV-1a, 64 bits: stable across hosts, compilers and releases, unlike std::hash.
std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex(std::uint64_t v, std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (std::size_t i = digits; i-- > 0; v >>= 4) out[i] = kHex[v & 15];
  return out;
}

std::string trim_dashes(std::string s) {
  std::size_t b = s.find_first_not_of('-');
  if (b == std::string::npos) return "";
  std::size_t e = s.find_last_not_of('-');
  return s.substr(b, e - b + 1);
}

}  // namespace

bool is_dns1123_label(std::string_view s) {
  if (s.empty() || s.size() > kMaxLabelValueLength) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

std::string job_name(std::string_view pipeline, std::string_view run_id, std::string_view step) {
  std::string plain;
  plain.append(pipeline).append("-").append(run_id).append("-").append(step);
  if (is_dns1123_label(plain)) return plain;

  // The hash covers the original parts (with separators that cannot occur in
  // them), so parts that sanitize or shorten alike still get different names.
  std::uint64_t h = fnv1a(pipeline);
  h = fnv1a(std::string_view("\0", 1), h);
  h = fnv1a(run_id, h);
  h = fnv1a(std::string_view("\0", 1), h);
  h = fnv1a(step, h);
  const std::string hash = hex(h, 10);

  const std::string tail = "-" + sanitize(run_id) + "-" + sanitize(step);
  std::string name;
  const std::size_t fixed = hash.size() + 1 + tail.size();
  if (fixed + 1 <= kMaxLabelValueLength) {
    // Shorten the pipeline part: run and step stay readable.
    name = trim_dashes(sanitize(pipeline).substr(0, kMaxLabelValueLength - fixed));
    name += (name.empty() ? "" : "-") + hash + tail;
  } else {
    std::string all = sanitize(pipeline) + tail;
    name = trim_dashes(all.substr(0, kMaxLabelValueLength - hash.size() - 1));
    name += (name.empty() ? "" : "-") + hash;
  }
  name = trim_dashes(name);
  return name.empty() ? hash : name;
}

}  // namespace cairn::api
