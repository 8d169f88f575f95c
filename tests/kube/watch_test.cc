#include "kube/watch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cairn::kube {
namespace {

using ::testing::HasSubstr;

TEST(WatchEvent, ReadsTypeObjectAndVersionWithoutManagedFields) {
  auto ev = parse_watch_event(
      R"({"type":"MODIFIED","object":{"kind":"ConfigMap","metadata":{"name":"a","namespace":"n",)"
      R"("resourceVersion":"42","managedFields":[{"manager":"x"}]}}})");
  ASSERT_TRUE(ev) << ev.error();
  EXPECT_EQ(ev->type, "MODIFIED");
  EXPECT_EQ(ev->resource_version, "42");
  EXPECT_EQ(ev->object["metadata"]["name"], "a");
  EXPECT_FALSE(ev->object["metadata"].contains("managedFields"));
  auto kept = parse_watch_event(
      R"({"type":"ADDED","object":{"metadata":{"name":"a","managedFields":[]}}})", false);
  ASSERT_TRUE(kept);
  EXPECT_TRUE(kept->object["metadata"].contains("managedFields"));
}

TEST(WatchEvent, ErrorEventsSayGoneOrWhy) {
  auto gone = parse_watch_event(R"({"type":"ERROR","object":{"kind":"Status","code":410}})");
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->gone);
  auto expired = parse_watch_event(R"({"type":"ERROR","object":{"reason":"Expired"}})");
  ASSERT_TRUE(expired);
  EXPECT_TRUE(expired->gone);
  auto other = parse_watch_event(
      R"({"type":"ERROR","object":{"code":"410","reason":7,"message":"too many requests"}})");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->gone) << "a code that is not a number is not 410";
  EXPECT_EQ(other->message, "too many requests");
  auto bare = parse_watch_event(R"({"type":"ERROR","object":{"message":5}})");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->message, "unknown");
}

// Fields of the wrong type used to throw out of the informer's event handler
// (json::value on a non-string); now each is an error that names the field.
TEST(WatchEvent, MalformedEventsAreErrorsNotExceptions) {
  struct Case {
    const char* line;
    const char* error;
  };
  for (const Case& c : {
           Case{"not json", "not a JSON object"},
           Case{"[1,2]", "not a JSON object"},
           Case{R"({"object":{}})", "without a type"},
           Case{R"({"type":7,"object":{}})", "without a type"},
           Case{R"({"type":"ADDED"})", "without an object"},
           Case{R"({"type":"ADDED","object":"x"})", "without an object"},
           Case{R"({"type":"ADDED","object":{"metadata":[]}})", "metadata is not a mapping"},
           Case{R"({"type":"ADDED","object":{"metadata":{"name":1}}})", "metadata.name is not"},
           Case{R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":9}}})",
                "metadata.resourceVersion is not"},
           Case{R"({"type":"ADDED","object":{"metadata":{"labels":{"a":1}}}})",
                "metadata.labels has a value"},
       }) {
    auto ev = parse_watch_event(c.line);
    ASSERT_FALSE(ev) << c.line;
    EXPECT_THAT(ev.error(), HasSubstr(c.error)) << c.line;
  }
}

}  // namespace
}  // namespace cairn::kube
