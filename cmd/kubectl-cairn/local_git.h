// What a local render learns from git: the HEAD of the work tree that holds
// the directory (libgit2 walks up to the repository; worktrees included) and
// the work tree's root, which bounds what a kustomization may read.
#pragma once

#include <optional>
#include <string>

namespace cairn::cli {

struct LocalRepo {
  std::string workdir;  // the work tree's root, absolute, without a trailing '/'
  std::string head;     // full id of HEAD; empty on an unborn branch
};

// nullopt when `dir` is in no git work tree (or a bare repository).
std::optional<LocalRepo> local_repo(const std::string& dir);

}  // namespace cairn::cli
