// 10,000 hostile requests over TLS to the real webhook server (issue #6):
// lib/http's Server with webhook::Handler and the Policy on the fixture of
// fixture.h, built with -fsanitize=address (tests/fuzz/tests.cmake), so a
// crash, a memory error or a leak (LeakSanitizer at exit) fails the run too.
//
// The requests, over several TLS keep-alive connections from 4 client
// threads, some on fresh connections:
// - the sample reviews as they are (the verdict must be the sample's);
// - samples truncated at a random point;
// - samples with random fields removed, retyped or given other values, and
//   some with bytes flipped, inserted or cut after that;
// - random bytes and random JSON-looking token soup;
// - huge nesting (to a million levels) in a Pipeline spec, in a stamped
//   Deployment and as the whole body, and unclosed nesting;
// - bodies over the 7 MiB limit, with a Content-Length and chunked: 413;
// - a Content-Length larger than what is sent, followed by a TLS close, by a
//   TCP half-close, or by nothing: the server must end the connection (or
//   answer 4xx) within its read timeout, never hang.
// Every answer must be well formed. What well formed means for a body is
// decided by webhook::parse_review itself: when it refuses the body, a 400
// whose JSON "error" is "not a well-formed AdmissionReview: <that reason>";
// when it accepts it, a 200 AdmissionReview echoing the uid with a boolean
// allowed (a sample's verdict is also checked), or a 400 "malformed object in
// the review: ..." (the policy threw).
//
// Usage: cairn_socket_fuzz [--seed N] [--requests N] [--only INDEX]
// The seed is fixed by default and printed; a failure names the request's
// index (replay it alone with --only) and shows the input, truncated.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>

#include "fixture.h"
#include "http/server.h"
#include "log/log.h"
#include "webhook/handler.h"

namespace cairn::fuzz {
namespace {

constexpr uint64_t kDefaultSeed = 20240601;
constexpr int kDefaultRequests = 10000;
constexpr int kThreads = 4;
// The server's read timeout, which bounds the reading of a whole request: a
// 7 MiB body must get through it (under ASan, on a busy machine), and a
// stalled request costs that long.
constexpr auto kReadTimeout = std::chrono::milliseconds(3000);
constexpr int kClientTimeoutSec = 30;  // a server that does not answer in this long hangs
constexpr size_t kBodyLimit = webhook::kMaxReviewBytes;

// ---- TLS: a self-signed certificate for 127.0.0.1 --------------------------

std::string openssl_error(unsigned long code) {
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);  // not ERR_error_string: client threads share it
  return buf;
}

bool make_certificate(const std::string& cert_file, const std::string& key_file,
                      std::string* error) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  bool ok = key && x;
  if (ok) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    ok = san && X509_add_ext(x, san, -1) == 1 && X509_sign(x, key, EVP_sha256()) > 0;
    X509_EXTENSION_free(san);
  }
  if (ok) {
    FILE* c = fopen(cert_file.c_str(), "wb");
    FILE* k = fopen(key_file.c_str(), "wb");
    ok = c && k && PEM_write_X509(c, x) == 1 &&
         PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (c) fclose(c);
    if (k) fclose(k);
  }
  if (!ok) *error = "cannot make a certificate: " + openssl_error(ERR_get_error());
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

std::string ssl_error(SSL* ssl, int ret) {
  int e = SSL_get_error(ssl, ret);
  unsigned long q = ERR_get_error();
  std::string out = "SSL error " + std::to_string(e);
  if (q) out += " (" + openssl_error(q) + ")";
  if (e == SSL_ERROR_SYSCALL && errno) out += std::string(": ") + std::strerror(errno);
  ERR_clear_error();
  return out;
}

// ---- A blocking HTTP/1.1 client over TLS ------------------------------------

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool close = false;  // Connection: close
};

class Conn {
 public:
  enum class Got { kResponse, kClosed, kError };

