// The C++ renderer against Go's own text/template + sprig
// (hack/render-chart.sh): charts/cairn with its default values and with every
// switch flipped (the values tests/chart uses), and the small charts under
// tests/helm/testdata, must render to the same text, template by template.
// Only what is random by design (generated keys and certificates) is
// normalised. Skipped, saying why, when Go or its packages are missing.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "helm/chart.h"
#include "manifest/tree.h"

namespace cairn::helm {
namespace {

namespace fs = std::filesystem;
const std::string kSource = CAIRN_SOURCE_DIR;
const char* kKubeVersion = "v1.27.3";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::pair<int, std::string> sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int rc = ::pclose(p);
  return {rc, out};
}

// A chart directory read into memory, paths relative to the repository.
manifest::MemoryTree read_tree(const std::string& dir) {
  manifest::MemoryTree t;
  for (const auto& e : fs::recursive_directory_iterator(kSource + "/" + dir)) {
    if (!e.is_regular_file()) continue;
    t.add(fs::relative(e.path(), kSource).generic_string(), slurp(e.path()));
  }
  return t;
}

// Keys and certificates are random by design (genCA, genSignedCert).
std::string normalise(const std::string& s) {
  static const std::regex blob("[A-Za-z0-9+/=]{200,}");
  return std::regex_replace(s, blob, "<random>");
}

struct Case {
  std::string chart;   // repository path
  std::string values;  // YAML, a values file
};

class Oracle {
 public:
  static Oracle& get() {
    static Oracle o;
    return o;
  }
  const std::string& unavailable() const { return why_; }

  // Renders with Go: template file (relative to templates/) -> text.
  std::map<std::string, std::string> render(const Case& c, const std::string& dir) {
    std::ofstream(dir + "/values.yaml") << c.values;
    auto [rc, out] =
        sh("CAIRN_CHART_RENDER_DIR=" + std::string(CAIRN_CHART_RENDER_DIR) + " " + kSource +
           "/hack/render-chart.sh --chart " + kSource + "/" + c.chart +
           " --release-name cairn --namespace cairn-system -f " + dir +
           "/values.yaml --kube-version " + kKubeVersion +
           " --api-versions monitoring.coreos.com/v1 --output-dir " + dir + "/out >/dev/null");
    EXPECT_EQ(rc, 0) << out;
    std::map<std::string, std::string> files;
    if (rc != 0) return files;
    for (const auto& e : fs::recursive_directory_iterator(dir + "/out/templates"))
      if (e.is_regular_file())
        files[fs::relative(e.path(), dir + "/out/templates").generic_string()] = slurp(e.path());
    return files;
  }

 private:
  Oracle() {
    auto [rc, out] = sh("CAIRN_CHART_RENDER_DIR=" + std::string(CAIRN_CHART_RENDER_DIR) + " " +
                        kSource + "/hack/render-chart.sh --help");
    // The flag package exits 0 on --help once the binary is built; a
    // missing Go toolchain or package fails the build with a message.
    if (out.find("render-chart: go is missing") != std::string::npos ||
        out.find("cannot find package") != std::string::npos) {
      why_ = "the Go oracle cannot be built: " + out;
    }
    (void)rc;
  }
  std::string why_;
};

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

void compare(const Case& c) {
  Oracle& o = Oracle::get();
  if (!o.unavailable().empty()) GTEST_SKIP() << o.unavailable();
  std::string tmpl = (fs::temp_directory_path() / "cairn-helm-diff-XXXXXX").string();
  std::string dir = ::mkdtemp(tmpl.data());
  auto want = o.render(c, dir);
  fs::remove_all(dir);
  ASSERT_FALSE(want.empty());

  manifest::MemoryTree tree = read_tree(c.chart);
  ChartOptions opts;
  opts.release_name = "cairn";
  opts.release_namespace = "cairn-system";
  opts.values_files = {c.values};
  opts.kube_version = kKubeVersion;
  opts.api_versions = {"monitoring.coreos.com/v1"};
  auto got = render_chart(tree, c.chart, opts);
  ASSERT_TRUE(got) << got.error().message;
  std::map<std::string, std::string> mine;
  std::string chart_name;
  for (const auto& t : *got) {
    if (t.crd) continue;
    std::size_t at = t.name.find("/templates/");
    chart_name = t.name.substr(0, at);
    mine[t.name.substr(at + 11)] = t.text;
  }
  int compared = 0;
  for (const auto& [file, text] : want) {
    if (file == "NOTES.txt") continue;
    if (blank(text)) {
      EXPECT_FALSE(mine.contains(file)) << file << " renders empty but was returned";
      continue;
    }
    auto it = mine.find(file);
    if (it == mine.end()) {
      ADD_FAILURE() << file << " missing from the C++ render";
      continue;
    }
    EXPECT_EQ(normalise(it->second), normalise(text)) << c.chart << ": " << file;
    ++compared;
  }
  for (const auto& [file, _] : mine)
    EXPECT_TRUE(want.contains(file)) << file << " rendered by C++ only";
  EXPECT_GT(compared, 0);
}

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
  scale: deny
  ignoreFields: ["Deployment.apps:spec.replicas"]
dashboard: {enabled: false}
logFormat: text
)";

TEST(ChartDiff, CairnDefaults) { compare({"charts/cairn", ""}); }
TEST(ChartDiff, CairnEverySwitchFlipped) { compare({"charts/cairn", kEverySwitch}); }
TEST(ChartDiff, CairnPushWithoutCertManager) {
  compare({"charts/cairn",
           "operator: {push: {enabled: true, secretName: t}}\nwatchNamespaces: [a]\n"
           "commonLabels: {team: x, 'a.b/c': 'yes'}\n"});
}
TEST(ChartDiff, FeaturesChart) { compare({"tests/helm/testdata/features", ""}); }
TEST(ChartDiff, FeaturesChartWithValues) {
  compare({"tests/helm/testdata/features",
           "replicas: 3\nextraEnv: {B: '2', A: 'on'}\nmessage: '{{ .Release.Name }}-{{ "
           ".Values.replicas }}'\n"
           "ports: [8080, 9090]\nenabled: false\n"});
}

}  // namespace
}  // namespace cairn::helm
