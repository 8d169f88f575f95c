// Helpers for lib/git tests: temporary directories and real repositories
// built with the git CLI (isolated from the user's and the system's config).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace cairn::git::testing {

struct RunResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command; output is captured.
inline RunResult run(const std::string& cmd) {
  RunResult r;
  FILE* p = popen(("( " + cmd + " ) 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-git-test-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// The environment every git command of a test runs with.
inline std::string git_env(const std::string& home) {
  return "env HOME=" + quote(home) +
         " GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME='Ada Author' GIT_AUTHOR_EMAIL=ada@example.com"
         " GIT_COMMITTER_NAME='Cy Committer' GIT_COMMITTER_EMAIL=cy@example.com"
         " GIT_TERMINAL_PROMPT=0 LC_ALL=C ";
}

// A working repository that tests commit to, with a bare "origin" that
// mirrors fetch from over file://.
class Repo {
 public:
  explicit Repo(const TempDir& tmp)
      : home_(tmp / "home"), work_(tmp / "work"), origin_(tmp / "origin.git") {
    std::filesystem::create_directories(home_);
    must("git init -q -b main " + quote(work_));
    must("git init -q --bare -b main " + quote(origin_));
    git("config user.name 'Ada Author'");
    git("config user.email ada@example.com");
    git("remote add origin " + quote(origin_));
  }

  std::string url() const { return "file://" + origin_; }
  const std::string& work() const { return work_; }
  const std::string& home() const { return home_; }
  const std::string& origin() const { return origin_; }

  // Runs `git ARGS` in the work tree; fails the test on error and returns stdout+stderr.
  std::string git(const std::string& args) {
    return must("cd " + quote(work_) + " && git " + args);
  }

  void write(const std::string& rel, const std::string& content) {
    auto p = std::filesystem::path(work_) / rel;
    std::filesystem::create_directories(p.parent_path());
    FILE* f = fopen(p.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fwrite(content.data(), 1, content.size(), f);
    fclose(f);
  }

  // Commits all changes (with `env` before git, e.g. GIT_AUTHOR_DATE=...); returns the commit id.
  std::string commit(const std::string& message, const std::string& env = "") {
    must("cd " + quote(work_) + " && git add -A && " + env + " git commit -q --allow-empty -m " +
         quote(message));
    return head();
  }

  std::string head() { return trim(git("rev-parse HEAD")); }
  void push(const std::string& args = "--all") { git("push -q --force origin " + args); }

  std::string must(const std::string& cmd) {
    RunResult r = run(git_env(home_) + " sh -c " + quote(cmd));
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
    return r.output;
  }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

 private:
  std::string home_, work_, origin_;
};

}  // namespace cairn::git::testing
