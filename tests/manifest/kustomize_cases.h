// Kustomization trees shared by the unit, differential and bench code: a
// few hand-written overlays and seeded random ones (bases, overlays,
// components, prefixes, labels, images, patches, generators).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace cairn::manifest::kcases {

struct TreeCase {
  std::string name;
  std::map<std::string, std::string> files;  // path -> content
  std::string dir;                           // the kustomization to build
};

inline std::string deployment(const std::string& name, const std::string& cm,
                              const std::string& secret, const std::string& image) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
         "\n  labels: {app: " + name +
         "}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: " + name +
         "}\n  template:\n    metadata:\n      labels: {app: " + name +
         "}\n    spec:\n      serviceAccountName: runner\n      containers:\n      - name: main\n"
         "        image: " +
         image +
         "\n        ports:\n        - containerPort: 8080\n        env:\n        - name: MODE\n"
         "          value: base\n        - name: KEY\n          valueFrom:\n            "
         "secretKeyRef: {name: " +
         secret + ", key: k}\n        envFrom:\n        - configMapRef: {name: " + cm +
         "}\n        volumeMounts:\n        - {name: cfg, mountPath: /etc/cfg}\n      volumes:\n"
         "      - name: cfg\n        configMap: {name: " +
         cm + "}\n      - name: data\n        persistentVolumeClaim: {claimName: data}\n";
}

inline std::string service(const std::string& name) {
  return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
         "\nspec:\n  selector: {app: " + name + "}\n  ports:\n  - port: 80\n    targetPort: 8080\n";
}

