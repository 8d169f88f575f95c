// SSH signatures (OpenSSH PROTOCOL.sshsig), as `git -c gpg.format=ssh` makes them.
#include <openssl/ecdsa.h>

#include "git/known_hosts.h"
#include "git/signature.h"

namespace cairn::git::detail {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

// Strips the sign byte an SSH mpint may carry.
std::string_view magnitude(std::string_view mpint) {
  while (!mpint.empty() && mpint.front() == '\0') mpint.remove_prefix(1);
  return mpint;
}

struct SshKey {
  std::string type;
  Pkey pkey;
  const EVP_MD* ecdsa_md = nullptr;
};

// Parses an SSH public key blob; type is set even when the key type is unsupported.
SshKey parse_ssh_key(std::string_view blob) {
  SshKey key;
  Reader r(blob);
  key.type = std::string(r.ssh_string());
  if (!r.ok()) return key;
  if (key.type == "ssh-ed25519") {
    auto raw = r.ssh_string();
    if (r.ok()) key.pkey = make_ed25519_key(raw);
  } else if (key.type == "ssh-rsa") {
    auto e = r.ssh_string();
    auto n = r.ssh_string();
    if (r.ok()) key.pkey = make_rsa_key(magnitude(n), magnitude(e));
  } else if (key.type.starts_with("ecdsa-sha2-")) {
    auto curve = r.ssh_string();
    auto point = r.ssh_string();
    const char* group = nullptr;
    if (curve == "nistp256") {
      group = "prime256v1";
      key.ecdsa_md = EVP_sha256();
    } else if (curve == "nistp384") {
      group = "secp384r1";
      key.ecdsa_md = EVP_sha384();
    } else if (curve == "nistp521") {
      group = "secp521r1";
      key.ecdsa_md = EVP_sha512();
    }
    if (r.ok() && group && key.type == "ecdsa-sha2-" + std::string(curve))
      key.pkey = make_ec_key(group, point);
  }
  return key;
}

// Verifies an SSH signature blob (string algorithm, string signature) over `msg`.
bool ssh_verify(const SshKey& key, std::string_view sig_blob, std::string_view msg,
                std::string* why) {
  Reader r(sig_blob);
  std::string algo(r.ssh_string());
  std::string_view sig = r.ssh_string();
  if (!r.ok()) {
    *why = "the signature blob is malformed";
    return false;
  }
  const EVP_MD* md = nullptr;
  std::string der;
  if (key.type == "ssh-ed25519") {
    if (algo != "ssh-ed25519") {
      *why = "signature algorithm " + algo + " does not fit an ssh-ed25519 key";
      return false;
    }
  } else if (key.type == "ssh-rsa") {
    if (algo == "rsa-sha2-512") {
      md = EVP_sha512();
    } else if (algo == "rsa-sha2-256") {
      md = EVP_sha256();
    } else {
      *why = "RSA signature algorithm " + algo + " is not accepted (rsa-sha2-256/512 only)";
      return false;
    }
  } else {  // ecdsa
    if (algo != key.type) {
      *why = "signature algorithm " + algo + " does not fit an " + key.type + " key";
      return false;
    }
    md = key.ecdsa_md;
    Reader rs(sig);
    auto rr = magnitude(rs.ssh_string());
    auto ss = magnitude(rs.ssh_string());
    if (!rs.ok()) {
      *why = "the ECDSA signature is malformed";
      return false;
    }
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* bn_r = BN_bin2bn(reinterpret_cast<const unsigned char*>(rr.data()),
                             static_cast<int>(rr.size()), nullptr);
    BIGNUM* bn_s = BN_bin2bn(reinterpret_cast<const unsigned char*>(ss.data()),
                             static_cast<int>(ss.size()), nullptr);
    ECDSA_SIG_set0(es, bn_r, bn_s);
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(es, &out);
    if (len > 0) der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    ECDSA_SIG_free(es);
    sig = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  if (!ok) *why = "the signature does not verify: the commit or its signature was altered";
  return ok;
}

void put_string(std::string& out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(s);
}

}  // namespace

SignatureCheck verify_sshsig(std::string_view armored, std::string_view data,
                             const TrustedKeys& trusted) {
  using S = SignatureStatus;
  std::string err;
  auto blob = dearmor(armored, "SSH SIGNATURE", &err);
  if (!blob) return {S::kInvalid, "", "malformed SSH signature: " + err};
  Reader r(*blob);
  auto magic = r.bytes(6);
  uint32_t version = r.u32();
  auto pubkey = r.ssh_string();
  auto ns = r.ssh_string();
  auto reserved = r.ssh_string();
  std::string hash_alg(r.ssh_string());
  auto sig = r.ssh_string();
  if (!r.ok() || magic != "SSHSIG") return {S::kInvalid, "", "malformed SSH signature"};
  if (version != 1)
    return {
        S::kUnsupported, "",
        "SSH signature version " + std::to_string(version) + " is not supported (version 1 only)"};
  std::string fp = ssh_fingerprint(pubkey);
  if (ns != "git")
    return {S::kInvalid, fp,
            "the SSH signature is for namespace \"" + std::string(ns) + "\", not \"git\""};
  const EVP_MD* md = hash_alg == "sha512"   ? EVP_sha512()
                     : hash_alg == "sha256" ? EVP_sha256()
                                            : nullptr;
  if (!md)
    return {S::kUnsupported, fp,
            "SSH signature hash \"" + hash_alg + "\" is not supported (sha256, sha512)"};
  SshKey key = parse_ssh_key(pubkey);
  if (!key.pkey)
    return {S::kUnsupported, fp,
            "SSH signatures by " + (key.type.empty() ? std::string("unknown") : key.type) +
                " keys are not supported (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa)"};
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int hlen = 0;
  EVP_Digest(data.data(), data.size(), h, &hlen, md, nullptr);
  std::string signed_data = "SSHSIG";
  put_string(signed_data, ns);
  put_string(signed_data, reserved);
  put_string(signed_data, hash_alg);
  put_string(signed_data, std::string_view(reinterpret_cast<char*>(h), hlen));
  std::string why;
  if (!ssh_verify(key, sig, signed_data, &why))
    return {S::kInvalid, fp, "SSH signature by " + key.type + " key " + fp + ": " + why};
  for (const auto& t : trusted.ssh) {
    if (t == pubkey)
      return {S::kValid, fp, "good SSH signature by trusted " + key.type + " key " + fp};
  }
  return {S::kUntrustedKey, fp,
          "good SSH signature, but by " + key.type + " key " + fp +
              ", which is not among the trusted keys"};
}

}  // namespace cairn::git::detail
