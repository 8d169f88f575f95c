// Misbehaving servers for fetch tests: a loopback TCP listener that hands each
// connection to a handler on its own thread, and a child process helper.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cairn::git::testing {

class TcpServer {
 public:
  // `handler` gets the connection and a flag that turns true when the server stops.
  explicit TcpServer(std::function<void(int fd, const std::atomic<bool>& stop)> handler)
      : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listen_fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TcpServer() {
    stop_ = true;
    acceptor_.join();
    {
      std::lock_guard lk(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
    for (int fd : fds_) close(fd);
    close(listen_fd_);
  }

  int port() const { return port_; }
  int connections() const { return accepted_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      accepted_++;
      std::lock_guard lk(mu_);
      fds_.push_back(fd);
      conns_.emplace_back([this, fd] { handler_(fd, stop_); });
    }
  }

  std::function<void(int, const std::atomic<bool>&)> handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> conns_;
};

// Reads an HTTP request's head (up to the blank line); false on EOF.
inline bool read_request(int fd, std::string* head = nullptr) {
  std::string buf;
  char c;
  while (buf.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(fd, &c, 1, 0);
    if (n <= 0) return false;
    buf.push_back(c);
  }
  if (head) *head = buf;
  return true;
}

inline void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Connects to a loopback port; -1 on failure.
inline int connect_local(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// An HTTP CONNECT proxy to loopback ports; remembers what it was asked for.
class ConnectProxy {
 public:
  ConnectProxy()
      : server_([this](int fd, const std::atomic<bool>& stop) {
          std::string head;
          if (!read_request(fd, &head)) return;
          {
            std::lock_guard lk(mu_);
            requests_.push_back(head.substr(0, head.find("\r\n")));
          }
          auto colon = head.find(':');
          auto space = head.find(' ', colon);
          int target = connect_local(std::stoi(head.substr(colon + 1, space - colon - 1)));
          if (target < 0) {
            send_all(fd, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            return;
          }
          send_all(fd, "HTTP/1.1 200 Connection established\r\n\r\n");
          char buf[16384];
          while (!stop) {
            pollfd p[2] = {{fd, POLLIN, 0}, {target, POLLIN, 0}};
            if (poll(p, 2, 100) <= 0) continue;
            int from = (p[0].revents & (POLLIN | POLLHUP)) ? fd : target;
            ssize_t n = recv(from, buf, sizeof buf, 0);
            if (n <= 0) break;
            send_all(from == fd ? target : fd, std::string(buf, static_cast<size_t>(n)));
          }
          close(target);
        }) {}

  int port() const { return server_.port(); }
  std::vector<std::string> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> requests_;
  TcpServer server_;  // last: stopped before the members it uses go away
};

// A free loopback port (bound and released: a small race, fine for tests).
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

inline bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// A child process (argv), killed and reaped on destruction.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& dir, const std::string& log) {
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      // Dies with the test process, even if that crashes.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      if (chdir(dir.c_str()) != 0) _exit(127);
      FILE* f = freopen(log.c_str(), "w", stdout);
      (void)f;
      dup2(1, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Waits up to `timeout` for something to listen on the port.
inline bool wait_port(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (port_open(port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace cairn::git::testing
