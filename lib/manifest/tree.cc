#include "manifest/tree.h"

#include <utility>

namespace cairn::manifest {

MemoryTree::MemoryTree(std::vector<git::File> files) {
  for (auto& f : files) files_[std::move(f.path)] = std::move(f.content);
}

void MemoryTree::add(std::string path, std::string content) {
  files_[std::move(path)] = std::move(content);
}

std::expected<std::vector<git::File>, std::string> MemoryTree::files_under(
    const std::string& dir) const {
  std::vector<git::File> out;
  if (dir.empty()) {
    for (const auto& [p, c] : files_) out.push_back({p, c});
    return out;
  }
  if (auto it = files_.find(dir); it != files_.end()) {
    out.push_back({it->first, it->second});
    return out;
  }
  const std::string prefix = dir + "/";
  for (auto it = files_.lower_bound(prefix); it != files_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back({it->first, it->second});
  }
  return out;
}

std::expected<std::optional<std::string>, std::string> MemoryTree::read(
    const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::optional<std::string>{};
  return std::optional<std::string>{it->second};
}

std::expected<bool, std::string> MemoryTree::is_dir(const std::string& path) const {
  if (path.empty()) return !files_.empty();
  const std::string prefix = path + "/";
  auto it = files_.lower_bound(prefix);
  return it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

std::optional<std::string> join_path(std::string_view base, std::string_view rel) {
  if (!rel.empty() && rel.front() == '/') return std::nullopt;
  std::vector<std::string> parts;
  auto push = [&](std::string_view s) -> bool {
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find('/', start);
      if (end == std::string_view::npos) end = s.size();
      std::string_view seg = s.substr(start, end - start);
      if (seg == "..") {
        if (parts.empty()) return false;
        parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.emplace_back(seg);
      }
      start = end + 1;
    }
    return true;
  };
  if (!push(base) || !push(rel)) return std::nullopt;
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

}  // namespace cairn::manifest
