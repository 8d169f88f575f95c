#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "api/validate.h"

namespace cairn::api {
namespace {

using cairn::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

json minimal() {
  return json::parse(R"({
    "source": {"url": "https://git.example.com/shop/app.git", "branch": "main"},
    "steps": [{"name": "test", "image": "alpine:3", "script": "make test"}]
  })");
}

// Every error as "field: message".
std::vector<std::string> errors(const json& spec, std::string_view name = {}) {
  auto r = parse_pipeline_spec(spec, name);
  std::vector<std::string> out;
  if (r) return out;
  for (const FieldError& e : r.error()) out.push_back(e.to_string());
  return out;
}

// The fields of the errors only.
std::vector<std::string> fields(const json& spec) {
  auto r = parse_pipeline_spec(spec);
  std::vector<std::string> out;
  if (r) return out;
  for (const FieldError& e : r.error()) out.push_back(e.field);
  return out;
}

TEST(PipelineSpec, DesignExampleParsesWithDefaults) {
  auto spec = json::parse(R"({
    "source": {
      "url": "https://git.example.com/shop/app.git",
      "branch": "main",
      "secretRef": {"name": "git-auth"},
      "verify": {"mode": "head", "signersSecretRef": {"name": "signers"}}
    },
    "steps": [
      {"name": "audit", "image": "registry.example.com/ci/tools:1", "script": "make lint",
       "env": [{"name": "K", "value": "v"}], "timeout": "10m", "retries": 1},
      {"name": "test", "image": "registry.example.com/ci/tools:1", "after": ["audit"],
       "script": "make test"}
    ]
  })");
  auto r = parse_pipeline_spec(spec, "shop-ci");
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  const PipelineSpec& p = *r;
  EXPECT_EQ(p.source.url, "https://git.example.com/shop/app.git");
  EXPECT_EQ(p.source.branch, "main");
  EXPECT_EQ(p.source.ref_description(), "branch main");
  EXPECT_EQ(p.source.secret_ref->name, "git-auth");
  EXPECT_EQ(p.source.interval, std::chrono::minutes(1));  // default
  EXPECT_EQ(p.source.verify.mode, VerifyMode::kHead);
  EXPECT_EQ(p.source.verify.signers_secret_ref->name, "signers");
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].env, (std::vector<EnvVar>{{"K", "v"}}));
  EXPECT_EQ(p.steps[0].timeout, std::chrono::minutes(10));
  EXPECT_EQ(p.steps[0].retries, 1);
  EXPECT_EQ(p.steps[1].after, std::vector<std::string>{"audit"});
  EXPECT_EQ(p.steps[1].retries, 0);              // default
  EXPECT_FALSE(p.steps[1].timeout.has_value());  // no default
  EXPECT_EQ(p.concurrency, 1);                   // default
  EXPECT_EQ(p.history_limit, 20);                // default
  EXPECT_EQ(p.find_step("test"), &p.steps[1]);
}

TEST(PipelineSpec, DefaultsMatchTheCrd) {
  auto r = parse_pipeline_spec(minimal());
  ASSERT_TRUE(r.has_value());
  json j = *r;
  EXPECT_EQ(j["source"]["interval"], "1m0s");
  EXPECT_EQ(j["source"]["verify"]["mode"], "none");
  EXPECT_EQ(j["steps"][0]["retries"], 0);
  EXPECT_EQ(j["concurrency"], 1);
  EXPECT_EQ(j["historyLimit"], 20);
  // The defaulted spec parses again to the same value.
  auto again = parse_pipeline_spec(j);
  ASSERT_TRUE(again.has_value()) << to_string(again.error());
  EXPECT_EQ(*again, *r);
}

