#include "git/signature.h"

#include <sstream>

namespace cairn::git::detail {
namespace {

bool is_ssh_key_type(std::string_view t) {
  return t == "ssh-ed25519" || t == "ssh-rsa" || t == "ssh-dss" || t.starts_with("ecdsa-sha2-") ||
         t.starts_with("sk-ssh-ed25519@") || t.starts_with("sk-ecdsa-sha2-");
}

// Whether a public key blob is complete: its type's fields, and nothing after them.
bool well_formed(std::string_view blob, const std::string& type) {
  Reader r(blob);
  if (r.ssh_string() != type) return false;
  int fields = type == "ssh-ed25519"                 ? 1
               : type == "ssh-dss"                   ? 4
               : type.starts_with("sk-ecdsa-sha2-")  ? 3
               : type.starts_with("sk-ssh-ed25519@") ? 2
                                                     : 2;  // ssh-rsa, ecdsa-sha2-*
  for (int i = 0; i < fields; ++i) {
    if (r.ssh_string().empty()) return false;
  }
  if (type == "ssh-ed25519" && blob.size() != 4 + 11 + 4 + 32) return false;
  return r.ok() && r.done();
}

}  // namespace

Result<TrustedKeys> parse_trusted_keys(const std::vector<std::string>& entries) {
  TrustedKeys out;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    const std::string where = "trusted key entry " + std::to_string(i + 1);
    if (entry.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") != std::string::npos) {
      auto keys = parse_pgp_keys(entry);
      if (!keys) return fail(Code::kSignature, where + ": " + keys.error().message);
      for (auto& k : *keys) out.pgp.push_back(std::move(k));
      continue;
    }
    std::istringstream in(entry);
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      std::istringstream fields(line);
      std::vector<std::string> tok;
      for (std::string t; fields >> t;) tok.push_back(t);
      if (tok.empty() || tok[0].starts_with('#')) continue;
      // An authorized_keys/allowed_signers line may carry principals or
      // options before the key type.
      bool found = false;
      for (size_t k = 0; k + 1 < tok.size(); ++k) {
        if (!is_ssh_key_type(tok[k])) continue;
        auto blob = base64_decode(tok[k + 1]);
        if (!blob || !well_formed(*blob, tok[k]))
          return fail(Code::kSignature, where + " line " + std::to_string(lineno) + ": the " +
                                            tok[k] + " key is not valid base64 of an " + tok[k] +
                                            " public key");
        out.ssh.push_back(std::move(*blob));
        found = true;
        break;
      }
      if (!found)
        return fail(Code::kSignature,
                    where + " line " + std::to_string(lineno) +
                        " is neither an OpenSSH public key (\"ssh-ed25519 AAAA... comment\") nor "
                        "part of an armored OpenPGP public key block");
    }
  }
  return out;
}

SignatureCheck verify_signature(std::string_view signature, std::string_view data,
                                const TrustedKeys& trusted) {
  if (signature.find("-----BEGIN SSH SIGNATURE-----") != std::string_view::npos)
    return verify_sshsig(signature, data, trusted);
  if (signature.find("-----BEGIN PGP SIGNATURE-----") != std::string_view::npos)
    return verify_pgp(signature, data, trusted);
  if (signature.find("-----BEGIN SIGNED MESSAGE-----") != std::string_view::npos)
    return {SignatureStatus::kUnsupported, "",
            "X.509 (gpgsm) commit signatures are not supported; sign with SSH or OpenPGP keys"};
  return {SignatureStatus::kUnsupported, "", "the commit's signature is of an unknown format"};
}

}  // namespace cairn::git::detail
