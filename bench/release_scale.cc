// bench/release_scale: 500 Releases, each a Deployment + Service +
// ServiceAccount from its own directory of one local repository (the shape
// of Flux's published benchmark), from creation to all Ready; and the
// operator's peak memory. Beside it, the floor: the same objects applied
// straight with `kubectl apply --server-side` at the same concurrency, until
// every Deployment is Available. Prints both and the ratio.
//
// Fairness: each run has a namespace of its own, and the next run starts
// only once the previous run's namespace (and so its 500 Deployments, their
// ReplicaSets and Pods) is gone, so that neither side works against the
// other's leftovers. BENCH_ROUNDS rounds (default 2) alternate the order:
// floor then Cairn, Cairn then floor; the ratio is printed per round and as
// the ratio of the totals.
//
// Runs against the cluster, git server and operator binary that
// bench/run.sh provides (KUBECONFIG, CAIRN_GIT_STATE, CAIRN_OPERATOR,
// CAIRN_STATE_DIR). BENCH_RELEASES, BENCH_CONCURRENCY and BENCH_ROUNDS override 500, 4
// and 2.
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

struct Setup {
  int n = 500, conc = 4;
  std::string op_bin, kubectl, daemon_url, repo_name, tmp;
};

const kube::ApiResource kReleases{"cairn.dev", "v1alpha1", "releases", "Release", true};

int count_true(kube::Informer& inf, const char* type) {
  int k = 0;
  for (const auto& o : inf.store().list())
    if (condition_true(*o, type)) ++k;
  return k;
}

// Deletes the namespace and waits until it is gone (its objects with it).
bool delete_and_await(kube::Client& c, const std::string& ns) {
  bench::delete_namespace(c, ns);
  auto t0 = Clock::now();
  return wait_until(
             [&] {
               auto r = c.get(kube::res::kNamespaces, "", ns);
               return !r && r.error().code == kube::Code::kNotFound;
             },
             t0, std::chrono::seconds(600)) >= 0;
}

struct CairnRun {
  double seconds = -1;
  long peak_kib = -1, file_kib = 0, anon_kib = 0;
};

// Cairn: an operator for a fresh namespace; the Releases created; until every
// one is Ready.
CairnRun run_cairn(kube::Client& c, const Setup& s, int round) {
  CairnRun out;
  const std::string ns = bench::scratch_namespace(c, "bench-rel");
  const std::string log = s.tmp + "/operator-" + std::to_string(round) + ".log";
  pid_t op = ::fork();
  if (op == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(s.op_bin.c_str(), s.op_bin.c_str(), "--namespace", ns.c_str(), "--workers",
            std::to_string(s.conc).c_str(), "--probe-addr", "127.0.0.1:0", "--metrics-addr", "0",
            "--git-cache-dir", (s.tmp + "/cache-" + std::to_string(round)).c_str(), nullptr);
    ::_exit(127);
  }
  kube::Informer rel_inf(c, {.resource = kReleases, .ns = ns});
  rel_inf.start();
  rel_inf.wait_for_sync(std::chrono::seconds(30));
  auto t0 = Clock::now();
  {
    std::atomic<int> next{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&] {
        for (int i; (i = next++) < s.n;) {
          kube::json r = {{"apiVersion", "cairn.dev/v1alpha1"},
                          {"kind", "Release"},
                          {"metadata", {{"name", "app-" + std::to_string(i)}}},
                          {"spec",
                           {{"source",
                             {{"url", s.daemon_url + "/" + s.repo_name + ".git"},
                              {"branch", "main"},
                              {"interval", "10m"}}},
                            {"path", "apps/app-" + std::to_string(i)}}}};
          if (auto res = c.create(kReleases, ns, r); !res)
            std::cerr << "create: " << res.error().to_string() << "\n";
        }
      });
    }
    for (auto& t : ts) t.join();
  }
  out.seconds = wait_until([&] { return count_true(rel_inf, "Ready") >= s.n; }, t0,
                           std::chrono::seconds(1800));
  out.peak_kib = peak_rss_kib(op);
  std::tie(out.file_kib, out.anon_kib) = rss_split_kib(op);
  if (out.seconds < 0)
    std::printf("release_scale: only %d of %d Releases became Ready within 30 minutes (see %s)\n",
                count_true(rel_inf, "Ready"), s.n, log.c_str());
  ::kill(op, SIGTERM);
  ::waitpid(op, nullptr, 0);
  rel_inf.stop();
  // Releases go first (their finalizer needs the operator, which has stopped:
  // the namespace's deletion removes the objects they applied either way).
  for (int i = 0; i < s.n; ++i)
    (void)c.patch(kReleases, ns, "app-" + std::to_string(i), kube::PatchType::kMerge,
                  {{"metadata", {{"finalizers", nullptr}}}});
  if (!delete_and_await(c, ns)) std::printf("  (namespace %s not gone after 10 min)\n", ns.c_str());
  return out;
}

