// bench/release_scale: 500 Releases, each a Deployment + Service +
// ServiceAccount from its own directory of one local repository (the shape
// of Flux's published benchmark), from creation to all Ready; and the
// operator's peak memory. Beside it, the floor: the same objects applied
// straight with `kubectl apply --server-side` at the same concurrency, until
// every Deployment is Available. Prints both and the ratio.
//
// Runs against the cluster, git server and operator binary that
// bench/run.sh provides (KUBECONFIG, CAIRN_GIT_STATE, CAIRN_OPERATOR,
// CAIRN_STATE_DIR). BENCH_RELEASES and BENCH_CONCURRENCY override 500 and 4.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <set>

#include "common.h"
#include "kube/informer.h"

using namespace cairn;
using bench::env_file;
using bench::sh;
using Clock = std::chrono::steady_clock;

namespace {

int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : dflt;
}

std::string manifest(int i) {
  const std::string n = "app-" + std::to_string(i);
  return "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: " + n +
         "}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: " + n +
         "}\nspec:\n  selector: {app: " + n +
         "}\n  ports: [{port: 80, targetPort: 8080, protocol: TCP}]\n---\n"
         "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " +
         n + "}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: " + n +
         "}}\n  template:\n    metadata: {labels: {app: " + n +
         "}}\n    spec:\n      "
         "serviceAccountName: " +
         n + "\n      containers: [{name: app, image: \"registry.example.com/app:1\"}]\n";
}

bool condition_true(const kube::json& o, const char* type) {
  for (const auto& c :
       o.value("status", kube::json::object()).value("conditions", kube::json::array()))
    if (c.value("type", "") == type && c.value("status", "") == "True") return true;
  return false;
}

