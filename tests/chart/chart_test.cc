// The Helm chart (charts/cairn), rendered by hack/render-chart.sh (Go
// text/template + sprig, as Helm renders) with the default values and with
// every switch flipped, and checked document by document: valid objects,
// security contexts, least-privilege RBAC (evaluated, not just grepped), the
// webhook configuration the e2e tests use, certificates that verify, the
// dashboard, the alerts (promtool) and the schema's refusals.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kube/util.h"
#include "support/webhook.h"

namespace cairn {
namespace {

namespace fs = std::filesystem;
using cairn::json;

const std::string kSource = CAIRN_SOURCE_DIR;
const std::string kNs = "cairn-system";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::pair<int, std::string> sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(("{ " + cmd + "; } 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// YAML as JSON, with YAML's types for plain scalars (quoted ones stay strings).
json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      int64_t i = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec == std::errc() && p == s.data() + s.size()) return i;
      double d = 0;
      auto [q, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec2 == std::errc() && q == s.data() + s.size() && s.find_first_of("0123456789") == 0)
        return d;
      return s;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& x : n) a.push_back(to_json(x));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.Scalar()] = to_json(kv.second);
      return o;
    }
  }
  return nullptr;
}

struct Rendered {
  std::shared_ptr<void> remove_dir;  // deletes `dir` with the last copy
  int rc = -1;
  std::string log;  // the renderer's stderr
  std::string dir, manifests, notes;
  std::vector<json> docs;

  std::vector<json> all(const std::string& kind) const {
    std::vector<json> out;
    for (const auto& d : docs)
      if (d.value("kind", "") == kind) out.push_back(d);
    return out;
  }
  std::optional<json> get(const std::string& kind, const std::string& name,
                          const std::string& ns = "") const {
    for (const auto& d : docs) {
      if (d.value("kind", "") != kind || d["metadata"].value("name", "") != name) continue;
      if (!ns.empty() && d["metadata"].value("namespace", "") != ns) continue;
      return d;
    }
    return std::nullopt;
  }
  json one(const std::string& kind, const std::string& name, const std::string& ns = "") const {
    auto d = get(kind, name, ns);
    EXPECT_TRUE(d) << kind << " " << ns << "/" << name << " not rendered";
    return d ? *d : json::object();
  }
};

