// cairn-operator: wires the Pipeline and Release reconcilers to informers,
// their controllers (work queue + workers), leader election, probes, metrics
// and the push receiver. Nothing but wiring here: the flags are in flags.cc,
// what routes one kind's events to another controller in routers.cc.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>

#include "api/names.h"
#include "git/git.h"
#include "http/server.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/util.h"
#include "log/log.h"
#include "operator/flags.h"
#include "operator/kit/controller.h"
#include "operator/metrics.h"
#include "operator/notify/notifier.h"
#include "operator/pipeline/reconciler.h"
#include "operator/push/receiver.h"
#include "operator/release/reconciler.h"
#include "operator/routers.h"
#include "source/source.h"

using namespace cairn;
using kube::json;

namespace {

class CacheProvider : public source::SourceProvider {
 public:
  explicit CacheProvider(const std::string& dir) : cache_(dir) {}
  std::shared_ptr<git::Source> source(const std::string& url) override {
    return cache_.mirror(url);
  }

 private:
  git::Cache cache_;
};

std::unique_ptr<http::Server> start_probes(const app::Flags& f, const std::atomic<bool>& synced) {
  auto probes =
      http::Server::start({.address = f.probe_host, .port = f.probe_port, .threads = 1},
                          [&synced](const http::Request& r) {
                            if (r.path == "/healthz") return http::Response::text(200, "ok\n");
                            if (r.path == "/readyz") {
                              return synced ? http::Response::text(200, "ok\n")
                                            : http::Response::text(503, "informers not synced\n");
                            }
                            return http::Response::text(404, "not found\n");
                          });
  if (!probes) {
    std::cerr << "cairn-operator: probes: " << probes.error() << "\n";
    return nullptr;
  }
  return std::move(*probes);
}

// The push receiver: a verified push makes the Pipelines and Releases that
// follow the pushed branch fetch at once.
std::unique_ptr<http::Server> start_push(const app::Flags& f, kube::Client& client,
                                         const app::PushRouter& router, metrics::OperatorMetrics& m,
                                         std::unique_ptr<push::Receiver>& receiver) {
  auto [h, p] = app::split_addr(f.push_addr);
  const auto slash = f.push_secret.find('/');
  const std::string secret_ns = f.push_secret.substr(0, slash);
  const std::string secret_name = slash == std::string::npos ? "" : f.push_secret.substr(slash + 1);
  receiver = std::make_unique<push::Receiver>(push::ReceiverOptions{
      .secret = [&client, secret_ns, secret_name]() -> std::string {
        if (secret_name.empty()) return {};
        auto s = client.get(kube::res::kSecrets, secret_ns, secret_name);
        if (!s) return {};
        auto tok = s->value("data", json::object()).value("token", "");
        return kube::base64_decode(tok).value_or("");
      },
      .on_push = [&router](const push::PushEvent& ev) { return router.route(ev); }});
  auto s = http::Server::start({.address = h,
                                .port = p,
                                .cert_file = f.push_cert,
                                .key_file = f.push_key,
                                .body_limit = 1u << 20},
                               [&receiver, &m](const http::Request& r) {
                                 auto resp = receiver->handle(r);
                                 m.push(resp.status == 202 ? "accepted" : "refused");
                                 return resp;
                               });
  if (!s) {
    std::cerr << "cairn-operator: push receiver: " << s.error() << "\n";
    return nullptr;
  }
  return std::move(*s);
}

// The /metrics endpoint: the operator's metrics, with the queues' and
// informers' figures read at each scrape.
std::unique_ptr<http::Server> start_metrics(const app::Flags& f, metrics::OperatorMetrics& m,
                                            std::vector<kit::Controller*> controllers,
                                            std::vector<kube::Informer*> informers,
                                            const kube::Store& pipelines,
                                            const kube::Store& releases) {
  auto [mh, mp] = app::split_addr(f.metrics_addr);
  auto s = http::Server::start(
      {.address = mh, .port = mp, .threads = 1},
      [&m, controllers, informers, &pipelines, &releases](const http::Request& r) {
        if (r.path != "/metrics") return http::Response::text(404, "not found\n");
        for (auto* c : controllers) {
          std::string kind = c->kind() == "Pipeline" ? "pipeline" : "release";
          m.queue_depth(kind, static_cast<double>(c->queue().len()));
          m.queue_totals(kind, static_cast<double>(c->queue().adds()),
                         static_cast<double>(c->queue().retries()));
        }
        for (auto* inf : informers)
          m.informer_totals(inf->resource().resource, static_cast<double>(inf->events()),
                            static_cast<double>(inf->relists()));
        m.stalled("Pipeline", metrics::stalled_objects(pipelines));
        m.stalled("Release", metrics::stalled_objects(releases));
        return http::Response{200, "text/plain; version=0.0.4", m.render(), {}};
      });
  if (!s) {
    std::cerr << "cairn-operator: metrics: " << s.error() << "\n";
    return nullptr;
  }
  return std::move(*s);
}

// Waits for every informer's first list. SIGTERM is honoured meanwhile (an
// apiserver that does not answer must not keep a terminating pod alive until
// SIGKILL): false when a signal came first.
bool await_sync(const std::vector<kube::Informer*>& informers, const sigset_t& sigs) {
  for (auto* inf : informers) {
    for (int waits = 1; !inf->wait_for_sync(std::chrono::milliseconds(250)); ++waits) {
      const timespec now{0, 0};
      if (int s = sigtimedwait(&sigs, nullptr, &now); s > 0) {
        log::info("signal received before the caches synced, shutting down",
                  {{"signal", strsignal(s)}});
        return false;
      }
      if (waits % 40 == 0)
        log::warn("waiting for informer to sync", {{"error", inf->last_error()}});
    }
  }
  return true;
}

// Runs the controllers until a signal (or, with --leader-elect, while this
// replica leads): 0 after a signal, 1 when leadership was lost.
int run(const app::Flags& f, kube::Client& client, const std::string& id, const sigset_t& sigs,
        std::vector<std::pair<kit::Controller*, const kube::Store*>> controllers) {
  auto start_workers = [&] {
    for (auto [c, store] : controllers) c->start(f.workers, store);
  };
  std::unique_ptr<kube::LeaderElector> elector;
  std::thread sig_thread([&] {
    int s = 0;
    sigwait(&sigs, &s);
    log::info("signal received, shutting down", {{"signal", strsignal(s)}});
    if (elector) elector->stop();
    for (auto [c, store] : controllers) c->drain();
  });
  int rc = 0;
  if (f.leader_elect) {
    const std::string scope = f.scope();
    std::string le_ns = !f.le_ns.empty() ? f.le_ns : (!scope.empty() ? scope : "default");
    elector = std::make_unique<kube::LeaderElector>(
        client, kube::LeaderElectionConfig{.ns = le_ns, .name = f.le_id, .identity = id},
        kube::LeaderCallbacks{.on_started_leading =
                                  [&] {
                                    log::info("leading", {{"identity", id}});
                                    start_workers();
                                  },
                              .on_stopped_leading = [] {}});
    if (!elector->run()) {
      // Lost the lease: another replica may already be reconciling. Stop at
      // once rather than race it; the Deployment restarts us as a follower.
      log::error("leadership lost, exiting");
      for (auto [c, store] : controllers) c->stop();
      rc = 1;
    }
  } else {
    start_workers();
    sig_thread.join();
  }
  for (auto [c, store] : controllers) c->join();
  if (sig_thread.joinable()) {
    if (rc != 0) ::kill(::getpid(), SIGTERM);  // wake sigwait
    sig_thread.join();
  }
  return rc;
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

  auto flags = app::parse_flags(argc, argv);
  if (!flags) return flags.error();
  const app::Flags& f = *flags;
  const std::string scope = f.scope();
  const app::InScope in_scope = [&f](const json& o) { return f.in_scope(o); };

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
  metrics::OperatorMetrics op_metrics;
  source::set_fetch_observer([&](const std::string& url, bool ok, double secs) {
    op_metrics.git_fetch(git::redact_url(url), ok, secs);
  });
  CacheProvider sources(f.git_cache);
  // Notifications go out on their own thread; a delivery that fails for
  // good shows in the resource's Notified condition at its next reconcile.
  notify::Notifier notifier(
      client, {.on_result = [&](const std::string& result) { op_metrics.notification(result); }});
  auto notify_failure = [&](const std::string& key) { return notifier.failure(key); };
  // A requeue for the next poll is a success; only a retry is an error.
  auto observe = [&](const std::string& kind, const kit::Outcome& out, double secs) {
    op_metrics.reconciled(kind, out.kind() == kit::Outcome::Kind::kRetry ? "error" : "success",
                          secs);
  };

  // ------------------------------------------------------------ pipelines
  kube::Informer pipelines(client, {.resource = pipeline::Reconciler::resource(), .ns = scope});
  kube::Informer jobs(client, {.resource = kube::res::kJobs,
                               .ns = scope,
                               .label_selector = std::string(api::kPipelineLabel)});
  kube::Informer pods(client, {.resource = kube::res::kPods,
                               .ns = scope,
                               .label_selector = std::string(api::kPipelineLabel)});
  pipeline::Reconciler pipeline_reconciler(
      client, pipelines.store(), jobs.store(), pods.store(), sources, events,
      {.checkout_image = f.checkout_image,
       .on_run_finished =
           [&](const std::string& ns, const std::string& name, const api::RunStatus& run,
               double secs, const std::vector<api::NotifySpec>& targets) {
             op_metrics.run_finished(ns, name, run, secs);
             auto n = app::notice_for_run(ns, name, run, targets,
                                          app::source_url(pipelines.store(), ns, name));
             if (n) notifier.send(std::move(*n));
           },
       .fetch_timeout = f.git_fetch_timeout,
       .stall_timeout = f.git_stall_timeout,
       .notify_failure = notify_failure});
  kit::Controller pipeline_controller(
      "Pipeline", [&](const std::string& k) { return pipeline_reconciler.reconcile(k); }, observe);
  pipeline_controller.watch_own(pipelines, in_scope);
  for (auto* inf : {&jobs, &pods})
    inf->add_handlers(app::wake_owning_pipeline(pipeline_controller, in_scope));

  // ------------------------------------------------------------- releases
  kube::Informer releases(client, {.resource = release::Reconciler::resource(), .ns = scope});
  release::Reconciler release_reconciler(
      client, releases.store(), pipelines.store(), sources, events,
      {.fetch_timeout = f.git_fetch_timeout,
       .stall_timeout = f.git_stall_timeout,
       .break_glass_ttl = f.break_glass_ttl,
       .on_event =
           [&](const release::ReleaseEvent& e) {
             op_metrics.release_event(e);
             auto n = app::notice_for(e, app::source_url(releases.store(), e.ns, e.name));
             if (n) notifier.send(std::move(*n));
           },
       .notify_failure = notify_failure});
  kit::Controller release_controller(
      "Release", [&](const std::string& k) { return release_reconciler.reconcile(k); }, observe);
  release_controller.watch_own(releases, in_scope);
  // Objects Cairn applied wake their Release, for health and self-heal.
  const std::string managed =
      std::string(api::kManagedByLabel) + "=" + std::string(api::kManagedByValue);
  std::vector<std::unique_ptr<kube::Informer>> managed_informers;
  for (const auto* r : {&kube::res::kDeployments, &kube::res::kServices, &kube::res::kConfigMaps,
                        &kube::res::kServiceAccounts}) {
    managed_informers.push_back(std::make_unique<kube::Informer>(
        client, kube::InformerOptions{.resource = *r, .ns = scope, .label_selector = managed}));
    managed_informers.back()->add_handlers(app::wake_owning_release(release_controller, in_scope));
  }
  app::wake_gated_releases(pipelines, releases.store(), release_controller);

  // ------------------------------------------------- probes, metrics, push
  std::atomic<bool> synced{false};
  auto probes = start_probes(f, synced);
  if (!probes) return 1;
  std::unique_ptr<http::Server> metrics_server;
  if (f.metrics_addr != "0") {
    metrics_server =
        start_metrics(f, op_metrics, {&pipeline_controller, &release_controller},
                      {&pipelines, &jobs, &pods, &releases}, pipelines.store(), releases.store());
    if (!metrics_server) return 1;
  }
  app::PushRouter router(in_scope);
  router.add(pipelines.store(), [&](const std::string& key) {
    pipeline_reconciler.request_fetch(key);
    pipeline_controller.enqueue(key);
  });
  router.add(releases.store(), [&](const std::string& key) {
    release_reconciler.request_fetch(key);
    release_controller.enqueue(key);
  });
  std::unique_ptr<push::Receiver> receiver;
  std::unique_ptr<http::Server> push_server;
  if (!f.push_addr.empty()) {
    push_server = start_push(f, client, router, op_metrics, receiver);
    if (!push_server) return 1;
  }

  // --------------------------------------------------------------- start
  std::vector<kube::Informer*> all_informers = {&pipelines, &jobs, &pods, &releases};
  for (auto& m : managed_informers) all_informers.push_back(m.get());
  for (auto* inf : all_informers) inf->start();
  if (!await_sync(all_informers, sigs)) {
    for (auto* i : all_informers) i->stop();
    events.flush();
    return 0;
  }
  synced = true;
  log::info("caches synced", {{"namespaces", f.ns.empty() ? "*" : f.ns}, {"identity", id}});

  // Everything known now gets a first look.
  const int rc =
      run(f, client, id, sigs,
          {{&pipeline_controller, &pipelines.store()}, {&release_controller, &releases.store()}});
  events.flush();
  for (auto* inf : all_informers) inf->stop();
  log::info("stopped");
  return rc;
}
