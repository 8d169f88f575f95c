#include "manifest/git_tree.h"

#include <utility>

#include "manifest/render_cache.h"

namespace cairn::manifest {

GitTree::GitTree(git::Source& source, std::string commit, git::ReadLimits limits)
    : source_(source), commit_(std::move(commit)), limits_(limits) {}

std::expected<std::vector<git::File>, std::string> GitTree::files_under(
    const std::string& dir) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = dirs_.find(dir); it != dirs_.end()) return it->second;
    // A directory read before that holds this one answers without git.
    for (const auto& [d, files] : dirs_) {
      if (!d.empty() && dir.compare(0, d.size() + 1, d + "/") != 0) continue;
      std::vector<git::File> out;
      for (const auto& f : files) {
        if (f.path == dir || f.path.starts_with(dir.empty() ? "" : dir + "/")) out.push_back(f);
      }
      return out;
    }
  }
  auto files = source_.files(commit_, dir.empty() ? "." : dir, {}, limits_);
  std::vector<git::File> out;
  if (files) {
    out = std::move(*files);
  } else if (files.error().code != git::Code::kNotFound) {
    return std::unexpected(files.error().message);
  }
  std::lock_guard lock(mu_);
  dirs_[dir] = out;
  return out;
}

std::expected<std::optional<std::string>, std::string> GitTree::read(
    const std::string& path) const {
  // Reading the file's directory at once: a kustomization next reads its
  // siblings (resources, patches), and absent names (kustomization.yml)
  // cost no git call.
  const auto slash = path.rfind('/');
  auto files = files_under(slash == std::string::npos ? "" : path.substr(0, slash));
  if (!files) return std::unexpected(files.error());
  for (const auto& f : *files) {
    if (f.path == path) return std::optional<std::string>{f.content};
  }
  return std::optional<std::string>{};
}

std::expected<bool, std::string> GitTree::is_dir(const std::string& path) const {
  auto files = files_under(path);
  if (!files) return std::unexpected(files.error());
  return !files->empty() && !(files->size() == 1 && (*files)[0].path == path);
}

}  // namespace cairn::manifest

namespace cairn::manifest {

ReleaseRef ReleaseRef::of(std::string ns, std::string name, const api::ReleaseSpec& spec) {
  return {.ns = std::move(ns),
          .name = std::move(name),
          .source_url = spec.source.url,
          .path = spec.path,
          .cluster_scope = spec.cluster_scope,
          .helm = spec.helm};
}

namespace {

RenderInput input_of(const ReleaseRef& release, const std::string& commit) {
  return {.release_namespace = release.ns,
          .release_name = release.name,
          .commit = commit,
          .source_url = release.source_url,
          .cluster_scope = release.cluster_scope,
          .path = release.path,
          .helm = release.helm};
}

}  // namespace

std::string ReleaseRef::key(const std::string& commit) const {
  // render_at reads through a tree: the key says so, as RenderCache's would.
  return render_key(input_of(*this, commit)) + "\0tree";
}

std::expected<Rendered, std::vector<RenderError>> render_at(
    git::Source& source, const std::string& commit, const ReleaseRef& release,
    std::function<std::optional<bool>(const std::string&, const std::string&)> is_namespaced) {
  GitTree tree(source, commit, read_limits());
  RenderInput in = input_of(release, commit);
  in.tree = &tree;
  in.is_namespaced = std::move(is_namespaced);
  return render(in);
}

}  // namespace cairn::manifest