// Renders the chart with `values` (YAML) and extra renderer flags.
Rendered render(const std::string& values = "", const std::string& flags = "",
                const std::string& release = "cairn", const std::string& ns = kNs) {
  Rendered r;
  std::string tmpl = (fs::temp_directory_path() / "cairn-chart-test-XXXXXX").string();
  r.dir = ::mkdtemp(tmpl.data());
  r.remove_dir = std::shared_ptr<void>(nullptr, [dir = r.dir](void*) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  std::ofstream(r.dir + "/values.yaml") << values;
  ::setenv("CAIRN_CHART_RENDER_DIR", CAIRN_CHART_RENDER_DIR, 1);
  auto [rc, out] =
      sh(kSource + "/hack/render-chart.sh --release-name " + release + " --namespace " + ns +
         " -f " + r.dir + "/values.yaml --output-dir " + r.dir + "/out " + flags + " >/dev/null");
  r.rc = rc;
  r.log = out;
  if (rc != 0) return r;
  r.manifests = slurp(r.dir + "/out/manifests.yaml");
  r.notes = slurp(r.dir + "/out/NOTES.txt");
  for (const auto& d : YAML::LoadAll(r.manifests)) r.docs.push_back(to_json(d));
  return r;
}

// A render that must succeed (asserts in the caller's test).
#define RENDER_OK(var, ...)           \
  Rendered var = render(__VA_ARGS__); \
  ASSERT_EQ(var.rc, 0) << var.log;    \
  ASSERT_FALSE(var.docs.empty())

// A reference into `deployment`: keep the Deployment alive while using it.
const json& pod_spec(const json& deployment) { return deployment["spec"]["template"]["spec"]; }

std::vector<json> containers(const json& deployment) {
  std::vector<json> out;
  const json ps = pod_spec(deployment);
  for (const char* k : {"initContainers", "containers"})
    for (const auto& c : ps.value(k, json::array())) out.push_back(c);
  return out;
}

std::vector<std::string> args(const json& container) {
  std::vector<std::string> out;
  for (const auto& a : container.value("args", json::array())) out.push_back(a.get<std::string>());
  return out;
}

bool has_arg(const json& c, const std::string& a) {
  auto v = args(c);
  return std::find(v.begin(), v.end(), a) != v.end();
}

// The value of `--flag value` (the binaries take no --flag=value), if present.
std::optional<std::string> arg(const json& c, const std::string& flag) {
  auto v = args(c);
  for (size_t i = 0; i + 1 < v.size(); ++i)
    if (v[i] == flag) return v[i + 1];
  return std::nullopt;
}

// ---------------------------------------------------------------- RBAC
// What a ServiceAccount may do according to the rendered RBAC objects:
// ns "" asks for cluster-wide rights (ClusterRoleBindings only); a name
// asks about one object (rules with resourceNames only grant those).
struct Who {
  std::string ns, name;
};

bool rule_allows(const json& rule, const std::string& verb, const std::string& group,
                 const std::string& resource, const std::string& name) {
  auto in = [](const json& list, const std::string& v) {
    for (const auto& x : list)
      if (x.get<std::string>() == v) return true;
    return false;
  };
  if (!in(rule.value("verbs", json::array()), verb)) return false;
  if (!in(rule.value("apiGroups", json::array()), group)) return false;
  if (!in(rule.value("resources", json::array()), resource)) return false;
  const json names = rule.value("resourceNames", json::array());
  return names.empty() || (!name.empty() && in(names, name));
}

bool binds(const json& binding, const Who& sa) {
  for (const auto& s : binding.value("subjects", json::array()))
    if (s.value("kind", "") == "ServiceAccount" && s.value("name", "") == sa.name &&
        s.value("namespace", "") == sa.ns)
      return true;
  return false;
}

bool can(const Rendered& r, const Who& sa, const std::string& verb, const std::string& group,
         const std::string& resource, const std::string& ns, const std::string& name = "") {
  auto role_allows = [&](const std::string& kind, const std::string& role_name,
                         const std::string& role_ns) {
    auto role = r.get(kind, role_name, role_ns);
    if (!role) return false;
    for (const auto& rule : role->value("rules", json::array()))
      if (rule_allows(rule, verb, group, resource, name)) return true;
    return false;
  };
  for (const auto& b : r.all("ClusterRoleBinding"))
    if (binds(b, sa) && role_allows("ClusterRole", b["roleRef"]["name"], "")) return true;
  if (ns.empty()) return false;
  for (const auto& b : r.all("RoleBinding")) {
    if (b["metadata"].value("namespace", "") != ns || !binds(b, sa)) continue;
    const std::string kind = b["roleRef"].value("kind", "");
    if (role_allows(kind, b["roleRef"]["name"], kind == "Role" ? ns : "")) return true;
  }
  return false;
}

// What the operator's code does in a namespace it manages (operator/main.cc,
// pipeline/ and release/ reconcilers, lib/source, lib/kube/events).
void expect_operator_can_work_in(const Rendered& r, const Who& op, const std::string& ns) {
  struct Need {
    const char *verb, *group, *resource;
  };
  for (const Need& n : std::vector<Need>{{"get", "cairn.dev", "pipelines"},
                                         {"list", "cairn.dev", "pipelines"},
                                         {"watch", "cairn.dev", "releases"},
                                         {"patch", "cairn.dev", "releases"},
                                         {"update", "cairn.dev", "releases/status"},
                                         {"update", "cairn.dev", "pipelines/status"},
                                         {"create", "batch", "jobs"},
                                         {"delete", "batch", "jobs"},
                                         {"watch", "batch", "jobs"},
                                         {"list", "", "pods"},
                                         {"watch", "", "pods"},
                                         {"get", "", "secrets"},
                                         {"create", "", "events"},
                                         {"patch", "", "events"},
                                         {"patch", "apps", "deployments"},
                                         {"delete", "apps", "deployments"},
                                         {"watch", "apps", "deployments"},
                                         {"patch", "", "services"},
                                         {"patch", "", "configmaps"},
                                         {"delete", "", "configmaps"},
                                         {"watch", "", "serviceaccounts"},
                                         {"patch", "networking.k8s.io", "ingresses"},
                                         {"patch", "batch", "cronjobs"}}) {
    EXPECT_TRUE(can(r, op, n.verb, n.group, n.resource, ns))
        << "the operator cannot " << n.verb << " " << n.resource << " in " << ns;
  }
}

void expect_no_wildcards(const Rendered& r) {
  for (const char* kind : {"ClusterRole", "Role"}) {
    for (const auto& role : r.all(kind)) {
      for (const auto& rule : role.value("rules", json::array())) {
        for (const char* k : {"verbs", "apiGroups", "resources"})
          for (const auto& v : rule.value(k, json::array()))
            EXPECT_NE(v.get<std::string>(), "*")
                << kind << " " << role["metadata"]["name"] << " has a wildcard in " << k;
      }
    }
  }
  for (const auto& b : r.all("ClusterRoleBinding"))
    EXPECT_NE(b["roleRef"].value("name", ""), "cluster-admin");
}

// --------------------------------------------------------- every render
// What must hold whatever the values: objects are complete, namespaced
// where they should be, and every container is locked down.
void expect_well_formed(const Rendered& r, const std::string& ns = kNs) {
  const std::set<std::string> cluster_scoped = {"ClusterRole", "ClusterRoleBinding",
                                                "ValidatingWebhookConfiguration"};
  std::set<std::string> seen;
  for (const auto& d : r.docs) {
    ASSERT_TRUE(d.is_object()) << d.dump();
    EXPECT_FALSE(d.value("apiVersion", "").empty()) << d.dump();
    EXPECT_FALSE(d.value("kind", "").empty()) << d.dump();
    ASSERT_TRUE(d.contains("metadata") && d["metadata"].is_object()) << d.dump();
    const std::string name = d["metadata"].value("name", "");
    EXPECT_FALSE(name.empty()) << d.dump();
    EXPECT_LE(name.size(), 63u) << name;
    const std::string kind = d.value("kind", "");
    const std::string obj_ns = d["metadata"].value("namespace", "");
    if (cluster_scoped.contains(kind)) {
      EXPECT_TRUE(obj_ns.empty()) << kind << " " << name;
    } else {
      EXPECT_FALSE(obj_ns.empty()) << kind << " " << name << " has no namespace";
      // Only RBAC reaches into the managed namespaces.
      if (kind != "Role" && kind != "RoleBinding") {
        EXPECT_EQ(obj_ns, ns) << kind << " " << name;
      }
    }
    EXPECT_TRUE(seen.insert(kind + "/" + obj_ns + "/" + name).second)
        << "rendered twice: " << kind << " " << obj_ns << "/" << name;
    EXPECT_EQ(d["metadata"].value("labels", json::object()).value("app.kubernetes.io/part-of", ""),
              "cairn")
        << kind << " " << name;
  }
  auto deployments = r.all("Deployment");
  EXPECT_EQ(deployments.size(), 2u);
  for (const auto& dep : deployments) {
    const std::string dn = dep["metadata"]["name"];
    const json psc = pod_spec(dep).value("securityContext", json::object());
    EXPECT_EQ(psc.value("runAsNonRoot", false), true) << dn;
    EXPECT_EQ(psc.value("seccompProfile", json::object()).value("type", ""), "RuntimeDefault")
        << dn;
    EXPECT_FALSE(pod_spec(dep).value("serviceAccountName", "").empty()) << dn;
    // The selector selects the Pod template.
    for (const auto& [k, v] : dep["spec"]["selector"]["matchLabels"].items())
      EXPECT_EQ(dep["spec"]["template"]["metadata"]["labels"].value(k, ""), v) << dn << " " << k;
    std::set<std::string> mounts_needed;
    for (const auto& c : containers(dep)) {
      const std::string cn = dn + "/" + c.value("name", "");
      const json sc = c.value("securityContext", json::object());
      EXPECT_EQ(sc.value("runAsNonRoot", false), true) << cn;
      EXPECT_EQ(sc.value("readOnlyRootFilesystem", false), true) << cn;
      EXPECT_EQ(sc.value("allowPrivilegeEscalation", true), false) << cn;
      EXPECT_EQ(sc.value("privileged", true), false) << cn;
      EXPECT_EQ(sc.value("capabilities", json::object()).value("drop", json::array()),
                json::array({"ALL"}))
          << cn;
      EXPECT_EQ(sc.value("seccompProfile", json::object()).value("type", ""), "RuntimeDefault")
          << cn;
      EXPECT_GT(sc.value("runAsUser", 0), 0) << cn;
      for (const char* rk : {"requests", "limits"}) {
        EXPECT_FALSE(c.value("resources", json::object())
                         .value(rk, json::object())
                         .value("memory", "")
                         .empty())
            << cn << " " << rk;
        EXPECT_TRUE(c.value("resources", json::object()).value(rk, json::object()).contains("cpu"))
            << cn << " " << rk;
      }
      EXPECT_EQ(c.value("livenessProbe", json::object())
                    .value("httpGet", json::object())
                    .value("path", ""),
                "/healthz")
          << cn;
      EXPECT_EQ(c.value("readinessProbe", json::object())
                    .value("httpGet", json::object())
                    .value("path", ""),
                "/readyz")
          << cn;
      // Probes name ports the container has.
      std::set<std::string> ports;
      for (const auto& p : c.value("ports", json::array())) ports.insert(p.value("name", ""));
      EXPECT_TRUE(ports.contains(c.value("livenessProbe", json::object())
                                     .value("httpGet", json::object())
                                     .value("port", "")))
          << cn;
      // A read-only root: the git cache must be a mounted volume.
      auto cache = arg(c, "--git-cache-dir");
      ASSERT_TRUE(cache) << cn;
      bool mounted = false;
      for (const auto& m : c.value("volumeMounts", json::array()))
        mounted |= m.value("mountPath", "") == *cache;
      EXPECT_TRUE(mounted) << cn << ": --git-cache-dir " << *cache << " is not a volume";
      for (const auto& m : c.value("volumeMounts", json::array()))
        mounts_needed.insert(m.value("name", ""));
      EXPECT_EQ(c.value("image", "").find("ghcr.io/cairn-dev/cairn"), 0u) << cn;
    }
    std::set<std::string> volumes;
    for (const auto& v : pod_spec(dep).value("volumes", json::array()))
      volumes.insert(v.value("name", ""));
    for (const auto& m : mounts_needed) EXPECT_TRUE(volumes.contains(m)) << dn << ": " << m;
  }
  // Every Service selects Pods of one of the Deployments, on a port they name.
  for (const auto& svc : r.all("Service")) {
    const std::string sn = svc["metadata"]["name"];
    bool matched = false;
    for (const auto& dep : deployments) {
      bool selects = true;
      for (const auto& [k, v] : svc["spec"]["selector"].items())
        selects &= dep["spec"]["template"]["metadata"]["labels"].value(k, "") == v;
      if (!selects) continue;
      matched = true;
      for (const auto& p : svc["spec"]["ports"]) {
        EXPECT_EQ(p.value("protocol", ""), "TCP") << sn << " (server-side apply on 1.20)";
        bool named = false;
        for (const auto& c : containers(dep))
          for (const auto& cp : c.value("ports", json::array()))
            named |= cp.value("name", "") == p.value("targetPort", "");
        EXPECT_TRUE(named) << sn << " targets port " << p.value("targetPort", "");
      }
    }
    EXPECT_TRUE(matched) << sn << " selects no Deployment's Pods";
  }
  expect_no_wildcards(r);
}

const Who kOperator{kNs, "cairn-operator"};
const Who kWebhook{kNs, "cairn-webhook"};

// ================================================================ tests

TEST(ChartRender, CrdsAreByteIdenticalToTheRepository) {
  std::set<std::string> repo, chart;
  for (const auto& e : fs::directory_iterator(kSource + "/crds")) repo.insert(e.path().filename());
  for (const auto& e : fs::directory_iterator(kSource + "/charts/cairn/crds"))
    chart.insert(e.path().filename());
  ASSERT_FALSE(repo.empty());
  EXPECT_EQ(repo, chart) << "charts/cairn/crds/ must hold exactly the files of crds/";
  for (const auto& f : repo) {
    EXPECT_EQ(slurp(kSource + "/crds/" + f), slurp(kSource + "/charts/cairn/crds/" + f))
        << f << " differs: cp crds/*.yaml charts/cairn/crds/";
  }
  // The renderer hands them on verbatim (Helm does not template crds/).
  RENDER_OK(r);
  for (const auto& f : repo)
    EXPECT_EQ(slurp(r.dir + "/out/crds/" + f), slurp(kSource + "/crds/" + f)) << f;
}

TEST(ChartRender, DefaultValues) {
  RENDER_OK(r);
  expect_well_formed(r);
  std::multiset<std::string> kinds;
  for (const auto& d : r.docs) kinds.insert(d.value("kind", ""));
  const std::multiset<std::string> want = {"ServiceAccount",
                                           "ServiceAccount",
                                           "Secret",
                                           "ConfigMap",
                                           "ClusterRole",
                                           "ClusterRole",
                                           "ClusterRole",  // view, edit, admin (aggregated)
                                           "ClusterRole",
                                           "ClusterRole",
                                           "ClusterRoleBinding",
                                           "ClusterRoleBinding",
                                           "Role",
                                           "RoleBinding",
                                           "Service",
                                           "Service",
                                           "Service",
                                           "Deployment",
                                           "Deployment",
                                           "PodDisruptionBudget",
                                           "ValidatingWebhookConfiguration"};
  EXPECT_EQ(kinds, want);

  json op = containers(r.one("Deployment", "cairn-operator", kNs))[0];
  EXPECT_TRUE(has_arg(op, "--leader-elect"));
  EXPECT_EQ(arg(op, "--leader-election-namespace"), kNs);
  EXPECT_EQ(arg(op, "--namespace"), std::nullopt) << "default: every namespace";
  EXPECT_EQ(arg(op, "--probe-addr"), "0.0.0.0:8081");
  EXPECT_EQ(arg(op, "--metrics-addr"), "0.0.0.0:8080");
  EXPECT_EQ(op["command"], json::array({"/usr/local/bin/cairn-operator"}));
  EXPECT_EQ(r.one("Deployment", "cairn-operator")["spec"].value("replicas", 0), 1);

  json wh_dep = r.one("Deployment", "cairn-webhook", kNs);
  json wh = containers(wh_dep)[0];
  EXPECT_EQ(wh["command"], json::array({"/usr/local/bin/cairn-webhook"}));
  EXPECT_EQ(wh_dep["spec"].value("replicas", 0), 2);
  EXPECT_EQ(arg(wh, "--probe-addr"), "0.0.0.0:8082") << "probes must be reachable in a Pod";
  EXPECT_EQ(arg(wh, "--namespace"), kNs);
  EXPECT_EQ(arg(wh, "--operator-users"), "system:serviceaccount:cairn-system:cairn-operator");
  // Every namespaced kind is governed: no list of kinds to keep up to date.
  EXPECT_FALSE(has_arg(wh, "--governed-kinds"));
  EXPECT_EQ(arg(wh, "--platform-group"), "cairn:platform");
  EXPECT_EQ(arg(wh, "--exec"), "break-glass");
  EXPECT_EQ(arg(wh, "--scale"), "deny");
  EXPECT_EQ(arg(wh, "--tls-cert"), "/etc/cairn/tls/tls.crt");
  // Anti-affinity (soft by default) and a PodDisruptionBudget on 1.20's API.
  const json anti = pod_spec(wh_dep)["affinity"]["podAntiAffinity"];
  ASSERT_TRUE(anti.contains("preferredDuringSchedulingIgnoredDuringExecution")) << anti.dump();
  EXPECT_EQ(anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"].value(
                "topologyKey", ""),
            "kubernetes.io/hostname");
  json pdb = r.one("PodDisruptionBudget", "cairn-webhook", kNs);
  EXPECT_EQ(pdb.value("apiVersion", ""), "policy/v1beta1");
  EXPECT_EQ(pdb["spec"].value("minAvailable", 0), 1);
  EXPECT_EQ(pdb["spec"]["selector"]["matchLabels"], wh_dep["spec"]["selector"]["matchLabels"]);

  // Metrics Services, one per component (the alerts tell them apart by job).
  EXPECT_TRUE(r.get("Service", "cairn-operator-metrics", kNs));
  EXPECT_TRUE(r.get("Service", "cairn-webhook-metrics", kNs));
  json hook_svc = r.one("Service", "cairn-webhook", kNs);
  EXPECT_EQ(hook_svc["spec"]["ports"][0].value("port", 0), 443);

  // Off by default: no prometheus-operator or cert-manager kinds.
  for (const char* k :
       {"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Certificate", "Issuer"})
    EXPECT_TRUE(r.all(k).empty()) << k;
}

