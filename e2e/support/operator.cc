#include "operator.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "cluster.h"

namespace cairn::e2e {

namespace fs = std::filesystem;

namespace {
std::string env_file_value(const char* state_var, const std::string& suffix,
                           const std::string& file, const std::string& key) {
  const char* state = std::getenv(state_var);
  std::string dir = state ? state : "";
  if (dir.empty()) {
    const char* kc = std::getenv("KUBECONFIG");
    std::string k = kc ? kc : "";
    dir = k.substr(0, k.rfind('/')) + suffix;
  }
  std::ifstream in(dir + "/" + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}
}  // namespace

std::string prom_env(const std::string& key) {
  // <cluster state>-prom (see e2e/CMakeLists.txt).
  return env_file_value("CAIRN_PROM_STATE", "-prom", "prom.env", key);
}

long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
  }
  return -1;
}

std::string git_env(const std::string& key) {
  // The fixture keeps the git server's state beside the cluster's:
  // <cluster state>-git (see e2e/CMakeLists.txt).
  const char* state = std::getenv("CAIRN_GIT_STATE");
  std::string dir = state ? state : "";
  if (dir.empty()) {
    const char* kc = std::getenv("KUBECONFIG");
    std::string k = kc ? kc : "";
    dir = k.substr(0, k.rfind('/')) + "-git";
  }
  std::ifstream in(dir + "/git.env");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}

OperatorProcess::OperatorProcess(std::string ns, std::vector<std::string> extra,
                                 const std::string& instance)
    : ns_(std::move(ns)), extra_(std::move(extra)) {
  std::string dir = fs::temp_directory_path() /
                    ("cairn-e2e-op-" + ns_ + (instance.empty() ? "" : "-" + instance));
  fs::create_directories(dir);
  log_ = dir + "/operator.log";
  cache_ = dir + "/git-cache";
  probe_port_ = free_port();
  do {
    metrics_port_ = free_port();
  } while (metrics_port_ == probe_port_);
  start();
}

OperatorProcess::~OperatorProcess() { stop(); }

