#include "webhook/kinds.h"

#include <map>
#include <set>
#include <utility>

#include "api/names.h"

namespace cairn::webhook {

namespace {

// By API group and resource (what a subresource request names).
const std::map<std::pair<std::string, std::string>, std::string>& kinds_by_resource() {
  static const std::map<std::pair<std::string, std::string>, std::string> m = {
      {{"", "pods"}, "Pod"},
      {{"", "replicationcontrollers"}, "ReplicationController"},
      {{"", "endpoints"}, "Endpoints"},
      {{"", "events"}, "Event"},
      {{"", "secrets"}, "Secret"},
      {{"", "serviceaccounts"}, "ServiceAccount"},
      {{"", "services"}, "Service"},
      {{"", "persistentvolumeclaims"}, "PersistentVolumeClaim"},
      {{"apps", "deployments"}, "Deployment"},
      {{"apps", "replicasets"}, "ReplicaSet"},
      {{"apps", "statefulsets"}, "StatefulSet"},
      {{"apps", "daemonsets"}, "DaemonSet"},
      {{"apps", "controllerrevisions"}, "ControllerRevision"},
      {{"batch", "jobs"}, "Job"},
      {{"batch", "cronjobs"}, "CronJob"},
      {{"discovery.k8s.io", "endpointslices"}, "EndpointSlice"},
      {{"events.k8s.io", "events"}, "Event"},
      {{"coordination.k8s.io", "leases"}, "Lease"},
      {{"autoscaling", "horizontalpodautoscalers"}, "HorizontalPodAutoscaler"},
  };
  return m;
}

}  // namespace

std::string target_group_kind(const Review& r) {
  if (r.sub_resource.empty() || r.resource.empty()) return r.group_kind();
  auto it = kinds_by_resource().find({r.resource_group, r.resource});
  if (it != kinds_by_resource().end()) return r.resource_group + "/" + it->second;
  return r.resource_group + "/" + r.resource;
}

bool is_cairn_resource(const Review& r) {
  if (!r.resource.empty())
    return r.resource_group == api::kGroup &&
           (r.resource == api::kReleaseResource || r.resource == api::kPipelineResource);
  return r.group == api::kGroup && (r.kind == api::kReleaseKind || r.kind == api::kPipelineKind);
}

KindClass classify(const Review& r) {
  static const std::set<std::string> kFreeKinds = {"/Event", "events.k8s.io/Event",
                                                   "coordination.k8s.io/Lease",
                                                   "authorization.k8s.io/LocalSubjectAccessReview"};
  static const std::set<std::string> kDerivedKinds = {
      "/Pod",       "apps/ReplicaSet", "apps/ControllerRevision",
      "/Endpoints", "batch/Job",       "discovery.k8s.io/EndpointSlice"};
  const std::string gk = target_group_kind(r);
  if (kFreeKinds.contains(gk)) return KindClass::kFree;
  if (kDerivedKinds.contains(gk)) return KindClass::kDerived;
  if (gk == "/Secret") {
    const json& obj = r.operation == "DELETE" ? r.old_object : r.object;
    if (obj.is_object() && obj.value("type", "") == "kubernetes.io/service-account-token")
      return KindClass::kDerived;
  }
  return KindClass::kGoverned;
}

}  // namespace cairn::webhook