TEST(ChartRender, DefaultRbacIsClusterWideOnlyForWhatTheDesignNeeds) {
  RENDER_OK(r);
  expect_operator_can_work_in(r, kOperator, "");
  EXPECT_TRUE(can(r, kOperator, "get", "", "secrets", ""));
  for (const char* v : {"list", "watch", "create", "update", "patch", "delete"})
    EXPECT_FALSE(can(r, kOperator, v, "", "secrets", "any")) << v << " secrets";
  EXPECT_FALSE(can(r, kOperator, "create", "", "namespaces", ""));
  EXPECT_FALSE(can(r, kOperator, "create", "rbac.authorization.k8s.io", "clusterroles", ""));
  EXPECT_FALSE(can(r, kOperator, "escalate", "rbac.authorization.k8s.io", "roles", "any"));
  EXPECT_FALSE(can(r, kOperator, "delete", "cairn.dev", "releases", "any"));
  EXPECT_FALSE(can(r, kOperator, "create", "", "pods", "any"))
      << "Pods come from Jobs, the operator never creates them";
  // Its Lease: only in its own namespace, only its own name.
  EXPECT_TRUE(can(r, kOperator, "update", "coordination.k8s.io", "leases", kNs, "cairn-operator"));
  EXPECT_FALSE(can(r, kOperator, "update", "coordination.k8s.io", "leases", kNs, "other"));
  EXPECT_FALSE(
      can(r, kOperator, "update", "coordination.k8s.io", "leases", "shop", "cairn-operator"));

  // The webhook reads; it writes nothing but Events.
  for (const auto& [verb, group, resource] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"list", "", "namespaces"},
           {"watch", "", "namespaces"},
           {"get", "", "namespaces"},
           {"list", "cairn.dev", "releases"},
           {"watch", "cairn.dev", "pipelines"},
           {"get", "", "secrets"},
           {"create", "", "events"},
           {"patch", "", "events"}})
    EXPECT_TRUE(can(r, kWebhook, verb, group, resource, "")) << verb << " " << resource;
  for (const auto& [verb, group, resource] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"list", "", "secrets"},
           {"update", "cairn.dev", "releases"},
           {"patch", "apps", "deployments"},
           {"create", "batch", "jobs"},
           {"update", "", "namespaces"}})
    EXPECT_FALSE(can(r, kWebhook, verb, group, resource, "any")) << verb << " " << resource;
}

