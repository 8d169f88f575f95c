#include "operator/release/health.h"

#include <gtest/gtest.h>

namespace cairn::release {
namespace {

using kube::json;

json deployment(json spec, json status, int generation = 2) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"generation", generation}}},
          {"spec", std::move(spec)},
          {"status", std::move(status)}};
}

json rolled_out(int replicas) {
  return {{"observedGeneration", 2},
          {"replicas", replicas},
          {"updatedReplicas", replicas},
          {"readyReplicas", replicas},
          {"availableReplicas", replicas}};
}

void expect(const HealthStatus& h, Health health, const std::string& message) {
  EXPECT_EQ(to_string(h.health), to_string(health)) << h.message;
  EXPECT_EQ(h.message, message);
}

// ---- Deployment ----

TEST(Health, DeploymentRolledOut) {
  expect(assess(deployment({{"replicas", 3}}, rolled_out(3))), Health::kHealthy,
         "deployment web: 3 of 3 replicas available");
}

TEST(Health, DeploymentReplicasDefaultToOne) {
  expect(assess(deployment(json::object(), rolled_out(1))), Health::kHealthy,
         "deployment web: 1 of 1 replicas available");
  json s = rolled_out(1);
  s["availableReplicas"] = 0;
  expect(assess(deployment(json::object(), s)), Health::kProgressing,
         "deployment web: 0 of 1 replicas available");
}

TEST(Health, DeploymentScaledToZeroIsHealthy) {
  json s = {{"observedGeneration", 2}};
  expect(assess(deployment({{"replicas", 0}}, s)), Health::kHealthy,
         "deployment web: 0 of 0 replicas available");
}

TEST(Health, DeploymentGenerationNotObserved) {
  json s = rolled_out(3);
  s["observedGeneration"] = 1;
  expect(assess(deployment({{"replicas", 3}}, s)), Health::kProgressing,
         "deployment web: waiting for the controller to observe generation 2 (observed 1)");
  expect(assess(deployment({{"replicas", 3}}, json::object())), Health::kProgressing,
         "deployment web: waiting for the controller to observe generation 2");
}

TEST(Health, DeploymentReplicasNotYetUpdated) {
  json s = rolled_out(3);
  s["updatedReplicas"] = 1;
  expect(assess(deployment({{"replicas", 3}}, s)), Health::kProgressing,
         "deployment web: 1 of 3 replicas updated");
}

TEST(Health, DeploymentOldReplicasPendingTermination) {
  json s = rolled_out(3);
  s["replicas"] = 4;
  expect(assess(deployment({{"replicas", 3}}, s)), Health::kProgressing,
         "deployment web: 1 old replicas pending termination");
}

TEST(Health, DeploymentReplicasNotAvailable) {
  json s = rolled_out(3);
  s["availableReplicas"] = 2;
  s["unavailableReplicas"] = 1;
  expect(assess(deployment({{"replicas", 3}}, s)), Health::kProgressing,
         "deployment web: 2 of 3 replicas available");
}

TEST(Health, DeploymentUnavailableReplicas) {
  json s = rolled_out(3);
  s["unavailableReplicas"] = 1;
  expect(assess(deployment({{"replicas", 3}}, s)), Health::kProgressing,
         "deployment web: 1 replicas unavailable");
}

TEST(Health, DeploymentPausedSaysSo) {
  json s = rolled_out(3);
  s["updatedReplicas"] = 0;
  expect(assess(deployment({{"replicas", 3}, {"paused", true}}, s)), Health::kProgressing,
         "deployment web: 0 of 3 replicas updated (the rollout is paused)");
}

TEST(Health, DeploymentProgressDeadlineExceededFails) {
  json s = rolled_out(3);
  s["updatedReplicas"] = 1;
  s["conditions"] = {{{"type", "Available"}, {"status", "True"}},
                     {{"type", "Progressing"},
                      {"status", "False"},
                      {"reason", "ProgressDeadlineExceeded"},
                      {"message", "ReplicaSet \"web-5d4f\" has timed out progressing."}}};
  expect(assess(deployment({{"replicas", 3}}, s)), Health::kFailed,
         "deployment web: progress deadline exceeded: ReplicaSet \"web-5d4f\" has timed out "
         "progressing");
  // A deadline from the previous generation does not count until the
  // controller has looked at the new spec.
  s["observedGeneration"] = 1;
  EXPECT_EQ(assess(deployment({{"replicas", 3}}, s)).health, Health::kProgressing);
  // Progressing=False for another reason is not a failure.
  s["observedGeneration"] = 2;
  s["conditions"][1]["reason"] = "Other";
  EXPECT_EQ(assess(deployment({{"replicas", 3}}, s)).health, Health::kProgressing);
}

