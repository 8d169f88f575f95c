// kustomize_build, feature by feature. The expected outputs are Kustomize
// v5.5's (checked with `kubectl kustomize`; kustomize_diff_test.cc compares
// whole trees with it).
#include "manifest/kustomize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "manifest/local_tree.h"
#include "manifest/render.h"
#include "manifest/yaml.h"

namespace cairn::manifest {
namespace {

json yaml(const std::string& text) {
  auto docs = parse_yaml(text);
  EXPECT_FALSE(docs.error) << docs.error->message;
  return docs.documents.empty() ? json() : docs.documents[0].value;
}

std::vector<KObject> build(const std::map<std::string, std::string>& files,
                           const std::string& dir = "app") {
  MemoryTree tree;
  for (const auto& [p, c] : files) tree.add(p, c);
  auto out = kustomize_build(tree, dir);
  EXPECT_TRUE(out) << (out ? "" : to_string(out.error()));
  return out ? *out : std::vector<KObject>{};
}

std::string fails(const std::map<std::string, std::string>& files, const std::string& dir = "app") {
  MemoryTree tree;
  for (const auto& [p, c] : files) tree.add(p, c);
  auto out = kustomize_build(tree, dir);
  EXPECT_FALSE(out) << "built " << (out ? out->size() : 0) << " objects";
  return out ? "" : to_string(out.error());
}

const std::string kDeploy =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n"
    "    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n"
    "    spec:\n      serviceAccountName: sa\n      imagePullSecrets: [{name: pull}]\n"
    "      containers:\n      - name: app\n        image: nginx:1.0\n        envFrom:\n"
    "        - configMapRef: {name: cfg}\n        env:\n        - name: P\n          "
    "valueFrom: {secretKeyRef: {name: pw, key: p}}\n      volumes:\n      - name: v\n"
    "        configMap: {name: cfg}\n      - name: d\n        persistentVolumeClaim: "
    "{claimName: data}\n";

TEST(Kustomize, ResourcesKeepFilesAndLegacyOrder) {
  auto out = build({{"app/kustomization.yaml", "resources: [b.yaml, a.yaml]\n"},
                    {"app/b.yaml", kDeploy},
                    {"app/a.yaml",
                     "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\napiVersion: "
                     "v1\nkind: Namespace\nmetadata: {name: shop}\n"}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].object["kind"], "Namespace");
  EXPECT_EQ(out[1].object["kind"], "Service");
  EXPECT_EQ(out[2].object["kind"], "Deployment");
  EXPECT_EQ(out[2].file, "app/b.yaml");
  EXPECT_EQ(out[0].file, "app/a.yaml");
}

TEST(Kustomize, SortOptionsFifoKeepsResourceOrder) {
  auto out = build({{"app/kustomization.yaml",
                     "sortOptions: {order: fifo}\nresources: [b.yaml, "
                     "a.yaml]\n"},
                    {"app/b.yaml", kDeploy},
                    {"app/a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].object["kind"], "Deployment");
}

TEST(Kustomize, AcceptsTheOtherKustomizationFileNames) {
  EXPECT_EQ(
      build({{"app/kustomization.yml", "resources: [d.yaml]\n"}, {"app/d.yaml", kDeploy}}).size(),
      1u);
  EXPECT_EQ(build({{"app/Kustomization", "resources: [d.yaml]\n"}, {"app/d.yaml", kDeploy}}).size(),
            1u);
  EXPECT_NE(fails({{"app/Kustomization", "resources: []\n"},
                   {"app/kustomization.yaml", "resources: []\n"}})
                .find("found both"),
            std::string::npos);
}

TEST(Kustomize, OverlayPrefixNamespaceAndReferences) {
  auto out = build(
      {{"base/kustomization.yaml", "resources: [d.yaml, o.yaml]\n"},
       {"base/d.yaml", kDeploy},
       {"base/o.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\napiVersion: v1\nkind: "
        "Secret\nmetadata: {name: pw}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: "
        "{name: sa}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: "
        "rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n"
        "subjects: [{kind: ServiceAccount, name: sa}]\n"},
       {"app/kustomization.yaml",
        "resources: [../base]\nnamePrefix: prod-\nnameSuffix: -1\nnamespace: shop\n"}});
  ASSERT_EQ(out.size(), 6u);
  for (const auto& o : out) {
    EXPECT_TRUE(o.object["metadata"]["name"].get<std::string>().starts_with("prod-"));
    EXPECT_EQ(o.object["metadata"]["namespace"], "shop");
  }
  const json* d = nullptr;
  const json* rb = nullptr;
  for (const auto& o : out) {
    if (o.object["kind"] == "Deployment") d = &o.object;
    if (o.object["kind"] == "RoleBinding") rb = &o.object;
  }
  ASSERT_TRUE(d && rb);
  const json& pod = (*d)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], "prod-sa-1");
  EXPECT_EQ(pod["imagePullSecrets"][0]["name"], "pull");  // not among the resources
  EXPECT_EQ(pod["containers"][0]["envFrom"][0]["configMapRef"]["name"], "prod-cfg-1");
  EXPECT_EQ(pod["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"], "prod-pw-1");
  EXPECT_EQ(pod["volumes"][0]["configMap"]["name"], "prod-cfg-1");
  EXPECT_EQ(pod["volumes"][1]["persistentVolumeClaim"]["claimName"], "prod-data-1");
  EXPECT_EQ((*rb)["subjects"][0], yaml("{kind: ServiceAccount, name: prod-sa-1, namespace: shop}"));
  EXPECT_EQ((*rb)["roleRef"]["name"], "view");
}

TEST(Kustomize, CommonLabelsGoIntoSelectorsAndTemplates) {
  auto out = build({{"app/kustomization.yaml",
                     "resources: [d.yaml]\ncommonLabels: {team: x}\ncommonAnnotations: {a: "
                     "b}\n"},
                    {"app/d.yaml", kDeploy + "---\napiVersion: v1\nkind: Service\nmetadata: "
                                             "{name: web}\nspec: {ports: [{port: 80}]}\n"}});
  ASSERT_EQ(out.size(), 2u);
  const json& svc = out[0].object;
  const json& d = out[1].object;
  EXPECT_EQ(svc["spec"]["selector"], yaml("{team: x}"));  // created
  EXPECT_EQ(d["metadata"]["labels"], yaml("{team: x}"));
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"], yaml("{app: web, team: x}"));
  EXPECT_EQ(d["spec"]["template"]["metadata"]["labels"], yaml("{app: web, team: x}"));
  EXPECT_EQ(d["spec"]["template"]["metadata"]["annotations"], yaml("{a: b}"));
  EXPECT_EQ(d["metadata"]["annotations"], yaml("{a: b}"));
}

TEST(Kustomize, LabelsWithoutSelectors) {
  auto out = build({{"app/kustomization.yaml",
                     "resources: [d.yaml]\nlabels:\n- pairs: {a: '1'}\n- pairs: {b: '2'}\n  "
                     "includeTemplates: true\n- pairs: {c: '3'}\n  includeSelectors: true\n"},
                    {"app/d.yaml", kDeploy}});
  ASSERT_EQ(out.size(), 1u);
  const json& d = out[0].object;
  EXPECT_EQ(d["metadata"]["labels"], yaml("{a: '1', b: '2', c: '3'}"));
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"], yaml("{app: web, c: '3'}"));
  EXPECT_EQ(d["spec"]["template"]["metadata"]["labels"], yaml("{app: web, b: '2', c: '3'}"));
}

TEST(Kustomize, Images) {
  auto out = build({{"app/kustomization.yaml",
                     "resources: [d.yaml]\nimages:\n- {name: nginx, newName: reg.io/nginx, "
                     "newTag: '1.27'}\n- {name: busybox, digest: 'sha256:abc'}\n- {name: "
                     "reg.io:5000/x, newTag: v2}\n"},
                    {"app/d.yaml",
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: "
                     "[{name: i, image: 'busybox:1@sha256:old'}]\n  containers:\n  - {name: a, "
                     "image: nginx}\n  - {name: b, image: 'reg.io:5000/x:v1'}\n  - {name: c, "
                     "image: nginxx}\n"}});
  ASSERT_EQ(out.size(), 1u);
  const json& spec = out[0].object["spec"];
  EXPECT_EQ(spec["containers"][0]["image"], "reg.io/nginx:1.27");
  EXPECT_EQ(spec["containers"][1]["image"], "reg.io:5000/x:v2");
  EXPECT_EQ(spec["containers"][2]["image"], "nginxx");
  EXPECT_EQ(spec["initContainers"][0]["image"], "busybox@sha256:abc");
}

TEST(Kustomize, Replicas) {
  auto out = build({{"base/kustomization.yaml", "resources: [d.yaml]\n"},
                    {"base/d.yaml", kDeploy},
                    {"app/kustomization.yaml",
                     "resources: [../base]\nnamePrefix: x-\nreplicas: [{name: web, count: 4}]\n"}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].object["spec"]["replicas"], 4);
}

TEST(Kustomize, GeneratorsHashLikeKustomize) {
  auto out =
      build({{"app/kustomization.yaml",
              "configMapGenerator:\n- name: cm\n  literals: [a=b, \"c=<x&y>\"]\n- name: "
              "x\n  literals: [a=b]\n  options: {immutable: true}\n- name: e\nsecretGenerator:\n"
              "- name: s\n  literals: [a=b]\n- name: t\n"}});
  ASSERT_EQ(out.size(), 5u);
  // Sorted by name within a kind; `immutable` does not change the hash.
  EXPECT_EQ(out[0].object["metadata"]["name"], "cm-2h478k6bf6");
  EXPECT_EQ(out[1].object["metadata"]["name"], "e-6ct58987ht");
  EXPECT_EQ(out[2].object["metadata"]["name"], "x-4h2mbtbbt6");
  EXPECT_EQ(out[2].object["immutable"], true);
  EXPECT_EQ(out[4].object["metadata"]["name"], "t-46f8b28mk5");
  EXPECT_EQ(out[3].object["metadata"]["name"], "s-k695gkmbtk");
  EXPECT_EQ(out[3].object["data"]["a"], "Yg==");
  EXPECT_EQ(out[3].object["type"], "Opaque");
  EXPECT_EQ(out[0].file, "app/kustomization.yaml");
}

TEST(Kustomize, GeneratorSourcesAndOptions) {
  auto out = build({{"app/kustomization.yaml",
                     "generatorOptions: {labels: {g: '1'}, disableNameSuffixHash: true}\n"
                     "configMapGenerator:\n- name: cm\n  files: [conf.ini, k2=sub/other.txt]\n"
                     "  envs: [a.env]\n  literals: [\"q='quoted'\"]\n  options: {annotations: {x: "
                     "z}, immutable: true}\n"},
                    {"app/conf.ini", "[s]\nk=v\n"},
                    {"app/sub/other.txt", "other"},
                    {"app/a.env", "# c\nA=1\n\nB = 2\n"}});
  ASSERT_EQ(out.size(), 1u);
  const json& cm = out[0].object;
  EXPECT_EQ(cm["metadata"]["name"], "cm");
  EXPECT_EQ(cm["metadata"]["labels"], yaml("{g: '1'}"));
  EXPECT_EQ(cm["metadata"]["annotations"], yaml("{x: z}"));
  EXPECT_EQ(cm["immutable"], true);
  EXPECT_EQ(cm["data"], yaml("{conf.ini: \"[s]\\nk=v\\n\", k2: other, A: '1', 'B ': ' 2', q: "
                             "quoted}"));
}

TEST(Kustomize, GeneratorMergeAndReplaceInOverlay) {
  const std::map<std::string, std::string> base = {
      {"base/kustomization.yaml",
       "resources: [d.yaml]\nconfigMapGenerator:\n- name: cfg\n  literals: [a=1, b=2]\n"},
      {"base/d.yaml", kDeploy}};
  auto files = base;
  files["app/kustomization.yaml"] =
      "resources: [../base]\nconfigMapGenerator:\n- name: cfg\n  behavior: merge\n  literals: "
      "[b=3, c=4]\n";
  auto out = build(files);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].object["data"], yaml("{a: '1', b: '3', c: '4'}"));
  const std::string name = out[0].object["metadata"]["name"];
  EXPECT_EQ(name, "cfg-" + generated_name_hash(out[0].object));
  EXPECT_EQ(out[1].object["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"], name);

