// Where the apiserver is and how to prove who we are: kubeconfig files and the
// in-cluster service-account mount. PEM material is held in memory so that
// inline (*-data) and file-based kubeconfigs behave the same.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "kube/error.h"

namespace cairn::kube {

struct Config {
  std::string server;  // https://host:port, no trailing slash
  std::string ca_pem;  // empty: the system trust store
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // static bearer token
  std::string token_file;  // re-read periodically (projected SA tokens rotate)
  std::string namespace_ = "default";
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string user_agent = "cairn/0.1";

  // Client-side rate limit (client-go's defaults are 5/10; controllers raise them).
  double qps = 50;
  int burst = 100;

  // Kept for messages: where this config came from.
  std::string origin;
};

struct LoadOptions {
  std::string context;  // empty: current-context
  // insecure-skip-tls-verify in a kubeconfig is refused unless this is set,
  // so a copied dev kubeconfig cannot silently disable TLS in production.
  bool allow_insecure = false;
};

// Parses a kubeconfig document. `base_dir` resolves relative file paths, as
// kubectl does (relative to the kubeconfig file's directory).
Result<Config> parse_kubeconfig(std::string_view yaml, const std::string& base_dir,
                                const LoadOptions& opts = {});

// Reads and parses a kubeconfig file.
Result<Config> load_kubeconfig(const std::string& path, const LoadOptions& opts = {});

// The in-cluster config: KUBERNETES_SERVICE_HOST/PORT and the service-account
// mount (token, ca.crt, namespace). `root` replaces
// /var/run/secrets/kubernetes.io/serviceaccount for tests.
Result<Config> in_cluster_config(const std::string& root = {});

// What kubectl would pick: an explicit path, else $KUBECONFIG (first entry),
// else in-cluster when running in a Pod, else ~/.kube/config.
Result<Config> default_config(const std::string& explicit_path = {}, const LoadOptions& opts = {});

// Returns the bearer token to send, re-reading token_file at most once per
// `refresh` (projected service-account tokens are rotated by the kubelet).
class TokenSource {
 public:
  explicit TokenSource(const Config& c, std::chrono::seconds refresh = std::chrono::seconds(60));
  std::string token();

 private:
  std::mutex mu_;
  std::string static_token_;
  std::string file_;
  std::chrono::seconds refresh_;
  std::string cached_;                               // guarded by mu_
  std::chrono::steady_clock::time_point read_at_{};  // guarded by mu_
};

}  // namespace cairn::kube
