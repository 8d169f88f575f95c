#include "manifest/strategic_merge.h"

#include <gtest/gtest.h>

#include "manifest/yaml.h"

namespace cairn::manifest {
namespace {

json y(const std::string& text) { return parse_yaml(text).documents.at(0).value; }

json smp(const std::string& target, const std::string& patch) {
  auto out = strategic_merge(y(target), y(patch));
  EXPECT_TRUE(out) << (out ? "" : out.error());
  return out ? *out : json();
}

const std::string kPod =
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: '1'}}\nspec:\n  containers:\n"
    "  - name: app\n    image: x\n    ports: [{containerPort: 80}, {containerPort: 90}]\n"
    "    env: [{name: A, value: '1'}, {name: B, value: '2'}]\n"
    "    volumeMounts: [{name: v, mountPath: /a}]\n  tolerations: [{key: k, operator: Exists}]\n";

TEST(StrategicMerge, MergesMappingsAndDeletesWithNull) {
  json out = smp(kPod, "metadata: {labels: {a: null, b: '2'}}\n");
  EXPECT_EQ(out["metadata"]["labels"], y("{b: '2'}"));
}

TEST(StrategicMerge, MergesListsByTheirKeys) {
  json out = smp(kPod,
                 "spec:\n  containers:\n  - name: app\n    ports: [{containerPort: 90, name: "
                 "m}]\n    env: [{name: B, value: '3'}]\n    volumeMounts: [{mountPath: /a, "
                 "readOnly: true}]\n");
  const json& c = out["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "x");
  EXPECT_EQ(c["ports"], y("[{containerPort: 90, name: m}, {containerPort: 80}]"));
  EXPECT_EQ(c["env"], y("[{name: B, value: '3'}, {name: A, value: '1'}]"));
  EXPECT_EQ(c["volumeMounts"], y("[{name: v, mountPath: /a, readOnly: true}]"));
}

TEST(StrategicMerge, ReplacesListsWithoutAMergeKey) {
  json out = smp(kPod, "spec:\n  tolerations: [{key: other, operator: Exists}]\n");
  EXPECT_EQ(out["spec"]["tolerations"], y("[{key: other, operator: Exists}]"));
}

TEST(StrategicMerge, ServicePortsMergeByPort) {
  json out =
      smp("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: "
          "80, targetPort: 8080}, {port: 443}]\n",
          "spec:\n  ports: [{port: 80, targetPort: 9090}]\n");
  EXPECT_EQ(out["spec"]["ports"], y("[{port: 80, targetPort: 9090}, {port: 443}]"));
}

TEST(StrategicMerge, Directives) {
  json out = smp(kPod,
                 "spec:\n  containers:\n  - name: app\n    env:\n    - {name: A, $patch: "
                 "delete}\n");
  EXPECT_EQ(out["spec"]["containers"][0]["env"], y("[{name: B, value: '2'}]"));

  out = smp(kPod, "spec:\n  containers:\n  - $patch: replace\n  - name: new\n    image: n\n");
  EXPECT_EQ(out["spec"]["containers"], y("[{name: new, image: n}]"));

  out = smp(kPod, "metadata:\n  labels:\n    $patch: replace\n    z: '9'\n");
  EXPECT_EQ(out["metadata"]["labels"], y("{z: '9'}"));

  out = smp(kPod, "spec:\n  $patch: delete\n");
  EXPECT_FALSE(out.contains("spec"));

  out = smp(kPod,
            "spec:\n  $setElementOrder/containers: [{name: app}]\n  containers:\n  - name: app\n"
            "    $retainKeys: [name, image]\n    image: y\n");
  EXPECT_EQ(out["spec"]["containers"], y("[{name: app, image: y}]"));

  out = smp("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, finalizers: [a, b]}\n",
            "metadata:\n  $deleteFromPrimitiveList/finalizers: [a]\n");
  EXPECT_EQ(out["metadata"]["finalizers"], y("[b]"));
}

TEST(StrategicMerge, CustomResourcesListsAreReplaced) {
  json out =
      smp("apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec:\n  "
          "containers: [{name: a, image: x}]\n",
          "spec:\n  containers: [{name: a, image: y}]\n");
  EXPECT_EQ(out["spec"]["containers"], y("[{name: a, image: y}]"));
}

TEST(StrategicMerge, MissingMergeKeyIsAnError) {
  auto out = strategic_merge(y(kPod), y("spec:\n  containers: [{image: x}]\n"));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("spec.containers"), std::string::npos);
}

TEST(JsonPatch, Operations) {
  auto out = json_patch(y("{a: {b: [1, 2]}, c: 1}"),
                        y("- {op: add, path: /a/b/1, value: 9}\n- {op: add, path: /a/b/-, value: "
                          "3}\n- {op: replace, path: /c, value: 2}\n- {op: copy, from: /c, path: "
                          "/d}\n- {op: move, from: /d, path: /e}\n- {op: remove, path: /a/b/0}\n"
                          "- {op: test, path: /e, value: 2}\n- {op: add, path: /x~1y, value: "
                          "1}\n"));
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(*out, y("{a: {b: [9, 2, 3]}, c: 2, e: 2, x/y: 1}"));
}

TEST(JsonPatch, ErrorsNameTheOperation) {
  auto out = json_patch(y("{a: 1}"), y("- {op: replace, path: /b, value: 1}\n"));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), "operation 0 (/b): the path does not exist");
  EXPECT_FALSE(json_patch(y("{a: 1}"), y("- {op: test, path: /a, value: 2}\n")));
  EXPECT_FALSE(json_patch(y("{a: [1]}"), y("- {op: add, path: /a/5, value: 2}\n")));
}

}  // namespace
}  // namespace cairn::manifest
