// sprig's certificate functions with OpenSSL: genCA, genSelfSignedCert,
// genSignedCert (RSA 2048 keys, PEM "RSA PRIVATE KEY" and "CERTIFICATE", as
// sprig writes them) and genPrivateKey. Their output is random by design.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "helm/functions.h"

namespace cairn::helm {
namespace {

using R = std::expected<Value, std::string>;

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;
using Bio = std::unique_ptr<BIO, Deleter>;

// sprig's `certificate` struct: .Cert and .Key, PEM.
class Certificate final : public Object {
 public:
  Certificate(std::string cert, std::string key) : cert_(std::move(cert)), key_(std::move(key)) {}
  std::string type_name() const override { return "sprig.certificate"; }
  std::optional<Value> field(const std::string& name) const override {
    if (name == "Cert") return Value(cert_);
    if (name == "Key") return Value(key_);
    return std::nullopt;
  }
  std::optional<std::string> to_string() const override { return "{" + cert_ + " " + key_ + "}"; }
  const std::string& cert() const { return cert_; }
  const std::string& key() const { return key_; }

 private:
  std::string cert_, key_;
};

std::string bio_string(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::expected<std::string, std::string> key_pem(EVP_PKEY* k) {
  Bio b(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey_traditional: "RSA PRIVATE KEY" (PKCS#1), as Go's
  // x509.MarshalPKCS1PrivateKey.
  if (!PEM_write_bio_PrivateKey_traditional(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr))
    return std::unexpected("error encoding private key");
  return bio_string(b.get());
}

std::expected<std::string, std::string> cert_pem(X509* c) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(b.get(), c)) return std::unexpected("error encoding certificate");
  return bio_string(b.get());
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

struct CertSpec {
  std::string cn;
  std::vector<std::string> ips, dns;
  std::int64_t days = 365;
  bool is_ca = false;
};

std::expected<Cert, std::string> make_cert(const CertSpec& s, EVP_PKEY* key, X509* issuer,
                                           EVP_PKEY* issuer_key) {
  Cert c(X509_new());
  X509_set_version(c.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), static_cast<long>(s.days) * 24 * 3600);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(s.cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : c.get();
  X509_set_issuer_name(c.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (s.is_ca) {
    ok &= add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    ok &= add_ext(c.get(), signer, NID_key_usage,
                  "critical,digitalSignature,keyEncipherment,keyCertSign");
  } else {
    ok &= add_ext(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok &= add_ext(c.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    ok &= add_ext(c.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  std::string san;
  for (const auto& d : s.dns) san += (san.empty() ? "" : ",") + ("DNS:" + d);
  for (const auto& ip : s.ips) san += (san.empty() ? "" : ",") + ("IP:" + ip);
  if (!san.empty()) ok &= add_ext(c.get(), signer, NID_subject_alt_name, san);
  if (!ok) return std::unexpected("error building certificate for " + s.cn);
  if (!X509_sign(c.get(), issuer_key ? issuer_key : key, EVP_sha256()))
    return std::unexpected("error signing certificate");
  return c;
}

Key rsa_key() { return Key(EVP_RSA_gen(2048)); }

std::expected<std::vector<std::string>, std::string> string_list(const Value& v, const char* what) {
  std::vector<std::string> out;
  if (v.is_nil()) return out;
  if (!v.is_list()) return std::unexpected(std::string(what) + " must be a list");
  for (const Value& x : v.list()) {
    if (!x.is_string())
      return std::unexpected(std::string(what) + ": " + go_sprint(x) + " is not a string");
    out.push_back(x.as_string());
  }
  return out;
}

R certificate_value(const Cert& c, EVP_PKEY* k) {
  auto cp = cert_pem(c.get());
  auto kp = key_pem(k);
  if (!cp) return std::unexpected(cp.error());
  if (!kp) return std::unexpected(kp.error());
  return Value(std::shared_ptr<const Object>(std::make_shared<Certificate>(*cp, *kp)));
}

R gen_ca(FuncContext&, std::vector<Value>& a) {
  Key k = rsa_key();
  if (!k) return std::unexpected("error generating RSA key");
  CertSpec s{a[0].as_string(), {}, {}, a[1].as_int(), true};
  auto c = make_cert(s, k.get(), nullptr, nullptr);
  if (!c) return std::unexpected(c.error());
  return certificate_value(*c, k.get());
}

R gen_cert(std::vector<Value>& a, const Certificate* ca) {
  auto ips = string_list(a[1], "ips");
  auto dns = string_list(a[2], "alternateNames");
  if (!ips) return std::unexpected(ips.error());
  if (!dns) return std::unexpected(dns.error());
  Key k = rsa_key();
  if (!k) return std::unexpected("error generating RSA key");
  CertSpec s{a[0].as_string(), *ips, *dns, a[3].as_int(), false};
  if (!ca) {
    auto c = make_cert(s, k.get(), nullptr, nullptr);
    if (!c) return std::unexpected(c.error());
    return certificate_value(*c, k.get());
  }
  Bio cb(BIO_new_mem_buf(ca->cert().data(), static_cast<int>(ca->cert().size())));
  Cert issuer(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  Bio kb(BIO_new_mem_buf(ca->key().data(), static_cast<int>(ca->key().size())));
  Key issuer_key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!issuer || !issuer_key) return std::unexpected("error parsing the CA's certificate or key");
  auto c = make_cert(s, k.get(), issuer.get(), issuer_key.get());
  if (!c) return std::unexpected(c.error());
  return certificate_value(*c, k.get());
}

}  // namespace

void add_crypto_funcs(FuncMap& m) {
  m["genCA"] = FuncSpec{gen_ca, {Param::kString, Param::kInt}};
  m["genSelfSignedCert"] =
      FuncSpec{[](FuncContext&, std::vector<Value>& a) -> R { return gen_cert(a, nullptr); },
               {Param::kString, Param::kList, Param::kList, Param::kInt}};
  m["genSignedCert"] =
      FuncSpec{[](FuncContext&, std::vector<Value>& a) -> R {
                 const Certificate* ca = nullptr;
                 if (a[4].kind() == Value::Kind::kObject)
                   ca = dynamic_cast<const Certificate*>(&a[4].object());
                 if (!ca)
                   return std::unexpected("wrong type for value; expected sprig.certificate; got " +
                                          a[4].type_name());
                 return gen_cert(a, ca);
               },
               {Param::kString, Param::kList, Param::kList, Param::kInt, Param::kAny}};
  m["genPrivateKey"] = FuncSpec{[](FuncContext&, std::vector<Value>& a) -> R {
                                  const std::string& t = a[0].as_string();
                                  Key k;
                                  if (t == "rsa" || t.empty())
                                    k = rsa_key();
                                  else if (t == "ecdsa")
                                    k = Key(EVP_EC_gen("P-256"));
                                  else if (t == "ed25519")
                                    k = Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
                                  else
                                    return Value("Unknown type " + t);
                                  if (!k) return std::unexpected("error generating " + t + " key");
                                  auto p = key_pem(k.get());
                                  if (!p) return std::unexpected(p.error());
                                  return Value(*p);
                                },
                                {Param::kString}};
}

}  // namespace cairn::helm
