// A FileTree over a directory on the local disk (`kubectl cairn render DIR`).
// A symbolic link is followed only when its target stays under the root: a
// link that leaves it is an error naming the link (a render must not read
// the rest of the machine). Files larger than the read limit are refused
// before they are read.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "manifest/render.h"
#include "manifest/tree.h"

namespace cairn::manifest {

class LocalTree final : public FileTree {
 public:
  explicit LocalTree(std::filesystem::path root, std::size_t max_file_bytes = kMaxFileBytes);

  std::expected<std::vector<git::File>, std::string> files_under(
      const std::string& dir) const override;
  std::expected<std::optional<std::string>, std::string> read(
      const std::string& path) const override;
  std::expected<bool, std::string> is_dir(const std::string& path) const override;

 private:
  // The real path of `rel` when it stays under the root; an error when a
  // link leads out; nullopt when nothing is there.
  std::expected<std::optional<std::filesystem::path>, std::string> resolve(
      const std::string& rel) const;

  std::filesystem::path root_;  // canonical
  std::size_t max_file_bytes_;
};

}  // namespace cairn::manifest
