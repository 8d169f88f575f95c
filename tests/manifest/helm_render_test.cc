// The render dispatch for Helm charts: a Release whose spec.path holds a
// Chart.yaml is rendered with lib/helm (spec.helm's values files and values,
// its release name), then validated, stamped and sorted like plain
// manifests. Rendered through render_at over a real git repository, as the
// operator, the webhook and `kubectl cairn render release/NAME` do.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../git/testutil.h"
#include "api/names.h"
#include "manifest/git_tree.h"
#include "manifest/render.h"
#include "manifest/render_cache.h"

namespace cairn::manifest {
namespace {

using git::testing::Repo;
using git::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A chart with a helper, a CRD, a subchart (enabled by a condition) and a
// global value; a values file elsewhere in the repository.
void write_chart(Repo& repo) {
  repo.write("deploy/chart/Chart.yaml", R"(apiVersion: v2
name: web
version: 1.0.0
dependencies:
- name: cache
  version: 0.1.0
  condition: cache.enabled
)");
  repo.write("deploy/chart/values.yaml", R"(replicas: 1
image:
  repository: shop/web
  tag: "1.0"
podAnnotations:
  team: web
cache:
  enabled: true
global:
  tier: bronze
)");
  repo.write("deploy/chart/templates/_helpers.tpl", R"({{- define "web.fullname" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end -}}
)");
  repo.write("deploy/chart/templates/deployment.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    tier: {{ .Values.global.tier }}
    service: {{ .Release.Service }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ include "web.fullname" . }}}
  template:
    metadata:
      labels: {app: {{ include "web.fullname" . }}}
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        ports:
        - containerPort: 8080
)");
  repo.write("deploy/chart/templates/NOTES.txt", "Installed {{ .Release.Name }}.\n");
  repo.write("deploy/chart/charts/cache/Chart.yaml",
             "apiVersion: v2\nname: cache\nversion: 0.1.0\n");
  repo.write("deploy/chart/charts/cache/values.yaml", "size: 64Mi\n");
  repo.write("deploy/chart/charts/cache/templates/configmap.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cache
data:
  size: {{ .Values.size | quote }}
  tier: {{ .Values.global.tier | quote }}
  namespace: {{ .Release.Namespace | quote }}
)");
  repo.write("env/prod.yaml", R"(replicas: 3
image:
  tag: "2.0"
cache:
  size: 256Mi
)");
}

class HelmRender : public ::testing::Test {
 protected:
  void SetUp() override {
    write_chart(repo_);
    commit_ = repo_.commit("chart");
    repo_.push();
    ASSERT_TRUE(mirror_.fetch({}));
  }

  ReleaseRef release(std::function<void(api::HelmSpec&)> edit = {}) {
    ReleaseRef r{.ns = "shop",
                 .name = "web",
                 .source_url = "https://git.example/shop.git",
                 .path = "deploy/chart"};
    api::HelmSpec h;
    h.values_files = {"env/prod.yaml"};
    h.values = json::parse(R"({"global": {"tier": "gold"}, "podAnnotations": null})");
    h.release_name = "shop-web";
    if (edit) edit(h);
    r.helm = h;
    return r;
  }

  std::map<std::string, json> by_identity(const Rendered& r) {
    std::map<std::string, json> out;
    for (const json& o : r.objects) out[identity(o)] = o;
    return out;
  }

  TempDir tmp_;
  Repo repo_{tmp_};
  std::string commit_;
  git::Mirror mirror_{repo_.url(), tmp_ / "mirror"};
};

TEST_F(HelmRender, ChartWithSubchartValuesFileAndValuesThroughRenderAt) {
  auto out = render_at(mirror_, commit_, release());
  ASSERT_TRUE(out) << to_string(out.error());
  auto objs = by_identity(*out);
  ASSERT_EQ(objs.size(), 2u);

  const json& d = objs.at("apps/Deployment/shop/shop-web-web");  // the release name
  EXPECT_EQ(d["spec"]["replicas"], 3) << "from the values file";
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "shop/web:2.0")
      << "the values file over values.yaml, the rest of the map kept";
  EXPECT_EQ(d["metadata"]["labels"]["tier"], "gold") << "spec.helm.values, over the global";
  EXPECT_EQ(d["metadata"]["labels"]["service"], "Helm");
  EXPECT_FALSE(d["spec"]["template"]["metadata"].contains("annotations"))
      << "a null in spec.helm.values deletes the chart's podAnnotations";
  // Validated and stamped like plain manifests.
  EXPECT_EQ(d["metadata"]["namespace"], "shop");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
  const json& ann = d["metadata"]["annotations"];
  EXPECT_EQ(ann[std::string(api::kCommitAnnotation)], commit_);
  EXPECT_EQ(ann[std::string(api::kPathAnnotation)], "deploy/chart/templates/deployment.yaml");
  EXPECT_EQ(ann[std::string(api::kReleaseAnnotation)], "shop/web");
  EXPECT_EQ(d["metadata"]["labels"][std::string(api::kManagedByLabel)], "cairn");

  const json& cm = objs.at("/ConfigMap/shop/shop-web-cache");  // the subchart
  EXPECT_EQ(cm["data"]["size"], "256Mi") << "the values file reaches the subchart";
  EXPECT_EQ(cm["data"]["tier"], "gold") << "globals reach the subchart";
  EXPECT_EQ(cm["data"]["namespace"], "shop") << ".Release.Namespace";
  EXPECT_EQ(cm["metadata"]["annotations"][std::string(api::kPathAnnotation)],
            "deploy/chart/charts/cache/templates/configmap.yaml");
  // Apply order: the ConfigMap before the Deployment.
  EXPECT_EQ(out->objects[0]["kind"], "ConfigMap");
}