// ---- StatefulSet ----

json statefulset(json spec, json status) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", "db"}, {"generation", 1}}},
          {"spec", std::move(spec)},
          {"status", std::move(status)}};
}

json sts_done(int replicas) {
  return {{"observedGeneration", 1},      {"replicas", replicas},
          {"readyReplicas", replicas},    {"updatedReplicas", replicas},
          {"currentRevision", "db-7f8c"}, {"updateRevision", "db-7f8c"}};
}

TEST(Health, StatefulSetRolledOut) {
  expect(assess(statefulset({{"replicas", 3}}, sts_done(3))), Health::kHealthy,
         "statefulset db: 3 of 3 replicas ready");
}

TEST(Health, StatefulSetGenerationNotObserved) {
  json s = sts_done(3);
  s["observedGeneration"] = 0;
  expect(assess(statefulset({{"replicas", 3}}, s)), Health::kProgressing,
         "statefulset db: waiting for the controller to observe generation 1 (observed 0)");
}

TEST(Health, StatefulSetNotReady) {
  json s = sts_done(3);
  s["readyReplicas"] = 2;
  expect(assess(statefulset({{"replicas", 3}}, s)), Health::kProgressing,
         "statefulset db: 2 of 3 replicas ready");
}

TEST(Health, StatefulSetNotUpdated) {
  json s = sts_done(3);
  s["updatedReplicas"] = 1;
  s["updateRevision"] = "db-9a1b";
  expect(assess(statefulset({{"replicas", 3}}, s)), Health::kProgressing,
         "statefulset db: 1 of 3 replicas updated");
}

TEST(Health, StatefulSetRevisionNotCurrent) {
  json s = sts_done(3);
  s["updateRevision"] = "db-9a1b";
  expect(assess(statefulset({{"replicas", 3}}, s)), Health::kProgressing,
         "statefulset db: rolling update to revision db-9a1b not finished (current db-7f8c)");
}

TEST(Health, StatefulSetPartitionedRollout) {
  json spec = {
      {"replicas", 3},
      {"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 2}}}}}};
  json s = sts_done(3);
  s["updateRevision"] = "db-9a1b";
  s["updatedReplicas"] = 0;
  expect(assess(statefulset(spec, s)), Health::kProgressing,
         "statefulset db: 0 of 1 replicas updated (partition 2)");
  s["updatedReplicas"] = 1;
  expect(assess(statefulset(spec, s)), Health::kHealthy,
         "statefulset db: 3 of 3 replicas ready, 1 of 1 replicas updated (partition 2)");
}

TEST(Health, StatefulSetOnDeleteOnlyNeedsReadyReplicas) {
  json spec = {{"replicas", 2}, {"updateStrategy", {{"type", "OnDelete"}}}};
  json s = sts_done(2);
  s["updateRevision"] = "db-9a1b";
  s["updatedReplicas"] = 0;
  expect(assess(statefulset(spec, s)), Health::kHealthy,
         "statefulset db: 2 of 2 replicas ready (updateStrategy OnDelete: pods are updated when "
         "deleted)");
}

// ---- DaemonSet ----

json daemonset(json status, json spec = json::object()) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "DaemonSet"},
          {"metadata", {{"name", "agent"}, {"generation", 3}}},
          {"spec", std::move(spec)},
          {"status", std::move(status)}};
}

