// bench/webhook_soak: the admission webhook at a steady rate for a long time
// (issue #9, "webhook under load"): latency per minute and overall, wrong or
// failed answers, and whether the webhook's memory grows.
//
// The real cairn-webhook is started against the cluster and git server that
// bench/run.sh provides, with a governed namespace, a Release tracking a
// repository and the Release's Deployment applied as the operator would
// apply it (no operator runs: the webhook only reads the Release). The load
// is the apiserver's own traffic: AdmissionReviews over TLS with keep-alive.
// Four reviews in five are the operator re-applying the Deployment stamped
// at the commit (must be allowed); one in five is a person changing its
// image (must be denied, "image differs from git"). Any other answer, a
// non-200 status or a broken connection counts as an error.
//
// Open loop: request k is due at t0 + k/rate, sent by one of SOAK_CONNS
// threads (each one keep-alive connection, request k on thread k mod
// conns); a thread that falls behind sends at once, and latency is counted
// from when the request was due, so a slow answer hides nothing.
//
// Prints, every minute: requests, p50/p99/max (ms), errors, the webhook's
// RSS; at the end the same overall, and RSS at the start of the load, after
// the first minute (caches warm) and at the end. Never fails on a figure;
// exits non-zero only when it cannot run.
//
// Not run by `make bench` (30 minutes by default): `make soak`, or
// `BENCH=webhook_soak bench/run.sh`. SOAK_MINUTES (default 30; fractions
// allowed, e.g. 0.5), SOAK_RATE (reviews/s, default 500), SOAK_CONNS
// (default 8), SOAK_THREADS (the webhook's --threads, default 4).
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

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "common.h"
#include "kube/util.h"
#include "manifest/render.h"

using namespace cairn;
using bench::env_file;
using bench::sh;
using bench::sh_out;
using Clock = std::chrono::steady_clock;
using kube::json;
using namespace std::chrono_literals;

namespace {

double env_num(const char* name, double dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : dflt;
}
const double kMinutes = env_num("SOAK_MINUTES", 30);
const double kRate = env_num("SOAK_RATE", 500);
const int kConns = std::max(1, static_cast<int>(env_num("SOAK_CONNS", 8)));
const int kThreads = std::max(1, static_cast<int>(env_num("SOAK_THREADS", 4)));
const std::string kOperator = "system:serviceaccount:cairn-system:cairn-operator";

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

bool write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
  return static_cast<bool>(out);
}