TEST_F(HelmRender, DefaultsWithoutSpecHelmAndTheSubchartCondition) {
  ReleaseRef r = release();
  r.helm.reset();
  auto out = render_at(mirror_, commit_, r);
  ASSERT_TRUE(out) << to_string(out.error());
  auto objs = by_identity(*out);
  const json& d = objs.at("apps/Deployment/shop/web-web");  // the Release's name
  EXPECT_EQ(d["spec"]["replicas"], 1);
  EXPECT_EQ(d["metadata"]["labels"]["tier"], "bronze");
  EXPECT_EQ(d["spec"]["template"]["metadata"]["annotations"]["team"], "web");
  EXPECT_TRUE(objs.contains("/ConfigMap/shop/web-cache"));

  auto off = render_at(mirror_, commit_, release([](api::HelmSpec& h) {
                         h.values = json::parse(R"({"cache": {"enabled": false}})");
                       }));
  ASSERT_TRUE(off) << to_string(off.error());
  EXPECT_FALSE(by_identity(*off).contains("/ConfigMap/shop/shop-web-cache"))
      << "condition: cache.enabled";
}

TEST_F(HelmRender, ValuesFileChangedInANewCommitRendersTheNewValue) {
  repo_.write("env/prod.yaml", "replicas: 5\n");
  const std::string next = repo_.commit("five");
  repo_.push();
  ASSERT_TRUE(mirror_.fetch({}));
  auto out = render_at(mirror_, next, release());
  ASSERT_TRUE(out) << to_string(out.error());
  EXPECT_EQ(by_identity(*out).at("apps/Deployment/shop/shop-web-web")["spec"]["replicas"], 5);
  auto old = render_at(mirror_, commit_, release());
  ASSERT_TRUE(old);
  EXPECT_EQ(by_identity(*old).at("apps/Deployment/shop/shop-web-web")["spec"]["replicas"], 3)
      << "values files are read at the commit rendered";
}