TEST(Health, DaemonSetRules) {
  json s = {{"observedGeneration", 3},
            {"desiredNumberScheduled", 3},
            {"updatedNumberScheduled", 3},
            {"numberAvailable", 3}};
  expect(assess(daemonset(s)), Health::kHealthy, "daemonset agent: 3 of 3 pods available");

  json old = s;
  old["observedGeneration"] = 2;
  expect(assess(daemonset(old)), Health::kProgressing,
         "daemonset agent: waiting for the controller to observe generation 3 (observed 2)");

  json updating = s;
  updating["updatedNumberScheduled"] = 1;
  expect(assess(daemonset(updating)), Health::kProgressing, "daemonset agent: 1 of 3 pods updated");
  EXPECT_EQ(assess(daemonset(updating, {{"updateStrategy", {{"type", "OnDelete"}}}})).health,
            Health::kHealthy);

  json unavailable = s;
  unavailable["numberAvailable"] = 2;
  expect(assess(daemonset(unavailable)), Health::kProgressing,
         "daemonset agent: 2 of 3 pods available");
}

// ---- Job ----

json job(json status) {
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", "migrate"}}},
          {"status", std::move(status)}};
}

TEST(Health, JobRules) {
  expect(
      assess(job({{"conditions", {{{"type", "Complete"}, {"status", "True"}}}}, {"succeeded", 1}})),
      Health::kHealthy, "job migrate: complete");
  expect(assess(job({{"conditions",
                      {{{"type", "Failed"},
                        {"status", "True"},
                        {"reason", "BackoffLimitExceeded"},
                        {"message", "Job has reached the specified backoff limit"}}}},
                     {"failed", 3}})),
         Health::kFailed,
         "job migrate: failed: BackoffLimitExceeded: Job has reached the specified backoff limit");
  expect(assess(job({{"active", 1}, {"failed", 1}})), Health::kProgressing,
         "job migrate: running (1 active, 0 succeeded, 1 failed)");
  expect(assess(job(json::object())), Health::kProgressing,
         "job migrate: running (0 active, 0 succeeded, 0 failed)");
}

// ---- Ready condition and the rest ----

json custom(json status, int generation = 1) {
  return {{"apiVersion", "cert-manager.io/v1"},
          {"kind", "Certificate"},
          {"metadata", {{"name", "web-tls"}, {"generation", generation}}},
          {"status", std::move(status)}};
}

TEST(Health, ReadyCondition) {
  expect(assess(custom({{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}})),
         Health::kHealthy, "certificate web-tls: ready");
  expect(assess(custom({{"conditions",
                         {{{"type", "Ready"},
                           {"status", "False"},
                           {"reason", "Issuing"},
                           {"message", "Issuing certificate as Secret does not exist"}}}}})),
         Health::kProgressing,
         "certificate web-tls: not ready: Issuing: Issuing certificate as Secret does not exist");
  expect(assess(custom({{"conditions", {{{"type", "Ready"}, {"status", "Unknown"}}}}})),
         Health::kProgressing, "certificate web-tls: not ready");
}

TEST(Health, ReadyConditionOfAnOlderGenerationDoesNotCount) {
  expect(assess(custom(
             {{"observedGeneration", 1}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}},
             2)),
         Health::kProgressing,
         "certificate web-tls: waiting for the controller to observe generation 2 (observed 1)");
}

TEST(Health, StalledIsFailed) {
  expect(assess(custom({{"conditions",
                         {{{"type", "Ready"}, {"status", "False"}},
                          {{"type", "Stalled"},
                           {"status", "True"},
                           {"reason", "InvalidSpec"},
                           {"message", "spec.issuerRef is missing"}}}}})),
         Health::kFailed, "certificate web-tls: stalled: InvalidSpec: spec.issuerRef is missing");
}

TEST(Health, EverythingElseIsHealthyOnceApplied) {
  expect(assess({{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}}),
         Health::kHealthy, "configmap c: applied");
  expect(assess({{"apiVersion", "v1"},
                 {"kind", "Service"},
                 {"metadata", {{"name", "web"}}},
                 {"spec", {{"type", "LoadBalancer"}}},
                 {"status", {{"loadBalancer", json::object()}}}}),
         Health::kHealthy, "service web: applied");
  expect(assess({{"apiVersion", "v1"},
                 {"kind", "PersistentVolumeClaim"},
                 {"metadata", {{"name", "data"}}},
                 {"status", {{"phase", "Pending"}}}}),
         Health::kHealthy, "persistentvolumeclaim data: applied");
  // An apps-like kind in another group is judged by its conditions, not as a Deployment.
  expect(assess({{"apiVersion", "example.com/v1"},
                 {"kind", "Deployment"},
                 {"metadata", {{"name", "x"}}},
                 {"spec", {{"replicas", 3}}}}),
         Health::kHealthy, "deployment x: applied");
}

