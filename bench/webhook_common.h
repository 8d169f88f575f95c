// Shared bits of the benchmarks that drive the real cairn-webhook
// (bench/admission, bench/webhook_soak): files and ports, child processes,
// the webhook's serving certificate, repository and start-up, and a
// blocking keep-alive TLS client.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common.h"

namespace cairn::bench {

// The number in the environment variable `name`; `dflt` if unset or empty.
inline double env_num(const char* name, double dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : dflt;
}

inline double ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

inline bool write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
  return static_cast<bool>(out);
}

// A port nobody listens on now (the kernel's pick; a race is unlikely on loopback).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

inline std::string exe_dir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

// VmRSS of a process in KiB; -1 if it is gone.
inline long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// ---------------------------------------------------------------- processes

struct Child {
  pid_t pid = -1;
  std::string name;
  std::string ended;  // how it ended, once it has
  bool alive() {
    if (pid <= 0) return false;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == 0) return true;
    ended = WIFSIGNALED(st) ? "killed by signal " + std::to_string(WTERMSIG(st)) + " (" +
                                  strsignal(WTERMSIG(st)) + ")"
                            : "exited with status " + std::to_string(WEXITSTATUS(st));
    pid = -1;
    return false;
  }
  // CPU time used so far (user + system, all threads), in ms.
  double cpu_ms() const {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = s.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream f(s.substr(close + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) f >> skip;  // fields 3..13
    double utime = 0, stime = 0;
    f >> utime >> stime;
    return 1000.0 * (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) != 0) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// Starts args[0] with args, its stdout and stderr to the file `log`.
inline Child spawn(const std::string& name, const std::vector<std::string>& args,
                   const std::string& log) {
  Child c;
  c.name = name;
  c.pid = ::fork();
  if (c.pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return c;
}

// ---------------------------------------------------------------- the webhook

// $CAIRN_WEBHOOK, or the cairn-webhook of this build.
inline std::string webhook_binary() {
  const char* wb = std::getenv("CAIRN_WEBHOOK");
  return wb ? wb : exe_dir() + "/../webhook/cairn-webhook";
}

// Serving certificate in `dir`: a CA (ca.crt) and a cert for IP 127.0.0.1
// (tls.crt, tls.key), ECDSA P-256. False if openssl failed.
inline bool make_serving_cert(const std::string& dir) {
  write_file(dir + "/san.ext",
             "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
             "keyUsage=critical,digitalSignature\n");
  return sh("cd " + dir +
            " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
            "-subj /CN=bench-ca -keyout ca.key -out ca.crt 2>/dev/null"
            " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "
            "/CN=127.0.0.1 -keyout tls.key -out tls.csr 2>/dev/null"
            " && openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
            "-extfile san.ext -out tls.crt 2>/dev/null") == 0;
}

inline const std::string kGitId = "git -c user.name=bench -c user.email=bench@example.com";

// A bare repository `bare` that git daemon exports, holding one commit (c0)
// of the files already written under `work`. False if git failed.
inline bool create_repo(const std::string& bare, const std::string& work) {
  return sh("git init -q --bare -b main " + bare + " && touch " + bare +
            "/git-daemon-export-ok && cd " + work + " && git init -q -b main && git add -A && " +
            kGitId + " commit -qm c0 && git push -q " + bare + " HEAD:main") == 0;
}

// cairn-webhook serving TLS on `port` with the certificate in `dir`, its
// probes on `probe`, its log in dir/webhook.log.
// The operator is the bench's own user too (cairn-admin applies stamped
// objects as the operator would), besides the ServiceAccount the reviews name.
inline Child spawn_webhook(const std::string& bin, int port, int probe, const std::string& dir,
                           int threads) {
  return spawn("cairn-webhook",
               {bin,
                "--kubeconfig",
                std::getenv("KUBECONFIG"),
                "--addr",
                "127.0.0.1:" + std::to_string(port),
                "--tls-cert",
                dir + "/tls.crt",
                "--tls-key",
                dir + "/tls.key",
                "--probe-addr",
                "127.0.0.1:" + std::to_string(probe),
                "--namespace",
                "cairn-system",
                "--git-cache-dir",
                dir + "/cache",
                "--threads",
                std::to_string(threads),
                "--operator-users",
                "system:serviceaccount:cairn-system:cairn-operator,cairn-admin",
                "--platform-group",
                "system:masters",
                "--log-format",
                "text"},
               dir + "/webhook.log");
}

// Waits up to 60 s for the webhook's /readyz; false (and its log on stderr,
// after "<who>: ") if it died or never became ready.
inline bool wait_webhook_ready(const char* who, Child& webhook, int probe, const std::string& dir) {
  const std::string ready_cmd =
      "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(probe) +
      "/readyz";
  auto ready_by = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (sh_out(ready_cmd) != "200") {
    if (!webhook.alive() || std::chrono::steady_clock::now() > ready_by) {
      std::cerr << who << ": cairn-webhook did not become ready; its log:\n"
                << sh_out("tail -20 " + dir + "/webhook.log") << "\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// ---------------------------------------------------------------- TLS client

inline std::string ssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return std::strerror(errno);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

struct Reply {
  int status = 0;
  std::string body;
};

// 1: `in` starts with a whole response (its length in *len); 0: not yet;
// -1: not an HTTP response our servers send (they always set Content-Length).
inline int parse_reply(const std::string& in, size_t* len, Reply* out) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return in.size() > 65536 ? -1 : 0;
  if (in.compare(0, 5, "HTTP/") != 0 || end < 12) return -1;
  std::string head = in.substr(0, end);
  for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  size_t cl = head.find("\r\ncontent-length:");
  if (cl == std::string::npos) return -1;
  size_t n = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
  if (in.size() < end + 4 + n) return 0;
  *len = end + 4 + n;
  if (out) {
    out->status = std::atoi(in.c_str() + 9);
    out->body = in.substr(end + 4, n);
  }
  return 1;
}

// One TLS connection; closed when it goes.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string in;
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { close(); }
  void close() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
    ssl = nullptr;
    fd = -1;
    in.clear();
  }
};

// Connects and completes the TLS handshake (blocking); the server must
// present a certificate for IP 127.0.0.1 signed by the context's CA. With
// `read_timeout_s` > 0 a read waits at most that long. "" or what failed.
inline std::string dial(SSL_CTX* ctx, int port, Conn& c, int read_timeout_s = 0) {
  c.close();
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::string e = std::string("connect: ") + std::strerror(errno);
    c.close();
    return e;
  }
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (read_timeout_s > 0) {
    timeval tv{read_timeout_s, 0};
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  c.ssl = SSL_new(ctx);
  SSL_set_fd(c.ssl, c.fd);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), "127.0.0.1");
  if (SSL_connect(c.ssl) != 1) {
    std::string e = "TLS handshake: " + ssl_error();
    c.close();
    return e;
  }
  return {};
}

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtx = std::unique_ptr<SSL_CTX, SslCtxFree>;