TEST_F(HelmRender, ErrorsNameTheFieldTheFileOrTheTemplate) {
  auto missing = render_at(mirror_, commit_, release([](api::HelmSpec& h) {
                             h.values_files = {"env/prod.yaml", "env/staging.yaml"};
                           }));
  ASSERT_FALSE(missing);
  EXPECT_EQ(to_string(missing.error()),
            "spec.helm.valuesFiles[1]: env/staging.yaml does not exist at commit " + commit_ +
                " (values files are paths from the repository root)");

  repo_.write("env/broken.yaml", "replicas: [1\n");
  repo_.write("plain/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
  const std::string c2 = repo_.commit("broken values");
  repo_.push();
  ASSERT_TRUE(mirror_.fetch({}));
  auto bad = render_at(mirror_, c2,
                       release([](api::HelmSpec& h) { h.values_files = {"env/broken.yaml"}; }));
  ASSERT_FALSE(bad);
  ASSERT_EQ(bad.error().size(), 1u);
  EXPECT_EQ(bad.error()[0].file, "env/broken.yaml");
  EXPECT_THAT(bad.error()[0].message, HasSubstr("spec.helm.valuesFiles[0]: not valid values"));

  ReleaseRef plain = release();
  plain.path = "plain";
  auto not_chart = render_at(mirror_, c2, plain);
  ASSERT_FALSE(not_chart);
  EXPECT_EQ(to_string(not_chart.error()),
            "spec.helm is set, but spec.path \"plain\" holds no Chart.yaml: point spec.path at a "
            "Helm chart, or remove spec.helm");
  plain.helm.reset();
  EXPECT_TRUE(render_at(mirror_, c2, plain)) << "the same path without spec.helm renders";
}

// A render over a chart in memory (the CLI's local render goes through the
// same render()).
RenderInput chart_input(const FileTree* tree) {
  RenderInput in;
  in.release_namespace = "shop";
  in.release_name = "web";
  in.commit = std::string(40, 'c');
  in.source_url = "https://git.example/shop.git";
  in.tree = tree;
  in.path = "chart";
  return in;
}

TEST(HelmRenderErrors, TemplateErrorNamesTemplateLineAndColumn) {
  MemoryTree tree;
  tree.add("chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n");
  tree.add("chart/templates/cm.yaml",
           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.a.b.c "
           "}}\n  b: {{ required \"set b\" .Values.b }}\n");
  tree.add("chart/values.yaml", "a: {b: {c: 1}}\n");
  auto out = render(chart_input(&tree));
  ASSERT_FALSE(out);
  ASSERT_EQ(out.error().size(), 1u);
  EXPECT_EQ(out.error()[0].file, "chart");
  EXPECT_THAT(out.error()[0].message,
              HasSubstr("helm: a template failed: template: web/templates/cm.yaml:7:"));
  EXPECT_THAT(out.error()[0].message, HasSubstr("set b"));

  tree.add("chart/templates/cm.yaml", "a: {{ if }}\n");
  out = render(chart_input(&tree));
  ASSERT_FALSE(out);
  EXPECT_THAT(to_string(out.error()),
              HasSubstr("chart: helm: a template failed: parse error at (web/templates/cm.yaml:1"));
}

TEST(HelmRenderErrors, DependencyNotVendoredIsRefusedNamingIt) {
  MemoryTree tree;
  tree.add("chart/Chart.yaml",
           "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: "
           "17.0.0\n  repository: https://charts.bitnami.com/bitnami\n");
  tree.add("chart/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
  auto out = render(chart_input(&tree));
  ASSERT_FALSE(out);
  const std::string msg = to_string(out.error());
  EXPECT_THAT(msg, HasSubstr("the chart needs the network"));
  EXPECT_THAT(msg, HasSubstr("\"redis\""));
  EXPECT_THAT(msg, HasSubstr("https://charts.bitnami.com/bitnami"));
}

TEST(HelmRenderErrors, RenderedObjectsAreValidatedLikeManifests) {
  MemoryTree tree;
  tree.add("chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n");
  tree.add("chart/crds/widget.yaml", R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
)");
  tree.add("chart/crds/README.md", "not a manifest\n");
  tree.add("chart/templates/a.yaml",
           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: other\n");
  auto out = render(chart_input(&tree));
  ASSERT_FALSE(out);
  EXPECT_THAT(to_string(out.error()),
              HasSubstr("chart/crds/widget.yaml:1: document 0: CustomResourceDefinition "
                        "widgets.example.com is cluster-scoped: set spec.clusterScope: true on "
                        "the Release to manage cluster-scoped objects, or move the object to a "
                        "Release that has it\n"));
  EXPECT_THAT(to_string(out.error()),
              HasSubstr("chart/templates/a.yaml:1: document 0: ConfigMap a is in namespace "
                        "\"other\""));
  EXPECT_THAT(to_string(out.error()), HasSubstr("(line in the template's output)"))
      << "a line of a template's output is not a line of the template";

  RenderInput in = chart_input(&tree);
  in.cluster_scope = true;
  out = render(in);
  ASSERT_TRUE(out) << to_string(out.error());
  ASSERT_EQ(out->objects.size(), 2u);
  EXPECT_EQ(out->objects[0]["kind"], "CustomResourceDefinition") << "CRDs first";
}

TEST(HelmRenderCache, KeyCoversSpecHelmAndKubeVersion) {
  MemoryTree tree;
  tree.add("chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n");
  tree.add(
      "chart/templates/cm.yaml",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {num: \"{{ .Values.num }}\", "
      "v: \"{{ .Capabilities.KubeVersion.Version }}\"}\n");
  tree.add("chart/values.yaml", "num: 1\n");
  RenderCache cache;
  RenderInput a = chart_input(&tree);
  a.helm = api::HelmSpec{};
  RenderInput b = a;
  b.helm->values = {{"num", 2}};
  ASSERT_NE(render_key(a), render_key(b));
  auto ra = cache.render(a);
  auto rb = cache.render(b);
  ASSERT_TRUE(*ra && *rb);
  EXPECT_EQ((**ra).objects[0]["data"]["num"], "1");
  EXPECT_EQ((**rb).objects[0]["data"]["num"], "2") << "a values change at the same commit renders";
  EXPECT_EQ((**ra).objects[0]["data"]["v"], "v1.20.2");

  for (auto edit : std::vector<std::function<void(RenderInput&)>>{
           [](RenderInput& in) { in.helm->values_files = {"v.yaml"}; },
           [](RenderInput& in) { in.helm->release_name = "other"; },
           [](RenderInput& in) { in.helm.reset(); },
           [](RenderInput& in) { in.kube_version = "v1.28.0"; }}) {
    RenderInput c = a;
    edit(c);
    EXPECT_NE(render_key(c), render_key(a));
  }
  RenderInput same = chart_input(&tree);
  same.helm = api::HelmSpec{};
  EXPECT_EQ(render_key(same), render_key(a)) << "equal inputs share a render";

  // The key the webhook's index uses: spec.helm in it too.
  ReleaseRef r{.ns = "shop", .name = "web", .path = "chart", .helm = api::HelmSpec{}};
  ReleaseRef s = r;
  s.helm->values = {{"num", 2}};
  EXPECT_NE(r.key("c1"), s.key("c1"));
  EXPECT_EQ(r.key("c1"), ReleaseRef(r).key("c1"));
  EXPECT_NE(r.key("c1"), r.key("c2"));
}

}  // namespace
}  // namespace cairn::manifest
