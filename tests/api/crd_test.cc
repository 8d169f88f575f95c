// Structure of the CustomResourceDefinitions in crds/: what kube-apiserver
// v1.20 requires of a structural schema (types everywhere, no unsupported
// keywords, list-map keys required), what `kubectl explain` and `kubectl get`
// need (descriptions, printer columns), and agreement with lib/api (enums,
// defaults, limits).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <set>

#include "api/types.h"
#include "api/validate.h"

namespace cairn::api {
namespace {

using cairn::json;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::filesystem::path crd_dir() {
  return std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "crds";
}

YAML::Node load(const std::string& file) { return YAML::LoadFile((crd_dir() / file).string()); }

YAML::Node version(const YAML::Node& crd) { return crd["spec"]["versions"][0]; }
YAML::Node root_schema(const YAML::Node& crd) { return version(crd)["schema"]["openAPIV3Schema"]; }

// Schema node at a dotted path of properties; "[]" steps into array items.
YAML::Node at(const YAML::Node& crd, const std::string& dotted) {
  YAML::Node n = root_schema(crd);
  std::size_t pos = 0;
  while (pos < dotted.size()) {
    std::size_t dot = dotted.find('.', pos);
    std::string part = dotted.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    // reset, not operator=: assigning a yaml-cpp node writes into the document.
    YAML::Node next = part == "[]" ? n["items"] : n["properties"][part];
    n.reset(next);
    if (!n) ADD_FAILURE() << "no schema at " << dotted;
    if (!n) return n;
    pos = dot == std::string::npos ? dotted.size() : dot + 1;
  }
  return n;
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& x : seq) out.push_back(x.as<std::string>());
  return out;
}

// Calls f(path, node) for every schema node, depth first.
void walk(const YAML::Node& s, const std::string& path,
          const std::function<void(const std::string&, const YAML::Node&)>& f) {
  f(path, s);
  if (s["properties"]) {
    for (const auto& kv : s["properties"]) {
      walk(kv.second, path + "." + kv.first.as<std::string>(), f);
    }
  }
  if (s["items"]) walk(s["items"], path + "[]", f);
  if (s["additionalProperties"] && s["additionalProperties"].IsMap()) {
    walk(s["additionalProperties"], path + "{}", f);
  }
}

class Crd : public ::testing::TestWithParam<std::string> {};

TEST_P(Crd, IsAWellFormedV1Crd) {
  YAML::Node crd = load(GetParam());
  EXPECT_EQ(crd["apiVersion"].as<std::string>(), "apiextensions.k8s.io/v1");
  EXPECT_EQ(crd["kind"].as<std::string>(), "CustomResourceDefinition");
  const YAML::Node spec = crd["spec"];
  EXPECT_EQ(spec["group"].as<std::string>(), "cairn.dev");
  EXPECT_EQ(crd["metadata"]["name"].as<std::string>(),
            spec["names"]["plural"].as<std::string>() + ".cairn.dev");
  EXPECT_EQ(GetParam(), "cairn.dev_" + spec["names"]["plural"].as<std::string>() + ".yaml");
  EXPECT_EQ(spec["scope"].as<std::string>(), "Namespaced");
  EXPECT_THAT(strings(spec["names"]["categories"]), ElementsAre("cairn"));
  ASSERT_EQ(spec["versions"].size(), 1u);
  EXPECT_EQ(version(crd)["name"].as<std::string>(), "v1alpha1");
  EXPECT_TRUE(version(crd)["served"].as<bool>());
  EXPECT_TRUE(version(crd)["storage"].as<bool>());
  ASSERT_TRUE(version(crd)["subresources"]["status"].IsMap());
  EXPECT_EQ(version(crd)["subresources"]["status"].size(), 0u);
  EXPECT_FALSE(spec["preserveUnknownFields"] && spec["preserveUnknownFields"].as<bool>());
}

TEST_P(Crd, SchemaIsStructuralAndDescribed) {
  YAML::Node crd = load(GetParam());
  const YAML::Node root = root_schema(crd);
  EXPECT_EQ(root["type"].as<std::string>(), "object");
  ASSERT_TRUE(root["properties"]["spec"]);
  ASSERT_TRUE(root["properties"]["status"]);
  int nodes = 0;
  walk(root, "", [&](const std::string& path, const YAML::Node& s) {
    ++nodes;
    SCOPED_TRACE(path);
    ASSERT_TRUE(s.IsMap());
    // Every node has a type (structural schema rule).
    ASSERT_TRUE(s["type"]) << path;
    std::string type = s["type"].as<std::string>();
    EXPECT_THAT(
        (std::vector<std::string>{"object", "array", "string", "integer", "number", "boolean"}),
        ::testing::Contains(type));
    // Keywords v1.20 refuses or cannot enforce structurally.
    for (const char* k :
         {"oneOf", "anyOf", "allOf", "not", "x-kubernetes-validations", "$ref", "nullable"}) {
      EXPECT_FALSE(s[k]) << path << " uses " << k;
    }
    // Free-form only where the content is the user's own (a chart's values).
    if (s["x-kubernetes-preserve-unknown-fields"]) {
      EXPECT_EQ(path, ".spec.helm.values");
      EXPECT_EQ(type, "object") << path;
      EXPECT_FALSE(s["properties"]) << path;
    }
    if (type == "array") {
      EXPECT_TRUE(s["items"]) << path;
    }
    if (s["properties"] && s["additionalProperties"]) ADD_FAILURE() << path;
    // Every property is described (root metadata may not be, by the API rules).
    bool is_item = path.ends_with("[]") || path.ends_with("{}");
    if (!is_item && path != ".metadata" && path != ".metadata.name") {
      ASSERT_TRUE(s["description"]) << path << " has no description";
      EXPECT_GT(s["description"].as<std::string>().size(), 10u) << path;
    }
    if (s["required"]) {
      for (const auto& r : s["required"]) {
        EXPECT_TRUE(s["properties"][r.as<std::string>()])
            << path << " requires unknown property " << r.as<std::string>();
      }
    }
    if (s["enum"]) {
      for (const auto& v : s["enum"]) EXPECT_TRUE(v.IsScalar());
      EXPECT_EQ(type, "string");
    }
    if (s["x-kubernetes-list-type"]) {
      std::string lt = s["x-kubernetes-list-type"].as<std::string>();
      EXPECT_EQ(type, "array");
      if (lt == "map") {
        // v1.20: map keys must be required (or defaulted) scalar properties.
        const YAML::Node items = s["items"];
        EXPECT_EQ(items["type"].as<std::string>(), "object");
        for (const auto& k : s["x-kubernetes-list-map-keys"]) {
          std::string key = k.as<std::string>();
          ASSERT_TRUE(items["properties"][key]) << path << " map key " << key;
          EXPECT_EQ(items["properties"][key]["type"].as<std::string>(), "string");
          EXPECT_THAT(strings(items["required"]), ::testing::Contains(key)) << path;
        }
      } else {
        EXPECT_EQ(lt, "set");
        EXPECT_EQ(s["items"]["type"].as<std::string>(), "string");
      }
    }
  });
  EXPECT_GT(nodes, 40);
  // Root metadata may only restrict name (and generateName).
  const YAML::Node metadata = root["properties"]["metadata"];
  if (metadata && metadata["properties"]) {
    EXPECT_FALSE(metadata["description"]);  // refused by the apiserver
    for (const auto& kv : metadata["properties"]) {
      EXPECT_EQ(kv.first.as<std::string>(), "name");
    }
  }
}

TEST_P(Crd, PrinterColumns) {
  YAML::Node crd = load(GetParam());
  bool pipeline = GetParam() == "cairn.dev_pipelines.yaml";
  std::vector<std::pair<std::string, std::string>> cols;
  for (const auto& c : version(crd)["additionalPrinterColumns"]) {
    if (c["priority"] && c["priority"].as<int>() != 0) continue;
    cols.emplace_back(c["name"].as<std::string>(), c["jsonPath"].as<std::string>());
    EXPECT_TRUE(c["type"]);
  }
  const std::string ready = ".status.conditions[?(@.type==\"Ready\")].status";
  if (pipeline) {
    EXPECT_THAT(
        cols,
        ElementsAre(std::pair<std::string, std::string>{"Commit", ".status.latestCommit"},
                    std::pair<std::string, std::string>{"Phase", ".status.lastRunPhase"},
                    std::pair<std::string, std::string>{"Ready", ready},
                    std::pair<std::string, std::string>{"Age", ".metadata.creationTimestamp"}));
    EXPECT_THAT(strings(crd["spec"]["names"]["shortNames"]), ElementsAre("pl"));
  } else {
    EXPECT_THAT(
        cols,
        ElementsAre(std::pair<std::string, std::string>{"Commit", ".status.currentCommit"},
                    std::pair<std::string, std::string>{"Phase", ".status.phase"},
                    std::pair<std::string, std::string>{"Ready", ready},
                    std::pair<std::string, std::string>{"Age", ".metadata.creationTimestamp"}));
    EXPECT_THAT(strings(crd["spec"]["names"]["shortNames"]), ElementsAre("rel"));
  }
  // Every column's path exists in the schema.
  for (const auto& c : version(crd)["additionalPrinterColumns"]) {
    std::string p = c["jsonPath"].as<std::string>();
    if (p == ".metadata.creationTimestamp") continue;
    std::string field =
        p.substr(1, p.find('[') == std::string::npos ? std::string::npos : p.find('[') - 1);
    EXPECT_TRUE(at(crd, field)) << p;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, Crd,
                         ::testing::Values("cairn.dev_pipelines.yaml", "cairn.dev_releases.yaml"));

TEST(CrdShared, SourceNotifyAndConditionsAreIdenticalInBothKinds) {
  YAML::Node p = load("cairn.dev_pipelines.yaml");
  YAML::Node r = load("cairn.dev_releases.yaml");
  for (const char* field : {"spec.source", "spec.notify", "status.conditions"}) {
    EXPECT_EQ(YAML::Dump(at(p, field)), YAML::Dump(at(r, field))) << field;
  }
}

TEST(CrdPipeline, ContractDetails) {
  YAML::Node crd = load("cairn.dev_pipelines.yaml");
  EXPECT_THAT(strings(at(crd, "spec")["required"]), ElementsAre("source", "steps"));
  EXPECT_THAT(strings(at(crd, "spec.source")["required"]), ElementsAre("url"));
  EXPECT_THAT(strings(at(crd, "spec.source.verify.mode")["enum"]), ElementsAre("none", "head"));
  EXPECT_EQ(at(crd, "spec.source.verify.mode")["default"].as<std::string>(), "none");
  EXPECT_EQ(at(crd, "spec.source.interval")["default"].as<std::string>(), "1m");
  EXPECT_EQ(at(crd, "spec.source.interval")["pattern"].as<std::string>(),
            "^([0-9]+(\\.[0-9]+)?(ns|us|\xC2\xB5s|ms|s|m|h))+$");
  EXPECT_EQ(at(crd, "spec.source.commit")["pattern"].as<std::string>(), "^[0-9a-f]{40}$");
  EXPECT_EQ(at(crd, "spec.concurrency")["default"].as<int>(), 1);
  EXPECT_EQ(at(crd, "spec.concurrency")["minimum"].as<int>(), 1);
  EXPECT_EQ(at(crd, "spec.concurrency")["maximum"].as<int>(), kMaxConcurrency);
  EXPECT_EQ(at(crd, "spec.historyLimit")["default"].as<int>(), 20);
  EXPECT_EQ(at(crd, "spec.historyLimit")["maximum"].as<int>(), kMaxHistoryLimit);
  EXPECT_EQ(at(crd, "spec.steps")["maxItems"].as<std::size_t>(), kMaxSteps);
  EXPECT_EQ(at(crd, "spec.steps")["x-kubernetes-list-type"].as<std::string>(), "map");
  EXPECT_EQ(at(crd, "spec.steps.[].env")["x-kubernetes-list-type"].as<std::string>(), "map");
  EXPECT_EQ(at(crd, "spec.steps.[].name")["maxLength"].as<std::size_t>(), kMaxStepNameLength);
  EXPECT_EQ(at(crd, "spec.steps.[].retries")["default"].as<int>(), 0);
  EXPECT_EQ(at(crd, "spec.steps.[].retries")["maximum"].as<int>(), kMaxRetries);
  EXPECT_THAT(strings(at(crd, "spec.steps.[]")["required"]), ElementsAre("name", "image"));
  EXPECT_THAT(strings(at(crd, "spec.notify.[].events.[]")["enum"]),
              ElementsAre("RunSucceeded", "RunFailed", "Deployed", "Failed", "RolledBack",
                          "DriftCorrected"));
  EXPECT_THAT(strings(at(crd, "status.lastRunPhase")["enum"]),
              ElementsAre("Pending", "Running", "Succeeded", "Failed", "Cancelled"));
  EXPECT_THAT(strings(at(crd, "status.runs.[].phase")["enum"]),
              ElementsAre("Pending", "Running", "Succeeded", "Failed", "Cancelled"));
  EXPECT_THAT(strings(at(crd, "status.runs.[].trigger")["enum"]),
              ElementsAre("poll", "push", "manual"));
  EXPECT_THAT(strings(at(crd, "status.runs.[].steps.[].phase")["enum"]),
              ElementsAre("Pending", "Running", "Succeeded", "Failed", "Skipped", "Cancelled"));
  EXPECT_EQ(
      at(crd, "status.runs.[].steps.[].results")["additionalProperties"]["type"].as<std::string>(),
      "string");
  EXPECT_EQ(root_schema(crd)["properties"]["metadata"]["properties"]["name"]["maxLength"].as<int>(),
            63);
}

TEST(CrdRelease, ContractDetails) {
  YAML::Node crd = load("cairn.dev_releases.yaml");
  EXPECT_THAT(strings(at(crd, "spec")["required"]), ElementsAre("source"));
  EXPECT_EQ(at(crd, "spec.historyLimit")["default"].as<int>(), 10);
  EXPECT_EQ(at(crd, "spec.prune")["default"].as<bool>(), true);
  EXPECT_EQ(at(crd, "spec.selfHeal")["default"].as<bool>(), true);
  EXPECT_EQ(at(crd, "spec.suspend")["default"].as<bool>(), false);
  EXPECT_EQ(at(crd, "spec.clusterScope")["default"].as<bool>(), false);
  EXPECT_EQ(at(crd, "spec.rollout.autoRollback")["default"].as<bool>(), true);
  EXPECT_EQ(at(crd, "spec.rollout.progressDeadline")["default"].as<std::string>(), "5m");
  EXPECT_EQ(at(crd, "spec.rollout.analysis.threshold")["type"].as<std::string>(), "number");
  EXPECT_THAT(strings(at(crd, "spec.gate")["required"]), ElementsAre("pipelineRef"));
  EXPECT_TRUE(at(crd, "spec.helm.values")["x-kubernetes-preserve-unknown-fields"].as<bool>());
  EXPECT_EQ(at(crd, "spec.helm.valuesFiles.[]")["type"].as<std::string>(), "string");
  EXPECT_EQ(at(crd, "spec.helm.releaseName")["maxLength"].as<int>(), 53);
  EXPECT_THAT(strings(at(crd, "status.phase")["enum"]),
              ElementsAre("Progressing", "Deployed", "Failed", "RolledBack"));
  EXPECT_THAT(strings(at(crd, "status.history.[].result")["enum"]),
              ElementsAre("Deployed", "Failed", "RolledBack"));
  for (const char* f : {"apiVersion", "kind", "namespace", "name"}) {
    EXPECT_TRUE(at(crd, std::string("status.inventory.[].") + f));
  }
}

// Every enum value the CRDs admit is one lib/api understands, and back.
TEST(CrdEnums, AgreeWithLibApi) {
  YAML::Node p = load("cairn.dev_pipelines.yaml");
  YAML::Node r = load("cairn.dev_releases.yaml");
  auto check = [](const YAML::Node& node, auto e) {
    for (const auto& v : strings(node["enum"])) {
      EXPECT_TRUE(from_string(v, e)) << v;
      EXPECT_EQ(to_string(e), v);
    }
  };
  check(at(p, "spec.source.verify.mode"), VerifyMode{});
  check(at(p, "status.lastRunPhase"), RunPhase{});
  check(at(p, "status.runs.[].trigger"), Trigger{});
  check(at(p, "status.runs.[].steps.[].phase"), StepPhase{});
  check(at(p, "spec.notify.[].events.[]"), NotifyEvent{});
  check(at(r, "status.phase"), ReleasePhase{});
  check(at(r, "status.history.[].result"), HistoryResult{});
}

// Applies the schema's defaults the way the apiserver does (a missing field
// with a default gets it, then defaulting goes on inside it).
json scalar(const YAML::Node& v, const std::string& type) {
  if (type == "integer") return v.as<long long>();
  if (type == "number") return v.as<double>();
  if (type == "boolean") return v.as<bool>();
  if (type == "object") return json::object();  // the CRDs only default objects to {}
  return v.as<std::string>();
}

void apply_defaults(json& obj, const YAML::Node& schema) {
  std::string type = schema["type"].as<std::string>();
  if (type == "object" && obj.is_object() && schema["properties"]) {
    for (const auto& kv : schema["properties"]) {
      std::string key = kv.first.as<std::string>();
      if (!obj.contains(key) && kv.second["default"]) {
        obj[key] = scalar(kv.second["default"], kv.second["type"].as<std::string>());
      }
      if (obj.contains(key)) apply_defaults(obj[key], kv.second);
    }
  } else if (type == "array" && obj.is_array()) {
    for (json& item : obj) apply_defaults(item, schema["items"]);
  }
}

TEST(CrdDefaults, AreTheDefaultsOfTheParsers) {
  YAML::Node p = load("cairn.dev_pipelines.yaml");
  json pipeline = json::parse(R"({
    "source": {"url": "https://h/a", "branch": "main"},
    "steps": [{"name": "a", "image": "i", "script": "x", "env": [{"name": "A"}]}],
    "notify": [{"url": "https://hooks/x"}]
  })");
  json defaulted = pipeline;
  apply_defaults(defaulted, at(p, "spec"));
  EXPECT_EQ(defaulted["source"]["interval"], "1m");
  EXPECT_EQ(defaulted["concurrency"], 1);
  auto a = parse_pipeline_spec(pipeline);
  auto b = parse_pipeline_spec(defaulted);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(*a, *b);

  YAML::Node r = load("cairn.dev_releases.yaml");
  json release = json::parse(R"({
    "source": {"url": "https://h/a", "tag": "v1"},
    "rollout": {"analysis": {"prometheus": "http://p:9090", "query": "q", "threshold": 0.5}}
  })");
  defaulted = release;
  apply_defaults(defaulted, at(r, "spec"));
  EXPECT_EQ(defaulted["rollout"]["analysis"]["count"], 4);
  auto c = parse_release_spec(release, "x");
  auto d = parse_release_spec(defaulted, "x");
  ASSERT_TRUE(c.has_value() && d.has_value());
  EXPECT_EQ(*c, *d);
  // Without a rollout at all, `default: {}` on rollout still yields its defaults.
  json bare = json::parse(R"({"source": {"url": "https://h/a", "tag": "v1"}})");
  apply_defaults(bare, at(r, "spec"));
  EXPECT_EQ(bare["rollout"]["progressDeadline"], "5m");
  EXPECT_EQ(bare["rollout"]["autoRollback"], true);
  EXPECT_EQ(bare["source"]["verify"]["mode"], "none");
  EXPECT_EQ(
      *parse_release_spec(bare, "x"),
      *parse_release_spec(json::parse(R"({"source": {"url": "https://h/a", "tag": "v1"}})"), "x"));
}

}  // namespace
}  // namespace cairn::api
