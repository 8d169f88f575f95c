// A TCP forwarder on 127.0.0.1 that a test can break in the ways a network
// or a server breaks:
//   - sever() closes every open connection and closes new ones at once
//     until resume(): a network partition for this client alone, while the
//     rest of the test keeps talking to the server;
//   - refuse() stops listening, so connecting fails with "connection
//     refused" (a server that is down), until resume() listens again on the
//     same port;
//   - stall_after(n): on each new connection, forwards the first n bytes from
//     the server, then stops forwarding them but keeps the connection open
//     (a server or a link that hangs mid-transfer); stall_after(0) ends that
//     for new connections.
// It counts connections, and for stalled ones how long the client waited
// before it hung up.
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
#include <cstddef>
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
  void refuse();
  void resume();
  void stall_after(size_t bytes);

  // Connections accepted (forwarded or not) so far.
  int connections() const { return connections_.load(); }
  // For each stalled connection the client closed: how long after the stall
  // began it did.
  std::vector<std::chrono::milliseconds> stalled_hangups() const;
  // Stalled connections still open.
  int stalled_open() const { return stalled_open_.load(); }

  // Whether endpoint i is in rotation now (its last probe passed).
  bool ready(size_t i) const { return ready_[i]; }
  // Connections forwarded to endpoint i so far.
  uint64_t connections(size_t i) const { return forwarded_[i]; }

 private:
  void accept_loop();
  void probe_loop();
  void pump(int client, int upstream, size_t stall_after);
  int listen_on(int port);

  std::vector<Endpoint> endpoints_;
  std::chrono::milliseconds probe_period_;
  std::unique_ptr<std::atomic<bool>[]> ready_;
  std::unique_ptr<std::atomic<uint64_t>[]> forwarded_;
  size_t next_ = 0;     // round robin; accept thread only
  int listen_fd_ = -1;  // owned by the acceptor thread once it runs
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> severed_{false};
  std::atomic<bool> want_listen_{true};
  std::atomic<bool> listening_{true};
  std::atomic<size_t> stall_after_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> stalled_open_{0};
  std::thread acceptor_, prober_;
  mutable std::mutex mu_;
  std::vector<int> fds_;                            // open connection sockets; guarded by mu_
  std::vector<std::thread> pumps_;                  // guarded by mu_
  std::vector<std::chrono::milliseconds> hangups_;  // guarded by mu_
};

}  // namespace cairn::e2e
