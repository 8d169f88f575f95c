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
// image (must be denied: a person may not change what runs). Any other answer, a
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
#include <openssl/ssl.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "kube/util.h"
#include "manifest/render.h"
#include "webhook_common.h"

using namespace cairn;
using namespace cairn::bench;
using Clock = std::chrono::steady_clock;
using kube::json;
using namespace std::chrono_literals;

namespace {

const double kMinutes = env_num("SOAK_MINUTES", 30);
const double kRate = env_num("SOAK_RATE", 500);
const int kConns = std::max(1, static_cast<int>(env_num("SOAK_CONNS", 8)));
const int kThreads = std::max(1, static_cast<int>(env_num("SOAK_THREADS", 4)));
const std::string kOperator = "system:serviceaccount:cairn-system:cairn-operator";

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
  return deployment_update_review(
      object, old_object, ns, "6e2a3f50-0000-4000-8000-000000000001",
      {{"username", user},
       {"groups", operator_user ? operator_groups()
                                : nlohmann::ordered_json::array({"system:authenticated"})}});
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
  const std::string webhook_bin = webhook_binary();
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

  if (!make_serving_cert(tmp)) {
    std::cerr << "webhook_soak: openssl could not make the serving certificate\n";
    return 1;
  }

  const std::string work = tmp + "/work";
  write_file(work + "/app/deploy.yaml", kDeployment);
  if (!create_repo(bare, work)) {
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
  webhook = spawn_webhook(webhook_bin, port, probe, tmp, kThreads);
  cleanup.webhook = &webhook;
  if (!wait_webhook_ready("webhook_soak", webhook, probe, tmp)) return 1;

  const SslCtx ctx_owner = tls_client_ctx({tmp + "/ca.crt"});
  if (!ctx_owner) {
    std::cerr << "webhook_soak: cannot load the CA\n";
    return 1;
  }
  SSL_CTX* ctx = ctx_owner.get();

  json tampered = *live;
  tampered["spec"]["template"]["spec"]["containers"][0]["image"] =
      "registry.example.com/shop/web:x";
  const std::string allow_req =
      http_post(port, "/validate", review(*live, *live, ns, kOperator, true).dump());
  const std::string deny_req =
      http_post(port, "/validate", review(tampered, *live, ns, "alice", false).dump());

  // Both cases must get their answer before the load starts (the first one
  // fetches the repository).
  {
    Conn conn;
    std::string got_allow, got_deny, problem;
    for (auto until = Clock::now() + 30s; Clock::now() < until;) {
      if (conn.fd < 0) problem = dial(ctx, port, conn, 10);
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
          if (auto e = dial(ctx, port, conn, 10); !e.empty()) {
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
  // The soak's outcome: every review answered, and answered right.
  const bool ok = !died && all_errors == 0 && s.n == total;
  std::printf("  result: %s\n", ok ? "every review answered correctly"
                                   : "FAILED (a review went unanswered or was answered wrongly)");
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  return run();
}
