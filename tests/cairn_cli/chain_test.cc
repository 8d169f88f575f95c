#include "chain.h"

#include <gtest/gtest.h>

#include "api/validate.h"

namespace cairn::cli {
namespace {

const std::string kA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
const std::string kB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
const std::string kC = "ccccccccccccccccccccccccccccccccccccccc3";
const std::string kUrl = "https://git.example.com/shop/app.git";

const Resource kDeployments{"apps", "v1", "deployments", "Deployment", "", {"deploy"}, true};
const Resource kReleases{"cairn.dev", "v1alpha1", "releases", "Release", "release", {"rel"}, true};

json deployment(const std::string& commit) {
  return json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop",
      "labels": {"app.kubernetes.io/managed-by": "cairn"},
      "annotations": {"cairn.dev/commit": ")" +
                     commit + R"(",
        "cairn.dev/source": "https://ci:s3cret@git.example.com/shop/app.git",
        "cairn.dev/path": "deploy/app.yaml", "cairn.dev/release": "shop/web"}}})");
}

json release(const std::string& gate = "ci") {
  json r = json::parse(R"({"apiVersion": "cairn.dev/v1alpha1", "kind": "Release",
    "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2024-05-01T10:00:00Z"},
    "spec": {"source": {"url": "https://git.example.com/shop/app.git", "branch": "main",
                        "secretRef": {"name": "git-auth"}},
             "path": "deploy"},
    "status": {"phase": "Deployed", "currentCommit": ")" +
                       kB + R"(",
      "desiredCommit": ")" +
                       kB + R"(", "lastAttemptedCommit": ")" + kB + R"(",
      "conditions": [{"type": "Ready", "status": "True", "reason": "Deployed",
                      "message": "deployed bbbbbbbb", "lastTransitionTime": "2024-05-01T12:00:00Z"}],
      "inventory": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"}],
      "history": [
        {"commit": ")" +
                       kB + R"(", "startedAt": "2024-05-01T12:00:00Z",
         "finishedAt": "2024-05-01T12:00:20Z", "result": "Deployed", "leadTimeSeconds": 95},
        {"commit": ")" +
                       kC + R"(", "startedAt": "2024-05-01T11:30:00Z",
         "finishedAt": "2024-05-01T11:35:00Z", "result": "RolledBack", "reason": "progressDeadline"},
        {"commit": ")" +
                       kA + R"(", "startedAt": "2024-05-01T11:00:00Z",
         "finishedAt": "2024-05-01T11:00:30Z", "result": "Deployed", "leadTimeSeconds": 40}]}})");
  if (!gate.empty()) r["spec"]["gate"] = {{"pipelineRef", {{"name", gate}}}};
  return r;
}

json pipeline(const std::string& name, const std::string& url, const std::string& branch) {
  return json::parse(R"({"apiVersion": "cairn.dev/v1alpha1", "kind": "Pipeline",
    "metadata": {"name": ")" +
                     name + R"(", "namespace": "shop"},
    "spec": {"source": {"url": ")" +
                     url + R"(", "branch": ")" + branch + R"("},
             "steps": [{"name": "test", "image": "x", "script": "true"}]},
    "status": {"latestCommit": ")" +
                     kB + R"(", "lastSucceededCommit": ")" + kB + R"(",
      "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok",
                      "lastTransitionTime": "2024-05-01T12:00:00Z"}],
      "runs": [
        {"id": "3", "commit": ")" +
                     kB + R"(", "trigger": "manual", "phase": "Failed",
         "author": "Ann <ann@example.com>", "title": "B: new image",
         "startTime": "2024-05-01T12:10:00Z", "completionTime": "2024-05-01T12:10:05Z", "steps": []},
        {"id": "2", "commit": ")" +
                     kB + R"(", "trigger": "poll", "phase": "Succeeded",
         "author": "Ann <ann@example.com>", "title": "B: new image",
         "startTime": "2024-05-01T11:58:00Z", "completionTime": "2024-05-01T11:59:12Z",
         "steps": [
           {"name": "audit", "phase": "Succeeded", "job": "ci-2-audit", "attempts": 1,
            "startTime": "2024-05-01T11:58:00Z", "completionTime": "2024-05-01T11:58:03Z"},
           {"name": "test", "phase": "Succeeded", "job": "ci-2-test", "attempts": 2,
            "startTime": "2024-05-01T11:58:03Z", "completionTime": "2024-05-01T11:59:12Z",
            "results": {"coverage": "81%"}}]},
        {"id": "1", "commit": ")" +
                     kA + R"(", "trigger": "poll", "phase": "Succeeded",
         "author": "Bob <bob@example.com>", "title": "A: first", "steps": []}]}})");
}

