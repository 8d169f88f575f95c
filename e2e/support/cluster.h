// What every e2e test needs: a client for the local control plane that the
// ctest fixture brought up, a namespace of its own, and waiting on a
// condition by following a watch (never by sleeping).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "kube/client.h"

namespace cairn::e2e {

using kube::json;

// The client for $KUBECONFIG (set by the fixture); aborts the test binary with
// a clear message when the cluster is not there.
kube::Client& client();

// Creates a namespace with a unique name (prefix + random suffix) and deletes
// it when the returned guard goes away.
class TestNamespace {
 public:
  explicit TestNamespace(const std::string& prefix,
                         const std::map<std::string, std::string>& labels = {});
  ~TestNamespace();
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Waits until `pred` holds for the object, following a watch from its current
// state. Returns the object that satisfied it, or a Timeout error that quotes
// the last state seen.
kube::Result<json> wait_for(const kube::ApiResource& r, const std::string& ns,
                            const std::string& name, const std::function<bool(const json&)>& pred,
                            std::chrono::seconds timeout);

// True if the object has condition `type` with status "True".
bool has_condition(const json& obj, const std::string& type, const std::string& status = "True");

// The object's condition `type` (status, reason, message, ...); an empty
// object when it has none.
json condition(const json& obj, const std::string& type);

// Reads a YAML or JSON document into JSON (test manifests are written inline).
json yaml(const std::string& text);

}  // namespace cairn::e2e

namespace cairn::e2e {

// Values from <state>/cluster.env written by hack/up.sh (CAIRN_ETCD_URL,
// CAIRN_PKI, KUBECTL, ...); empty string for an unknown key.
std::string cluster_env(const std::string& key);

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it),
// for servers the tests start; far less likely to collide than a random one.
int free_port();

// Runs a shell command, returns its exit status and (stdout) output.
std::pair<int, std::string> sh(const std::string& cmd);

// A client certificate signed by `ca` (PEM cert + key), valid from now+`from`
// to now+`to`; both may be negative to make an expired certificate.
struct Pem {
  std::string cert, key;
};
Pem issue_client_cert(const Pem& ca, const std::string& cn, const std::string& org,
                      std::chrono::seconds from, std::chrono::seconds to);
// A serving certificate for an IP address (subjectAltName IP:...), signed by `ca`.
Pem issue_server_cert(const Pem& ca, const std::string& ip);
// A self-signed CA that the cluster does not know.
Pem self_signed_ca(const std::string& cn);

}  // namespace cairn::e2e
