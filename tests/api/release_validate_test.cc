#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/validate.h"

namespace cairn::api {
namespace {

using cairn::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;

json minimal() {
  return json::parse(R"({
    "source": {"url": "https://git.example.com/shop/app.git", "branch": "main"},
    "path": "deploy/production"
  })");
}

std::vector<std::string> errors(const json& spec, std::string_view name = "shop") {
  auto r = parse_release_spec(spec, name);
  std::vector<std::string> out;
  if (r) return out;
  for (const FieldError& e : r.error()) out.push_back(e.to_string());
  return out;
}

TEST(ReleaseSpec, DesignExampleParses) {
  auto spec = json::parse(R"json({
    "source": {"url": "git@git.example.com:shop/app.git", "tag": "v1.2.0",
               "secretRef": {"name": "git-auth"}, "interval": "5m"},
    "path": "deploy/production",
    "gate": {"pipelineRef": {"name": "shop-ci"}},
    "rollout": {
      "progressDeadline": "10m",
      "autoRollback": false,
      "analysis": {"prometheus": "http://prometheus:9090",
                   "query": "sum(rate(http_errors_total[1m]))", "threshold": 0.01,
                   "interval": "30s", "count": 4}
    },
    "prune": false,
    "selfHeal": false,
    "dependsOn": [{"name": "database"}],
    "suspend": true,
    "historyLimit": 5,
    "clusterScope": true
  })json");
  auto r = parse_release_spec(spec, "shop");
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  const ReleaseSpec& s = *r;
  EXPECT_EQ(s.source.tag, "v1.2.0");
  EXPECT_EQ(s.source.interval, std::chrono::minutes(5));
  EXPECT_EQ(s.path, "deploy/production");
  EXPECT_EQ(s.gate->pipeline_ref.name, "shop-ci");
  EXPECT_EQ(s.rollout.progress_deadline, std::chrono::minutes(10));
  EXPECT_FALSE(s.rollout.auto_rollback);
  ASSERT_TRUE(s.rollout.analysis.has_value());
  EXPECT_EQ(s.rollout.analysis->prometheus, "http://prometheus:9090");
  EXPECT_EQ(s.rollout.analysis->query, "sum(rate(http_errors_total[1m]))");
  EXPECT_DOUBLE_EQ(s.rollout.analysis->threshold, 0.01);
  EXPECT_EQ(s.rollout.analysis->interval, std::chrono::seconds(30));
  EXPECT_EQ(s.rollout.analysis->count, 4);
  EXPECT_FALSE(s.prune);
  EXPECT_FALSE(s.self_heal);
  EXPECT_EQ(s.depends_on, std::vector<LocalObjectReference>{{"database"}});
  EXPECT_TRUE(s.suspend);
  EXPECT_EQ(s.history_limit, 5);
  EXPECT_TRUE(s.cluster_scope);
}

TEST(ReleaseSpec, DefaultsMatchTheCrd) {
  auto r = parse_release_spec(minimal(), "shop");
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(r->source.interval, std::chrono::minutes(1));
  EXPECT_EQ(r->source.verify.mode, VerifyMode::kNone);
  EXPECT_FALSE(r->cluster_scope);
  EXPECT_FALSE(r->gate.has_value());
  EXPECT_EQ(r->rollout.progress_deadline, std::chrono::minutes(5));
  EXPECT_TRUE(r->rollout.auto_rollback);
  EXPECT_FALSE(r->rollout.analysis.has_value());
  EXPECT_TRUE(r->prune);
  EXPECT_TRUE(r->self_heal);
  EXPECT_FALSE(r->suspend);
  EXPECT_EQ(r->history_limit, 10);
  json j = *r;
  EXPECT_EQ(j["rollout"], json::parse(R"({"progressDeadline": "5m0s", "autoRollback": true})"));
  auto again = parse_release_spec(j, "shop");
  ASSERT_TRUE(again.has_value()) << to_string(again.error());
  EXPECT_EQ(*again, *r);

  auto analysis = minimal();
  analysis["rollout"] = {
      {"analysis", {{"prometheus", "https://p"}, {"query", "q"}, {"threshold", 1}}}};
  auto a = parse_release_spec(analysis, "shop");
  ASSERT_TRUE(a.has_value()) << to_string(a.error());
  EXPECT_EQ(a->rollout.analysis->interval, std::chrono::seconds(30));
  EXPECT_EQ(a->rollout.analysis->count, 4);
  EXPECT_DOUBLE_EQ(a->rollout.analysis->threshold, 1.0);
}

TEST(ReleaseSpec, SourceRulesAreShared) {
  auto s = minimal();
  s["source"]["commit"] = std::string(40, 'f');
  s["source"]["url"] = "ftp://x/y";
  EXPECT_THAT(errors(s),
              ElementsAre("spec.source.url: unsupported scheme \"ftp\": use an https://, "
                          "http://, ssh://, git:// or file:// URL, or user@host:path",
                          "spec.source: set exactly one of branch, tag or commit: branch and "
                          "commit are set"));
}

