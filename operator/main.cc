// cairn-operator: wires the Pipeline reconciler to informers, a work queue,
// leader election, probes and the push receiver. Nothing but wiring here.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>

#include "api/duration.h"
#include "api/names.h"
#include "api/types.h"
#include "git/git.h"
#include "http/server.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/util.h"
#include "kube/workqueue.h"
#include "log/log.h"
#include "metrics.h"
#include "notify/notifier.h"
#include "pipeline/reconciler.h"
#include "push/receiver.h"
#include "release/reconciler.h"
#include "source/source.h"

using namespace cairn;
using kube::json;

namespace {

const char* kHelp = R"(cairn-operator - runs Cairn's Pipelines (CI steps as Jobs) from git

Flags:
  --kubeconfig PATH           kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS[,NS...]      watch only these namespaces (default: all)
  --workers N                 concurrent reconciles (default 4)
  --probe-addr HOST:PORT      /healthz and /readyz, plain HTTP (default 127.0.0.1:8081)
  --metrics-addr HOST:PORT    Prometheus /metrics, plain HTTP (default 127.0.0.1:8080; 0: off)
  --push-addr HOST:PORT       HTTPS push receiver (default: off)
  --push-tls-cert FILE        certificate for the push receiver (reloaded when it changes)
  --push-tls-key FILE         its key
  --push-secret NS/NAME       Secret whose key `token` is the push hooks' shared secret
  --git-cache-dir DIR         bare mirrors of the repositories (default /tmp/cairn-git-cache)
  --checkout-image IMAGE      image of the checkout init container (default alpine/git:2.43.0)
  --break-glass-ttl DURATION  how long a break-glass change stays before git is put back
                              (default 1h)
  --git-fetch-timeout DURATION   a git fetch that takes longer is stopped (default 2m)
  --git-stall-timeout DURATION   ... as is one that receives nothing for this long
                              (default 30s); both are reported and retried with backoff
  --leader-elect              run only while holding the Lease (for 2+ replicas)
  --leader-election-namespace NS  (default: the --namespace, else default)
  --leader-election-id NAME   Lease name (default cairn-operator)
  --log-format json|text      (default json)
  --help
)";

struct Flags {
  std::string kubeconfig, ns, probe_addr = "127.0.0.1:8081", metrics_addr = "127.0.0.1:8080",
                              push_addr, push_cert, push_key, push_secret,
                              git_cache = "/tmp/cairn-git-cache",
                              checkout_image = "alpine/git:2.43.0", le_ns, le_id = "cairn-operator";
  int workers = 4;
  bool leader_elect = false;
  std::chrono::milliseconds break_glass_ttl = std::chrono::hours(1);
  std::chrono::seconds git_fetch_timeout{120}, git_stall_timeout{30};
};

std::pair<std::string, int> split_addr(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos) return {"", -1};
  try {
    return {a.substr(0, colon), std::stoi(a.substr(colon + 1))};
  } catch (...) {
    return {"", -1};
  }
}

class CacheProvider : public pipeline::SourceProvider {
 public:
  explicit CacheProvider(const std::string& dir) : cache_(dir) {}
  std::shared_ptr<git::Source> source(const std::string& url) override {
    return cache_.mirror(url);
  }

 private:
  git::Cache cache_;
};

// Handlers for Cairn's own resources. Our status writes come back as
// updates; only spec (generation), annotations or deletion matter, and
// resyncs (where old == new).
kube::EventHandlers handlers_for_own_kind(std::function<void(const kube::ObjectPtr&)> enqueue) {
  return {.on_add = enqueue,
          .on_update =
              [enqueue](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
                const json& ma = (*a)["metadata"];
                const json& mb = (*b)["metadata"];
                if (a == b || ma.value("generation", 0) != mb.value("generation", 0) ||
                    ma.value("annotations", json::object()) !=
                        mb.value("annotations", json::object()) ||
                    mb.contains("deletionTimestamp")) {
                  enqueue(b);
                }
              },
          .on_delete = enqueue};
}

std::string label_of(const json& o, std::string_view key) {
  const json md = o.value("metadata", json::object());
  return md.value("labels", json::object()).value(std::string(key), std::string());
}

}  // namespace