git::CommitInfo info(const std::string& id, const std::string& title) {
  git::CommitInfo i;
  i.id = id;
  i.title = title;
  i.message = title + "\n";
  i.author_name = "Ann";
  i.author_email = "ann@example.com";
  i.committer_name = "Ann";
  i.committer_email = "ann@example.com";
  i.author_time = 1714564680;  // 2024-05-01T11:58:00Z
  i.commit_time = 1714564680;
  i.has_signature = true;
  return i;
}

TraceInput full_input() {
  TraceInput in;
  in.object = deployment(kB);
  in.resource = kDeployments;
  in.release = release();
  in.pipelines = json::array({pipeline("ci", kUrl, "main"), pipeline("other", kUrl, "main")});
  in.commit = kB;
  in.git.url = kUrl;
  in.git.repository = "fetched";
  in.git.info = info(kB, "B: new image");
  return in;
}

TEST(Trace, TheWholeChainWithStableFieldNames) {
  json d = assemble_trace(full_input());
  EXPECT_TRUE(d["errors"].empty()) << d["errors"].dump();
  EXPECT_TRUE(d["warnings"].empty()) << d["warnings"].dump();

  const json& o = d["object"];
  EXPECT_EQ(o["apiVersion"], "apps/v1");
  EXPECT_EQ(o["kind"], "Deployment");
  EXPECT_EQ(o["namespace"], "shop");
  EXPECT_EQ(o["name"], "web");
  EXPECT_EQ(o["managedByCairn"], true);
  EXPECT_EQ(o["stamp"]["commit"], kB);
  EXPECT_EQ(o["stamp"]["path"], "deploy/app.yaml");
  EXPECT_EQ(o["stamp"]["release"], "shop/web");
  EXPECT_EQ(o["stamp"]["source"], kUrl) << "credentials are never shown";
  EXPECT_EQ(d.dump().find("s3cret"), std::string::npos);

  const json& r = d["release"];
  EXPECT_EQ(r["namespace"], "shop");
  EXPECT_EQ(r["name"], "web");
  EXPECT_EQ(r["phase"], "Deployed");
  EXPECT_EQ(r["ready"]["status"], "True");
  EXPECT_EQ(r["ready"]["reason"], "Deployed");
  EXPECT_EQ(r["source"]["url"], kUrl);
  EXPECT_EQ(r["source"]["ref"], "branch main");
  EXPECT_EQ(r["path"], "deploy");
  EXPECT_EQ(r["gate"], "ci");
  EXPECT_EQ(r["currentCommit"], kB);
  EXPECT_EQ(r["objectCommitIsCurrent"], true);
  EXPECT_EQ(r["inInventory"], true);
  ASSERT_EQ(r["history"].size(), 3u);
  EXPECT_EQ(r["history"][0]["commit"], kB);
  EXPECT_EQ(r["history"][0]["result"], "Deployed");
  EXPECT_EQ(r["history"][0]["leadTimeSeconds"], 95);
  EXPECT_EQ(r["history"][0]["current"], true);
  EXPECT_EQ(r["history"][1]["result"], "RolledBack");
  EXPECT_EQ(r["history"][1]["reason"], "progressDeadline");
  EXPECT_EQ(r["history"][1]["current"], false);

  const json& c = d["commit"];
  EXPECT_EQ(c["id"], kB);
  EXPECT_EQ(c["from"], "git");
  EXPECT_EQ(c["title"], "B: new image");
  EXPECT_EQ(c["author"]["name"], "Ann");
  EXPECT_EQ(c["author"]["email"], "ann@example.com");
  EXPECT_EQ(c["authorTime"], "2024-05-01T11:58:00Z");
  EXPECT_EQ(c["signature"]["required"], false);
  EXPECT_EQ(c["signature"]["status"], "NotRequired");
  EXPECT_EQ(c["signature"]["signed"], true);
  EXPECT_EQ(c["repository"]["status"], "fetched");
  EXPECT_FALSE(c["repository"].contains("error"));

  const json& p = d["pipeline"];
  EXPECT_EQ(p["name"], "ci");
  EXPECT_EQ(p["matchedBy"], "gate");
  EXPECT_EQ(p["run"]["id"], "2") << "the run that passed, not the newer failed re-run";
  EXPECT_EQ(p["run"]["phase"], "Succeeded");
  EXPECT_EQ(p["run"]["trigger"], "poll");
  EXPECT_EQ(p["run"]["durationSeconds"], 72);
  ASSERT_EQ(p["run"]["steps"].size(), 2u);
  EXPECT_EQ(p["run"]["steps"][1]["name"], "test");
  EXPECT_EQ(p["run"]["steps"][1]["phase"], "Succeeded");
  EXPECT_EQ(p["run"]["steps"][1]["attempts"], 2);
  EXPECT_EQ(p["run"]["steps"][1]["durationSeconds"], 69);
  EXPECT_EQ(p["run"]["steps"][1]["results"]["coverage"], "81%");
  ASSERT_EQ(p["otherRuns"].size(), 1u);
  EXPECT_EQ(p["otherRuns"][0]["id"], "3");
  EXPECT_EQ(p["otherRuns"][0]["trigger"], "manual");
}

