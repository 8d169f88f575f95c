// OpenPGP (RFC 4880) v4 signature verification: enough of the packet format
// to read public keys and a detached signature, and OpenSSL for the math.
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <sstream>

#include "git/signature.h"

namespace cairn::git::detail {
namespace {

enum Algo { kRsa = 1, kRsaSign = 3, kEcdsa = 19, kEdDsaLegacy = 22, kEd25519 = 27 };

struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

struct Packet {
  int tag = 0;
  std::string_view body;
};

// Splits binary OpenPGP data into packets; false on malformed or partial-length data.
bool packets(std::string_view data, std::vector<Packet>* out) {
  Reader r(data);
  while (!r.done()) {
    uint8_t h = r.u8();
    if (!r.ok() || !(h & 0x80)) return false;
    Packet p;
    size_t len = 0;
    if (h & 0x40) {  // new format
      p.tag = h & 0x3f;
      uint8_t o1 = r.u8();
      if (o1 < 192) {
        len = o1;
      } else if (o1 < 224) {
        len = ((o1 - 192) << 8) + r.u8() + 192;
      } else if (o1 == 255) {
        len = r.u32();
      } else {
        return false;  // partial body lengths: only for literal/compressed data
      }
    } else {  // old format
      p.tag = (h >> 2) & 0x0f;
      switch (h & 3) {
        case 0:
          len = r.u8();
          break;
        case 1:
          len = r.u16();
          break;
        case 2:
          len = r.u32();
          break;
        default:
          len = r.remaining();
      }
    }
    p.body = r.bytes(len);
    if (!r.ok()) return false;
    out->push_back(p);
  }
  return true;
}

std::string_view mpi(Reader& r) {
  uint16_t bits = r.u16();
  return r.bytes((bits + 7u) / 8u);
}

std::string left_pad(std::string_view v, size_t n) {
  if (v.size() >= n) return std::string(v);
  return std::string(n - v.size(), '\0') + std::string(v);
}

const std::string kOidP256("\x2A\x86\x48\xCE\x3D\x03\x01\x07", 8);
const std::string kOidP384("\x2B\x81\x04\x00\x22", 5);
const std::string kOidP521("\x2B\x81\x04\x00\x23", 5);
const std::string kOidEd25519("\x2B\x06\x01\x04\x01\xDA\x47\x0F\x01", 9);

// A v4 public key or subkey packet; false if it is not v4 (its key is then skipped).
bool parse_key(std::string_view body, PgpKey* key) {
  Reader r(body);
  if (r.u8() != 4) return false;
  r.u32();  // creation time
  key->algo = r.u8();
  Pkey pkey;
  switch (key->algo) {
    case kRsa:
    case kRsaSign: {
      auto n = mpi(r);
      auto e = mpi(r);
      if (r.ok()) pkey = make_rsa_key(n, e);
      break;
    }
    case kEcdsa: {
      auto oid = r.bytes(r.u8());
      auto point = mpi(r);
      const char* group = oid == kOidP256   ? "prime256v1"
                          : oid == kOidP384 ? "secp384r1"
                          : oid == kOidP521 ? "secp521r1"
                                            : nullptr;
      if (r.ok() && group) pkey = make_ec_key(group, point);
      break;
    }
    case kEdDsaLegacy: {
      auto oid = r.bytes(r.u8());
      auto point = mpi(r);
      if (r.ok() && oid == kOidEd25519 && point.size() == 33 && point[0] == 0x40)
        pkey = make_ed25519_key(point.substr(1));
      break;
    }
    case kEd25519: {
      auto raw = r.bytes(32);
      if (r.ok()) pkey = make_ed25519_key(raw);
      break;
    }
    default:
      break;
  }
  std::string pre = "\x99";
  pre.push_back(static_cast<char>(body.size() >> 8));
  pre.push_back(static_cast<char>(body.size()));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, pre.data(), pre.size());
  EVP_DigestUpdate(ctx, body.data(), body.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  key->fingerprint = hex(std::string_view(reinterpret_cast<char*>(md), len));
  key->key_id = key->fingerprint.substr(key->fingerprint.size() - 16);
  key->pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
  return true;
}

const EVP_MD* pgp_md(int id) {
  switch (id) {
    case 8:
      return EVP_sha256();
    case 9:
      return EVP_sha384();
    case 10:
      return EVP_sha512();
    case 11:
      return EVP_sha224();
    default:
      return nullptr;
  }
}

std::string algo_name(int algo) {
  switch (algo) {
    case kRsa:
    case kRsaSign:
      return "RSA";
    case kEcdsa:
      return "ECDSA";
    case kEdDsaLegacy:
    case kEd25519:
      return "Ed25519";
    case 17:
      return "DSA";
    default:
      return "algorithm " + std::to_string(algo);
  }
}

struct Subpackets {
  std::string issuer_fpr;     // hex
  std::string issuer_key_id;  // hex
};

bool parse_subpackets(std::string_view area, Subpackets* out) {
  Reader r(area);
  while (!r.done()) {
    uint8_t o1 = r.u8();
    size_t len;
    if (o1 < 192) {
      len = o1;
    } else if (o1 < 255) {
      len = ((o1 - 192) << 8) + r.u8() + 192;
    } else {
      len = r.u32();
    }
    auto sp = r.bytes(len);
    if (!r.ok() || sp.empty()) return false;
    int type = static_cast<uint8_t>(sp[0]) & 0x7f;
    auto data = sp.substr(1);
    if (type == 16 && data.size() == 8) out->issuer_key_id = hex(data);
    if (type == 33 && data.size() >= 2 && data[0] == 4) out->issuer_fpr = hex(data.substr(1));
  }
  return true;
}

}  // namespace

std::optional<Bytes> dearmor(std::string_view text, std::string_view what, std::string* err) {
  std::string begin = "-----BEGIN " + std::string(what) + "-----";
  std::string end = "-----END " + std::string(what) + "-----";
  auto b = text.find(begin);
  if (b == std::string_view::npos) {
    *err = "no \"" + begin + "\" line";
    return std::nullopt;
  }
  auto e = text.find(end, b);
  if (e == std::string_view::npos) {
    *err = "no \"" + end + "\" line";
    return std::nullopt;
  }
  std::istringstream in{std::string(text.substr(b + begin.size(), e - b - begin.size()))};
  std::string line, body;
  bool in_headers = true, first = true;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (first && line.empty()) continue;  // rest of the BEGIN line
    if (in_headers) {
      if (first && line.find(": ") == std::string::npos) {
        in_headers = false;  // no armor headers at all
      } else {
        first = false;
        if (line.empty()) in_headers = false;
        continue;
      }
    }
    first = false;
    if (line.starts_with('=') && line.size() == 5) break;  // CRC-24 checksum
    body += line;
  }
  auto out = base64_decode(body);
  if (!out || out->empty()) {
    *err = "the armored data is not valid base64";
    return std::nullopt;
  }
  return out;
}

