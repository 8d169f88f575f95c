// bench/pipeline_throughput: 200 one-step runs across 50 Pipelines. Each
// round commits to all 50 repositories and sends each a signed push hook;
// the figures are the time from the push to the step's Job appearing (as an
// informer sees it: p50/p99) and how many runs the operator drains per
// minute, from the first push to the last run Succeeded.
//
// The floor, measured in the same run once the operator has stopped: the
// same Jobs (pipeline::build_job, same repositories and commits) created
// directly by a client, round by round: creation -> informer sees the Job,
// and Jobs drained per minute. The ratios say what the operator adds.
//
// Runs against the cluster, git server and operator binary that
// bench/run.sh provides (KUBECONFIG, CAIRN_GIT_STATE, CAIRN_OPERATOR).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "common.h"
#include "kube/informer.h"
#include "kube/util.h"
#include "operator/pipeline/job.h"

using namespace cairn;
using bench::env_file;
using bench::sh;
using bench::sh_out;
using Clock = std::chrono::steady_clock;

namespace {

// 50 x 4 = 200 runs; BENCH_PIPELINES / BENCH_ROUNDS override for a quick look.
int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : dflt;
}
const int kPipelines = env_int("BENCH_PIPELINES", 50);
const int kRounds = env_int("BENCH_ROUNDS", 4);

struct Floor {
  std::vector<double> latencies;  // ms from create to the informer seeing the Job
  double minutes = 0;
  size_t jobs = 0;
};

// The operator's Jobs for `commits` (Pipeline name -> commit), created by a
// client in rounds of one per Pipeline, each round waiting for its Jobs to
// succeed: what the Pipeline controller's work costs without the controller.
Floor measure_floor(kube::Client& c, const std::string& ns, const std::string& daemon,
                    const std::map<std::string, std::string>& commits,
                    const std::map<std::string, std::string>& uids, kube::Store& jobs,
                    std::mutex& mu, std::map<std::string, Clock::time_point>& seen_by_name) {
  Floor f;
  const api::Step step{.name = "s", .image = "x", .script = "true"};
  auto t_start = Clock::now();
  for (int round = 1; round <= kRounds; ++round) {
    std::map<std::string, Clock::time_point> created;
    for (const auto& [name, sha] : commits) {
      auto job = pipeline::build_job({.ns = ns,
                                      .pipeline = name,
                                      .pipeline_uid = uids.at(name),
                                      .run_id = "floor" + std::to_string(round),
                                      .commit = sha,
                                      .source_url = daemon + "/" + ns + "-" + name + ".git",
                                      .checkout_image = "alpine/git:2.43.0",
                                      .step = &step});
      const std::string job_name = job["metadata"].value("name", "");
      created[job_name] = Clock::now();
      if (auto r = c.create(kube::res::kJobs, ns, job); !r)
        std::cerr << "floor: create " << job_name << ": " << r.error().to_string() << "\n";
    }
    auto deadline = Clock::now() + std::chrono::minutes(3);
    for (bool done = false; !done && Clock::now() < deadline;) {
      done = true;
      for (const auto& [job_name, t] : created) {
        auto j = jobs.get(ns + "/" + job_name);
        done = done && j && (*j).value("status", kube::json::object()).value("succeeded", 0) > 0;
      }
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::lock_guard lock(mu);
    for (const auto& [job_name, t] : created) {
      if (auto it = seen_by_name.find(job_name); it != seen_by_name.end())
        f.latencies.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
    }
    f.jobs += created.size();
  }
  f.minutes = std::chrono::duration<double>(Clock::now() - t_start).count() / 60.0;
  return f;
}

}  // namespace

