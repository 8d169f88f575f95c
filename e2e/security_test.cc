// Security checks (issue #9): no credential that Cairn reads from a Secret
// shows up where people and tools look (logs, Events, status, metrics), and
// Cairn's HTTPS servers refuse TLS below 1.2.
//
// Covered elsewhere, not repeated here: a push hook without a valid
// signature is refused (Pipeline.SignedPushStartsARunAtOnceAndAnUnsignedOne
// IsRefused: 401 without a signature, with a wrong HMAC and with a wrong
// GitLab token, 202 when signed); the operator works under the chart's RBAC
// and is refused outside it (Chart.ReleaseAndPipelineRunUnderTheChartsRbac
// AndWebhookConfiguration: Forbidden reading another namespace's Secret and
// `auth can-i` checks; Chart.OneWatchedNamespaceRunsOnRolesAlone).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "kube/util.h"
#include "support/cluster.h"
#include "support/https_server.h"
#include "support/operator.h"
#include "support/webhook.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace res = kube::res;

// ------------------------------------------------------------ TLS versions

struct Handshake {
  bool ok = false;
  std::string version;  // negotiated, e.g. "TLSv1.2"
  std::string error;
};

// A handshake offering exactly `version`, with the client's own security
// level at 0 (OpenSSL 3 refuses TLS 1.0/1.1 itself at the default level 1),
// so that a refusal is the server's.
Handshake handshake(int port, int version) {
  Handshake h;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    h.error = "connect failed";
  } else {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      h.ok = true;
      h.version = SSL_get_version(ssl);
      SSL_shutdown(ssl);
    } else {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      h.error = buf;
    }
    SSL_free(ssl);
  }
  ERR_clear_error();
  ::close(fd);
  SSL_CTX_free(ctx);
  return h;
}

// A server that accepts only `version` (security level 0), for one
// connection: shows that the client really offers that version.
class OldTlsServer {
 public:
  OldTlsServer(int version, const fs::path& dir) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx_, version);
    SSL_CTX_set_max_proto_version(ctx_, version);
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_use_certificate_chain_file(ctx_, (dir / "tls.crt").c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, (dir / "tls.key").c_str(), SSL_FILETYPE_PEM);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 1);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
      SSL_free(ssl);
      ::close(c);
    });
  }
  ~OldTlsServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }

 private:
  SSL_CTX* ctx_;
  int fd_ = -1, port_ = 0;
  std::thread thread_;
};

void expect_tls_12_and_up_only(int port, const std::string& what) {
  for (auto [v, name] : {std::pair{TLS1_VERSION, "TLSv1"}, std::pair{TLS1_1_VERSION, "TLSv1.1"}}) {
    Handshake h = handshake(port, v);
    EXPECT_FALSE(h.ok) << what << " accepted " << name;
    EXPECT_NE(h.error, "connect failed") << what << " is not listening";
  }
  for (auto [v, name] :
       {std::pair{TLS1_2_VERSION, "TLSv1.2"}, std::pair{TLS1_3_VERSION, "TLSv1.3"}}) {
    Handshake h = handshake(port, v);
    EXPECT_TRUE(h.ok) << what << " refused " << name << ": " << h.error;
    EXPECT_EQ(h.version, name) << what;
  }
}

// A serving certificate for 127.0.0.1 in `dir` (tls.crt, tls.key).
void self_signed(const fs::path& dir) {
  fs::create_directories(dir);
  auto [rc, out] =
      sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
         "-subj /CN=push -addext subjectAltName=IP:127.0.0.1 -keyout " +
         (dir / "tls.key").string() + " -out " + (dir / "tls.crt").string() + " 2>&1");
  ASSERT_EQ(rc, 0) << out;
}

