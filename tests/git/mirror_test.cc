#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "git/git.h"
#include "testutil.h"

namespace cairn::git {
namespace {

using ::testing::HasSubstr;
using testing::Repo;
using testing::TempDir;

class MirrorTest : public ::testing::Test {
 protected:
  MirrorTest() : repo_(tmp_), cache_(tmp_ / "cache") {}

  std::shared_ptr<Mirror> fetched() {
    auto m = cache_.mirror(repo_.url());
    auto r = m->fetch({});
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
    return m;
  }

  TempDir tmp_;
  Repo repo_;
  Cache cache_;
};

TEST_F(MirrorTest, ResolvesBranchesTagsAndCommits) {
  repo_.write("a.txt", "one\n");
  std::string c1 = repo_.commit("first");
  repo_.git("tag v1");  // lightweight
  repo_.write("a.txt", "two\n");
  std::string c2 = repo_.commit("second");
  repo_.git("tag -a v1-annotated -m release");  // annotated: must be peeled
  repo_.git("branch feature " + c1);
  repo_.push("--all");
  repo_.push("--tags");

  auto m = fetched();
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), c2);
  EXPECT_EQ(m->resolve({RefKind::kBranch, "feature"}).value(), c1);
  EXPECT_EQ(m->resolve({RefKind::kBranch, "refs/heads/main"}).value(), c2);
  EXPECT_EQ(m->resolve({RefKind::kTag, "v1"}).value(), c1);
  EXPECT_EQ(m->resolve({RefKind::kTag, "v1-annotated"}).value(), c2);
  EXPECT_EQ(m->resolve({RefKind::kCommit, c1}).value(), c1);
  EXPECT_GT(m->last_fetch().time_since_epoch().count(), 0);
}

TEST_F(MirrorTest, MissingRefsAndCommitsAreNotFound) {
  repo_.commit("first");
  repo_.push();
  auto m = fetched();
  auto b = m->resolve({RefKind::kBranch, "nope"});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Code::kNotFound);
  EXPECT_THAT(b.error().message, HasSubstr("branch \"nope\" not found in file://"));
  auto t = m->resolve({RefKind::kTag, "v9"});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::kNotFound);
  auto c = m->resolve({RefKind::kCommit, std::string(40, 'a')});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kNotFound);
  auto bad = m->resolve({RefKind::kCommit, "main"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalid);
  auto badname = m->resolve({RefKind::kBranch, "a..b"});
  ASSERT_FALSE(badname);
  EXPECT_EQ(badname.error().code, Code::kInvalid);
}

TEST_F(MirrorTest, NeverFetchedMirrorSaysSo) {
  auto m = cache_.mirror(repo_.url());
  auto b = m->resolve({RefKind::kBranch, "main"});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Code::kNotFound);
  EXPECT_THAT(b.error().message, HasSubstr("not been fetched yet"));
  EXPECT_EQ(m->last_fetch().time_since_epoch().count(), 0);
}

