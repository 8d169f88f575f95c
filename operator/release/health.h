// The health of an applied object, judged from the live object the way
// kstatus, Argo CD and `kubectl rollout status` judge it. Pure: the caller
// GETs the object (and, for workloads, lists its Pods by selector).
//
// - Deployment (apps, extensions): the controller has observed the latest
//   generation; a Progressing=False condition with reason
//   ProgressDeadlineExceeded is kFailed; otherwise progressing until
//   updatedReplicas, availableReplicas and status.replicas equal
//   spec.replicas (default 1) and no replica is unavailable.
// - StatefulSet: observed generation; readyReplicas == replicas; with
//   RollingUpdate, updatedReplicas == replicas - partition and (without a
//   partition) currentRevision == updateRevision.
// - DaemonSet: observed generation; updatedNumberScheduled (RollingUpdate
//   only) and numberAvailable equal desiredNumberScheduled.
// - Job (batch): Failed=True is kFailed, Complete=True kHealthy, else
//   progressing.
// - Pod: phase Succeeded is healthy, Failed and crash-looping containers (see
//   below) are kFailed, then by its Ready condition.
// - Anything else with status.conditions: Stalled=True is kFailed; a
//   status.observedGeneration behind metadata.generation is progressing;
//   then Ready True is healthy, False or Unknown progressing.
// - Everything else is healthy once applied.
// An object being deleted (metadata.deletionTimestamp) is progressing.
//
// Messages name the object as "<kind> <name>" with the kind lower-cased
// ("deployment web: 2 of 3 replicas available") and say what is awaited.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kube/client.h"

namespace cairn::release {

enum class Health { kHealthy, kProgressing, kFailed };

std::string_view to_string(Health h);  // "Healthy", "Progressing", "Failed"

struct HealthStatus {
  Health health = Health::kHealthy;
  std::string message;
  bool operator==(const HealthStatus&) const = default;
};

// The live object (from a GET) → its health.
HealthStatus assess(const kube::json& live);

// A workload with its Pods (matched by the caller by selector): assess(live),
// and kFailed when a Pod that is not terminating and not finished has a
// container or init container that is waiting with reason CrashLoopBackOff,
// ImagePullBackOff, ErrImagePull, CreateContainerConfigError,
// CreateContainerError, InvalidImageName or RunContainerError, or that has
// restarted 3 times or more and is not ready now (a container that restarted
// while a dependency came up and then became ready does not fail a rollout).
// The message names the pod, the container and the reason; Pods are
// examined in name order.
HealthStatus assess_with_pods(const kube::json& live, const std::vector<kube::json>& pods);

// Restarts at or above which a container that is not ready counts as failing.
inline constexpr int kMaxRestarts = 3;

}  // namespace cairn::release
