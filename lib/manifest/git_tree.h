// A FileTree over a repository at one commit (git::Source), for the operator
// and the webhook. What it reads it keeps: a kustomization asks for the same
// directories and files many times (each overlay reads its bases), and a
// tree is used for one render. Safe for concurrent use.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "git/git.h"
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