inline std::vector<TreeCase> hand_cases() {
  std::vector<TreeCase> cases;
  cases.push_back({"generators_and_order",
                   {{"k/kustomization.yaml",
                     "configMapGenerator:\n- name: cm\n  literals: [a=b, \"c=<x&y>\"]\n"
                     "- name: empty\n- name: frozen\n  literals: [a=b]\n  options: {immutable: "
                     "true}\nsecretGenerator:\n- name: s\n  literals: [a=b]\n  type: Opaque\n"
                     "- name: none\n"
                     "resources:\n- d.yaml\n- c.yaml\n"},
                    {"k/d.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: z}\n"},
                    {"k/c.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n" +
                                     deployment("d", "cm", "s", "nginx:1.0")}},
                   "k"});
  cases.push_back(
      {"namespace_prefix_rbac",
       {{"k/kustomization.yaml", "namespace: prod\nnamePrefix: p-\nresources: [r.yaml]\n"},
        {"k/r.yaml",
         "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, "
         "namespace: other}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: "
         "r}\nsubjects:\n- {kind: ServiceAccount, name: default, namespace: other}\n- {kind: "
         "ServiceAccount, name: sa}\n- {kind: ServiceAccount, name: sa2, namespace: x}\n- {kind: "
         "User, name: u}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: "
         "{name: r}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\n"
         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: z}\n---\napiVersion: "
         "v1\nkind: ConfigMap\nmetadata: {name: a, namespace: y}\n---\napiVersion: v1\nkind: "
         "Namespace\nmetadata: {name: other}\n"}},
       "k"});
  cases.push_back(
      {"ingress_and_statefulset_refs",
       {{"k/kustomization.yaml", "nameSuffix: -v2\ncommonLabels: {team: a}\nresources: [r.yaml]\n"},
        {"k/r.yaml",
         service("web") +
             "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n"
             "  tls: [{secretName: tls, hosts: [a.example]}]\n  rules:\n  - host: a.example\n"
             "    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        "
             "backend:\n          service: {name: web, port: {number: 80}}\n---\napiVersion: "
             "v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\n---\napiVersion: "
             "apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: web\n  "
             "selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: "
             "db}}\n    spec:\n      containers: [{name: db, image: postgres}]\n---\napiVersion: "
             "autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: db}\nspec:\n  "
             "scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}\n  maxReplicas: "
             "3\n"}},
       "k"});
  cases.push_back(
      {"smp_directives",
       {{"k/kustomization.yaml",
         "resources: [d.yaml]\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: "
         "Deployment\n    metadata: {name: d}\n    spec:\n      template:\n        spec:\n"
         "          containers:\n          - name: main\n            env:\n            - name: "
         "MODE\n              $patch: delete\n            - name: NEW\n              value: "
         "x\n          - name: sidecar\n            image: busybox\n          volumes:\n"
         "          - name: data\n            $patch: delete\n"
         "- target: {kind: Deployment, labelSelector: \"app=d\"}\n  patch: |-\n    - op: "
         "replace\n      path: /spec/replicas\n      value: 3\n    - op: add\n      path: "
         "/metadata/annotations\n      value: {x: z}\n"},
        {"k/d.yaml", deployment("d", "cm", "s", "nginx")}},
       "k"});
  const std::string d = deployment("web", "cfg", "pw", "nginx:1.0");
  cases.push_back(
      {"images_labels_annotations",
       {{"k/kustomization.yaml",
         "resources: [d.yaml]\nimages:\n- {name: nginx, newName: reg.io/nginx, newTag: '1.27'}\n"
         "- {name: busybox, digest: 'sha256:abc'}\n- {name: 'reg.io:5000/x', newTag: v2}\n"
         "labels:\n- pairs: {a: '1'}\n- pairs: {b: '2'}\n  includeTemplates: true\n- pairs: {c: "
         "'3'}\n  includeSelectors: true\ncommonAnnotations: {note: nn}\n"},
        {"k/d.yaml", d + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  "
                         "initContainers: [{name: i, image: 'busybox:1@sha256:old'}]\n  "
                         "containers:\n  - {name: a, image: nginx}\n  - {name: b, image: "
                         "'reg.io:5000/x:v1'}\n  - {name: c, image: nginxx}\n---\napiVersion: "
                         "batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n  schedule: '* * "
                         "* * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
                         "          containers: [{name: j, image: nginx}]\n"}},
       "k"});
  cases.push_back(
      {"generator_merge_replace_fifo",
       {{"base/kustomization.yaml",
         "resources: [d.yaml]\nconfigMapGenerator:\n- name: cfg\n  literals: [a=1, b=2]\n- name: "
         "other\n  literals: [x=1]\nsecretGenerator:\n- name: pw\n  literals: [k=v]\n"},
        {"base/d.yaml", d},
        {"k/kustomization.yaml",
         "resources: [../base]\nsortOptions: {order: fifo}\nnamePrefix: p-\nconfigMapGenerator:\n"
         "- name: cfg\n  behavior: merge\n  literals: [b=3, c=4]\n- name: other\n  behavior: "
         "replace\n  literals: [z=9]\nsecretGenerator:\n- name: pw\n  behavior: merge\n  "
         "literals: [k2=v2]\n  options: {labels: {l: x}}\n"}},
       "k"});
  cases.push_back(
      {"patch_kinds",
       {{"k/kustomization.yaml",
         "resources: [d.yaml, r.yaml]\npatches:\n- path: p.yaml\n- target: {group: apps, "
         "version: v1, kind: Deployment, name: 'w.*'}\n  patch: |-\n    - op: add\n      path: "
         "/spec/template/spec/containers/0/args\n      value: [--x]\n- target: {kind: "
         "ConfigMap, labelSelector: 'tier in (a,b),!skip', annotationSelector: 'note=yes'}\n  "
         "patch: |-\n    - {op: add, path: /data/p, value: 'q'}\n- patch: |-\n    apiVersion: "
         "v1\n    kind: ConfigMap\n    metadata: {name: gone}\n    $patch: delete\n"
         "patchesStrategicMerge:\n- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata: "
         "{name: web}\n  spec: {paused: true}\npatchesJson6902:\n- target: {group: apps, version: "
         "v1, kind: Deployment, name: web}\n  patch: '[{\"op\": \"remove\", \"path\": "
         "\"/spec/paused\"}]'\n"},
        {"k/d.yaml", d},
        {"k/p.yaml",
         "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
         "    spec:\n      containers:\n      - name: side\n        image: busybox\n      - name: "
         "main\n        image: nginx:2\n"},
        {"k/r.yaml",
         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {tier: a}, annotations: "
         "{note: 'yes'}}\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, "
         "labels: {tier: b, skip: 'y'}, annotations: {note: 'yes'}}\ndata: {}\n---\napiVersion: "
         "v1\nkind: ConfigMap\nmetadata: {name: c, labels: {tier: a}}\ndata: {}\n---\napiVersion: "
         "v1\nkind: ConfigMap\nmetadata: {name: gone}\n"}},
       "k"});
  cases.push_back(
      {"components_and_diamond",
       {{"base/kustomization.yaml",
         "resources: [d.yaml]\nconfigMapGenerator: [{name: cfg, literals: [a=1]}]\n"},
        {"base/d.yaml", d},
        {"comp/kustomization.yaml",
         "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: "
         "[extra.yaml]\ncommonLabels: {feature: 'on'}\nsecretGenerator: [{name: pw, literals: "
         "[p=1]}]\n"},
        {"comp/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\n"},
        {"a/kustomization.yaml",
         "resources: [../base]\nnamePrefix: a-\nnamespace: na\ncomponents: [../comp]\n"},
        {"b/kustomization.yaml", "resources: [../base]\nnamePrefix: b-\nnamespace: nb\n"},
        {"k/kustomization.yaml", "resources: [../a, ../b]\ncommonLabels: {top: t}\n"}},
       "k"});
  cases.push_back(
      {"refusals_agree",
       {{"k/kustomization.yaml", "resources: [../other/d.yaml]\n"}, {"other/d.yaml", d}},
       "k"});
  cases.push_back({"smp_without_match_fails",
                   {{"k/kustomization.yaml",
                     "resources: [d.yaml]\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: "
                     "ConfigMap\n    metadata: {name: nope}\n"},
                    {"k/d.yaml", d}},
                   "k"});
  cases.push_back(
      {"cluster_scope_and_more_references",
       {{"k/kustomization.yaml",
         "resources: [r.yaml]\nnamespace: team\nnamePrefix: t-\nnameSuffix: -s\n"
         "commonLabels: {app.kubernetes.io/part-of: shop}\n"},
        {"k/r.yaml",
         "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: "
         "reader}\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: "
         "ClusterRoleBinding\nmetadata: {name: read}\nroleRef: {apiGroup: "
         "rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\nsubjects: [{kind: "
         "ServiceAccount, name: bot, namespace: elsewhere}, {kind: ServiceAccount, name: "
         "bot}]\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: "
         "bot}\nimagePullSecrets: [{name: pull}]\n---\napiVersion: v1\nkind: Secret\nmetadata: "
         "{name: pull}\ntype: kubernetes.io/dockerconfigjson\n---\napiVersion: "
         "apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: "
         "things.example.com}\n---\napiVersion: example.com/v1\nkind: Thing\nmetadata: {name: "
         "t1}\nspec: {list: [{name: a}]}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\n"
         "metadata: {name: data}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: "
         "db}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    "
         "metadata: {labels: {app: db}}\n    spec:\n      serviceAccountName: bot\n      "
         "priorityClassName: high\n      containers: [{name: db, image: postgres}]\n      "
         "volumes:\n      - name: d\n        persistentVolumeClaim: {claimName: data}\n      - "
         "name: p\n        projected:\n          sources:\n          - secret: {name: pull}\n  "
         "volumeClaimTemplates:\n  - metadata: {name: www}\n    spec: {accessModes: "
         "[ReadWriteOnce]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  "
         "clusterIP: None\n  selector: {app: db}\n---\napiVersion: autoscaling/v2\nkind: "
         "HorizontalPodAutoscaler\nmetadata: {name: db}\nspec:\n  scaleTargetRef: {apiVersion: "
         "apps/v1, kind: StatefulSet, name: db}\n  maxReplicas: 2\n---\napiVersion: "
         "scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n"
         "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: db}\nspec:\n  "
         "selector: {matchLabels: {app: db}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: "
         "{name: once}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      "
         "containers: [{name: j, image: busybox}]\n"}},
       "k"});
  return cases;
}

