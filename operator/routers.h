// What connects one kind's events to another kind's controller, so that
// main() only wires: push hooks to the Pipelines and Releases that follow
// the pushed branch, a Pipeline's runs to the Releases gated on it, applied
// objects and step Jobs to their owners, and reconcile events to
// notifications.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "kube/informer.h"
#include "operator/kit/controller.h"
#include "operator/notify/notifier.h"
#include "operator/push/receiver.h"
#include "operator/release/reconciler.h"

namespace cairn::app {

using InScope = std::function<bool(const kube::json&)>;

// Routes a push (a repository's URLs and a branch or tag) to every object
// of the added kinds whose spec.source follows it.
class PushRouter {
 public:
  explicit PushRouter(InScope in_scope) : in_scope_(std::move(in_scope)) {}
  // `trigger` is called with the key of each object the push names: it asks
  // for a fetch and queues a reconcile.
  void add(const kube::Store& store, std::function<void(const std::string& key)> trigger);
  // The keys triggered.
  std::vector<std::string> route(const push::PushEvent& ev) const;

 private:
  struct Kind {
    const kube::Store* store;
    std::function<void(const std::string&)> trigger;
  };
  InScope in_scope_;
  std::vector<Kind> kinds_;
};

// A Pipeline whose runs change may open a Release's gate: wakes the Releases
// of its namespace whose spec.gate names it.
void wake_gated_releases(kube::Informer& pipelines, const kube::Store& releases,
                         kit::Controller& release_controller);

// A change to an object Cairn applied (a kubectl edit, a rollout making
// progress) wakes its Release (annotation cairn.dev/release) at once.
kube::EventHandlers wake_owning_release(kit::Controller& releases, InScope in_scope);

// A change to a step's Job or Pod wakes its Pipeline (label cairn.dev/pipeline).
kube::EventHandlers wake_owning_pipeline(kit::Controller& pipelines, InScope in_scope);

// spec.source.url of a cached Pipeline or Release: a notification's links.
std::string source_url(const kube::Store& store, const std::string& ns, const std::string& name);

// The notification for a Release event; none for prunes or without targets.
std::optional<notify::Notice> notice_for(const release::ReleaseEvent& e, std::string source);

// The notification for a finished Pipeline run; none without targets.
std::optional<notify::Notice> notice_for_run(const std::string& ns, const std::string& name,
                                             const api::RunStatus& run,
                                             const std::vector<api::NotifySpec>& targets,
                                             std::string source);

}  // namespace cairn::app
