#include "webhook.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cluster.h"
#include "kube/config.h"
#include "kube/util.h"

namespace cairn::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A test that ctest's timeout killed (or that crashed) leaves its webhook
// registered with failurePolicy Fail, pointing at a port nobody serves: every
// later test in the run would then be refused its namespaces. Tests run one
// at a time, so each test process starts by removing what an earlier one
// left (configurations named cairn-e2e-*, as register_with_apiserver names
// them).
class StaleWebhooks : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!kube::default_config()) return;  // no cluster: the test says so itself
    auto list = client().list(kube::res::kValidatingWebhookConfigurations, "");
    if (!list) return;
    for (const auto& vwc : (*list)["items"]) {
      const std::string name = vwc["metadata"].value("name", "");
      if (!name.starts_with("cairn-e2e-")) continue;
      std::cerr << "e2e: removing the webhook configuration " << name
                << " an earlier test left behind\n";
      (void)client().remove(kube::res::kValidatingWebhookConfigurations, "", name);
    }
  }
};
[[maybe_unused]] const ::testing::Environment* const kStaleWebhooks =
    ::testing::AddGlobalTestEnvironment(new StaleWebhooks);

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string fresh_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  char* p = mkdtemp(tmpl.data());
  return p ? p : "";
}

}  // namespace

WebhookProcess::WebhookProcess(std::vector<std::string> extra)
    : WebhookProcess(std::move(extra), true) {}

WebhookProcess::WebhookProcess(std::vector<std::string> extra, bool start_now)
    : extra_(std::move(extra)) {
  dir_ = fresh_dir("cairn-e2e-webhook");
  log_ = dir_ + "/webhook.log";
  cert_ = dir_ + "/tls.crt";
  key_ = dir_ + "/tls.key";
  use_ca(self_signed_ca("cairn-e2e-webhook-ca"));
  port_ = free_port();
  do {
    probe_port_ = free_port();
  } while (probe_port_ == port_);
  if (start_now) start();
}

void WebhookProcess::use_ca(const Pem& ca) {
  ca_ = ca;
  ca_pem_ = ca.cert;
  write_serving_certificate();
}

void WebhookProcess::write_serving_certificate() {
  Pem serving = issue_server_cert(ca_, "127.0.0.1");
  // Each file whole or not at all; the key first, as the two renames of a
  // rotation can be seen in between.
  std::ofstream(key_ + ".new") << serving.key;
  std::ofstream(cert_ + ".new") << serving.cert;
  fs::rename(key_ + ".new", key_);
  fs::rename(cert_ + ".new", cert_);
  last_cert_ = serving.cert;
}

std::string WebhookProcess::rotate_certificate() {
  write_serving_certificate();
  return last_cert_;
}

void WebhookProcess::add_flags(const std::vector<std::string>& more) {
  extra_.insert(extra_.end(), more.begin(), more.end());
}

WebhookProcess::~WebhookProcess() {
  if (!registered_.empty())
    (void)client().remove(kube::res::kValidatingWebhookConfigurations, "", registered_);
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void WebhookProcess::start() {
  std::vector<std::string> args = {
      CAIRN_WEBHOOK_BIN, "--addr", "127.0.0.1:" + std::to_string(port_), "--tls-cert", cert_,
      "--tls-key", key_, "--probe-addr", "127.0.0.1:" + std::to_string(probe_port_), "--namespace",
      "cairn-system", "--operator-users", "cairn-operator", "--git-cache-dir", dir_ + "/git-cache",
      // The tests' own user (cairn-admin, system:masters) is the platform:
      // it creates Releases, Pipelines and their Secrets.
      "--platform-group", "system:masters",
      // Tests stop it often: no grace period unless a
      // test asks for one.
      "--shutdown-delay", "0s"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto [rc, out] =
        sh("curl -fsS http://127.0.0.1:" + std::to_string(probe_port_) + "/readyz 2>/dev/null");
    if (rc == 0) return;
    std::this_thread::sleep_for(100ms);
  }
  std::cerr << "e2e: webhook did not become ready; log:\n" << log_tail() << "\n";
}

void WebhookProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void WebhookProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(100ms);
  }
  kill9();
}

std::string WebhookProcess::metrics() const {
  return sh("curl -fsS http://127.0.0.1:" + std::to_string(probe_port_) + "/metrics").second;
}

std::string WebhookProcess::log_tail(size_t bytes) const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

