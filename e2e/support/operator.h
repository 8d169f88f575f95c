// The operator as a child process of a test (so a test can SIGKILL it and
// start it again), and git repositories that tests commit to and the real
// git server serves.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kube/client.h"
#include "manifests.h"

namespace cairn::e2e {

class OperatorProcess {
 public:
  // Watches only `ns`. Extra flags are appended. Replicas of one namespace
  // need distinct `instance` names (their log and git cache are kept apart).
  explicit OperatorProcess(std::string ns, std::vector<std::string> extra = {},
                           const std::string& instance = "");
  ~OperatorProcess();
  void start();
  void kill9();
  void stop();  // SIGTERM and wait
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // -1 when not running
  const std::string& log_path() const { return log_; }
  std::string log_tail(size_t bytes = 4000) const;
  // GET /metrics from the operator (Prometheus text format).
  std::string metrics() const;
  int metrics_port() const { return metrics_port_; }

 private:
  std::string ns_;
  std::vector<std::string> extra_;
  std::string log_, cache_;
  int probe_port_;
  int metrics_port_;
  pid_t pid_ = -1;
};

// VmHWM (peak resident set) of a process, in KiB, from /proc/<pid>/status;
// -1 if it is gone.
long peak_rss_kib(pid_t pid);

// Cairn's own kinds.
inline const kube::ApiResource kReleases{"cairn.dev", "v1alpha1", "releases", "Release", true};
inline const kube::ApiResource kPipelines{"cairn.dev", "v1alpha1", "pipelines", "Pipeline", true};

// The Release ns/`name` once `commit` has reached `phase` (Deployed,
// RolledBack, ...), or the reason it did not within `limit`.
kube::Result<kube::json> wait_release(const std::string& ns, const std::string& commit,
                                      const std::string& phase,
                                      std::chrono::seconds limit = std::chrono::seconds(90),
                                      const std::string& name = "web");

// The run of Pipeline ns/`name` for `commit` once it has finished
// (Succeeded, Failed or Cancelled), or the reason it did not within `limit`.
kube::Result<kube::json> wait_run(const std::string& ns, const std::string& name,
                                  const std::string& commit,
                                  std::chrono::seconds limit = std::chrono::seconds(60));

// deploy/app.yaml of the e2e apps (app_yaml in manifests.h): Deployment
// "web" (2 replicas of `image`; kept unready by the node simulator unless
// `ready`), Service "web", and with `with_config` ConfigMap "web-config".
std::string web_app_yaml(const std::string& image, bool with_config, bool ready = true);

// A repository on the e2e git server (hack/git-server.sh), with a working
// copy to commit from. Pushes go straight to the bare repository's path.
class GitRepo {
 public:
  explicit GitRepo(const std::string& name);
  ~GitRepo();
  // Writes the files (path -> content; empty content deletes), commits and
  // pushes to `branch`. Returns the full commit id.
  std::string commit(const std::map<std::string, std::string>& files, const std::string& message,
                     const std::string& branch = "main");
  // `n` commits, the i-th writing files(i), then one push. Returns their
  // ids, oldest first.
  std::vector<std::string> commits(
      int n, const std::function<std::map<std::string, std::string>(int)>& files,
      const std::string& message, const std::string& branch = "main");
  // A commit of exactly these files whose history shares nothing with what
  // `branch` had (an orphan), force-pushed over it. Returns its id.
  std::string rewrite(const std::map<std::string, std::string>& files, const std::string& message,
                      const std::string& branch = "main");
  // Commits the files and pushes the commit to refs/cairn-e2e/staged, which
  // no Release or Pipeline fetches (refs/heads and refs/tags only), so a test
  // can change the server's objects before a branch points at them.
  std::string stage(const std::map<std::string, std::string>& files, const std::string& message);
  const std::string& bare() const { return bare_; }  // the served bare repository
  std::string git_url() const;                       // git://127.0.0.1:PORT/<name>.git
  std::string https_url() const;                     // https://127.0.0.1:PORT/git/<name>.git
  const std::string& name() const { return name_; }

 private:
  // Writes the files into the working copy (empty content deletes).
  void write(const std::map<std::string, std::string>& files);
  std::string name_, bare_, work_;
};

// KEY=VALUE from <git state>/git.env (CAIRN_GIT_CA, CAIRN_GIT_USER, ...).
std::string git_env(const std::string& key);
// KEY=VALUE from <prometheus state>/prom.env (CAIRN_PROMETHEUS_URL,
// CAIRN_PROMETHEUS_TARGETS) written by hack/prometheus.sh.
std::string prom_env(const std::string& key);

}  // namespace cairn::e2e
