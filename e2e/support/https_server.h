// A tiny HTTPS server for tests: a self-signed certificate for 127.0.0.1
// made in memory, one thread per connection, keep-alive, Content-Length
// bodies only. Enough to stand in for a webhook endpoint that the real
// apiserver calls; not a production server.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cairn::e2e {

struct HttpRequest {
  std::string method, path, body;
  std::map<std::string, std::string> headers;  // names in lower case
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class HttpsServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  explicit HttpsServer(Handler h);
  ~HttpsServer();

  int port() const { return port_; }
  // PEM of the self-signed certificate: the caBundle a client must trust.
  const std::string& ca_pem() const { return cert_pem_; }
  uint64_t requests() const { return requests_.load(); }

 private:
  void accept_loop();
  void serve(int fd);

  Handler handler_;
  struct Tls;
  std::unique_ptr<Tls> tls_;
  std::string cert_pem_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<int> conn_fds_;
};

}  // namespace cairn::e2e
