#include "git/url.h"

#include <algorithm>
#include <filesystem>

#include "git/git.h"

namespace cairn::git {
namespace detail {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

UrlParts parse_url(const std::string& url) {
  UrlParts u;
  auto sep = url.find("://");
  auto first_slash = url.find('/');
  if (sep != std::string::npos && sep < first_slash) {
    u.form = UrlParts::Form::kUrl;
    u.scheme = lower(url.substr(0, sep));
    std::string rest = url.substr(sep + 3);
    auto path_at = rest.find('/');
    std::string authority = rest.substr(0, path_at);
    u.path = path_at == std::string::npos ? "" : rest.substr(path_at);
    auto at = authority.rfind('@');
    if (at != std::string::npos) {
      std::string userinfo = authority.substr(0, at);
      authority = authority.substr(at + 1);
      auto colon = userinfo.find(':');
      u.user = userinfo.substr(0, colon);
      if (colon != std::string::npos) {
        u.password = userinfo.substr(colon + 1);
        u.has_password = true;
      }
    }
    if (authority.starts_with('[')) {
      auto close = authority.find(']');
      u.host =
          lower(authority.substr(1, close == std::string::npos ? std::string::npos : close - 1));
      if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
        u.port = authority.substr(close + 2);
    } else {
      auto colon = authority.rfind(':');
      u.host = lower(authority.substr(0, colon));
      if (colon != std::string::npos) u.port = authority.substr(colon + 1);
    }
    return u;
  }
  // scp-like: [user@]host:path, when a ':' comes before any '/'.
  auto colon = url.find(':');
  if (colon != std::string::npos && colon < first_slash && colon > 0 && !url.starts_with('.')) {
    u.form = UrlParts::Form::kScp;
    u.scheme = "ssh";
    std::string authority = url.substr(0, colon);
    u.path = url.substr(colon + 1);
    auto at = authority.rfind('@');
    if (at != std::string::npos) {
      u.user = authority.substr(0, at);
      authority = authority.substr(at + 1);
    }
    if (authority.starts_with('[') && authority.ends_with(']'))
      authority = authority.substr(1, authority.size() - 2);
    u.host = lower(authority);
    return u;
  }
  u.form = UrlParts::Form::kLocal;
  u.scheme = "file";
  u.path = url;
  return u;
}

int effective_port(const UrlParts& u) {
  if (!u.port.empty()) {
    try {
      return std::stoi(u.port);
    } catch (...) {
      return -1;
    }
  }
  if (u.scheme == "https") return 443;
  if (u.scheme == "http") return 80;
  if (u.scheme == "git") return 9418;
  return 22;
}

}  // namespace detail

using detail::parse_url;
using detail::UrlParts;

std::string redact_url(const std::string& url) {
  UrlParts u = parse_url(url);
  if (u.form != UrlParts::Form::kUrl) return url;
  auto sep = url.find("://");
  std::string rest = url.substr(sep + 3);
  auto path_at = rest.find('/');
  std::string authority = rest.substr(0, path_at);
  auto at = authority.rfind('@');
  if (at == std::string::npos) return url;
  // A user name alone is kept for ssh (it names the account, "git"); for
  // http(s) it is often a token, so all of the user info goes.
  bool keep_user =
      (u.scheme == "ssh" || u.scheme == "git+ssh" || u.scheme == "ssh+git") && !u.has_password;
  std::string userinfo = keep_user ? authority.substr(0, at + 1) : "";
  return url.substr(0, sep + 3) + userinfo + authority.substr(at + 1) +
         (path_at == std::string::npos ? "" : rest.substr(path_at));
}

std::string web_url(const std::string& url) {
  UrlParts u = parse_url(url);
  if (u.form == UrlParts::Form::kLocal || u.host.empty()) return "";
  const bool ssh = u.scheme == "ssh" || u.scheme == "git+ssh" || u.scheme == "ssh+git";
  if (!ssh && u.scheme != "https" && u.scheme != "http") return "";
  std::string path = u.path;
  if (auto q = path.find_first_of("?#"); q != std::string::npos) path.resize(q);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.ends_with(".git")) path.resize(path.size() - 4);
  if (!path.starts_with('/')) path.insert(0, "/");  // scp-like: host:org/app
  if (path.size() < 2) return "";
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  const std::string port = ssh || u.port.empty() ? "" : ":" + u.port;
  return (ssh ? "https" : u.scheme) + "://" + host + port + path;
}