// Teams see and change Pipelines and Releases with the roles they hold:
// Cairn's ClusterRoles aggregate into view, edit and admin (issue #16).
TEST(ChartRender, AggregatedRolesExtendViewEditAndAdmin) {
  RENDER_OK(r);
  const std::string base = "cairn-" + kNs;
  auto verbs_of = [&](const std::string& role) {
    std::set<std::string> v;
    json cr = r.one("ClusterRole", base + "-" + role);
    for (const auto& rule : cr.value("rules", json::array())) {
      EXPECT_EQ(rule["apiGroups"], json::array({"cairn.dev"})) << role;
      for (const auto& res : {"pipelines", "releases"})
        EXPECT_TRUE(std::ranges::count(rule["resources"], json(res)) == 1) << role << " " << res;
      for (const auto& x : rule["verbs"]) v.insert(x.get<std::string>());
    }
    return v;
  };
  auto aggregates_to = [&](const std::string& role) {
    std::set<std::string> to;
    const json labels = r.one("ClusterRole", base + "-" + role)["metadata"]["labels"];
    for (const char* k : {"view", "edit", "admin"})
      if (labels.value(std::string("rbac.authorization.k8s.io/aggregate-to-") + k, "") == "true")
        to.insert(k);
    return to;
  };
  EXPECT_EQ(verbs_of("view"), (std::set<std::string>{"get", "list", "watch"}));
  EXPECT_EQ(aggregates_to("view"), (std::set<std::string>{"view", "edit", "admin"}));
  const std::set<std::string> write = {"get",    "list",  "watch", "create",
                                       "update", "patch", "delete"};
  EXPECT_EQ(verbs_of("edit"), write);
  EXPECT_EQ(aggregates_to("edit"), (std::set<std::string>{"edit"}));
  auto admin = write;
  admin.insert("deletecollection");
  EXPECT_EQ(verbs_of("admin"), admin);
  EXPECT_EQ(aggregates_to("admin"), (std::set<std::string>{"admin"}));

  RENDER_OK(off, "rbac:\n  aggregatedRoles: false\n");
  EXPECT_FALSE(off.get("ClusterRole", base + "-view"));
}

// Without a pod network (the local real node) both components run on the
// host network: they bind the pod IP and roll without a surge pod.
TEST(ChartRender, HostNetworkBindsThePodIpAndRollsWithoutSurge) {
  RENDER_OK(r, "operator: {hostNetwork: true}\nwebhook: {hostNetwork: true}\n");
  expect_well_formed(r);
  for (const char* name : {"cairn-operator", "cairn-webhook"}) {
    json dep = r.one("Deployment", name, kNs);
    json spec = dep["spec"]["template"]["spec"];
    EXPECT_EQ(spec.value("hostNetwork", false), true) << name;
    EXPECT_EQ(spec.value("dnsPolicy", ""), "ClusterFirstWithHostNet") << name;
    EXPECT_EQ(dep["spec"]["strategy"]["rollingUpdate"].value("maxSurge", -1), 0) << name;
    json c = containers(dep)[0];
    EXPECT_EQ(arg(c, "--probe-addr").value_or("").rfind("$(POD_IP):", 0), 0u) << name;
    bool pod_ip = false;
    for (const auto& e : c.value("env", json::array()))
      pod_ip |= e.value("name", "") == "POD_IP" &&
                e["valueFrom"]["fieldRef"].value("fieldPath", "") == "status.podIP";
    EXPECT_TRUE(pod_ip) << name;
  }
  EXPECT_EQ(arg(containers(r.one("Deployment", "cairn-webhook", kNs))[0], "--addr"),
            "$(POD_IP):9443");
  RENDER_OK(d);
  EXPECT_FALSE(d.one("Deployment", "cairn-webhook", kNs)["spec"]["template"]["spec"].contains(
      "hostNetwork"));
}

