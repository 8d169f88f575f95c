// A FileTree over a repository at one commit (git::Source), for the operator
// and the webhook. What it reads it keeps: a kustomization asks for the same
// directories and files many times (each overlay reads its bases), and a
// tree is used for one render. Safe for concurrent use.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "git/git.h"
#include "manifest/render.h"
#include "manifest/tree.h"

namespace cairn::manifest {

class GitTree final : public FileTree {
 public:
  GitTree(git::Source& source, std::string commit, git::ReadLimits limits);

  std::expected<std::vector<git::File>, std::string> files_under(
      const std::string& dir) const override;
  std::expected<std::optional<std::string>, std::string> read(
      const std::string& path) const override;
  std::expected<bool, std::string> is_dir(const std::string& path) const override;

 private:
  git::Source& source_;
  const std::string commit_;
  const git::ReadLimits limits_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::vector<git::File>> dirs_;  // guarded by mu_
};

}  // namespace cairn::manifest

namespace cairn::manifest {

// What render_at needs of a Release besides the commit (its spec, as the
// operator, the webhook and `kubectl cairn render release/NAME` read it).
struct ReleaseRef {
  std::string ns, name;
  std::string source_url;  // spec.source.url as written (never credentials)
  std::string path;        // spec.path
  bool cluster_scope = false;
  std::optional<api::HelmSpec> helm;  // spec.helm: values files, values, release name

  // Everything of a Release's spec that its render depends on: the operator,
  // the webhook and the CLI build their ReleaseRef with this, so that none
  // of them forgets a field.
  static ReleaseRef of(std::string ns, std::string name, const api::ReleaseSpec& spec);
  // A cache key of the render of this Release at `commit`: equal keys render
  // the same objects (a values change gives a new key).
  std::string key(const std::string& commit) const;
};

// The one render of a Release at a commit, shared by the operator, the
// webhook and the kubectl plugin so that all three see the same objects:
// spec.path read from the commit's tree (a kustomization is built, plain
// manifests are read), validated, stamped and sorted (render.h).
// `is_namespaced` is discovery (may be empty).
std::expected<Rendered, std::vector<RenderError>> render_at(
    git::Source& source, const std::string& commit, const ReleaseRef& release,
    std::function<std::optional<bool>(const std::string& api_version, const std::string& kind)>
        is_namespaced = {});

}  // namespace cairn::manifest