TEST(Health, BeingDeletedIsProgressing) {
  json d = deployment({{"replicas", 1}}, rolled_out(1));
  d["metadata"]["deletionTimestamp"] = "2024-05-01T12:00:00Z";
  expect(assess(d), Health::kProgressing, "deployment web: being deleted");
}

TEST(Health, NotAnObject) {
  EXPECT_EQ(assess(json()).health, Health::kProgressing);
  EXPECT_EQ(to_string(Health::kHealthy), "Healthy");
  EXPECT_EQ(to_string(Health::kProgressing), "Progressing");
  EXPECT_EQ(to_string(Health::kFailed), "Failed");
}

// ---- Pods ----

json pod(const std::string& name, json container_status, json extra_status = json::object()) {
  json status = {{"phase", "Running"}, {"containerStatuses", json::array({container_status})}};
  status.update(extra_status);
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"status", status}};
}

json waiting(const std::string& reason, const std::string& message = "", int restarts = 0) {
  json w = {{"reason", reason}};
  if (!message.empty()) w["message"] = message;
  return {
      {"name", "app"}, {"ready", false}, {"restartCount", restarts}, {"state", {{"waiting", w}}}};
}

json running(bool ready, int restarts) {
  return {{"name", "app"},
          {"ready", ready},
          {"restartCount", restarts},
          {"state", {{"running", {{"startedAt", "2024-05-01T12:00:00Z"}}}}},
          {"lastState", {{"terminated", {{"exitCode", 1}, {"reason", "Error"}}}}}};
}

TEST(HealthPods, EachWaitingReasonFailsTheDeployment) {
  json d = deployment({{"replicas", 1}}, rolled_out(1));
  d["status"]["availableReplicas"] = 0;
  for (const char* reason :
       {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
        "CreateContainerError", "InvalidImageName", "RunContainerError"}) {
    HealthStatus h = assess_with_pods(d, {pod("web-5d4f-abcde", waiting(reason))});
    expect(h, Health::kFailed,
           std::string("deployment web: pod web-5d4f-abcde: container app: ") + reason);
  }
}

TEST(HealthPods, MessagesIncludeTheKubeletsExplanation) {
  json d = deployment({{"replicas", 1}}, rolled_out(1));
  expect(
      assess_with_pods(
          d, {pod("web-1", waiting("CreateContainerConfigError", "secret \"db-auth\" not found"))}),
      Health::kFailed,
      "deployment web: pod web-1: container app: CreateContainerConfigError: secret "
      "\"db-auth\" not found");
  expect(assess_with_pods(d, {pod("web-1", waiting("CrashLoopBackOff",
                                                   "back-off 40s restarting failed container=app "
                                                   "pod=web-1_shop(1234)",
                                                   4))}),
         Health::kFailed,
         "deployment web: pod web-1: container app: CrashLoopBackOff: back-off 40s restarting "
         "failed container=app pod=web-1_shop(1234)");
}

TEST(HealthPods, InitContainersCount) {
  json d = deployment({{"replicas", 1}}, rolled_out(1));
  json p = pod("web-1", running(false, 0), {{"phase", "Pending"}});
  json init = waiting("CrashLoopBackOff", "", 5);
  init["name"] = "migrate";
  p["status"]["initContainerStatuses"] = json::array({init});
  expect(assess_with_pods(d, {p}), Health::kFailed,
         "deployment web: pod web-1: init container migrate: CrashLoopBackOff");
}

