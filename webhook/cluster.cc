#include "webhook/cluster.h"

#include <algorithm>

#include "api/names.h"
#include "api/validate.h"
#include "log/log.h"
#include "source/source.h"

namespace cairn::webhook {

using kube::json;
using Clock = std::chrono::steady_clock;

KubeClusterView::KubeClusterView(kube::Client& client, kube::Store& namespaces,
                                 kube::Store& releases, kube::Store& pipelines)
    : client_(client), namespaces_(namespaces), releases_(releases), pipelines_(pipelines) {}

std::expected<NamespaceInfo, std::string> KubeClusterView::namespace_info(const std::string& ns) {
  if (auto obj = namespaces_.get(ns)) return namespace_info_of(*obj);
  // The informer caches governed namespaces only, and may not have seen one
  // just created or just labelled: ask. What cannot be read is not assumed
  // ungoverned (the apiserver sent the request because the namespace's
  // labels matched).
  auto got = client_.get(kube::res::kNamespaces, "", ns);
  if (!got) {
    if (got.error().code == kube::Code::kNotFound) return NamespaceInfo{};
    return std::unexpected("reading namespace " + ns + ": " + got.error().to_string());
  }
  return namespace_info_of(*got);
}

std::vector<std::shared_ptr<const ReleaseInfo>> KubeClusterView::releases(const std::string& ns) {
  std::vector<std::shared_ptr<const ReleaseInfo>> out;
  for (const auto& obj : releases_.by_index(kube::Store::kByNamespace, ns)) {
    const json& md = (*obj)["metadata"];
    const std::string name = md.value("name", "");
    const std::string rv = md.value("resourceVersion", "");
    const std::string key = ns + "/" + name;
    {
      std::lock_guard lock(mu_);
      if (auto it = parsed_.find(key); it != parsed_.end() && it->second.first == rv) {
        if (it->second.second) out.push_back(it->second.second);
        continue;
      }
    }
    std::shared_ptr<const ReleaseInfo> info = release_info_of(*obj);
    std::lock_guard lock(mu_);
    parsed_[key] = {rv, info};
    if (info) out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  return out;
}

std::expected<std::shared_ptr<const ReleaseInfo>, std::string> KubeClusterView::fresh_release(
    const std::string& ns, const std::string& name) {
  kube::ApiResource res{.group = std::string(api::kGroup),
                        .version = std::string(api::kVersion),
                        .resource = std::string(api::kReleaseResource),
                        .kind = std::string(api::kReleaseKind),
                        .namespaced = true};
  auto got = client_.get(res, ns, name);
  if (!got) {
    if (got.error().code == kube::Code::kNotFound) return nullptr;
    return std::unexpected(got.error().to_string());
  }
  return release_info_of(*got);
}

std::optional<std::string> KubeClusterView::pipeline_source(const std::string& ns,
                                                            const std::string& pipeline) {
  auto obj = pipelines_.get(ns + "/" + pipeline);
  if (!obj) return std::nullopt;
  const json spec = obj->value("spec", json::object());
  if (!spec.is_object()) return std::string();
  const json src = spec.value("source", json::object());
  if (!src.is_object()) return std::string();
  return src.value("url", "");
}

std::optional<std::string> KubeClusterView::run_phase(const std::string& ns,
                                                      const std::string& pipeline,
                                                      const std::string& commit) {
  auto obj = pipelines_.get(ns + "/" + pipeline);
  if (!obj) return std::nullopt;
  const std::string rv = (*obj)["metadata"].value("resourceVersion", "");
  std::shared_ptr<const api::PipelineStatus> st;
  {
    std::lock_guard lock(mu_);
    if (auto it = runs_.find(ns + "/" + pipeline); it != runs_.end() && it->second.first == rv)
      st = it->second.second;
  }
  if (!st) {
    auto parsed = api::parse_pipeline_status(obj->value("status", json::object()));
    st = std::make_shared<const api::PipelineStatus>(parsed ? std::move(*parsed)
                                                            : api::PipelineStatus{});
    std::lock_guard lock(mu_);
    runs_[ns + "/" + pipeline] = {rv, st};
  }
  std::string phase;
  for (const auto& r : st->runs) {
    if (r.commit != commit) continue;
    if (r.phase == api::RunPhase::kSucceeded) return "Succeeded";
    if (phase.empty()) phase = std::string(api::to_string(r.phase));
  }
  return phase;
}

std::expected<std::vector<std::string>, std::string> KubeClusterView::signers(
    const ReleaseInfo& r) {
  if (!r.spec.source.verify.signers_secret_ref)
    return std::unexpected("spec.source.verify.signersSecretRef is not set");
  const std::string key = r.ns + "/" + r.spec.source.verify.signers_secret_ref->name;
  {
    std::lock_guard lock(mu_);
    if (auto it = signers_.find(key);
        it != signers_.end() && Clock::now() - it->second.read < std::chrono::seconds(30))
      return it->second.keys;
  }
  auto keys = source::read_signers(client_, r.ns, r.spec.source);
  if (!keys) return std::unexpected(keys.error().message);
  std::lock_guard lock(mu_);
  signers_[key] = {Clock::now(), *keys};
  return *keys;
}

std::optional<bool> KubeClusterView::is_namespaced(const std::string& api_version,
                                                   const std::string& kind) {
  auto r = client_.resource_for(api_version, kind);
  if (!r) return std::nullopt;
  return r->namespaced;
}

KubeGitView::KubeGitView(kube::Client& client, std::string cache_dir,
                         std::chrono::milliseconds timeout)
    : client_(client), cache_(std::move(cache_dir)), timeout_(timeout) {}

std::shared_ptr<git::Source> KubeGitView::source(const std::string& url) {
  return cache_.mirror(url);
}

std::expected<void, std::string> KubeGitView::fetch(const ReleaseInfo& r, git::Source& source) {
  return fetch(r, source, timeout_);
}

std::expected<void, std::string> KubeGitView::fetch(const ReleaseInfo& r, git::Source& source,
                                                    std::chrono::milliseconds timeout) {
  auto creds = source::read_credentials(client_, r.ns, r.spec.source);
  if (!creds) return std::unexpected(creds.error().message);
  git::FetchOptions opts;
  opts.creds = std::move(*creds);
  opts.timeout_ms = timeout;
  opts.stall_timeout_ms = timeout;
  auto res = source.fetch(opts);
  if (!res) return std::unexpected(res.error().to_string());
  return {};
}

Warmer::Warmer(KubeClusterView& cluster, KubeGitView& git, std::chrono::seconds interval)
    : cluster_(cluster), git_(git), interval_(interval), thread_([this] { run(); }) {}

Warmer::~Warmer() { stop(); }

void Warmer::add(const std::string& ns) {
  std::lock_guard lock(mu_);
  if (std::find(queue_.begin(), queue_.end(), ns) == queue_.end()) queue_.push_back(ns);
  cv_.notify_one();
}

void Warmer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Warmer::run() {
  for (;;) {
    std::string ns;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
      if (stopped_) return;
      ns = queue_.front();
      queue_.pop_front();
    }
    for (const auto& rel : cluster_.releases(ns)) {
      const std::string url = git::normalize_url(rel->spec.source.url);
      {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        auto it = fetched_.find(url);
        if (it != fetched_.end() && Clock::now() - it->second < interval_) continue;
        fetched_[url] = Clock::now();
      }
      auto src = git_.source(rel->spec.source.url);
      auto res = git_.fetch(*rel, *src, std::chrono::seconds(60));
      if (!res)
        log::warn("warming the mirror failed", {{"release", rel->key()},
                                                {"repository", git::redact_url(url)},
                                                {"error", res.error()}});
    }
  }
}

}  // namespace cairn::webhook