Result<std::vector<PgpKey>> parse_pgp_keys(std::string_view armored) {
  std::vector<PgpKey> keys;
  size_t pos = 0;
  const std::string_view kBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
  while ((pos = armored.find(kBegin, pos)) != std::string_view::npos) {
    std::string err;
    auto data = dearmor(armored.substr(pos), "PGP PUBLIC KEY BLOCK", &err);
    pos += kBegin.size();
    if (!data) return fail(Code::kSignature, "malformed OpenPGP public key block: " + err);
    std::vector<Packet> ps;
    if (!packets(*data, &ps))
      return fail(Code::kSignature, "malformed OpenPGP public key block: bad packet framing");
    std::string primary_fpr, user_id;
    size_t first = keys.size();
    for (const auto& p : ps) {
      if (p.tag == 6 || p.tag == 14) {
        PgpKey k;
        if (!parse_key(p.body, &k)) continue;  // v3/v5/v6 keys: not supported
        if (p.tag == 6) primary_fpr = k.fingerprint;
        k.primary_fingerprint = primary_fpr;
        keys.push_back(std::move(k));
      } else if (p.tag == 13 && user_id.empty()) {
        user_id = std::string(p.body);
      }
    }
    if (keys.size() == first)
      return fail(Code::kSignature,
                  "the OpenPGP public key block holds no v4 public key (v3/v5/v6 keys are not "
                  "supported)");
    for (size_t i = first; i < keys.size(); ++i) keys[i].user_id = user_id;
  }
  return keys;
}

