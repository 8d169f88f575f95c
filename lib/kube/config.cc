#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "kube/util.h"

namespace cairn::kube {
namespace {

namespace fs = std::filesystem;

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p.front() == '/' || base_dir.empty()) return p;
  return (fs::path(base_dir) / p).string();
}

// A named entry of one of the kubeconfig lists (clusters, users, contexts).
// (A default-constructed YAML::Node is a defined null, so absence is an optional.)
std::optional<YAML::Node> find_named(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& item : list) {
    if (item.IsMap() && item["name"] && item["name"].as<std::string>("") == name) {
      return item;
    }
  }
  return std::nullopt;
}

std::string str(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap()) return {};
  auto v = n[key];
  if (!v || !v.IsScalar()) return {};
  return v.as<std::string>("");
}

// Loads PEM from either `<key>-data` (base64) or `<key>` (a file path).
Result<std::string> pem_field(const YAML::Node& n, const std::string& key,
                              const std::string& base_dir, const std::string& where) {
  std::string data = str(n, (key + "-data").c_str());
  if (!data.empty()) {
    auto decoded = base64_decode(data);
    if (!decoded) {
      return fail(
          Code::kConfig,
          where + "." + key + "-data is not valid base64; re-encode the PEM with `base64 -w0`");
    }
    return *decoded;
  }
  std::string file = str(n, key.c_str());
  if (file.empty()) return std::string();
  auto content = read_file(resolve(base_dir, file));
  if (!content) {
    return fail(Code::kConfig, where + "." + key + ": cannot read " + resolve(base_dir, file) +
                                   " (" + content.error() + "); fix the path or inline it as " +
                                   key + "-data");
  }
  return *content;
}

}  // namespace

Result<Config> parse_kubeconfig(std::string_view yaml, const std::string& base_dir,
                                const LoadOptions& opts) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return fail(Code::kConfig, std::string("kubeconfig is not valid YAML: ") + e.what());
  }
  if (!root.IsMap()) return fail(Code::kConfig, "kubeconfig is not a YAML mapping");

  try {
    std::string ctx_name = opts.context.empty() ? str(root, "current-context") : opts.context;
    if (ctx_name.empty()) {
      return fail(Code::kConfig,
                  "kubeconfig has no current-context; set one with `kubectl config "
                  "use-context` or pass a context explicitly");
    }
    auto ctx = find_named(root["contexts"], ctx_name);
    if (!ctx) return fail(Code::kConfig, "kubeconfig has no context named \"" + ctx_name + "\"");
    YAML::Node c = (*ctx)["context"];
    std::string cluster_name = str(c, "cluster");
    std::string user_name = str(c, "user");

    auto cluster_entry = find_named(root["clusters"], cluster_name);
    if (!cluster_entry) {
      return fail(Code::kConfig, "context \"" + ctx_name + "\" names cluster \"" + cluster_name +
                                     "\", which the kubeconfig does not define");
    }
    YAML::Node cluster = (*cluster_entry)["cluster"];
    const std::string cwhere = "clusters[" + cluster_name + "].cluster";

    Config cfg;
    cfg.origin = "kubeconfig context " + ctx_name;
    cfg.server = str(cluster, "server");
    while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
    if (cfg.server.empty()) return fail(Code::kConfig, cwhere + ".server is empty");
    if (cfg.server.rfind("https://", 0) != 0) {
      return fail(Code::kConfig, cwhere + ".server is \"" + cfg.server +
                                     "\"; Cairn only talks to an apiserver over https://");
    }
    cfg.tls_server_name = str(cluster, "tls-server-name");
    std::string insecure = str(cluster, "insecure-skip-tls-verify");
    if (insecure == "true") {
      if (!opts.allow_insecure) {
        return fail(Code::kConfig,
                    cwhere +
                        ".insecure-skip-tls-verify is true; refusing to talk to an "
                        "unverified apiserver. Set certificate-authority(-data) instead, or "
                        "pass --insecure-skip-tls-verify explicitly");
      }
      cfg.insecure_skip_tls_verify = true;
    }
    auto ca = pem_field(cluster, "certificate-authority", base_dir, cwhere);
    if (!ca) return std::unexpected(ca.error());
    cfg.ca_pem = *ca;

    if (!user_name.empty()) {
      auto user_entry = find_named(root["users"], user_name);
      if (!user_entry) {
        return fail(Code::kConfig, "context \"" + ctx_name + "\" names user \"" + user_name +
                                       "\", which the kubeconfig does not define");
      }
      YAML::Node user = (*user_entry)["user"];
      const std::string uwhere = "users[" + user_name + "].user";
      auto cert = pem_field(user, "client-certificate", base_dir, uwhere);
      if (!cert) return std::unexpected(cert.error());
      auto key = pem_field(user, "client-key", base_dir, uwhere);
      if (!key) return std::unexpected(key.error());
      cfg.client_cert_pem = *cert;
      cfg.client_key_pem = *key;
      if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty()) {
        return fail(Code::kConfig, uwhere +
                                       " has a client certificate without a key (or a key "
                                       "without a certificate); set both");
      }
      cfg.token = str(user, "token");
      std::string tf = str(user, "tokenFile");
      if (!tf.empty()) cfg.token_file = resolve(base_dir, tf);
      if (user["exec"] || user["auth-provider"]) {
        if (cfg.token.empty() && cfg.token_file.empty() && cfg.client_cert_pem.empty()) {
          return fail(Code::kConfig, uwhere +
                                         " uses an exec or auth-provider plugin, which Cairn "
                                         "does not run; use a token or client certificate");
        }
      }
    }
    std::string ns = str(c, "namespace");
    if (!ns.empty()) cfg.namespace_ = ns;
    return cfg;
  } catch (const YAML::Exception& e) {
    return fail(Code::kConfig, std::string("kubeconfig has an unexpected shape: ") + e.what());
  }
}

