// Rendering a Release: the manifest files under spec.path at one commit become
// the Kubernetes objects to apply, validated, defaulted, stamped with their
// provenance and sorted in apply order. Pure: no I/O, no clock, no cluster.
//
// Files: *.yaml and *.yml are multi-document YAML (`---`), *.json hold one
// JSON value; other files are ignored. Empty and comment-only documents are
// skipped. A `List` (or any kind ending in "List" that has `items`) is
// replaced by its items, in YAML and in JSON.
//
// YAML becomes JSON the way Kubernetes reads it (sigs.k8s.io/yaml), with one
// deliberate exception:
// - quoted and block scalars ("80", '80', |, >) and `!!str` are strings;
// - plain scalars: null, ~ and empty are null; true/True/TRUE and
//   false/False/FALSE are booleans; integers in decimal, 0x hex, 0o or
//   leading-0 octal (`defaultMode: 0644` is 420) and 0b binary, with `_`
//   allowed, as int64 or uint64 (larger ones become floats, as in Go);
//   floats (1.5, 1e3, .5); everything else is a string, including
//   timestamps and versions such as 1.2.3;
// - the exception: YAML 1.1's yes/no/on/off/y/n stay strings (YAML 1.2, as
//   Flux reads them; kubectl would make them booleans);
// - .inf and .nan are refused (JSON cannot hold them); merge keys (`<<`)
//   are applied, explicit keys winning; a key repeated in one mapping is an
//   error; numeric and boolean keys become strings ("80", "true");
// - tags other than the core schema's (!!str, !!int, !!float, !!bool,
//   !!null, !!map, !!seq, !!timestamp) are refused.
// Hostile input is refused fast: documents whose anchors and aliases would
// copy more than kMaxAliasNodes nodes (a "billion laughs"), and nesting deeper
// than kMaxDepth mappings/sequences; a file larger than kMaxFileBytes and
// files adding up to more than kMaxBytes are refused before any is parsed.
//
// Each object must be a mapping with apiVersion, kind and metadata.name. A
// namespaced object without metadata.namespace gets the Release's namespace.
// Unless cluster_scope is set, objects in another namespace and
// cluster-scoped objects are refused. metadata.namespace is removed from
// cluster-scoped objects (the apiserver ignores it). Two objects with the
// same group, kind, namespace and name are an error naming both.
//
// Each object is stamped (lib/api/names.h): annotations cairn.dev/commit,
// cairn.dev/source, cairn.dev/path (the file the document came from) and
// cairn.dev/release ("namespace/name"), label app.kubernetes.io/managed-by:
// cairn; values already there are replaced. Server-side apply on Kubernetes
// 1.20 refuses list entries that omit a key field, so a missing `protocol`
// is set to "TCP" in Service spec.ports and in the container and init
// container ports of Pods and of the pod templates of Deployments,
// ReplicaSets, StatefulSets, DaemonSets, ReplicationControllers, Jobs,
// CronJobs and PodTemplates.
//
// Messages never contain values from the manifests (a Secret's data stays
// out of conditions, Events and logs): only file paths, document indexes,
// line numbers, field names, kinds and object names.
//
// Helm charts: when spec.path holds a Chart.yaml (checked before a
// kustomization), the chart is rendered as `helm template` does (lib/helm:
// subcharts in charts/, condition/tags/global, .Files, crds/ first) with
// spec.helm's values files (read from the same tree) and values, .Release.Name
// = spec.helm.releaseName or the Release's name, .Release.Namespace = the
// Release's namespace, .Release.Service = "Helm", .Capabilities.KubeVersion =
// kube_version. Each template's output is then read like a manifest file
// (documents, Lists, validation, stamping; cairn.dev/path is the template's
// file in the repository). A chart that needs the network (a dependency not
// vendored in charts/, a packaged .tgz) is refused naming the dependency; a
// template error names the template, line and column. spec.helm on a path
// without a Chart.yaml is an error naming spec.helm.
//
// An empty result (no manifests under the path) is not an error here; the
// reconciler decides whether pruning everything is intended.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "git/git.h"
#include "json/json.h"
#include "manifest/kinds.h"
#include "manifest/tree.h"

