// What one reconcile of a Release knows: read once at the start, changed by
// the steps, written back once by finish(). Private to operator/release.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "git/git.h"
#include "operator/kit/status.h"
#include "operator/release/reconciler.h"

namespace cairn::release {

struct Reconciler::Context {
  std::string key, ns, name;
  int64_t generation = 0;
  std::chrono::system_clock::time_point now;
  kube::json object;
  std::unique_ptr<kit::StatusScope> scope;
  std::optional<api::ReleaseSpec> spec_or;  // nullopt when the spec is invalid
  std::string spec_error;
  api::ReleaseSpec spec;
  api::ReleaseStatus status;
  std::shared_ptr<git::Source> source;
  // The commit to deploy, once the source, signature, gate and pin agree.
  std::string desired;
  bool failed_before = false;         // desired already failed (not retried until a newer commit)
  std::vector<ReleaseEvent> pending;  // reported once the status is written

  // Guarded by mu: apply workers of one rank touch these.
  std::mutex mu;
  // Objects changed by break-glass and not yet restored: "Kind name", and
  // how long until the first hold ends.
  std::vector<std::string> held;
  std::optional<std::chrono::milliseconds> hold_ends_in;
  // Namespaces' cairn.dev/enforce label, read once per reconcile.
  std::map<std::string, std::string> enforce;
  // Objects whose break-glass annotation was ignored ("Kind name").
  std::vector<std::string> glass_ignored;

  Outcome poll() const { return Outcome::requeue(spec.source.interval); }
};

}  // namespace cairn::release