TEST(ReleaseSpec, Path) {
  auto s = minimal();
  for (auto [in, out] : std::vector<std::pair<std::string, std::string>>{
           {"deploy/production", "deploy/production"},
           {"./deploy//production/", "deploy/production"},
           {"", ""},
           {".", ""},
           {"a..b/c", "a..b/c"}}) {
    s["path"] = in;
    auto r = parse_release_spec(s, "shop");
    ASSERT_TRUE(r.has_value()) << in << ": " << to_string(r.error());
    EXPECT_EQ(r->path, out) << in;
  }
  s["path"] = "/deploy";
  EXPECT_THAT(errors(s), ElementsAre("spec.path: \"/deploy\" must be relative to the repository "
                                     "root: remove the leading '/'"));
  s["path"] = "deploy/../../etc";
  EXPECT_THAT(errors(s), ElementsAre("spec.path: \"deploy/../../etc\" must stay inside the "
                                     "repository: remove '..'"));
  s["path"] = "..";
  EXPECT_THAT(errors(s), ElementsAre("spec.path: \"..\" must stay inside the repository: remove "
                                     "'..'"));
  s["path"] = "deploy\\prod";
  EXPECT_THAT(errors(s), ElementsAre("spec.path: must not contain control characters or '\\' "
                                     "(use '/' between directories)"));
}

TEST(ReleaseSpec, Helm) {
  auto s = minimal();
  auto r = parse_release_spec(s, "shop");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->helm.has_value()) << "no spec.helm: not a chart Release";

  s["helm"] = json::parse(R"({
    "valuesFiles": ["values/prod.yaml", "./deploy//extra.yaml"],
    "values": {"replicas": 3, "ingress": null, "image": {"tag": "2.0"}},
    "releaseName": "web-prod"
  })");
  r = parse_release_spec(s, "shop");
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  ASSERT_TRUE(r->helm.has_value());
  EXPECT_THAT(r->helm->values_files, ElementsAre("values/prod.yaml", "deploy/extra.yaml"));
  EXPECT_EQ(r->helm->values["image"]["tag"], "2.0");
  EXPECT_TRUE(r->helm->values.contains("ingress") && r->helm->values["ingress"].is_null())
      << "a null is kept: it deletes the chart's key, as in Helm";
  EXPECT_EQ(r->helm->release_name, "web-prod");
  // Written back (status, the CLI) and read again: the same spec.
  json round = *r;
  auto again = parse_release_spec(round, "shop");
  ASSERT_TRUE(again.has_value()) << to_string(again.error());
  EXPECT_EQ(*again, *r);

  s["helm"] = json::object();
  r = parse_release_spec(s, "shop");
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->helm.has_value());
  EXPECT_TRUE(r->helm->values_files.empty());
  EXPECT_EQ(r->helm->values, json::object());
  EXPECT_EQ(r->helm->release_name, "");

  s["helm"] = json::parse(R"({"valuesFiles": ["ok.yaml", "../secrets.yaml", "/etc/x.yaml", 7, "."],
                              "values": [1], "releaseName": "Web_Prod"})");
  EXPECT_THAT(
      errors(s),
      ElementsAre("spec.helm.valuesFiles[1]: must be a relative path inside the repository, "
                  "without '..': \"../secrets.yaml\" must stay inside the repository: remove '..'",
                  "spec.helm.valuesFiles[2]: must be a relative path inside the repository, "
                  "without '..': \"/etc/x.yaml\" must be relative to the repository root: remove "
                  "the leading '/'",
                  "spec.helm.valuesFiles[3]: must be a string, not an integer",
                  "spec.helm.valuesFiles[4]: must be a relative path inside the repository, "
                  "without '..': \".\" names no file",
                  "spec.helm.values: must be an object (the chart's values), not a list",
                  "spec.helm.releaseName: \"Web_Prod\" is not a valid Helm release name: "
                  "lowercase letters, digits, '-' and '.', starting and ending with a letter or "
                  "digit, at most 53 characters"));
  s["helm"] = json::parse(R"({"releaseName": ""})");
  EXPECT_THAT(errors(s), ElementsAre("spec.helm.releaseName: must not be empty (leave it out for "
                                     "the Release's name)"));
  s["helm"] = {{"releaseName", std::string(54, 'a')}};
  EXPECT_EQ(errors(s).size(), 1u);
  // Hostile nesting is refused, not recursed into.
  json deep = json::object();
  json* cur = &deep;
  for (int i = 0; i < 100000; ++i) cur = &((*cur)["a"] = json::object());
  s["helm"] = {{"values", std::move(deep)}};
  EXPECT_THAT(errors(s), ElementsAre("spec.helm.values: nests objects and lists more than 100 "
                                     "levels deep"));
  s["helm"] = "values.yaml";
  EXPECT_THAT(errors(s), ElementsAre("spec.helm: must be an object, not a string"));
}

