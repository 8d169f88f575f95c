// lib/git against the real git server of hack/git-server.sh: git daemon
// (git://) and nginx + git http-backend (https with its own CA and basic
// auth). Assumes the server runs and reads ${CAIRN_GIT_STATE}/git.env
// (default <source>/.cairn-git); skips when that file is absent.
#include "git/git.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace cairn::git {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string state_dir() {
  if (const char* s = std::getenv("CAIRN_GIT_STATE"); s && *s) return s;
  // Under ctest the fixture keeps the git server's state beside the cluster's.
  if (const char* k = std::getenv("KUBECONFIG"); k && *k) {
    std::string kc(k);
    return kc.substr(0, kc.rfind('/')) + "-git";
  }
#ifdef CAIRN_SOURCE_DIR
  return std::string(CAIRN_SOURCE_DIR) + "/.cairn-git";
#else
  return ".cairn-git";
#endif
}

std::map<std::string, std::string> read_env(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos && !line.starts_with('#'))
      env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct ShResult {
  int status;
  std::string output;
};

ShResult sh(const std::string& cmd) {
  ShResult r{-1, ""};
  FILE* p = popen(("( " + cmd + " ) 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class GitServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string env_file = state_dir() + "/git.env";
    if (!std::filesystem::exists(env_file))
      GTEST_SKIP() << env_file << " is absent: start the server with hack/git-server.sh start";
    env_ = read_env(env_file);
    for (const char* k : {"CAIRN_GIT_DAEMON_URL", "CAIRN_GIT_HTTPS_URL", "CAIRN_GIT_CA",
                          "CAIRN_GIT_USER", "CAIRN_GIT_PASSWORD", "CAIRN_GIT_REPOS"})
      ASSERT_FALSE(env_[k].empty()) << k << " missing from " << env_file;
    char tmpl[] = "/tmp/cairn-git-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    name_ = "e2e-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    bare_ = env_["CAIRN_GIT_REPOS"] + "/" + name_ + ".git";
    must("git init -q --bare -b main " + quote(bare_) + " && git -C " + quote(bare_) +
         " config http.receivepack true");
    work_ = tmp_ + "/work";
    must("git init -q -b main " + quote(work_));
    ca_ = slurp(env_["CAIRN_GIT_CA"]);
    cache_ = std::make_unique<Cache>(tmp_ + "/cache");
  }

  void TearDown() override {
    std::error_code ec;
    if (!bare_.empty()) std::filesystem::remove_all(bare_, ec);
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_, ec);
  }

  std::string https_url() const { return env_.at("CAIRN_GIT_HTTPS_URL") + "/" + name_ + ".git"; }
  std::string git_url() const { return env_.at("CAIRN_GIT_DAEMON_URL") + "/" + name_ + ".git"; }

  // git in the work tree, isolated from any user configuration.
  std::string git(const std::string& args) {
    return must("cd " + quote(work_) + " && git " + args);
  }
  std::string must(const std::string& cmd) {
    ShResult r = sh("env HOME=" + quote(tmp_) +
                    " GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_NAME=E2E "
                    "GIT_AUTHOR_EMAIL=e2e@example.com GIT_COMMITTER_NAME=E2E "
                    "GIT_COMMITTER_EMAIL=e2e@example.com GIT_SSL_CAINFO=" +
                    quote(env_["CAIRN_GIT_CA"]) + " sh -c " + quote(cmd));
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
    return r.output;
  }
  std::string commit(const std::string& msg) {
    git("add -A && git commit -q --allow-empty -m " + quote(msg));
    return trim(git("rev-parse HEAD"));
  }
  void write(const std::string& rel, const std::string& content) {
    auto p = std::filesystem::path(work_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }
  // Pushes over https with the server's password (in the URL, for the git CLI only).
  void push_https(const std::string& args = "main") {
    std::string u = https_url();
    u.insert(u.find("://") + 3, env_["CAIRN_GIT_USER"] + ":" + env_["CAIRN_GIT_PASSWORD"] + "@");
    git("push -q --force " + quote(u) + " " + args);
  }

  FetchOptions https_opts() {
    FetchOptions o;
    o.creds = credentials_from_secret({{"username", env_["CAIRN_GIT_USER"]},
                                       {"password", env_["CAIRN_GIT_PASSWORD"]},
                                       {"caFile", ca_}});
    o.timeout = std::chrono::seconds(60);
    return o;
  }

  std::map<std::string, std::string> env_;
  std::string tmp_, name_, bare_, work_, ca_;
  std::unique_ptr<Cache> cache_;
};

TEST_F(GitServerTest, FetchOverHttpsWithBasicAuthAndTheServersCa) {
  write("deploy/app.yaml", "kind: ConfigMap\nmetadata: {name: app}\n");
  for (int i = 0; i < 150; ++i)
    write("deploy/many/cm-" + std::to_string(i) + ".yaml", "n: " + std::to_string(i) + "\n");
  std::string c1 = commit("first over https");
  git("tag -a v1 -m v1");
  push_https("main v1");

  auto m = cache_->mirror(https_url());
  auto r = m->fetch(https_opts());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), c1);
  EXPECT_EQ(m->resolve({RefKind::kTag, "v1"}).value(), c1);
  auto files = m->files(c1, "deploy", [](std::string_view p) { return p.ends_with(".yaml"); });
  ASSERT_TRUE(files) << files.error().to_string();
  EXPECT_EQ(files->size(), 151u);
  EXPECT_EQ(files->front().path, "deploy/app.yaml");
  EXPECT_EQ(m->commit(c1).value().title, "first over https");

  // Force-push a rewrite; the next fetch follows it.
  git("reset -q --hard HEAD");
  write("deploy/app.yaml", "kind: ConfigMap\nmetadata: {name: app2}\n");
  git("commit -q --amend -a -m rewritten");
  std::string c2 = trim(git("rev-parse HEAD"));
  push_https("main");
  ASSERT_TRUE(m->fetch(https_opts()));
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), c2);
  EXPECT_FALSE(m->reachable_from(c1, {RefKind::kBranch, "main"}).value());
}