int main() {
  const char* op_bin = std::getenv("CAIRN_OPERATOR");
  const char* git_state = std::getenv("CAIRN_GIT_STATE");
  if (!op_bin || !git_state) {
    std::cerr
        << "pipeline_throughput: run through make bench (needs CAIRN_OPERATOR, CAIRN_GIT_STATE)\n";
    return 1;
  }
  const std::string genv = std::string(git_state) + "/git.env";
  const std::string repos = env_file(genv, "CAIRN_GIT_REPOS");
  const std::string daemon = env_file(genv, "CAIRN_GIT_DAEMON_URL");
  auto c = bench::client_or_die();
  std::string ns = bench::scratch_namespace(*c, "bench-pl");
  std::string tmp = "/tmp/cairn-bench-pl-" + ns;
  sh("rm -rf " + tmp + " && mkdir -p " + tmp);

  // TLS and secret for the push receiver.
  sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=push "
     "-addext subjectAltName=IP:127.0.0.1 -keyout " +
     tmp + "/tls.key -out " + tmp + "/tls.crt 2>/dev/null");
  const std::string token = "bench-token";
  (void)c->create(kube::res::kSecrets, ns,
                  {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", "hook"}}},
                   {"stringData", {{"token", token}}}});

  // 50 repositories with one commit each, and their Pipelines.
  const kube::ApiResource pipelines{"cairn.dev", "v1alpha1", "pipelines", "Pipeline", true};
  for (int i = 0; i < kPipelines; ++i) {
    std::string name = "app" + std::to_string(i);
    std::string bare = repos + "/" + ns + "-" + name + ".git";
    std::string work = tmp + "/" + name;
    sh("git init -q --bare " + bare + " && touch " + bare +
       "/git-daemon-export-ok && git init -q -b main " + work + " && cd " + work + " && echo " +
       name +
       " > n && git add n && git -c user.name=b -c user.email=b@x commit -qm c0 && git "
       "push -q " +
       bare + " HEAD:main");
    kube::json p = {
        {"apiVersion", "cairn.dev/v1alpha1"},
        {"kind", "Pipeline"},
        {"metadata", {{"name", name}}},
        {"spec",
         {{"source",
           {{"url", daemon + "/" + ns + "-" + name + ".git"},
            {"branch", "main"},
            {"interval", "10m"}}},
          {"steps", kube::json::array({{{"name", "s"}, {"image", "x"}, {"script", "true"}}})}}}};
    if (auto r = c->create(pipelines, ns, p); !r) {
      std::cerr << "create pipeline: " << r.error().to_string() << "\n";
      return 1;
    }
  }

  int port = 40000 + static_cast<int>(std::random_device{}() % 20000);
  pid_t op = ::fork();
  if (op == 0) {
    std::string log = tmp + "/operator.log";
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(op_bin, op_bin, "--namespace", ns.c_str(), "--probe-addr", "127.0.0.1:0",
            "--metrics-addr", "0", "--git-cache-dir", (tmp + "/cache").c_str(), "--push-addr",
            ("127.0.0.1:" + std::to_string(port)).c_str(), "--push-tls-cert",
            (tmp + "/tls.crt").c_str(), "--push-tls-key", (tmp + "/tls.key").c_str(),
            "--push-secret", (ns + "/hook").c_str(), nullptr);
    ::_exit(127);
  }

  // Every step Job as the informer sees it appear, by commit.
  std::mutex mu;
  std::map<std::string, Clock::time_point> job_seen, seen_by_name;
  kube::Informer jobs(*c, {.resource = kube::res::kJobs, .ns = ns});
  jobs.add_handlers({.on_add = [&](const kube::ObjectPtr& o) {
    auto now = Clock::now();
    const kube::json labels = (*o)["metadata"].value("labels", kube::json::object());
    {
      std::lock_guard lock(mu);
      seen_by_name.emplace((*o)["metadata"].value("name", ""), now);
    }
    // Repositories with equal content have equal commit ids: key by Pipeline too.
    std::string key =
        labels.value("cairn.dev/pipeline", "") + "@" + labels.value("cairn.dev/commit", "");
    std::lock_guard lock(mu);
    job_seen.emplace(key, now);
  }});
  jobs.start();
  jobs.wait_for_sync(std::chrono::seconds(30));

  // Wait for the first (polled) runs so only pushed commits are measured.
  auto all_idle = [&](size_t want_succeeded) {
    auto l = c->list(pipelines, ns);
    if (!l) return false;
    size_t ok = 0;
    for (const auto& p : (*l)["items"]) {
      for (const auto& r :
           p.value("status", kube::json::object()).value("runs", kube::json::array())) {
        ok += r.value("phase", "") == "Succeeded";
      }
    }
    return ok >= want_succeeded;
  };
  auto deadline = Clock::now() + std::chrono::minutes(3);
  while (!all_idle(kPipelines) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));

  std::vector<double> latencies;
  auto t_start = Clock::now();
  std::map<std::string, Clock::time_point> pushed;
  std::map<std::string, std::string> last_commit;  // Pipeline -> its newest commit
  // Rounds are separated: each waits for its 50 runs, so a push never queues
  // behind the previous run of its Pipeline (concurrency 1) and the latency
  // is detection + Job creation alone.
  for (int round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < kPipelines; ++i) {
      std::string name = "app" + std::to_string(i);
      std::string work = tmp + "/" + name;
      std::string bare = repos + "/" + ns + "-" + name + ".git";
      std::string sha = sh_out("(cd " + work + " && echo " + name + std::to_string(round) +
                               " > n && git -c user.name=b -c user.email=b@x commit -qam c" +
                               std::to_string(round) + " && git push -q " + bare +
                               " HEAD:main && git rev-parse HEAD) 2>&1");
      std::string payload =
          kube::json{{"ref", "refs/heads/main"},
                     {"repository", {{"clone_url", daemon + "/" + ns + "-" + name + ".git"}}}}
              .dump();
      std::ofstream(tmp + "/payload.json") << payload;
      std::string mac = sh_out("openssl dgst -sha256 -hmac " + token + " " + tmp +
                               "/payload.json | sed 's/.*= //'");
      if (sha.size() != 40) {
        std::cerr << "pipeline_throughput: commit to " << name << " failed: " << sha << "\n";
        continue;
      }
      {
        std::lock_guard lock(mu);
        pushed[name + "@" + sha] = Clock::now();
      }
      last_commit[name] = sha;
      sh("curl -s -o /dev/null --cacert " + tmp +
         "/tls.crt -H 'X-Hub-Signature-256: sha256=" + mac + "' --data-binary @" + tmp +
         "/payload.json https://127.0.0.1:" + std::to_string(port) + "/hook");
    }
    auto round_deadline = Clock::now() + std::chrono::minutes(3);
    while (!all_idle(static_cast<size_t>(kPipelines * (round + 1))) &&
           Clock::now() < round_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  auto t_end = Clock::now();
  size_t seen = 0;
  {
    std::lock_guard lock(mu);
    for (const auto& [sha, t] : pushed) {
      if (auto it = job_seen.find(sha); it != job_seen.end()) {
        latencies.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
        seen++;
      }
    }
  }
  if (seen == 0 && !job_seen.empty()) {
    std::cerr << "no match: e.g. job key " << job_seen.begin()->first << " push key "
              << pushed.begin()->first << "\n";
  }
  double minutes = std::chrono::duration<double>(t_end - t_start).count() / 60.0;
  std::printf("pipeline_throughput: %d Pipelines x %d pushed commits = %zu runs\n", kPipelines,
              kRounds, pushed.size());
  std::printf("  push -> step Job created:  n=%zu  p50 %.1f ms  p99 %.1f ms\n", seen,
              bench::percentile(latencies, 50), bench::percentile(latencies, 99));
  std::printf(
      "  drained: %.0f runs/minute (%.1f s from the first push to the last run Succeeded)\n",
      static_cast<double>(pushed.size()) / minutes, minutes * 60.0);
  std::printf(
      "  (rounds of 50 pushes, each waiting for its runs; pushes are made one after another with\n"
      "   git, openssl and curl, which bounds the drain rate; latency includes the fetch)\n");

  ::kill(op, SIGTERM);
  ::waitpid(op, nullptr, 0);

  // The floor, with the operator stopped so it does not adopt these Jobs.
  std::map<std::string, std::string> uids;
  if (auto l = c->list(pipelines, ns)) {
    for (const auto& p : (*l)["items"])
      uids[p["metadata"].value("name", "")] = p["metadata"].value("uid", "");
  }
  Floor floor = measure_floor(*c, ns, daemon, last_commit, uids, jobs.store(), mu, seen_by_name);
  const double op_p50 = bench::percentile(latencies, 50);
  const double floor_p50 = bench::percentile(floor.latencies, 50);
  const double op_rate = static_cast<double>(pushed.size()) / minutes;
  const double floor_rate = floor.minutes > 0 ? static_cast<double>(floor.jobs) / floor.minutes : 0;
  std::printf("floor (the same %zu Jobs created directly by a client, same rounds):\n", floor.jobs);
  std::printf("  create -> Job seen:         n=%zu  p50 %.1f ms  p99 %.1f ms\n",
              floor.latencies.size(), floor_p50, bench::percentile(floor.latencies, 99));
  std::printf("  drained: %.0f Jobs/minute (%.1f s)\n", floor_rate, floor.minutes * 60.0);
  std::printf("  ratio operator/floor: latency p50 x%.1f, drain rate %.0f%% of the floor\n",
              floor_p50 > 0 ? op_p50 / floor_p50 : 0.0,
              floor_rate > 0 ? 100.0 * op_rate / floor_rate : 0.0);
  jobs.stop();
  bench::delete_namespace(*c, ns);
  if (!std::getenv("BENCH_KEEP"))
    sh("rm -rf " + tmp);
  else
    std::printf("  kept %s (operator.log)\n", tmp.c_str());
  return 0;
}
