#include "udiff.h"

#include <gtest/gtest.h>

namespace cairn::cli {
namespace {

std::string lines(int from, int to, const std::string& changed_at = "", int at = -1) {
  std::string out;
  for (int i = from; i <= to; ++i) out += (i == at ? changed_at : "l" + std::to_string(i)) + "\n";
  return out;
}

TEST(Udiff, EqualTextsGiveNothing) {
  EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
  EXPECT_EQ(unified_diff("", "", "x", "y"), "");
}

TEST(Udiff, OneChangedLineWithThreeLinesOfContext) {
  EXPECT_EQ(unified_diff(lines(1, 10), lines(1, 10, "new", 5), "live/a", "cairn/a"),
            "--- live/a\n+++ cairn/a\n@@ -2,7 +2,7 @@\n l2\n l3\n l4\n-l5\n+new\n l6\n l7\n l8\n");
}

TEST(Udiff, NewAndDeletedFilesDiffAgainstEmpty) {
  EXPECT_EQ(unified_diff("", "a\nb\n", "l", "c"), "--- l\n+++ c\n@@ -0,0 +1,2 @@\n+a\n+b\n");
  EXPECT_EQ(unified_diff("a\n", "", "l", "c"), "--- l\n+++ c\n@@ -1 +0,0 @@\n-a\n");
}

TEST(Udiff, ChangesFarApartMakeTwoHunksAndNearOnesOne) {
  std::string b = lines(1, 20);
  b.replace(b.find("l2\n"), 3, "x2\n");
  b.replace(b.find("l19\n"), 4, "x19\n");
  const std::string d = unified_diff(lines(1, 20), b, "a", "b");
  EXPECT_NE(d.find("@@ -1,5 +1,5 @@\n l1\n-l2\n+x2\n"), std::string::npos) << d;
  EXPECT_NE(d.find("@@ -16,5 +16,5 @@\n l16\n l17\n l18\n-l19\n+x19\n l20\n"), std::string::npos)
      << d;

  // Six equal lines between two changes: still one hunk (2·3 context lines).
  std::string c = lines(1, 20);
  c.replace(c.find("l5\n"), 3, "x5\n");
  c.replace(c.find("l12\n"), 4, "x12\n");
  const std::string one = unified_diff(lines(1, 20), c, "a", "b");
  EXPECT_NE(one.find("@@ -2,14 +2,14 @@\n"), std::string::npos) << one;
  EXPECT_EQ(one.find("@@ -", one.find("@@ -") + 1), std::string::npos) << one;
}

TEST(Udiff, InsertionsAndDeletionsInTheMiddleAreMinimal) {
  auto e = diff_lines(split_lines("a\nb\nc\nd\n"), split_lines("a\nc\nx\nd\n"));
  std::string ops;
  for (const Edit& x : e) {
    ops += x.op == EditOp::kEqual ? '=' : x.op == EditOp::kDelete ? '-' : '+';
    ops += x.line;
  }
  EXPECT_EQ(ops, "=a-b=c+x=d");
}

TEST(Udiff, ManyEditsFallBackToDeleteThenInsert) {
  std::string a, b;
  for (int i = 0; i < 50; ++i)
    a += "a" + std::to_string(i) + "\n", b += "b" + std::to_string(i) + "\n";
  auto e = diff_lines(split_lines(a), split_lines(b), 10);
  ASSERT_EQ(e.size(), 100u);
  EXPECT_EQ(e[0].op, EditOp::kDelete);
  EXPECT_EQ(e[99].op, EditOp::kInsert);
  // Without the cap, the same script length (no common lines).
  EXPECT_EQ(diff_lines(split_lines(a), split_lines(b)).size(), 100u);
}

TEST(Udiff, SplitLinesKeepsEmptyLinesAndIgnoresTheLastNewline) {
  EXPECT_EQ(split_lines("a\n\nb"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_lines("a\n"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(split_lines("").empty());
}

TEST(Udiff, ColoursOnlyTheMarkedLines) {
  EXPECT_EQ(colorize_diff("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z\n"),
            "\033[1m--- a\033[0m\n\033[1m+++ b\033[0m\n\033[36m@@ -1 +1 @@\033[0m\n"
            "\033[31m-x\033[0m\n\033[32m+y\033[0m\n z\n");
}

}  // namespace
}  // namespace cairn::cli
