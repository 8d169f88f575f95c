#include "local_git.h"

#include <git2.h>

namespace cairn::cli {

std::optional<LocalRepo> local_repo(const std::string& dir) {
  git_libgit2_init();
  git_repository* repo = nullptr;
  std::optional<LocalRepo> out;
  if (git_repository_open_ext(&repo, dir.c_str(), 0, nullptr) == 0) {
    if (const char* wd = git_repository_workdir(repo)) {
      out.emplace();
      out->workdir = wd;
      while (out->workdir.size() > 1 && out->workdir.back() == '/') out->workdir.pop_back();
      git_oid oid;
      if (git_reference_name_to_id(&oid, repo, "HEAD") == 0) {
        char buf[GIT_OID_HEXSZ + 1];
        git_oid_tostr(buf, sizeof buf, &oid);
        out->head = buf;
      }
    }
    git_repository_free(repo);
  }
  git_libgit2_shutdown();
  return out;
}

}  // namespace cairn::cli
