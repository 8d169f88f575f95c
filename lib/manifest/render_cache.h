// Renders shared per (commit, path, options): the operator, the webhook and
// drift checks render the same Release at the same commit again and again,
// and a commit's content never changes. Safe for concurrent use; at most
// `capacity` results are kept, the least recently used dropped first.
//
// The key is the commit, spec.path and everything else in RenderInput that
// changes the output (release, source URL, cluster scope, limits, spec.helm
// and the Kubernetes version a chart sees).
// RenderInput::is_namespaced is not in it: use one cache per discovery view.
// Two threads missing the same key at once both render (the first result
// stored wins); a render is pure, so both results are the same.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "manifest/render.h"

namespace cairn::manifest {

using RenderResult = std::expected<Rendered, std::vector<RenderError>>;

class RenderCache {
 public:
  explicit RenderCache(std::size_t capacity = 256) : capacity_(capacity) {}
  RenderCache(const RenderCache&) = delete;
  RenderCache& operator=(const RenderCache&) = delete;

  // The render of `in` (errors are cached too: the same commit fails the
  // same way).
  std::shared_ptr<const RenderResult> render(const RenderInput& in);
  std::size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const RenderResult> result;
    std::list<std::string>::iterator lru;
  };
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;          // guarded by mu_; most recent first
  std::map<std::string, Entry> items_;  // guarded by mu_
};

// The cache key of a render.
std::string render_key(const RenderInput& in);

}  // namespace cairn::manifest