bool await_listening(int port) {
  for (auto until = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < until;) {
    if (handshake(port, TLS1_3_VERSION).error != "connect failed") return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

TEST(Security, TlsBelowOneTwoIsRefusedByTheWebhookAndThePushReceiver) {
  TestNamespace ns("e2e-sec-tls");
  fs::path dir = fs::temp_directory_path() / ("cairn-e2e-tls-" + ns.name());
  self_signed(dir);
  // The client can do TLS 1.0 and 1.1 with a server that allows them: a
  // refusal below is the server's, not the client's.
  for (auto [v, name] : {std::pair{TLS1_VERSION, "TLSv1"}, std::pair{TLS1_1_VERSION, "TLSv1.1"}}) {
    OldTlsServer control(v, dir);
    Handshake h = handshake(control.port(), v);
    ASSERT_TRUE(h.ok) << "this client cannot offer " << name << ": " << h.error;
    EXPECT_EQ(h.version, name);
  }

  WebhookProcess hook;
  ASSERT_TRUE(await_listening(hook.port())) << hook.log_tail();
  expect_tls_12_and_up_only(hook.port(), "the webhook (--addr)");

  ASSERT_TRUE(client().create(res::kSecrets, ns.name(),
                              {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "push-hook"}}},
                               {"stringData", {{"token", "t"}}}}));
  const int port = free_port();
  OperatorProcess op(ns.name(),
                     {"--push-addr", "127.0.0.1:" + std::to_string(port), "--push-tls-cert",
                      (dir / "tls.crt").string(), "--push-tls-key", (dir / "tls.key").string(),
                      "--push-secret", ns.name() + "/push-hook"});
  ASSERT_TRUE(await_listening(port)) << op.log_tail();
  expect_tls_12_and_up_only(port, "the operator's push receiver (--push-addr)");
  // The operator's and the webhook's other endpoints (/metrics, probes) are
  // plain HTTP on 127.0.0.1 by default: nothing to negotiate.
  fs::remove_all(dir);
}

// ------------------------------------------------------------ planted secrets

std::string planted(const std::string& what) {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return "planted-" + what + "-" + buf;
}

std::string all_of(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string pipeline_yaml(const std::string& name, const std::string& url,
                          const std::string& secret, const std::string& notify = "") {
  return R"(apiVersion: cairn.dev/v1alpha1
kind: Pipeline
metadata: {name: )" +
         name + R"(}
spec:
  source: {url: ")" +
         url + R"(", branch: main, interval: 10s, secretRef: {name: )" + secret + R"(}}
  steps:
  - {name: test, image: x, script: "grep -q yes ok"}
)" + notify;
}

std::string release_yaml(const std::string& name, const std::string& url,
                         const std::string& secret) {
  return R"(apiVersion: cairn.dev/v1alpha1
kind: Release
metadata: {name: )" +
         name + R"(}
spec:
  source: {url: ")" +
         url + R"(", branch: main, interval: 10s, secretRef: {name: )" + secret + R"(}}
  path: deploy
  rollout: {progressDeadline: 30s}
)";
}

// Condition `type` as "status reason: message"; "" when there is none.
std::string condition_text(const json& o, const std::string& type) {
  json c = condition(o, type);
  if (c.empty()) return "";
  return c.value("status", "") + " " + c.value("reason", "") + ": " + c.value("message", "");
}

