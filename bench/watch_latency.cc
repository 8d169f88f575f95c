// bench/watch_latency: time from sending a create to the apiserver until
// the event reaches an informer's handler, p50/p99 over 2,000 objects.
// The floor is `kubectl get --watch` (v1.20.2, same server), fed by the same
// creates in the same run: both watch at once and are timed against the
// same start instant for each object.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <mutex>

#include "common.h"
#include "kube/informer.h"

using namespace cairn;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kObjects = 2000;

std::string env_from_cluster(const std::string& key) {
  const char* kc = std::getenv("KUBECONFIG");
  if (!kc) return {};
  std::string dir(kc);
  std::ifstream in(dir.substr(0, dir.rfind('/')) + "/cluster.env");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}

void report(const char* who, const std::vector<double>& ms) {
  std::printf("  %-22s n=%zu  p50 %7.2f ms  p99 %7.2f ms\n", who, ms.size(),
              bench::percentile(ms, 50), bench::percentile(ms, 99));
}

}  // namespace

int main() {
  auto c = bench::client_or_die();
  std::string ns = bench::scratch_namespace(*c, "bench-watch");
  std::mutex mu;
  std::map<std::string, Clock::time_point> sent, informer_seen, kubectl_seen;

  kube::Informer inf(*c, {.resource = kube::res::kConfigMaps, .ns = ns});
  inf.add_handlers({.on_add = [&](const kube::ObjectPtr& o) {
    auto now = Clock::now();
    std::lock_guard lock(mu);
    informer_seen.emplace((*o)["metadata"]["name"].get<std::string>(), now);
  }});
  inf.start();
  inf.wait_for_sync(std::chrono::seconds(30));

  std::string kubectl = env_from_cluster("KUBECTL");
  if (kubectl.empty()) kubectl = "kubectl";
  std::string cmd = kubectl + " get configmaps -n " + ns + " --watch-only -o name";
  int fds[2];
  if (::pipe(fds) != 0) return 1;
  pid_t kpid = ::fork();
  if (kpid == 0) {
    ::setpgid(0, 0);
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  FILE* kw = ::fdopen(fds[0], "r");
  std::thread reader([&] {
    char line[512];
    while (kw && std::fgets(line, sizeof line, kw)) {
      auto now = Clock::now();
      std::string name(line);
      while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
      if (auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
      std::lock_guard lock(mu);
      kubectl_seen.emplace(name, now);
    }
  });
  // kubectl has started watching once it reports a probe object.
  auto probe_deadline = Clock::now() + std::chrono::seconds(30);
  for (int i = 0; Clock::now() < probe_deadline; ++i) {
    (void)c->create(kube::res::kConfigMaps, ns,
                    {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "probe-" + std::to_string(i)}}}});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::lock_guard lock(mu);
    if (!kubectl_seen.empty()) break;
  }

  for (int i = 0; i < kObjects; ++i) {
    std::string name = "cm-" + std::to_string(i);
    kube::json cm = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", name}}},
                     {"data", {{"k", "v"}}}};
    {
      std::lock_guard lock(mu);
      sent[name] = Clock::now();
    }
    (void)c->create(kube::res::kConfigMaps, ns, cm);
  }
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      size_t got_i = 0, got_k = 0;
      for (const auto& [n, t] : sent) {
        got_i += informer_seen.contains(n);
        got_k += kubectl_seen.contains(n);
      }
      if (got_i == sent.size() && got_k == sent.size()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<double> mi, mk;
  {
    std::lock_guard lock(mu);
    for (const auto& [n, t] : sent) {
      if (auto it = informer_seen.find(n); it != informer_seen.end())
        mi.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
      if (auto it = kubectl_seen.find(n); it != kubectl_seen.end())
        mk.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
    }
  }
  std::printf("watch_latency: create sent -> event delivered, %d objects\n", kObjects);
  report("lib/kube informer", mi);
  report("kubectl get --watch", mk);
  if (!mk.empty() && !mi.empty()) {
    std::printf("  ratio to floor:        p50 %.2fx  p99 %.2fx\n",
                bench::percentile(mi, 50) / bench::percentile(mk, 50),
                bench::percentile(mi, 99) / bench::percentile(mk, 99));
  }
  inf.stop();
  ::kill(-kpid, SIGTERM);
  ::waitpid(kpid, nullptr, 0);
  reader.join();
  if (kw) std::fclose(kw);
  bench::delete_namespace(*c, ns);
  return 0;
}
