#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace cairn::http {
namespace {

namespace fs = std::filesystem;

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads one HTTP response (headers + Content-Length body) from a reader.
template <typename Read>
std::string read_response(Read&& rd) {
  std::string buf;
  char tmp[4096];
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    int n = rd(tmp, sizeof tmp);
    if (n <= 0) return buf;
    buf.append(tmp, static_cast<size_t>(n));
  }
  size_t len = 0;
  auto cl = buf.find("Content-Length: ");
  if (cl != std::string::npos) len = std::stoul(buf.substr(cl + 16));
  while (buf.size() < end + 4 + len) {
    int n = rd(tmp, sizeof tmp);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
  }
  return buf;
}

std::string plain_exchange(int port, const std::string& raw) {
  int fd = connect_to(port);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
  std::string out =
      read_response([fd](char* b, size_t n) { return static_cast<int>(::read(fd, b, n)); });
  ::close(fd);
  return out;
}

Response echo(const Request& r) {
  return Response::text(200, r.method + " " + r.path + " " + std::to_string(r.body.size()) + " " +
                                 r.header("x-test"));
}

TEST(HttpServer, ServesPlainRequestsWithKeepAlive) {
  auto s = Server::start({.port = 0}, echo);
  ASSERT_TRUE(s) << s.error();
  int fd = connect_to((*s)->port());
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {  // three requests on one connection
    std::string req = "POST /hook?x=1 HTTP/1.1\r\nHost: x\r\nX-Test: v" + std::to_string(i) +
                      "\r\nContent-Length: 5\r\n\r\nhello";
    ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string resp =
        read_response([fd](char* b, size_t n) { return static_cast<int>(::read(fd, b, n)); });
    EXPECT_NE(resp.find("200 OK"), std::string::npos) << resp;
    EXPECT_NE(resp.find("POST /hook 5 v" + std::to_string(i)), std::string::npos) << resp;
  }
  ::close(fd);
  EXPECT_EQ((*s)->requests(), 3u);
}

TEST(HttpServer, DrainClosesEachConnectionAfterItsNextAnswer) {
  auto s = Server::start({.port = 0}, echo);
  ASSERT_TRUE(s) << s.error();
  int fd = connect_to((*s)->port());
  ASSERT_GE(fd, 0);
  auto rd = [fd](char* b, size_t n) { return static_cast<int>(::read(fd, b, n)); };
  const std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string first = read_response(rd);
  EXPECT_NE(first.find("200 OK"), std::string::npos) << first;
  EXPECT_EQ(first.find("Connection: close"), std::string::npos) << first;

  (*s)->drain();
  // The kept-alive connection gets its next answer, told to close, and is closed.
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string second = read_response(rd);
  EXPECT_NE(second.find("200 OK"), std::string::npos) << second;
  EXPECT_NE(second.find("Connection: close"), std::string::npos) << second;
  char b[16];
  EXPECT_EQ(::read(fd, b, sizeof b), 0) << "the server keeps the connection open";
  ::close(fd);
  // New connections are still answered while draining.
  EXPECT_NE(plain_exchange((*s)->port(), req).find("200 OK"), std::string::npos);
  EXPECT_TRUE((*s)->wait_answered(std::chrono::seconds(1)));
}

