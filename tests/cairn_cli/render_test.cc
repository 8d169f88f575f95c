#include "render.h"

#include <gtest/gtest.h>

#include "kube/util.h"

namespace cairn::cli {
namespace {

using cairn::json;

const std::string kB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";

Style style(bool color) {
  Style st;
  st.color = color;
  st.now = *kube::parse_rfc3339("2024-05-01T12:05:00Z");
  return st;
}

json trace_doc() {
  return json::parse(R"({
    "object": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web",
               "managedByCairn": true,
               "stamp": {"commit": ")" +
                     kB + R"(", "source": "https://git.example.com/app.git",
                         "path": "deploy/app.yaml", "release": "shop/web"}},
    "release": {"namespace": "shop", "name": "web", "phase": "Deployed",
                "ready": {"status": "True", "reason": "Deployed", "message": "deployed bbbbbbbb"},
                "source": {"url": "https://git.example.com/app.git", "ref": "branch main"},
                "path": "deploy", "gate": "ci", "currentCommit": ")" +
                     kB + R"(",
                "objectCommitIsCurrent": true, "inInventory": true,
                "history": [{"commit": ")" +
                     kB + R"(", "result": "Deployed",
                             "finishedAt": "2024-05-01T12:00:20Z", "leadTimeSeconds": 95,
                             "current": true},
                            {"commit": "cccccccc11", "result": "RolledBack",
                             "finishedAt": "2024-05-01T11:35:00Z", "reason": "progressDeadline",
                             "current": false}]},
    "commit": {"id": ")" +
                     kB + R"(", "from": "git", "title": "B: new image",
               "author": {"name": "Ann", "email": "ann@example.com"},
               "authorTime": "2024-05-01T11:58:00Z",
               "committer": {"name": "Ann", "email": "ann@example.com"},
               "commitTime": "2024-05-01T11:58:00Z",
               "signature": {"required": false, "status": "NotRequired", "signed": false},
               "repository": {"url": "https://git.example.com/app.git", "status": "fetched"}},
    "pipeline": {"namespace": "shop", "name": "ci", "matchedBy": "gate",
                 "run": {"id": "2", "commit": ")" +
                     kB + R"(", "trigger": "poll",
                         "phase": "Succeeded", "startTime": "2024-05-01T11:58:00Z",
                         "durationSeconds": 72,
                         "steps": [{"name": "audit", "phase": "Succeeded", "durationSeconds": 3,
                                    "attempts": 1},
                                   {"name": "test", "phase": "Succeeded", "durationSeconds": 69,
                                    "attempts": 2, "results": {"coverage": "81%"}}]},
                 "otherRuns": [{"id": "3", "trigger": "manual", "phase": "Failed"}]},
    "errors": [], "warnings": ["something is off"]})");
}

TEST(Render, TraceShowsEveryLinkAndNoEscapesWithoutColour) {
  std::string out = render_trace(trace_doc(), style(false));
  EXPECT_EQ(out.find('\033'), std::string::npos) << out;
  for (const std::string& needle : std::vector<std::string>{
           "Deployment web  apps/v1, namespace shop",
           "  commit      " + kB,
           "  path        deploy/app.yaml",
           "  release     shop/web",
           "Release shop/web  Deployed  Ready=True",
           "  gate        Pipeline ci",
           "  current     bbbbbbbb  this object's commit",
           "  history     bbbbbbbb  Deployed",
           "lead 1m35s",
           "<- traced",
           "cccccccc  RolledBack",
           "progressDeadline",
           "Commit " + kB,
           "  title       B: new image",
           "  author      Ann <ann@example.com>, 2024-05-01T11:58:00Z (7m ago)",
           "  signature   not required (unsigned)",
           "  repository  https://git.example.com/app.git\n",
           "Pipeline shop/ci  (the Release's gate)",
           "  run         2  Succeeded  poll, took 1m12s",
           "  steps       audit  Succeeded  3s",
           "test   Succeeded  1m09s  2 attempts  coverage=81%",
           "  also        3  Failed  manual",
           "warning: something is off"}) {
    EXPECT_NE(out.find(needle), std::string::npos) << "missing: " << needle << "\n" << out;
  }
  EXPECT_EQ(out.find("committer"), std::string::npos) << "shown only when not the author";
}

