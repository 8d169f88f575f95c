#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace cairn::e2e {

using Clock = std::chrono::steady_clock;

int TcpProxy::listen_on(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 256) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

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
  listen_fd_ = listen_on(0);
  if (listen_fd_ < 0) throw std::runtime_error("proxy cannot listen");
  sockaddr_in addr{};
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
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
  if (listen_fd_ >= 0) ::close(listen_fd_);
  // Joined without mu_ held: a pump takes mu_ as it ends.
  std::vector<std::thread> pumps;
  {
    std::lock_guard lock(mu_);
    pumps.swap(pumps_);
  }
  for (auto& t : pumps) t.join();
}

void TcpProxy::sever() {
  severed_ = true;
  std::lock_guard lock(mu_);
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  fds_.clear();
}

namespace {
// The acceptor thread owns the listening socket; wait until it has done what was asked.
void await(const std::atomic<bool>& flag, bool value) {
  for (int i = 0; i < 200 && flag.load() != value; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (flag.load() != value) throw std::runtime_error("proxy: the acceptor did not follow");
}
}  // namespace

void TcpProxy::refuse() {
  want_listen_ = false;
  await(listening_, false);
}

void TcpProxy::resume() {
  severed_ = false;
  want_listen_ = true;
  await(listening_, true);
}

void TcpProxy::stall_after(size_t bytes) { stall_after_ = bytes; }

std::vector<std::chrono::milliseconds> TcpProxy::stalled_hangups() const {
  std::lock_guard lock(mu_);
  return hangups_;
}

void TcpProxy::accept_loop() {
  while (!stop_) {
    if (!want_listen_ && listen_fd_ >= 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      listening_ = false;
    }
    if (want_listen_ && listen_fd_ < 0) {
      listen_fd_ = listen_on(port_);
      if (listen_fd_ < 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      listening_ = true;
    }
    if (listen_fd_ < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
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
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    size_t limit = stall_after_.load();
    pumps_.emplace_back([this, client, upstream, limit] { pump(client, upstream, limit); });
  }
}

void TcpProxy::pump(int client, int upstream, size_t stall_after) {
  char buf[65536];
  size_t from_server = 0;
  bool stalled = false;
  Clock::time_point stalled_at;
  bool client_hung_up = false;
  while (!stop_) {
    // Once stalled, the server's bytes stay unread (its sends block) while
    // the client is still watched, to see when it gives up.
    pollfd p[2] = {{client, POLLIN, 0}, {upstream, static_cast<short>(stalled ? 0 : POLLIN), 0}};
    if (::poll(p, 2, 100) < 0) break;
    bool done = false;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0) {
        client_hung_up = true;
        done = true;
      } else if (!stalled && ::write(upstream, buf, static_cast<size_t>(n)) != n) {
        done = true;
      }
    }
    if (!done && !stalled && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      size_t want = sizeof buf;
      if (stall_after > 0) want = std::min(want, stall_after - from_server);
      ssize_t n = ::read(upstream, buf, want);
      if (n <= 0 || ::write(client, buf, static_cast<size_t>(n)) != n) {
        done = true;
      } else {
        from_server += static_cast<size_t>(n);
        if (stall_after > 0 && from_server >= stall_after) {
          stalled = true;
          stalled_at = Clock::now();
          ++stalled_open_;
        }
      }
    }
    if (done) break;
  }
  {
    std::lock_guard lock(mu_);
    std::erase(fds_, client);
    std::erase(fds_, upstream);
    if (stalled && client_hung_up)
      hangups_.push_back(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stalled_at));
  }
  if (stalled) --stalled_open_;
  ::shutdown(client, SHUT_RDWR);
  ::shutdown(upstream, SHUT_RDWR);
  ::close(client);
  ::close(upstream);
}

}  // namespace cairn::e2e