TEST_F(MirrorTest, MissingRepositoryIsNotFound) {
  auto m = cache_.mirror("file://" + tmp_ / "nonexistent.git");
  auto r = m->fetch({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound) << r.error().to_string();
}

TEST_F(MirrorTest, UnsupportedSchemeIsInvalid) {
  auto m = cache_.mirror("ftp://example.com/repo.git");
  auto r = m->fetch({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalid);
  EXPECT_THAT(r.error().message, HasSubstr("supported are https, http, ssh, git and file"));
}

TEST_F(MirrorTest, CommitMetadata) {
  repo_.write("x", "x");
  std::string parent = repo_.commit("parent");
  repo_.write("y", "y");
  std::string id = repo_.commit("Add the thing\n\nLonger body\nover lines.",
                                "GIT_AUTHOR_DATE='2021-03-04T05:06:07Z' "
                                "GIT_COMMITTER_DATE='2022-01-02T03:04:05Z'");
  repo_.push();
  auto m = fetched();
  auto info = m->commit(id);
  ASSERT_TRUE(info) << info.error().to_string();
  EXPECT_EQ(info->id, id);
  EXPECT_EQ(info->author_name, "Ada Author");
  EXPECT_EQ(info->author_email, "ada@example.com");
  EXPECT_EQ(info->committer_name, "Cy Committer");
  EXPECT_EQ(info->committer_email, "cy@example.com");
  EXPECT_EQ(info->author_time, 1614834367);
  EXPECT_EQ(info->commit_time, 1641092645);
  EXPECT_EQ(info->title, "Add the thing");
  EXPECT_EQ(info->message, "Add the thing\n\nLonger body\nover lines.\n");
  EXPECT_FALSE(info->has_signature);
  EXPECT_EQ(info->parents, std::vector<std::string>{parent});
  // An abbreviated id finds the same commit.
  EXPECT_EQ(m->commit(id.substr(0, 10)).value().id, id);
  auto missing = m->commit(std::string(40, 'b'));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
}

TEST_F(MirrorTest, FilesUnderAPathSortedAndFiltered) {
  repo_.write("README.md", "readme");
  repo_.write("deploy/prod/b.yaml", "b: 1\n");
  repo_.write("deploy/prod/a.yaml", "a: 1\n");
  repo_.write("deploy/prod/nested/deeper/c.yml", "c: 1\n");
  repo_.write("deploy/prod/notes.txt", "not yaml");
  repo_.write("deploy/prod-other/x.yaml", "x: 1\n");
  repo_.write("deploy/staging/s.yaml", "s: 1\n");
  std::string id = repo_.commit("files");
  repo_.git(
      "-c core.symlinks=true update-index --add --cacheinfo 120000,"
      "$(printf deploy/prod/a.yaml | git hash-object -w --stdin),deploy/prod/link.yaml");
  repo_.git("commit -q -m link");
  std::string with_link = repo_.head();
  repo_.push();
  auto m = fetched();

  auto yaml = [](std::string_view p) { return p.ends_with(".yaml") || p.ends_with(".yml"); };
  auto files = m->files(id, "deploy/prod", yaml);
  ASSERT_TRUE(files) << files.error().to_string();
  std::vector<std::string> paths;
  for (auto& f : *files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"deploy/prod/a.yaml", "deploy/prod/b.yaml",
                                             "deploy/prod/nested/deeper/c.yml"}));
  EXPECT_EQ((*files)[0].content, "a: 1\n");

  // Trailing slash and "./" are the same directory; no filter means everything.
  auto all = m->files(id, "./deploy/prod/", nullptr);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 4u);

  auto root = m->files(id, "", yaml);
  ASSERT_TRUE(root);
  EXPECT_EQ(root->size(), 5u);
  EXPECT_EQ(m->files(id, ".", yaml)->size(), 5u);

  // A single file.
  auto one = m->files(id, "README.md", nullptr);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].content, "readme");

  // Symbolic links are skipped.
  auto linked = m->files(with_link, "deploy/prod", yaml);
  ASSERT_TRUE(linked);
  EXPECT_EQ(linked->size(), 3u);

  auto missing = m->files(id, "deploy/nope", yaml);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("\"deploy/nope\" does not exist"));

  auto escape = m->files(id, "deploy/../..", yaml);
  ASSERT_FALSE(escape);
  EXPECT_EQ(escape.error().code, Code::kInvalid);
}