int free_port() {
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

std::string exe_dir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

// VmRSS of a process in KiB; -1 if it is gone.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

struct Child {
  pid_t pid = -1;
  bool alive() { return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) != 0) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

Child spawn(const std::vector<std::string>& args, const std::string& log) {
  Child c;
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

// ---------------------------------------------------------------- TLS client

std::string ssl_error() {
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

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string in;
  void close() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
    ssl = nullptr;
    fd = -1;
    in.clear();
  }
  ~Conn() { close(); }
};

std::string dial(SSL_CTX* ctx, int port, Conn& c) {
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
  timeval tv{10, 0};  // the apiserver's own bound is timeoutSeconds, at most 30 s
  ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
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

// 1: `in` starts with a whole response; 0: not yet; -1: not HTTP.
int parse_reply(const std::string& in, size_t* len, Reply* out) {
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
  out->status = std::atoi(in.c_str() + 9);
  out->body = in.substr(end + 4, n);
  return 1;
}

std::expected<Reply, std::string> roundtrip(Conn& c, const std::string& req) {
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

std::string http_post(int port, const std::string& body) {
  return "POST /validate HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// "allowed" / "denied" / "" (not an AdmissionReview answer).
std::string verdict(const Reply& r) {
  if (r.status != 200) return "";
  if (r.body.find("\"allowed\":true") != std::string::npos) return "allowed";
  if (r.body.find("\"allowed\":false") != std::string::npos) return "denied";
  return "";
}

// ---------------------------------------------------------------- manifests

const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/shop/web:1.4.2
        ports:
        - {name: http, containerPort: 8080}
        env:
        - {name: LOG_LEVEL, value: info}
        resources:
          requests: {cpu: 100m, memory: 64Mi}
)";

nlohmann::ordered_json review(const json& object, const json& old_object, const std::string& ns,
                              const std::string& user, bool operator_user) {
  return {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "6e2a3f50-0000-4000-8000-000000000001"},
        {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
        {"resource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
        {"requestKind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
        {"requestResource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
        {"name", "web"},
        {"namespace", ns},
        {"operation", "UPDATE"},
        {"userInfo",
         {{"username", user},
          {"groups", operator_user
                         ? nlohmann::ordered_json::array({"system:serviceaccounts",
                                                          "system:serviceaccounts:cairn-system",
                                                          "system:authenticated"})
                         : nlohmann::ordered_json::array({"system:authenticated"})}}},
        {"object", object},
        {"oldObject", old_object},
        {"dryRun", false}}}};
}

// ---------------------------------------------------------------- figures

struct Stats {
  size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
    return v[std::min(i, v.size() - 1)];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  s.max = v.back();
  return s;
}

// Latencies and errors by the minute in which each request was due.
struct Minutes {
  std::mutex mu;
  std::map<int, std::vector<double>> lat;  // guarded by mu
  std::map<int, size_t> errors;            // guarded by mu
  std::string first_error;                 // guarded by mu
  void ok(int minute, double v) {
    std::lock_guard lock(mu);
    lat[minute].push_back(v);
  }
  void error(int minute, const std::string& why) {
    std::lock_guard lock(mu);
    errors[minute]++;
    if (first_error.empty()) first_error = why;
  }
};

struct Cleanup {
  kube::Client* c = nullptr;
  std::vector<std::string> namespaces;
  Child* webhook = nullptr;
  std::vector<std::string> dirs;
  bool keep = false;
  ~Cleanup() {
    if (webhook) webhook->stop();
    for (const auto& ns : namespaces) bench::delete_namespace(*c, ns);
    for (const auto& d : dirs) {
      if (keep)
        std::printf("  kept %s\n", d.c_str());
      else
        std::filesystem::remove_all(d);
    }
  }
};

int run() {
  const char* git_state = std::getenv("CAIRN_GIT_STATE");
  if (!git_state || !std::getenv("KUBECONFIG")) {
    std::cerr << "webhook_soak: run through make soak (needs KUBECONFIG, CAIRN_GIT_STATE)\n";
    return 1;
  }
  const std::string genv = std::string(git_state) + "/git.env";
  const std::string repos = env_file(genv, "CAIRN_GIT_REPOS");
  const std::string daemon = env_file(genv, "CAIRN_GIT_DAEMON_URL");
  const char* wb = std::getenv("CAIRN_WEBHOOK");
  const std::string webhook_bin = wb ? wb : exe_dir() + "/../webhook/cairn-webhook";
  if (::access(webhook_bin.c_str(), X_OK) != 0) {
    std::cerr << "webhook_soak: " << webhook_bin << " is missing (build cairn-webhook)\n";
    return 1;
  }
  if (repos.empty() || daemon.empty()) {
    std::cerr << "webhook_soak: no git server (" << genv << ")\n";
    return 1;
  }
  auto c = bench::client_or_die();
  const std::string id = std::to_string(std::random_device{}() % 100000);
  const std::string ns = "bench-soak-" + id;
  const std::string tmp = "/tmp/cairn-bench-soak-" + id;
  const std::string repo = "bench-soak-" + id;
  const std::string bare = repos + "/" + repo + ".git";
  const std::string url = daemon + "/" + repo + ".git";

  Child webhook;
  Cleanup cleanup;
  cleanup.c = c.get();
  cleanup.dirs = {tmp, bare};
  cleanup.keep = std::getenv("BENCH_KEEP") != nullptr;
  std::filesystem::create_directories(tmp);

  write_file(tmp + "/san.ext",
             "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
             "keyUsage=critical,digitalSignature\n");
  if (sh("cd " + tmp +
         " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
         "-subj /CN=bench-ca -keyout ca.key -out ca.crt 2>/dev/null"
         " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 "
         "-keyout tls.key -out tls.csr 2>/dev/null"
         " && openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
         "-extfile san.ext -out tls.crt 2>/dev/null") != 0) {
    std::cerr << "webhook_soak: openssl could not make the serving certificate\n";
    return 1;
  }

  const std::string work = tmp + "/work";
  write_file(work + "/app/deploy.yaml", kDeployment);
  const std::string git_id = "git -c user.name=bench -c user.email=bench@example.com";
  if (sh("git init -q --bare -b main " + bare + " && touch " + bare +
         "/git-daemon-export-ok && cd " + work + " && git init -q -b main && git add -A && " +
         git_id + " commit -qm c0 && git push -q " + bare + " HEAD:main") != 0) {
    std::cerr << "webhook_soak: cannot create repository " << bare << "\n";
    return 1;
  }
  const std::string c0 = sh_out("git -C " + work + " rev-parse HEAD");

  json nso = {{"apiVersion", "v1"},
              {"kind", "Namespace"},
              {"metadata", {{"name", ns}, {"labels", {{"cairn.dev/enforce", "deny"}}}}}};
  if (auto r = c->create(kube::res::kNamespaces, "", nso); !r) {
    std::cerr << "webhook_soak: namespace " << ns << ": " << r.error().to_string() << "\n";
    return 1;
  }
  cleanup.namespaces.push_back(ns);
  const kube::ApiResource releases{"cairn.dev", "v1alpha1", "releases", "Release", true};
  json rel = {
      {"apiVersion", "cairn.dev/v1alpha1"},
      {"kind", "Release"},
      {"metadata", {{"name", "app"}}},
      {"spec",
       {{"source", {{"url", url}, {"branch", "main"}, {"interval", "10m"}}}, {"path", "app"}}}};
  if (auto r = c->create(releases, ns, rel); !r) {
    std::cerr << "webhook_soak: Release: " << r.error().to_string() << "\n";
    return 1;
  }
  manifest::RenderInput in{
      .release_namespace = ns, .release_name = "app", .commit = c0, .source_url = url};
  in.files.push_back({"app/deploy.yaml", kDeployment});
  auto rendered = manifest::render(in);
  if (!rendered || rendered->objects.empty()) {
    std::cerr << "webhook_soak: render failed\n";
    return 1;
  }
  auto live = c->apply(kube::res::kDeployments, ns, rendered->objects[0], true, {},
                       {.field_manager = "cairn"});
  if (!live) {
    std::cerr << "webhook_soak: apply: " << live.error().to_string() << "\n";
    return 1;
  }

  const int port = free_port(), probe = free_port();
  webhook = spawn({webhook_bin, "--kubeconfig", std::getenv("KUBECONFIG"), "--addr",
                   "127.0.0.1:" + std::to_string(port), "--tls-cert", tmp + "/tls.crt", "--tls-key",
                   tmp + "/tls.key", "--probe-addr", "127.0.0.1:" + std::to_string(probe),
                   "--namespace", "cairn-system", "--git-cache-dir", tmp + "/cache", "--threads",
                   std::to_string(kThreads), "--log-format", "text"},
                  tmp + "/webhook.log");
  cleanup.webhook = &webhook;
  const std::string ready_cmd =
      "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(probe) +
      "/readyz";
  for (auto until = Clock::now() + 60s; sh_out(ready_cmd) != "200";) {
    if (!webhook.alive() || Clock::now() > until) {
      std::cerr << "webhook_soak: cairn-webhook did not become ready; its log:\n"
                << sh_out("tail -20 " + tmp + "/webhook.log") << "\n";
      return 1;
    }
    std::this_thread::sleep_for(100ms);
  }

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, (tmp + "/ca.crt").c_str(), nullptr) != 1) {
    std::cerr << "webhook_soak: cannot load the CA\n";
    return 1;
  }
  struct CtxFree {
    SSL_CTX* c;
    ~CtxFree() { SSL_CTX_free(c); }
  } ctx_free{ctx};

  json tampered = *live;
  tampered["spec"]["template"]["spec"]["containers"][0]["image"] =
      "registry.example.com/shop/web:x";
  const std::string allow_req = http_post(port, review(*live, *live, ns, kOperator, true).dump());
  const std::string deny_req = http_post(port, review(tampered, *live, ns, "alice", false).dump());

  // Both cases must get their answer before the load starts (the first one
  // fetches the repository).
  {
    Conn conn;
    std::string got_allow, got_deny, problem;
    for (auto until = Clock::now() + 30s; Clock::now() < until;) {
      if (conn.fd < 0) problem = dial(ctx, port, conn);
      if (conn.fd >= 0) {
        auto a = roundtrip(conn, allow_req);
        auto d = a ? roundtrip(conn, deny_req) : a;
        got_allow = a ? verdict(*a) : "";
        got_deny = d ? verdict(*d) : "";
        if (got_allow == "allowed" && got_deny == "denied") break;
        problem = !a ? a.error() : !d ? d.error() : a->body + " / " + d->body;
        conn.close();
      }
      std::this_thread::sleep_for(200ms);
    }
    if (got_allow != "allowed" || got_deny != "denied") {
      std::cerr << "webhook_soak: the cases do not get their answers (" << problem
                << "); webhook log:\n"
                << sh_out("tail -20 " + tmp + "/webhook.log") << "\n";
      return 1;
    }
  }

  const long rss_start = rss_kib(webhook.pid);
  std::printf(
      "webhook_soak: cairn-webhook --threads %d, %.0f reviews/s for %.1f min over %d keep-alive "
      "TLS connections\n"
      "  reviews: UPDATE apps/Deployment %s/web, 4 in 5 by the operator at %s (allowed), 1 in 5 "
      "by a person with another image (denied); %zu/%zu bytes\n"
      "  %u CPUs shared by the webhook, this generator, kube-apiserver and etcd (load average "
      "%s)\n"
      "  webhook RSS at start: %ld KiB\n\n",
      kThreads, kRate, kMinutes, kConns, ns.c_str(), c0.substr(0, 8).c_str(), allow_req.size(),
      deny_req.size(), std::thread::hardware_concurrency(),
      sh_out("cut -d' ' -f1-3 /proc/loadavg").c_str(), rss_start);
  std::printf("  %6s %9s %9s %9s %9s %7s %11s %9s\n", "minute", "requests", "p50 ms", "p99 ms",
              "max ms", "errors", "RSS KiB", "load");
  std::fflush(stdout);

  const size_t total = static_cast<size_t>(kRate * kMinutes * 60);
  const auto t0 = Clock::now() + 100ms;
  auto due = [&](size_t k) {
    return t0 + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(k) / kRate));
  };
  auto minute_of = [&](Clock::time_point t) {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(t - t0).count() / 60);
  };
  Minutes minutes;
  std::atomic<size_t> wrong_answers{0}, conn_errors{0}, redials{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kConns; ++t) {
    senders.emplace_back([&, t] {
      Conn conn;
      for (size_t k = static_cast<size_t>(t); k < total; k += static_cast<size_t>(kConns)) {
        const auto when = due(k);
        std::this_thread::sleep_until(when);
        const int minute = minute_of(when);
        const bool deny = k % 5 == 4;
        if (conn.fd < 0) {
          redials++;
          if (auto e = dial(ctx, port, conn); !e.empty()) {
            conn_errors++;
            minutes.error(minute, e);
            continue;
          }
        }
        auto r = roundtrip(conn, deny ? deny_req : allow_req);
        const auto answered = Clock::now();
        if (!r) {
          conn_errors++;
          minutes.error(minute, r.error());
          conn.close();
          continue;
        }
        if (verdict(*r) != (deny ? "denied" : "allowed")) {
          wrong_answers++;
          minutes.error(minute, "wrong answer (" + std::string(deny ? "deny" : "allow") +
                                    " case): " + std::to_string(r->status) + " " +
                                    r->body.substr(0, 200));
          continue;
        }
        minutes.ok(minute, ms(answered - when));
      }
    });
  }

  // One line per minute, once that minute's requests have been answered.
  const int nmin = static_cast<int>(std::ceil(kMinutes));
  std::vector<double> all;
  all.reserve(total);
  long rss_after_first = -1, rss_end = -1, rss_max = rss_start;
  size_t all_errors = 0;
  bool died = false;
  for (int m = 0; m < nmin; ++m) {
    std::this_thread::sleep_until(t0 + std::chrono::minutes(m + 1) + 2s);
    std::vector<double> lat;
    size_t errs = 0;
    {
      std::lock_guard lock(minutes.mu);
      lat = std::move(minutes.lat[m]);
      minutes.lat.erase(m);
      errs = minutes.errors[m];
    }
    const long rss = rss_kib(webhook.pid);
    if (m == 0) rss_after_first = rss;
    rss_max = std::max(rss_max, rss);
    Stats s = stats(lat);
    all.insert(all.end(), lat.begin(), lat.end());
    all_errors += errs;
    std::printf("  %6d %9zu %9.3f %9.3f %9.3f %7zu %11ld %9s\n", m + 1, s.n + errs, s.p50, s.p99,
                s.max, errs, rss, sh_out("cut -d' ' -f1 /proc/loadavg").c_str());
    std::fflush(stdout);
    if (!webhook.alive()) {
      std::printf("\n  cairn-webhook DIED; the last lines of its log:\n%s\n",
                  sh_out("tail -5 " + tmp + "/webhook.log").c_str());
      died = true;
      break;
    }
  }
  for (auto& s : senders) s.join();
  {
    std::lock_guard lock(minutes.mu);
    for (auto& [m, v] : minutes.lat) all.insert(all.end(), v.begin(), v.end());
    all_errors = 0;
    for (auto& [m, e] : minutes.errors) all_errors += e;
  }
  rss_end = rss_kib(webhook.pid);
  Stats s = stats(all);
  std::printf(
      "\n  overall: %zu requests, %zu answered correctly, errors %zu (wrong answers %zu, "
      "connection/TLS failures %zu; %zu connections made)\n"
      "  latency from when due: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n"
      "  webhook RSS: start %ld KiB, after minute 1 %ld KiB, end %ld KiB, max %ld KiB "
      "(end - after minute 1: %+ld KiB)\n",
      total, s.n, all_errors, wrong_answers.load(), conn_errors.load(), redials.load(), s.p50,
      s.p99, s.max, rss_start, rss_after_first, rss_end, rss_max, rss_end - rss_after_first);
  if (all_errors > 0) std::printf("  first error: %s\n", minutes.first_error.c_str());
  std::fflush(stdout);
  return died ? 1 : 0;
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  return run();
}
