#include "operator/release/analysis.h"

#include <gtest/gtest.h>

namespace cairn::release {
namespace {

TEST(Analysis, OneSampleOfAVectorOrAScalar) {
  auto v = parse_query_result(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"0.25"]}]}})");
  ASSERT_TRUE(v) << v.error();
  EXPECT_DOUBLE_EQ(v->value, 0.25);
  EXPECT_EQ(v->text, "0.25");
  auto s = parse_query_result(
      R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"3"]}})");
  ASSERT_TRUE(s) << s.error();
  EXPECT_DOUBLE_EQ(s->value, 3);
}

TEST(Analysis, EverythingElseIsAnErrorThatSaysWhatToDo) {
  auto none =
      parse_query_result(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("or vector(0)"), std::string::npos) << none.error();
  auto many = parse_query_result(
      R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}})");
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().find("returned 2 samples"), std::string::npos) << many.error();
  auto refused = parse_query_result(
      R"({"status":"error","errorType":"bad_data","error":"parse error at char 4"})");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("parse error at char 4"), std::string::npos);
  EXPECT_FALSE(parse_query_result("<html>"));
  EXPECT_FALSE(parse_query_result(
      R"({"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}})"));
  EXPECT_FALSE(
      parse_query_result(R"({"status":"success","data":{"resultType":"matrix","result":[]}})"));
}

TEST(Analysis, UnreachablePrometheusIsAnErrorNotAHang) {
  auto r = query_prometheus("http://127.0.0.1:1", "up", std::chrono::seconds(2));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot be reached"), std::string::npos) << r.error();
  EXPECT_FALSE(query_prometheus("ftp://x", "up", std::chrono::seconds(1)));
}

}  // namespace
}  // namespace cairn::release
