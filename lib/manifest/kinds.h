// What Cairn knows of built-in kinds without asking the cluster: apply order,
// scope, API group. Shared by render and kustomize_build.
#pragma once

#include <string>
#include <string_view>

namespace cairn::manifest {

// Apply order of a kind, lowest first: Namespace; CustomResourceDefinition;
// policy the Pods need first (PriorityClass, StorageClass, ResourceQuota,
// LimitRange, NetworkPolicy, ...); ServiceAccount; ClusterRole/Role;
// ClusterRoleBinding/RoleBinding; ConfigMap/Secret; PersistentVolume(Claim);
// Service; workloads; what refers to workloads (HPA, PDB, Ingress);
// everything else (custom resources); webhook configurations and APIService
// last, so that a webhook is not called before its backend runs.
int apply_rank(const std::string& kind);

// Whether a built-in kind is cluster-scoped, by API group and kind (any
// version): Namespace, Node, PersistentVolume, ClusterRole,
// ClusterRoleBinding, CustomResourceDefinition, StorageClass, PriorityClass,
// the webhook configurations, APIService, IngressClass, CSIDriver,
// RuntimeClass, ... Kinds it does not know are reported namespaced.
bool is_cluster_scoped_kind(const std::string& api_version, const std::string& kind);

// "apps" for "apps/v1", "" for "v1".
std::string api_group(std::string_view api_version);

}  // namespace cairn::manifest