TEST(PipelineSpec, CommandWithArgsAndNotify) {
  auto spec = minimal();
  spec["steps"][0].erase("script");
  spec["steps"][0]["command"] = {"make"};
  spec["steps"][0]["args"] = {"test", "-j2"};
  spec["notify"] = json::parse(R"([{"url": "https://hooks.example.com/x",
                                    "events": ["RunFailed", "Deployed"]}])");
  auto r = parse_pipeline_spec(spec);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(r->steps[0].command, std::vector<std::string>{"make"});
  EXPECT_EQ(r->steps[0].args, (std::vector<std::string>{"test", "-j2"}));
  ASSERT_EQ(r->notify.size(), 1u);
  EXPECT_TRUE(r->notify[0].wants(NotifyEvent::kRunFailed));
  EXPECT_FALSE(r->notify[0].wants(NotifyEvent::kRunSucceeded));
}

TEST(PipelineSpec, SourceNeedsExactlyOneRef) {
  auto both = minimal();
  both["source"]["tag"] = "v1";
  EXPECT_THAT(errors(both), ElementsAre("spec.source: set exactly one of branch, tag or commit: "
                                        "branch and tag are set"));
  auto all = both;
  all["source"]["commit"] = std::string(40, 'a');
  EXPECT_THAT(errors(all), ElementsAre("spec.source: set exactly one of branch, tag or commit: "
                                       "branch, tag and commit are set"));
  auto none = minimal();
  none["source"].erase("branch");
  EXPECT_THAT(errors(none),
              ElementsAre("spec.source: set exactly one of branch, tag or commit: none is set"));
}

TEST(PipelineSpec, RefValues) {
  auto s = minimal();
  s["source"].erase("branch");
  s["source"]["commit"] = "ABC";
  EXPECT_THAT(errors(s), ElementsAre("spec.source.commit: \"ABC\" is not a full commit id (40 "
                                     "lowercase hexadecimal characters)"));
  s["source"]["commit"] = "0123456789abcdef0123456789abcdef01234567";
  EXPECT_THAT(errors(s), IsEmpty());
  auto b = minimal();
  b["source"]["branch"] = "feature..x";
  EXPECT_THAT(errors(b), ElementsAre("spec.source.branch: \"feature..x\" is not a valid git "
                                     "branch name: must not contain '..'"));
  b["source"]["branch"] = "";
  EXPECT_THAT(errors(b), ElementsAre("spec.source.branch: must not be empty"));
  b["source"]["branch"] = "release/1.x";
  EXPECT_THAT(errors(b), IsEmpty());
}

TEST(PipelineSpec, UrlSchemes) {
  for (const char* ok :
       {"https://git.example.com/a.git", "http://git:8080/a", "ssh://git@host:22/a.git",
        "git://host/a", "file:///srv/git/a.git", "git@github.com:shop/app.git", "HTTPS://host/a"}) {
    auto s = minimal();
    s["source"]["url"] = ok;
    EXPECT_THAT(errors(s), IsEmpty()) << ok;
  }
  auto s = minimal();
  s["source"]["url"] = "ftp://host/a";
  EXPECT_THAT(errors(s), ElementsAre("spec.source.url: unsupported scheme \"ftp\": use an "
                                     "https://, http://, ssh://, git:// or file:// URL, or "
                                     "user@host:path"));
  s["source"]["url"] = "https://user:hunter2@host/a.git";
  EXPECT_THAT(errors(s), ElementsAre("spec.source.url: must not contain a password: put the "
                                     "credentials in the Secret named by secretRef"));
  for (const char* bad : {"host/a", "/srv/a", "https://", "https:///a", "@host:a", "a b"}) {
    s["source"]["url"] = bad;
    EXPECT_THAT(fields(s), ElementsAre("spec.source.url")) << bad;
  }
}

TEST(PipelineSpec, IntervalAndVerify) {
  auto s = minimal();
  s["source"]["interval"] = "5s";
  EXPECT_THAT(errors(s),
              ElementsAre("spec.source.interval: \"5s\" is too short: the minimum is 10s"));
  s["source"]["interval"] = "1 minute";
  EXPECT_THAT(fields(s), ElementsAre("spec.source.interval"));
  s["source"]["interval"] = "10s";
  EXPECT_THAT(errors(s), IsEmpty());
  s["source"]["verify"] = {{"mode", "head"}};
  EXPECT_THAT(errors(s), ElementsAre("spec.source.verify.signersSecretRef: is required when "
                                     "mode is head: name the Secret holding the trusted public "
                                     "keys"));
  s["source"]["verify"] = {{"mode", "all"}};
  EXPECT_THAT(errors(s), ElementsAre("spec.source.verify.mode: must be none or head, not \"all\""));
  s["source"]["verify"] = json::object();
  s["source"]["secretRef"] = {{"name", "Bad_Name"}};
  EXPECT_THAT(fields(s), ElementsAre("spec.source.secretRef.name"));
  s["source"]["secretRef"] = json::object();
  EXPECT_THAT(errors(s), ElementsAre("spec.source.secretRef.name: is required"));
}

