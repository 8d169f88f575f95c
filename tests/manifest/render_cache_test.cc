// RenderCache and GitTree: a render is shared per commit and path, and a
// tree at a commit reads each directory from git once.
#include "manifest/render_cache.h"

#include <gtest/gtest.h>

#include <atomic>

#include "manifest/git_tree.h"
#include "manifest/kustomize.h"

namespace cairn::manifest {
namespace {

// A repository at one commit, counting the reads.
class FakeSource final : public git::Source {
 public:
  std::vector<git::File> all;
  mutable std::atomic<int> reads{0};

  const std::string& url() const override { return url_; }
  git::Result<void> fetch(const git::FetchOptions&) override { return {}; }
  git::Result<std::string> resolve(const git::Ref&) override { return std::string(40, 'a'); }
  git::Result<git::CommitInfo> commit(const std::string&) override { return git::CommitInfo{}; }
  git::Result<std::vector<git::File>> files(const std::string&, const std::string& path,
                                            const std::function<bool(std::string_view)>&,
                                            const git::ReadLimits&) override {
    ++reads;
    std::vector<git::File> out;
    for (const auto& f : all) {
      if (path == "." || f.path == path || f.path.starts_with(path + "/")) out.push_back(f);
    }
    if (out.empty()) return git::fail(git::Code::kNotFound, "the path does not exist");
    return out;
  }
  git::Result<bool> is_ancestor(const std::string&, const std::string&) override { return true; }
  git::Result<bool> reachable_from(const std::string&, const git::Ref&) override { return true; }
  git::Result<git::SignatureCheck> verify_signature(const std::string&,
                                                    const std::vector<std::string>&) override {
    return git::SignatureCheck{};
  }
  std::chrono::system_clock::time_point last_fetch() const override { return {}; }

 private:
  std::string url_ = "https://git.example/shop.git";
};

const std::string kCm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";

TEST(GitTree, ReadsEachDirectoryOnceAndBuildsAKustomization) {
  FakeSource src;
  src.all = {{"deploy/base/kustomization.yaml", "resources: [c.yaml]\n"},
             {"deploy/base/c.yaml", kCm},
             {"deploy/prod/kustomization.yaml", "resources: [../base]\nnamePrefix: p-\n"},
             {"other/x.yaml", kCm}};
  GitTree tree(src, std::string(40, 'a'), read_limits());
  auto out = kustomize_build(tree, "deploy/prod");
  ASSERT_TRUE(out) << to_string(out.error());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].object["metadata"]["name"], "p-c");
  const int reads = src.reads;
  EXPECT_LE(reads, 4);
  ASSERT_TRUE(kustomize_build(tree, "deploy/prod"));
  EXPECT_EQ(src.reads, reads) << "a second build reads nothing from git";
  EXPECT_EQ(tree.read("deploy/nothing.yaml").value(), std::nullopt);
  EXPECT_TRUE(tree.is_dir("deploy").value());
  EXPECT_FALSE(tree.is_dir("deploy/base/c.yaml").value());
}

RenderInput input(const FileTree* tree, std::string commit) {
  RenderInput in;
  in.release_namespace = "shop";
  in.release_name = "web";
  in.commit = std::move(commit);
  in.tree = tree;
  in.path = "app";
  return in;
}

TEST(RenderCache, SharesTheResultPerCommitAndPath) {
  MemoryTree tree;
  tree.add("app/c.yaml", kCm);
  RenderCache cache(2);
  auto a = cache.render(input(&tree, "c1"));
  auto b = cache.render(input(&tree, "c1"));
  EXPECT_EQ(a.get(), b.get());
  ASSERT_TRUE(*a);
  EXPECT_EQ((*a)->objects.size(), 1u);

  RenderInput other = input(&tree, "c1");
  other.release_name = "other";  // another Release renders other stamps
  EXPECT_NE(cache.render(other).get(), a.get());
  EXPECT_NE(render_key(other), render_key(input(&tree, "c1")));

  cache.render(input(&tree, "c2"));  // evicts the least recently used
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.render(input(&tree, "c1")).get(), a.get());
}

TEST(RenderCache, CachesErrorsToo) {
  MemoryTree tree;
  tree.add("app/kustomization.yaml", "helmCharts: []\n");
  RenderCache cache;
  auto a = cache.render(input(&tree, "c1"));
  ASSERT_FALSE(*a);
  EXPECT_EQ(to_string(a->error()),
            "app/kustomization.yaml: helmCharts: not supported by Cairn's Kustomize (render it in "
            "CI and commit the output, or remove the field)");
  EXPECT_EQ(cache.render(input(&tree, "c1")).get(), a.get());
}

}  // namespace
}  // namespace cairn::manifest