// The ValidatingWebhookConfiguration is exactly the one the e2e tests have
// registered all along (e2e/support/webhook.cc), pointed at a URL.
TEST(ChartRender, WebhookConfigurationMatchesTheE2eOne) {
  const std::string ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const std::string url = "https://127.0.0.1:9443";
  RENDER_OK(r, "webhook:\n  url: " + url + "\n  caBundle: " + kube::base64_encode(ca_pem) + "\n");
  expect_well_formed(r);
  auto vwcs = r.all("ValidatingWebhookConfiguration");
  ASSERT_EQ(vwcs.size(), 1u);
  const json want = e2e::WebhookProcess::configuration("x", url, ca_pem);
  EXPECT_EQ(vwcs[0]["webhooks"], want["webhooks"]) << "chart:\n"
                                                   << vwcs[0]["webhooks"].dump(2) << "\ne2e:\n"
                                                   << want["webhooks"].dump(2);
  EXPECT_NE(r.notes.find(url), std::string::npos) << r.notes;
}

TEST(ChartRender, InClusterWebhookUsesTheServiceAndAGeneratedCaThatVerifies) {
  RENDER_OK(r);
  json vwc = r.all("ValidatingWebhookConfiguration")[0];
  EXPECT_EQ(vwc["metadata"].value("name", ""), "cairn-cairn-system");
  ASSERT_EQ(vwc["webhooks"].size(), 3u);
  std::string ca_b64;
  for (const auto& h : vwc["webhooks"]) {
    const json svc = h["clientConfig"]["service"];
    EXPECT_EQ(svc.value("name", ""), "cairn-webhook");
    EXPECT_EQ(svc.value("namespace", ""), kNs);
    EXPECT_EQ(svc.value("port", 0), 443);
    EXPECT_FALSE(h["clientConfig"].contains("url"));
    if (ca_b64.empty()) ca_b64 = h["clientConfig"].value("caBundle", "");
    EXPECT_EQ(h["clientConfig"].value("caBundle", ""), ca_b64);
  }
  EXPECT_EQ(vwc["webhooks"][0]["clientConfig"]["service"].value("path", ""), "/validate");
  EXPECT_EQ(vwc["webhooks"][1]["clientConfig"]["service"].value("path", ""), "/validate-cairn");
  EXPECT_EQ(vwc["webhooks"][2]["clientConfig"]["service"].value("path", ""), "/validate");
  EXPECT_EQ(vwc["webhooks"][0]["namespaceSelector"]["matchExpressions"][1]["values"],
            json::array({"kube-system", "kube-public", "kube-node-lease", kNs}));
  EXPECT_EQ(vwc["webhooks"][2]["objectSelector"]["matchExpressions"][0].value("key", ""),
            "cairn.dev/enforce");

  // The Secret mounted by the webhook holds a certificate for the Service's
  // DNS name, signed by the CA in the caBundle.
  json secret = r.one("Secret", "cairn-webhook-tls", kNs);
  EXPECT_EQ(secret.value("type", ""), "kubernetes.io/tls");
  EXPECT_EQ(secret["data"].value("ca.crt", ""), ca_b64);
  auto ca_pem = kube::base64_decode(ca_b64);
  auto crt_pem = kube::base64_decode(secret["data"].value("tls.crt", ""));
  auto key_pem = kube::base64_decode(secret["data"].value("tls.key", ""));
  ASSERT_TRUE(ca_pem && crt_pem && key_pem);
  auto load = [](const std::string& pem) {
    BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    return x;
  };
  X509* ca = load(*ca_pem);
  X509* crt = load(*crt_pem);
  ASSERT_TRUE(ca && crt);
  EVP_PKEY* ca_key = X509_get_pubkey(ca);
  EXPECT_EQ(X509_verify(crt, ca_key), 1) << "tls.crt is not signed by the caBundle's CA";
  for (const char* host : {"cairn-webhook.cairn-system.svc", "cairn-webhook.cairn-system",
                           "cairn-webhook.cairn-system.svc.cluster.local"})
    EXPECT_EQ(X509_check_host(crt, host, 0, 0, nullptr), 1) << host;
  EXPECT_NE(X509_check_host(crt, "evil.example.com", 0, 0, nullptr), 1);
  BIO* kb = BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(crt, key), 1) << "tls.key does not match tls.crt";
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  X509_free(crt);
  X509_free(ca);

  json wh_dep = r.one("Deployment", "cairn-webhook", kNs);
  bool mounted = false;
  for (const auto& v : pod_spec(wh_dep)["volumes"])
    mounted |= v.value("name", "") == "tls" &&
               v.value("secret", json::object()).value("secretName", "") == "cairn-webhook-tls";
  EXPECT_TRUE(mounted);
}

// The values file that turns every switch the other way.
const char* kEverySwitch = R"(
certManager: {enabled: true}
metrics:
  serviceMonitor: {enabled: true, labels: {release: prometheus}}
prometheusRule: {enabled: true}
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  egress: [{ports: [{port: 443, protocol: TCP}]}]
operator:
  replicas: 2
  leaderElection: {enabled: true}
  push: {enabled: true, secretName: push-token}
  metrics: {enabled: true}
  rbac:
    allowEscalation: true
    clusterRules: [{apiGroups: [""], resources: [namespaces], verbs: [get, list, watch, create]}]
watchNamespaces: [shop, web]
webhook:
  antiAffinity: hard
  scale: allow
  exec: allow
  platformGroup: platform-team
  trust: ["system:serviceaccount:es:es=Secret;ConfigMap"]
  componentUsers: [system:kube-controller-manager]
  componentGroups: [system:nodes]
  ignoreFields: ["Deployment.apps:spec.replicas"]
dashboard: {enabled: false}
logFormat: text
)";

