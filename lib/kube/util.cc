#include "kube/util.h"

#include <malloc.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

namespace cairn::kube {

std::expected<std::string, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(std::string(std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::unexpected(std::string("read error"));
  return ss.str();
}

std::expected<std::string, std::string> base64_decode(std::string_view in) {
  std::string clean;
  clean.reserve(in.size());
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return std::unexpected(std::string("length is not a multiple of 4"));
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return std::unexpected(std::string("invalid base64"));
  // EVP_DecodeBlock counts padding as output bytes; drop them.
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') pad++;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') pad++;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

namespace {
std::string utc_seconds(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}
}  // namespace

std::string rfc3339(std::chrono::system_clock::time_point t) {
  return utc_seconds(std::chrono::floor<std::chrono::seconds>(t)) + "Z";
}

std::string rfc3339_micro(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::floor<std::chrono::microseconds>(t);
  auto secs = std::chrono::floor<std::chrono::seconds>(us);
  char frac[32];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>((us - secs).count()));
  return utc_seconds(secs) + frac;
}

std::expected<std::chrono::system_clock::time_point, std::string> parse_rfc3339(
    std::string_view s) {
  int Y, M, D, h, m, sec;
  char tail[64] = {0};
  std::string str(s.substr(0, 60));
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%63s", &Y, &M, &D, &h, &m, &sec, tail) < 6) {
    return std::unexpected("not an RFC 3339 time: \"" + str + "\"");
  }
  std::chrono::year_month_day ymd{std::chrono::year(Y),
                                  std::chrono::month(static_cast<unsigned>(M)),
                                  std::chrono::day(static_cast<unsigned>(D))};
  if (!ymd.ok()) return std::unexpected("not a calendar date: \"" + str + "\"");
  auto tp = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(m) +
            std::chrono::seconds(sec);
  std::string_view rest(tail);
  std::chrono::system_clock::time_point out = tp;
  if (!rest.empty() && rest.front() == '.') {
    size_t i = 1;
    int64_t frac = 0, scale = 1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      if (scale < 1000000000) {
        frac = frac * 10 + (rest[i] - '0');
        scale *= 10;
      }
      ++i;
    }
    out += std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::nanoseconds(frac * (1000000000 / scale)));
    rest.remove_prefix(i);
  }
  if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) == 2) {
      auto off = std::chrono::hours(oh) + std::chrono::minutes(om);
      out += rest.front() == '+' ? -off : off;
    }
  }
  return out;
}

void tune_malloc_for_controllers() {
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_ARENA_MAX, 2);
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

cairn::json parse_without_managed_fields(std::string_view text) {
  // keys[d]: the key being read at depth d ("" inside an array).
  std::vector<std::string> keys;
  auto cb = [&keys](int depth, cairn::json::parse_event_t event, cairn::json& parsed) {
    const auto d = static_cast<size_t>(depth);
    if (event == cairn::json::parse_event_t::array_start) {
      if (keys.size() < d + 2) keys.resize(d + 2);
      keys[d + 1].clear();  // the elements have no key
      return true;
    }
    if (event != cairn::json::parse_event_t::key || !parsed.is_string()) return true;
    if (keys.size() < d + 1) keys.resize(d + 1);
    keys[d] = parsed.get_ref<const std::string&>();
    return !(d >= 1 && keys[d] == "managedFields" && keys[d - 1] == "metadata");
  };
  return cairn::json::parse(text, cb, /*allow_exceptions=*/false);
}

}  // namespace cairn::kube