namespace cairn::manifest {

using json = cairn::json;

inline constexpr int kMaxDepth = 100;                   // nested mappings/sequences
inline constexpr std::size_t kMaxAliasNodes = 1000000;  // nodes copied for anchors and aliases
inline constexpr std::size_t kMaxErrors = 100;          // further errors are summarized
// One manifest file (a Kubernetes object is at most ~1.5 MiB in etcd); larger
// ones are refused before they are parsed, so that parsing stays bounded.
inline constexpr std::size_t kMaxFileBytes = 8u << 20;
inline constexpr std::size_t kMaxBytes = 64u << 20;  // all manifest files of a Release
// .Capabilities.KubeVersion of a chart render when the caller knows no
// better: the version of the clusters Cairn is tested against.
inline constexpr std::string_view kDefaultKubeVersion = "v1.20.2";

struct RenderInput {
  std::string release_namespace, release_name;  // the Release
  std::string commit;                           // full id
  std::string source_url;                       // spec.source.url as written (never credentials)
  bool cluster_scope = false;                   // spec.clusterScope
  // Every file under spec.path at the commit; files that are not *.yaml,
  // *.yml or *.json are ignored.
  std::vector<git::File> files;
  // When set, the render reads through this tree instead of `files`: the
  // directory `path` (spec.path) is built with kustomize_build when it holds
  // a kustomization (cairn.dev/path is then the file each object came from),
  // else its manifest files are read as above. `files` is then unused.
  const FileTree* tree = nullptr;
  std::string path;
  // spec.helm (only with a tree): path must then hold a Chart.yaml. A chart
  // is rendered without it too, with the chart's default values.
  std::optional<api::HelmSpec> helm;
  std::string kube_version = std::string(kDefaultKubeVersion);  // a chart's .Capabilities
  std::size_t max_documents = 5000;                             // objects, after Lists are expanded
  std::size_t max_bytes = kMaxBytes;                            // total size of the manifest files
  std::size_t max_file_bytes = kMaxFileBytes;                   // size of one manifest file
  // Optional: whether a kind is namespaced, from discovery. Returning
  // nullopt (or leaving this empty) falls back to is_cluster_scoped_kind,
  // which treats kinds it does not know (custom resources) as namespaced.
  std::function<std::optional<bool>(const std::string& api_version, const std::string& kind)>
      is_namespaced;
};

struct RenderError {
  std::string file;   // path in the repository; empty for the whole render
  int document = -1;  // 0-based index in the file, -1 for the whole file (and for JSON files)
  int line = 0;       // 1-based: of the syntax error, else where the document starts; 0: unknown
  int column = 0;     // 1-based, syntax errors only; 0: unknown
  std::string message;

  // "deploy/app.yaml:14: document 2: no metadata.name",
  // "deploy/app.yaml:16:3: document 2: illegal map value", "big.json: ...".
  std::string to_string() const;
  bool operator==(const RenderError&) const = default;
};

struct Rendered {
  std::vector<json> objects;  // stamped, in apply order
};

// All problems found (at most kMaxErrors, then one summarizing the rest);
// a file with a YAML syntax error is not read past that error.
std::expected<Rendered, std::vector<RenderError>> render(const RenderInput& in);

// All errors, one per line, for a condition message or an Event.
std::string to_string(const std::vector<RenderError>& errors);

// "<group>/<kind>/<namespace>/<name>", the version left out so that an object
// keeps its identity across API versions: "apps/Deployment/shop/web",
// "/ConfigMap/shop/settings" (core group), "rbac.authorization.k8s.io/ClusterRole//view"
// (cluster-scoped). Always four '/'-separated fields.
std::string identity(const json& obj);
std::string identity(const api::InventoryEntry& entry);

// The inventory entry of a rendered (or live) object.
api::InventoryEntry inventory_entry(const json& obj);

// Whether a file is read as manifests: *.yaml, *.yml, *.json.
bool is_manifest_file(std::string_view path);

// The render's size limits (kMaxFileBytes, kMaxBytes) as limits on reading
// the files from git, so that an oversized file is refused from its header
// before it is read into memory.
inline git::ReadLimits read_limits() {
  return {.max_files = git::ReadLimits{}.max_files,
          .max_file_bytes = kMaxFileBytes,
          .max_total_bytes = kMaxBytes};
}

}  // namespace cairn::manifest
