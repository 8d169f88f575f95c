#include "operator/kit/controller.h"

#include "kube/client.h"
#include "log/log.h"

namespace cairn::kit {

using kube::json;

Controller::Controller(std::string kind, Reconcile reconcile, Observer observe)
    : kind_(std::move(kind)), reconcile_(std::move(reconcile)), observe_(std::move(observe)) {}

Controller::~Controller() {
  queue_.shutdown();
  join();
}

void Controller::watch_own(kube::Informer& informer, std::function<bool(const json&)> accept) {
  accept_ = accept;
  auto enqueue = [this, accept](const kube::ObjectPtr& o) {
    if (!accept || accept(*o)) queue_.add(kube::object_key(*o));
  };
  informer.add_handlers({.on_add = enqueue,
                         .on_update =
                             [enqueue](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
                               const json& ma = (*a)["metadata"];
                               const json& mb = (*b)["metadata"];
                               // Resyncs (a == b) too: a periodic look at everything.
                               if (a == b ||
                                   ma.value("generation", 0) != mb.value("generation", 0) ||
                                   ma.value("annotations", json::object()) !=
                                       mb.value("annotations", json::object()) ||
                                   mb.contains("deletionTimestamp")) {
                                 enqueue(b);
                               }
                             },
                         .on_delete = enqueue});
}

void Controller::start(int workers, const kube::Store* seed) {
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] {
      while (auto key = queue_.get()) process(*key);
    });
  }
  if (!seed) return;
  for (const auto& o : seed->list()) {
    if (!accept_ || accept_(*o)) queue_.add(kube::object_key(*o));
  }
}

void Controller::join() {
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void Controller::process(const std::string& key) {
  Outcome out;
  auto t0 = std::chrono::steady_clock::now();
  log::set_trace(log::new_trace());  // every log line of this reconcile carries it
  try {
    out = reconcile_(key);
  } catch (const std::exception& e) {
    // A bug must not take the operator down with it; retry with backoff.
    log::error("reconcile threw", {{"kind", kind_}, {"key", key}, {"error", e.what()}});
    out = Outcome::retry(Error::transient_error(std::string("internal error: ") + e.what()));
  }
  log::set_trace("");
  if (observe_)
    observe_(kind_, out,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  switch (out.kind()) {
    case Outcome::Kind::kDone:
    case Outcome::Kind::kStalled:  // a person must change something; that wakes it
      queue_.forget(key);
      break;
    case Outcome::Kind::kRequeue:
      queue_.forget(key);
      queue_.add_after(key, out.after());
      break;
    case Outcome::Kind::kRetry:
      if (out.has_retry_after()) {
        queue_.add_after(key, out.after());  // the caller keeps its own backoff
      } else {
        queue_.add_rate_limited(key);
      }
      break;
  }
  queue_.done(key);
}

}  // namespace cairn::kit
