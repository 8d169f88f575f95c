#include "api/names.h"

#include <gtest/gtest.h>

#include <set>

namespace cairn::api {
namespace {

TEST(Names, Constants) {
  EXPECT_EQ(kApiVersion, std::string(kGroup) + "/" + std::string(kVersion));
  EXPECT_EQ(kCommitAnnotation, "cairn.dev/commit");
  EXPECT_EQ(kSourceAnnotation, "cairn.dev/source");
  EXPECT_EQ(kPathAnnotation, "cairn.dev/path");
  EXPECT_EQ(kReleaseAnnotation, "cairn.dev/release");
  EXPECT_EQ(kManagedByLabel, "app.kubernetes.io/managed-by");
  EXPECT_EQ(kManagedByValue, "cairn");
  EXPECT_EQ(kRequestedAtAnnotation, "cairn.dev/requested-at");
  EXPECT_EQ(kRollbackToAnnotation, "cairn.dev/rollback-to");
  EXPECT_EQ(kBreakGlassAnnotation, "cairn.dev/break-glass");
  EXPECT_EQ(kEnforceLabel, "cairn.dev/enforce");
  EXPECT_EQ(kFinalizer, "cairn.dev/finalizer");
  EXPECT_EQ(kPipelineLabel, "cairn.dev/pipeline");
  EXPECT_EQ(kRunLabel, "cairn.dev/run");
  EXPECT_EQ(kCommitLabel, "cairn.dev/commit");
  EXPECT_EQ(kStepLabel, "cairn.dev/step");
}

TEST(IsDns1123Label, Rules) {
  EXPECT_TRUE(is_dns1123_label("a"));
  EXPECT_TRUE(is_dns1123_label("build-2"));
  EXPECT_TRUE(is_dns1123_label(std::string(63, 'a')));
  EXPECT_FALSE(is_dns1123_label(std::string(64, 'a')));
  EXPECT_FALSE(is_dns1123_label(""));
  EXPECT_FALSE(is_dns1123_label("-a"));
  EXPECT_FALSE(is_dns1123_label("a-"));
  EXPECT_FALSE(is_dns1123_label("A"));
  EXPECT_FALSE(is_dns1123_label("a.b"));
  EXPECT_FALSE(is_dns1123_label("a_b"));
}

TEST(JobName, PlainWhenItFits) {
  EXPECT_EQ(job_name("shop-ci", "12", "test"), "shop-ci-12-test");
  // 58 + "-1-ab" is exactly 63 characters.
  EXPECT_EQ(job_name(std::string(58, 'p'), "1", "ab"), std::string(58, 'p') + "-1-ab");
  EXPECT_NE(job_name(std::string(59, 'p'), "1", "ab"), std::string(59, 'p') + "-1-ab");
}

TEST(JobName, LongNamesAreShortenedHashedAndDeterministic) {
  std::string pipeline(120, 'p');
  std::string a = job_name(pipeline, "42", "integration-test");
  EXPECT_LE(a.size(), 63u);
  EXPECT_TRUE(is_dns1123_label(a)) << a;
  EXPECT_TRUE(a.ends_with("-42-integration-test")) << a;  // run and step stay readable
  EXPECT_TRUE(a.starts_with("ppp")) << a;
  EXPECT_EQ(a, job_name(pipeline, "42", "integration-test"));  // deterministic
  // Different inputs that share the kept prefix still differ.
  EXPECT_NE(a, job_name(std::string(121, 'p'), "42", "integration-test"));
  EXPECT_NE(a, job_name(pipeline, "43", "integration-test"));
  // A pinned value: the name must not change between releases of the operator
  // (a running Job would otherwise be started again under a new name).
  EXPECT_EQ(job_name(std::string(60, 'x'), "7", "build"),
            std::string(44, 'x') + "-81c1161388-7-build");
  EXPECT_EQ(job_name("a-very-long-pipeline-name-for-the-shop-frontend-service", "20240501-7",
                     "integration-test"),
            "a-very-long-pipeline-nam-99a7fe922e-20240501-7-integration-test");
  EXPECT_EQ(job_name("shop.ci", "1", "test"), "shop-ci-c3cd1b9632-1-test");
}

TEST(JobName, InvalidCharactersAreReplacedAndDisambiguated) {
  std::string a = job_name("shop.ci", "1", "test");
  std::string b = job_name("shop-ci", "1", "test");
  EXPECT_TRUE(is_dns1123_label(a)) << a;
  EXPECT_EQ(b, "shop-ci-1-test");
  EXPECT_NE(a, b);
  EXPECT_TRUE(is_dns1123_label(job_name("Shop_CI", "Run#1", "Test")));
  EXPECT_TRUE(is_dns1123_label(job_name("", "", "")));
  EXPECT_TRUE(is_dns1123_label(job_name("-a-", "-", "-")));
}

TEST(JobName, EverythingLong) {
  std::string n = job_name(std::string(300, 'a'), std::string(100, 'r'), std::string(100, 's'));
  EXPECT_LE(n.size(), 63u);
  EXPECT_TRUE(is_dns1123_label(n)) << n;
  std::set<std::string> names;
  for (int i = 0; i < 1000; ++i) {
    names.insert(job_name(std::string(80, 'a'), std::to_string(i), "step"));
  }
  EXPECT_EQ(names.size(), 1000u);
  for (const auto& x : names) EXPECT_TRUE(is_dns1123_label(x)) << x;
}

}  // namespace
}  // namespace cairn::api
