// The admission webhook under load and faults (issue #9), through the real
// apiserver: many concurrent creates and updates in a governed namespace,
// each of which must get its correct answer from the webhook, while a
// replica is SIGKILLed and restarted, or while the serving certificate is
// replaced.
//
// What the apiserver does when a webhook call breaks (kube-apiserver
// v1.20.2, the one these tests run; the same in later releases):
// admission/plugin/webhook/validating/dispatcher.go callHook POSTs the
// review once (`client.Post().Body(request)...Do(ctx)`) and any transport
// error becomes "failed calling webhook", which with failurePolicy Fail
// refuses the request (an InternalError, 500). client-go's rest.Request
// retries only GETs on "connection reset"/EOF; the GenericWebhook
// WithExponentialBackoff/DefaultShouldRetry retry is used by the
// authentication, authorization and audit webhooks, not by admission
// (kubernetes#127335 asks for it; kubernetes#139105 proposed it). What Go's
// HTTP transport does retry is a request on a pooled keep-alive connection
// that turns out to be closed before any of the request was written.
//
// So with two replicas behind a Service, a SIGKILL cannot fail "nothing":
// the reviews in flight on the killed replica's connections, and those on
// connections opened to it before its endpoint is dropped, are refused
// (closed, never admitted). What the test asserts is what holds: no
// request ever gets a wrong answer (admitted when it should be denied, or
// denied by the policy when it should be allowed); a request fails only
// with "failed calling webhook", only between the kill and the endpoint's
// removal (plus the apiserver's in-flight slack), and the same request sent
// again gets its correct answer (as the operator's next reconcile, or a
// person's retry, would); before the kill, and from then on with one
// replica and while the killed one restarts, nothing fails. The figures
// (requests, failures) are printed for docs/reliability.md.
//
// A replica told to stop (SIGTERM) is different: it leaves the Service and
// drains its connections before it exits, and nothing may fail. So is a
// certificate rotation: a running connection keeps the
// context it was made with and a new one gets the new pair, so nothing may
// fail at all, and the test asserts exactly that.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "kube/config.h"
#include "support/cluster.h"
#include "support/operator.h"
#include "support/tcp_proxy.h"
#include "support/webhook.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace res = kube::res;

// ------------------------------------------------------------ certificates

std::string serial_hex(X509* x) {
  if (!x) return "";
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(x), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string serial_of_pem(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  std::string s = serial_hex(x);
  X509_free(x);
  return s;
}

// The serial of the leaf certificate a new TLS connection to 127.0.0.1:port
// is served; "" if the handshake fails.
std::string served_serial(int port) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      X509* peer = SSL_get1_peer_certificate(ssl);
      out = serial_hex(peer);
      X509_free(peer);
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

// Connections established to 127.0.0.1:port now (the apiserver's
// keep-alive connections to the webhook), from /proc/net/tcp.
int established_to(int port) {
  std::ifstream in("/proc/net/tcp");
  char want[16];
  std::snprintf(want, sizeof want, ":%04X", port);
  std::string line;
  std::getline(in, line);  // the header
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state;
    f >> slot >> local >> remote >> state;
    if (local.ends_with(want) && state == "01") n++;  // 01: ESTABLISHED
  }
  return n;
}

// ------------------------------------------------------------ load

// Four kinds of change, each with the answer the webhook must give:
// a valid Pipeline created (allowed, /validate-cairn), an unstamped
// ConfigMap created (denied, /validate: never in git), a Pipeline
// whose steps form a cycle (denied, /validate-cairn), and the worker's
// last valid Pipeline updated (allowed).
enum class Op { kCreatePipeline, kCreateLooseConfigMap, kCreateCyclicPipeline, kUpdatePipeline };

json pipeline(const std::string& name, const std::string& script, bool cyclic = false) {
  json steps =
      cyclic
          ? json::array(
                {{{"name", "a"}, {"image", "x"}, {"script", script}, {"after", json::array({"b"})}},
                 {{"name", "b"},
                  {"image", "x"},
                  {"script", script},
                  {"after", json::array({"a"})}}})
          : json::array({{{"name", "test"}, {"image", "x"}, {"script", script}}});
  return {{"apiVersion", "cairn.dev/v1alpha1"},
          {"kind", "Pipeline"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"source", {{"url", "https://git.example.com/app.git"}, {"branch", "main"}}},
            {"steps", steps}}}};
}

struct Outcome {
  Clock::time_point sent, answered;
  Op op;
  enum Kind { kCorrect, kFailedClosed, kWrong } kind;
  std::string detail;
};

