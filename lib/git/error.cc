#include "git/git.h"

namespace cairn::git {

std::string_view code_name(Code c) {
  switch (c) {
    case Code::kAuth:
      return "Auth";
    case Code::kNotFound:
      return "NotFound";
    case Code::kUnreachable:
      return "Unreachable";
    case Code::kTimeout:
      return "Timeout";
    case Code::kInvalid:
      return "Invalid";
    case Code::kSignature:
      return "Signature";
    case Code::kInternal:
      return "Internal";
    case Code::kUntrustedHost:
      return "UntrustedHost";
  }
  return "Unknown";
}

std::string Error::to_string() const { return std::string(code_name(code)) + ": " + message; }

bool Error::retriable() const {
  return code == Code::kUnreachable || code == Code::kTimeout || code == Code::kInternal;
}

std::string_view status_name(SignatureStatus s) {
  switch (s) {
    case SignatureStatus::kUnsigned:
      return "Unsigned";
    case SignatureStatus::kValid:
      return "Valid";
    case SignatureStatus::kInvalid:
      return "Invalid";
    case SignatureStatus::kUntrustedKey:
      return "UntrustedKey";
    case SignatureStatus::kUnsupported:
      return "Unsupported";
  }
  return "Unknown";
}

std::string to_string(const Ref& ref) {
  switch (ref.kind) {
    case RefKind::kBranch:
      return "branch \"" + ref.name + "\"";
    case RefKind::kTag:
      return "tag \"" + ref.name + "\"";
    case RefKind::kCommit:
      return "commit " + ref.name;
  }
  return ref.name;
}

Credentials credentials_from_secret(const std::map<std::string, std::string>& data) {
  auto get = [&](const char* key) {
    auto it = data.find(key);
    return it == data.end() ? std::string() : it->second;
  };
  Credentials c;
  c.username = get("username");
  c.password = get("password");
  c.bearer_token = get("bearerToken");
  c.ssh_identity = get("identity");
  c.ssh_known_hosts = get("known_hosts");
  c.ca_pem = get("caFile");
  if (c.ca_pem.empty()) c.ca_pem = get("ca.crt");
  // A token pasted with its trailing newline would never authenticate.
  for (std::string* s : {&c.username, &c.password, &c.bearer_token}) {
    while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
  }
  return c;
}

std::string short_sha(const std::string& commit) { return commit.substr(0, 8); }

std::optional<std::string> signature_problem(Source& source, const std::string& commit,
                                             const std::vector<std::string>& trusted_keys) {
  auto v = source.verify_signature(commit, trusted_keys);
  if (!v) return v.error().message;
  if (v->status == SignatureStatus::kValid) return std::nullopt;
  return std::string(status_name(v->status)) + (v->message.empty() ? "" : ": " + v->message);
}

}  // namespace cairn::git
