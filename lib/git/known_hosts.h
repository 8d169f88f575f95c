// Internal: checking an SSH server's host key against known_hosts text (the
// Secret's `known_hosts`), as OpenSSH does: plain and hashed (|1|salt|hash)
// host names, [host]:port, wildcards and negation, @revoked markers.
// @cert-authority lines are not supported and never match.
#pragma once

#include <string>
#include <string_view>

namespace cairn::git::detail {

enum class HostKeyMatch { kMatch, kMismatch, kUnknownHost, kRevoked };

struct HostKeyResult {
  HostKeyMatch match;
  std::string message;  // for kMismatch/kUnknownHost/kRevoked: what is wrong and what to do
};

// `key_blob` is the server's public key in SSH wire format (what known_hosts
// holds base64-encoded); `port` 22 looks up `host`, any other `[host]:port`.
HostKeyResult check_known_hosts(std::string_view known_hosts, const std::string& host, int port,
                                std::string_view key_blob);

// As above, when only the SHA-256 of the key blob is known.
HostKeyResult check_known_hosts_sha256(std::string_view known_hosts, const std::string& host,
                                       int port, std::string_view key_sha256);

// "SHA256:<base64 without padding>" of a key blob, as ssh-keygen -l prints it.
std::string ssh_fingerprint(std::string_view key_blob);

}  // namespace cairn::git::detail
