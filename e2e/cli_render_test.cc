// kubectl cairn render and diff end to end (issue #17): render of a local
// kustomize overlay with no cluster and no kubeconfig, and diff of a Release
// against the real control plane and git server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/cluster.h"
#include "support/operator.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

const char* kBase = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1"}]
)";

TEST(CliRender, LocalOverlayOfflineWithoutAKubeconfig) {
  const fs::path dir =
      fs::temp_directory_path() / ("cairn-e2e-render-" + std::to_string(::getpid()));
  write(dir / "base/deploy.yaml", kBase);
  write(dir / "base/kustomization.yaml", "resources: [deploy.yaml]\n");
  write(dir / "overlays/dev/kustomization.yaml",
        "resources: [../../base]\nnamePrefix: dev-\ncommonLabels: {env: dev}\n"
        "images: [{name: web, newTag: \"2\"}]\n");
  write(dir / "bad/kustomization.yaml", "resources: [../base]\nhelmCharts: [{name: x}]\n");
  // No cluster: no KUBECONFIG and a HOME without ~/.kube.
  const std::string env =
      "cd " + dir.string() + " && env -u KUBECONFIG HOME=" + dir.string() + " " + CAIRN_CLI_BIN;

  auto [rc, out] = sh(env + " render overlays/dev 2>&1");
  EXPECT_EQ(rc, 0) << out;
  std::cerr << "kubectl cairn render overlays/dev:\n" << out << "\n";
  for (const std::string& needle : std::vector<std::string>{
           "kind: Deployment", "  name: dev-web", "    env: dev", "image: web:2",
           "cairn.dev/commit: uncommitted", "cairn.dev/path: base/deploy.yaml",
           "cairn.dev/release: default/dev", "app.kubernetes.io/managed-by: cairn",
           "namespace: default"}) {
    EXPECT_TRUE(contains(out, needle)) << "missing: " << needle << "\n" << out;
  }

  auto [rc2, out2] = sh(env + " render overlays/dev --commit abc123 --release shop/web -o json");
  EXPECT_EQ(rc2, 0) << out2;
  json j = json::parse(out2, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 1) << out2;
  EXPECT_EQ(j[0]["metadata"]["namespace"], "shop");
  EXPECT_EQ(j[0]["metadata"]["annotations"]["cairn.dev/commit"], "abc123");

  auto [rc3, out3] = sh(env + " render bad 2>&1");
  EXPECT_EQ(rc3, 1) << out3;
  EXPECT_TRUE(contains(out3, "bad/kustomization.yaml")) << out3;
  EXPECT_TRUE(contains(out3, "helmCharts")) << out3;
  fs::remove_all(dir);
}

kube::Result<json> wait_deployed(const std::string& ns, const std::string& commit) {
  return wait_for(
      kReleases, ns, "web",
      [&](const json& o) {
        const json st = o.value("status", json::object());
        return st.value("phase", "") == "Deployed" && st.value("currentCommit", "") == commit;
      },
      120s);
}

TEST(CliRender, DiffShowsTheNextCommitsChanges) {
  TestNamespace ns("e2e-cli-diff");
  const std::string n = ns.name();
  GitRepo repo("cli-diff-" + n);
  const std::string a = repo.commit({{"deploy/app.yaml", kBase}}, "A");
  OperatorProcess op(n);
  // A long interval: the operator does not pick up B by itself while the
  // test diffs it (the plugin fetches on its own).
  ASSERT_TRUE(client().create(kReleases, n, yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" + repo.git_url() + R"(", branch: main, interval: 1h}
  path: deploy
)")));
  auto ra = wait_deployed(n, a);
  ASSERT_TRUE(ra) << ra.error().to_string() << "\n" << op.log_tail();
  const fs::path cache = fs::temp_directory_path() / ("cairn-e2e-cli-" + n);
  auto cli = [&](const std::string& args) {
    return sh(std::string(CAIRN_CLI_BIN) + " " + args + " -n " + n + " --git-cache-dir " +
              cache.string() + " 2>&1");
  };

  auto [same_rc, same] = cli("diff release/web");
  EXPECT_EQ(same_rc, 0) << same;
  EXPECT_TRUE(same.empty()) << same;

  std::string b_yaml = kBase;
  b_yaml.replace(b_yaml.find("web:1"), 5, "web:2");
  const std::string b = repo.commit({{"deploy/app.yaml", b_yaml}}, "B");
  auto [rc, out] = cli("diff release/web");
  std::cerr << "kubectl cairn diff release/web:\n" << out << "\n";
  EXPECT_EQ(rc, 1) << out;
  EXPECT_TRUE(
      contains(out, "--- live/Deployment/" + n + "/web\n+++ cairn/Deployment/" + n + "/web\n"))
      << out;
  EXPECT_TRUE(contains(out, "-      - image: web:1\n")) << out;
  EXPECT_TRUE(contains(out, "+      - image: web:2\n")) << out;
  EXPECT_TRUE(contains(out, "-    cairn.dev/commit: " + a)) << out;
  EXPECT_TRUE(contains(out, "+    cairn.dev/commit: " + b)) << out;
  EXPECT_FALSE(contains(out, "\033[")) << "piped: no colour";
  EXPECT_FALSE(contains(out, "managedFields")) << out;

  auto [rrc, rendered] = cli("render release/web");
  EXPECT_EQ(rrc, 0) << rendered;
  EXPECT_TRUE(contains(rendered, "image: web:2")) << rendered;
  auto [arc, at_a] = cli("diff release/web --commit " + a.substr(0, 8));
  EXPECT_EQ(arc, 0) << at_a;
  fs::remove_all(cache);
}

}  // namespace
}  // namespace cairn::e2e