TEST(Render, ColourMarksPhases) {
  std::string out = render_trace(trace_doc(), style(true));
  EXPECT_NE(out.find("\033[32mDeployed\033[0m"), std::string::npos) << out;
  EXPECT_NE(out.find("\033[32mSucceeded\033[0m"), std::string::npos);
  EXPECT_NE(out.find("\033[31mFailed\033[0m"), std::string::npos);
  EXPECT_NE(out.find("\033[33mwarning: \033[0m"), std::string::npos);
}

TEST(Render, MissingLinksAndErrors) {
  json d = trace_doc();
  d["release"] = nullptr;
  d["pipeline"] = nullptr;
  d["commit"]["from"] = nullptr;
  d["commit"].erase("title");
  d["commit"].erase("author");
  d["commit"].erase("committer");
  d["commit"]["repository"]["status"] = "unreachable";
  d["commit"]["repository"]["error"] = "connection refused";
  d["errors"] = {"Release shop/web not found"};
  std::string out = render_trace(d, style(false));
  EXPECT_NE(out.find("Release  not found"), std::string::npos) << out;
  EXPECT_NE(out.find("Pipeline  none"), std::string::npos);
  EXPECT_NE(out.find("(unreachable: connection refused)"), std::string::npos);
  EXPECT_NE(out.find("error: Release shop/web not found"), std::string::npos);
}

TEST(Render, HistoryAndStatusTables) {
  json h = json::parse(R"({"release": {"namespace": "shop", "name": "web", "phase": "Deployed"},
    "history": [{"commit": ")" +
                       kB + R"(", "result": "Deployed", "finishedAt": "2024-05-01T12:00:20Z",
                 "leadTimeSeconds": 95, "current": true, "title": "B: new image",
                 "author": {"name": "Ann"}},
                {"commit": "cccccccc11", "result": "Failed", "current": false,
                 "reason": "bad manifest"}],
    "warnings": []})");
  std::string out = render_history(h, style(false));
  EXPECT_NE(out.find("   COMMIT    RESULT    FINISHED"), std::string::npos) << out;
  EXPECT_NE(out.find("*  bbbbbbbb  Deployed  2024-05-01T12:00:20Z  1m35s  B: new image  Ann"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("   cccccccc  Failed    -"), std::string::npos) << out;

  json s = json::parse(R"({"namespace": "shop",
    "releases": [{"name": "web", "phase": "Deployed", "ready": {"status": "True", "message": "ok"},
                  "currentCommit": ")" +
                       kB + R"(", "creationTimestamp": "2024-05-01T11:00:00Z"}],
    "pipelines": [{"name": "ci", "ready": {"status": "True"}, "latestCommit": ")" +
                       kB + R"(",
                   "lastRun": {"id": "3", "trigger": "manual", "phase": "Running",
                               "startTime": "2024-05-01T12:04:00Z"},
                   "creationTimestamp": "2024-05-01T11:00:00Z"}]})");
  out = render_status(s, style(false));
  EXPECT_NE(out.find("RELEASE  PHASE     READY  COMMIT    AGE  MESSAGE\n"
                     "web      Deployed  True   bbbbbbbb  65m  ok\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("ci        True   bbbbbbbb  3         manual   Running  60s ago  65m"),
            std::string::npos)
      << out;
  EXPECT_EQ(render_status(json::parse(R"({"namespace": "x", "releases": [], "pipelines": []})"),
                          style(false)),
            "No Cairn Releases or Pipelines in namespace x.\n");
}

TEST(Render, TablesAlignOnVisibleWidth) {
  Style st = style(true);
  std::string t = table(st, {{{"a", Tone::kGood}, {"x"}}, {{"ééé"}, {"y"}}, {{"b"}, {""}}});
  EXPECT_EQ(t, "\033[32ma\033[0m    x\nééé  y\nb\n");
  EXPECT_EQ(visible_width("\033[1mab\033[0mé"), 3u);
}

TEST(Render, Durations) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59), "59s");
  EXPECT_EQ(format_duration(95), "1m35s");
  EXPECT_EQ(format_duration(3600 + 120), "1h02m");
  EXPECT_EQ(format_duration(2 * 86400 + 3 * 3600), "2d3h");
  EXPECT_EQ(format_duration(-5), "0s");
  EXPECT_EQ(format_age(119), "119s");
  EXPECT_EQ(format_age(3900), "65m");
  EXPECT_EQ(format_age(3 * 3600), "3h");
  EXPECT_EQ(format_age(3 * 86400), "3d");
}

}  // namespace
}  // namespace cairn::cli
