#include "kube/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kube/util.h"

namespace cairn::kube {
namespace {

const char* kCa = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";

std::string inline_kubeconfig(const std::string& extra_cluster = "") {
  return R"(apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: local, user: admin, namespace: shop}
- name: other
  context: {cluster: local, user: robot}
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: )" +
         base64_encode(kCa) + "\n" + extra_cluster + R"(
users:
- name: admin
  user:
    client-certificate-data: )" +
         base64_encode("CERT") + R"(
    client-key-data: )" +
         base64_encode("KEY") + R"(
- name: robot
  user:
    token: s3cret
)";
}

TEST(Kubeconfig, CurrentContextWithInlineData) {
  auto cfg = parse_kubeconfig(inline_kubeconfig(), "/tmp");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->server, "https://127.0.0.1:6443") << "trailing slash dropped";
  EXPECT_EQ(cfg->ca_pem, kCa);
  EXPECT_EQ(cfg->client_cert_pem, "CERT");
  EXPECT_EQ(cfg->client_key_pem, "KEY");
  EXPECT_EQ(cfg->namespace_, "shop");
  EXPECT_TRUE(cfg->token.empty());
}

TEST(Kubeconfig, ExplicitContextAndToken) {
  auto cfg = parse_kubeconfig(inline_kubeconfig(), "/tmp", {.context = "other"});
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->token, "s3cret");
  EXPECT_EQ(cfg->namespace_, "default");
}

TEST(Kubeconfig, UnknownContextNamesIt) {
  auto cfg = parse_kubeconfig(inline_kubeconfig(), "/tmp", {.context = "prod"});
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().code, Code::kConfig);
  EXPECT_NE(cfg.error().message.find("\"prod\""), std::string::npos) << cfg.error().message;
}

TEST(Kubeconfig, InsecureRefusedUnlessAllowed) {
  auto doc = inline_kubeconfig("    insecure-skip-tls-verify: true");
  auto refused = parse_kubeconfig(doc, "/tmp");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("insecure-skip-tls-verify"), std::string::npos);
  auto allowed = parse_kubeconfig(doc, "/tmp", {.allow_insecure = true});
  ASSERT_TRUE(allowed) << allowed.error().to_string();
  EXPECT_TRUE(allowed->insecure_skip_tls_verify);
}

TEST(Kubeconfig, FilePathsResolveRelativeToTheKubeconfig) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("cairn-kc-" + std::to_string(::getpid()));
  fs::create_directories(dir / "pki");
  std::ofstream(dir / "pki/ca.crt") << kCa;
  std::ofstream(dir / "pki/admin.crt") << "CERTFILE";
  std::ofstream(dir / "pki/admin.key") << "KEYFILE";
  std::ofstream(dir / "kubeconfig") << R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://10.0.0.1:443", certificate-authority: pki/ca.crt}}]
users: [{name: u, user: {client-certificate: pki/admin.crt, client-key: pki/admin.key}}]
)";
  auto cfg = load_kubeconfig((dir / "kubeconfig").string());
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->ca_pem, kCa);
  EXPECT_EQ(cfg->client_cert_pem, "CERTFILE");
  EXPECT_EQ(cfg->client_key_pem, "KEYFILE");
  fs::remove(dir / "pki/admin.key");
  auto missing = load_kubeconfig((dir / "kubeconfig").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("admin.key"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Kubeconfig, BadInputGivesConfigErrors) {
  for (const char* doc : {"", "[1, 2", "just a string", "current-context: x\ncontexts: 5",
                          "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                          "clusters: [{name: k, cluster: {server: 'http://plain:80'}}]"}) {
    auto cfg = parse_kubeconfig(doc, "/tmp");
    ASSERT_FALSE(cfg) << doc;
    EXPECT_EQ(cfg.error().code, Code::kConfig) << doc;
    EXPECT_FALSE(cfg.error().message.empty());
  }
  auto bad64 = parse_kubeconfig(
      "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
      "clusters: [{name: k, cluster: {server: 'https://a', certificate-authority-data: '!!!'}}]",
      "/tmp");
  ASSERT_FALSE(bad64);
  EXPECT_NE(bad64.error().message.find("certificate-authority-data"), std::string::npos);
}

TEST(InCluster, ReadsServiceAccountMount) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("cairn-sa-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "ca.crt") << kCa;
  std::ofstream(dir / "token") << "tok-1\n";
  std::ofstream(dir / "namespace") << "cairn-system";
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto cfg = in_cluster_config(dir.string());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(cfg) << cfg.error().to_string();
  EXPECT_EQ(cfg->server, "https://10.96.0.1:443");
  EXPECT_EQ(cfg->namespace_, "cairn-system");

  // The token is re-read after the refresh period: projected tokens rotate.
  TokenSource ts(*cfg, std::chrono::seconds(0));
  EXPECT_EQ(ts.token(), "tok-1");
  std::ofstream(dir / "token") << "tok-2";
  EXPECT_EQ(ts.token(), "tok-2");
  TokenSource slow(*cfg, std::chrono::seconds(3600));
  EXPECT_EQ(slow.token(), "tok-2");
  std::ofstream(dir / "token") << "tok-3";
  EXPECT_EQ(slow.token(), "tok-2") << "not re-read before the refresh period";
  fs::remove_all(dir);
}

TEST(InCluster, OutsideAClusterSaysSo) {
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  auto cfg = in_cluster_config("/nonexistent");
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message.find("--kubeconfig"), std::string::npos);
}

}  // namespace
}  // namespace cairn::kube