TEST(Trace, AnUnreachableRepositoryIsAWarningAndTheClusterStillKnowsTheTitle) {
  TraceInput in = full_input();
  in.git.info.reset();
  in.git.repository = "unreachable";
  in.git.error = "connection refused: https://git.example.com/shop/app.git";
  json d = assemble_trace(in);
  EXPECT_TRUE(d["errors"].empty()) << "git being down never fails the trace";
  ASSERT_EQ(d["warnings"].size(), 1u);
  EXPECT_NE(d["warnings"][0].get<std::string>().find("connection refused"), std::string::npos);
  EXPECT_EQ(d["commit"]["from"], "pipeline");
  EXPECT_EQ(d["commit"]["title"], "B: new image");
  EXPECT_EQ(d["commit"]["author"]["name"], "Ann");
  EXPECT_EQ(d["commit"]["author"]["email"], "ann@example.com");
  EXPECT_EQ(d["commit"]["signature"]["signed"], nullptr) << "unknown without git";
  EXPECT_EQ(d["commit"]["repository"]["status"], "unreachable");
  EXPECT_EQ(d["pipeline"]["run"]["id"], "2");
}

TEST(Trace, SignatureStatusWhenTheReleaseRequiresSignedCommits) {
  TraceInput in = full_input();
  in.git.signature_required = true;
  in.git.signature = git::SignatureCheck{git::SignatureStatus::kValid, "SHA256:abc", ""};
  json d = assemble_trace(in);
  EXPECT_EQ(d["commit"]["signature"]["required"], true);
  EXPECT_EQ(d["commit"]["signature"]["status"], "Valid");
  EXPECT_EQ(d["commit"]["signature"]["key"], "SHA256:abc");

  in.git.signature.reset();
  in.git.signature_error = "Secret shop/signers does not exist";
  d = assemble_trace(in);
  EXPECT_EQ(d["commit"]["signature"]["status"], "Unknown");
  EXPECT_EQ(d["commit"]["signature"]["message"], "Secret shop/signers does not exist");
}

TEST(Trace, MissingLinksAreErrors) {
  TraceInput in = full_input();
  in.object["metadata"].erase("annotations");
  in.release.reset();
  in.commit.clear();
  json d = assemble_trace(in);
  ASSERT_EQ(d["errors"].size(), 1u);
  EXPECT_NE(d["errors"][0].get<std::string>().find("no provenance stamp"), std::string::npos);
  EXPECT_TRUE(d["object"]["stamp"].is_null());
  EXPECT_TRUE(d["release"].is_null());
  EXPECT_TRUE(d["commit"].is_null());
  EXPECT_TRUE(d["pipeline"].is_null());

  in = full_input();
  in.release.reset();
  in.release_error = "Release shop/web not found";
  d = assemble_trace(in);
  ASSERT_EQ(d["errors"].size(), 1u);
  EXPECT_EQ(d["errors"][0], "Release shop/web not found");
  EXPECT_EQ(d["commit"]["id"], kB) << "the stamp still names the commit";
}

