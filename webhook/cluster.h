// The webhook's view of the cluster and of git, behind the interfaces the
// policy uses: informers over Namespaces, Releases and Pipelines (so a
// decision reads memory, not the apiserver), a libgit2 mirror per
// repository, and a warmer that fetches a Release's repository as soon as
// the Release is seen, so that the first review of its objects is a hit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "git/git.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "webhook/policy.h"

namespace cairn::webhook {

class KubeClusterView final : public ClusterView {
 public:
  KubeClusterView(kube::Client& client, kube::Store& namespaces, kube::Store& releases,
                  kube::Store& pipelines);
  std::expected<NamespaceInfo, std::string> namespace_info(const std::string& ns) override;
  std::vector<std::shared_ptr<const ReleaseInfo>> releases(const std::string& ns) override;
  std::expected<std::shared_ptr<const ReleaseInfo>, std::string> fresh_release(
      const std::string& ns, const std::string& name) override;
  std::optional<std::string> run_phase(const std::string& ns, const std::string& pipeline,
                                       const std::string& commit) override;
  std::optional<std::string> pipeline_source(const std::string& ns,
                                             const std::string& pipeline) override;
  std::expected<std::vector<std::string>, std::string> signers(const ReleaseInfo& r) override;
  std::optional<bool> is_namespaced(const std::string& api_version,
                                    const std::string& kind) override;

 private:
  kube::Client& client_;
  kube::Store& namespaces_;
  kube::Store& releases_;
  kube::Store& pipelines_;
  std::mutex mu_;
  // Parsed once per resourceVersion.
  std::map<std::string, std::pair<std::string, std::shared_ptr<const ReleaseInfo>>> parsed_;
  std::map<std::string, std::pair<std::string, std::shared_ptr<const api::PipelineStatus>>> runs_;
  struct Keys {
    std::chrono::steady_clock::time_point read;
    std::vector<std::string> keys;
  };
  std::map<std::string, Keys> signers_;  // "ns/secret", re-read after 30 s
};

class KubeGitView final : public GitView {
 public:
  KubeGitView(kube::Client& client, std::string cache_dir, std::chrono::milliseconds timeout);
  std::shared_ptr<git::Source> source(const std::string& url) override;
  std::expected<void, std::string> fetch(const ReleaseInfo& r, git::Source& source) override;
  // The same with a longer bound, for the warmer.
  std::expected<void, std::string> fetch(const ReleaseInfo& r, git::Source& source,
                                         std::chrono::milliseconds timeout);

 private:
  kube::Client& client_;
  git::Cache cache_;
  std::chrono::milliseconds timeout_;
};

// Fetches the repository of each Release it is told about, on its own
// thread, once per repository per `interval`.
class Warmer {
 public:
  Warmer(KubeClusterView& cluster, KubeGitView& git, std::chrono::seconds interval);
  ~Warmer();
  void add(const std::string& ns);  // warm every Release in the namespace
  void stop();

 private:
  void run();
  KubeClusterView& cluster_;
  KubeGitView& git_;
  std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::map<std::string, std::chrono::steady_clock::time_point> fetched_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace cairn::webhook
