// A small HTTP/1.1 server on Boost.Beast for Cairn's endpoints: probes and
// metrics (plain), the push receiver and the admission webhook (TLS).
//
// What cpprestsdk's listener lacks, this has: TLS 1.2+ only with the
// certificate parsed once and reloaded when its files change (no restart),
// a request body limit, a read timeout, keep-alive, and handlers that run on
// threads the server owns. A malformed or oversized request gets a 4xx
// answer, never a crash.
#pragma once

#include <atomic>
#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cairn::http {

struct Request {
  std::string method;
  std::string target;  // path and query, as sent
  std::string path;    // target without the query
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response text(int status, std::string body) {
    return {status, "text/plain; charset=utf-8", std::move(body), {}};
  }
  static Response json(int status, std::string body) {
    return {status, "application/json", std::move(body), {}};
  }
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0: any free port (see Server::port())
  // TLS when both are set; plain HTTP otherwise.
  std::string cert_file;
  std::string key_file;
  size_t body_limit = 7u << 20;  // controller-runtime's AdmissionReview cap
  std::chrono::milliseconds read_timeout{10000};
  int threads = 2;
  std::chrono::milliseconds reload_check{2000};  // how often cert files are checked
};

class Server {
 public:
  // Binds and starts serving; an error names the address and the cause
  // (e.g. the port is in use, the certificate cannot be read).
  static std::expected<std::unique_ptr<Server>, std::string> start(ServerOptions opts,
                                                                   Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  // Stops at once: answers being written are cut off. drain() first for a
  // graceful end.
  void stop();
  // From now on every answer says "Connection: close" and closes its
  // connection, so keep-alive clients move their next request elsewhere
  // (another replica behind the Service); new connections are still
  // accepted and answered.
  void drain();
  // Waits until no request is being answered, at most `limit`; false if
  // one still is.
  bool wait_answered(std::chrono::milliseconds limit);
  int open_connections() const;

  uint64_t requests() const;
  uint64_t rejected() const;      // 4xx answers the server made itself (too large, malformed)
  uint64_t tls_failures() const;  // handshakes that failed (wrong version, bad client)
  uint64_t cert_reloads() const;
  // Why the certificate files on disk are not being served ("" when they
  // are): set when a changed pair stays unloadable (unreadable, not PEM, a
  // key that does not match); the previous pair is served meanwhile.
  std::string cert_reload_error() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::http
