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
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn::e2e {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
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

 private:
  void accept_loop();
  void pump(int client, int upstream, size_t stall_after);
  int listen_on(int port);

  int target_port_;
  int listen_fd_ = -1;  // owned by the acceptor thread once it runs
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> severed_{false};
  std::atomic<bool> want_listen_{true};
  std::atomic<bool> listening_{true};
  std::atomic<size_t> stall_after_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> stalled_open_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<int> fds_;                            // open connection sockets; guarded by mu_
  std::vector<std::thread> pumps_;                  // guarded by mu_
  std::vector<std::chrono::milliseconds> hangups_;  // guarded by mu_
};

}  // namespace cairn::e2e
