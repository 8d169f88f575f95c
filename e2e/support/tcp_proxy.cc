#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace cairn::e2e {

TcpProxy::TcpProxy(int target_port) : TcpProxy(std::vector<Endpoint>{{target_port, 0}}) {}

TcpProxy::TcpProxy(std::vector<Endpoint> endpoints, std::chrono::milliseconds probe_period)
    : endpoints_(std::move(endpoints)),
      probe_period_(probe_period),
      ready_(new std::atomic<bool>[endpoints_.size()]),
      forwarded_(new std::atomic<uint64_t>[endpoints_.size()]) {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    // Like a Pod: not in rotation until its first probe passes.
    ready_[i] = endpoints_[i].probe_port == 0;
    forwarded_[i] = 0;
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 256) != 0) {
    throw std::runtime_error("proxy cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
  prober_ = std::thread([this] { probe_loop(); });
}

namespace {

// GET /readyz on 127.0.0.1:port answered 200 within a second (the
// kubelet's httpGet probe with timeoutSeconds 1).
bool probe_ok(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    char buf[64] = {0};
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      ssize_t n = ::read(fd, buf, sizeof buf - 1);
      ok = n >= 12 && std::string(buf, 12).substr(9, 3) == "200";
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace

void TcpProxy::probe_loop() {
  while (!stop_) {
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      if (endpoints_[i].probe_port != 0) ready_[i] = probe_ok(endpoints_[i].probe_port);
    }
    for (auto slept = std::chrono::milliseconds(0); !stop_ && slept < probe_period_;
         slept += std::chrono::milliseconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  sever();
  acceptor_.join();
  prober_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mu_);
  for (auto& t : pumps_) t.join();
}

void TcpProxy::sever() {
  severed_ = true;
  std::lock_guard lock(mu_);
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  fds_.clear();
}

void TcpProxy::resume() { severed_ = false; }

void TcpProxy::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    if (severed_) {
      ::close(client);
      continue;
    }
    // The next ready endpoint; none ready: refused, as a Service without
    // endpoints refuses.
    size_t pick = endpoints_.size();
    for (size_t k = 0; k < endpoints_.size(); ++k) {
      size_t i = (next_ + k) % endpoints_.size();
      if (ready_[i]) {
        pick = i;
        break;
      }
    }
    if (pick == endpoints_.size()) {
      ::close(client);
      continue;
    }
    next_ = pick + 1;
    forwarded_[pick]++;
    int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(endpoints_[pick].port));
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(client);
      ::close(upstream);
      continue;
    }
    std::lock_guard lock(mu_);
    fds_.push_back(client);
    fds_.push_back(upstream);
    pumps_.emplace_back([this, client, upstream] { pump(client, upstream); });
  }
}

void TcpProxy::pump(int a, int b) {
  char buf[65536];
  pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (!stop_) {
    if (::poll(p, 2, 100) < 0) break;
    bool done = false;
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0 || ::write(p[1 - i].fd, buf, static_cast<size_t>(n)) != n) done = true;
      }
    }
    if (done) break;
  }
  {
    std::lock_guard lock(mu_);
    std::erase(fds_, a);
    std::erase(fds_, b);
  }
  ::shutdown(a, SHUT_RDWR);
  ::shutdown(b, SHUT_RDWR);
  ::close(a);
  ::close(b);
}

}  // namespace cairn::e2e
