// cairn-webhook: the validating admission webhook. Wires the provenance
// policy to informers, git mirrors, the TLS server, probes and metrics.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "api/names.h"
#include "http/server.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/util.h"
#include "log/log.h"
#include "webhook/cluster.h"
#include "webhook/handler.h"
#include "webhook/metrics.h"
#include "webhook/policy.h"

using namespace cairn;
using kube::json;

namespace {

const char* kHelp = R"(cairn-webhook - admits only changes that can be traced to a git commit

Serves admission.k8s.io/v1 AdmissionReviews over HTTPS: /validate for every
namespaced kind in namespaces labelled cairn.dev/enforce=deny|warn|audit (and
for those Namespaces themselves), and /validate-cairn for Pipeline and Release
specs. Only Cairn's operator writes governed objects, from git; anyone else
may change only the fields that are theirs (see docs/security.md).

Flags:
  --kubeconfig PATH         kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --addr HOST:PORT          HTTPS address (default 0.0.0.0:9443)
  --tls-cert FILE           serving certificate (reloaded when it changes)
  --tls-key FILE            its key
  --probe-addr HOST:PORT    /healthz, /readyz and /metrics, plain HTTP (default 127.0.0.1:8082)
  --namespace NS            Cairn's own namespace, never governed (default cairn-system)
  --exempt-namespaces LIST  further namespaces never governed, by name
                            (default kube-system,kube-public,kube-node-lease)
  --scale allow|deny        people may use the scale subresource (default deny;
                            autoscalers, as Kubernetes components, always may)
  --ignore-fields LIST      Kind.group:field.path entries anyone may change and that are
                            not compared with git (e.g. Deployment.apps:spec.replicas)
  --operator-users LIST     Cairn's operator, the only writer of governed objects
                            (default system:serviceaccount:<namespace>:cairn-operator)
  --break-glass-group NAME  group allowed to break glass (default cairn:break-glass)
  --platform-group NAME     group that may write Releases/Pipelines and a governed
                            Namespace's Cairn labels (default cairn:platform)
  --exec break-glass|allow  pods/exec and pods/attach in deny namespaces (default break-glass)
  --trust LIST              USER=Kind.group[;Kind.group] entries: an outside controller
                            trusted to write those kinds (objects not from git)
  --component-users LIST    Kubernetes' components (default system:kube-controller-manager,
                            system:kube-scheduler)
  --component-groups LIST   default system:nodes,system:serviceaccounts:kube-system
  --git-cache-dir DIR       bare mirrors (default /tmp/cairn-webhook-git)
  --fetch-timeout DURATION  bound on a fetch for an unknown commit (default 3s)
  --threads N               request threads (default 4)
  --shutdown-delay DURATION on SIGTERM, how long to keep answering with /readyz failing, so
                            that the Service stops sending new connections here first
                            (default 5s; 0s to skip). Every answer from then on closes its
                            connection, and answers under way are finished before exit.
  --log-format json|text    (default json)
  --help
)";

std::pair<std::string, int> split_addr(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos) return {"", -1};
  try {
    int p = std::stoi(a.substr(colon + 1));
    return {a.substr(0, colon), p >= 0 && p < 65536 ? p : -1};
  } catch (...) {
    return {"", -1};
  }
}