  static std::unique_ptr<Conn> open(SSL_CTX* ctx, int port, std::string* error) {
    std::unique_ptr<Conn> c(new Conn());
    c->fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd_ < 0 || connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      *error = std::string("connect: ") + std::strerror(errno);
      return nullptr;
    }
    timeval tv{kClientTimeoutSec, 0};
    setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->ssl_ = SSL_new(ctx);
    SSL_set_fd(c->ssl_, c->fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl_), "127.0.0.1");
    if (int r = SSL_connect(c->ssl_); r != 1) {
      *error = "TLS handshake: " + ssl_error(c->ssl_, r);
      return nullptr;
    }
    return c;
  }
  ~Conn() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }

  int fd() const { return fd_; }
  bool reused() const { return responses_ > 0; }

  bool send(std::string_view data, std::string* error) {
    while (!data.empty()) {
      int n =
          SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      if (n <= 0) {
        *error = "write: " + ssl_error(ssl_, n);
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Whether an answer (or the end of the connection) is waiting to be read.
  // The socket alone does not tell: TLS 1.3 session tickets make it readable
  // too, so a non-blocking peek looks for application data.
  bool readable() {
    if (SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    const int flags = fcntl(fd_, F_GETFL);
    fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    char c;
    const int n = SSL_peek(ssl_, &c, 1);
    const int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
    fcntl(fd_, F_SETFL, flags);
    ERR_clear_error();
    // Data, the end of the connection or an error: the read that follows says which.
    return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
  }

  void close_notify() { SSL_shutdown(ssl_); }
  void half_close() { shutdown(fd_, SHUT_WR); }

  // Reads one response. kClosed: the connection ended before its first byte.
  Got read_response(Response* out, std::string* error) {
    *out = {};
    size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (auto g = fill(error); g != Got::kResponse)
        return g == Got::kClosed && buf_.empty() ? Got::kClosed : fail(error, "in the header");
    }
    std::string_view head(buf_.data(), header_end);
    if (head.size() < 12 || !head.starts_with("HTTP/1.1 "))
      return fail(error, "bad status line: " + excerpt(head, 80));
    out->status = std::atoi(std::string(head.substr(9, 3)).c_str());
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view line =
          head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2);
      if (size_t colon = line.find(':'); colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        out->headers[name] = std::string(value);
      }
      pos = next;
    }
    auto cl = out->headers.find("content-length");
    if (cl == out->headers.end()) return fail(error, "no Content-Length in the answer");
    const size_t length = std::strtoull(cl->second.c_str(), nullptr, 10);
    buf_.erase(0, header_end + 4);
    while (buf_.size() < length) {
      if (fill(error) != Got::kResponse) return fail(error, "in the body");
    }
    out->body = buf_.substr(0, length);
    buf_.erase(0, length);
    auto conn = out->headers.find("connection");
    out->close = conn != out->headers.end() && conn->second == "close";
    ++responses_;
    return Got::kResponse;
  }

  // After a response announced Connection: close, or a request the server
  // must give up on: waits for the end of the connection. False if it stays
  // open (or sends something else) until the client's timeout.
  bool wait_closed(std::string* error) {
    Response r;
    switch (read_response(&r, error)) {
      case Got::kClosed:
        return true;
      case Got::kResponse:
        *error = "an answer " + std::to_string(r.status) + " instead of the end of the connection";
        return false;
      case Got::kError:
        return false;
    }
    return false;
  }

 private:
  Conn() = default;

  Got fill(std::string* error) {
    char tmp[16384];
    int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return Got::kResponse;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_ZERO_RETURN ||
        (e == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET || errno == EPIPE))) {
      ERR_clear_error();
      return Got::kClosed;
    }
    if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      *error = "no answer within " + std::to_string(kClientTimeoutSec) + "s (the server hangs)";
      ERR_clear_error();
      return Got::kError;
    }
    *error = "read: " + ssl_error(ssl_, n);
    return Got::kError;
  }
  Got fail(std::string* error, const std::string& where) {
    if (error->empty()) *error = "the connection ended";
    *error += " " + where;
    return Got::kError;
  }

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buf_;
  int responses_ = 0;
};

