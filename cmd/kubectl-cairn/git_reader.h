// Reading commits of a Release's repository for `kubectl cairn`: a local
// mirror in the git cache, fetched at most once per invocation and only when
// it lacks a commit asked for (commits never change), with the Release's
// credentials. Failures are recorded, never fatal: the caller shows what the
// cluster knows instead.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/types.h"
#include "chain.h"
#include "git/git.h"
#include "kube/client.h"

namespace cairn::cli {

// $XDG_CACHE_HOME/cairn/git, else ~/.cache/cairn/git, else a directory under /tmp.
std::string default_git_cache_dir();

class GitReader {
 public:
  // `offline`: never contact the repository (commits are still read from the cache).
  GitReader(kube::Client& client, std::string ns, api::SourceSpec source, std::string cache_dir,
            bool offline);

  // Metadata of a commit, or nullopt (then error() says why).
  std::optional<git::CommitInfo> commit(const std::string& id);
  // Everything trace shows about one commit, including its signature.
  CommitLookup look_up(const std::string& id);

  // The repository, fetched first unless offline (commits asked for by a
  // moving ref need a fresh fetch); nullptr when the cache cannot be opened
  // or the fetch failed (then error() says why).
  git::Source* fetched_source();

  const std::string& status() const { return status_; }  // see CommitLookup::repository
  const std::string& error() const { return error_; }

 private:
  bool open();
  void fetch_once();

  kube::Client& client_;
  std::string ns_;
  api::SourceSpec source_;
  std::string cache_dir_;
  bool offline_;
  std::unique_ptr<git::Cache> cache_;
  std::shared_ptr<git::Mirror> mirror_;
  bool fetched_ = false;
  std::string status_ = "offline";
  std::string error_;
};

}  // namespace cairn::cli
