// kubectl cairn end to end: the plugin binary against the real control plane,
// the real git server (https with basic auth, so the trace fetches with the
// Release's credentials) and the operator, with a Release gated on a Pipeline.
#include <gtest/gtest.h>

#include <filesystem>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/operator.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;
namespace fs = std::filesystem;

std::string app_yaml(const std::string& image) {
  return e2e::app_yaml({.image = image, .replicas = 1});
}

// The Release once `commit` is its current, deployed commit.
kube::Result<json> wait_deployed(const std::string& ns, const std::string& commit,
                                 std::chrono::seconds limit = 120s) {
  return wait_for(
      kReleases, ns, "web",
      [&](const json& o) {
        const json st = o.value("status", json::object());
        return st.value("phase", "") == "Deployed" && st.value("currentCommit", "") == commit &&
               st.value("lastAttemptedCommit", "") == commit;
      },
      limit);
}

bool has_escape(const std::string& s) { return s.find('\033') != std::string::npos; }

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

class Cli {
 public:
  explicit Cli(const std::string& ns)
      : ns_(ns), cache_(fs::temp_directory_path() / ("cairn-e2e-cli-" + ns)) {}
  ~Cli() { fs::remove_all(cache_); }
  // Runs `kubectl-cairn <args> -n <ns>` with stdout piped; stderr is
  // appended when `with_stderr`.
  std::pair<int, std::string> operator()(const std::string& args, bool with_stderr = true,
                                         const std::string& env = "") const {
    return sh(env + " " + bin() + " " + args + " -n " + ns_ + " --git-cache-dir " + cache_ +
              (with_stderr ? " 2>&1" : " 2>/dev/null"));
  }
  json json_of(const std::string& args) const {
    auto [rc, out] = (*this)(args + " -o json", false);
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << args << ": not JSON (rc " << rc << "):\n" << out;
    return j;
  }
  static std::string bin() { return CAIRN_CLI_BIN; }
  const std::string& cache() const { return cache_; }

 private:
  std::string ns_, cache_;
};