int main(int argc, char** argv) {
  kube::tune_malloc_for_controllers();
  // Block termination signals before any thread exists; one thread sigwaits.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "cairn-operator: " << a << " needs a value (see --help)\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return 0;
    } else if (a == "--kubeconfig") {
      f.kubeconfig = val();
    } else if (a == "--namespace") {
      f.ns = val();
    } else if (a == "--workers") {
      try {
        f.workers = std::stoi(val());
      } catch (...) {
        f.workers = 0;
      }
    } else if (a == "--probe-addr") {
      f.probe_addr = val();
    } else if (a == "--metrics-addr") {
      f.metrics_addr = val();
    } else if (a == "--push-addr") {
      f.push_addr = val();
    } else if (a == "--push-tls-cert") {
      f.push_cert = val();
    } else if (a == "--push-tls-key") {
      f.push_key = val();
    } else if (a == "--push-secret") {
      f.push_secret = val();
    } else if (a == "--git-cache-dir") {
      f.git_cache = val();
    } else if (a == "--checkout-image") {
      f.checkout_image = val();
    } else if (a == "--break-glass-ttl") {
      auto d = api::parse_duration(val());
      if (!d || d->count() <= 0) {
        std::cerr << "cairn-operator: --break-glass-ttl must be a duration such as 30m or 1h\n";
        return 2;
      }
      f.break_glass_ttl = *d;
    } else if (a == "--git-fetch-timeout" || a == "--git-stall-timeout") {
      auto d = api::parse_duration(val());
      if (!d || *d < std::chrono::seconds(1)) {
        std::cerr << "cairn-operator: " << a << " must be a duration of 1s or more, such as 30s\n";
        return 2;
      }
      (a == "--git-fetch-timeout" ? f.git_fetch_timeout : f.git_stall_timeout) =
          std::chrono::duration_cast<std::chrono::seconds>(*d);
    } else if (a == "--leader-elect") {
      f.leader_elect = true;
    } else if (a == "--leader-election-namespace") {
      f.le_ns = val();
    } else if (a == "--leader-election-id") {
      f.le_id = val();
    } else if (a == "--log-format") {
      log::Format fmt;
      if (!log::parse_format(val(), fmt)) {
        std::cerr << "cairn-operator: --log-format must be json or text\n";
        return 2;
      }
      log::set_format(fmt);
    } else {
      std::cerr << "cairn-operator: unknown flag " << a << " (see --help)\n";
      return 2;
    }
  }
  if (f.workers < 1 || f.workers > 64) {
    std::cerr << "cairn-operator: --workers must be 1..64\n";
    return 2;
  }
  auto [probe_host, probe_port] = split_addr(f.probe_addr);
  if (probe_port < 0) {
    std::cerr << "cairn-operator: --probe-addr must be HOST:PORT\n";
    return 2;
  }
  if (!f.push_addr.empty() && (f.push_cert.empty() || f.push_key.empty())) {
    std::cerr
        << "cairn-operator: --push-addr needs --push-tls-cert and --push-tls-key (the receiver "
           "only speaks HTTPS)\n";
    return 2;
  }

  // One namespace: informers scoped to it (RBAC can be namespaced). Several:
  // cluster-wide informers whose events outside the list are ignored.
  std::set<std::string> namespaces;
  for (size_t pos = 0; pos <= f.ns.size() && !f.ns.empty();) {
    size_t comma = f.ns.find(',', pos);
    std::string one =
        f.ns.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!one.empty()) namespaces.insert(one);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const std::string scope = namespaces.size() == 1 ? *namespaces.begin() : "";
  auto in_scope = [&](const json& o) {
    return namespaces.empty() || namespaces.contains(o["metadata"].value("namespace", ""));
  };

  auto cfg = kube::default_config(f.kubeconfig);
  if (!cfg) {
    std::cerr << "cairn-operator: " << cfg.error().to_string() << "\n";
    return 1;
  }
  auto client_r = kube::Client::create(*cfg, {.field_manager = "cairn"});
  if (!client_r) {
    std::cerr << "cairn-operator: " << client_r.error().to_string() << "\n";
    return 1;
  }
  kube::Client& client = **client_r;
  // Who this process is: the Lease's holderIdentity and the reportingInstance
  // of its Events, so an audit can tell two replicas on one host apart.
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string id = std::string(host) + "_" + std::to_string(std::random_device{}());
  kube::EventRecorder events(client, "cairn-operator", id);

  // ------------------------------------------------------------ informers
  kube::Informer pipelines(client, {.resource = pipeline::Reconciler::resource(), .ns = scope});
  kube::Informer jobs(client, {.resource = kube::res::kJobs,
                               .ns = scope,
                               .label_selector = std::string(api::kPipelineLabel)});
  kube::Informer pods(client, {.resource = kube::res::kPods,
                               .ns = scope,
                               .label_selector = std::string(api::kPipelineLabel)});
  kube::WorkQueue queue;
  auto enqueue = [&](const kube::ObjectPtr& o) {
    if (in_scope(*o)) queue.add(kube::object_key(*o));
  };
  pipelines.add_handlers(handlers_for_own_kind(enqueue));
  auto enqueue_owner = [&](const kube::ObjectPtr& o) {
    std::string p = label_of(*o, api::kPipelineLabel);
    if (!p.empty() && in_scope(*o)) queue.add((*o)["metadata"].value("namespace", "") + "/" + p);
  };
  for (auto* inf : {&jobs, &pods}) {
    inf->add_handlers(
        {.on_add = enqueue_owner,
         .on_update = [&](const kube::ObjectPtr&, const kube::ObjectPtr& b) { enqueue_owner(b); },
         .on_delete = enqueue_owner});
  }

  CacheProvider sources(f.git_cache);
  metrics::OperatorMetrics op_metrics;
  source::set_fetch_observer([&](const std::string& url, bool ok, double secs) {
    op_metrics.git_fetch(git::redact_url(url), ok, secs);
  });
  // Notifications go out on their own thread; a delivery that fails for
  // good shows in the resource's Notified condition at its next reconcile.
  notify::Notifier notifier(
      client, {.on_result = [&](const std::string& result) { op_metrics.notification(result); }});
  auto notify_failure = [&](const std::string& key) { return notifier.failure(key); };
  // spec.source.url of a cached Pipeline or Release: the links of a notification.
  auto source_url = [](kube::Store& store, const std::string& ns, const std::string& name) {
    auto o = store.get(ns + "/" + name);
    if (!o) return std::string();
    auto spec = o->find("spec");
    if (spec == o->end() || !spec->is_object()) return std::string();
    auto src = spec->find("source");
    if (src == spec->end() || !src->is_object()) return std::string();
    return src->value("url", std::string());
  };
  pipeline::Reconciler reconciler(
      client, pipelines.store(), jobs.store(), pods.store(), sources, events,
      {.checkout_image = f.checkout_image,
       .on_run_finished =
           [&](const std::string& ns, const std::string& name, const api::RunStatus& run,
               double secs, const std::vector<api::NotifySpec>& targets) {
             op_metrics.run_finished(ns, name, run, secs);
             if (targets.empty()) return;
             notifier.send({.kind = "Pipeline",
                            .ns = ns,
                            .name = name,
                            .event = run.phase == api::RunPhase::kSucceeded
                                         ? api::NotifyEvent::kRunSucceeded
                                         : api::NotifyEvent::kRunFailed,
                            .commit = run.commit,
                            .author = run.author,
                            .title = run.title,
                            .run = run.id,
                            .result = std::string(api::to_string(run.phase)),
                            .reason = run.message,
                            .source = source_url(pipelines.store(), ns, name),
                            .targets = targets});
           },
       .fetch_timeout = f.git_fetch_timeout,
       .stall_timeout = f.git_stall_timeout,
       .notify_failure = notify_failure});

  // ------------------------------------------------------------- releases
  kube::Informer releases(client, {.resource = release::Reconciler::resource(), .ns = scope});
  kube::WorkQueue release_queue;
  auto enqueue_release = [&](const kube::ObjectPtr& o) {
    if (in_scope(*o)) release_queue.add(kube::object_key(*o));
  };
  releases.add_handlers(handlers_for_own_kind(enqueue_release));
  // Objects Cairn applied: a change to one (a kubectl edit, a rollout
  // making progress) wakes its Release at once, for health and self-heal.
  const std::string managed =
      std::string(api::kManagedByLabel) + "=" + std::string(api::kManagedByValue);
  std::vector<std::unique_ptr<kube::Informer>> managed_informers;
  for (const auto* r : {&kube::res::kDeployments, &kube::res::kServices, &kube::res::kConfigMaps,
                        &kube::res::kServiceAccounts}) {
    auto inf = std::make_unique<kube::Informer>(
        client, kube::InformerOptions{.resource = *r, .ns = scope, .label_selector = managed});
    auto wake = [&](const kube::ObjectPtr& o) {
      std::string rel = (*o)["metadata"]
                            .value("annotations", json::object())
                            .value(std::string(api::kReleaseAnnotation), "");
      if (!rel.empty() && in_scope(*o)) release_queue.add(rel);
    };
    inf->add_handlers(
        {.on_add = wake,
         .on_update = [wake](const kube::ObjectPtr&, const kube::ObjectPtr& b) { wake(b); },
         .on_delete = wake});
    managed_informers.push_back(std::move(inf));
  }
  release::Reconciler release_reconciler(
      client, releases.store(), pipelines.store(), sources, events,
      {.fetch_timeout = f.git_fetch_timeout,
       .stall_timeout = f.git_stall_timeout,
       .break_glass_ttl = f.break_glass_ttl,
       .on_event =
           [&](const release::ReleaseEvent& e) {
             op_metrics.release_event(e);
             using T = release::ReleaseEvent::Type;
             if (e.notify.empty() || e.type == T::kPruned) return;
             notifier.send({.kind = "Release",
                            .ns = e.ns,
                            .name = e.name,
                            .event = e.type == T::kDeployed     ? api::NotifyEvent::kDeployed
                                     : e.type == T::kFailed     ? api::NotifyEvent::kFailed
                                     : e.type == T::kRolledBack ? api::NotifyEvent::kRolledBack
                                                                : api::NotifyEvent::kDriftCorrected,
                            .commit = e.commit,
                            .author = e.author,
                            .title = e.title,
                            .result = std::string(release::to_string(e.type)),
                            .reason = e.reason,
                            .source = source_url(releases.store(), e.ns, e.name),
                            .targets = e.notify});
           },
       .notify_failure = notify_failure});
  // A Pipeline's run finishing may open a Release's gate.
  pipelines.add_handlers({.on_update = [&](const kube::ObjectPtr&, const kube::ObjectPtr& b) {
    for (const auto& r : releases.store().by_index(kube::Store::kByNamespace,
                                                   (*b)["metadata"].value("namespace", ""))) {
      const json gate = (*r).value("spec", json::object()).value("gate", json::object());
      if (gate.value("pipelineRef", json::object()).value("name", "") ==
          (*b)["metadata"].value("name", "")) {
        release_queue.add(kube::object_key(*r));
      }
    }
  }});

  // ---------------------------------------------------------------- probes
  std::atomic<bool> synced{false}, leading{!f.leader_elect};
  auto probes = http::Server::start(
      {.address = probe_host, .port = probe_port, .threads = 1}, [&](const http::Request& r) {
        if (r.path == "/healthz") return http::Response::text(200, "ok\n");
        if (r.path == "/readyz") {
          return synced ? http::Response::text(200, "ok\n")
                        : http::Response::text(503, "informers not synced\n");
        }
        return http::Response::text(404, "not found\n");
      });
  if (!probes) {
    std::cerr << "cairn-operator: probes: " << probes.error() << "\n";
    return 1;
  }

  std::unique_ptr<http::Server> metrics_server;
  if (f.metrics_addr != "0") {
    auto [mh, mp] = split_addr(f.metrics_addr);
    if (mp < 0) {
      std::cerr << "cairn-operator: --metrics-addr must be HOST:PORT or 0\n";
      return 2;
    }
    auto m =
        http::Server::start({.address = mh, .port = mp, .threads = 1}, [&](const http::Request& r) {
          if (r.path != "/metrics") return http::Response::text(404, "not found\n");
          op_metrics.queue_depth("pipeline", static_cast<double>(queue.len()));
          op_metrics.queue_depth("release", static_cast<double>(release_queue.len()));
          op_metrics.queue_totals("pipeline", static_cast<double>(queue.adds()),
                                  static_cast<double>(queue.retries()));
          op_metrics.queue_totals("release", static_cast<double>(release_queue.adds()),
                                  static_cast<double>(release_queue.retries()));
          for (auto* inf : {&pipelines, &jobs, &pods, &releases})
            op_metrics.informer_totals(inf->resource().resource, static_cast<double>(inf->events()),
                                       static_cast<double>(inf->relists()));
          op_metrics.stalled("Pipeline", metrics::stalled_objects(pipelines.store()));
          op_metrics.stalled("Release", metrics::stalled_objects(releases.store()));
          return http::Response{200, "text/plain; version=0.0.4", op_metrics.render(), {}};
        });
    if (!m) {
      std::cerr << "cairn-operator: metrics: " << m.error() << "\n";
      return 1;
    }
    metrics_server = std::move(*m);
  }

  // ------------------------------------------------------------------ push
  std::unique_ptr<push::Receiver> receiver;
  std::unique_ptr<http::Server> push_server;
  if (!f.push_addr.empty()) {
    auto [h, p] = split_addr(f.push_addr);
    std::string secret_ns = f.push_secret.substr(0, f.push_secret.find('/'));
    std::string secret_name = f.push_secret.find('/') == std::string::npos
                                  ? ""
                                  : f.push_secret.substr(f.push_secret.find('/') + 1);
    receiver = std::make_unique<push::Receiver>(push::ReceiverOptions{
        .secret = [&client, secret_ns, secret_name]() -> std::string {
          if (secret_name.empty()) return {};
          auto s = client.get(kube::res::kSecrets, secret_ns, secret_name);
          if (!s) return {};
          auto tok = s->value("data", json::object()).value("token", "");
          return kube::base64_decode(tok).value_or("");
        },
        .on_push =
            [&](const push::PushEvent& ev) {
              std::vector<std::string> hit;
              std::set<std::string> urls;
              for (const auto& u : ev.urls) urls.insert(push::normalize_url(u));
              for (const auto& p : pipelines.store().list()) {
                if (!in_scope(*p)) continue;
                const json src = (*p).value("spec", json::object()).value("source", json::object());
                if (!urls.contains(push::normalize_url(src.value("url", "")))) continue;
                bool match = (!ev.branch.empty() && src.value("branch", "") == ev.branch) ||
                             (!ev.tag.empty() && src.value("tag", "") == ev.tag);
                if (!match) continue;
                std::string key = kube::object_key(*p);
                reconciler.request_fetch(key);
                queue.add(key);
                hit.push_back(key);
              }
              for (const auto& r : releases.store().list()) {
                if (!in_scope(*r)) continue;
                const json src = (*r).value("spec", json::object()).value("source", json::object());
                if (!urls.contains(push::normalize_url(src.value("url", "")))) continue;
                bool match = (!ev.branch.empty() && src.value("branch", "") == ev.branch) ||
                             (!ev.tag.empty() && src.value("tag", "") == ev.tag);
                if (!match) continue;
                std::string key = kube::object_key(*r);
                release_reconciler.request_fetch(key);
                release_queue.add(key);
                hit.push_back(key);
              }
              log::info("push received", {{"branch", ev.branch},
                                          {"tag", ev.tag},
                                          {"triggered", std::to_string(hit.size())}});
              return hit;
            }});
    auto s = http::Server::start({.address = h,
                                  .port = p,
                                  .cert_file = f.push_cert,
                                  .key_file = f.push_key,
                                  .body_limit = 1u << 20},
                                 [&](const http::Request& r) {
                                   auto resp = receiver->handle(r);
                                   op_metrics.push(resp.status == 202 ? "accepted" : "refused");
                                   return resp;
                                 });
    if (!s) {
      std::cerr << "cairn-operator: push receiver: " << s.error() << "\n";
      return 1;
    }
    push_server = std::move(*s);
  }

  // --------------------------------------------------------------- start
  std::vector<kube::Informer*> all_informers = {&pipelines, &jobs, &pods, &releases};
  for (auto& m : managed_informers) all_informers.push_back(m.get());
  for (auto* inf : all_informers) inf->start();
  // SIGTERM is honoured while the informers sync too (an apiserver that does
  // not answer must not keep a terminating pod alive until SIGKILL).
  for (auto* inf : all_informers) {
    for (int waits = 1; !inf->wait_for_sync(std::chrono::milliseconds(250)); ++waits) {
      const timespec now{0, 0};
      if (int s = sigtimedwait(&sigs, nullptr, &now); s > 0) {
        log::info("signal received before the caches synced, shutting down",
                  {{"signal", strsignal(s)}});
        for (auto* i : all_informers) i->stop();
        events.flush();
        return 0;
      }
      if (waits % 40 == 0)
        log::warn("waiting for informer to sync", {{"error", inf->last_error()}});
    }
  }
  synced = true;
  log::info("caches synced", {{"namespaces", f.ns.empty() ? "*" : f.ns}, {"identity", id}});

  std::vector<std::thread> workers;
  // One work queue per kind; each worker thread serves one queue.
  auto serve = [&](kube::WorkQueue& q, const char* kind,
                   const std::function<pipeline::Outcome(const std::string&)>& fn) {
    while (auto key = q.get()) {
      pipeline::Outcome out;
      auto t0 = std::chrono::steady_clock::now();
      log::set_trace(log::new_trace());  // every log line of this reconcile carries it
      try {
        out = fn(*key);
      } catch (const std::exception& e) {
        // A bug must not take the operator down with it; retry with backoff.
        log::error("reconcile threw", {{"kind", kind}, {"key", *key}, {"error", e.what()}});
        out = pipeline::Outcome::retry();
      }
      log::set_trace("");
      // A requeue for the next poll is a success; only a retry is an error.
      op_metrics.reconciled(
          kind, out.kind == pipeline::Outcome::kRetry ? "error" : "success",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      switch (out.kind) {
        case pipeline::Outcome::kDone:
          q.forget(*key);
          break;
        case pipeline::Outcome::kRequeueAfter:
          q.forget(*key);
          q.add_after(*key, out.after);
          break;
        case pipeline::Outcome::kRetry:
          q.add_rate_limited(*key);
          break;
      }
      q.done(*key);
    }
  };
  auto start_workers = [&] {
    for (int i = 0; i < f.workers; ++i) {
      workers.emplace_back([&] {
        serve(queue, "Pipeline", [&](const std::string& k) { return reconciler.reconcile(k); });
      });
      workers.emplace_back([&] {
        serve(release_queue, "Release",
              [&](const std::string& k) { return release_reconciler.reconcile(k); });
      });
    }
    // Everything known now gets a first look.
    for (const auto& p : pipelines.store().list()) enqueue(p);
    for (const auto& r : releases.store().list()) enqueue_release(r);
  };

  std::atomic<bool> stopping{false};
  std::unique_ptr<kube::LeaderElector> elector;
  std::thread sig_thread([&] {
    int s = 0;
    sigwait(&sigs, &s);
    log::info("signal received, shutting down", {{"signal", strsignal(s)}});
    stopping = true;
    if (elector) elector->stop();
    queue.shutdown_with_drain();
    release_queue.shutdown_with_drain();
  });

  int rc = 0;
  if (f.leader_elect) {
    std::string le_ns = !f.le_ns.empty() ? f.le_ns : (!scope.empty() ? scope : "default");
    elector = std::make_unique<kube::LeaderElector>(
        client, kube::LeaderElectionConfig{.ns = le_ns, .name = f.le_id, .identity = id},
        kube::LeaderCallbacks{.on_started_leading =
                                  [&] {
                                    log::info("leading", {{"identity", id}});
                                    leading = true;
                                    start_workers();
                                  },
                              .on_stopped_leading = [&] { leading = false; }});
    bool by_stop = elector->run();
    if (!by_stop) {
      // Lost the lease: another replica may already be reconciling. Stop at
      // once rather than race it; the Deployment restarts us as a follower.
      log::error("leadership lost, exiting");
      queue.shutdown();
      release_queue.shutdown();
      rc = 1;
    }
  } else {
    start_workers();
    sig_thread.join();
  }
  for (auto& w : workers) w.join();
  if (sig_thread.joinable()) {
    if (rc != 0) {
      ::kill(::getpid(), SIGTERM);  // wake sigwait
    }
    sig_thread.join();
  }
  events.flush();
  for (auto* inf : all_informers) inf->stop();
  log::info("stopped");
  return rc;
}