// A TLS 1.2+ client context that verifies servers against the PEM files
// `trusted`; null if one of them cannot be loaded.
inline SslCtx tls_client_ctx(const std::vector<std::string>& trusted) {
  SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  for (const auto& f : trusted)
    if (SSL_CTX_load_verify_locations(ctx.get(), f.c_str(), nullptr) != 1) return nullptr;
  return ctx;
}

// Sends `req` and reads its answer (blocking).
inline std::expected<Reply, std::string> roundtrip(Conn& c, const std::string& req) {
  if (SSL_write(c.ssl, req.data(), static_cast<int>(req.size())) <= 0)
    return std::unexpected("write: " + ssl_error());
  char buf[16384];
  for (;;) {
    size_t len = 0;
    Reply r;
    int p = parse_reply(c.in, &len, &r);
    if (p == 1) {
      c.in.erase(0, len);
      return r;
    }
    if (p < 0) return std::unexpected("not an HTTP response");
    int n = SSL_read(c.ssl, buf, sizeof buf);
    if (n <= 0) return std::unexpected("read: connection closed (" + ssl_error() + ")");
    c.in.append(buf, static_cast<size_t>(n));
  }
}

inline std::string http_post(int port, const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// ---------------------------------------------------------------- reviews

// An AdmissionReview of an UPDATE of apps/Deployment `ns`/web by
// `user_info`, in the order the apiserver writes it (Go emits struct fields
// in order).
inline nlohmann::ordered_json deployment_update_review(const kube::json& object,
                                                       const kube::json& old_object,
                                                       const std::string& ns,
                                                       const std::string& uid,
                                                       const nlohmann::ordered_json& user_info) {
  return {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", uid},
        {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
        {"resource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
        {"requestKind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
        {"requestResource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
        {"name", "web"},
        {"namespace", ns},
        {"operation", "UPDATE"},
        {"userInfo", user_info},
        {"object", object},
        {"oldObject", old_object},
        {"dryRun", false}}}};
}

// The groups of the operator's service account, as the apiserver lists them.
inline nlohmann::ordered_json operator_groups() {
  return nlohmann::ordered_json::array(
      {"system:serviceaccounts", "system:serviceaccounts:cairn-system", "system:authenticated"});
}

}  // namespace cairn::bench