TEST(HttpServer, WaitAnsweredWaitsForAnAnswerUnderWay) {
  std::atomic<bool> release{false};
  auto s = Server::start({.port = 0}, [&](const Request& r) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return echo(r);
  });
  ASSERT_TRUE(s) << s.error();
  std::string got;
  std::thread client(
      [&] { got = plain_exchange((*s)->port(), "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((*s)->requests() < 1u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ((*s)->requests(), 1u);
  EXPECT_FALSE((*s)->wait_answered(std::chrono::milliseconds(100)));
  release = true;
  EXPECT_TRUE((*s)->wait_answered(std::chrono::seconds(5)));
  client.join();
  EXPECT_NE(got.find("GET /slow"), std::string::npos) << got;
}

TEST(HttpServer, OversizedBodyIs413AndMalformedIs400) {
  auto s = Server::start({.port = 0, .body_limit = 1024}, echo);
  ASSERT_TRUE(s) << s.error();
  std::string big =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'x');
  EXPECT_NE(plain_exchange((*s)->port(), big).find("413"), std::string::npos);
  EXPECT_NE(plain_exchange((*s)->port(), "NOT HTTP AT ALL\r\n\r\n").find("400"), std::string::npos);
  EXPECT_EQ((*s)->rejected(), 2u);
  // Still serving after bad input.
  EXPECT_NE(plain_exchange((*s)->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n").find("200 OK"),
            std::string::npos);
}

TEST(HttpServer, HandlerExceptionIs500NotACrash) {
  auto s = Server::start({.port = 0},
                         [](const Request&) -> Response { throw std::runtime_error("boom"); });
  ASSERT_TRUE(s);
  EXPECT_NE(plain_exchange((*s)->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n").find("500"),
            std::string::npos);
}

TEST(HttpServer, SilentClientIsTimedOut) {
  auto s = Server::start({.port = 0, .read_timeout = std::chrono::milliseconds(200)}, echo);
  ASSERT_TRUE(s);
  int fd = connect_to((*s)->port());
  ASSERT_EQ(::write(fd, "GET / HTTP/1.1\r\n", 16), 16);  // never finishes the request
  char b[16];
  auto start = std::chrono::steady_clock::now();
  ssize_t n = ::read(fd, b, sizeof b);  // the server closes the connection
  EXPECT_LE(n, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ::close(fd);
}

TEST(HttpServer, PortInUseIsAClearError) {
  auto a = Server::start({.port = 0}, echo);
  ASSERT_TRUE(a);
  auto b = Server::start({.port = (*a)->port()}, echo);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find(std::to_string((*a)->port())), std::string::npos) << b.error();
}

// --- TLS

struct Pki {
  fs::path dir;
  explicit Pki(const std::string& cn) {
    dir = fs::temp_directory_path() / ("cairn-http-" + std::to_string(::getpid()) + "-" + cn);
    fs::create_directories(dir);
    issue(cn);
  }
  ~Pki() { fs::remove_all(dir); }
  void issue(const std::string& cn) {
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=" +
        cn + " -addext subjectAltName=IP:127.0.0.1 -keyout " + (dir / "tls.key.tmp").string() +
        " -out " + (dir / "tls.crt.tmp").string() + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    // Replace both files by rename, as a rotation would.
    fs::rename(dir / "tls.key.tmp", dir / "tls.key");
    fs::rename(dir / "tls.crt.tmp", dir / "tls.crt");
  }
  std::string cert() const { return (dir / "tls.crt").string(); }
  std::string key() const { return (dir / "tls.key").string(); }
};

struct TlsResult {
  bool handshake = false;
  std::string response;
  std::string peer_cn;
};

TlsResult tls_get(int port, int max_version) {
  TlsResult out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_security_level(ctx, 0);  // let the client offer old versions
  int fd = connect_to(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) == 1) {
    out.handshake = true;
    X509* peer = SSL_get1_peer_certificate(ssl);
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    out.peer_cn = cn;
    X509_free(peer);
    std::string req = "GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    SSL_write(ssl, req.data(), static_cast<int>(req.size()));
    out.response =
        read_response([ssl](char* b, size_t n) { return SSL_read(ssl, b, static_cast<int>(n)); });
  }
  ERR_clear_error();
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

TEST(HttpServer, TlsOneTwoAndUpOnly) {
  Pki pki("first");
  auto s = Server::start({.port = 0, .cert_file = pki.cert(), .key_file = pki.key()}, echo);
  ASSERT_TRUE(s) << s.error();
  auto ok = tls_get((*s)->port(), TLS1_3_VERSION);
  ASSERT_TRUE(ok.handshake);
  EXPECT_NE(ok.response.find("GET /t"), std::string::npos);
  auto v12 = tls_get((*s)->port(), TLS1_2_VERSION);
  EXPECT_TRUE(v12.handshake);
  auto v11 = tls_get((*s)->port(), TLS1_1_VERSION);
  EXPECT_FALSE(v11.handshake) << "TLS 1.1 must be refused";
  // The server counts the refusal on its own thread, maybe after the client
  // has seen it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((*s)->tls_failures() < 1u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE((*s)->tls_failures(), 1u);
}

TEST(HttpServer, RotatedCertificateIsServedWithoutRestart) {
  Pki pki("before");
  auto s = Server::start({.port = 0,
                          .cert_file = pki.cert(),
                          .key_file = pki.key(),
                          .reload_check = std::chrono::milliseconds(50)},
                         echo);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(tls_get((*s)->port(), TLS1_3_VERSION).peer_cn, "before");
  pki.issue("after");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string cn;
  while (std::chrono::steady_clock::now() < deadline &&
         (cn = tls_get((*s)->port(), TLS1_3_VERSION).peer_cn) != "after") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(cn, "after");
  EXPECT_GE((*s)->cert_reloads(), 1u);
}

TEST(HttpServer, BadRotatedPairKeepsTheOldCertificateAndSaysWhy) {
  Pki pki("before"), broken("broken");
  auto s = Server::start({.port = 0,
                          .cert_file = pki.cert(),
                          .key_file = pki.key(),
                          .reload_check = std::chrono::milliseconds(50)},
                         echo);
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(tls_get((*s)->port(), TLS1_3_VERSION).peer_cn, "before");
  // A rotation that went wrong: a new certificate, and the old key beside it.
  fs::copy_file(broken.cert(), pki.cert(), fs::copy_options::overwrite_existing);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((*s)->cert_reload_error().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string why = (*s)->cert_reload_error();
  EXPECT_NE(why.find("tls.key"), std::string::npos) << why;
  EXPECT_NE(why.find("mismatch"), std::string::npos) << why;
  // Still served, with the old pair, on new connections.
  auto old = tls_get((*s)->port(), TLS1_3_VERSION);
  EXPECT_TRUE(old.handshake);
  EXPECT_EQ(old.peer_cn, "before");
  EXPECT_NE(old.response.find("200 OK"), std::string::npos) << old.response;
  EXPECT_EQ((*s)->cert_reloads(), 0u);
  // A good pair afterwards is picked up, and the error goes.
  pki.issue("after");
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string cn;
  while (std::chrono::steady_clock::now() < deadline &&
         (cn = tls_get((*s)->port(), TLS1_3_VERSION).peer_cn) != "after") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(cn, "after");
  EXPECT_EQ((*s)->cert_reload_error(), "");
}

TEST(HttpServer, MismatchedKeyIsRefusedAtStart) {
  Pki a("a"), b("b");
  auto s = Server::start({.port = 0, .cert_file = a.cert(), .key_file = b.key()}, echo);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("tls.key"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("mismatch"), std::string::npos) << s.error();
}

}  // namespace
}  // namespace cairn::http