// Waits until `count(store)` reaches n; returns the elapsed time since t0.
template <typename F>
double wait_until(F done, Clock::time_point t0, std::chrono::seconds limit) {
  while (!done()) {
    if (Clock::now() - t0 > limit) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Resident memory split now: file-backed (code of the binary and its
// libraries) and anonymous (heap, stacks), in KiB.
std::pair<long, long> rss_split_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  long rss = 0, anon = 0;
  while (std::getline(in, line)) {
    if (line.rfind("Rss:", 0) == 0) rss = std::stol(line.substr(4));
    if (line.rfind("Anonymous:", 0) == 0) anon = std::stol(line.substr(10));
  }
  return {rss - anon, anon};
}

long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main() {
  const int n = env_int("BENCH_RELEASES", 500);
  const int conc = env_int("BENCH_CONCURRENCY", 4);
  const char* op_bin = std::getenv("CAIRN_OPERATOR");
  const char* git_state = std::getenv("CAIRN_GIT_STATE");
  const char* state = std::getenv("CAIRN_STATE_DIR");
  if (!op_bin || !git_state || !state) {
    std::cerr << "release_scale: run through make bench (needs CAIRN_OPERATOR, CAIRN_GIT_STATE, "
                 "CAIRN_STATE_DIR)\n";
    return 1;
  }
  const std::string kubectl = std::string(state) + "/bin/kubectl";
  const std::string genv = std::string(git_state) + "/git.env";
  const std::string repos = env_file(genv, "CAIRN_GIT_REPOS");
  const std::string daemon = env_file(genv, "CAIRN_GIT_DAEMON_URL");
  auto c = bench::client_or_die();
  const std::string ns = bench::scratch_namespace(*c, "bench-rel");
  const std::string floor_ns = bench::scratch_namespace(*c, "bench-floor");
  const std::string tmp = "/tmp/cairn-bench-rel-" + ns;
  sh("rm -rf " + tmp + " && mkdir -p " + tmp + "/work " + tmp + "/floor");

  // One repository, one directory per application.
  const std::string bare = repos + "/" + ns + ".git";
  for (int i = 0; i < n; ++i) {
    const std::string dir = tmp + "/work/apps/app-" + std::to_string(i);
    sh("mkdir -p " + dir);
    std::ofstream(dir + "/app.yaml") << manifest(i);
    std::ofstream(tmp + "/floor/app-" + std::to_string(i) + ".yaml") << manifest(i);
  }
  if (sh("git init -q --bare " + bare + " && touch " + bare + "/git-daemon-export-ok && cd " + tmp +
         "/work && git init -q -b main && git add -A && git -c user.name=b -c " +
         "user.email=b@x commit -qm apps && git push -q " + bare + " HEAD:main") != 0) {
    std::cerr << "release_scale: cannot create the repository\n";
    return 1;
  }

  pid_t op = ::fork();
  if (op == 0) {
    std::string log = tmp + "/operator.log";
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(op_bin, op_bin, "--namespace", ns.c_str(), "--workers", std::to_string(conc).c_str(),
            "--probe-addr", "127.0.0.1:0", "--metrics-addr", "0", "--git-cache-dir",
            (tmp + "/cache").c_str(), nullptr);
    ::_exit(127);
  }

  const kube::ApiResource releases{"cairn.dev", "v1alpha1", "releases", "Release", true};
  kube::Informer rel_inf(*c, {.resource = releases, .ns = ns});
  kube::Informer dep_inf(*c, {.resource = kube::res::kDeployments, .ns = floor_ns});
  rel_inf.start();
  dep_inf.start();
  rel_inf.wait_for_sync(std::chrono::seconds(30));
  dep_inf.wait_for_sync(std::chrono::seconds(30));
  auto count = [](kube::Informer& inf, const char* type) {
    int k = 0;
    for (const auto& o : inf.store().list())
      if (condition_true(*o, type)) ++k;
    return k;
  };

  // ---- Cairn: create the Releases, wait for every one to be Ready.
  auto t0 = Clock::now();
  {
    std::atomic<int> next{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&] {
        for (int i; (i = next++) < n;) {
          kube::json r = {
              {"apiVersion", "cairn.dev/v1alpha1"},
              {"kind", "Release"},
              {"metadata", {{"name", "app-" + std::to_string(i)}}},
              {"spec",
               {{"source",
                 {{"url", daemon + "/" + ns + ".git"}, {"branch", "main"}, {"interval", "10m"}}},
                {"path", "apps/app-" + std::to_string(i)}}}};
          if (auto res = c->create(releases, ns, r); !res)
            std::cerr << "create: " << res.error().to_string() << "\n";
        }
      });
    }
    for (auto& t : ts) t.join();
  }
  double cairn_s =
      wait_until([&] { return count(rel_inf, "Ready") >= n; }, t0, std::chrono::seconds(1800));
  long rss = peak_rss_kib(op);
  auto [file_kib, anon_kib] = rss_split_kib(op);
  ::kill(op, SIGTERM);
  ::waitpid(op, nullptr, 0);
  if (cairn_s < 0) {
    std::printf("release_scale: only %d of %d Releases became Ready within 30 minutes (see %s)\n",
                count(rel_inf, "Ready"), n, (tmp + "/operator.log").c_str());
    return 1;
  }

  // ---- Floor: the same objects with kubectl, as many at once.
  auto f0 = Clock::now();
  int rc = sh("ls " + tmp + "/floor/*.yaml | xargs -P " + std::to_string(conc) + " -n 1 " +
              kubectl + " apply --server-side -n " + floor_ns + " -f >/dev/null");
  double floor_s =
      wait_until([&] { return count(dep_inf, "Available") >= n; }, f0, std::chrono::seconds(1800));
  rel_inf.stop();
  dep_inf.stop();

  std::printf(
      "release_scale: %d Releases (Deployment + Service + ServiceAccount each), "
      "concurrency %d\n",
      n, conc);
  std::printf("  Cairn   creation -> all Ready        %8.1f s\n", cairn_s);
  if (rc != 0 || floor_s < 0) {
    std::printf("  floor   kubectl apply --server-side  did not finish (rc %d)\n", rc);
  } else {
    std::printf(
        "  floor   kubectl apply --server-side  %8.1f s  (until every Deployment is "
        "Available)\n",
        floor_s);
    std::printf("  ratio   Cairn / floor                %8.2f   (target <= 1.5)\n",
                cairn_s / floor_s);
  }
  std::printf("  operator peak RSS (VmHWM)            %8.1f MiB (target < 50 MiB)\n",
              static_cast<double>(rss) / 1024.0);
  std::printf(
      "  operator RSS at the end              %8.1f MiB anonymous (heap, stacks) + %.1f MiB "
      "file-backed (code)\n",
      static_cast<double>(anon_kib) / 1024.0, static_cast<double>(file_kib) / 1024.0);
  bench::delete_namespace(*c, ns);
  bench::delete_namespace(*c, floor_ns);
  sh("rm -rf " + tmp + " " + bare);
  return 0;
}
