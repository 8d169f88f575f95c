#include "git/known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <sstream>
#include <vector>

#include "git/util.h"

namespace cairn::git::detail {
namespace {

// OpenSSH's match_pattern: '*' any run, '?' any one character; case-insensitive.
bool glob(std::string_view pat, std::string_view s) {
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  auto eq = [](char a, char b) { return std::tolower(a) == std::tolower(b); };
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || eq(pat[p], s[i]))) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool hashed_match(std::string_view entry, const std::string& name) {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  if (!entry.starts_with("|1|")) return false;
  auto rest = entry.substr(3);
  auto bar = rest.find('|');
  if (bar == std::string_view::npos) return false;
  auto salt = base64_decode(rest.substr(0, bar));
  auto want = base64_decode(rest.substr(bar + 1));
  if (!salt || !want) return false;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), salt->data(), static_cast<int>(salt->size()),
       reinterpret_cast<const unsigned char*>(name.data()), name.size(), md, &len);
  return want->size() == len && std::memcmp(want->data(), md, len) == 0;
}

// Whether the comma-separated host patterns of a known_hosts line name `name`.
bool hosts_match(std::string_view patterns, const std::string& name) {
  if (patterns.starts_with("|1|")) return hashed_match(patterns, name);
  bool matched = false;
  size_t start = 0;
  while (start <= patterns.size()) {
    size_t comma = patterns.find(',', start);
    auto pat = patterns.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    bool negate = pat.starts_with('!');
    if (negate) pat.remove_prefix(1);
    if (!pat.empty() && glob(pat, name)) {
      if (negate) return false;
      matched = true;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return matched;
}

template <class KeyEq>
HostKeyResult check(std::string_view known_hosts, const std::string& host, int port,
                    KeyEq key_equal) {
  const std::string name =
      port == 22 || port <= 0 ? host : "[" + host + "]:" + std::to_string(port);
  if (known_hosts.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return {HostKeyMatch::kUnknownHost,
            "the Secret has no known_hosts, so the SSH host key of " + name +
                " cannot be verified; add a known_hosts key with the server's public host key "
                "(for example the output of: ssh-keyscan" +
                (port == 22 || port <= 0 ? "" : " -p " + std::to_string(port)) + " " + host + ")"};
  bool host_known = false;
  std::istringstream in{std::string(known_hosts)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string first, hosts, type, key;
    if (!(fields >> first) || first.starts_with('#')) continue;
    std::string marker;
    if (first.starts_with('@')) {
      marker = first;
      fields >> hosts;
    } else {
      hosts = first;
    }
    if (!(fields >> type >> key)) continue;
    if (!hosts_match(hosts, name)) continue;
    auto blob = base64_decode(key);
    if (!blob) continue;
    bool same = key_equal(*blob);
    if (marker == "@revoked") {
      if (same)
        return {HostKeyMatch::kRevoked,
                "the SSH host key of " + name + " is marked @revoked in the Secret's known_hosts"};
      continue;
    }
    if (!marker.empty()) continue;  // @cert-authority: host certificates are not supported
    host_known = true;
    if (same) return {HostKeyMatch::kMatch, ""};
  }
  if (host_known)
    return {HostKeyMatch::kMismatch,
            "the SSH host key of " + name +
                " does not match the Secret's known_hosts (the server's key changed, or this is "
                "not the server you think); update known_hosts only after checking the new key"};
  return {HostKeyMatch::kUnknownHost,
          "the SSH host " + name +
              " is not in the Secret's known_hosts; add its public host key (for example the "
              "output of: ssh-keyscan" +
              (port == 22 || port <= 0 ? "" : " -p " + std::to_string(port)) + " " + host + ")"};
}

}  // namespace

HostKeyResult check_known_hosts(std::string_view known_hosts, const std::string& host, int port,
                                std::string_view key_blob) {
  return check(known_hosts, host, port, [&](const Bytes& b) { return b == key_blob; });
}

HostKeyResult check_known_hosts_sha256(std::string_view known_hosts, const std::string& host,
                                       int port, std::string_view key_sha256) {
  return check(known_hosts, host, port, [&](const Bytes& b) { return sha256(b) == key_sha256; });
}

std::string ssh_fingerprint(std::string_view key_blob) {
  return "SHA256:" + base64_encode(sha256(key_blob), false);
}

}  // namespace cairn::git::detail
