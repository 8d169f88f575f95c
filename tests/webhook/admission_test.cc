#include "webhook/admission.h"

#include <gtest/gtest.h>

namespace cairn::webhook {
namespace {

const char* kReview = R"({
  "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
  "request": {
    "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
    "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
    "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
    "subResource": "scale",
    "namespace": "shop", "name": "web", "operation": "UPDATE",
    "userInfo": {"username": "alice", "groups": ["devs", "system:authenticated"]},
    "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
    "oldObject": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
    "dryRun": true
  }
})";

TEST(ParseReview, ReadsEveryField) {
  auto r = parse_review(kReview);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(r->group_kind(), "apps/Deployment");
  EXPECT_EQ(r->resource, "deployments");
  EXPECT_EQ(r->resource_group, "apps");
  EXPECT_EQ(r->sub_resource, "scale");
  EXPECT_EQ(r->ns, "shop");
  EXPECT_EQ(r->operation, "UPDATE");
  EXPECT_EQ(r->username, "alice");
  EXPECT_EQ(r->groups, (std::vector<std::string>{"devs", "system:authenticated"}));
  EXPECT_TRUE(r->dry_run);
  EXPECT_EQ(r->object["metadata"]["name"], "web");
}

TEST(ParseReview, LeavesOutWhatNoDecisionReads) {
  auto review = [](const std::string& op, const std::string& sub) {
    cairn::json obj = {{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata",
                        {{"name", "web"},
                         {"annotations", {{"a", "b"}}},
                         {"managedFields", {{{"manager", "kubectl"}, {"operation", "Apply"}}}}}},
                       {"data", {{"managedFields", "kept: a key of the data, not metadata"}}}};
    // Keys sorted, so oldObject comes before operation (the apiserver writes
    // operation first): what is kept must not depend on the order.
    cairn::json req = {{"uid", "u"},
                       {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "ConfigMap"}}},
                       {"subResource", sub},
                       {"namespace", "shop"},
                       {"name", "web"},
                       {"operation", op},
                       {"object", op == "DELETE" ? cairn::json() : obj},
                       {"oldObject", obj}};
    return parse_review(cairn::json{
        {"apiVersion", "admission.k8s.io/v1"},
        {"kind", "AdmissionReview"},
        {"request", req}}.dump());
  };
  auto update = review("UPDATE", "");
  ASSERT_TRUE(update) << update.error();
  EXPECT_FALSE(update->object["metadata"].contains("managedFields"));
  EXPECT_EQ(update->object["metadata"]["annotations"]["a"], "b");
  EXPECT_EQ(update->object["data"]["managedFields"], "kept: a key of the data, not metadata");
  ASSERT_TRUE(update->old_object.is_object()) << "an UPDATE is diffed oldObject -> object";
  EXPECT_FALSE(update->old_object["metadata"].contains("managedFields"));

  auto del = review("DELETE", "");
  ASSERT_TRUE(del) << del.error();
  ASSERT_TRUE(del->old_object.is_object()) << "a DELETE is decided on the old object";
  EXPECT_EQ(del->old_object["metadata"]["name"], "web");
  EXPECT_FALSE(del->old_object["metadata"].contains("managedFields"));

  auto scale = review("UPDATE", "scale");
  ASSERT_TRUE(scale) << scale.error();
  EXPECT_TRUE(scale->old_object.is_object()) << "subresource requests keep oldObject";
}

TEST(ParseReview, EveryTruncationIsAnErrorNotACrash) {
  std::string full = kReview;
  for (size_t n = 0; n < full.size() - 1; ++n) {
    auto r = parse_review(std::string_view(full).substr(0, n));
    EXPECT_FALSE(r) << "a review cut at " << n << " bytes was accepted";
    if (!r) {
      EXPECT_FALSE(r.error().empty());
    }
  }
}

TEST(ParseReview, WrongShapesNameTheField) {
  auto bad = [](const std::string& body) {
    auto r = parse_review(body);
    return r ? std::string("accepted") : r.error();
  };
  EXPECT_NE(bad("[]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(bad(R"({"apiVersion":"v1","kind":"Pod"})").find("expected AdmissionReview"),
            std::string::npos);
  EXPECT_NE(bad(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})")
                .find("request is missing"),
            std::string::npos);
  EXPECT_NE(
      bad(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}})")
          .find("request.uid must be a string"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"PATCH","kind":{"kind":"Pod"}}})")
          .find("request.operation"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"CREATE","kind":{"kind":"Pod"},"userInfo":{"groups":"admins"}}})")
          .find("groups must be a list"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"CREATE","kind":{"kind":"Pod"}}})")
          .find("request.object is missing"),
      std::string::npos);
}

TEST(Answer, EchoesUidAndCarriesTheDenial) {
  auto r = parse_review(kReview);
  ASSERT_TRUE(r);
  Verdict v{.allowed = false, .code = 403, .reason = "Forbidden", .message = "no stamp"};
  auto out = cairn::json::parse(answer(*r, v));
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["kind"], "AdmissionReview");
  EXPECT_EQ(out["response"]["uid"], r->uid);
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 403);
  EXPECT_EQ(out["response"]["status"]["message"], "no stamp");
}

TEST(Answer, WarningsAreCutToWhatTheApiserverKeeps) {
  auto r = parse_review(kReview);
  ASSERT_TRUE(r);
  Verdict v;
  v.warnings = {std::string(1000, 'x'), "line\nbreak"};
  auto out = cairn::json::parse(answer(*r, v));
  EXPECT_EQ(out["response"]["allowed"], true);
  ASSERT_EQ(out["response"]["warnings"].size(), 2u);
  EXPECT_LE(out["response"]["warnings"][0].get<std::string>().size(), 256u);
  EXPECT_EQ(out["response"]["warnings"][1], "line break");
}

}  // namespace
}  // namespace cairn::webhook
