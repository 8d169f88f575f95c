// `helm template` in C++: renders a chart read through a FileTree with Go's
// template semantics, Helm's objects (.Values .Release .Chart .Capabilities
// .Template .Files) and the sprig/Helm functions (functions.h).
//
// Pure: no I/O but the FileTree, no network, no clock except what
// templates ask for (now, genCA). Charts that need the network (a
// dependency that is not vendored in charts/, a .tgz archive) are refused
// with an error naming the dependency.
#pragma once

#include <cstddef>
#include <expected>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "json/json.h"
#include "manifest/tree.h"

namespace cairn::helm {

struct ChartOptions {
  std::string release_name = "release-name";
  std::string release_namespace = "default";
  // spec.helm.values: applied last, over the values files.
  json values = json::object();
  // spec.helm.valuesFiles' contents, in order (read by the caller).
  std::vector<std::string> values_files;
  // .Capabilities: "v1.28.0"; the API versions APIVersions.Has knows
  // (empty: Kubernetes' built-in group/versions, as `helm template`).
  std::string kube_version = "v1.28.0";
  std::vector<std::string> api_versions;
  bool is_install = true;
  // CRDs from crds/ (of the chart and its enabled subcharts) come first.
  bool include_crds = true;
};

struct RenderedTemplate {
  std::string name;         // "mychart/templates/deploy.yaml"
  std::string source_file;  // the file's path in the tree
  std::string text;         // what the template rendered ("---" documents kept)
  bool crd = false;         // copied verbatim from crds/
};

struct Error {
  enum class Code {
    kInvalidChart,  // Chart.yaml, values or layout wrong
    kNeedsNetwork,  // a dependency to fetch, an archive, an OCI/http chart
    kRender,        // a template failed (parse or execution)
    kTree,          // the FileTree failed
  };
  Code code;
  std::string message;
};

std::expected<std::vector<RenderedTemplate>, Error> render_chart(const manifest::FileTree& tree,
                                                                 const std::string& chart_dir,
                                                                 const ChartOptions& opts);

// Renders through a small LRU cache keyed by the tree's identity (a commit
// id the caller vouches for; "" hashes the chart's files) and the options.
// Thread-safe.
class ChartCache {
 public:
  explicit ChartCache(std::size_t capacity = 64) : capacity_(capacity) {}
  std::expected<std::vector<RenderedTemplate>, Error> render(const manifest::FileTree& tree,
                                                             const std::string& tree_id,
                                                             const std::string& chart_dir,
                                                             const ChartOptions& opts);
  std::size_t hits() const;

 private:
  using Result = std::shared_ptr<const std::vector<RenderedTemplate>>;
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, Result>> lru_;  // GUARDED_BY(mu_), most recent first
  std::map<std::string, std::list<std::pair<std::string, Result>>::iterator>
      index_;             // GUARDED_BY(mu_)
  std::size_t hits_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace cairn::helm