TEST(HealthPods, RestartsFailOnlyWhileTheContainerIsNotReady) {
  json d = deployment({{"replicas", 1}}, rolled_out(1));
  expect(assess_with_pods(d, {pod("web-1", running(false, 3))}), Health::kFailed,
         "deployment web: pod web-1: container app restarted 3 times (last exit code 1, Error)");
  expect(assess_with_pods(d, {pod("web-1", running(true, 7))}), Health::kHealthy,
         "deployment web: 1 of 1 replicas available");
  EXPECT_EQ(assess_with_pods(d, {pod("web-1", running(false, 2))}).health, Health::kHealthy)
      << "fewer than 3 restarts: the Deployment's own status decides";
  // An init container that restarted but then completed is fine.
  json p = pod("web-2", running(true, 0));
  p["status"]["initContainerStatuses"] =
      json::array({{{"name", "wait-db"},
                    {"ready", false},
                    {"restartCount", 4},
                    {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}}});
  EXPECT_EQ(assess_with_pods(d, {p}).health, Health::kHealthy);
}

TEST(HealthPods, TerminatingAndFinishedPodsAreIgnored) {
  json d = deployment({{"replicas", 1}}, rolled_out(1));
  json old = pod("web-old", waiting("CrashLoopBackOff"));
  old["metadata"]["deletionTimestamp"] = "2024-05-01T12:00:00Z";
  json evicted = pod("web-evicted", waiting("ErrImagePull"), {{"phase", "Failed"}});
  json done = pod("web-done", running(false, 5), {{"phase", "Succeeded"}});
  EXPECT_EQ(assess_with_pods(d, {old, evicted, done}).health, Health::kHealthy);
}

TEST(HealthPods, FirstFailingPodByNameAndACount) {
  json d = deployment({{"replicas", 3}}, rolled_out(3));
  d["status"]["availableReplicas"] = 1;
  std::vector<json> pods = {pod("web-c", waiting("ImagePullBackOff")),
                            pod("web-a", running(true, 0)),
                            pod("web-b", waiting("CrashLoopBackOff"))};
  expect(assess_with_pods(d, pods), Health::kFailed,
         "deployment web: pod web-b: container app: CrashLoopBackOff (and 1 more failing pods)");
}

TEST(HealthPods, HealthyPodsLeaveTheVerdictToTheWorkload) {
  json d = deployment({{"replicas", 2}}, rolled_out(2));
  d["status"]["availableReplicas"] = 1;
  expect(assess_with_pods(d, {pod("web-a", running(true, 0)), pod("web-b", running(false, 0))}),
         Health::kProgressing, "deployment web: 1 of 2 replicas available");
  expect(assess_with_pods(deployment({{"replicas", 2}}, rolled_out(2)), {}), Health::kHealthy,
         "deployment web: 2 of 2 replicas available");
}

TEST(HealthPods, AFailedWorkloadStaysFailed) {
  json d = deployment({{"replicas", 1}}, rolled_out(1));
  d["status"]["conditions"] = {
      {{"type", "Progressing"}, {"status", "False"}, {"reason", "ProgressDeadlineExceeded"}}};
  expect(assess_with_pods(d, {pod("web-1", waiting("CrashLoopBackOff"))}), Health::kFailed,
         "deployment web: progress deadline exceeded");
}

TEST(HealthPods, StatefulSetPodsToo) {
  json s = statefulset({{"replicas", 1}}, sts_done(1));
  s["status"]["readyReplicas"] = 0;
  expect(assess_with_pods(s, {pod("db-0", waiting("ImagePullBackOff", "Back-off pulling image"))}),
         Health::kFailed,
         "statefulset db: pod db-0: container app: ImagePullBackOff: Back-off pulling image");
}

TEST(HealthPods, APodOnItsOwn) {
  json p = pod("once", running(true, 0));
  p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}}};
  expect(assess(p), Health::kHealthy, "pod once: ready");
  p["status"]["conditions"][0]["status"] = "False";
  expect(assess(p), Health::kProgressing, "pod once: not ready (phase Running)");
  expect(assess(pod("once", waiting("ErrImagePull"))), Health::kFailed,
         "pod once: container app: ErrImagePull");
  expect(assess(pod("once", running(false, 0), {{"phase", "Succeeded"}})), Health::kHealthy,
         "pod once: succeeded");
  expect(assess(pod("once", running(false, 0),
                    {{"phase", "Failed"}, {"reason", "Evicted"}, {"message", "low on memory."}})),
         Health::kFailed, "pod once: failed: Evicted: low on memory");
}

}  // namespace
}  // namespace cairn::release
