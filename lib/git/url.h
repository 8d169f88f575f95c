// Internal: splitting repository URLs into their parts.
#pragma once

#include <string>

namespace cairn::git::detail {

struct UrlParts {
  enum class Form { kUrl, kScp, kLocal } form = Form::kUrl;
  std::string scheme;  // lower-case; "ssh" for scp-like, "file" for local paths
  std::string user, password;
  bool has_password = false;
  std::string host;  // lower-case, without [] around IPv6
  std::string port;  // empty: the scheme's default
  std::string path;  // from the first '/' (URL), after ':' (scp), or the local path
};

UrlParts parse_url(const std::string& url);

// The port number to look up in known_hosts etc. (scheme default if none).
int effective_port(const UrlParts& u);

}  // namespace cairn::git::detail
