#include "manifest/kinds.h"

#include <algorithm>
#include <map>
#include <vector>

namespace cairn::manifest {

std::string api_group(std::string_view api_version) {
  auto p = api_version.find('/');
  return p == std::string_view::npos ? std::string() : std::string(api_version.substr(0, p));
}

int apply_rank(const std::string& kind) {
  static const std::map<std::string, int, std::less<>> kRanks = {
      {"Namespace", 0},
      {"CustomResourceDefinition", 1},
      // What Pods and other objects need to exist first.
      {"PriorityClass", 2},
      {"StorageClass", 2},
      {"IngressClass", 2},
      {"RuntimeClass", 2},
      {"CSIDriver", 2},
      {"PodSecurityPolicy", 2},
      {"ResourceQuota", 2},
      {"LimitRange", 2},
      {"NetworkPolicy", 2},
      {"ServiceAccount", 3},
      {"ClusterRole", 4},
      {"Role", 4},
      {"ClusterRoleBinding", 5},
      {"RoleBinding", 5},
      {"ConfigMap", 6},
      {"Secret", 6},
      {"PersistentVolume", 7},
      {"PersistentVolumeClaim", 8},
      {"Service", 9},
      {"Endpoints", 9},
      // Workloads.
      {"PodTemplate", 10},
      {"Pod", 10},
      {"ReplicationController", 10},
      {"ReplicaSet", 10},
      {"Deployment", 10},
      {"StatefulSet", 10},
      {"DaemonSet", 10},
      {"Job", 10},
      {"CronJob", 10},
      // What refers to workloads and Services.
      {"HorizontalPodAutoscaler", 11},
      {"PodDisruptionBudget", 11},
      {"Ingress", 11},
      // Everything else (custom resources): 12.
      // Last: the API extensions that route calls to a backend the above runs.
      {"APIService", 13},
      {"ValidatingWebhookConfiguration", 13},
      {"MutatingWebhookConfiguration", 13},
  };
  auto it = kRanks.find(kind);
  return it == kRanks.end() ? 12 : it->second;
}

bool is_cluster_scoped_kind(const std::string& api_version, const std::string& kind) {
  static const std::map<std::string, std::vector<std::string>, std::less<>> kClusterScoped = {
      {"", {"Namespace", "Node", "PersistentVolume", "ComponentStatus"}},
      {"rbac.authorization.k8s.io", {"ClusterRole", "ClusterRoleBinding"}},
      {"apiextensions.k8s.io", {"CustomResourceDefinition"}},
      {"apiregistration.k8s.io", {"APIService"}},
      {"admissionregistration.k8s.io",
       {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}},
      {"storage.k8s.io", {"StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"}},
      {"scheduling.k8s.io", {"PriorityClass"}},
      {"networking.k8s.io", {"IngressClass"}},
      {"extensions", {"PodSecurityPolicy"}},
      {"policy", {"PodSecurityPolicy"}},
      {"node.k8s.io", {"RuntimeClass"}},
      {"certificates.k8s.io", {"CertificateSigningRequest"}},
      {"flowcontrol.apiserver.k8s.io", {"FlowSchema", "PriorityLevelConfiguration"}},
      {"authentication.k8s.io", {"TokenReview"}},
      {"authorization.k8s.io",
       {"SubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview"}},
  };
  auto it = kClusterScoped.find(api_group(api_version));
  if (it == kClusterScoped.end()) return false;
  return std::find(it->second.begin(), it->second.end(), kind) != it->second.end();
}

}  // namespace cairn::manifest