TEST_F(GitServerTest, HttpsRefusesWrongPasswordMissingCredentialsAndUnknownCa) {
  commit("one");
  push_https();

  FetchOptions wrong = https_opts();
  wrong.creds.password = "not-the-password";
  auto r = cache_->mirror(https_url())->fetch(wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kAuth) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("Secret"));
  EXPECT_THAT(r.error().message, Not(HasSubstr("not-the-password")));

  FetchOptions none;
  none.creds.ca_pem = ca_;
  auto r2 = cache_->mirror(https_url())->fetch(none);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Code::kAuth) << r2.error().to_string();

  FetchOptions no_ca = https_opts();
  no_ca.creds.ca_pem.clear();
  auto r3 = cache_->mirror(https_url())->fetch(no_ca);
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, Code::kUntrustedHost) << r3.error().to_string();

  auto missing =
      cache_->mirror(env_["CAIRN_GIT_HTTPS_URL"] + "/no-such-repo.git")->fetch(https_opts());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound) << missing.error().to_string();
}

TEST_F(GitServerTest, FetchOverGitDaemonAgreesWithHttps) {
  write("a.txt", "a\n");
  std::string base = commit("base");
  git("checkout -q -b feature");
  std::string feature = commit("feature only");
  git("checkout -q main");
  std::string head = commit("main");
  push_https("main feature");

  auto over_git = cache_->mirror(git_url());
  auto over_https = cache_->mirror(https_url());
  ASSERT_NE(over_git.get(), over_https.get());
  FetchOptions plain;
  plain.timeout = std::chrono::seconds(60);
  auto r = over_git->fetch(plain);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_TRUE(over_https->fetch(https_opts()));
  EXPECT_EQ(over_git->resolve({RefKind::kBranch, "main"}).value(), head);
  EXPECT_EQ(over_https->resolve({RefKind::kBranch, "main"}).value(), head);
  EXPECT_TRUE(over_git->reachable_from(base, {RefKind::kBranch, "main"}).value());
  EXPECT_FALSE(over_git->reachable_from(feature, {RefKind::kBranch, "main"}).value());

  // Deleting the branch upstream prunes it from the mirror.
  std::string u = git_url();
  git("push -q " + quote(u) + " :feature");
  ASSERT_TRUE(over_git->fetch(plain));
  auto gone = over_git->resolve({RefKind::kBranch, "feature"});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Code::kNotFound);
}

}  // namespace
}  // namespace cairn::git