TEST(ReleaseSpec, Gate) {
  auto s = minimal();
  s["gate"] = json::object();
  EXPECT_THAT(errors(s), ElementsAre("spec.gate.pipelineRef: is required: name the Pipeline that "
                                     "gates this Release"));
  s["gate"] = {{"pipelineRef", json::object()}};
  EXPECT_THAT(errors(s), ElementsAre("spec.gate.pipelineRef.name: is required"));
  s["gate"] = {{"pipelineRef", {{"name", ""}}}};
  EXPECT_THAT(errors(s), ElementsAre("spec.gate.pipelineRef.name: must not be empty"));
  s["gate"] = {{"pipelineRef", {{"name", "Shop CI"}}}};
  EXPECT_THAT(errors(s),
              ElementsAre("spec.gate.pipelineRef.name: \"Shop CI\" is not a valid Pipeline name"));
}

TEST(ReleaseSpec, Analysis) {
  auto s = minimal();
  s["rollout"] = json::parse(R"({"progressDeadline": "0.5s", "analysis": {
      "prometheus": "prometheus:9090", "query": "", "interval": "100ms", "count": 0}})");
  EXPECT_THAT(errors(s),
              ElementsAre("spec.rollout.progressDeadline: \"0.5s\" is too short: the minimum is 1s",
                          "spec.rollout.analysis.prometheus: must be an http:// or https:// URL, "
                          "not \"prometheus:9090\"",
                          "spec.rollout.analysis.query: must not be empty",
                          "spec.rollout.analysis.threshold: is required: the largest acceptable "
                          "query result",
                          "spec.rollout.analysis.interval: \"100ms\" is too short: the minimum is "
                          "1s",
                          "spec.rollout.analysis.count: must be between 1 and 100, not 0"));
  s["rollout"] = json::parse(R"({"analysis": {"prometheus": "http://p", "query": "q",
                                             "threshold": "0.1"}})");
  EXPECT_THAT(errors(s), ElementsAre("spec.rollout.analysis.threshold: must be a number, not a "
                                     "string"));
}

TEST(ReleaseSpec, DependsOn) {
  auto s = minimal();
  s["dependsOn"] = json::parse(R"([{"name": "db"}, {"name": "shop"}, {"name": "db"}, {}])");
  EXPECT_THAT(errors(s, "shop"),
              ElementsAre("spec.dependsOn[1].name: a Release cannot depend on itself",
                          "spec.dependsOn[2].name: duplicate dependency \"db\" (also "
                          "spec.dependsOn[0])",
                          "spec.dependsOn[3].name: is required"));
  json many = json::array();
  for (int i = 0; i < 5000; ++i) many.push_back({{"name", "r" + std::to_string(i)}});
  s["dependsOn"] = many;
  EXPECT_THAT(errors(s), ElementsAre("spec.dependsOn: 5000 entries: at most 50 are allowed"));
}

TEST(ReleaseSpec, HistoryLimit) {
  auto s = minimal();
  s["historyLimit"] = 0;
  EXPECT_THAT(errors(s), ElementsAre("spec.historyLimit: must be between 1 and 100, not 0"));
  s["historyLimit"] = 100;
  EXPECT_THAT(errors(s), IsEmpty());
}

TEST(ReleaseSpec, WrongTypesAreReportedNotThrown) {
  auto s = json::parse(R"({
    "source": [],
    "path": ["deploy"],
    "gate": "shop-ci",
    "rollout": {"autoRollback": "yes", "analysis": []},
    "prune": 1,
    "selfHeal": null,
    "dependsOn": {"name": "db"},
    "suspend": "false",
    "historyLimit": 1.5,
    "clusterScope": {}
  })");
  std::vector<std::string> e;
  ASSERT_NO_THROW(e = errors(s));
  EXPECT_THAT(e, IsSupersetOf({
                     "spec.source: must be an object, not a list",
                     "spec.path: must be a string, not a list",
                     "spec.gate: must be an object, not a string",
                     "spec.rollout.autoRollback: must be a boolean (true or false), not a string",
                     "spec.rollout.analysis: must be an object, not a list",
                     "spec.prune: must be a boolean (true or false), not an integer",
                     "spec.dependsOn: must be a list, not an object",
                     "spec.suspend: must be a boolean (true or false), not a string",
                     "spec.historyLimit: must be an integer, not a fractional number",
                     "spec.clusterScope: must be a boolean (true or false), not an object",
                 }));
  EXPECT_EQ(e.size(), 10u) << ::testing::PrintToString(e);
}

}  // namespace
}  // namespace cairn::api
