#include "operator/pipeline/job.h"

#include <gtest/gtest.h>

namespace cairn::pipeline {
namespace {

api::Step step(const std::string& name) {
  api::Step s;
  s.name = name;
  s.image = "debian:12";
  s.script = "make test";
  s.retries = 2;
  s.timeout = std::chrono::minutes(10);
  s.env = {{"K", "v"}};
  return s;
}

JobInputs inputs(const api::Step& s) {
  return {.ns = "shop",
          .pipeline = "ci",
          .pipeline_uid = "uid-1",
          .run_id = "0123abcd-1",
          .commit = "0123abcd0123abcd0123abcd0123abcd0123abcd",
          .source_url = "https://git.example.com/shop/app.git",
          .secret_name = "git-auth",
          .checkout_image = "alpine/git:2.43.0",
          .step = &s};
}

TEST(BuildJob, DeterministicNameLabelsOwnerAndLimits) {
  api::Step s = step("test");
  kube::json a = build_job(inputs(s));
  kube::json b = build_job(inputs(s));
  EXPECT_EQ(a, b) << "the same run and step always give the same Job";
  EXPECT_EQ(a["metadata"]["name"], "ci-0123abcd-1-test");
  const auto& labels = a["metadata"]["labels"];
  EXPECT_EQ(labels["cairn.dev/pipeline"], "ci");
  EXPECT_EQ(labels["cairn.dev/run"], "0123abcd-1");
  EXPECT_EQ(labels["cairn.dev/commit"], "0123abcd0123abcd0123abcd0123abcd0123abcd");
  EXPECT_EQ(labels["cairn.dev/step"], "test");
  EXPECT_EQ(a["spec"]["template"]["metadata"]["labels"], labels) << "pods carry the labels too";
  const auto& owner = a["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "Pipeline");
  EXPECT_EQ(owner["uid"], "uid-1");
  EXPECT_TRUE(owner["controller"].get<bool>());
  EXPECT_EQ(a["spec"]["backoffLimit"], 2);
  EXPECT_EQ(a["spec"]["activeDeadlineSeconds"], 600 * 3) << "the timeout is per attempt";
}

TEST(BuildJob, CheckoutInitContainerThenTheStepInTheWorkspace) {
  api::Step s = step("test");
  kube::json j = build_job(inputs(s));
  const auto& pod = j["spec"]["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Never");
  const auto& init = pod["initContainers"][0];
  EXPECT_EQ(init["name"], "checkout");
  EXPECT_EQ(init["image"], "alpine/git:2.43.0");
  std::string script = init["command"][2];
  EXPECT_NE(script.find("git -c advice.detachedHead=false checkout -q \"$CAIRN_COMMIT\""),
            std::string::npos);
  bool auth_mounted = false;
  for (const auto& m : init["volumeMounts"]) auth_mounted |= m["mountPath"] == kGitAuthDir;
  EXPECT_TRUE(auth_mounted) << "the checkout sees the credentials";
  const auto& c = pod["containers"][0];
  EXPECT_EQ(c["command"], kube::json::array({"/bin/sh", "-c", "make test"}));
  EXPECT_EQ(c["workingDir"], kWorkspace);
  for (const auto& m : c["volumeMounts"]) {
    EXPECT_NE(m["mountPath"], kGitAuthDir) << "the step itself never sees the git credentials";
  }
  bool has_env = false;
  for (const auto& e : c["env"]) has_env |= e["name"] == "K" && e["value"] == "v";
  EXPECT_TRUE(has_env);
}

TEST(BuildJob, CommandAndArgsInsteadOfScript) {
  api::Step s = step("build");
  s.script.clear();
  s.command = {"make"};
  s.args = {"build", "-j2"};
  s.timeout.reset();
  kube::json j = build_job(inputs(s));
  const auto& c = j["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["command"], kube::json::array({"make"}));
  EXPECT_EQ(c["args"], kube::json::array({"build", "-j2"}));
  EXPECT_FALSE(j["spec"].contains("activeDeadlineSeconds"));
}

TEST(ParseResults, KeyValueLinesOnly) {
  auto r = parse_results(
      "artifact=app-1.2\nnot a result\ndigest=sha256:abc=def\r\n=novalue\nbad key=x\n");
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r["artifact"], "app-1.2");
  EXPECT_EQ(r["digest"], "sha256:abc=def");
  std::string many;
  for (int i = 0; i < 100; ++i) many += "k" + std::to_string(i) + "=v\n";
  EXPECT_EQ(parse_results(many).size(), 32u) << "bounded";
  EXPECT_TRUE(parse_results("").empty());
}

// A value is cut at 1024 bytes and a failure excerpt at 512, never inside a
// UTF-8 character: the status is JSON, and half a character made it
// unwritable (cairn::json::dump throws), so the run's status could not be
// saved (tests/fuzz/termination_fuzz.cc).
TEST(ParseResults, LongValuesAreCutAtACharacterBoundary) {
  const std::string han = "\xe4\xb8\xad";  // U+4E2D, 3 bytes
  std::string v;
  while (v.size() < 1100) v += han;
  auto r = parse_results("k=" + v + "\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r["k"].size(), 1023u) << "341 whole characters, not 1024 bytes";
  EXPECT_EQ(r["k"], v.substr(0, 1023));
  EXPECT_NO_THROW((void)kube::json(r).dump());

  const std::string msg = "  \n" + std::string(511, 'x') + han + "tail";
  const std::string e = failure_excerpt(msg);
  EXPECT_EQ(e, std::string(511, 'x')) << "the character across byte 512 is left out whole";
  EXPECT_NO_THROW((void)kube::json(e).dump());
  EXPECT_EQ(failure_excerpt(" short \n"), "short");
  EXPECT_EQ(utf8_prefix("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
  EXPECT_EQ(utf8_prefix("abc", 3), "abc");
}

}  // namespace
}  // namespace cairn::pipeline