TEST(Trace, DriftFromTheReleaseIsAWarning) {
  TraceInput in = full_input();
  in.object = deployment(kA);
  in.object["metadata"]["name"] = "old";
  in.commit = kA;
  in.git.info = info(kA, "A: first");
  json d = assemble_trace(in);
  EXPECT_TRUE(d["errors"].empty());
  EXPECT_EQ(d["release"]["objectCommitIsCurrent"], false);
  EXPECT_EQ(d["release"]["inInventory"], false);
  ASSERT_EQ(d["warnings"].size(), 2u) << d["warnings"].dump();
  EXPECT_NE(d["warnings"][0].get<std::string>().find("current commit is bbbbbbbb"),
            std::string::npos);
  EXPECT_EQ(d["pipeline"]["run"]["id"], "1");
}

TEST(Trace, AReleaseIsTracedFromItsCurrentCommit) {
  TraceInput in;
  in.object = release();
  in.resource = kReleases;
  in.release = in.object;
  in.pipelines = json::array({pipeline("ci", kUrl, "main")});
  json d = assemble_trace(in);
  EXPECT_TRUE(d["errors"].empty()) << d["errors"].dump();
  EXPECT_TRUE(d["object"]["stamp"].is_null());
  EXPECT_EQ(d["commit"]["id"], kB);
  EXPECT_EQ(d["pipeline"]["run"]["id"], "2");
  EXPECT_FALSE(d["release"].contains("objectCommitIsCurrent"));
}

TEST(Trace, NoRunOfTheCommitAndAMissingGateAreWarnings) {
  TraceInput in = full_input();
  in.pipelines = json::array();
  json d = assemble_trace(in);
  EXPECT_TRUE(d["pipeline"].is_null());
  ASSERT_EQ(d["warnings"].size(), 1u);
  EXPECT_NE(d["warnings"][0].get<std::string>().find("Pipeline ci, which does not exist"),
            std::string::npos);

  in = full_input();
  in.pipelines[0]["status"]["runs"] = json::array();
  d = assemble_trace(in);
  EXPECT_TRUE(d["pipeline"]["run"].is_null());
  EXPECT_NE(d["warnings"].dump().find("no run of commit bbbbbbbb"), std::string::npos);
}

TEST(FindPipeline, WithoutAGateTheSameNormalisedSourceAndBranch) {
  auto spec = api::parse_release_spec(release("")["spec"], "web");
  ASSERT_TRUE(spec);
  json items = json::array({pipeline("a-other-branch", kUrl, "dev"),
                            pipeline("b-other-repo", "https://git.example.com/x.git", "main"),
                            pipeline("c-same", "https://GIT.example.com/shop/app.git/", "main")});
  PipelineMatch m = find_pipeline(*spec, items, kB);
  ASSERT_NE(m.pipeline, nullptr);
  EXPECT_EQ((*m.pipeline)["metadata"]["name"], "c-same");
  EXPECT_EQ(m.matched_by, "source");

  // Of two candidates, the one that ran the commit.
  json two = json::array({pipeline("a", kUrl, "main"), pipeline("b", kUrl, "main")});
  two[0]["status"]["runs"] = json::array();
  m = find_pipeline(*spec, two, kB);
  ASSERT_NE(m.pipeline, nullptr);
  EXPECT_EQ((*m.pipeline)["metadata"]["name"], "b");

  EXPECT_EQ(find_pipeline(*spec, json::array({pipeline("x", kUrl, "dev")}), kB).pipeline, nullptr);
}

TEST(TestedRun, NewestSucceededElseNewest) {
  std::vector<api::RunStatus> runs(3);
  runs[0].commit = kB;
  runs[0].phase = api::RunPhase::kRunning;
  runs[1].commit = kB;
  runs[1].phase = api::RunPhase::kFailed;
  runs[2].commit = kA;
  runs[2].phase = api::RunPhase::kSucceeded;
  EXPECT_EQ(tested_run(runs, kB), 0u);
  runs[1].phase = api::RunPhase::kSucceeded;
  EXPECT_EQ(tested_run(runs, kB), 1u);
  EXPECT_EQ(tested_run(runs, kA.substr(0, 7)), 2u);
  EXPECT_FALSE(tested_run(runs, kC));
}

