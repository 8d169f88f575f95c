#include "resolve.h"

#include <gtest/gtest.h>

namespace cairn::cli {
namespace {

using cairn::json;

// Trimmed copies of what kube-apiserver v1.20 serves.
const json kCore = json::parse(R"({
  "kind": "APIResourceList", "groupVersion": "v1",
  "resources": [
    {"name": "configmaps", "singularName": "", "namespaced": true, "kind": "ConfigMap",
     "shortNames": ["cm"]},
    {"name": "events", "singularName": "", "namespaced": true, "kind": "Event",
     "shortNames": ["ev"]},
    {"name": "namespaces", "singularName": "", "namespaced": false, "kind": "Namespace",
     "shortNames": ["ns"]},
    {"name": "services", "singularName": "", "namespaced": true, "kind": "Service",
     "shortNames": ["svc"]},
    {"name": "services/status", "singularName": "", "namespaced": true, "kind": "Service"}
  ]})");

const json kGroups = json::parse(R"({
  "kind": "APIGroupList",
  "groups": [
    {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
     "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
    {"name": "events.k8s.io",
     "versions": [{"groupVersion": "events.k8s.io/v1", "version": "v1"},
                  {"groupVersion": "events.k8s.io/v1beta1", "version": "v1beta1"}],
     "preferredVersion": {"groupVersion": "events.k8s.io/v1", "version": "v1"}},
    {"name": "cairn.dev", "versions": [{"groupVersion": "cairn.dev/v1alpha1", "version": "v1alpha1"}],
     "preferredVersion": {"groupVersion": "cairn.dev/v1alpha1", "version": "v1alpha1"}}
  ]})");

const json kApps = json::parse(R"({
  "kind": "APIResourceList", "groupVersion": "apps/v1",
  "resources": [
    {"name": "deployments", "singularName": "", "namespaced": true, "kind": "Deployment",
     "shortNames": ["deploy"]},
    {"name": "deployments/scale", "singularName": "", "namespaced": true, "kind": "Scale"},
    {"name": "statefulsets", "singularName": "", "namespaced": true, "kind": "StatefulSet",
     "shortNames": ["sts"]}
  ]})");

const json kEvents = json::parse(R"({
  "kind": "APIResourceList", "groupVersion": "events.k8s.io/v1",
  "resources": [{"name": "events", "singularName": "", "namespaced": true, "kind": "Event",
                 "shortNames": ["ev"]}]})");

const json kCairn = json::parse(R"({
  "kind": "APIResourceList", "groupVersion": "cairn.dev/v1alpha1",
  "resources": [
    {"name": "pipelines", "singularName": "pipeline", "namespaced": true, "kind": "Pipeline",
     "shortNames": ["pl"]},
    {"name": "releases", "singularName": "release", "namespaced": true, "kind": "Release",
     "shortNames": ["rel"]}
  ]})");

std::vector<Resource> known() {
  std::vector<Resource> k;
  for (const json* l : {&kCore, &kApps, &kEvents, &kCairn}) add_resource_list(k, *l);
  return k;
}

std::string resolved(std::string_view typed) {
  auto r = resolve_kind(typed, known());
  return r ? r->api_version() + " " + r->resource : "error: " + r.error();
}

TEST(Resolve, ShortNamesKindsAndPluralsWithOrWithoutTheGroup) {
  EXPECT_EQ(resolved("deployment"), "apps/v1 deployments");
  EXPECT_EQ(resolved("deploy"), "apps/v1 deployments");
  EXPECT_EQ(resolved("deployments"), "apps/v1 deployments");
  EXPECT_EQ(resolved("Deployment"), "apps/v1 deployments");
  EXPECT_EQ(resolved("Deployment.apps"), "apps/v1 deployments");
  EXPECT_EQ(resolved("deployments.apps"), "apps/v1 deployments");
  EXPECT_EQ(resolved("deployments.v1.apps"), "apps/v1 deployments");
  EXPECT_EQ(resolved("cm"), "v1 configmaps");
  EXPECT_EQ(resolved("configmap"), "v1 configmaps");
  EXPECT_EQ(resolved("svc"), "v1 services");
  EXPECT_EQ(resolved("rel"), "cairn.dev/v1alpha1 releases");
  EXPECT_EQ(resolved("release"), "cairn.dev/v1alpha1 releases");
  EXPECT_EQ(resolved("releases.cairn.dev"), "cairn.dev/v1alpha1 releases");
  EXPECT_EQ(resolved("Pipeline.cairn.dev"), "cairn.dev/v1alpha1 pipelines");
}

TEST(Resolve, TheCoreGroupWinsUnlessAGroupIsNamed) {
  EXPECT_EQ(resolved("events"), "v1 events");
  EXPECT_EQ(resolved("ev"), "v1 events");
  EXPECT_EQ(resolved("events.events.k8s.io"), "events.k8s.io/v1 events");
}

TEST(Resolve, UnknownKindsAndSubresourcesAreErrors) {
  for (std::string_view t :
       {"gizmo", "deployments.extensions", "scale", "deployments/scale", "deploy.v2.apps", ""}) {
    auto r = resolve_kind(t, known());
    ASSERT_FALSE(r) << t << " resolved to " << r->resource;
    EXPECT_NE(r.error().find("no resource type"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("kubectl api-resources"), std::string::npos);
  }
}

TEST(Resolve, ResourceListsAreReadDefensively) {
  std::vector<Resource> k;
  add_resource_list(k, json::parse("[1, 2]"));
  add_resource_list(k, json::parse(R"({"groupVersion": "v1", "resources": "nope"})"));
  add_resource_list(k, json::parse(R"({"groupVersion": "v1", "resources": [1, {"name": 3}]})"));
  EXPECT_TRUE(k.empty());
  add_resource_list(k, kCore);
  ASSERT_EQ(k.size(), 4u) << "the status subresource is left out";
  EXPECT_FALSE(k[2].namespaced) << "namespaces are cluster-scoped";
  EXPECT_EQ(k[0].qualified(), "configmaps");
  std::vector<Resource> a;
  add_resource_list(a, kApps);
  EXPECT_EQ(a[0].qualified(), "deployments.apps");
}

TEST(Resolve, GroupVersionsPreferredFirst) {
  EXPECT_EQ(group_versions(kGroups, true),
            (std::vector<std::string>{"apps/v1", "events.k8s.io/v1", "cairn.dev/v1alpha1"}));
  EXPECT_EQ(group_versions(kGroups, false), (std::vector<std::string>{"events.k8s.io/v1beta1"}));
  EXPECT_TRUE(group_versions(json::parse(R"({"groups": [1, "x"]})"), true).empty());
  EXPECT_TRUE(group_versions(json(nullptr), false).empty());
}

}  // namespace
}  // namespace cairn::cli
