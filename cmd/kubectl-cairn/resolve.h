// Mapping what a person types ("deploy", "cm", "Deployment.apps",
// "deployments.v1.apps") to a resource, from the apiserver's discovery
// documents, the way kubectl does: resource name, singular name, short names
// and kind all match, case-insensitively; the core group comes first, then
// the groups in the order the apiserver lists them, each at its preferred
// version first.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.h"

namespace cairn::cli {

struct Resource {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string resource;  // "deployments"
  std::string kind;      // "Deployment"
  std::string singular;  // often empty for built-in resources
  std::vector<std::string> short_names;
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "deployments.apps", "configmaps"
  std::string qualified() const { return group.empty() ? resource : resource + "." + group; }
};

// Appends the resources of one APIResourceList (/api/v1, /apis/<g>/<v>);
// subresources ("deployments/scale") are left out. Input that is not an
// APIResourceList adds nothing.
void add_resource_list(std::vector<Resource>& out, const cairn::json& list);

// The group versions to read, in the apiserver's priority order, from /apis
// (an APIGroupList): each group's preferred version, or (preferred = false)
// each group's other versions.
std::vector<std::string> group_versions(const cairn::json& group_list, bool preferred);

// Finds the resource that `typed` names: "deploy", "Deployment",
// "deployments.apps", "Deployment.apps", "deployments.v1.apps". The error
// says the kind is unknown and how to list the known ones.
std::expected<Resource, std::string> resolve_kind(std::string_view typed,
                                                  const std::vector<Resource>& known);

}  // namespace cairn::cli
