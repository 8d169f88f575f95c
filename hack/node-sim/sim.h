// The node simulator: stands in for kubelets (and the scheduler) on a machine
// with no container runtime. FOR DEVELOPMENT AND TESTS ONLY: Job containers
// run as plain local processes with no isolation, and images are ignored.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/informer.h"
#include "kube/workqueue.h"

namespace cairn::sim {

using kube::json;

struct Options {
  std::string kubeconfig;
  int nodes = 1;
  std::string node_prefix = "sim-node";
  std::string workdir = "/tmp/cairn-node-sim";
  int workers = 4;
  std::chrono::seconds heartbeat{10};
  // How often a "crashing" container's restart count goes up.
  std::chrono::seconds crash_period{5};
};

// Annotations on a Pod (or its template) that change what the simulator does
// to long-running containers, so tests can make rollouts fail.
inline constexpr const char* kAnnotationReady = "sim.cairn.dev/ready";  // "false": never Ready
inline constexpr const char* kAnnotationCrash = "sim.cairn.dev/crash";  // "true": CrashLoopBackOff

// A process running one Job container (or its init containers in turn).
struct RunningPod {
  std::string key;
  std::string uid;
  std::atomic<pid_t> pgid{0};
  std::atomic<bool> killed{false};
  std::thread thread;
};

class Simulator {
 public:
  Simulator(kube::Client& client, Options opts);
  ~Simulator();
  // Registers the nodes, starts the informer, heartbeats and workers.
  kube::Result<void> start();
  void stop();

 private:
  void heartbeat_loop();
  kube::Result<void> register_node(const std::string& name, int index);
  kube::Result<void> heartbeat(const std::string& name);
  void worker();
  kube::Result<void> reconcile(const std::string& key);
  kube::Result<void> bind(const json& pod);
  kube::Result<void> start_long_running(const json& pod);
  kube::Result<void> start_job_pod(const json& pod);
  void run_job_pod(std::shared_ptr<RunningPod> rp, json pod);
  kube::Result<void> finalize_deleted(const json& pod);
  kube::Result<void> patch_status(const json& pod, const json& status);
  kube::Result<void> crash_tick();
  bool is_ours(const std::string& node) const;
  std::string pod_ip(const std::string& uid);

  kube::Client& client_;
  Options opts_;
  std::vector<std::string> node_names_;
  std::unique_ptr<kube::Informer> pods_;
  kube::WorkQueue queue_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<RunningPod>> running_;  // by uid; guarded by mu_
  std::vector<std::shared_ptr<RunningPod>> finished_;           // to join; guarded by mu_
  std::map<std::string, std::string> ips_;                      // by uid; guarded by mu_
  std::map<std::string, int> restarts_;                         // crash-looping pods by key
  size_t next_node_ = 0;                                        // guarded by mu_
  uint32_t next_ip_ = 2;                                        // guarded by mu_
};

}  // namespace cairn::sim