std::set<std::string> split(const std::string& s) {
  std::set<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    std::string one = s.substr(pos, comma - pos);
    if (!one.empty()) out.insert(one);
    pos = comma + 1;
  }
  return out;
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "cairn-webhook: " << msg << " (see --help)\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  kube::tune_malloc_for_controllers();
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::string kubeconfig, addr = "0.0.0.0:9443", cert, key, probe_addr = "127.0.0.1:8082",
                          own_ns = "cairn-system", operator_users,
                          git_cache = "/tmp/cairn-webhook-git";
  std::set<std::string> exempt_ns = {"kube-system", "kube-public", "kube-node-lease"};
  webhook::PolicyOptions opts;
  std::chrono::milliseconds fetch_timeout{3000};
  std::chrono::milliseconds shutdown_delay{5000};
  int threads = 4;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return 0;
    } else if (a == "--kubeconfig") {
      kubeconfig = val();
    } else if (a == "--addr") {
      addr = val();
    } else if (a == "--tls-cert") {
      cert = val();
    } else if (a == "--tls-key") {
      key = val();
    } else if (a == "--probe-addr") {
      probe_addr = val();
    } else if (a == "--namespace") {
      own_ns = val();
    } else if (a == "--exempt-namespaces") {
      exempt_ns = split(val());
    } else if (a == "--governed-kinds") {
      // Every namespaced kind is governed now (closed by construction).
      (void)val();
      log::warn("--governed-kinds is ignored: every namespaced kind is governed");
    } else if (a == "--platform-group") {
      opts.platform_group = val();
    } else if (a == "--exec") {
      std::string v = val();
      if (v != "break-glass" && v != "allow") usage_error("--exec must be break-glass or allow");
      opts.exec = v == "allow" ? webhook::ExecPolicy::kAllow : webhook::ExecPolicy::kBreakGlass;
    } else if (a == "--trust") {
      // USER=Kind.group[;Kind.group...], comma-separated entries.
      for (const auto& e : split(val())) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == e.size())
          usage_error("--trust: \"" + e + "\" is not USER=Kind.group[;Kind.group]");
        std::string kinds = e.substr(eq + 1);
        std::replace(kinds.begin(), kinds.end(), ';', ',');
        auto k = webhook::parse_kinds(kinds);
        if (!k) usage_error("--trust: " + k.error());
        opts.trusted_writers[e.substr(0, eq)].insert(k->begin(), k->end());
      }
    } else if (a == "--scale") {
      std::string v = val();
      if (v != "allow" && v != "deny") usage_error("--scale must be allow or deny");
      opts.allow_scale = v == "allow";
    } else if (a == "--ignore-fields") {
      for (const auto& e : split(val())) {
        auto colon = e.find(':');
        if (colon == std::string::npos || colon + 1 == e.size())
          usage_error("--ignore-fields: \"" + e + "\" is not Kind.group:field.path");
        auto k = webhook::parse_kinds(e.substr(0, colon));
        if (!k) usage_error("--ignore-fields: " + k.error());
        opts.ignore_fields[*k->begin()].push_back(e.substr(colon + 1));
      }
    } else if (a == "--operator-users") {
      operator_users = val();
    } else if (a == "--break-glass-group") {
      opts.break_glass_group = val();
    } else if (a == "--component-users" || a == "--exempt-users") {
      opts.component_users = split(val());
    } else if (a == "--component-groups" || a == "--exempt-groups") {
      opts.component_groups = split(val());
    } else if (a == "--git-cache-dir") {
      git_cache = val();
    } else if (a == "--fetch-timeout") {
      std::string v = val();
      char* end = nullptr;
      double secs = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || secs <= 0 || secs > 30 || (std::string(end) != "s" && *end))
        usage_error("--fetch-timeout must be a duration in seconds, e.g. 3s (at most 30s)");
      fetch_timeout = std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
    } else if (a == "--shutdown-delay") {
      std::string v = val();
      char* end = nullptr;
      double secs = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || secs < 0 || secs > 300 || (std::string(end) != "s" && *end))
        usage_error("--shutdown-delay must be a duration in seconds, e.g. 5s (at most 300s)");
      shutdown_delay = std::chrono::milliseconds(static_cast<int64_t>(secs * 1000));
    } else if (a == "--threads") {
      try {
        threads = std::stoi(val());
      } catch (...) {
        threads = 0;
      }
      if (threads < 1 || threads > 256) usage_error("--threads must be 1..256");
    } else if (a == "--log-format") {
      log::Format fmt;
      if (!log::parse_format(val(), fmt)) usage_error("--log-format must be json or text");
      log::set_format(fmt);
    } else {
      usage_error("unknown flag " + a);
    }
  }
  if (cert.empty() || key.empty())
    usage_error("--tls-cert and --tls-key are required (the apiserver only calls HTTPS webhooks)");
  auto [host, port] = split_addr(addr);
  auto [probe_host, probe_port] = split_addr(probe_addr);
  if (port < 0) usage_error("--addr must be HOST:PORT");
  if (probe_port < 0) usage_error("--probe-addr must be HOST:PORT");
  opts.exempt_namespaces = exempt_ns;
  if (!own_ns.empty()) opts.exempt_namespaces.insert(own_ns);
  opts.operator_users =
      operator_users.empty()
          ? std::set<std::string>{"system:serviceaccount:" + own_ns + ":cairn-operator"}
          : split(operator_users);

  auto cfg = kube::default_config(kubeconfig);
  if (!cfg) {
    std::cerr << "cairn-webhook: " << cfg.error().to_string() << "\n";
    return 1;
  }
  auto client_r = kube::Client::create(*cfg, {.field_manager = "cairn-webhook"});
  if (!client_r) {
    std::cerr << "cairn-webhook: " << client_r.error().to_string() << "\n";
    return 1;
  }
  kube::Client& client = **client_r;
  kube::EventRecorder events(client, "cairn-webhook");

  // Only governed namespaces are cached; the label is all we read of them.
  kube::Informer namespaces(client, {.resource = kube::res::kNamespaces,
                                     .label_selector = std::string(api::kEnforceLabel)});
  kube::Informer releases(client, {.resource = {.group = std::string(api::kGroup),
                                                .version = std::string(api::kVersion),
                                                .resource = std::string(api::kReleaseResource),
                                                .kind = std::string(api::kReleaseKind),
                                                .namespaced = true}});
  kube::Informer pipelines(client, {.resource = {.group = std::string(api::kGroup),
                                                 .version = std::string(api::kVersion),
                                                 .resource = std::string(api::kPipelineResource),
                                                 .kind = std::string(api::kPipelineKind),
                                                 .namespaced = true}});
  webhook::KubeClusterView cluster(client, namespaces.store(), releases.store(), pipelines.store());
  webhook::KubeGitView git(client, git_cache, fetch_timeout);
  webhook::Warmer warmer(cluster, git, std::chrono::seconds(60));
  auto warm = [&](const kube::ObjectPtr& o) {
    warmer.add((*o)["metadata"].value("namespace", ""));
  };
  releases.add_handlers(
      {.on_add = warm,
       .on_update = [&](const kube::ObjectPtr&, const kube::ObjectPtr& b) { warm(b); }});

  webhook::Policy policy(cluster, git, opts);
  webhook::Metrics metrics;
  webhook::Handler handler(
      policy, &metrics, [&](const webhook::Review& r, const webhook::Decision& d) {
        json obj = r.operation == "DELETE" ? r.old_object : r.object;
        if (r.operation == "CONNECT")  // exec/attach: the Event goes on the Pod
          obj = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", r.name}}}};
        if (!obj.is_object()) return;
        if (!obj.contains("metadata") || !obj["metadata"].is_object())
          obj["metadata"] = json::object();
        obj["metadata"]["namespace"] = r.ns;
        if (!obj.contains("apiVersion"))
          obj["apiVersion"] = r.group.empty() ? r.version : r.group + "/" + r.version;
        if (!obj.contains("kind")) obj["kind"] = r.kind;
        events.warning(obj, "BreakGlass",
                       r.operation + " by " + r.username + " outside git: " + d.break_glass_reason);
      });

  std::atomic<bool> synced{false};
  auto probes = http::Server::start(
      {.address = probe_host, .port = probe_port, .threads = 1}, [&](const http::Request& r) {
        if (r.path == "/healthz") return http::Response::text(200, "ok\n");
        if (r.path == "/readyz")
          return synced ? http::Response::text(200, "ok\n")
                        : http::Response::text(503, "informers not synced\n");
        if (r.path == "/metrics")
          return http::Response{200, "text/plain; version=0.0.4", metrics.render(), {}};
        return http::Response::text(404, "not found\n");
      });
  if (!probes) {
    std::cerr << "cairn-webhook: probes: " << probes.error() << "\n";
    return 1;
  }

  for (auto* inf : {&namespaces, &releases, &pipelines}) inf->start();
  // SIGTERM is honoured while the informers sync too (an apiserver that does
  // not answer must not keep a terminating pod alive until SIGKILL).
  for (auto* inf : {&namespaces, &releases, &pipelines}) {
    for (int waits = 1; !inf->wait_for_sync(std::chrono::milliseconds(250)); ++waits) {
      const timespec now{0, 0};
      if (int sig = sigtimedwait(&sigs, nullptr, &now); sig > 0) {
        log::info("shutting down before the informers synced", {{"signal", std::to_string(sig)}});
        warmer.stop();
        for (auto* i : {&namespaces, &releases, &pipelines}) i->stop();
        events.flush();
        (*probes)->stop();
        return 0;
      }
      if (waits % 40 == 0)
        log::warn("waiting for informer to sync", {{"error", inf->last_error()}});
    }
  }

  auto server = http::Server::start({.address = host,
                                     .port = port,
                                     .cert_file = cert,
                                     .key_file = key,
                                     .body_limit = webhook::kMaxReviewBytes,
                                     .read_timeout = std::chrono::seconds(10),
                                     .threads = threads},
                                    [&](const http::Request& r) { return handler(r); });
  if (!server) {
    std::cerr << "cairn-webhook: " << server.error() << "\n";
    return 1;
  }
  synced = true;
  log::info("serving admission reviews",
            {{"addr", host + ":" + std::to_string((*server)->port())}, {"namespace", own_ns}});

  int sig = 0;
  sigwait(&sigs, &sig);
  // A replica going away (rolling update, drain) must not fail admissions:
  // the apiserver does not retry a webhook call that breaks. So: leave the
  // Service's endpoints (readiness fails) while still answering; close each
  // keep-alive connection after its next answer, so the apiserver's next
  // request goes to another replica; finish what is under way; then stop.
  log::info(
      "shutting down: not ready, draining connections",
      {{"signal", std::to_string(sig)}, {"delay", std::to_string(shutdown_delay.count()) + "ms"}});
  synced = false;
  (*server)->drain();
  std::this_thread::sleep_for(shutdown_delay);
  if (!(*server)->wait_answered(std::chrono::seconds(2)))
    log::warn("stopping with answers still under way");
  log::info("stopping", {{"idle_connections", std::to_string((*server)->open_connections())}});
  (*server)->stop();
  warmer.stop();
  for (auto* inf : {&namespaces, &releases, &pipelines}) inf->stop();
  events.flush();
  (*probes)->stop();
  return 0;
}
