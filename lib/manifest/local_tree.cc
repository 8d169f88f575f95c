#include "manifest/local_tree.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

namespace cairn::manifest {

namespace fs = std::filesystem;

LocalTree::LocalTree(fs::path root, std::size_t max_file_bytes) : max_file_bytes_(max_file_bytes) {
  std::error_code ec;
  root_ = fs::weakly_canonical(root, ec);
  if (ec) root_ = std::move(root);
}

std::expected<std::optional<fs::path>, std::string> LocalTree::resolve(
    const std::string& rel) const {
  const fs::path p = rel.empty() ? root_ : root_ / rel;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(p, ec)) || ec) return std::optional<fs::path>{};
  const fs::path real = fs::weakly_canonical(p, ec);
  if (ec) return std::unexpected(rel + ": " + ec.message());
  auto [r, _] = std::mismatch(root_.begin(), root_.end(), real.begin(), real.end());
  if (r != root_.end()) {
    return std::unexpected(rel + " is a symbolic link that leads outside " + root_.string() +
                           "; the render reads only files under its root");
  }
  if (!fs::exists(real, ec)) return std::optional<fs::path>{};
  return std::optional<fs::path>{real};
}

std::expected<std::optional<std::string>, std::string> LocalTree::read(
    const std::string& path) const {
  auto real = resolve(path);
  if (!real) return std::unexpected(real.error());
  std::error_code ec;
  if (!*real || !fs::is_regular_file(**real, ec)) return std::optional<std::string>{};
  const auto size = fs::file_size(**real, ec);
  if (ec) return std::unexpected(path + ": " + ec.message());
  if (size > max_file_bytes_) {
    return std::unexpected(path + " has " + std::to_string(size) +
                           " bytes, more than the limit of " + std::to_string(max_file_bytes_) +
                           " bytes for one file");
  }
  std::ifstream in(**real, std::ios::binary);
  if (!in) return std::unexpected(path + ": cannot be read");
  std::ostringstream s;
  s << in.rdbuf();
  return std::optional<std::string>{s.str()};
}

std::expected<bool, std::string> LocalTree::is_dir(const std::string& path) const {
  auto real = resolve(path);
  if (!real) return std::unexpected(real.error());
  std::error_code ec;
  return *real && fs::is_directory(**real, ec);
}

std::expected<std::vector<git::File>, std::string> LocalTree::files_under(
    const std::string& dir) const {
  std::vector<git::File> out;
  auto real = resolve(dir);
  if (!real) return std::unexpected(real.error());
  if (!*real) return out;
  std::error_code ec;
  if (fs::is_regular_file(**real, ec)) {
    auto content = read(dir);
    if (!content) return std::unexpected(content.error());
    out.push_back({dir, std::move(**content)});
    return out;
  }
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(**real, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string rel =
        (dir.empty() ? "" : dir + "/") + fs::relative(it->path(), **real, ec).generic_string();
    if (it->is_symlink(ec)) {
      auto target = resolve(rel);  // refuses a link that leaves the root
      if (!target) return std::unexpected(target.error());
      if (!*target || !fs::is_regular_file(**target, ec)) continue;
    } else if (!it->is_regular_file(ec)) {
      continue;
    }
    paths.push_back(rel);
  }
  if (ec) return std::unexpected(dir + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    auto content = read(p);
    if (!content) return std::unexpected(content.error());
    if (*content) out.push_back({p, std::move(**content)});
  }
  return out;
}

}  // namespace cairn::manifest
