// render_chart: Helm's chart semantics (values coalescing, subcharts and
// their conditions, tags, aliases, globals and import-values, .Files,
// .helmignore, CRDs, partials, NOTES.txt, tests, refusals), on charts held
// in memory.
#include "helm/chart.h"

#include <gtest/gtest.h>

#include <map>

#include "manifest/tree.h"

namespace cairn::helm {
namespace {

using Tree = manifest::MemoryTree;

std::map<std::string, std::string> by_name(const std::vector<RenderedTemplate>& r) {
  std::map<std::string, std::string> out;
  for (const auto& t : r) out[t.name] = t.text;
  return out;
}

Tree parent_chart() {
  Tree t;
  t.add("app/Chart.yaml", R"(apiVersion: v2
name: app
version: 1.0.0
appVersion: "2.0"
dependencies:
  - name: db
    version: 0.1.0
    repository: https://charts.example.com
    condition: db.enabled
  - name: db
    alias: replica
    version: 0.1.0
    repository: https://charts.example.com
    condition: replica.enabled
  - name: cache
    version: 0.1.0
    tags: [extras]
  - name: lib
    version: 0.1.0
    import-values:
      - child: exported
        parent: imported
)");
  t.add("app/values.yaml", R"(global:
  domain: example.com
name: parent
db:
  enabled: true
  size: 10Gi
replica:
  enabled: false
tags:
  extras: false
)");
  t.add("app/.helmignore", "*.bak\nsecret/\n");
  t.add("app/templates/_helpers.tpl",
        R"({{- define "app.name" -}}{{ .Chart.Name }}-{{ .Release.Name }}{{- end -}})");
  t.add("app/templates/cm.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "app.name" . }}
data:
  ns: {{ .Release.Namespace }}
  service: {{ .Release.Service }}
  install: "{{ .Release.IsInstall }}/{{ .Release.IsUpgrade }}/{{ .Release.Revision }}"
  chart: {{ .Chart.Name }}-{{ .Chart.Version }}-{{ .Chart.AppVersion }}
  imported: {{ .Values.imported.answer | quote }}
  files: {{ .Files.Get "files/a.txt" | trim }}|{{ .Files.Get "files/x.bak" }}|{{ .Files.Get "secret/k" }}
  glob: {{ range $path, $_ := .Files.Glob "files/*.txt" }}{{ $path }},{{ end }}
  lines: {{ .Files.Lines "files/a.txt" | len }}
  config: |
    {{- (.Files.Glob "files/*.txt").AsConfig | nindent 4 }}
  secrets: |
    {{- (.Files.Glob "files/b.txt").AsSecrets | nindent 4 }}
  caps: {{ .Capabilities.KubeVersion }} {{ .Capabilities.APIVersions.Has "apps/v1" }} {{ .Capabilities.APIVersions.Has "x/v9" }}
  template: {{ .Template.Name }} {{ .Template.BasePath }}
)");
  t.add("app/templates/empty.yaml", "{{- if false }}\nkind: Nothing\n{{- end }}\n");
  t.add("app/templates/NOTES.txt", "Thanks for installing {{ .Release.Name }}\n");
  t.add("app/templates/tests/test-pod.yaml", "apiVersion: v1\nkind: Pod\n");
  t.add("app/files/a.txt", "line 1\nline 2\n");
  t.add("app/files/b.txt", "b");
  t.add("app/files/x.bak", "ignored");
  t.add("app/secret/k", "ignored too");
  t.add("app/crds/thing.yaml", "kind: CustomResourceDefinition\n");
  t.add("app/charts/db/Chart.yaml", "apiVersion: v2\nname: db\nversion: 0.1.0\n");
  t.add("app/charts/db/values.yaml", "size: 1Gi\nglobal:\n  domain: db.local\n  own: yes\n");
  t.add("app/charts/db/templates/pvc.yaml", R"(kind: PersistentVolumeClaim
name: {{ .Chart.Name }}
size: {{ .Values.size }}
domain: {{ .Values.global.domain }}
own: {{ .Values.global.own }}
parentName: "{{ .Values.name }}"
helper: {{ include "app.name" . }}
)");
  t.add("app/charts/cache/Chart.yaml", "apiVersion: v2\nname: cache\nversion: 0.1.0\n");
  t.add("app/charts/cache/templates/cache.yaml", "kind: Cache\n");
  t.add("app/charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.1.0\n");
  t.add("app/charts/lib/values.yaml", "exported:\n  answer: 42\n");
  return t;
}

ChartOptions options() {
  ChartOptions o;
  o.release_name = "rel";
  o.release_namespace = "ns1";
  o.kube_version = "v1.29.1";
  return o;
}

TEST(Chart, RendersLikeHelmTemplate) {
  Tree t = parent_chart();
  auto r = render_chart(t, "app", options());
  ASSERT_TRUE(r) << r.error().message;
  // CRDs first, then templates by name; partials, empty output, NOTES.txt
  // and tests/ are left out; disabled subcharts (replica, cache) too.
  std::vector<std::string> names;
  for (const auto& x : *r) names.push_back(x.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"app/crds/thing.yaml", "app/charts/db/templates/pvc.yaml",
                                      "app/templates/cm.yaml"}));
  EXPECT_TRUE(r->front().crd);
  EXPECT_EQ(r->front().source_file, "app/crds/thing.yaml");
  auto m = by_name(*r);
  EXPECT_EQ(m["app/templates/cm.yaml"], R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: app-rel
data:
  ns: ns1
  service: Helm
  install: "true/false/1"
  chart: app-1.0.0-2.0
  imported: "42"
  files: line 1
line 2||
  glob: files/a.txt,files/b.txt,
  lines: 2
  config: |
    a.txt: |
      line 1
      line 2
    b.txt: b
  secrets: |
    b.txt: Yg==
  caps: v1.29.1 true false
  template: app/templates/cm.yaml app/templates
)");
  // Subchart: its own values under .Values, the parent's override
  // (db.size), the parent's globals winning, and the parent's defines.
  EXPECT_EQ(m["app/charts/db/templates/pvc.yaml"], R"(kind: PersistentVolumeClaim
name: db
size: 10Gi
domain: example.com
own: true
parentName: ""
helper: db-rel
)");
}

