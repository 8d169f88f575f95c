#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "cluster.h"
#include "kube/util.h"

namespace cairn::e2e {

std::string cluster_env(const std::string& key) {
  const char* kc = std::getenv("KUBECONFIG");
  if (!kc) return {};
  std::string dir(kc);
  dir = dir.substr(0, dir.rfind('/'));
  std::ifstream in(dir + "/cluster.env");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::pair<int, std::string> sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, {}};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

namespace {

std::string pem_of(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* d;
  long n = BIO_get_mem_data(b, &d);
  std::string s(d, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}

std::string pem_of(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* d;
  long n = BIO_get_mem_data(b, &d);
  std::string s(d, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}

void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* base_cert(EVP_PKEY* key, const std::string& cn, const std::string& org, long from, long to) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::rand()) + 2);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  if (!org.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return x;
}

}  // namespace

Pem self_signed_ca(const std::string& cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = base_cert(key, cn, "", -60, 86400);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
  add_ext(x, x, NID_key_usage, "critical,keyCertSign,digitalSignature");
  X509_sign(x, key, EVP_sha256());
  Pem out{pem_of(x), pem_of(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

Pem issue_client_cert(const Pem& ca, const std::string& cn, const std::string& org,
                      std::chrono::seconds from, std::chrono::seconds to) {
  BIO* cb = BIO_new_mem_buf(ca.cert.data(), static_cast<int>(ca.cert.size()));
  X509* ca_cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(ca.key.data(), static_cast<int>(ca.key.size()));
  EVP_PKEY* ca_key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  if (!ca_cert || !ca_key) throw std::runtime_error("cannot read the CA");
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = base_cert(key, cn, org, static_cast<long>(from.count()), static_cast<long>(to.count()));
  X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
  add_ext(x, ca_cert, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(x, ca_cert, NID_key_usage, "critical,digitalSignature");
  add_ext(x, ca_cert, NID_ext_key_usage, "clientAuth");
  X509_sign(x, ca_key, EVP_sha256());
  Pem out{pem_of(x), pem_of(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  X509_free(ca_cert);
  EVP_PKEY_free(ca_key);
  return out;
}

Pem issue_server_cert(const Pem& ca, const std::string& ip) {
  BIO* cb = BIO_new_mem_buf(ca.cert.data(), static_cast<int>(ca.cert.size()));
  X509* ca_cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(ca.key.data(), static_cast<int>(ca.key.size()));
  EVP_PKEY* ca_key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  if (!ca_cert || !ca_key) throw std::runtime_error("cannot read the CA");
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = base_cert(key, ip, "", -60, 86400);
  X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
  add_ext(x, ca_cert, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(x, ca_cert, NID_key_usage, "critical,digitalSignature");
  add_ext(x, ca_cert, NID_ext_key_usage, "serverAuth");
  add_ext(x, ca_cert, NID_subject_alt_name, ("IP:" + ip).c_str());
  X509_sign(x, ca_key, EVP_sha256());
  Pem out{pem_of(x), pem_of(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  X509_free(ca_cert);
  EVP_PKEY_free(ca_key);
  return out;
}

}  // namespace cairn::e2e