kube::json WebhookProcess::configuration(const std::string& name, const std::string& base_url,
                                         const std::string& ca_pem) {
  using kube::json;
  // Governed namespaces only; kube-system and Cairn's own namespace never
  // (kubernetes.io/metadata.name exists from Kubernetes 1.21; on 1.20 they
  // are left out because they do not carry the enforce label).
  json selector = {{"matchExpressions",
                    json::array({{{"key", "cairn.dev/enforce"},
                                  {"operator", "In"},
                                  {"values", json::array({"deny", "warn", "audit"})}},
                                 {{"key", "kubernetes.io/metadata.name"},
                                  {"operator", "NotIn"},
                                  {"values", json::array({"kube-system", "kube-public",
                                                          "kube-node-lease", "cairn-system"})}}})}};
  auto rule = [](std::vector<std::string> groups, std::vector<std::string> resources,
                 std::vector<std::string> ops) {
    return json{{"apiGroups", groups},
                {"apiVersions", json::array({"*"})},
                {"operations", ops},
                {"resources", resources},
                {"scope", "Namespaced"}};
  };
  const std::vector<std::string> cud = {"CREATE", "UPDATE", "DELETE"};
  auto hook = [&](const std::string& hook_name, const std::string& path, json rules) {
    return json{
        {"name", hook_name},
        {"admissionReviewVersions", json::array({"v1"})},
        {"sideEffects", "None"},
        {"failurePolicy", "Fail"},
        {"timeoutSeconds", 5},
        {"matchPolicy", "Equivalent"},
        {"namespaceSelector", selector},
        {"rules", std::move(rules)},
        {"clientConfig", {{"url", base_url + path}, {"caBundle", kube::base64_encode(ca_pem)}}}};
  };
  // Every namespaced kind (closed by construction), the scale subresources,
  // exec/attach, and the status of Cairn's own kinds (a gate reads it).
  json governed = json::array(
      {rule({"*"}, {"*", "*/scale"}, cud),
       rule({""}, {"pods/exec", "pods/attach", "pods/ephemeralcontainers"}, {"CONNECT", "UPDATE"}),
       rule({"cairn.dev"}, {"pipelines/status", "releases/status"}, {"UPDATE"})});
  json cairn = json::array({rule({"cairn.dev"}, {"pipelines", "releases"}, {"CREATE", "UPDATE"})});
  // Governed Namespaces themselves: their Cairn labels are the platform's.
  json namespaces = hook("namespaces.cairn.dev", "/validate",
                         json::array({{{"apiGroups", json::array({""})},
                                       {"apiVersions", json::array({"v1"})},
                                       {"operations", cud},
                                       {"resources", json::array({"namespaces"})},
                                       {"scope", "Cluster"}}}));
  namespaces.erase("namespaceSelector");
  namespaces["objectSelector"] = {
      {"matchExpressions", json::array({{{"key", "cairn.dev/enforce"}, {"operator", "Exists"}}})}};
  return {
      {"apiVersion", "admissionregistration.k8s.io/v1"},
      {"kind", "ValidatingWebhookConfiguration"},
      {"metadata", {{"name", name}}},
      {"webhooks", json::array({hook("provenance.cairn.dev", "/validate", governed),
                                hook("specs.cairn.dev", "/validate-cairn", cairn), namespaces})}};
}

void WebhookProcess::register_with_apiserver(const std::string& name, const std::string& probe_ns) {
  (void)register_configuration(configuration(name, url(), ca_pem_), probe_ns);
}

bool WebhookProcess::register_configuration(const kube::json& vwc, const std::string& probe_ns) {
  auto created = client().create(kube::res::kValidatingWebhookConfigurations, "", vwc);
  if (!created) {
    std::cerr << "e2e: registering the webhook: " << created.error().to_string() << "\n";
    return false;
  }
  registered_ = vwc["metadata"].value("name", "");
  // The apiserver picks configurations up asynchronously: wait until an
  // unstamped dry-run create in the governed namespace is answered by us.
  kube::json cm = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "cairn-e2e-probe"}}}};
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client().create(kube::res::kConfigMaps, probe_ns, cm, {.dry_run = true});
    if (!r && r.error().message.find("Cairn") != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  }
  std::cerr << "e2e: the apiserver never called the webhook; log:\n" << log_tail() << "\n";
  return false;
}

void ensure_operator_identity() {
  const kube::ApiResource kClusterRoleBindings{"rbac.authorization.k8s.io", "v1",
                                               "clusterrolebindings", "ClusterRoleBinding", false};
  json crb = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
              {"kind", "ClusterRoleBinding"},
              {"metadata", {{"name", "cairn-e2e-operator"}}},
              {"roleRef",
               {{"apiGroup", "rbac.authorization.k8s.io"},
                {"kind", "ClusterRole"},
                {"name", "cluster-admin"}}},
              {"subjects", json::array({{{"apiGroup", "rbac.authorization.k8s.io"},
                                         {"kind", "User"},
                                         {"name", "cairn-operator"}}})}};
  (void)client().create(kClusterRoleBindings, "", crb);
}

std::string kubeconfig_for(const std::string& cn, const std::string& org) {
  std::string pki = cluster_env("CAIRN_PKI");
  Pem ca{*kube::read_file(pki + "/ca.crt"), *kube::read_file(pki + "/ca.key")};
  Pem id = issue_client_cert(ca, cn, org, -60s, 86400s);
  std::string dir = fresh_dir("cairn-e2e-kubeconfig");
  std::ofstream(dir + "/tls.crt") << id.cert;
  std::ofstream(dir + "/tls.key") << id.key;
  std::string path = dir + "/kubeconfig";
  std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n"
                      << "    server: " << cluster_env("CAIRN_APISERVER_URL") << "\n"
                      << "    certificate-authority: " << pki << "/ca.crt\n"
                      << "users:\n- name: " << cn << "\n  user:\n"
                      << "    client-certificate: " << dir << "/tls.crt\n"
                      << "    client-key: " << dir << "/tls.key\n"
                      << "contexts:\n- name: e2e\n  context: {cluster: e2e, user: " << cn << "}\n"
                      << "current-context: e2e\n";
  return path;
}

std::pair<int, std::string> kubectl(const std::string& args, const std::string& stdin_text) {
  std::string cmd = cluster_env("KUBECTL") + " " + args + " 2>&1";
  if (!stdin_text.empty()) cmd = "printf '%s' " + shell_quote(stdin_text) + " | " + cmd;
  return sh(cmd);
}

}  // namespace cairn::e2e
