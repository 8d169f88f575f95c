#include "kube/error.h"

#include <gtest/gtest.h>

namespace cairn::kube {
namespace {

TEST(ErrorFromResponse, NotFoundFromStatus) {
  auto e = error_from_response(
      404,
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","code":404})");
  EXPECT_EQ(e.code, Code::kNotFound);
  EXPECT_EQ(e.message, "configmaps \"x\" not found");
  EXPECT_FALSE(e.retriable());
  EXPECT_EQ(e.to_string(), "NotFound: configmaps \"x\" not found");
}

TEST(ErrorFromResponse, AlreadyExistsIsDistinctFromConflict) {
  auto exists =
      error_from_response(409, R"({"kind":"Status","reason":"AlreadyExists","message":"m"})");
  auto conflict =
      error_from_response(409, R"({"kind":"Status","reason":"Conflict","message":"m"})");
  EXPECT_EQ(exists.code, Code::kAlreadyExists);
  EXPECT_EQ(conflict.code, Code::kConflict);
  EXPECT_TRUE(conflict.retriable());
}

TEST(ErrorFromResponse, InvalidCarriesCauses) {
  auto e = error_from_response(422, R"({"kind":"Status","reason":"Invalid","message":"bad",
    "details":{"causes":[{"field":"spec.replicas","reason":"FieldValueInvalid","message":"must be >= 0"}]}})");
  EXPECT_EQ(e.code, Code::kInvalid);
  ASSERT_EQ(e.causes.size(), 1u);
  EXPECT_EQ(e.causes[0].field, "spec.replicas");
  EXPECT_NE(e.to_string().find("spec.replicas: must be >= 0"), std::string::npos);
}

TEST(ErrorFromResponse, GoneAndExpired) {
  EXPECT_EQ(error_from_response(410, R"({"kind":"Status","reason":"Gone"})").code, Code::kGone);
  EXPECT_EQ(
      error_from_response(410, R"({"kind":"Status","reason":"Expired","message":"too old"})").code,
      Code::kGone);
}

TEST(ErrorFromResponse, TooManyRequestsHonoursRetryAfter) {
  auto e = error_from_response(429, R"({"kind":"Status","reason":"TooManyRequests"})", "7");
  EXPECT_EQ(e.code, Code::kTooManyRequests);
  ASSERT_TRUE(e.retry_after.has_value());
  EXPECT_EQ(e.retry_after->count(), 7);
  auto d = error_from_response(429, R"({"kind":"Status","details":{"retryAfterSeconds":3}})");
  EXPECT_EQ(d.retry_after->count(), 3);
  auto none = error_from_response(429, "");
  EXPECT_TRUE(none.retry_after.has_value()) << "429 without Retry-After still waits";
}

TEST(ErrorFromResponse, ForbiddenAndUnauthorized) {
  EXPECT_EQ(
      error_from_response(403, R"({"kind":"Status","reason":"Forbidden","message":"no"})").code,
      Code::kForbidden);
  EXPECT_EQ(error_from_response(401, "Unauthorized").code, Code::kUnauthorized);
}

TEST(ErrorFromResponse, NonStatusBodyStillGivesAMessage) {
  auto e = error_from_response(502, "<html>" + std::string(10000, 'x') + "</html>");
  EXPECT_EQ(e.code, Code::kServerError);
  EXPECT_LT(e.message.size(), 300u) << "bodies are truncated";
  EXPECT_NE(e.message.find("HTTP 502"), std::string::npos);
  EXPECT_TRUE(e.retriable());
  EXPECT_EQ(error_from_response(504, "").code, Code::kTimeout);
}

}  // namespace
}  // namespace cairn::kube