TEST(PipelineSpec, StepNames) {
  auto s = minimal();
  s["steps"].push_back({{"name", "build"}, {"image", "i"}, {"script", "x"}});
  s["steps"].push_back({{"name", "Lint"}, {"image", "i"}, {"script", "x"}});
  s["steps"].push_back({{"name", "test"}, {"image", "i"}, {"script", "x"}});
  s["steps"].push_back({{"name", std::string(41, 'a')}, {"image", "i"}, {"script", "x"}});
  EXPECT_THAT(errors(s),
              ElementsAre("spec.steps[2].name: \"Lint\" is not a valid step name: use lowercase "
                          "letters, digits and '-', starting and ending with a letter or digit",
                          "spec.steps[4].name: \"" + std::string(41, 'a') +
                              "\" is 41 characters long: at most 40 (it is part of the step's "
                              "Job name)",
                          "spec.steps[3].name: duplicate step \"test\" (also spec.steps[0])"));
}

TEST(PipelineSpec, AfterRefersToOtherExistingSteps) {
  auto s = json::parse(R"({
    "source": {"url": "https://h/a", "branch": "main"},
    "steps": [
      {"name": "test", "image": "i", "script": "x"},
      {"name": "build", "image": "i", "script": "x"},
      {"name": "deploy", "image": "i", "script": "x", "after": ["tset", "deploy", "build", "build"]}
    ]
  })");
  EXPECT_THAT(errors(s), ElementsAre("spec.steps[2].after[0]: unknown step \"tset\"",
                                     "spec.steps[2].after[1]: a step cannot run after itself",
                                     "spec.steps[2].after[3]: duplicate \"build\" (also "
                                     "spec.steps[2].after[2])"));
}

TEST(PipelineSpec, CyclesAreNamed) {
  auto s = json::parse(R"({
    "source": {"url": "https://h/a", "branch": "main"},
    "steps": [
      {"name": "lint", "image": "i", "script": "x"},
      {"name": "test", "image": "i", "script": "x", "after": ["lint", "build"]},
      {"name": "build", "image": "i", "script": "x", "after": ["test"]},
      {"name": "package", "image": "i", "script": "x", "after": ["build"]}
    ]
  })");
  EXPECT_THAT(errors(s), ElementsAre("spec.steps: cycle test -> build -> test (x -> y: x runs "
                                     "after y); remove one of these after entries"));
}

TEST(PipelineSpec, TwoCyclesAreBothReported) {
  auto s = json::parse(R"({
    "source": {"url": "https://h/a", "branch": "main"},
    "steps": [
      {"name": "a", "image": "i", "script": "x", "after": ["b"]},
      {"name": "b", "image": "i", "script": "x", "after": ["c"]},
      {"name": "c", "image": "i", "script": "x", "after": ["a"]},
      {"name": "d", "image": "i", "script": "x", "after": ["c", "e"]},
      {"name": "e", "image": "i", "script": "x", "after": ["d"]}
    ]
  })");
  auto e = errors(s);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_THAT(e[0], HasSubstr("cycle a -> b -> c -> a "));
  EXPECT_THAT(e[1], HasSubstr("cycle d -> e -> d "));
}