TEST(ChartRender, EverySwitchFlipped) {
  RENDER_OK(r, kEverySwitch);
  expect_well_formed(r);

  // Operator: 2 replicas behind a Lease, two namespaces, push receiver.
  json op_dep = r.one("Deployment", "cairn-operator", kNs);
  EXPECT_EQ(op_dep["spec"].value("replicas", 0), 2);
  json op = containers(op_dep)[0];
  EXPECT_TRUE(has_arg(op, "--leader-elect"));
  EXPECT_EQ(arg(op, "--namespace"), "shop,web");
  EXPECT_EQ(arg(op, "--log-format"), "text");
  EXPECT_EQ(arg(op, "--push-secret"), "cairn-system/push-token");
  EXPECT_EQ(arg(op, "--push-tls-cert"), "/etc/cairn/push-tls/tls.crt");
  json push_svc = r.one("Service", "cairn-operator-push", kNs);
  EXPECT_EQ(push_svc["spec"]["ports"][0].value("targetPort", ""), "push");
  bool push_volume = false;
  for (const auto& v : pod_spec(op_dep)["volumes"])
    push_volume |=
        v.value("secret", json::object()).value("secretName", "") == "cairn-operator-push-tls";
  EXPECT_TRUE(push_volume);
  EXPECT_TRUE(can(r, kOperator, "get", "", "secrets", kNs, "push-token"));
  EXPECT_FALSE(can(r, kOperator, "get", "", "secrets", kNs, "other-secret"));

  // Webhook: hard anti-affinity, scale governed, HPA-owned fields ignored.
  json wh_dep = r.one("Deployment", "cairn-webhook", kNs);
  EXPECT_TRUE(pod_spec(wh_dep)["affinity"]["podAntiAffinity"].contains(
      "requiredDuringSchedulingIgnoredDuringExecution"));
  json wh = containers(wh_dep)[0];
  EXPECT_EQ(arg(wh, "--scale"), "allow");
  EXPECT_EQ(arg(wh, "--exec"), "allow");
  EXPECT_EQ(arg(wh, "--trust"), "system:serviceaccount:es:es=Secret;ConfigMap");
  EXPECT_EQ(arg(wh, "--component-users"), "system:kube-controller-manager");
  EXPECT_EQ(arg(wh, "--component-groups"), "system:nodes");
  EXPECT_EQ(arg(wh, "--ignore-fields"), "Deployment.apps:spec.replicas");

  // cert-manager: Certificates instead of generated Secrets, CA injected.
  EXPECT_TRUE(r.all("Secret").empty()) << "cert-manager writes the Secrets";
  json cert = r.one("Certificate", "cairn-webhook", kNs);
  EXPECT_EQ(cert["spec"].value("secretName", ""), "cairn-webhook-tls");
  EXPECT_NE(std::find(cert["spec"]["dnsNames"].begin(), cert["spec"]["dnsNames"].end(),
                      "cairn-webhook.cairn-system.svc"),
            cert["spec"]["dnsNames"].end());
  EXPECT_EQ(cert["spec"]["issuerRef"].value("name", ""), "cairn-ca");
  EXPECT_TRUE(r.get("Issuer", "cairn-ca", kNs));
  EXPECT_TRUE(r.get("Certificate", "cairn-operator-push", kNs));
  json vwc = r.all("ValidatingWebhookConfiguration")[0];
  EXPECT_EQ(vwc["metadata"]["annotations"].value("cert-manager.io/inject-ca-from", ""),
            "cairn-system/cairn-webhook");
  for (const auto& h : vwc["webhooks"]) EXPECT_FALSE(h["clientConfig"].contains("caBundle"));

  // The ServiceMonitor scrapes both metrics Services on their "metrics" port.
  auto sms = r.all("ServiceMonitor");
  ASSERT_EQ(sms.size(), 1u);
  EXPECT_EQ(sms[0]["metadata"]["labels"].value("release", ""), "prometheus");
  int selected = 0;
  for (const auto& svc : r.all("Service")) {
    bool match = true;
    for (const auto& [k, v] : sms[0]["spec"]["selector"]["matchLabels"].items())
      match &= svc["metadata"]["labels"].value(k, "") == v;
    if (!match) continue;
    ++selected;
    EXPECT_EQ(svc["spec"]["ports"][0].value("name", ""), sms[0]["spec"]["endpoints"][0]["port"]);
  }
  EXPECT_EQ(selected, 2) << "the operator's and the webhook's metrics Services";

  // NetworkPolicies: both components, the webhook's HTTPS port open, metrics
  // only from the monitoring namespace, egress restricted to DNS + the rule.
  json np = r.one("NetworkPolicy", "cairn-webhook", kNs);
  EXPECT_EQ(np["spec"]["podSelector"]["matchLabels"], wh_dep["spec"]["selector"]["matchLabels"]);
  EXPECT_EQ(np["spec"]["ingress"][0]["ports"][0].value("port", ""), "https");
  EXPECT_FALSE(np["spec"]["ingress"][0].contains("from")) << "the apiserver may come from anywhere";
  EXPECT_EQ(np["spec"]["ingress"][1]["from"][0]["namespaceSelector"]["matchLabels"].value(
                "kubernetes.io/metadata.name", ""),
            "monitoring");
  EXPECT_EQ(np["spec"]["policyTypes"], json::array({"Ingress", "Egress"}));
  EXPECT_EQ(np["spec"]["egress"][0]["ports"][0].value("port", 0), 53);
  json np_op = r.one("NetworkPolicy", "cairn-operator", kNs);
  EXPECT_EQ(np_op["spec"]["ingress"][1]["ports"][0].value("port", ""), "push");

  // No dashboard when switched off.
  EXPECT_TRUE(r.all("ConfigMap").empty());
  EXPECT_TRUE(r.get("PrometheusRule", "cairn", kNs));
}

TEST(ChartRender, WatchNamespacesMakeTheRbacNamespaced) {
  RENDER_OK(r, kEverySwitch);
  for (const char* ns : {"shop", "web"}) {
    expect_operator_can_work_in(r, kOperator, ns);
    EXPECT_TRUE(can(r, kWebhook, "get", "", "secrets", ns)) << ns;
    EXPECT_TRUE(r.get("Role", "cairn-operator", ns)) << ns;
    EXPECT_TRUE(r.get("RoleBinding", "cairn-webhook", ns)) << ns;
  }
  // Outside them: no Secrets, no writes, for either identity.
  for (const std::string& ns :
       {std::string("other"), std::string("kube-system"), std::string("")}) {
    EXPECT_FALSE(can(r, kOperator, "get", "", "secrets", ns)) << ns;
    EXPECT_FALSE(can(r, kWebhook, "get", "", "secrets", ns)) << ns;
    EXPECT_FALSE(can(r, kOperator, "patch", "apps", "deployments", ns)) << ns;
    EXPECT_FALSE(can(r, kOperator, "create", "batch", "jobs", ns)) << ns;
    EXPECT_FALSE(can(r, kOperator, "update", "cairn.dev", "releases/status", ns)) << ns;
    EXPECT_FALSE(can(r, kOperator, "create", "", "events", ns)) << ns;
  }
  // Several namespaces: the informers are cluster-wide, so list/watch of
  // their kinds are too (operator/main.cc) — and nothing else.
  for (const auto& [group, res] :
       std::vector<std::pair<std::string, std::string>>{{"cairn.dev", "pipelines"},
                                                        {"cairn.dev", "releases"},
                                                        {"batch", "jobs"},
                                                        {"", "pods"},
                                                        {"apps", "deployments"},
                                                        {"", "services"},
                                                        {"", "configmaps"},
                                                        {"", "serviceaccounts"}}) {
    EXPECT_TRUE(can(r, kOperator, "list", group, res, "")) << res;
    EXPECT_TRUE(can(r, kOperator, "watch", group, res, "")) << res;
  }
  EXPECT_FALSE(can(r, kOperator, "get", "apps", "deployments", ""));
  EXPECT_FALSE(can(r, kOperator, "list", "", "secrets", ""));
  // The extra cluster rules and escalation were asked for.
  EXPECT_TRUE(can(r, kOperator, "create", "", "namespaces", ""));
  EXPECT_TRUE(can(r, kOperator, "escalate", "rbac.authorization.k8s.io", "roles", "shop"));
  EXPECT_FALSE(can(r, kOperator, "escalate", "rbac.authorization.k8s.io", "roles", "other"));
  EXPECT_TRUE(can(r, kWebhook, "list", "", "namespaces", ""));
}