// A base, one or two overlays and sometimes a component, from a seed.
inline TreeCase random_case(std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto coin = [&]() { return pick(2) == 0; };
  TreeCase c;
  c.name = "random_" + std::to_string(seed);
  const int apps = 1 + pick(3);
  std::string base_res, base_k = "resources:\n";
  for (int a = 0; a < apps; ++a) {
    const std::string n = "app" + std::to_string(a);
    c.files["base/" + n + ".yaml"] =
        deployment(n, n + "-cfg", "creds", pick(2) ? "nginx:1.25" : "registry.io/team/" + n) +
        "---\n" + service(n);
    base_k += "- " + n + ".yaml\n";
  }
  c.files["base/extra.yaml"] =
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner}\n---\napiVersion: v1\nkind: "
      "PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n"
      "  resources: {requests: {storage: 1Gi}}\n";
  base_k += "- extra.yaml\nconfigMapGenerator:\n";
  for (int a = 0; a < apps; ++a) {
    base_k += "- name: app" + std::to_string(a) +
              "-cfg\n  literals: [LEVEL=" + std::to_string(pick(5)) + ", NAME=app" +
              std::to_string(a) + "]\n";
  }
  if (coin()) {
    c.files["base/settings.env"] = "A=1\n# comment\nB=two words\n";
    base_k += "- name: settings\n  envs: [settings.env]\n";
  }
  base_k +=
      "secretGenerator:\n- name: creds\n  literals: [k=s3cr3t" + std::to_string(pick(9)) + "]\n";
  if (coin()) base_k += "commonLabels: {tier: backend}\n";
  c.files["base/kustomization.yaml"] = base_k;

  const bool component = coin();
  if (component) {
    c.files["comp/kustomization.yaml"] =
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- target: "
        "{kind: Deployment}\n  patch: |-\n    - op: add\n      path: "
        "/spec/template/spec/containers/0/args\n      value: [--debug]\n";
  }
  const int overlays = 1 + pick(2);
  std::string top = "resources:\n";
  for (int o = 0; o < overlays; ++o) {
    const std::string dir = "overlays/o" + std::to_string(o);
    std::string k = "resources:\n- ../../base\n";
    if (component) k += "components:\n- ../../comp\n";
    if (overlays > 1 || coin()) k += "namePrefix: o" + std::to_string(o) + "-\n";
    if (coin()) k += "nameSuffix: -x\n";
    if (coin()) k += "namespace: ns" + std::to_string(o) + "\n";
    if (coin()) k += "commonLabels: {env: e" + std::to_string(o) + "}\n";
    if (coin()) {
      k += "labels:\n- pairs: {owner: team" + std::to_string(o) +
           "}\n  includeSelectors: " + (coin() ? "true" : "false") +
           "\n  includeTemplates: " + (coin() ? "true" : "false") + "\n";
    }
    if (coin()) k += "commonAnnotations: {note: \"o" + std::to_string(o) + "\"}\n";
    if (coin()) {
      k += "images:\n- name: nginx\n  newTag: \"1.27\"\n- name: registry.io/team/app0\n  "
           "newName: mirror.io/app0\n  digest: sha256:" +
           std::string(64, 'a') + "\n";
    }
    if (coin()) k += "replicas:\n- name: app0\n  count: " + std::to_string(2 + pick(4)) + "\n";
    k += "patches:\n";
    if (coin()) {
      k += "- path: patch.yaml\n";
      c.files[dir + "/patch.yaml"] =
          "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app0}\nspec:\n  template:\n"
          "    spec:\n      containers:\n      - name: main\n        env:\n        - name: MODE\n"
          "          value: overlay" +
          std::to_string(o) + "\n        resources: {limits: {memory: 256Mi}}\n";
    }
    if (coin()) {
      k += "- target: {kind: Service, name: \"app.*\"}\n  patch: |-\n    - op: replace\n      "
           "path: /spec/ports/0/port\n      value: 8" +
           std::to_string(o) + "\n";
    }
    if (coin()) {
      k += "- target: {kind: Deployment, labelSelector: \"app in (app0,app1)\"}\n  patch: |-\n"
           "    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: any}\n    "
           "spec:\n      template:\n        metadata:\n          annotations: {patched: "
           "\"yes\"}\n";
    }
    if (k.ends_with("patches:\n")) k.resize(k.size() - std::string("patches:\n").size());
    if (coin()) {
      k += "configMapGenerator:\n- name: app0-cfg\n  behavior: merge\n  literals: [LEVEL=9, "
           "EXTRA=o" +
           std::to_string(o) + "]\n";
    }
    if (coin()) {
      k += "secretGenerator:\n- name: tls-" + std::to_string(o) +
           "\n  files: [tls.crt]\n  type: kubernetes.io/tls\n  options:\n    "
           "disableNameSuffixHash: " +
           (coin() ? "true" : "false") + "\n    labels: {gen: \"yes\"}\n";
      c.files[dir + "/tls.crt"] = "-----BEGIN CERT-----\nMIIB" + std::to_string(seed) + "\n";
    }
    c.files[dir + "/kustomization.yaml"] = k;
    top += "- o" + std::to_string(o) + "\n";
  }
  if (overlays > 1) {
    // A diamond: the base twice, under two prefixes.
    c.files["overlays/kustomization.yaml"] = top;
    c.dir = "overlays";
  } else {
    c.dir = "overlays/o0";
  }
  return c;
}

}  // namespace cairn::manifest::kcases