TEST(PipelineSpec, ScriptOrCommand) {
  auto s = minimal();
  s["steps"][0]["command"] = {"make"};
  EXPECT_THAT(errors(s), ElementsAre("spec.steps[0]: set script or command, not both"));
  s["steps"][0].erase("command");
  s["steps"][0]["args"] = {"x"};
  EXPECT_THAT(errors(s), ElementsAre("spec.steps[0].args: cannot be used with script: write the "
                                     "arguments in the script"));
  s["steps"][0].erase("script");
  EXPECT_THAT(errors(s), ElementsAre("spec.steps[0].args: needs a command to pass them to (or "
                                     "use script)"));
  s["steps"][0].erase("args");
  EXPECT_THAT(errors(s), ElementsAre("spec.steps[0]: set script (run with /bin/sh -c) or command"));
  s["steps"][0]["command"] = json::array();
  EXPECT_THAT(errors(s),
              ElementsAre("spec.steps[0].command: must not be empty (leave it out instead)"));
  s["steps"][0].erase("command");
  s["steps"][0]["script"] = "";
  EXPECT_THAT(errors(s),
              ElementsAre("spec.steps[0].script: must not be empty (leave it out instead)"));
}

TEST(PipelineSpec, ImageEnvTimeoutRetries) {
  auto s = minimal();
  s["steps"][0]["image"] = "";
  s["steps"][0]["env"] = json::parse(
      R"([{"name": "A", "value": "1"}, {"name": "2B"}, {"name": "A"}, {"value": "x"}])");
  s["steps"][0]["timeout"] = "500ms";
  s["steps"][0]["retries"] = 11;
  EXPECT_THAT(errors(s),
              ElementsAre("spec.steps[0].image: must not be empty",
                          "spec.steps[0].env[1].name: \"2B\" is not a valid variable name: use "
                          "letters, digits and '_', not starting with a digit",
                          "spec.steps[0].env[2].name: duplicate variable \"A\" (also "
                          "spec.steps[0].env[0])",
                          "spec.steps[0].env[3].name: is required",
                          "spec.steps[0].timeout: \"500ms\" is too short: the minimum is 1s",
                          "spec.steps[0].retries: must be between 0 and 10, not 11"));
  auto m = minimal();
  m["steps"][0].erase("image");
  EXPECT_THAT(errors(m), ElementsAre("spec.steps[0].image: is required"));
}

TEST(PipelineSpec, ConcurrencyHistoryLimitAndCount) {
  auto s = minimal();
  s["concurrency"] = 0;
  s["historyLimit"] = 101;
  EXPECT_THAT(errors(s), ElementsAre("spec.concurrency: must be between 1 and 20, not 0",
                                     "spec.historyLimit: must be between 1 and 100, not 101"));
  s["concurrency"] = 20;
  s["historyLimit"] = 1;
  EXPECT_THAT(errors(s), IsEmpty());
  auto none = minimal();
  none["steps"] = json::array();
  EXPECT_THAT(errors(none), ElementsAre("spec.steps: must list at least one step"));
  none.erase("steps");
  EXPECT_THAT(errors(none), ElementsAre("spec.steps: is required: list at least one step"));
}

TEST(PipelineSpec, Notify) {
  auto s = minimal();
  s["notify"] = json::parse(R"([
    {"url": "ftp://x"},
    {"url": "https://hooks.example.com", "events": ["RunFailed", "Nope", "RunFailed"]},
    {"secretRef": {"name": "hook"}}
  ])");
  EXPECT_THAT(errors(s),
              ElementsAre("spec.notify[0].url: must be an http:// or https:// URL, not \"ftp://x\"",
                          "spec.notify[1].events[1]: must be RunSucceeded, RunFailed, Deployed, "
                          "Failed, RolledBack or DriftCorrected, not \"Nope\"",
                          "spec.notify[1].events[2]: duplicate event \"RunFailed\" (also "
                          "spec.notify[1].events[0])",
                          "spec.notify[2].url: is required"));
}

TEST(PipelineSpec, NameMustFitALabel) {
  EXPECT_THAT(errors(minimal(), std::string(63, 'a')), IsEmpty());
  EXPECT_THAT(errors(minimal(), std::string(64, 'a')),
              ElementsAre("metadata.name: is 64 characters long: at most 63, as it is the value "
                          "of the cairn.dev/pipeline label on the Pipeline's Jobs"));
}