  files["app/kustomization.yaml"] =
      "resources: [../base]\nconfigMapGenerator:\n- name: cfg\n  behavior: replace\n  literals: "
      "[z=9]\n";
  out = build(files);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].object["data"], yaml("{z: '9'}"));

  files["app/kustomization.yaml"] =
      "resources: [../base]\nconfigMapGenerator:\n- name: nope\n  behavior: merge\n";
  EXPECT_NE(fails(files).find("app/kustomization.yaml: configMapGenerator[0]: behavior merge"),
            std::string::npos);
}

TEST(Kustomize, PatchesStrategicMergeAndJson6902) {
  auto out = build(
      {{"app/kustomization.yaml",
        "resources: [d.yaml]\npatches:\n- path: p.yaml\n- target: {group: apps, version: v1, "
        "kind: Deployment, name: 'w.*'}\n  patch: |-\n    - op: add\n      path: "
        "/spec/template/spec/containers/0/args\n      value: [--x]\npatchesStrategicMerge:\n"
        "- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web}\n  spec: "
        "{paused: true}\npatchesJson6902:\n- target: {group: apps, version: v1, kind: Deployment, "
        "name: web}\n  patch: '[{\"op\": \"remove\", \"path\": \"/spec/paused\"}]'\n"},
       {"app/d.yaml", kDeploy},
       {"app/p.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
        "    spec:\n      containers:\n      - name: side\n        image: busybox\n      - name: "
        "app\n        image: nginx:2\n"}});
  ASSERT_EQ(out.size(), 1u);
  const json& c = out[0].object["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0]["name"], "side");  // the patch's items first, as Kustomize orders them
  EXPECT_EQ(c[1]["image"], "nginx:2");
  EXPECT_EQ(c[0]["args"], yaml("[--x]"));
  EXPECT_FALSE(out[0].object["spec"].contains("paused"));
}

TEST(Kustomize, PatchTargetsBySelectorsAndDeleteDirective) {
  auto out = build(
      {{"app/kustomization.yaml",
        "resources: [r.yaml]\npatches:\n- target: {kind: ConfigMap, labelSelector: 'tier in "
        "(a,b),!skip', annotationSelector: 'note=yes'}\n  patch: |-\n    - {op: add, path: "
        "/data/p, value: 'y'}\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    "
        "metadata: {name: gone}\n    $patch: delete\n"},
       {"app/r.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {tier: a}, annotations: "
        "{note: 'yes'}}\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, "
        "labels: {tier: b, skip: 'y'}, annotations: {note: 'yes'}}\ndata: {}\n---\napiVersion: "
        "v1\nkind: ConfigMap\nmetadata: {name: c, labels: {tier: a}}\ndata: {}\n---\napiVersion: "
        "v1\nkind: ConfigMap\nmetadata: {name: gone}\n"}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].object["data"], yaml("{p: 'y'}"));
  EXPECT_EQ(out[1].object["data"], json::object());
  EXPECT_EQ(out[2].object["data"], json::object());
}

TEST(Kustomize, ComponentsActOnTheirParent) {
  auto out = build({{"app/kustomization.yaml", "resources: [d.yaml]\ncomponents: [../comp]\n"},
                    {"app/d.yaml", kDeploy},
                    {"comp/kustomization.yaml",
                     "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                     "resources: [extra.yaml]\ncommonLabels: {feature: on}\n"},
                    {"comp/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\n"}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].object["metadata"]["labels"]["feature"], "on");
  EXPECT_EQ(out[1].object["metadata"]["labels"]["feature"], "on");
  EXPECT_NE(fails({{"app/kustomization.yaml", "resources: [../comp]\n"},
                   {"comp/kustomization.yaml", "kind: Component\n"}})
                .find("comp/kustomization.yaml: kind: Component"),
            std::string::npos);
}

TEST(Kustomize, DiamondWithTwoPrefixesKeepsReferencesApart) {
  auto out = build({{"base/kustomization.yaml",
                     "resources: [d.yaml]\nconfigMapGenerator: [{name: cfg, literals: [a=1]}]\n"},
                    {"base/d.yaml", kDeploy},
                    {"a/kustomization.yaml", "resources: [../base]\nnamePrefix: a-\n"},
                    {"b/kustomization.yaml", "resources: [../base]\nnamePrefix: b-\n"},
                    {"app/kustomization.yaml", "resources: [../a, ../b]\n"}});
  ASSERT_EQ(out.size(), 4u);
  for (const auto& o : out) {
    if (o.object["kind"] != "Deployment") continue;
    const std::string p = o.object["metadata"]["name"].get<std::string>().substr(0, 2);
    EXPECT_TRUE(o.object["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"]
                    .get<std::string>()
                    .starts_with(p + "cfg-"));
  }
  EXPECT_NE(fails({{"base/kustomization.yaml", "resources: [d.yaml]\n"},
                   {"base/d.yaml", kDeploy},
                   {"app/kustomization.yaml", "resources: [../base, ../base2]\n"},
                   {"base2/kustomization.yaml", "resources: [../base]\n"}})
                .find("already defined"),
            std::string::npos);
}

TEST(Kustomize, RefusesWhatItDoesNotSupportNamingFileAndField) {
  for (const std::string field :
       {"helmCharts: []", "generators: [g.yaml]", "transformers: [t.yaml]", "validators: []",
        "replacements: []", "vars: []", "openapi: {}", "crds: []", "configurations: []"}) {
    const std::string err = fails({{"app/kustomization.yaml", field + "\n"}});
    EXPECT_NE(
        err.find("app/kustomization.yaml: " + field.substr(0, field.find(':')) + ": not supported"),
        std::string::npos)
        << err;
  }
  EXPECT_NE(fails({{"app/kustomization.yaml", "resourcez: []\n"}})
                .find("app/kustomization.yaml: resourcez: unknown field"),
            std::string::npos);
  for (const std::string remote : {"https://github.com/org/repo//deploy?ref=v1",
                                   "github.com/org/repo/deploy", "git@github.com:org/repo.git"}) {
    EXPECT_NE(fails({{"app/kustomization.yaml", "resources: ['" + remote + "']\n"}})
                  .find("app/kustomization.yaml: resources[0]: remote resource"),
              std::string::npos);
  }
}

TEST(Kustomize, RefusesPathsOutsideTheTreeAndCycles) {
  EXPECT_NE(fails({{"app/kustomization.yaml", "resources: [../../x]\n"}})
                .find("climbs above the repository root"),
            std::string::npos);
  EXPECT_NE(fails({{"app/kustomization.yaml", "resources: [../other/d.yaml]\n"},
                   {"other/d.yaml", kDeploy}})
                .find("outside the kustomization's directory"),
            std::string::npos);
  EXPECT_NE(fails({{"app/kustomization.yaml", "resources: [../b]\n"},
                   {"b/kustomization.yaml", "resources: [../app]\n"}})
                .find("a cycle of kustomizations: app -> b -> app"),
            std::string::npos);
  EXPECT_NE(fails({{"app/kustomization.yaml", "resources: [missing.yaml]\n"}})
                .find("resources[0]: app/missing.yaml does not exist"),
            std::string::npos);
  EXPECT_NE(fails({{"app/kustomization.yaml",
                    "patches:\n- patch: |-\n    apiVersion: v1\n    "
                    "kind: ConfigMap\n    metadata: {name: nope}\n"}})
                .find("app/kustomization.yaml: patches[0]: no object matches kind ConfigMap "
                      "name nope"),
            std::string::npos);
  EXPECT_NE(fails({{"app/kustomization.yaml", "configMapGenerator: [{name: c, envs: [e]}]\n"},
                   {"app/e", "FROM_ENV\n"}})
                .find("a line without '='"),
            std::string::npos);
}

TEST(Kustomize, RespectsSizeLimits) {
  MemoryTree tree;
  tree.add("app/kustomization.yaml", "resources: [d.yaml]\n");
  tree.add("app/d.yaml", kDeploy);
  KustomizeOptions opts;
  opts.max_file_bytes = 100;
  auto out = kustomize_build(tree, "app", opts);
  ASSERT_FALSE(out);
  EXPECT_NE(to_string(out.error()).find("app/d.yaml: the file has"), std::string::npos);
  opts = {};
  opts.max_documents = 0;
  EXPECT_FALSE(kustomize_build(tree, "app", opts));
}

TEST(Kustomize, GoJsonEscapesLikeGo) {
  EXPECT_EQ(go_json(yaml("{b: '<&>', a: [1, \"x\\ny\"]}")),
            "{\"a\":[1,\"x\\ny\"],\"b\":\"\\u003c\\u0026\\u003e\"}");
}

TEST(Kustomize, RenderBuildsAKustomizationThroughTheTree) {
  MemoryTree tree;
  tree.add("deploy/base/kustomization.yaml",
           "resources: [d.yaml]\nconfigMapGenerator: [{name: cfg, literals: [a=1]}]\n");
  tree.add("deploy/base/d.yaml", kDeploy);
  tree.add("deploy/prod/kustomization.yaml", "resources: [../base]\nnamePrefix: prod-\n");
  RenderInput in;
  in.release_namespace = "shop";
  in.release_name = "web";
  in.commit = std::string(40, 'a');
  in.source_url = "https://git.example/shop.git";
  in.tree = &tree;
  in.path = "deploy/prod";
  auto out = render(in);
  ASSERT_TRUE(out) << to_string(out.error());
  ASSERT_EQ(out->objects.size(), 2u);
  EXPECT_EQ(out->objects[0]["kind"], "ConfigMap");
  EXPECT_EQ(out->objects[0]["metadata"]["annotations"]["cairn.dev/path"],
            "deploy/base/kustomization.yaml");
  EXPECT_EQ(out->objects[1]["metadata"]["annotations"]["cairn.dev/path"], "deploy/base/d.yaml");
  EXPECT_EQ(out->objects[1]["metadata"]["namespace"], "shop");

  // Plain manifests under the path read as before.
  in.path = "deploy/base";
  tree.add("plain/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n");
  in.path = "plain";
  out = render(in);
  ASSERT_TRUE(out) << to_string(out.error());
  EXPECT_EQ(out->objects.size(), 1u);

  in.path = "../x";
  EXPECT_FALSE(render(in));
}

TEST(Kustomize, LocalTreeRefusesSymlinksLeavingTheRoot) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/local_tree_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path root = fs::path(tmpl) / "repo";
  fs::create_directories(root / "app");
  std::ofstream(root / "app/kustomization.yaml") << "resources: [d.yaml]\n";
  std::ofstream(root / "app/real.yaml") << kDeploy;
  fs::create_symlink(root / "app/real.yaml", root / "app/d.yaml");
  std::ofstream(fs::path(tmpl) / "secret.yaml") << "x: 1\n";
  LocalTree tree(root);
  auto out = kustomize_build(tree, "app");
  ASSERT_TRUE(out) << to_string(out.error());
  EXPECT_EQ(out->size(), 1u);
  fs::create_symlink(fs::path(tmpl) / "secret.yaml", root / "app/leak.yaml");
  EXPECT_FALSE(tree.read("app/leak.yaml"));
  EXPECT_FALSE(tree.files_under("app"));
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace cairn::manifest