// The floor: the same objects with kubectl, as many at once, until every
// Deployment is Available.
double run_floor(kube::Client& c, const Setup& s) {
  const std::string ns = bench::scratch_namespace(c, "bench-floor");
  kube::Informer dep_inf(c, {.resource = kube::res::kDeployments, .ns = ns});
  dep_inf.start();
  dep_inf.wait_for_sync(std::chrono::seconds(30));
  auto f0 = Clock::now();
  int rc = sh("ls " + s.tmp + "/floor/*.yaml | xargs -P " + std::to_string(s.conc) + " -n 1 " +
              s.kubectl + " apply --server-side -n " + ns + " -f >/dev/null");
  double secs = rc != 0 ? -1
                        : wait_until([&] { return count_true(dep_inf, "Available") >= s.n; }, f0,
                                     std::chrono::seconds(1800));
  dep_inf.stop();
  if (!delete_and_await(c, ns)) std::printf("  (namespace %s not gone after 10 min)\n", ns.c_str());
  return secs;
}

}  // namespace

int main() {
  Setup s;
  s.n = env_int("BENCH_RELEASES", 500);
  s.conc = env_int("BENCH_CONCURRENCY", 4);
  const int rounds = std::max(1, env_int("BENCH_ROUNDS", 2));
  const char* op_bin = std::getenv("CAIRN_OPERATOR");
  const char* git_state = std::getenv("CAIRN_GIT_STATE");
  const char* state = std::getenv("CAIRN_STATE_DIR");
  if (!op_bin || !git_state || !state) {
    std::cerr << "release_scale: run through make bench (needs CAIRN_OPERATOR, CAIRN_GIT_STATE, "
                 "CAIRN_STATE_DIR)\n";
    return 1;
  }
  s.op_bin = op_bin;
  s.kubectl = std::string(state) + "/bin/kubectl";
  const std::string genv = std::string(git_state) + "/git.env";
  const std::string repos = env_file(genv, "CAIRN_GIT_REPOS");
  s.daemon_url = env_file(genv, "CAIRN_GIT_DAEMON_URL");
  auto c = bench::client_or_die();
  s.repo_name = "bench-rel-" + std::to_string(std::random_device{}() % 100000);
  s.tmp = "/tmp/cairn-bench-rel-" + s.repo_name;
  sh("rm -rf " + s.tmp + " && mkdir -p " + s.tmp + "/work " + s.tmp + "/floor");

  // One repository, one directory per application.
  const std::string bare = repos + "/" + s.repo_name + ".git";
  for (int i = 0; i < s.n; ++i) {
    const std::string dir = s.tmp + "/work/apps/app-" + std::to_string(i);
    sh("mkdir -p " + dir);
    std::ofstream(dir + "/app.yaml") << manifest(i);
    std::ofstream(s.tmp + "/floor/app-" + std::to_string(i) + ".yaml") << manifest(i);
  }
  if (sh("git init -q --bare " + bare + " && touch " + bare + "/git-daemon-export-ok && cd " +
         s.tmp + "/work && git init -q -b main && git add -A && git -c user.name=b -c " +
         "user.email=b@x commit -qm apps && git push -q " + bare + " HEAD:main") != 0) {
    std::cerr << "release_scale: cannot create the repository\n";
    return 1;
  }

  std::printf(
      "release_scale: %d Releases (Deployment + Service + ServiceAccount each), "
      "concurrency %d, %d round(s), each run in a fresh namespace after the last one is gone\n",
      s.n, s.conc, rounds);
  double cairn_total = 0, floor_total = 0;
  long peak = 0;
  bool ok = true;
  for (int round = 1; round <= rounds; ++round) {
    const bool floor_first = round % 2 == 1;
    double floor_s = -1;
    CairnRun cairn;
    if (floor_first) floor_s = run_floor(*c, s);
    cairn = run_cairn(*c, s, round);
    if (!floor_first) floor_s = run_floor(*c, s);
    std::printf("  round %d (%s first)\n", round, floor_first ? "floor" : "Cairn");
    std::printf("    Cairn   creation -> all Ready        %8.1f s\n", cairn.seconds);
    std::printf(
        "    floor   kubectl apply --server-side  %8.1f s  (until every Deployment is "
        "Available)\n",
        floor_s);
    if (cairn.seconds < 0 || floor_s < 0) {
      std::printf("    a run did not finish: no ratio\n");
      ok = false;
      continue;
    }
    std::printf("    ratio   Cairn / floor                %8.2f\n", cairn.seconds / floor_s);
    std::printf(
        "    operator RSS at the end              %8.1f MiB anonymous (heap, stacks) + "
        "%.1f MiB file-backed (code)\n",
        static_cast<double>(cairn.anon_kib) / 1024.0, static_cast<double>(cairn.file_kib) / 1024.0);
    cairn_total += cairn.seconds;
    floor_total += floor_s;
    peak = std::max(peak, cairn.peak_kib);
  }
  if (ok)
    std::printf("  ratio   Cairn / floor, all rounds    %8.2f   (target <= 1.5)\n",
                cairn_total / floor_total);
  std::printf("  operator peak RSS (VmHWM)            %8.1f MiB (target < 50 MiB)\n",
              static_cast<double>(peak) / 1024.0);
  sh("rm -rf " + s.tmp + " " + bare);
  return ok ? 0 : 1;
}