TEST(PipelineSpec, AllErrorsAtOnce) {
  auto s = json::parse(R"({
    "source": {"url": "ftp://x", "branch": "a", "tag": "b", "interval": "1s"},
    "steps": [
      {"name": "a", "image": "i"},
      {"name": "b", "image": "i", "script": "x", "after": ["zz"]}
    ],
    "concurrency": 99
  })");
  EXPECT_THAT(fields(s),
              UnorderedElementsAre("spec.source.url", "spec.source", "spec.source.interval",
                                   "spec.steps[0]", "spec.steps[1].after[0]", "spec.concurrency"));
}

TEST(PipelineSpec, WrongTypesAreReportedNotThrown) {
  auto s = json::parse(R"({
    "source": {"url": 42, "branch": ["main"], "interval": 60, "verify": "head",
               "secretRef": "git-auth"},
    "steps": [
      {"name": 7, "image": {"ref": "x"}, "script": true, "env": {"A": "1"}, "retries": "1",
       "timeout": 10, "after": "build", "command": "make", "args": [1, "x"]},
      "not-a-step"
    ],
    "concurrency": 1.5,
    "historyLimit": "20",
    "notify": {"url": "https://x"}
  })");
  std::vector<std::string> e;
  ASSERT_NO_THROW(e = errors(s));
  EXPECT_THAT(e, ::testing::IsSupersetOf({
                     "spec.source.url: must be a string, not an integer",
                     "spec.source.branch: must be a string, not a list",
                     "spec.source.interval: must be a string, not an integer",
                     "spec.source.verify: must be an object, not a string",
                     "spec.source.secretRef: must be an object, not a string",
                     "spec.steps[0].name: must be a string, not an integer",
                     "spec.steps[0].image: must be a string, not an object",
                     "spec.steps[0].script: must be a string, not a boolean",
                     "spec.steps[0].command: must be a list, not a string",
                     "spec.steps[0].args[0]: must be a string, not an integer",
                     "spec.steps[0].env: must be a list, not an object",
                     "spec.steps[0].timeout: must be a string, not an integer",
                     "spec.steps[0].after: must be a list, not a string",
                     "spec.steps[0].retries: must be an integer, not a string",
                     "spec.steps[1]: must be an object, not a string",
                     "spec.concurrency: must be an integer, not a fractional number",
                     "spec.historyLimit: must be an integer, not a string",
                     "spec.notify: must be a list, not an object",
                 }));
  std::set<std::string> distinct(e.begin(), e.end());
  EXPECT_EQ(distinct.size(), e.size()) << ::testing::PrintToString(e);
}

TEST(PipelineSpec, NonObjectSpecs) {
  for (const json& bad : {json(nullptr), json(1), json("x"), json::array(), json(true)}) {
    auto r = parse_pipeline_spec(bad);
    ASSERT_FALSE(r.has_value());
    ASSERT_EQ(r.error().size(), 1u);
    EXPECT_EQ(r.error()[0].field, "spec");
  }
  EXPECT_THAT(errors(json::object()), ElementsAre("spec.source: is required",
                                                  "spec.steps: is required: list at least one "
                                                  "step"));
}

TEST(PipelineSpec, NullsAreAbsent) {
  auto s = minimal();
  s["concurrency"] = nullptr;
  s["steps"][0]["timeout"] = nullptr;
  s["notify"] = nullptr;
  auto r = parse_pipeline_spec(s);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(r->concurrency, 1);
}

TEST(PipelineSpec, TenThousandStepsAreRefusedQuickly) {
  auto s = minimal();
  json steps = json::array();
  for (int i = 0; i < 10000; ++i) {
    // Each step runs after every earlier one: quadratic work if it were attempted.
    steps.push_back({{"name", "s" + std::to_string(i)},
                     {"image", "i"},
                     {"script", "x"},
                     {"after", json::array({"s0", "s1", "s2"})}});
  }
  s["steps"] = std::move(steps);
  auto start = std::chrono::steady_clock::now();
  auto e = errors(s);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_THAT(e, ElementsAre("spec.steps: 10000 steps: at most 100 are allowed"));
  EXPECT_LT(took, std::chrono::milliseconds(100));
}

