// Helm's objects with methods: .Files (chartutil.Files) and .Capabilities.
#pragma once

#include <expected>
#include <map>
#include <string>
#include <vector>

#include "helm/value.h"

namespace cairn::helm {

// .Files over a chart's files (path relative to the chart -> content):
// Get, GetBytes, Glob, AsConfig, AsSecrets, Lines.
Value make_files(std::map<std::string, std::string> files);

// .Capabilities: KubeVersion (Version, Major, Minor, GitVersion, and it
// prints as Version), APIVersions.Has, HelmVersion. `api_versions` empty:
// the group/versions built into Kubernetes.
std::expected<Value, std::string> make_capabilities(const std::string& kube_version,
                                                    const std::vector<std::string>& api_versions);

// gobwas/glob with '/' as separator, as Files.Glob and .helmignore use it:
// * and ? stay within a path element, ** crosses them, [..] and {a,b}.
// `star_crosses`: let * match '/' too.
bool glob_match(const std::string& pattern, const std::string& name, bool star_crosses);

}  // namespace cairn::helm