TEST(SameCommit, PrefixesOfSevenOrMore) {
  EXPECT_TRUE(same_commit(kA, kA));
  EXPECT_TRUE(same_commit(kA.substr(0, 7), kA));
  EXPECT_FALSE(same_commit(kA.substr(0, 6), kA));
  EXPECT_FALSE(same_commit("", kA));
  EXPECT_FALSE(same_commit("aaaaaaaz", kA));
}

TEST(Rollback, OnlyACommitThatWasDeployed) {
  json r = release();
  auto t = rollback_target(r, kA.substr(0, 7));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, kA);
  EXPECT_EQ(*rollback_target(r, kB), kB);
  auto failed = rollback_target(r, kC.substr(0, 10));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("never deployed successfully (its result was RolledBack)"),
            std::string::npos)
      << failed.error();
  auto unknown = rollback_target(r, "0123456789");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("not in the Release's history"), std::string::npos);
  EXPECT_NE(unknown.error().find("aaaaaaaa"), std::string::npos) << "lists what can be named";
  EXPECT_FALSE(rollback_target(r, "abc"));
  EXPECT_FALSE(rollback_target(r, "not-hex-at-all"));
  EXPECT_EQ(*rollback_target(r, "AAAAAAAA"), kA) << "hex case does not matter";
}

TEST(Rollback, TheAnnotationIsANewValueEvenForTheSameCommit) {
  json r = release();
  EXPECT_EQ(rollback_annotation_value(kA, r), kA);
  r["metadata"]["annotations"]["cairn.dev/rollback-to"] = kA;
  r["status"]["lastHandledRollbackTo"] = kA;
  std::string v = rollback_annotation_value(kA, r);
  EXPECT_NE(v, kA);
  EXPECT_TRUE(same_commit(v, kA));
  r["metadata"]["annotations"]["cairn.dev/rollback-to"] = v;
  r["status"]["lastHandledRollbackTo"] = v;
  std::string w = rollback_annotation_value(kA, r);
  EXPECT_NE(w, v);
  EXPECT_TRUE(same_commit(w, kA));
}

TEST(History, TitlesFromGitElseFromPipelineRuns) {
  std::map<std::string, git::CommitInfo> commits = {{kB, info(kB, "B from git")}};
  json d = assemble_history(release(), commits, json::array({pipeline("ci", kUrl, "main")}),
                            "connection refused");
  EXPECT_EQ(d["release"]["name"], "web");
  EXPECT_EQ(d["release"]["currentCommit"], kB);
  ASSERT_EQ(d["history"].size(), 3u);
  EXPECT_EQ(d["history"][0]["title"], "B from git");
  EXPECT_EQ(d["history"][0]["current"], true);
  EXPECT_FALSE(d["history"][1].contains("title")) << "no run recorded C";
  EXPECT_EQ(d["history"][2]["title"], "A: first");
  EXPECT_EQ(d["history"][2]["author"]["name"], "Bob");
  ASSERT_EQ(d["warnings"].size(), 1u);
  EXPECT_NE(d["warnings"][0].get<std::string>().find("connection refused"), std::string::npos);
}

TEST(Status, ReleasesAndPipelinesByName) {
  json r2 = release();
  r2["metadata"]["name"] = "api";
  json d = assemble_status("shop", json::array({release(), r2}),
                           json::array({pipeline("ci", kUrl, "main")}));
  EXPECT_EQ(d["namespace"], "shop");
  ASSERT_EQ(d["releases"].size(), 2u);
  EXPECT_EQ(d["releases"][0]["name"], "api");
  EXPECT_EQ(d["releases"][1]["phase"], "Deployed");
  EXPECT_EQ(d["releases"][1]["ready"]["status"], "True");
  EXPECT_EQ(d["releases"][1]["currentCommit"], kB);
  ASSERT_EQ(d["pipelines"].size(), 1u);
  EXPECT_EQ(d["pipelines"][0]["latestCommit"], kB);
  EXPECT_EQ(d["pipelines"][0]["lastRun"]["id"], "3");
  EXPECT_EQ(d["pipelines"][0]["lastRun"]["trigger"], "manual");
  EXPECT_FALSE(d["pipelines"][0]["lastRun"].contains("steps"));
}

}  // namespace
}  // namespace cairn::cli
