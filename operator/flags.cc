#include "operator/flags.h"

#include <cstdlib>
#include <iostream>

#include "api/duration.h"
#include "log/log.h"

namespace cairn::app {

namespace {

const char* kHelp = R"(cairn-operator - runs Cairn's Pipelines (CI steps as Jobs) and Releases
(manifests from git applied, followed to health, rolled back, self-healed)

Flags:
  --kubeconfig PATH           kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS[,NS...]      watch only these namespaces (default: all)
  --workers N                 concurrent reconciles per kind (default 4)
  --probe-addr HOST:PORT      /healthz and /readyz, plain HTTP (default 127.0.0.1:8081)
  --metrics-addr HOST:PORT    Prometheus /metrics, plain HTTP (default 127.0.0.1:8080; 0: off)
  --push-addr HOST:PORT       HTTPS push receiver (default: off)
  --push-tls-cert FILE        certificate for the push receiver (reloaded when it changes)
  --push-tls-key FILE         its key
  --push-secret NS/NAME       Secret whose key `token` is the push hooks' shared secret
  --git-cache-dir DIR         bare mirrors of the repositories (default /tmp/cairn-git-cache)
  --checkout-image IMAGE      image of a Pipeline step's checkout init container
                              (default alpine/git:2.43.0)
  --break-glass-ttl DURATION  how long a break-glass change stays before a Release puts git
                              back, whatever spec.selfHeal says; honoured only in namespaces
                              labelled cairn.dev/enforce=deny (default 1h)
  --git-fetch-timeout DURATION   a git fetch that takes longer is stopped (default 2m)
  --git-stall-timeout DURATION   ... as is one that receives nothing for this long
                              (default 30s); both are reported and retried with backoff
  --leader-elect              run only while holding the Lease (for 2+ replicas)
  --leader-election-namespace NS  (default: the --namespace, else default)
  --leader-election-id NAME   Lease name (default cairn-operator)
  --log-format json|text      (default json)
  --help
)";

std::unexpected<int> usage(const std::string& why) {
  std::cerr << "cairn-operator: " << why << "\n";
  return std::unexpected(2);
}

std::set<std::string> split_namespaces(const std::string& list) {
  std::set<std::string> out;
  for (size_t pos = 0; pos <= list.size() && !list.empty();) {
    size_t comma = list.find(',', pos);
    std::string one =
        list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!one.empty()) out.insert(one);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Checks what the flags say together, once all are read.
std::expected<Flags, int> validate(Flags f) {
  if (f.workers < 1 || f.workers > 64) return usage("--workers must be 1..64");
  std::tie(f.probe_host, f.probe_port) = split_addr(f.probe_addr);
  if (f.probe_port < 0) return usage("--probe-addr must be HOST:PORT");
  if (f.metrics_addr != "0" && split_addr(f.metrics_addr).second < 0)
    return usage("--metrics-addr must be HOST:PORT or 0");
  if (!f.push_addr.empty() && (f.push_cert.empty() || f.push_key.empty()))
    return usage(
        "--push-addr needs --push-tls-cert and --push-tls-key (the receiver only speaks HTTPS)");
  f.namespaces = split_namespaces(f.ns);
  return f;
}

}  // namespace

bool Flags::in_scope(const json& o) const {
  return namespaces.empty() || namespaces.contains(o["metadata"].value("namespace", ""));
}

std::pair<std::string, int> split_addr(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos) return {"", -1};
  try {
    return {a.substr(0, colon), std::stoi(a.substr(colon + 1))};
  } catch (...) {
    return {"", -1};
  }
}

std::expected<Flags, int> parse_flags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "cairn-operator: " << a << " needs a value (see --help)\n";
        std::exit(2);
      }
      return argv[++i];
    };
    auto duration = [&](std::chrono::milliseconds min) -> std::optional<std::chrono::milliseconds> {
      auto d = api::parse_duration(val());
      if (!d || *d < min) return std::nullopt;
      return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return std::unexpected(0);
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
      auto d = duration(std::chrono::milliseconds(1));
      if (!d) return usage("--break-glass-ttl must be a duration such as 30m or 1h");
      f.break_glass_ttl = *d;
    } else if (a == "--git-fetch-timeout" || a == "--git-stall-timeout") {
      auto d = duration(std::chrono::seconds(1));
      if (!d) return usage(a + " must be a duration of 1s or more, such as 30s");
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
      if (!log::parse_format(val(), fmt)) return usage("--log-format must be json or text");
      log::set_format(fmt);
    } else {
      return usage("unknown flag " + a + " (see --help)");
    }
  }
  return validate(std::move(f));
}

}  // namespace cairn::app