TEST_F(MirrorTest, FileLimitsAreEnforced) {
  for (int i = 0; i < 5; ++i) repo_.write("d/f" + std::to_string(i), std::string(100, 'x'));
  repo_.write("d/big", std::string(1000, 'y'));
  std::string id = repo_.commit("many");
  repo_.push();
  auto m = fetched();

  ReadLimits few;
  few.max_files = 3;
  auto r = m->files(id, "d", nullptr, few);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalid);
  EXPECT_THAT(r.error().message, HasSubstr("more than 3 files under \"d\""));

  ReadLimits small;
  small.max_file_bytes = 500;
  r = m->files(id, "d", nullptr, small);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalid);
  EXPECT_THAT(r.error().message, HasSubstr("the file d/big"));
  EXPECT_THAT(r.error().message, HasSubstr("1000 bytes, more than the limit of 500"));

  ReadLimits total;
  total.max_total_bytes = 1200;
  r = m->files(id, "d", nullptr, total);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalid);
  EXPECT_THAT(r.error().message, HasSubstr("add up to more than 1200 bytes"));

  // The filter runs before the limits: what it rejects does not count.
  r = m->files(
      id, "d", [](std::string_view p) { return p != "d/big"; }, small);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->size(), 5u);
}

TEST_F(MirrorTest, AncestryAcrossBranches) {
  std::string base = repo_.commit("base");
  repo_.git("checkout -q -b feature");
  std::string feature = repo_.commit("only on feature");
  repo_.git("checkout -q main");
  std::string main2 = repo_.commit("main moves on");
  repo_.push();
  auto m = fetched();

  EXPECT_TRUE(m->is_ancestor(base, main2).value());
  EXPECT_TRUE(m->is_ancestor(main2, main2).value());
  EXPECT_FALSE(m->is_ancestor(main2, base).value());
  EXPECT_FALSE(m->is_ancestor(feature, main2).value());
  EXPECT_TRUE(m->reachable_from(base, {RefKind::kBranch, "main"}).value());
  EXPECT_FALSE(m->reachable_from(feature, {RefKind::kBranch, "main"}).value())
      << "a commit only on an unmerged branch is not reachable from main";
  EXPECT_TRUE(m->reachable_from(feature, {RefKind::kBranch, "feature"}).value());

  auto missing = m->is_ancestor(std::string(40, 'c'), main2);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  auto nobranch = m->reachable_from(base, {RefKind::kBranch, "gone"});
  ASSERT_FALSE(nobranch);
  EXPECT_EQ(nobranch.error().code, Code::kNotFound);

  // Once merged, the feature commit is reachable from main.
  repo_.git("merge -q --no-edit feature");
  repo_.push();
  ASSERT_TRUE(m->fetch({}));
  EXPECT_TRUE(m->reachable_from(feature, {RefKind::kBranch, "main"}).value());
}

TEST_F(MirrorTest, FetchAcceptsForcePushAndPrunes) {
  std::string c1 = repo_.commit("one");
  std::string c2 = repo_.commit("two");
  repo_.git("branch doomed");
  repo_.git("tag moving");
  repo_.push("--all");
  repo_.push("--tags");
  auto m = fetched();
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), c2);
  EXPECT_EQ(m->resolve({RefKind::kTag, "moving"}).value(), c2);

  // Rewrite main, move the tag, delete a branch upstream.
  repo_.git("reset -q --hard " + c1);
  std::string c3 = repo_.commit("rewritten");
  repo_.git("tag -f moving");
  repo_.push("main");
  repo_.git("push -q --force origin moving");
  repo_.git("push -q origin :doomed");
  auto before = m->last_fetch();
  ASSERT_TRUE(m->fetch({}));
  EXPECT_GE(m->last_fetch(), before);
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), c3);
  EXPECT_EQ(m->resolve({RefKind::kTag, "moving"}).value(), c3);
  EXPECT_FALSE(m->is_ancestor(c2, c3).value());
  auto doomed = m->resolve({RefKind::kBranch, "doomed"});
  ASSERT_FALSE(doomed);
  EXPECT_EQ(doomed.error().code, Code::kNotFound);
  // The old commit is still readable (mirrors keep objects).
  EXPECT_TRUE(m->commit(c2));
}