long ms_since(std::chrono::steady_clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
          .count());
}

std::string request_head(const std::string& path, size_t content_length,
                         const std::string& extra = {}) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
         "Accept: application/json\r\n" +
         extra + "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

// ---- The inputs -------------------------------------------------------------

enum class Kind {
  kSample,
  kTruncated,
  kMutated,
  kRandomBytes,
  kTokenSoup,
  kDeep,
  kOversize,
  kOversizeChunked,
  kShortThenCloseNotify,
  kShortThenHalfClose,
  kShortThenStall,
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kSample:
      return "sample";
    case Kind::kTruncated:
      return "truncated";
    case Kind::kMutated:
      return "mutated";
    case Kind::kRandomBytes:
      return "random-bytes";
    case Kind::kTokenSoup:
      return "token-soup";
    case Kind::kDeep:
      return "deep-nesting";
    case Kind::kOversize:
      return "oversize";
    case Kind::kOversizeChunked:
      return "oversize-chunked";
    case Kind::kShortThenCloseNotify:
      return "short-body+close_notify";
    case Kind::kShortThenHalfClose:
      return "short-body+tcp-half-close";
    case Kind::kShortThenStall:
      return "short-body+stall";
  }
  return "?";
}

// The plan: which kind each request is, shuffled with the seed.
std::vector<Kind> plan(int total, uint64_t seed) {
  std::vector<Kind> out;
  auto add = [&](Kind k, int n) { out.insert(out.end(), static_cast<size_t>(n), k); };
  add(Kind::kDeep, 12);
  add(Kind::kOversize, 4);
  add(Kind::kOversizeChunked, 4);
  add(Kind::kShortThenCloseNotify, 8);
  add(Kind::kShortThenHalfClose, 8);
  add(Kind::kShortThenStall, 4);
  const int rest = std::max(0, total - static_cast<int>(out.size()));
  add(Kind::kSample, rest * 10 / 100);
  add(Kind::kTruncated, rest * 25 / 100);
  add(Kind::kRandomBytes, rest * 8 / 100);
  add(Kind::kTokenSoup, rest * 7 / 100);
  add(Kind::kMutated, total - static_cast<int>(out.size()));
  out.resize(static_cast<size_t>(total));
  std::mt19937_64 rng(seed);
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

struct Input {
  Kind kind;
  std::string path;
  std::string body;
  const Sample* sample = nullptr;  // for kSample: the verdict to check
};

class Generator {
 public:
  Generator(const std::vector<Sample>& samples, const std::string& commit)
      : samples_(samples), commit_(commit) {}

  Input make(Kind kind, std::mt19937_64& rng) const {
    const Sample& s = samples_[pick(rng, samples_.size())];
    Input in{kind, s.path, {}, nullptr};
    if (chance(rng, 10)) in.path = s.path == "/validate" ? "/validate-cairn" : "/validate";
    switch (kind) {
      case Kind::kSample:
        in.path = s.path;
        in.body = s.body;
        in.sample = &s;
        break;
      case Kind::kTruncated:
        in.body = s.body.substr(0, pick(rng, s.body.size()));
        break;
      case Kind::kMutated:
        in.body = mutate(s.body, rng);
        break;
      case Kind::kRandomBytes: {
        in.body.resize(pick(rng, 4096));
        for (char& c : in.body) c = static_cast<char>(rng());
        break;
      }
      case Kind::kTokenSoup:
        in.body = soup(rng);
        break;
      case Kind::kDeep:
        in.body = deep(rng, &in.path);
        break;
      default:
        in.body = s.body;
        break;
    }
    return in;
  }

 private:
  static size_t pick(std::mt19937_64& rng, size_t n) { return n == 0 ? 0 : rng() % n; }
  static bool chance(std::mt19937_64& rng, int percent) {
    return static_cast<int>(rng() % 100) < percent;
  }

  std::string random_string(std::mt19937_64& rng) const {
    static const std::vector<std::string> interesting = {"",
                                                         "CREATE",
                                                         "UPDATE",
                                                         "DELETE",
                                                         "CONNECT",
                                                         "status",
                                                         "scale",
                                                         "shop",
                                                         "loose",
                                                         "watched",
                                                         "signed",
                                                         "gated",
                                                         "kube-system",
                                                         "apps",
                                                         "Deployment",
                                                         "ConfigMap",
                                                         "Pipeline",
                                                         "Release",
                                                         "cairn.dev",
                                                         "v1alpha1",
                                                         "admission.k8s.io/v1",
                                                         "admission.k8s.io/v1beta1",
                                                         "AdmissionReview",
                                                         "cairn:break-glass",
                                                         std::string(kOperator),
                                                         "system:kube-controller-manager",
                                                         "shop/app",
                                                         "gated/app",
                                                         std::string(kRepoUrl),
                                                         "https://GIT.example.com/shop/app.git/",
                                                         "deploy/app.yaml",
                                                         "0123456789abcdef0123456789abcdef01234567",
                                                         "500m",
                                                         "0.5",
                                                         "1e999999",
                                                         "-0",
                                                         "NaN",
                                                         "\xc3\xa9t\xc3\xa9",
                                                         "\xe2\x80\xae",
                                                         "line\nbreak",
                                                         "tab\there",
                                                         "quote\"s",
                                                         "\xf0\x9f\x94\xa5",
                                                         "../../etc/passwd"};
    switch (rng() % 5) {
      case 0:
        return commit_;
      case 1: {
        std::string s(pick(rng, 300), 'x');
        for (char& c : s) c = static_cast<char>(0x20 + rng() % 0x5f);
        return s;
      }
      case 2:
        return std::string(1000 + pick(rng, 20000), 'a');
      default:
        return interesting[pick(rng, interesting.size())];
    }
  }

  json random_value(std::mt19937_64& rng, int depth = 0) const {
    switch (rng() % 12) {
      case 0:
        return nullptr;
      case 1:
        return chance(rng, 50);
      case 2:
        return static_cast<int64_t>(rng());
      case 3:
        return static_cast<uint64_t>(rng());
      case 4:
        return std::ldexp(static_cast<double>(rng() % 1000) - 500,
                          static_cast<int>(rng() % 200) - 100);
      case 5:
        return static_cast<int>(rng() % 10) - 3;
      case 6:
      case 7: {
        if (depth > 3) return json::array();
        json a = json::array();
        for (size_t i = 0, n = pick(rng, 4); i < n; ++i) a.push_back(random_value(rng, depth + 1));
        return a;
      }
      case 8: {
        if (depth > 3) return json::object();
        json o = json::object();
        for (size_t i = 0, n = pick(rng, 4); i < n; ++i)
          o[random_string(rng)] = random_value(rng, depth + 1);
        return o;
      }
      default:
        return random_string(rng);
    }
  }

  static void collect(json& v, std::vector<json*>& out) {
    out.push_back(&v);
    if (v.is_object() || v.is_array())
      for (auto& child : v) collect(child, out);
  }

  std::string mutate(const std::string& body, std::mt19937_64& rng) const {
    json doc = json::parse(body);
    for (size_t m = 0, n = 1 + pick(rng, 4); m < n; ++m) {
      std::vector<json*> nodes;
      collect(doc, nodes);
      json* target = nodes[pick(rng, nodes.size())];
      switch (rng() % 6) {
        case 0:  // remove a member or an element
          if (target->is_object() && !target->empty()) {
            auto it = target->begin();
            std::advance(it, static_cast<long>(pick(rng, target->size())));
            target->erase(it);
          } else if (target->is_array() && !target->empty()) {
            target->erase(pick(rng, target->size()));
          } else {
            *target = nullptr;
          }
          break;
        case 1:  // add a member
          if (target->is_object())
            (*target)[random_string(rng)] = random_value(rng);
          else
            *target = random_value(rng);
          break;
        case 2:  // another string
          *target = random_string(rng);
          break;
        default:  // another type
          *target = random_value(rng);
          break;
      }
    }
    std::string out = doc.dump(-1, ' ', false, json::error_handler_t::replace);
    if (chance(rng, 20)) {  // and damage the text
      size_t at = pick(rng, out.size());
      switch (rng() % 4) {
        case 0:
          out[at] = static_cast<char>(rng());
          break;
        case 1:
          out.insert(at, 1, "{}[]\",:\\\x00\xff"[pick(rng, 11)]);
          break;
        case 2:
          out.erase(at, 1 + pick(rng, 16));
          break;
        default:
          out.insert(at, out.substr(pick(rng, out.size()), pick(rng, 64)));
          break;
      }
    }
    return out;
  }

  std::string soup(std::mt19937_64& rng) const {
    static const char* tokens[] = {"{",
                                   "}",
                                   "[",
                                   "]",
                                   ",",
                                   ":",
                                   "\"apiVersion\"",
                                   "\"admission.k8s.io/v1\"",
                                   "\"kind\"",
                                   "\"AdmissionReview\"",
                                   "\"request\"",
                                   "\"uid\"",
                                   "\"object\"",
                                   "\"metadata\"",
                                   "\"annotations\"",
                                   "\"cairn.dev/commit\"",
                                   "null",
                                   "true",
                                   "1e308",
                                   "-1",
                                   "18446744073709551616",
                                   "\"\\ud800\"",
                                   "\"\\u0000\"",
                                   " "};
    std::string out;
    for (size_t i = 0, n = 1 + pick(rng, 200); i < n; ++i)
      out += tokens[pick(rng, sizeof tokens / sizeof *tokens)];
    return out;
  }

  // Nesting to a million levels, where the policy copies and walks objects
  // (900: just under what parse_review takes, with the levels around it).
  std::string deep(std::mt19937_64& rng, std::string* path) const {
    static const size_t depths[] = {900, 20000, 200000, 1000000};
    const size_t d = depths[pick(rng, 4)];
    const bool objects = chance(rng, 50);
    std::string open, close;
    open.reserve(d * 6);
    for (size_t i = 0; i < d; ++i) open += objects ? "{\"a\":" : "[";
    open += "1";
    for (size_t i = 0; i < d; ++i) close += objects ? "}" : "]";
    switch (rng() % 4) {
      case 0: {  // a Pipeline's spec, for /validate-cairn
        *path = "/validate-cairn";
        return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{)"
               R"("uid":"deep-pipeline","kind":{"group":"cairn.dev","version":"v1alpha1",)"
               R"("kind":"Pipeline"},"namespace":"shop","name":"ci","operation":"CREATE",)"
               R"("object":{"apiVersion":"cairn.dev/v1alpha1","kind":"Pipeline",)"
               R"("metadata":{"name":"ci"},"spec":)" +
               open + close + "}}}";
      }
      case 1: {  // a stamped Deployment, for /validate
        *path = "/validate";
        for (const auto& s : samples_) {
          if (s.name != "deployment-update-stamped") continue;
          json doc = json::parse(s.body);
          doc["request"]["uid"] = "deep-deployment";
          doc["request"]["object"]["spec"]["template"]["spec"]["deep"] = "@@DEEP@@";
          std::string text = doc.dump();
          size_t at = text.find("\"@@DEEP@@\"");
          return text.replace(at, 10, open + close);
        }
        return {};
      }
      case 2:  // the whole body
        return open + close;
      default:  // never closed
        return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":)" + open;
    }
  }

  const std::vector<Sample>& samples_;
  std::string commit_;
};

// ---- The checks -------------------------------------------------------------

// "" when `r` is the answer the server must give to a body; otherwise why not.
std::string check_body_answer(const Input& in, const Response& r) {
  auto ctype = r.headers.find("content-type");
  if (ctype == r.headers.end() || ctype->second != "application/json")
    return "status " + std::to_string(r.status) + " with Content-Type " +
           (ctype == r.headers.end() ? "(none)" : ctype->second) + ": " + excerpt(r.body, 200);
  auto review = webhook::parse_review(in.body);
  if (!review) {
    if (r.status != 400)
      return "status " + std::to_string(r.status) + " for a body parse_review refuses (" +
             review.error() + "): " + excerpt(r.body, 200);
    json doc = json::parse(r.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("error") || !doc["error"].is_string())
      return "a 400 without a JSON {\"error\": ...}: " + excerpt(r.body, 200);
    if (doc["error"] != "not a well-formed AdmissionReview: " + review.error())
      return "a 400 whose error is not parse_review's reason (" + review.error() +
             "): " + excerpt(r.body, 300);
    return {};
  }
  if (r.status == 400) {
    json doc = json::parse(r.body, nullptr, false);
    if (doc.is_object() && doc.contains("error") && doc["error"].is_string() &&
        doc["error"].get<std::string>().starts_with("malformed object in the review: ") &&
        doc["error"].get<std::string>().size() > 33)
      return {};
    return "a 400 for a well-formed review: " + excerpt(r.body, 300);
  }
  if (r.status != 200)
    return "status " + std::to_string(r.status) +
           " for a well-formed review: " + excerpt(r.body, 300);
  if (auto why = check_answer(r.body, review->uid); !why.empty())
    return why + ": " + excerpt(r.body, 300);
  if (in.sample && in.sample->allowed) {
    json doc = json::parse(r.body);
    if (doc["response"]["allowed"] != *in.sample->allowed)
      return "sample " + in.sample->name +
             " was answered allowed=" + doc["response"]["allowed"].dump() + ": " +
             excerpt(r.body, 400);
  }
  return {};
}

struct Stats {
  std::mutex mu;
  std::map<std::string, int> by_kind;
  std::map<int, int> by_status;
  int closed = 0, fresh = 0, retried = 0;
  std::vector<std::string> failures;
  int failed = 0;
};

class Client {
 public:
  Client(SSL_CTX* ctx, int port, Stats& stats) : ctx_(ctx), port_(port), stats_(stats) {}

  // Sends one input; "" when the server's reaction is right.
  std::string run(const Input& in, std::mt19937_64& rng) {
    switch (in.kind) {
      case Kind::kOversize:
      case Kind::kOversizeChunked:
        return oversize(in, in.kind == Kind::kOversizeChunked);
      case Kind::kShortThenCloseNotify:
      case Kind::kShortThenHalfClose:
      case Kind::kShortThenStall:
        return short_body(in);
      default:
        break;
    }
    // Several connections, some requests on a fresh one.
    auto& slot = pool_[rng() % pool_.size()];
    if (slot && rng() % 100 < 10) slot.reset();
    for (int attempt = 0;; ++attempt) {
      std::string error;
      const bool fresh = !slot;
      if (fresh) {
        slot = Conn::open(ctx_, port_, &error);
        if (!slot) return "cannot connect: " + error;
        count_fresh();
      }
      const bool reused = slot->reused();
      Response r;
      Conn::Got got = Conn::Got::kError;
      if (slot->send(request_head(in.path, in.body.size()) + in.body, &error))
        got = slot->read_response(&r, &error);
      if (got == Conn::Got::kResponse) {
        count(in, r.status);
        std::string why = check_body_answer(in, r);
        if (r.close) slot.reset();
        return why;
      }
      slot.reset();
      // A keep-alive connection the server closed while it was idle (its read
      // timeout): the request goes again, once, on a fresh connection.
      if (reused && attempt == 0 && (got == Conn::Got::kClosed || error.starts_with("write"))) {
        std::lock_guard lock(stats_.mu);
        ++stats_.retried;
        continue;
      }
      return got == Conn::Got::kClosed ? "the server closed the connection without an answer"
                                       : error;
    }
  }

 private:
  void count_fresh() {
    std::lock_guard lock(stats_.mu);
    ++stats_.fresh;
  }
  void count(const Input& in, int status) {
    std::lock_guard lock(stats_.mu);
    ++stats_.by_kind[kind_name(in.kind)];
    ++stats_.by_status[status];
  }

  // A body over the limit: 413, as soon as the server can tell.
  std::string oversize(const Input& in, bool chunked) {
    std::string error;
    auto c = Conn::open(ctx_, port_, &error);
    if (!c) return "cannot connect: " + error;
    count_fresh();
    const auto start = std::chrono::steady_clock::now();
    const size_t total = kBodyLimit + 1 + in.body.size();
    std::string head = chunked ? "POST " + in.path +
                                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                     "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                               : request_head(in.path, total);
    if (!c->send(head, &error)) return error;
    const std::string chunk(64 * 1024, ' ');
    size_t sent = 0;
    // Stop sending once the answer is there (or the server stopped reading).
    while (sent < total && !c->readable()) {
      size_t n = std::min(chunk.size(), total - sent);
      std::string data;
      if (chunked) {
        char hex[32];
        std::snprintf(hex, sizeof hex, "%zx\r\n", n);
        data = hex + chunk.substr(0, n) + "\r\n";
      } else {
        data = chunk.substr(0, n);
      }
      if (!c->send(data, &error)) break;
      sent += n;
    }
    if (chunked && sent >= total && !c->readable()) c->send("0\r\n\r\n", &error);
    Response r;
    error.clear();
    if (c->read_response(&r, &error) != Conn::Got::kResponse)
      return "no answer to a body of " + std::to_string(total) + " bytes (" + std::to_string(sent) +
             " sent) after " + std::to_string(ms_since(start)) + " ms: " + error;
    count(in, r.status);
    if (r.status != 413)
      return "status " + std::to_string(r.status) +
             " for a body over the limit: " + excerpt(r.body, 200);
    return {};
  }

  // A Content-Length larger than what is sent: the server must give up on
  // the request within its read timeout.
  std::string short_body(const Input& in) {
    std::string error;
    auto c = Conn::open(ctx_, port_, &error);
    if (!c) return "cannot connect: " + error;
    count_fresh();
    const std::string part = in.body.substr(0, in.body.size() / 2);
    if (!c->send(request_head(in.path, in.body.size() + 100) + part, &error)) return error;
    const auto start = std::chrono::steady_clock::now();
    if (in.kind == Kind::kShortThenCloseNotify) c->close_notify();
    if (in.kind == Kind::kShortThenHalfClose) c->half_close();
    Response r;
    Conn::Got got = c->read_response(&r, &error);
    const long took = ms_since(start);
    if (took > kReadTimeout.count() + 2000)
      return "the server took " + std::to_string(took) +
             " ms to give up on a short body (read timeout " +
             std::to_string(kReadTimeout.count()) + " ms)";
    {
      std::lock_guard lock(stats_.mu);
      ++stats_.by_kind[kind_name(in.kind)];
      if (got == Conn::Got::kResponse)
        ++stats_.by_status[r.status];
      else if (got == Conn::Got::kClosed)
        ++stats_.closed;
    }
    if (got == Conn::Got::kError) return error;
    if (got == Conn::Got::kResponse && (r.status < 400 || r.status > 499))
      return "status " + std::to_string(r.status) + " for a body shorter than its Content-Length";
    if (got == Conn::Got::kResponse && !c->wait_closed(&error))
      return "the connection stays open after a short body: " + error;
    return {};
  }

  SSL_CTX* ctx_;
  int port_;
  Stats& stats_;
  std::array<std::unique_ptr<Conn>, 2> pool_;
};

int run(int argc, char** argv) {
  uint64_t seed = kDefaultSeed;
  int total = kDefaultRequests;
  long only = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seed") {
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (a == "--requests") {
      total = std::atoi(argv[i + 1]);
    } else if (a == "--only") {
      only = std::atol(argv[i + 1]);
    } else {
      std::cerr << "usage: " << argv[0] << " [--seed N] [--requests N] [--only INDEX]\n";
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  // The handler logs every denial at info; only warnings (break-glass) and
  // errors are kept, so that a failure's report is readable.
  log::set_level(log::Level::kWarn);
  std::cout << "socket_fuzz: seed " << seed << ", " << total << " requests" << std::endl;

  std::string error;
  auto world = World::create(&error);
  if (!world) {
    std::cerr << "socket_fuzz: cannot build the fixture: " << error << "\n";
    return 1;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string certs = std::string(tmp && *tmp ? tmp : "/tmp") + "/cairn-socket-fuzz-XXXXXX";
  if (!mkdtemp(certs.data())) {
    std::cerr << "socket_fuzz: mkdtemp failed\n";
    return 1;
  }
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_certs{certs};
  if (!make_certificate(certs + "/tls.crt", certs + "/tls.key", &error)) {
    std::cerr << "socket_fuzz: " << error << "\n";
    return 1;
  }

  webhook::Handler handler(world->policy(), nullptr);
  http::ServerOptions opts;
  opts.cert_file = certs + "/tls.crt";
  opts.key_file = certs + "/tls.key";
  opts.read_timeout = kReadTimeout;
  opts.threads = 2;
  auto server =
      http::Server::start(opts, [&handler](const http::Request& r) { return handler(r); });
  if (!server) {
    std::cerr << "socket_fuzz: cannot start the server: " << server.error() << "\n";
    return 1;
  }
  const int port = (*server)->port();

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, opts.cert_file.c_str(), nullptr) != 1) {
    std::cerr << "socket_fuzz: cannot load " << opts.cert_file << "\n";
    return 1;
  }

  const std::vector<Kind> kinds = plan(total, seed);
  const Generator gen(world->samples(), world->commit());
  Stats stats;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client client(ctx, port, stats);
      std::mt19937_64 pool_rng(seed * 31 + static_cast<uint64_t>(t));
      for (size_t i = static_cast<size_t>(t); i < kinds.size(); i += kThreads) {
        if (only >= 0 && static_cast<long>(i) != only) continue;
        // Each request's input depends only on the seed and its index.
        std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ULL * (i + 1)));
        const Input in = gen.make(kinds[i], rng);
        std::string why = client.run(in, pool_rng);
        if (why.empty()) continue;
        std::lock_guard lock(stats.mu);
        ++stats.failed;
        if (stats.failures.size() < 20)
          stats.failures.push_back("request " + std::to_string(i) + " (" + kind_name(in.kind) +
                                   ", POST " + in.path + "): " + why +
                                   "\n    input: " + excerpt(in.body, 400));
      }
    });
  }
  for (auto& th : threads) th.join();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SSL_CTX_free(ctx);

  std::cout << "socket_fuzz: " << total << " requests in " << secs << " s on " << stats.fresh
            << " connections (" << stats.retried
            << " resent after an idle close); server: " << (*server)->requests() << " requests, "
            << (*server)->rejected() << " rejected, " << (*server)->tls_failures()
            << " TLS failures\n  by kind:";
  for (const auto& [k, n] : stats.by_kind) std::cout << " " << k << "=" << n;
  std::cout << "\n  by status:";
  for (const auto& [s, n] : stats.by_status) std::cout << " " << s << "=" << n;
  std::cout << " connection-ended=" << stats.closed << "\n";
  (*server)->stop();
  server->reset();
  world.reset();

  if (stats.failed) {
    std::cout << "socket_fuzz: FAILED: " << stats.failed << " bad answers (seed " << seed
              << "); the first ones:\n";
    for (const auto& f : stats.failures) std::cout << "  " << f << "\n";
    return 1;
  }
  std::cout << "socket_fuzz: ok: every answer well formed" << std::endl;
  return 0;
}

}  // namespace
}  // namespace cairn::fuzz

int main(int argc, char** argv) { return cairn::fuzz::run(argc, argv); }