SignatureCheck verify_pgp(std::string_view armored, std::string_view data,
                          const TrustedKeys& trusted) {
  using S = SignatureStatus;
  std::string err;
  auto bin = dearmor(armored, "PGP SIGNATURE", &err);
  if (!bin) return {S::kInvalid, "", "malformed OpenPGP signature: " + err};
  std::vector<Packet> ps;
  if (!packets(*bin, &ps) || ps.empty() || ps[0].tag != 2)
    return {S::kInvalid, "", "malformed OpenPGP signature: no signature packet"};
  std::string_view body = ps[0].body;
  Reader r(body);
  int version = r.u8();
  if (version != 4)
    return {S::kUnsupported, "",
            "OpenPGP signature version " + std::to_string(version) + " is not supported (v4 only)"};
  int sig_type = r.u8();
  int algo = r.u8();
  int hash_id = r.u8();
  auto hashed = r.bytes(r.u16());
  size_t hashed_end = r.pos();
  auto unhashed = r.bytes(r.u16());
  auto left16 = r.bytes(2);
  if (!r.ok()) return {S::kInvalid, "", "malformed OpenPGP signature packet"};
  Subpackets sub;
  if (!parse_subpackets(hashed, &sub) || !parse_subpackets(unhashed, &sub))
    return {S::kInvalid, "", "malformed OpenPGP signature subpackets"};
  std::string who = !sub.issuer_fpr.empty() ? sub.issuer_fpr : sub.issuer_key_id;
  if (sig_type != 0x00 && sig_type != 0x01)
    return {S::kInvalid, who,
            "the OpenPGP signature is not a document signature (type " + std::to_string(sig_type) +
                ")"};
  const EVP_MD* md = pgp_md(hash_id);
  if (!md)
    return {S::kUnsupported, who,
            "OpenPGP signature hash algorithm " + std::to_string(hash_id) +
                " is not supported (SHA-224/256/384/512 only; SHA-1 is refused)"};

  const PgpKey* key = nullptr;
  for (const auto& k : trusted.pgp) {
    if ((!sub.issuer_fpr.empty() && k.fingerprint == sub.issuer_fpr) ||
        (sub.issuer_fpr.empty() && !sub.issuer_key_id.empty() && k.key_id == sub.issuer_key_id)) {
      key = &k;
      break;
    }
  }
  if (!key)
    return {S::kUntrustedKey, who,
            "OpenPGP signature by key " + (who.empty() ? std::string("(no issuer)") : who) +
                ", which is not among the trusted keys"};
  who = key->fingerprint;
  if (!key->pkey || key->algo != algo)
    return {S::kUnsupported, who,
            "OpenPGP signatures by " + algo_name(algo) +
                " keys are not supported (RSA, Ed25519, ECDSA P-256/384/521)"};

  // Digest: data, the signature's hashed part, and the v4 trailer.
  std::string text;
  if (sig_type == 0x01) {  // canonical text: line ends as CRLF
    for (char c : data) {
      if (c == '\n' && (text.empty() || text.back() != '\r')) text.push_back('\r');
      text.push_back(c);
    }
    data = text;
  }
  std::string trailer = "\x04\xff";
  for (int shift = 24; shift >= 0; shift -= 8)
    trailer.push_back(static_cast<char>((hashed_end >> shift) & 0xff));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  {
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    EVP_DigestInit_ex(ctx.get(), md, nullptr);
    EVP_DigestUpdate(ctx.get(), data.data(), data.size());
    EVP_DigestUpdate(ctx.get(), body.data(), hashed_end);
    EVP_DigestUpdate(ctx.get(), trailer.data(), trailer.size());
    EVP_DigestFinal_ex(ctx.get(), digest, &dlen);
  }
  const std::string bad = "the OpenPGP signature by " + algo_name(algo) + " key " + who +
                          " does not verify: the commit or its signature was altered";
  if (left16.size() != 2 || static_cast<unsigned char>(left16[0]) != digest[0] ||
      static_cast<unsigned char>(left16[1]) != digest[1])
    return {S::kInvalid, who, bad};

  bool ok = false;
  if (algo == kRsa || algo == kRsaSign) {
    auto s = mpi(r);
    std::unique_ptr<EVP_PKEY_CTX, CtxDeleter> ctx(EVP_PKEY_CTX_new(key->pkey.get(), nullptr));
    std::string sig = left_pad(s, static_cast<size_t>(EVP_PKEY_get_size(key->pkey.get())));
    ok = r.ok() && ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
         EVP_PKEY_CTX_set_signature_md(ctx.get(), md) == 1 &&
         EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                         digest, dlen) == 1;
  } else if (algo == kEdDsaLegacy || algo == kEd25519) {
    std::string sig;
    if (algo == kEdDsaLegacy) {
      auto sr = mpi(r);
      auto ss = mpi(r);
      sig = left_pad(sr, 32) + left_pad(ss, 32);
    } else {
      sig = std::string(r.bytes(64));
    }
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    ok = r.ok() && sig.size() == 64 &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key->pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), 64, digest,
                          dlen) == 1;
  } else if (algo == kEcdsa) {
    auto sr = mpi(r);
    auto ss = mpi(r);
    if (r.ok()) {
      ECDSA_SIG* es = ECDSA_SIG_new();
      ECDSA_SIG_set0(es,
                     BN_bin2bn(reinterpret_cast<const unsigned char*>(sr.data()),
                               static_cast<int>(sr.size()), nullptr),
                     BN_bin2bn(reinterpret_cast<const unsigned char*>(ss.data()),
                               static_cast<int>(ss.size()), nullptr));
      unsigned char* der = nullptr;
      int len = i2d_ECDSA_SIG(es, &der);
      std::unique_ptr<EVP_PKEY_CTX, CtxDeleter> ctx(EVP_PKEY_CTX_new(key->pkey.get(), nullptr));
      ok = len > 0 && ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
           EVP_PKEY_verify(ctx.get(), der, static_cast<size_t>(len), digest, dlen) == 1;
      OPENSSL_free(der);
      ECDSA_SIG_free(es);
    }
  }
  if (!ok) return {S::kInvalid, who, bad};
  std::string msg = "good OpenPGP signature by trusted " + algo_name(algo) + " key " + who;
  if (!key->user_id.empty()) msg += " (" + key->user_id + ")";
  return {S::kValid, who, msg};
}

}  // namespace cairn::git::detail