std::string normalize_url(const std::string& raw) {
  std::string url = raw;
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.pop_back();
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.front()))) url.erase(0, 1);
  UrlParts u = parse_url(url);
  std::string out;
  switch (u.form) {
    case UrlParts::Form::kLocal:
    case UrlParts::Form::kUrl:
      if (u.form == UrlParts::Form::kLocal || u.scheme == "file") {
        std::error_code ec;
        std::filesystem::path p = u.path.empty() ? "/" : u.path;
        auto abs = std::filesystem::absolute(p, ec);
        out = "file://" + (ec ? p : abs).lexically_normal().string();
        break;
      }
      {
        bool ssh = u.scheme == "ssh" || u.scheme == "git+ssh" || u.scheme == "ssh+git";
        out = (ssh ? std::string("ssh") : u.scheme) + "://";
        if (ssh && !u.user.empty()) out += u.user + "@";
        out += u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
        if (!u.port.empty() &&
            detail::effective_port(UrlParts{.scheme = u.scheme}) != detail::effective_port(u))
          out += ":" + u.port;
        out += u.path;
      }
      break;
    case UrlParts::Form::kScp:
      out = "ssh://" + (u.user.empty() ? "" : u.user + "@") + u.host +
            (u.path.starts_with('/') ? "" : "/") + u.path;
      break;
  }
  while (out.size() > 1 && out.back() == '/' && !out.ends_with("://")) out.pop_back();
  return out;
}

std::string repository_identity(const std::string& url) {
  std::string out = normalize_url(url);
  if (out.starts_with("ssh://")) {
    const auto host = out.find('/', 6);
    if (const auto at = out.find('@', 6); at != std::string::npos && at < host)
      out.erase(6, at - 6 + 1);
  }
  if (out.ends_with(".git")) out.resize(out.size() - 4);
  while (out.size() > 1 && out.back() == '/' && !out.ends_with("://")) out.pop_back();
  if (out == "file://") out = "file:///";  // the root directory, "/"
  return out;
}

Result<void> check_url(const std::string& url) {
  if (url.empty()) return fail(Code::kInvalid, "the repository URL is empty");
  for (char c : url) {
    if (static_cast<unsigned char>(c) < 0x20)
      return fail(Code::kInvalid,
                  "the repository URL " + redact_url(url) + " contains a control character");
  }
  UrlParts u = parse_url(url);
  if (u.form == UrlParts::Form::kLocal || u.form == UrlParts::Form::kScp) {
    if (u.form == UrlParts::Form::kScp && u.host.empty())
      return fail(Code::kInvalid, "the repository URL " + url + " has no host");
    return {};
  }
  static constexpr std::string_view kSchemes[] = {"https",   "http", "ssh", "git+ssh",
                                                  "ssh+git", "git",  "file"};
  if (std::find(std::begin(kSchemes), std::end(kSchemes), u.scheme) == std::end(kSchemes))
    return fail(Code::kInvalid, "the repository URL " + redact_url(url) + " uses the scheme \"" +
                                    u.scheme + "\"; supported are https, http, ssh, git and file");
  if (u.scheme != "file" && u.host.empty())
    return fail(Code::kInvalid, "the repository URL " + redact_url(url) + " has no host");
  if (!u.port.empty() && detail::effective_port(u) <= 0)
    return fail(Code::kInvalid, "the repository URL " + redact_url(url) +
                                    " has an invalid port \"" + u.port + "\"");
  return {};
}

}  // namespace cairn::git