TEST(PipelineSpec, HostileListsAreBoundedAndErrorsCapped) {
  auto s = minimal();
  json after = json::array();
  for (int i = 0; i < 200000; ++i) after.push_back("missing-" + std::to_string(i));
  s["steps"][0]["after"] = std::move(after);
  auto start = std::chrono::steady_clock::now();
  auto r = parse_pipeline_spec(s);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().size(), 101u);  // 100 shown, then a count of the rest
  EXPECT_EQ(r.error().back().to_string(), "199900 more errors not shown");
  EXPECT_LT(took, std::chrono::seconds(2));
}

// Deeply nested input, built and moved without recursion (copying or printing
// a cairn::json recurses): the reader never descends into what it does not
// expect, so depth costs nothing.
json nested_lists(int depth) {
  json root = json::array();
  json* cur = &root;
  for (int i = 0; i < depth; ++i) {
    cur->push_back(json::array());
    cur = &cur->back();
  }
  return root;
}

TEST(PipelineSpec, DeepValuesInKnownFieldsAreTypeErrors) {
  auto s = minimal();
  s["source"] = nested_lists(100000);
  s["steps"][0]["env"] = json::array();
  s["steps"][0]["env"].push_back(nested_lists(100000));
  EXPECT_THAT(errors(s), ElementsAre("spec.source: must be an object, not a list",
                                     "spec.steps[0].env[0]: must be an object, not a list"));
}

TEST(PipelineSpec, MessagesStayValidUtf8) {
  auto s = minimal();
  std::string name = "a";
  for (int i = 0; i < 50; ++i) name += "\xC3\xA9";  // é: the 64-byte cut falls inside one
  s["steps"][0]["name"] = name;
  s["source"]["interval"] = name;
  auto r = parse_pipeline_spec(s);
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 2u);
  for (const FieldError& e : r.error()) {
    EXPECT_NO_THROW((void)json(e.to_string()).dump()) << e.to_string();
  }
  EXPECT_THAT(r.error()[1].message, HasSubstr("\xC3\xA9...\" is not a valid step name"));
}

TEST(PipelineSpec, DeepUnknownFieldsAreIgnored) {
  auto s = minimal();
  s["steps"][0]["unknown"] = nested_lists(100000);
  s["unknown"] = nested_lists(100000);
  EXPECT_THAT(errors(s), IsEmpty());
}

TEST(TopologicalOrder, StableDeclarationOrderAmongReadySteps) {
  auto s = json::parse(R"({
    "source": {"url": "https://h/a", "branch": "main"},
    "steps": [
      {"name": "deploy", "image": "i", "script": "x", "after": ["build", "test"]},
      {"name": "build", "image": "i", "script": "x", "after": ["lint"]},
      {"name": "lint", "image": "i", "script": "x"},
      {"name": "test", "image": "i", "script": "x", "after": ["lint"]},
      {"name": "docs", "image": "i", "script": "x"}
    ]
  })");
  auto r = parse_pipeline_spec(s);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_THAT(topological_order(*r), ElementsAre("lint", "build", "test", "deploy", "docs"));
}

TEST(TopologicalOrder, IndependentStepsKeepDeclarationOrder) {
  PipelineSpec p;
  for (const char* n : {"c", "a", "b"}) p.steps.push_back(Step{.name = n});
  EXPECT_THAT(topological_order(p), ElementsAre("c", "a", "b"));
}

TEST(TopologicalOrder, LeavesOutCyclesOnUnvalidatedSpecs) {
  PipelineSpec p;
  p.steps.push_back(Step{.name = "a", .after = {"b"}});
  p.steps.push_back(Step{.name = "b", .after = {"a"}});
  p.steps.push_back(Step{.name = "c", .after = {"nope"}});
  EXPECT_THAT(topological_order(p), ElementsAre("c"));
}

}  // namespace
}  // namespace cairn::api
