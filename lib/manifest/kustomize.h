// `kustomize build` (Kustomize v5.5, as built into kubectl 1.32) in C++: a
// kustomization directory read through a FileTree becomes the objects
// `kubectl kustomize DIR` prints, in the same order. Pure: no I/O beyond the
// tree, no clock.
//
// Supported: resources (files, and directories holding a kustomization;
// bases, overlays, diamonds) and legacy `bases`, components, namespace,
// namePrefix/nameSuffix with name references fixed (ConfigMap, Secret,
// ServiceAccount, PVC, PriorityClass in pod specs; RoleBinding roleRef and
// subjects; Services in Ingresses and StatefulSets; HPA targets),
// commonLabels, labels (includeSelectors, includeTemplates),
// commonAnnotations, images, replicas, patches (strategic merge and JSON
// 6902; inline or from a file; targets by group, version, kind, name and
// namespace regexes, label and annotation selectors), patchesStrategicMerge,
// patchesJson6902, configMapGenerator, secretGenerator (files, literals,
// envs, behavior create|merge|replace, options), generatorOptions, the hash
// suffix of generated names, sortOptions.
//
// Refused with an error naming the kustomization file and the field: remote
// resources, helmCharts, generators/transformers/validators plugins,
// replacements, vars, openapi, crds, configurations, buildMetadata, unknown
// fields; paths that climb above the tree's root; files loaded from outside
// the kustomization's directory (Kustomize's LoadRestrictionsRootOnly);
// cycles; env file lines without '=' (Kustomize would read the process's
// environment).
//
// Known differences from Kustomize (the differential test's trees avoid
// them): the kustomization file is read with render.h's YAML rules, so an
// unquoted yes/no/on/off/y/n in it is a string here where Kustomize (YAML
// 1.1) reads a boolean and refuses it in a string field; an unquoted number
// where a string is expected (`newTag: 1.20`) is written back from the
// number ("1.2"), so quote tags. Name references cover the kinds listed
// above, not all of Kustomize's nameReference table (e.g. not
// ValidatingWebhookConfiguration services, CSI secrets, Ingress v1beta1
// resource backends); `labels[].fields`, `patches[].options` name or kind
// changes, and `$setElementOrder` ordering are not implemented (the first
// two are refused, the last is accepted and ignored).
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <vector>

#include "json/json.h"
#include "manifest/render.h"
#include "manifest/tree.h"

namespace cairn::manifest {

struct KObject {
  cairn::json object;
  // The repository path of the file the object came from; for a generated
  // ConfigMap or Secret, the kustomization file that generated it.
  std::string file;
  bool operator==(const KObject&) const = default;
};

struct KustomizeOptions {
  std::size_t max_documents = 5000;            // objects in the result
  std::size_t max_bytes = kMaxBytes;           // all files read
  std::size_t max_file_bytes = kMaxFileBytes;  // one file
  int max_depth = 32;                          // nested kustomizations
};

// The kustomization file in `dir` ("kustomization.yaml", ".yml" or
// "Kustomization"), nullopt when there is none. More than one is an error,
// as in Kustomize.
std::expected<std::optional<std::string>, std::string> find_kustomization(const FileTree& tree,
                                                                          const std::string& dir);

std::expected<std::vector<KObject>, std::vector<RenderError>> kustomize_build(
    const FileTree& tree, const std::string& dir, const KustomizeOptions& opts = {});

// The 10-character suffix Kustomize gives a generated ConfigMap or Secret:
// sha256 of Go's json.Marshal of {data, kind, name: "", type (Secrets),
// binaryData}, its first 10 hex digits with 0,1,3,a,e mapped to g,h,k,m,t.
// (Measured against Kustomize v5.5: the name is empty and `immutable` is not
// hashed; a ConfigMap without data hashes data as "".)
std::string generated_name_hash(const cairn::json& object);

// Go's encoding/json.Marshal of a value: keys sorted, no spaces, <, > and &
// escaped as \u003c, \u003e, \u0026.
std::string go_json(const cairn::json& value);

// The objects as `kustomize build` prints them: YAML documents separated by
// "---\n", keys sorted (Kustomize prints its objects with sorted keys).
std::string to_yaml(const std::vector<KObject>& objects);

}  // namespace cairn::manifest