TEST(Chart, ConditionsTagsAndAliases) {
  Tree t = parent_chart();
  ChartOptions o = options();
  o.values = json::parse(R"({"replica": {"enabled": true, "size": "5Gi"}, "db": {"enabled": false},
                             "tags": {"extras": true}})");
  auto r = render_chart(t, "app", o);
  ASSERT_TRUE(r) << r.error().message;
  auto m = by_name(*r);
  EXPECT_FALSE(m.contains("app/charts/db/templates/pvc.yaml"));
  ASSERT_TRUE(m.contains("app/charts/replica/templates/pvc.yaml"));
  EXPECT_NE(m["app/charts/replica/templates/pvc.yaml"].find("name: replica\nsize: 5Gi"),
            std::string::npos)
      << m["app/charts/replica/templates/pvc.yaml"];
  EXPECT_TRUE(m.contains("app/charts/cache/templates/cache.yaml"));
}

TEST(Chart, ValuesFilesThenOverridesAndNullsDelete) {
  Tree t;
  t.add("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n");
  t.add("c/values.yaml", "a: 1\nb: {x: 1, w: 2}\nc: keep\nd: gone\n");
  t.add("c/templates/v.yaml", "{{ toYaml .Values }}\n");
  ChartOptions o = options();
  o.values_files = {"a: 2\nb: {w: 3, z: 4}\n", "a: 3\nd: null\n"};
  o.values = json::parse(R"({"b": {"x": null}, "e": [1, "two"]})");
  auto r = render_chart(t, "c", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->at(0).text, "a: 3\nb:\n  w: 3\n  z: 4\nc: keep\ne:\n- 1\n- two\n");
}

TEST(Chart, ApiVersionV1WithRequirements) {
  Tree t;
  t.add("old/Chart.yaml", "apiVersion: v1\nname: old\nversion: 0.1.0\n");
  t.add("old/requirements.yaml",
        "dependencies:\n- name: sub\n  version: 1.0.0\n  condition: sub.enabled\n");
  t.add("old/values.yaml", "sub:\n  enabled: false\n");
  t.add("old/templates/a.yaml", "kind: A\n");
  t.add("old/charts/sub/Chart.yaml", "apiVersion: v1\nname: sub\nversion: 1.0.0\n");
  t.add("old/charts/sub/templates/b.yaml", "kind: B\n");
  auto r = render_chart(t, "old", options());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->at(0).name, "old/templates/a.yaml");
}

TEST(Chart, RefusesWhatNeedsTheNetwork) {
  Tree t;
  t.add("c/Chart.yaml",
        "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 17.0.0\n"
        "  repository: oci://registry-1.docker.io/bitnamicharts\n");
  t.add("c/templates/a.yaml", "kind: A\n");
  auto r = render_chart(t, "c", options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Error::Code::kNeedsNetwork);
  EXPECT_NE(r.error().message.find("\"redis\""), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("oci://registry-1.docker.io/bitnamicharts"), std::string::npos);

  Tree p;
  p.add("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n");
  p.add("c/charts/redis-17.0.0.tgz", "\x1f\x8b");
  auto q = render_chart(p, "c", options());
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, Error::Code::kNeedsNetwork);
  EXPECT_NE(q.error().message.find("redis-17.0.0.tgz"), std::string::npos) << q.error().message;
}

TEST(Chart, ClearErrors) {
  Tree t;
  t.add("c/values.yaml", "a: 1\n");
  auto r = render_chart(t, "c", options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no Chart.yaml"), std::string::npos) << r.error().message;

  t.add("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\nkubeVersion: '>=1.30.0-0'\n");
  r = render_chart(t, "c", options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "chart requires kubeVersion: >=1.30.0-0 which is incompatible with Kubernetes v1.29.1");

  Tree u;
  u.add("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n");
  u.add("c/templates/a.yaml", "x\n{{ .Values.a.b }}\n");
  r = render_chart(u, "c", options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Error::Code::kRender);
  EXPECT_EQ(r.error().message,
            "template: c/templates/a.yaml:2:10: executing \"c/templates/a.yaml\" at <.Values.a.b>: "
            "nil pointer evaluating interface {}.b");

  Tree v;
  v.add("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n");
  v.add("c/templates/a.yaml", "{{ toToml . }}\n");
  r = render_chart(v, "c", options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("function \"toToml\" not defined"), std::string::npos)
      << r.error().message;
}

TEST(Chart, CacheAnswersRepeatsWithoutRendering) {
  Tree t = parent_chart();
  ChartCache cache;
  auto a = cache.render(t, "", "app", options());
  ASSERT_TRUE(a) << a.error().message;
  auto b = cache.render(t, "", "app", options());
  ASSERT_TRUE(b);
  EXPECT_EQ(cache.hits(), 1u);
  ChartOptions other = options();
  other.release_name = "other";
  auto c = cache.render(t, "", "app", other);
  ASSERT_TRUE(c);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_NE(by_name(*c)["app/templates/cm.yaml"], by_name(*a)["app/templates/cm.yaml"]);
}

}  // namespace
}  // namespace cairn::helm