// Loose ref files under refs/ (the mirror packs them after each fetch).
size_t loose_refs(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/refs"))
    n += e.is_regular_file();
  return n;
}

TEST_F(MirrorTest, FetchedRefsArePackedAndStillMoveAndPrune) {
  // With thousands of tags, loose refs made every poll stat them all.
  std::string c1 = repo_.commit("one");
  for (int i = 0; i < 50; ++i) repo_.git("tag v" + std::to_string(i));
  repo_.push("--all");
  repo_.push("--tags");
  auto m = fetched();
  EXPECT_EQ(loose_refs(m->dir()), 0u);
  EXPECT_EQ(m->resolve({RefKind::kTag, "v49"}).value(), c1);

  std::string c2 = repo_.commit("two");
  repo_.push("main");
  repo_.git("push -q origin :v7");
  ASSERT_TRUE(m->fetch({}));
  EXPECT_EQ(loose_refs(m->dir()), 0u);
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), c2) << "moved while packed";
  auto pruned = m->resolve({RefKind::kTag, "v7"});
  ASSERT_FALSE(pruned) << "a packed tag deleted upstream is pruned";
  EXPECT_EQ(pruned.error().code, Code::kNotFound);
  EXPECT_EQ(m->resolve({RefKind::kTag, "v8"}).value(), c1);
}

TEST_F(MirrorTest, RepeatedFetchesDoNotLeak) {
  repo_.commit("one");
  repo_.push();
  auto m = fetched();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(m->fetch({}));
  size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(m->fetch({}));
  size_t after = mallinfo2().uordblks;
  // libgit2 1.5's insteadOf lookup alone would leak ~100 KiB per fetch here.
  EXPECT_LT(after > before ? after - before : 0, 1u << 20);
}

TEST_F(MirrorTest, CacheSharesOneMirrorPerUrl) {
  auto a = cache_.mirror(repo_.url());
  auto b = cache_.mirror(repo_.url() + "/");
  auto c = cache_.mirror(repo_.origin());  // a plain path names the same repository
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a.get(), c.get());
  auto d = cache_.mirror("https://Example.COM/org/repo.git");
  auto e = cache_.mirror("https://user:secret@example.com/org/repo.git");
  EXPECT_EQ(d.get(), e.get());
  EXPECT_NE(a.get(), d.get());
  EXPECT_EQ(e->url(), "https://Example.COM/org/repo.git");
  EXPECT_EQ(a->dir().rfind(cache_.dir() + "/", 0), 0u);
}

TEST_F(MirrorTest, ConcurrentReadsWhileFetching) {
  repo_.write("deploy/a.yaml", "a: 0\n");
  std::string first = repo_.commit("c0");
  repo_.push();
  auto m = fetched();

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        auto head = m->resolve({RefKind::kBranch, "main"});
        if (!head) {
          failures++;
          continue;
        }
        auto files = m->files(*head, "deploy", nullptr);
        auto anc = m->is_ancestor(first, *head);
        auto info = m->commit(*head);
        // Whatever head a reader saw, everything it reads about it agrees.
        if (!files || files->size() != 1 || !anc || !*anc || !info || info->id != *head) failures++;
        reads++;
      }
    });
  }
  for (int i = 1; i <= 8; ++i) {
    repo_.write("deploy/a.yaml", "a: " + std::to_string(i) + "\n");
    repo_.commit("c" + std::to_string(i));
    repo_.push();
    std::vector<std::thread> fetchers;
    for (int f = 0; f < 2; ++f)
      fetchers.emplace_back([&] {
        if (!m->fetch({})) failures++;
      });
    for (auto& f : fetchers) f.join();
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 8);
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), repo_.head());
  auto files = m->files(repo_.head(), "deploy", nullptr);
  ASSERT_TRUE(files);
  EXPECT_EQ((*files)[0].content, "a: 8\n");
}

}  // namespace
}  // namespace cairn::git
