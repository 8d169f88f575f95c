// Internal: commit signature verification with OpenSSL 3.
//
// SSH signatures (PROTOCOL.sshsig, what `git -c gpg.format=ssh` makes):
// ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa keys (rsa-sha2-256/512
// signatures), namespace "git", sha256/sha512 message hashes.
//
// OpenPGP (what gpg makes): v4 signatures by RSA, EdDSA (Ed25519) and ECDSA
// (P-256/384/521) keys, SHA-2 hashes, matched by issuer fingerprint or key id
// against the primary keys and subkeys of the trusted armored key blocks. The
// trusted block is taken as the statement of trust: subkey binding
// signatures, expiry and revocation inside it are not evaluated.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "git/git.h"
#include "git/util.h"

namespace cairn::git::detail {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Pkey make_rsa_key(std::string_view n, std::string_view e);    // big-endian magnitudes
Pkey make_ec_key(const char* group, std::string_view point);  // uncompressed SEC1 point
Pkey make_ed25519_key(std::string_view raw32);

struct PgpKey {
  std::string fingerprint;  // 40 lower-case hex (v4)
  std::string key_id;       // 16 lower-case hex
  std::string primary_fingerprint;
  std::string user_id;  // of the primary key, for messages
  int algo = 0;
  std::shared_ptr<EVP_PKEY> pkey;  // null when the algorithm is not supported
};

struct TrustedKeys {
  std::vector<Bytes> ssh;  // public key blobs (SSH wire format)
  std::vector<PgpKey> pgp;
};

// Parses the trusted keys; an entry or line that is no key is an error naming it.
Result<TrustedKeys> parse_trusted_keys(const std::vector<std::string>& entries);

// Parses one ASCII-armored block of type `what` ("SIGNATURE", "PUBLIC KEY
// BLOCK", "SSH SIGNATURE") into its binary content.
std::optional<Bytes> dearmor(std::string_view text, std::string_view what, std::string* err);

Result<std::vector<PgpKey>> parse_pgp_keys(std::string_view armored);

SignatureCheck verify_sshsig(std::string_view armored, std::string_view data,
                             const TrustedKeys& trusted);
SignatureCheck verify_pgp(std::string_view armored, std::string_view data,
                          const TrustedKeys& trusted);

// Dispatches on the armor of `signature` (what git_commit_extract_signature gives).
SignatureCheck verify_signature(std::string_view signature, std::string_view data,
                                const TrustedKeys& trusted);

}  // namespace cairn::git::detail