TEST(ChartRender, OneWatchNamespaceNeedsNoOperatorClusterRoleAtAll) {
  RENDER_OK(r, "watchNamespaces: [shop]\n");
  expect_well_formed(r);
  expect_operator_can_work_in(r, kOperator, "shop");
  for (const auto& b : r.all("ClusterRoleBinding"))
    EXPECT_FALSE(binds(b, kOperator)) << "bound cluster-wide: " << b["roleRef"].dump();
  EXPECT_FALSE(can(r, kOperator, "list", "cairn.dev", "releases", "other"));
  EXPECT_EQ(arg(containers(r.one("Deployment", "cairn-operator"))[0], "--namespace"), "shop");
  EXPECT_NE(r.notes.find("the namespaces shop"), std::string::npos) << r.notes;
}

TEST(ChartRender, AlertsAreValidAndFireWhenTheyShould) {
  RENDER_OK(r, "prometheusRule: {enabled: true}\n");
  auto rules = r.all("PrometheusRule");
  ASSERT_EQ(rules.size(), 1u);
  std::set<std::string> alerts;
  for (const auto& g : rules[0]["spec"]["groups"])
    for (const auto& rule : g["rules"]) alerts.insert(rule.value("alert", ""));
  for (const char* a :
       {"CairnWebhookDown", "CairnWebhookSlow", "CairnReleaseRolledBack", "CairnResourceStalled",
        "CairnGitFetchFailing", "CairnOperatorDown", "CairnReconcileErrors"})
    EXPECT_TRUE(alerts.contains(a)) << a;

  const std::string dir = r.dir + "/promtool";
  fs::create_directories(dir);
  std::ofstream(dir + "/rules-full.json") << rules[0]["spec"].dump(2);
  auto [rc, out] = sh("promtool check rules " + dir + "/rules-full.json");
  ASSERT_EQ(rc, 0) << "promtool check rules (from Debian's prometheus package):\n" << out;
  // promtool test rules compares annotations too; the unit tests are about
  // when alerts fire, so they run on the rules without them.
  json bare = rules[0]["spec"];
  for (auto& g : bare["groups"])
    for (auto& rule : g["rules"]) rule.erase("annotations");
  std::ofstream(dir + "/rules.yaml") << bare.dump(2);
  fs::copy_file(kSource + "/tests/chart/alerts_test.yaml", dir + "/alerts_test.yaml");
  auto [trc, tout] = sh("cd " + quote(dir) + " && promtool test rules alerts_test.yaml");
  EXPECT_EQ(trc, 0) << tout;
}

TEST(ChartRender, DashboardIsGrafanaJsonOverCairnsMetrics) {
  RENDER_OK(r);
  json cm = r.one("ConfigMap", "cairn-dashboard", kNs);
  EXPECT_EQ(cm["metadata"]["labels"].value("grafana_dashboard", ""), "1");
  json dash = json::parse(cm["data"].value("cairn.json", ""), nullptr, false);
  ASSERT_FALSE(dash.is_discarded()) << "cairn.json is not JSON";
  EXPECT_EQ(dash.value("uid", ""), "cairn-overview");
  std::string exprs;
  std::set<int> ids;
  int panels = 0;
  for (const auto& p : dash["panels"]) {
    EXPECT_TRUE(ids.insert(p.value("id", 0)).second) << "duplicate panel id";
    ASSERT_TRUE(p.contains("gridPos"));
    if (p.value("type", "") == "row") continue;
    ++panels;
    EXPECT_FALSE(p.value("targets", json::array()).empty()) << p.value("title", "");
    for (const auto& t : p["targets"]) exprs += t.value("expr", "") + "\n";
  }
  EXPECT_GE(panels, 12);
  for (const char* m :
       {"cairn_admission_decisions_total", "cairn_admission_duration_seconds_bucket",
        "cairn_reconcile_total", "cairn_reconcile_duration_seconds_bucket",
        "cairn_pipeline_runs_total", "cairn_pipeline_run_duration_seconds_bucket",
        "cairn_workqueue_depth", "cairn_release_deployments_total",
        "cairn_release_lead_time_seconds_bucket", "cairn_release_time_to_restore_seconds_bucket"})
    EXPECT_NE(exprs.find(m), std::string::npos) << m << " is on no panel";
  EXPECT_NE(exprs.find("histogram_quantile(0.99"), std::string::npos);
}

TEST(ChartRender, KubernetesVersionPicksThePdbApi) {
  RENDER_OK(r, "", "--kube-version v1.25.0");
  EXPECT_EQ(r.one("PodDisruptionBudget", "cairn-webhook", kNs).value("apiVersion", ""),
            "policy/v1");
  Rendered old = render("", "--kube-version v1.19.0");
  EXPECT_NE(old.rc, 0);
  EXPECT_NE(old.log.find("incompatible with Kubernetes v1.19.0"), std::string::npos) << old.log;
  // One replica: no PodDisruptionBudget that would block every drain.
  RENDER_OK(one, "webhook: {replicas: 1}\n");
  EXPECT_TRUE(one.all("PodDisruptionBudget").empty());
}

