// A TCP forwarder on 127.0.0.1 that a test can cut: sever() closes every
// open connection and refuses new ones until resume(). It stands between a
// client and the real apiserver to simulate a network partition for that
// client alone, while the rest of the test keeps talking to the apiserver.
//
// With several endpoints it is a Service's stand-in (there is no
// kube-proxy locally): each new connection goes to the next ready endpoint
// in turn, and an endpoint whose readiness probe (GET /readyz on its probe
// port, every `probe_period`) fails is left out until it passes again, as
// the Endpoints controller does with a Pod. Like kube-proxy, it does not
// retry a connection on another endpoint: a connection that reaches an
// endpoint which has just died is closed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn::e2e {

class TcpProxy {
 public:
  struct Endpoint {
    int port = 0;
    int probe_port = 0;  // plain HTTP /readyz; 0: always ready
  };

  explicit TcpProxy(int target_port);
  explicit TcpProxy(std::vector<Endpoint> endpoints,
                    std::chrono::milliseconds probe_period = std::chrono::milliseconds(100));
  ~TcpProxy();
  int port() const { return port_; }
  void sever();
  void resume();

  // Whether endpoint i is in rotation now (its last probe passed).
  bool ready(size_t i) const { return ready_[i]; }
  // Connections forwarded to endpoint i so far.
  uint64_t connections(size_t i) const { return forwarded_[i]; }

 private:
  void accept_loop();
  void probe_loop();
  void pump(int a, int b);

  std::vector<Endpoint> endpoints_;
  std::chrono::milliseconds probe_period_;
  std::unique_ptr<std::atomic<bool>[]> ready_;
  std::unique_ptr<std::atomic<uint64_t>[]> forwarded_;
  size_t next_ = 0;  // round robin; accept thread only
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> severed_{false};
  std::thread acceptor_, prober_;
  std::mutex mu_;
  std::vector<int> fds_;            // open connection sockets; guarded by mu_
  std::vector<std::thread> pumps_;  // guarded by mu_
};

}  // namespace cairn::e2e
