// A TCP forwarder on 127.0.0.1 that a test can cut: sever() closes every
// open connection and refuses new ones until resume(). It stands between a
// client and the real apiserver to simulate a network partition for that
// client alone, while the rest of the test keeps talking to the apiserver.
#pragma once

#include <atomic>
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
  void resume();
  // Connections accepted so far (including those refused or that could not
  // reach the target): how often a client tried to connect.
  uint64_t accepted() const { return accepted_.load(); }

 private:
  void accept_loop();
  void pump(int a, int b);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> severed_{false};
  std::atomic<uint64_t> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;            // open connection sockets; guarded by mu_
  std::vector<std::thread> pumps_;  // guarded by mu_
};

}  // namespace cairn::e2e