void OperatorProcess::start() {
  std::vector<std::string> args = {CAIRN_OPERATOR_BIN,
                                   "--namespace",
                                   ns_,
                                   "--probe-addr",
                                   "127.0.0.1:" + std::to_string(probe_port_),
                                   "--metrics-addr",
                                   "127.0.0.1:" + std::to_string(metrics_port_),
                                   "--git-cache-dir",
                                   cache_,
                                   "--checkout-image",
                                   "alpine/git:2.43.0"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // Ready when its informers have synced.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto [rc, out] =
        sh("curl -fsS http://127.0.0.1:" + std::to_string(probe_port_) + "/readyz 2>/dev/null");
    if (rc == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "e2e: operator did not become ready; log:\n" << log_tail() << "\n";
}

void OperatorProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void OperatorProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill9();
}

std::string OperatorProcess::metrics() const {
  return sh("curl -fsS http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics").second;
}

std::string OperatorProcess::log_tail(size_t bytes) const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

GitRepo::GitRepo(const std::string& name) : name_(name) {
  std::string repos = git_env("CAIRN_GIT_REPOS");
  bare_ = repos + "/" + name + ".git";
  work_ = fs::temp_directory_path() / ("cairn-e2e-work-" + name);
  fs::remove_all(bare_);
  fs::remove_all(work_);
  sh("git init -q --bare " + bare_ + " && git -C " + bare_ +
     " config http.receivepack true && touch " + bare_ + "/git-daemon-export-ok");
  sh("git init -q -b main " + work_ + " && git -C " + work_ + " remote add origin " + bare_);
}

GitRepo::~GitRepo() { fs::remove_all(work_); }

void GitRepo::write(const std::map<std::string, std::string>& files) {
  for (const auto& [path, content] : files) {
    fs::path p = fs::path(work_) / path;
    if (content.empty()) {
      fs::remove(p);
      continue;
    }
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
}

std::string GitRepo::commit(const std::map<std::string, std::string>& files,
                            const std::string& message, const std::string& branch) {
  sh("git -C " + work_ + " checkout -q -B " + branch + " 2>/dev/null");
  write(files);
  auto [rc, out] = sh("cd " + work_ +
                      " && git add -A && git -c user.name='Ada Lovelace' -c "
                      "user.email=ada@example.com commit -q -m '" +
                      message + "' && git push -q -f origin HEAD:refs/heads/" + branch +
                      " 2>&1 && git rev-parse HEAD");
  std::string sha = out.substr(out.size() >= 41 ? out.size() - 41 : 0, 40);
  return rc == 0 ? sha : "";
}

std::string GitRepo::rewrite(const std::map<std::string, std::string>& files,
                             const std::string& message, const std::string& branch) {
  sh("cd " + work_ +
     " && git checkout -q --orphan cairn-e2e-rewrite 2>/dev/null && git rm -rqf . " +
     ">/dev/null 2>&1; git clean -qfdx >/dev/null 2>&1");
  write(files);
  auto [rc, out] = sh("cd " + work_ +
                      " && git add -A && git -c user.name='Ada Lovelace' -c "
                      "user.email=ada@example.com commit -q -m '" +
                      message + "' && git push -q -f origin HEAD:refs/heads/" + branch +
                      " 2>&1 && git checkout -q -B " + branch +
                      " && git branch -q -D cairn-e2e-rewrite && git rev-parse HEAD");
  std::string sha = out.substr(out.size() >= 41 ? out.size() - 41 : 0, 40);
  return rc == 0 ? sha : "";
}

std::string GitRepo::stage(const std::map<std::string, std::string>& files,
                           const std::string& message) {
  write(files);
  auto [rc, out] = sh("cd " + work_ +
                      " && git add -A && git -c user.name='Ada Lovelace' -c "
                      "user.email=ada@example.com commit -q -m '" +
                      message +
                      "' && git push -q -f origin HEAD:refs/cairn-e2e/staged 2>&1 && git "
                      "rev-parse HEAD");
  std::string sha = out.substr(out.size() >= 41 ? out.size() - 41 : 0, 40);
  return rc == 0 ? sha : "";
}

std::vector<std::string> GitRepo::commits(
    int n, const std::function<std::map<std::string, std::string>(int)>& files,
    const std::string& message, const std::string& branch) {
  sh("git -C " + work_ + " checkout -q -B " + branch + " 2>/dev/null");
  for (int i = 0; i < n; ++i) {
    write(files(i));
    auto [rc, out] = sh("cd " + work_ +
                        " && git add -A && git -c user.name='Ada Lovelace' -c "
                        "user.email=ada@example.com commit -q --allow-empty -m '" +
                        message + " " + std::to_string(i) + "' 2>&1");
    if (rc != 0) return {};
  }
  auto [rc, out] = sh("cd " + work_ + " && git push -q -f origin HEAD:refs/heads/" + branch +
                      " 2>&1 && git rev-list --reverse -n " + std::to_string(n) + " HEAD");
  if (rc != 0) return {};
  std::vector<std::string> ids;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.size() == 40) ids.push_back(line);
  return ids;
}

std::string web_app_yaml(const std::string& image, bool with_config, bool ready) {
  return app_yaml({.image = image, .ready = ready, .config_name = with_config ? "web-config" : ""});
}

kube::Result<kube::json> wait_release(const std::string& ns, const std::string& commit,
                                      const std::string& phase, std::chrono::seconds limit,
                                      const std::string& name) {
  return wait_for(
      kReleases, ns, name,
      [&](const kube::json& o) {
        const kube::json st = o.value("status", kube::json::object());
        return st.value("phase", "") == phase && st.value("lastAttemptedCommit", "") == commit;
      },
      limit);
}

kube::Result<kube::json> wait_run(const std::string& ns, const std::string& name,
                                  const std::string& commit, std::chrono::seconds limit) {
  auto p = wait_for(
      kPipelines, ns, name,
      [&](const kube::json& o) {
        for (const auto& r :
             o.value("status", kube::json::object()).value("runs", kube::json::array())) {
          std::string ph = r.value("phase", "");
          if (r.value("commit", "") == commit &&
              (ph == "Succeeded" || ph == "Failed" || ph == "Cancelled"))
            return true;
        }
        return false;
      },
      limit);
  if (!p) return p;
  for (const auto& r : (*p)["status"]["runs"]) {
    if (r.value("commit", "") == commit) return r;
  }
  return kube::fail(kube::Code::kNotFound, "run vanished");
}

std::string GitRepo::git_url() const {
  return git_env("CAIRN_GIT_DAEMON_URL") + "/" + name_ + ".git";
}
std::string GitRepo::https_url() const {
  return git_env("CAIRN_GIT_HTTPS_URL") + "/" + name_ + ".git";
}

}  // namespace cairn::e2e
