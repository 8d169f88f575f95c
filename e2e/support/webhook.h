// The admission webhook as a child process of a test, with a serving
// certificate of its own, registered with the real apiserver through a
// ValidatingWebhookConfiguration; and kubeconfigs for other identities (the
// operator runs as its own user, so that "DELETE only by the operator" means
// something).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "cluster.h"
#include "kube/client.h"

namespace cairn::e2e {

class WebhookProcess {
 public:
  // Extra flags are appended to the defaults (--operator-users cairn-operator,
  // --namespace cairn-system, its own git cache).
  explicit WebhookProcess(std::vector<std::string> extra = {});
  // With start_now false nothing runs yet: the certificate and ports are
  // ready (ca_pem(), url()) for a configuration rendered before the process
  // exists; add_flags() then start().
  WebhookProcess(std::vector<std::string> extra, bool start_now);
  ~WebhookProcess();  // unregisters, then stops
  void add_flags(const std::vector<std::string>& more);
  // A serving certificate from `ca` instead of the process's own CA, so that
  // replicas behind one address share one caBundle. Before start().
  void use_ca(const Pem& ca);
  // Issues a new serving certificate (new key, new serial) from the same CA
  // and replaces tls.crt and tls.key, each by a rename, while the process
  // runs. Returns the new certificate (PEM).
  std::string rotate_certificate();
  void start();
  void kill9();
  void stop();
  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // The CA that signed the serving certificate (PEM).
  const std::string& ca_pem() const { return ca_pem_; }
  int probe_port() const { return probe_port_; }  // /healthz, /readyz, /metrics
  // GET /metrics (Prometheus text format).
  std::string metrics() const;
  std::string log_tail(size_t bytes = 4000) const;

  // Creates the ValidatingWebhookConfiguration `name` as the chart does:
  // /validate for the governed kinds and /validate-cairn for Pipelines and
  // Releases, in namespaces labelled cairn.dev/enforce=deny|warn|audit,
  // failurePolicy Fail, sideEffects None, timeoutSeconds 5, matchPolicy
  // Equivalent, scale subresources included. Returns once the apiserver
  // calls the webhook (a dry-run create in `probe_ns` reaches it).
  void register_with_apiserver(const std::string& name, const std::string& probe_ns);
  // The same with a configuration of the caller's (e.g. the Helm chart's,
  // rendered with webhook.url = url() and caBundle = ca_pem()); returns
  // false if the apiserver refused it or never called the webhook.
  bool register_configuration(const kube::json& vwc, const std::string& probe_ns);
  static kube::json configuration(const std::string& name, const std::string& base_url,
                                  const std::string& ca_pem);

 private:
  std::vector<std::string> extra_;
  void write_serving_certificate();

  std::string dir_, log_, cert_, key_, ca_pem_, registered_;
  Pem ca_;
  std::string last_cert_;
  int port_, probe_port_;
  pid_t pid_ = -1;
};

// Binds the operator's user (cairn-operator) to cluster-admin, as the
// webhook recognises the operator by it; the chart's narrow RBAC is
// exercised by the chart's own tests. Idempotent.
void ensure_operator_identity();

// A kubeconfig file for user `cn` (groups `org`) with a client certificate
// from the cluster's CA; the path is returned.
std::string kubeconfig_for(const std::string& cn, const std::string& org);

// Runs kubectl (the cluster's own) with the args; returns exit status and
// stdout+stderr together (kubectl prints warnings and errors on stderr).
std::pair<int, std::string> kubectl(const std::string& args, const std::string& stdin_text = "");

}  // namespace cairn::e2e
