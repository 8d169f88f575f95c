#include "manifest/render_cache.h"

#include <utility>

namespace cairn::manifest {

std::string render_key(const RenderInput& in) {
  // NUL separates fields: none of them can contain one.
  std::string k;
  for (const std::string* s :
       {&in.commit, &in.path, &in.release_namespace, &in.release_name, &in.source_url}) {
    k += *s;
    k += '\0';
  }
  k += in.cluster_scope ? '1' : '0';
  k += in.tree ? 't' : 'f';
  for (std::size_t n : {in.max_documents, in.max_bytes, in.max_file_bytes}) {
    k += '\0' + std::to_string(n);
  }
  // A chart's render depends on spec.helm and the Kubernetes version too.
  k += '\0' + in.kube_version + '\0';
  if (in.helm) {
    k += 'h';
    // JSON: strings escape NUL, so the encoding is unambiguous; nlohmann keeps
    // object keys sorted, so equal values give equal keys.
    const json helm = *in.helm;
    k += helm.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return k;
}

std::shared_ptr<const RenderResult> RenderCache::render(const RenderInput& in) {
  const std::string key = render_key(in);
  {
    std::lock_guard lock(mu_);
    if (auto it = items_.find(key); it != items_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.result;
    }
  }
  auto result = std::make_shared<const RenderResult>(manifest::render(in));
  std::lock_guard lock(mu_);
  if (auto it = items_.find(key); it != items_.end()) return it->second.result;
  lru_.push_front(key);
  items_.emplace(key, Entry{result, lru_.begin()});
  while (items_.size() > capacity_) {
    items_.erase(lru_.back());
    lru_.pop_back();
  }
  return result;
}

std::size_t RenderCache::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

}  // namespace cairn::manifest
