// One controller: a work queue of "namespace/name" keys, worker threads that
// reconcile them, and what the outcome of each reconcile asks of the queue.
// main() wires informers to enqueue(); the reconcile logic lives elsewhere.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "kube/informer.h"
#include "kube/workqueue.h"
#include "operator/kit/outcome.h"

namespace cairn::kit {

class Controller {
 public:
  using Reconcile = std::function<Outcome(const std::string& key)>;
  // Called after each reconcile (metrics): kind, the outcome, seconds taken.
  using Observer = std::function<void(const std::string& kind, const Outcome&, double seconds)>;

  Controller(std::string kind, Reconcile reconcile, Observer observe = {});
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  const std::string& kind() const { return kind_; }
  kube::WorkQueue& queue() { return queue_; }
  void enqueue(const std::string& key) { queue_.add(key); }

  // Reconciles the objects of the controller's own kind: adds, deletes,
  // and updates that change the spec (generation), annotations or
  // deletion. Our own status writes come back as updates and are skipped.
  // `accept` filters (namespace scope); empty: all.
  void watch_own(kube::Informer& informer, std::function<bool(const kube::json&)> accept = {});

  // Starts `workers` threads; every object in `seed` gets a first look.
  void start(int workers, const kube::Store* seed = nullptr);
  // Lets workers finish what is queued, then stops them (SIGTERM).
  void drain() { queue_.shutdown_with_drain(); }
  // Stops handing out keys at once (leadership lost).
  void stop() { queue_.shutdown(); }
  void join();

  // Runs one key through `reconcile` and applies its outcome to the queue.
  // Exposed for tests; workers call it in a loop.
  void process(const std::string& key);

 private:
  std::string kind_;
  Reconcile reconcile_;
  Observer observe_;
  kube::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::function<bool(const kube::json&)> accept_;
};

}  // namespace cairn::kit
