#include "https_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace cairn::e2e {

struct HttpsServer::Tls {
  SSL_CTX* ctx = nullptr;
  ~Tls() {
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {

// A self-signed EC P-256 certificate valid for 127.0.0.1 and localhost.
std::pair<X509*, EVP_PKEY*> make_cert() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("cairn-e2e-webhook"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  for (auto [nid, val] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                          std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                          std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
                          std::pair{NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, val);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  return {x, key};
}

bool read_request(SSL* ssl, std::string& buf, HttpRequest& req) {
  size_t header_end;
  while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
    char tmp[16384];
    int n = SSL_read(ssl, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    if (buf.size() > (1u << 20)) return false;
  }
  std::string head = buf.substr(0, header_end);
  size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
  req.method = head.substr(0, sp1);
  req.path = head.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t len = 0;
  for (size_t pos = head.find("\r\n"); pos != std::string::npos; pos = head.find("\r\n", pos + 2)) {
    std::string line = head.substr(pos + 2, head.find("\r\n", pos + 2) - pos - 2);
    if (strncasecmp(line.c_str(), "content-length:", 15) == 0) len = std::stoul(line.substr(15));
    if (auto colon = line.find(':'); colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      req.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
  }
  if (len > (8u << 20)) return false;
  while (buf.size() < header_end + 4 + len) {
    char tmp[16384];
    int n = SSL_read(ssl, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  req.body = buf.substr(header_end + 4, len);
  buf.erase(0, header_end + 4 + len);
  return true;
}

}  // namespace

HttpsServer::HttpsServer(Handler h) : handler_(std::move(h)), tls_(std::make_unique<Tls>()) {
  // A client that hangs up mid-response must not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  auto [cert, key] = make_cert();
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  cert_pem_.assign(data, static_cast<size_t>(n));
  BIO_free(bio);

  tls_->ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(tls_->ctx, TLS1_2_VERSION);
  SSL_CTX_use_certificate(tls_->ctx, cert);
  SSL_CTX_use_PrivateKey(tls_->ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error(std::string("cannot listen: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpsServer::~HttpsServer() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  std::lock_guard lock(mu_);
  for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
  for (auto& t : conns_) t.join();
}

void HttpsServer::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    conn_fds_.push_back(fd);
    conns_.emplace_back([this, fd] { serve(fd); });
  }
}

void HttpsServer::serve(int fd) {
  SSL* ssl = SSL_new(tls_->ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) {
    std::string buf;
    HttpRequest req;
    while (!stop_ && read_request(ssl, buf, req)) {
      requests_++;
      HttpResponse resp = handler_(req);
      std::string out =
          "HTTP/1.1 " + std::to_string(resp.status) + " OK\r\nContent-Type: " + resp.content_type +
          "\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\n\r\n" + resp.body;
      if (SSL_write(ssl, out.data(), static_cast<int>(out.size())) <= 0) break;
    }
  }
  ERR_clear_error();
  SSL_shutdown(ssl);
  SSL_free(ssl);
  ::close(fd);
}

}  // namespace cairn::e2e