TEST(Cli, TraceHistoryRollbackRunAndStatus) {
  TestNamespace ns("e2e-cli");
  const std::string n = ns.name();
  GitRepo repo("cli-" + n);
  auto ca = kube::read_file(git_env("CAIRN_GIT_CA"));
  ASSERT_TRUE(ca) << "git server CA missing";
  const std::string password = git_env("CAIRN_GIT_PASSWORD");
  ASSERT_FALSE(password.empty());
  ASSERT_TRUE(client().create(
      res::kSecrets, n,
      json{{"apiVersion", "v1"},
           {"kind", "Secret"},
           {"metadata", {{"name", "git-auth"}}},
           {"stringData",
            {{"username", git_env("CAIRN_GIT_USER")}, {"password", password}, {"ca.crt", *ca}}}}));

  const std::string a =
      repo.commit({{"deploy/app.yaml", app_yaml("web:1")}, {"ok", "yes\n"}}, "A: first web");
  OperatorProcess op(n);
  ASSERT_TRUE(client().create(kPipelines, n, yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: ci}
spec:
  source: {url: ")" + repo.https_url() + R"(", branch: main, interval: 10s,
           secretRef: {name: git-auth}}
  steps:
  - {name: audit, image: x, script: "grep -q yes ok"}
  - {name: test, image: x, after: [audit], script: "echo coverage=81 > /dev/termination-log"}
)")));
  ASSERT_TRUE(client().create(kReleases, n, yaml(R"(
apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: web}
spec:
  source: {url: ")" + repo.https_url() + R"(", branch: main, interval: 10s,
           secretRef: {name: git-auth}}
  path: deploy
  gate: {pipelineRef: {name: ci}}
  rollout: {progressDeadline: 30s}
)")));
  auto ra = wait_deployed(n, a);
  ASSERT_TRUE(ra) << ra.error().to_string() << "\n" << op.log_tail();
  const std::string b =
      repo.commit({{"deploy/app.yaml", app_yaml("web:2")}, {"ok", "yes\n"}}, "B: web two");
  auto rb = wait_deployed(n, b);
  ASSERT_TRUE(rb) << rb.error().to_string() << "\n" << op.log_tail();

  Cli cli(n);

  // ---- trace, text, piped: the whole chain, no colour, no credentials.
  {
    auto [rc, out] = cli("trace deployment/web");
    EXPECT_EQ(rc, 0) << out;
    std::cerr << "kubectl cairn trace deployment/web:\n" << out << "\n";
    for (const std::string& needle : std::vector<std::string>{
             "Deployment web  apps/v1, namespace " + n,
             "  commit      " + b,
             "  path        deploy/app.yaml",
             "  release     " + n + "/web",
             "Release " + n + "/web  Deployed  Ready=True",
             "  gate        Pipeline ci",
             "  current     " + b.substr(0, 8) + "  this object's commit",
             "Commit " + b,
             "  title       B: web two",
             "  author      Ada Lovelace <ada@example.com>",
             "  signature   not required (unsigned)",
             "Pipeline " + n + "/ci  (the Release's gate)",
             "  run         ",
             "  steps       audit  Succeeded",
             "test   Succeeded",
             "coverage=81",
         }) {
      EXPECT_TRUE(contains(out, needle)) << "missing: " << needle << "\n" << out;
    }
    EXPECT_TRUE(contains(out, a.substr(0, 8) + "  Deployed")) << "history lists A:\n" << out;
    EXPECT_FALSE(has_escape(out)) << "piped output has no ANSI escapes";
    EXPECT_FALSE(contains(out, password)) << "credentials are never printed";
    EXPECT_FALSE(contains(out, "warning:")) << out;
  }

  // ---- trace -o json: the same chain as one document.
  {
    json d = cli.json_of("trace deployment/web");
    EXPECT_TRUE(d["errors"].empty()) << d.dump(2);
    EXPECT_TRUE(d["warnings"].empty()) << d.dump(2);
    EXPECT_EQ(d["object"]["kind"], "Deployment");
    EXPECT_EQ(d["object"]["stamp"]["commit"], b);
    EXPECT_EQ(d["object"]["stamp"]["path"], "deploy/app.yaml");
    EXPECT_EQ(d["object"]["stamp"]["source"], repo.https_url());
    EXPECT_EQ(d["release"]["name"], "web");
    EXPECT_EQ(d["release"]["phase"], "Deployed");
    EXPECT_EQ(d["release"]["currentCommit"], b);
    EXPECT_EQ(d["release"]["objectCommitIsCurrent"], true);
    EXPECT_EQ(d["release"]["inInventory"], true);
    ASSERT_GE(d["release"]["history"].size(), 2u);
    EXPECT_EQ(d["release"]["history"][0]["commit"], b);
    EXPECT_EQ(d["release"]["history"][1]["commit"], a);
    EXPECT_EQ(d["commit"]["id"], b);
    EXPECT_EQ(d["commit"]["from"], "git") << "read from the repository, with the Secret";
    EXPECT_EQ(d["commit"]["title"], "B: web two");
    EXPECT_EQ(d["commit"]["author"]["name"], "Ada Lovelace");
    EXPECT_EQ(d["commit"]["author"]["email"], "ada@example.com");
    EXPECT_EQ(d["commit"]["signature"]["status"], "NotRequired");
    EXPECT_EQ(d["commit"]["signature"]["signed"], false);
    EXPECT_TRUE(d["commit"]["repository"]["status"] == "fetched" ||
                d["commit"]["repository"]["status"] == "cached")
        << d["commit"]["repository"];
    EXPECT_EQ(d["pipeline"]["name"], "ci");
    EXPECT_EQ(d["pipeline"]["matchedBy"], "gate");
    const json& run = d["pipeline"]["run"];
    EXPECT_EQ(run["commit"], b);
    EXPECT_EQ(run["phase"], "Succeeded");
    ASSERT_EQ(run["steps"].size(), 2u) << run.dump(2);
    EXPECT_EQ(run["steps"][0]["name"], "audit");
    EXPECT_EQ(run["steps"][0]["phase"], "Succeeded");
    EXPECT_EQ(run["steps"][1]["name"], "test");
    EXPECT_EQ(run["steps"][1]["phase"], "Succeeded");
    EXPECT_EQ(run["steps"][1]["results"]["coverage"], "81");
    std::cerr << "kubectl cairn trace deployment/web -o json:\n" << d.dump(2) << "\n";
  }

  // ---- other spellings of kinds, and what is not there.
  for (const std::string ref : {"deploy/web", "Deployment.apps/web", "deployments.v1.apps/web",
                                "svc/web", "cm/web-config", "configmap web-config"}) {
    json d = cli.json_of("trace " + ref);
    EXPECT_EQ(d["object"]["stamp"]["commit"], b) << ref;
    EXPECT_TRUE(d["errors"].empty()) << ref << ": " << d["errors"];
  }
  {
    json d = cli.json_of("trace release/web");
    EXPECT_EQ(d["commit"]["id"], b) << "a Release is traced from its current commit";
    EXPECT_EQ(d["pipeline"]["run"]["commit"], b);
    auto [rc, out] = cli("trace gizmo/x");
    EXPECT_EQ(rc, 1);
    EXPECT_TRUE(contains(out, "no resource type \"gizmo\"")) << out;
    std::tie(rc, out) = cli("trace deployment/nope");
    EXPECT_EQ(rc, 1);
    EXPECT_TRUE(contains(out, "deployments.apps \"nope\" not found in namespace " + n)) << out;
    std::tie(rc, out) = cli("trace web");
    EXPECT_EQ(rc, 2) << "usage: " << out;
  }
  {
    // An object Cairn did not apply leads nowhere: exit 1, and says why.
    ASSERT_TRUE(client().create(
        res::kConfigMaps, n,
        json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "by-hand"}}}}));
    auto [rc, out] = cli("trace cm/by-hand");
    EXPECT_EQ(rc, 1);
    EXPECT_TRUE(contains(out, "error: ConfigMap " + n + "/by-hand has no provenance stamp")) << out;
  }

  // ---- history
  {
    auto [rc, out] = cli("history release/web");
    EXPECT_EQ(rc, 0) << out;
    std::cerr << "kubectl cairn history release/web:\n" << out << "\n";
    EXPECT_TRUE(contains(out, "*  " + b.substr(0, 8) + "  Deployed")) << out;
    EXPECT_TRUE(contains(out, a.substr(0, 8) + "  Deployed")) << out;
    EXPECT_TRUE(contains(out, "B: web two")) << out;
    EXPECT_TRUE(contains(out, "A: first web")) << out;
    json d = cli.json_of("history release/web");
    ASSERT_EQ(d["history"].size(), 2u) << d.dump(2);
    EXPECT_EQ(d["history"][0]["commit"], b);
    EXPECT_EQ(d["history"][0]["current"], true);
    EXPECT_EQ(d["history"][1]["commit"], a);
    EXPECT_EQ(d["history"][1]["title"], "A: first web");
  }

  // ---- rollback: a commit not in history is refused without touching the Release.
  {
    auto [rc, out] = cli("rollback release/web --to 0123456789abcdef");
    EXPECT_EQ(rc, 1);
    EXPECT_TRUE(contains(out, "not in the Release's history")) << out;
    auto rel = client().get(kReleases, n, "web");
    ASSERT_TRUE(rel);
    EXPECT_FALSE(
        (*rel)["metadata"].value("annotations", json::object()).contains("cairn.dev/rollback-to"));
  }
  {
    auto [rc, out] = cli("rollback release/web --to " + a.substr(0, 10));
    ASSERT_EQ(rc, 0) << out;
    EXPECT_TRUE(contains(out, "rollback to " + a.substr(0, 8) + " requested")) << out;
    auto back = wait_deployed(n, a);
    ASSERT_TRUE(back) << back.error().to_string() << "\n" << op.log_tail();
    auto d = client().get(res::kDeployments, n, "web");
    ASSERT_TRUE(d);
    EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0].value("image", ""), "web:1");
    json t = cli.json_of("trace deployment/web");
    EXPECT_EQ(t["object"]["stamp"]["commit"], a);
    EXPECT_EQ(t["commit"]["title"], "A: first web");
    EXPECT_EQ(t["release"]["pinnedCommit"], a);
  }

  // ---- run: a manual run of the Pipeline.
  {
    auto [rc, out] = cli("run pipeline/ci");
    ASSERT_EQ(rc, 0) << out;
    EXPECT_TRUE(contains(out, "manual run requested")) << out;
    auto manual = wait_for(
        kPipelines, n, "ci",
        [](const json& o) {
          for (const auto& r : o.value("status", json::object()).value("runs", json::array())) {
            if (r.value("trigger", "") == "manual" && r.value("phase", "") == "Succeeded")
              return true;
          }
          return false;
        },
        90s);
    ASSERT_TRUE(manual) << manual.error().to_string() << "\n" << op.log_tail();
  }

  // ---- status, through kubectl's plugin mechanism.
  {
    const std::string kubectl = cluster_env("KUBECTL");
    ASSERT_FALSE(kubectl.empty());
    const std::string dir = fs::path(Cli::bin()).parent_path();
    auto [rc, out] = sh("PATH=" + dir + ":$PATH " + kubectl + " cairn status -n " + n + " 2>&1");
    EXPECT_EQ(rc, 0) << out;
    std::cerr << "kubectl cairn status:\n" << out << "\n";
    EXPECT_TRUE(contains(out, "RELEASE")) << out;
    EXPECT_TRUE(contains(out, "web      Deployed  True   " + a.substr(0, 8))) << out;
    EXPECT_TRUE(contains(out, "PIPELINE")) << out;
    EXPECT_TRUE(contains(out, "manual")) << "the last run was the manual one:\n" << out;
    EXPECT_FALSE(has_escape(out));
    json d = cli.json_of("status");
    ASSERT_EQ(d["releases"].size(), 1u);
    EXPECT_EQ(d["releases"][0]["name"], "web");
    EXPECT_EQ(d["releases"][0]["currentCommit"], a);
    ASSERT_EQ(d["pipelines"].size(), 1u);
    EXPECT_EQ(d["pipelines"][0]["name"], "ci");
    EXPECT_EQ(d["pipelines"][0]["lastRun"]["trigger"], "manual");
  }

  // ---- colour on a terminal only (script(1) gives the plugin a pty).
  {
    const std::string cmd = Cli::bin() + " status -n " + n;
    auto [rc, tty] = sh("script -qec '" + cmd + "' /dev/null");
    EXPECT_EQ(rc, 0) << tty;
    EXPECT_TRUE(contains(tty, "\033[32mDeployed\033[0m")) << "colour on a terminal:\n" << tty;
    auto [rc2, no_color] = sh("NO_COLOR=1 script -qec '" + cmd + "' /dev/null");
    EXPECT_EQ(rc2, 0);
    EXPECT_TRUE(contains(no_color, "Deployed"));
    EXPECT_FALSE(has_escape(no_color)) << "NO_COLOR:\n" << no_color;
    auto [rc3, flag] = sh("script -qec '" + cmd + " --no-color' /dev/null");
    EXPECT_EQ(rc3, 0);
    EXPECT_FALSE(has_escape(flag)) << "--no-color:\n" << flag;
  }

  // ---- the repository cannot be read (wrong password): the trace says so,
  // goes on with what the cluster knows, and still exits 0.
  {
    ASSERT_TRUE(client().patch(res::kSecrets, n, "git-auth", kube::PatchType::kMerge,
                               {{"stringData", {{"password", "wrong-pass-e2e"}}}}));
    const std::string fresh = cli.cache() + "-fresh";
    auto [rc, out] =
        sh(Cli::bin() + " trace deployment/web -n " + n + " --git-cache-dir " + fresh + " -o json");
    fs::remove_all(fresh);
    EXPECT_EQ(rc, 0) << out;
    json d = json::parse(out, nullptr, false);
    ASSERT_FALSE(d.is_discarded()) << out;
    EXPECT_EQ(d["commit"]["repository"]["status"], "unreachable") << d["commit"].dump(2);
    EXPECT_EQ(d["commit"]["from"], "pipeline") << "title and author from the Pipeline run";
    EXPECT_EQ(d["commit"]["title"], "A: first web");
    EXPECT_EQ(d["commit"]["author"]["name"], "Ada Lovelace");
    ASSERT_FALSE(d["warnings"].empty());
    EXPECT_TRUE(contains(d["warnings"][0].get<std::string>(), "cannot be reached"))
        << d["warnings"];
    EXPECT_FALSE(contains(out, "wrong-pass-e2e")) << "credentials are never printed";
    EXPECT_FALSE(contains(out, password));
  }
}

}  // namespace
}  // namespace cairn::e2e