class Load {
 public:
  // Object names start with `prefix` (two loads in one namespace).
  Load(std::string ns, int workers, std::string prefix = "w")
      : ns_(std::move(ns)), prefix_(std::move(prefix)) {
    auto cfg = kube::default_config();
    EXPECT_TRUE(cfg);
    cfg->qps = 5000;
    cfg->burst = 5000;
    // Writes are never retried by the client: each answer is the webhook's.
    auto c = kube::Client::create(*cfg, {.field_manager = "cairn-e2e-load", .max_retries = 0});
    EXPECT_TRUE(c);
    client_ = std::move(*c);
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this, w] { work(w); });
  }
  ~Load() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  std::vector<Outcome> outcomes() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return outcomes_.size();
  }
  // Waits until `n` more requests have been answered (or failed).
  bool await_more(size_t n, std::chrono::seconds limit) {
    size_t target = count() + n;
    for (auto until = Clock::now() + limit; Clock::now() < until;) {
      if (count() >= target) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // A request that failed closed, sent again until its answer comes (as a
  // client's retry would); false if it never gets the correct one.
  std::vector<std::string> retry_failures;

 private:
  struct Result {
    Outcome::Kind kind;
    std::string detail;
  };

  Result attempt(Op op, const std::string& name, int i) {
    kube::Result<json> r = std::unexpected(kube::Error{});
    switch (op) {
      case Op::kCreatePipeline:
        r = client_->create(kPipelines, ns_, pipeline(name, "true"));
        break;
      case Op::kCreateLooseConfigMap:
        r = client_->create(
            res::kConfigMaps, ns_,
            {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}});
        break;
      case Op::kCreateCyclicPipeline:
        r = client_->create(kPipelines, ns_, pipeline(name, "true", true));
        break;
      case Op::kUpdatePipeline:
        r = client_->patch(
            kPipelines, ns_, name, kube::PatchType::kMerge,
            {{"spec",
              {{"steps", json::array({{{"name", "test"},
                                       {"image", "x"},
                                       {"script", "exit 0 # " + std::to_string(i)}}})}}}});
        break;
    }
    const bool allow = op == Op::kCreatePipeline || op == Op::kUpdatePipeline;
    if (r) {
      if (allow) return {Outcome::kCorrect, ""};
      return {Outcome::kWrong, "admitted, but must be denied: " + name};
    }
    const std::string msg = r.error().to_string();
    if (msg.find("failed calling webhook") != std::string::npos)
      return {Outcome::kFailedClosed, msg};
    const std::string expect = op == Op::kCreateLooseConfigMap   ? "was never in git"
                               : op == Op::kCreateCyclicPipeline ? "cycle"
                                                                 : "";
    if (!allow && msg.find("denied the request") != std::string::npos &&
        msg.find(expect) != std::string::npos)
      return {Outcome::kCorrect, ""};
    return {Outcome::kWrong, (allow ? "must be allowed: " : "not the expected denial: ") + msg};
  }

  void work(int w) {
    std::string last_pipeline;
    for (int i = 0; !stop_; ++i) {
      Op op = static_cast<Op>(i % 4);
      if (op == Op::kUpdatePipeline && last_pipeline.empty()) op = Op::kCreatePipeline;
      const std::string name =
          (op == Op::kUpdatePipeline ? last_pipeline
                                     : prefix_ + std::to_string(w) + "-" + std::to_string(i));
      const auto sent = Clock::now();
      Result res = attempt(op, name, i);
      {
        std::lock_guard lock(mu_);
        outcomes_.push_back({sent, Clock::now(), op, res.kind, res.detail});
      }
      if (res.kind == Outcome::kFailedClosed) {
        // Nothing was stored: the same request again must get its answer.
        Result again = res;
        for (int k = 0; k < 100 && again.kind == Outcome::kFailedClosed; ++k) {
          std::this_thread::sleep_for(100ms);
          again = attempt(op, name, i);
        }
        if (again.kind != Outcome::kCorrect) {
          std::lock_guard lock(mu_);
          retry_failures.push_back(name + ": " + again.detail);
        }
      }
      if (op == Op::kCreatePipeline) last_pipeline = name;
    }
  }

  std::string ns_, prefix_;
  std::unique_ptr<kube::Client> client_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Outcome> outcomes_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

struct Tally {
  size_t correct = 0, failed_closed = 0, wrong = 0;
  std::string first_wrong, first_failed;
};

Tally tally(const std::vector<Outcome>& v, const std::function<bool(const Outcome&)>& which) {
  Tally t;
  for (const auto& o : v) {
    if (!which(o)) continue;
    if (o.kind == Outcome::kCorrect) t.correct++;
    if (o.kind == Outcome::kFailedClosed) {
      t.failed_closed++;
      if (t.first_failed.empty()) t.first_failed = o.detail;
    }
    if (o.kind == Outcome::kWrong) {
      t.wrong++;
      if (t.first_wrong.empty()) t.first_wrong = o.detail;
    }
  }
  return t;
}

Tally tally_all(const std::vector<Outcome>& v) {
  return tally(v, [](const Outcome&) { return true; });
}

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

constexpr int kWorkers = 8;

TEST(WebhookFaults, ReplicaKilledUnderLoadNeverAdmitsWronglyAndLosesNothing) {
  TestNamespace ns("e2e-hookkill", {{"cairn.dev/enforce", "deny"}});
  // Two replicas with certificates from one CA, behind one address.
  Pem ca = self_signed_ca("cairn-e2e-replicas-ca");
  WebhookProcess a({}, false), b({}, false);
  a.use_ca(ca);
  b.use_ca(ca);
  a.start();
  b.start();
  TcpProxy service({{a.port(), a.probe_port()}, {b.port(), b.probe_port()}});
  const std::string url = "https://127.0.0.1:" + std::to_string(service.port());
  ASSERT_TRUE(a.register_configuration(
      WebhookProcess::configuration("cairn-e2e-" + ns.name(), url, ca.cert), ns.name()))
      << a.log_tail();

  Load load(ns.name(), kWorkers);
  // Both replicas answer reviews before the kill.
  auto decided = [](const WebhookProcess& p) {
    return p.metrics().find("cairn_admission_decisions_total{") != std::string::npos;
  };
  for (auto until = Clock::now() + 30s; Clock::now() < until && !(decided(a) && decided(b));)
    ASSERT_TRUE(load.await_more(50, 30s)) << "the load makes no progress";
  ASSERT_TRUE(decided(a) && decided(b)) << "both replicas must be serving before the kill";
  ASSERT_TRUE(load.await_more(200, 60s));

  const auto killed = Clock::now();
  a.kill9();
  // The Service drops the endpoint once its readiness probe fails.
  while (service.ready(0) && Clock::now() < killed + 10s) std::this_thread::sleep_for(5ms);
  ASSERT_FALSE(service.ready(0)) << "the dead replica's endpoint was never dropped";
  const auto dropped = Clock::now();
  // The apiserver's webhook timeout here is 5 s: a review sent to the dead
  // replica before the drop has failed by then.
  const auto settled = dropped + 2s;
  ASSERT_TRUE(load.await_more(300, 60s)) << "the load stops with one replica";
  while (Clock::now() < settled) ASSERT_TRUE(load.await_more(1, 30s));
  ASSERT_TRUE(load.await_more(300, 60s));

  const auto restarting = Clock::now();
  a.start();
  for (auto until = Clock::now() + 30s; !service.ready(0) && Clock::now() < until;)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(service.ready(0)) << "the restarted replica never became ready:\n" << a.log_tail();
  ASSERT_TRUE(load.await_more(300, 60s));
  load.stop();
  const auto ended = Clock::now();

  const auto all = load.outcomes();
  // Answered before the kill; in flight at some time between the kill and
  // `settled`; sent after that with one replica; sent once the restart began.
  Tally before = tally(all, [&](const Outcome& o) { return o.answered < killed; });
  Tally window =
      tally(all, [&](const Outcome& o) { return o.answered >= killed && o.sent < settled; });
  Tally after =
      tally(all, [&](const Outcome& o) { return o.sent >= settled && o.sent < restarting; });
  Tally restart = tally(all, [&](const Outcome& o) { return o.sent >= restarting; });
  Tally total = tally_all(all);
  std::cerr << "WebhookFaults kill: " << all.size() << " admissions by " << kWorkers
            << " concurrent clients in " << secs(ended - all.front().sent) << " s; before the kill "
            << before.correct + before.failed_closed + before.wrong << "; kill -> endpoint dropped "
            << secs(dropped - killed) * 1000 << " ms; in the window (kill .. drop + 2 s) "
            << window.correct + window.failed_closed + window.wrong << " of which "
            << window.failed_closed << " failed closed (\"failed calling webhook\")"
            << (window.first_failed.empty() ? "" : ": " + window.first_failed)
            << "; one replica afterwards " << after.correct + after.failed_closed + after.wrong
            << "; during and after the restart "
            << restart.correct + restart.failed_closed + restart.wrong << "; wrong answers "
            << total.wrong << "\n";

  EXPECT_EQ(total.wrong, 0u) << "a request got the wrong answer: " << total.first_wrong;
  EXPECT_EQ(before.failed_closed, 0u) << before.first_failed;
  EXPECT_EQ(after.failed_closed, 0u)
      << "with one replica left, nothing may fail: " << after.first_failed;
  EXPECT_EQ(restart.failed_closed, 0u)
      << "a replica starting must not fail requests: " << restart.first_failed;
  EXPECT_GT(after.correct, 0u);
  EXPECT_GT(restart.correct, 0u);
  EXPECT_TRUE(load.retry_failures.empty())
      << "a request that failed closed did not get its answer when sent again: "
      << load.retry_failures.front();
  // Exactly what was admitted is stored: every Pipeline whose create was
  // allowed (at once, or when sent again after failing closed), and none of
  // the denied ConfigMaps.
  size_t admitted_creates = 0;
  for (const auto& o : all)
    if (o.op == Op::kCreatePipeline && o.kind != Outcome::kWrong) admitted_creates++;
  auto listed = client().list(kPipelines, ns.name());
  ASSERT_TRUE(listed);
  EXPECT_EQ((*listed)["items"].size(), admitted_creates);
  auto cms = client().list(res::kConfigMaps, ns.name());
  ASSERT_TRUE(cms);
  for (const auto& cm : (*cms)["items"]) {
    const std::string n = cm["metadata"].value("name", "");
    EXPECT_NE(n.rfind("w", 0), 0u) << "a denied ConfigMap was stored: " << n;
  }
}

// A replica that is told to go (SIGTERM: a rolling update, a node drain)
// fails nothing: it fails its readiness probe while still answering, closes
// each keep-alive connection after its next answer (so the apiserver's next
// request goes through the Service to the other replica), finishes what is
// under way and only then exits (cairn-webhook --shutdown-delay).
TEST(WebhookFaults, ReplicaTerminatedUnderLoadFailsNothing) {
  TestNamespace ns("e2e-hookterm", {{"cairn.dev/enforce", "deny"}});
  Pem ca = self_signed_ca("cairn-e2e-replicas-ca");
  // The Service's probe runs every 100 ms here; 1 s is ample to leave it.
  WebhookProcess a({"--shutdown-delay", "1s"}, false), b({"--shutdown-delay", "1s"}, false);
  a.use_ca(ca);
  b.use_ca(ca);
  a.start();
  b.start();
  TcpProxy service({{a.port(), a.probe_port()}, {b.port(), b.probe_port()}});
  const std::string url = "https://127.0.0.1:" + std::to_string(service.port());
  ASSERT_TRUE(a.register_configuration(
      WebhookProcess::configuration("cairn-e2e-" + ns.name(), url, ca.cert), ns.name()))
      << a.log_tail();

  Load load(ns.name(), kWorkers);
  auto decided = [](const WebhookProcess& p) {
    return p.metrics().find("cairn_admission_decisions_total{") != std::string::npos;
  };
  for (auto until = Clock::now() + 30s; Clock::now() < until && !(decided(a) && decided(b));)
    ASSERT_TRUE(load.await_more(50, 30s)) << "the load makes no progress";
  ASSERT_TRUE(decided(a) && decided(b)) << "both replicas must be serving before the stop";
  ASSERT_TRUE(load.await_more(200, 60s));

  const auto terminated = Clock::now();
  a.stop();  // SIGTERM, and waits until it has exited
  const auto exited = Clock::now();
  ASSERT_TRUE(load.await_more(300, 60s)) << "the load stops with one replica";
  const auto restarting = Clock::now();
  a.start();
  ASSERT_TRUE(load.await_more(300, 60s));
  load.stop();

  const auto all = load.outcomes();
  Tally total = tally_all(all);
  Tally during =
      tally(all, [&](const Outcome& o) { return o.answered >= terminated && o.sent < exited; });
  std::cerr << "WebhookFaults terminate: " << all.size() << " admissions by " << kWorkers
            << " concurrent clients; SIGTERM -> exit " << secs(exited - terminated) * 1000
            << " ms, " << during.correct + during.failed_closed + during.wrong
            << " admissions meanwhile; failed " << total.failed_closed << ", wrong " << total.wrong
            << "\n"
            << a.log_tail(600) << "\n";
  EXPECT_GT(during.correct, 0u);
  EXPECT_EQ(total.failed_closed, 0u) << "a graceful stop failed a request: " << total.first_failed;
  EXPECT_EQ(total.wrong, 0u) << total.first_wrong;
  EXPECT_GT(tally(all, [&](const Outcome& o) { return o.sent >= restarting; }).correct, 0u);
  EXPECT_NE(a.log_tail(100000).find("draining"), std::string::npos) << a.log_tail();
}

TEST(WebhookFaults, CertificateRotatedUnderLoadFailsNothing) {
  TestNamespace ns("e2e-hookrot", {{"cairn.dev/enforce", "deny"}, {"cairn-e2e-only", "rotation"}});
  WebhookProcess hook;
  // This webhook answers for its namespace only: the namespaces earlier tests
  // left terminating (their objects deleted by the namespace controller and
  // the garbage collector) would otherwise keep the apiserver's connections
  // busy, and the wait below for them to go idle would measure that traffic.
  json vwc = WebhookProcess::configuration("cairn-e2e-" + ns.name(), hook.url(), hook.ca_pem());
  for (auto& h : vwc["webhooks"]) {
    // (By a label of its own: v1.20 sets no kubernetes.io/metadata.name.)
    const json only = {
        {"key", "cairn-e2e-only"}, {"operator", "In"}, {"values", json::array({"rotation"})}};
    const char* selector = h.contains("namespaceSelector") ? "namespaceSelector" : "objectSelector";
    h[selector]["matchExpressions"].push_back(only);
  }
  ASSERT_TRUE(hook.register_configuration(vwc, ns.name())) << hook.log_tail();
  const std::string old_serial = served_serial(hook.port());
  ASSERT_FALSE(old_serial.empty()) << hook.log_tail();

  Load load(ns.name(), kWorkers);
  ASSERT_TRUE(load.await_more(300, 60s)) << "the load makes no progress\n" << hook.log_tail();
  EXPECT_GT(established_to(hook.port()), 0) << "the apiserver keeps no connection to the webhook";
  const auto rotated = Clock::now();
  const std::string new_serial = serial_of_pem(hook.rotate_certificate());
  ASSERT_NE(new_serial, old_serial);
  std::string served;
  for (auto until = Clock::now() + 20s;
       (served = served_serial(hook.port())) != new_serial && Clock::now() < until;)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(served, new_serial) << "the new certificate is not served:\n" << hook.log_tail();
  const auto serving_new = Clock::now();
  ASSERT_TRUE(load.await_more(300, 60s));

  // The apiserver's connections made before the rotation keep the old
  // certificate. Pause the load until the webhook has closed them (its idle
  // timeout), so that every review from here on comes over a connection
  // whose handshake presented the new certificate.
  load.stop();
  const size_t before_pause = load.count();
  // The webhook closes a connection idle for its read timeout (10 s).
  for (auto until = Clock::now() + 30s; established_to(hook.port()) > 0 && Clock::now() < until;)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(established_to(hook.port()), 0)
      << "the apiserver's old connections stayed open:\n"
      << sh("ss -tnpo state established '( sport = :" + std::to_string(hook.port()) + " )'").second
      << hook.log_tail();
  const auto fresh = Clock::now();
  Load again(ns.name(), kWorkers, "v");
  ASSERT_TRUE(again.await_more(300, 60s));
  again.stop();

  Tally first = tally_all(load.outcomes());
  Tally second = tally_all(again.outcomes());
  std::cerr << "WebhookFaults rotation: " << before_pause << " admissions by " << kWorkers
            << " concurrent clients, the new certificate served "
            << secs(serving_new - rotated) * 1000 << " ms after the files were replaced; then "
            << again.count() << " over new connections (old ones closed after "
            << secs(fresh - serving_new) << " s); failed " << first.failed_closed + first.wrong
            << " + " << second.failed_closed + second.wrong << "\n";
  EXPECT_EQ(first.failed_closed + first.wrong, 0u)
      << first.first_failed << first.first_wrong << "\n"
      << hook.log_tail();
  EXPECT_EQ(second.failed_closed + second.wrong, 0u)
      << "over connections with the new certificate: " << second.first_failed << second.first_wrong;
  EXPECT_EQ(hook.log_tail(100000).find("not loaded"), std::string::npos)
      << "a rotation whose two files are renamed one after the other is not an error:\n"
      << hook.log_tail();
}

}  // namespace
}  // namespace cairn::e2e
