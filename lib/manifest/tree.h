// A read-only tree of files that a render reads: the repository at one
// commit (the operator and the webhook) or a local directory (`kubectl cairn
// render DIR`). A kustomization may reach outside the Release's path
// (`../base`), so a render reads through this, not a list of files.
//
// Paths are '/'-separated and relative to the tree's root, normalised: no
// leading '/', no "." or ".." segments, no trailing '/'; "" is the root.
// Callers normalise before asking (normalize_path) and refuse paths that
// climb above the root.
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "git/git.h"

namespace cairn::manifest {

class FileTree {
 public:
  virtual ~FileTree() = default;
  // Every file under `dir` (recursively; `dir` may also name one file),
  // sorted by path. An empty vector when nothing is there. The error is a
  // message a person can act on (never file contents).
  virtual std::expected<std::vector<git::File>, std::string> files_under(
      const std::string& dir) const = 0;
  // One file's content; nullopt when there is no such file (a directory is
  // not a file).
  virtual std::expected<std::optional<std::string>, std::string> read(
      const std::string& path) const = 0;
  // Whether `path` is a directory holding at least one file.
  virtual std::expected<bool, std::string> is_dir(const std::string& path) const = 0;
};

// A tree held in memory (unit tests, and a commit's files read once).
class MemoryTree final : public FileTree {
 public:
  MemoryTree() = default;
  explicit MemoryTree(std::vector<git::File> files);
  void add(std::string path, std::string content);

  std::expected<std::vector<git::File>, std::string> files_under(
      const std::string& dir) const override;
  std::expected<std::optional<std::string>, std::string> read(
      const std::string& path) const override;
  std::expected<bool, std::string> is_dir(const std::string& path) const override;

 private:
  std::map<std::string, std::string> files_;  // path -> content
};

// `base` joined with `rel` and normalised ("a/b" + "../c" -> "a/c"); nullopt
// when the result would climb above the root, or `rel` is absolute.
std::optional<std::string> join_path(std::string_view base, std::string_view rel);

}  // namespace cairn::manifest