TEST(ChartRender, ReleaseNamesAndPolicyValuesFlowEverywhere) {
  RENDER_OK(r,
            "webhook:\n  platformGroup: platform-team\n  exec: allow\n"
            "  trust: [\"system:serviceaccount:es:es=Secret\"]\n"
            "operator: {leaderElection: {enabled: false}}\n",
            "", "gitops", "platform");
  expect_well_formed(r, "platform");
  json wh = containers(r.one("Deployment", "gitops-cairn-webhook", "platform"))[0];
  EXPECT_FALSE(has_arg(wh, "--governed-kinds"));
  EXPECT_EQ(arg(wh, "--platform-group"), "platform-team");
  EXPECT_EQ(arg(wh, "--exec"), "allow");
  EXPECT_EQ(arg(wh, "--trust"), "system:serviceaccount:es:es=Secret");
  EXPECT_EQ(arg(wh, "--scale"), "deny");
  EXPECT_EQ(arg(wh, "--operator-users"), "system:serviceaccount:platform:gitops-cairn-operator");
  json vwc = r.one("ValidatingWebhookConfiguration", "gitops-cairn-platform");
  const json rules = vwc["webhooks"][0]["rules"];
  ASSERT_EQ(rules.size(), 3u) << rules.dump();
  EXPECT_EQ(rules[0]["resources"], json::array({"*", "*/scale"}));
  EXPECT_EQ(rules[0]["apiGroups"], json::array({"*"}));
  EXPECT_EQ(vwc["webhooks"][0]["clientConfig"]["service"].value("name", ""),
            "gitops-cairn-webhook");
  EXPECT_TRUE(r.get("ClusterRole", "gitops-cairn-platform-operator"));
  // Without a Lease, a rollout must never run two operators at once.
  json op_dep = r.one("Deployment", "gitops-cairn-operator", "platform");
  EXPECT_EQ(op_dep["spec"]["strategy"].value("type", ""), "Recreate");
  EXPECT_FALSE(has_arg(containers(op_dep)[0], "--leader-elect"));
  EXPECT_TRUE(r.all("Role").empty()) << "no Lease, no push: nothing in its own namespace";
}

TEST(ChartRender, OptionalPiecesSwitchOffCleanly) {
  RENDER_OK(r,
            "rbac: {create: false}\n"
            "operator:\n  metrics: {enabled: false}\n"
            "  serviceAccount: {create: false, name: platform-cairn}\n"
            "webhook: {pdb: {enabled: false}, antiAffinity: none}\n"
            "networkPolicy: {enabled: true}\n"
            "image: {digest: \"sha256:" +
                std::string(64, 'a') + "\"}\n");
  expect_well_formed(r);
  for (const char* k :
       {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "PodDisruptionBudget"})
    EXPECT_TRUE(r.all(k).empty()) << k;
  EXPECT_EQ(r.all("ServiceAccount").size(), 1u) << "only the webhook's";
  json op_dep = r.one("Deployment", "cairn-operator", kNs);
  EXPECT_EQ(pod_spec(op_dep).value("serviceAccountName", ""), "platform-cairn");
  json op = containers(op_dep)[0];
  EXPECT_EQ(arg(op, "--metrics-addr"), "0");
  EXPECT_EQ(op.value("image", ""), "ghcr.io/cairn-dev/cairn@sha256:" + std::string(64, 'a'));
  EXPECT_FALSE(r.get("Service", "cairn-operator-metrics"));
  json wh_dep = r.one("Deployment", "cairn-webhook", kNs);
  EXPECT_EQ(arg(containers(wh_dep)[0], "--operator-users"),
            "system:serviceaccount:cairn-system:platform-cairn");
  EXPECT_FALSE(pod_spec(wh_dep).contains("affinity"));
  // The operator's NetworkPolicy admits nothing (no metrics, no push).
  json np = r.one("NetworkPolicy", "cairn-operator", kNs);
  EXPECT_TRUE(np["spec"].value("ingress", json::array()).empty()) << np.dump();
  EXPECT_EQ(np["spec"]["policyTypes"], json::array({"Ingress"})) << "egress not restricted";

  Rendered no_name = render("operator: {serviceAccount: {create: false}}\n");
  EXPECT_NE(no_name.rc, 0);
  EXPECT_NE(no_name.log.find("operator.serviceAccount.name is required"), std::string::npos)
      << no_name.log;
}

TEST(ChartRender, BadValuesAreRefusedWithTheReason) {
  struct Case {
    std::string values, needle;
  };
  for (const Case& c : std::vector<Case>{
           {"webhook: {scale: maybe}\n", "webhook.scale"},
           {"operator: {workers: 0}\n", "operator.workers"},
           {"bogus: 1\n", "Additional property bogus"},
           {"watchNamespaces: [Not_A_Namespace]\n", "watchNamespaces.0"},
           {"webhook: {failurePolicy: Sometimes}\n", "webhook.failurePolicy"},
           {"image: {pullPolicy: Often}\n", "image.pullPolicy"},
           {"operator: {replicas: 2, leaderElection: {enabled: false}}\n",
            "needs operator.leaderElection.enabled"},
           {"webhook: {url: \"https://127.0.0.1:9443\"}\n", "webhook.url needs webhook.caBundle"},
           {"webhook: {url: \"http://insecure:80\", caBundle: \"QQ==\"}\n", "webhook.url"},
           {"operator: {push: {enabled: true}}\n", "operator.push.secretName"},
           {"webhook: {exec: sometimes}\n", "webhook.exec"},
           {"webhook: {trust: [\"no-kinds\"]}\n", "webhook.trust"},
           {"operator: {gitStallTimeout: soon}\n", "operator.gitStallTimeout"},
       }) {
    Rendered r = render(c.values);
    EXPECT_NE(r.rc, 0) << c.values << " was accepted";
    EXPECT_NE(r.log.find(c.needle), std::string::npos)
        << c.values << ": the error does not name " << c.needle << ":\n"
        << r.log;
  }
  // --set works like Helm's, typed.
  RENDER_OK(r, "", "--set operator.workers=8 --set 'watchNamespaces={a,b}'");
  EXPECT_EQ(arg(containers(r.one("Deployment", "cairn-operator"))[0], "--workers"), "8");
  EXPECT_EQ(arg(containers(r.one("Deployment", "cairn-operator"))[0], "--namespace"), "a,b");
  // The git timeouts (GitFaults e2e): defaults, and overridden.
  RENDER_OK(d);
  EXPECT_EQ(arg(containers(d.one("Deployment", "cairn-operator"))[0], "--git-fetch-timeout"), "2m");
  EXPECT_EQ(arg(containers(d.one("Deployment", "cairn-operator"))[0], "--git-stall-timeout"),
            "30s");
  RENDER_OK(t, "", "--set operator.gitStallTimeout=10s");
  EXPECT_EQ(arg(containers(t.one("Deployment", "cairn-operator"))[0], "--git-stall-timeout"),
            "10s");
}

TEST(ChartRender, NotesSayWhatToDoNext) {
  RENDER_OK(r);
  for (const char* needle :
       {"rollout status deployment/cairn-operator", "rollout status deployment/cairn-webhook",
        "kind: Release", "cairn.dev/enforce=deny", "cairn.dev/break-glass", "every namespace",
        "failurePolicy Fail", "metrics.serviceMonitor.enabled=true"})
    EXPECT_NE(r.notes.find(needle), std::string::npos) << needle << "\n" << r.notes;
  RENDER_OK(cm, "certManager: {enabled: true}\n");
  EXPECT_NE(cm.notes.find("cert-manager issues"), std::string::npos) << cm.notes;
}

}  // namespace
}  // namespace cairn