TEST(Security, PlantedSecretsAppearInNoLogEventStatusOrMetric) {
  TestNamespace ns("e2e-sec-secrets", {{"cairn.dev/enforce", "deny"}});
  const std::string& n = ns.name();
  const std::string git_password = git_env("CAIRN_GIT_PASSWORD");
  ASSERT_GE(git_password.size(), 12u) << "the git server's password is not distinctive enough";
  const std::string wrong_password = planted("wrong-git-password");
  const std::string notify_token = planted("notify-token");
  const std::string notify_path = planted("notify-url-path");
  const std::string hmac_key = planted("notify-hmac-key");
  const std::string wrong_token = planted("wrong-notify-token");
  const std::string push_token = planted("push-token");

  // The notification endpoint: answers only the right token on the URL from
  // the Secret, refuses anything else.
  std::mutex mu;
  int accepted = 0, refused = 0;
  HttpsServer sink([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    bool ok = r.path.find(notify_path) != std::string::npos && r.headers.count("authorization") &&
              r.headers.at("authorization") == "Bearer " + notify_token;
    (ok ? accepted : refused)++;
    return HttpResponse{ok ? 200 : 401, "text/plain", ok ? "ok" : "no"};
  });

  auto ca = kube::read_file(git_env("CAIRN_GIT_CA"));
  ASSERT_TRUE(ca) << "git server CA missing";
  auto secret = [&](const std::string& name, const json& data) {
    ASSERT_TRUE(client().create(res::kSecrets, n,
                                {{"apiVersion", "v1"},
                                 {"kind", "Secret"},
                                 {"metadata", {{"name", name}}},
                                 {"stringData", data}}));
  };
  const std::string user = git_env("CAIRN_GIT_USER");
  secret("git-auth", {{"username", user}, {"password", git_password}, {"ca.crt", *ca}});
  secret("wrong-auth", {{"username", user}, {"password", wrong_password}, {"ca.crt", *ca}});
  secret("notify",
         {{"url", "https://127.0.0.1:" + std::to_string(sink.port()) + "/hooks/" + notify_path},
          {"token", notify_token},
          {"hmacKey", hmac_key},
          {"ca.crt", sink.ca_pem()}});
  secret("notify-wrong", {{"token", wrong_token}, {"ca.crt", sink.ca_pem()}});
  secret("push-hook", {{"token", push_token}});

  GitRepo repo("sec-" + n);
  const std::string a =
      repo.commit({{"deploy/app.yaml", web_app_yaml("web:1", true)}, {"ok", "yes\n"}}, "A: first");

  // The webhook governs the namespace: it reads the Release's git
  // credentials to check what the operator applies.
  WebhookProcess hook;
  hook.register_with_apiserver("cairn-e2e-" + n, n);
  ensure_operator_identity();
  fs::path dir = fs::temp_directory_path() / ("cairn-e2e-sec-" + n);
  self_signed(dir);
  const int push_port = free_port();
  OperatorProcess op(
      n, {"--kubeconfig", kubeconfig_for("cairn-operator", ""), "--push-addr",
          "127.0.0.1:" + std::to_string(push_port), "--push-tls-cert", (dir / "tls.crt").string(),
          "--push-tls-key", (dir / "tls.key").string(), "--push-secret", n + "/push-hook"});

  const std::string url = repo.https_url();
  ASSERT_TRUE(client().create(kPipelines, n, yaml(pipeline_yaml("ci", url, "git-auth", R"(
  notify:
  - {url: "https://example.invalid/replaced-by-the-secret", secretRef: {name: notify}}
  - url: "https://127.0.0.1:)" + std::to_string(sink.port()) + R"(/refused"
    secretRef: {name: notify-wrong}
)"))));
  ASSERT_TRUE(client().create(kPipelines, n, yaml(pipeline_yaml("wrong", url, "wrong-auth"))));
  ASSERT_TRUE(client().create(kReleases, n, yaml(release_yaml("web", url, "git-auth"))));
  ASSERT_TRUE(client().create(kReleases, n, yaml(release_yaml("wrong", url, "wrong-auth"))));

  // Every credential is used, and the wrong ones fail.
  auto run = wait_run(n, "ci", a, 90s);
  ASSERT_TRUE(run) << run.error().to_string() << "\n" << op.log_tail();
  EXPECT_EQ(run->value("phase", ""), "Succeeded") << run->dump();
  auto deployed = wait_release(n, a, "Deployed", 90s, "web");
  ASSERT_TRUE(deployed) << deployed.error().to_string() << "\n"
                        << op.log_tail() << "\n"
                        << hook.log_tail();
  auto wrong = wait_for(
      kPipelines, n, "wrong",
      [](const json& o) {
        return condition_text(o, "Ready").rfind("False AuthenticationFailed", 0) == 0;
      },
      60s);
  EXPECT_TRUE(wrong) << wrong.error().to_string();
  auto wrong_release = wait_for(
      kReleases, n, "wrong",
      [](const json& o) {
        return condition_text(o, "Ready").rfind("False", 0) == 0 &&
               condition_text(o, "Ready").find("uthentic") != std::string::npos;
      },
      60s);
  EXPECT_TRUE(wrong_release) << wrong_release.error().to_string();
  auto notified = wait_for(
      kPipelines, n, "ci",
      [](const json& o) { return condition_text(o, "Notified").rfind("False", 0) == 0; }, 60s);
  EXPECT_TRUE(notified) << "the refused notification is reported: " << notified.error().to_string();
  {
    std::lock_guard lock(mu);
    EXPECT_GT(accepted, 0) << "the Secret's URL and token were never used";
    EXPECT_GT(refused, 0) << "the wrong token was never sent";
  }
  // Pushes: refused without a signature and with a wrong one, accepted when
  // signed with the planted token.
  const std::string payload =
      json{{"ref", "refs/heads/main"}, {"after", a}, {"repository", {{"clone_url", url}}}}.dump();
  std::ofstream(dir / "payload.json") << payload;
  auto push = [&](const std::string& header) {
    return sh("curl -s -o /dev/null -w '%{http_code}' --cacert " + (dir / "tls.crt").string() +
              " -H 'Content-Type: application/json' " + header + " --data-binary @" +
              (dir / "payload.json").string() + " https://127.0.0.1:" + std::to_string(push_port) +
              "/hook")
        .second;
  };
  EXPECT_EQ(push(""), "401");
  EXPECT_EQ(push("-H 'X-Gitlab-Token: " + wrong_token + "'"), "401");
  auto [hrc, hmac] = sh("printf %s '" + payload + "' | openssl dgst -sha256 -hmac '" + push_token +
                        "' | sed 's/.*= //'");
  ASSERT_EQ(hrc, 0);
  hmac.erase(hmac.find_last_not_of("\n") + 1);
  EXPECT_EQ(push("-H 'X-Hub-Signature-256: sha256=" + hmac + "'"), "202");
  EXPECT_EQ(push("-H 'X-Gitlab-Token: " + push_token + "'"), "202");

  // Where people and tools look.
  std::vector<std::pair<std::string, std::string>> places;
  places.emplace_back("the operator's log", all_of(op.log_path()));
  places.emplace_back("the webhook's log", hook.log_tail(64u << 20));
  auto events = client().list(res::kEvents, n);
  ASSERT_TRUE(events);
  places.emplace_back("the namespace's Events", events->dump());
  for (const auto& [r, kind] :
       {std::pair{kPipelines, "Pipelines"}, std::pair{kReleases, "Releases"}}) {
    auto l = client().list(r, n);
    ASSERT_TRUE(l);
    places.emplace_back("the " + std::string(kind) + " (status included)", l->dump());
  }
  places.emplace_back("the operator's /metrics", op.metrics());
  places.emplace_back("the webhook's /metrics", hook.metrics());
  for (const auto& [where, text] : places) ASSERT_FALSE(text.empty()) << where << " is empty";
  EXPECT_NE(places[0].second.find("uthentic"), std::string::npos)
      << "the operator's log does not report the failed authentication at all";

  const std::vector<std::pair<std::string, std::string>> secrets = {
      {"the git password", git_password},       {"the wrong git password", wrong_password},
      {"the notification token", notify_token}, {"the notification URL's secret path", notify_path},
      {"the notification HMAC key", hmac_key},  {"the wrong notification token", wrong_token},
      {"the push hook's token", push_token}};
  for (const auto& [what, value] : secrets) {
    for (const auto& [where, text] : places) {
      EXPECT_EQ(text.find(value), std::string::npos) << what << " appears in " << where;
      EXPECT_EQ(text.find(kube::base64_encode(value)), std::string::npos)
          << what << " (base64) appears in " << where;
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cairn::e2e