Result<Config> load_kubeconfig(const std::string& path, const LoadOptions& opts) {
  auto content = read_file(path);
  if (!content) {
    return fail(Code::kConfig, "cannot read kubeconfig " + path + ": " + content.error());
  }
  auto cfg = parse_kubeconfig(*content, fs::path(path).parent_path().string(), opts);
  if (cfg) cfg->origin += " in " + path;
  return cfg;
}

Result<Config> in_cluster_config(const std::string& root_override) {
  const std::string root =
      root_override.empty() ? "/var/run/secrets/kubernetes.io/serviceaccount" : root_override;
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return fail(Code::kConfig,
                "not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are unset; pass "
                "--kubeconfig");
  }
  Config cfg;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  cfg.server = "https://" + h + ":" + port;
  auto ca = read_file(root + "/ca.crt");
  if (!ca) return fail(Code::kConfig, "cannot read " + root + "/ca.crt: " + ca.error());
  cfg.ca_pem = *ca;
  cfg.token_file = root + "/token";
  auto tok = read_file(cfg.token_file);
  if (!tok) return fail(Code::kConfig, "cannot read " + cfg.token_file + ": " + tok.error());
  if (auto ns = read_file(root + "/namespace"); ns && !trim(*ns).empty()) {
    cfg.namespace_ = std::string(trim(*ns));
  }
  cfg.origin = "in-cluster service account";
  return cfg;
}

Result<Config> default_config(const std::string& explicit_path, const LoadOptions& opts) {
  if (!explicit_path.empty()) return load_kubeconfig(explicit_path, opts);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string first(env);
    first = first.substr(0, first.find(':'));
    return load_kubeconfig(first, opts);
  }
  if (std::getenv("KUBERNETES_SERVICE_HOST")) return in_cluster_config();
  const char* home = std::getenv("HOME");
  std::string path = std::string(home ? home : "") + "/.kube/config";
  if (!fs::exists(path)) {
    return fail(Code::kConfig,
                "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config");
  }
  return load_kubeconfig(path, opts);
}

TokenSource::TokenSource(const Config& c, std::chrono::seconds refresh)
    : static_token_(c.token), file_(c.token_file), refresh_(refresh) {}

std::string TokenSource::token() {
  if (file_.empty()) return static_token_;
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (cached_.empty() || now - read_at_ >= refresh_) {
    // Keep the previous token if the file is briefly missing during rotation.
    if (auto t = read_file(file_); t && !trim(*t).empty()) cached_ = std::string(trim(*t));
    read_at_ = now;
  }
  return cached_.empty() ? static_token_ : cached_;
}

}  // namespace cairn::kube
