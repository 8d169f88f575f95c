// A REST client for any Kubernetes resource, on cpprestsdk. Objects are plain
// JSON (like client-go's unstructured); group/version/kind are mapped to
// resources through discovery. Every call returns Result<T>; nothing throws.
//
// Thread-safe: one Client is shared by all workers of a process. Calls block
// the calling thread, which must be one the program owns (never a cpprestsdk
// pool thread: blocking there deadlocks once the pool is exhausted).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "json/json.h"
#include "kube/config.h"
#include "kube/error.h"
#include "kube/ratelimit.h"

namespace cairn::kube {

using json = cairn::json;

// A resource type as discovery describes it.
struct ApiResource {
  std::string group;     // "" for core
  std::string version;   // "v1"
  std::string resource;  // plural, e.g. "deployments"
  std::string kind;      // "Deployment"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // /api/v1 or /apis/<group>/<version>
  std::string base_path() const;
  // Path of a collection or one object; ns may be empty for cluster scope or all namespaces.
  std::string path(std::string_view ns, std::string_view name = {},
                   std::string_view subresource = {}) const;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;        // "0": served from the watch cache
  std::string resource_version_match;  // NotOlderThan | Exact
  int64_t limit = 0;                   // page size; 0: no paging
  std::string continue_token;
  // Leave metadata.managedFields out of the items while parsing (caches).
  bool without_managed_fields = false;
};

struct DeleteOptions {
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::string propagation_policy;  // Foreground | Background | Orphan; empty: server default
  std::optional<int64_t> grace_period_seconds;
  bool dry_run = false;
};

struct WriteOptions {
  std::string field_manager;  // empty: the client's default
  bool dry_run = false;
};

enum class PatchType { kMerge, kJson, kStrategicMerge };

// A raw HTTP exchange, for what the typed calls do not cover (discovery, /version).
struct Request {
  std::string method = "GET";
  std::string path;   // starting with '/'
  std::string query;  // without '?'
  std::string body;
  std::string content_type;
  std::string accept = "application/json";
};

struct Response {
  int status = 0;
  std::string body;
  std::string retry_after;
};

// Receives each complete line of a streaming body. Return false to stop.
using LineHandler = std::function<bool(std::string_view line)>;

// Cancels a streaming call from another thread; the stream ends promptly.
class CancelToken {
 public:
  CancelToken();
  ~CancelToken();
  void cancel();
  bool cancelled() const;
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct ClientOptions {
  std::string field_manager = "cairn";
  std::chrono::seconds request_timeout{30};
  // Idle timeout of streaming calls (watches); must exceed the watch's own timeout.
  std::chrono::seconds stream_timeout{15 * 60};
  // Retries for 429 and transient errors on idempotent calls (GET, and writes
  // with preconditions); each waits Retry-After or a short backoff.
  int max_retries = 3;
};

// The calls a controller makes on the apiserver, as an interface (Envoy's
// style for I/O): Client implements it, and reconcilers take an Api& so that
// tests can drive them against an in-memory fake and inject faults.
class Api {
 public:
  virtual ~Api() = default;
  // Maps apiVersion + kind to a resource (discovery).
  virtual Result<ApiResource> resource_for(std::string_view api_version, std::string_view kind) = 0;
  // The resource of an object, from its apiVersion and kind.
  virtual Result<ApiResource> resource_of(const json& obj) = 0;
  // `ns` is ignored for cluster-scoped resources.
  virtual Result<json> get(const ApiResource& r, std::string_view ns, std::string_view name,
                           std::string_view subresource = {}) = 0;
  // One page of a list. `ns` empty lists all namespaces.
  virtual Result<json> list(const ApiResource& r, std::string_view ns,
                            const ListOptions& opts = {}) = 0;
  virtual Result<json> create(const ApiResource& r, std::string_view ns, const json& obj,
                              const WriteOptions& opts = {}) = 0;
  // PUT; the object's metadata.resourceVersion makes it a compare-and-swap.
  virtual Result<json> update(const ApiResource& r, std::string_view ns, const json& obj,
                              std::string_view subresource = {}, const WriteOptions& opts = {}) = 0;
  virtual Result<json> patch(const ApiResource& r, std::string_view ns, std::string_view name,
                             PatchType type, const json& patch, std::string_view subresource = {},
                             const WriteOptions& opts = {}) = 0;
  // Server-side apply (application/apply-patch+yaml; JSON is valid YAML).
  virtual Result<json> apply(const ApiResource& r, std::string_view ns, const json& obj, bool force,
                             std::string_view subresource = {}, const WriteOptions& opts = {}) = 0;
  // Deletes; NotFound is returned as an error so callers can decide.
  virtual Result<json> remove(const ApiResource& r, std::string_view ns, std::string_view name,
                              const DeleteOptions& opts = {}) = 0;
  // The field manager writes use when WriteOptions names none.
  virtual std::string default_field_manager() const = 0;
};

class Client final : public Api {
 public:
  static Result<std::unique_ptr<Client>> create(const Config& cfg, ClientOptions opts = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return cfg_; }

  // --- raw
  Result<Response> raw(const Request& req);
  // A request whose body is a stream of newline-separated records (watch).
  // Blocks until the stream ends, the handler returns false, or `cancel` fires.
  Result<void> stream(const Request& req, const LineHandler& on_line, CancelToken* cancel);

  // --- discovery
  // Maps apiVersion + kind to a resource. Cached; a miss refreshes the
  // discovery data (at most once per few seconds) before answering NotFound.
  Result<ApiResource> resource_for(std::string_view api_version, std::string_view kind) override;
  // The resource of an object, from its apiVersion and kind.
  Result<ApiResource> resource_of(const json& obj) override;
  void invalidate_discovery();

  // --- typed calls. `ns` is ignored for cluster-scoped resources.
  Result<json> get(const ApiResource& r, std::string_view ns, std::string_view name,
                   std::string_view subresource = {}) override;
  Result<json> list(const ApiResource& r, std::string_view ns,
                    const ListOptions& opts = {}) override;
  // Every page of a list, concatenated; metadata.resourceVersion is the first page's.
  Result<json> list_all(const ApiResource& r, std::string_view ns, ListOptions opts = {});
  Result<json> create(const ApiResource& r, std::string_view ns, const json& obj,
                      const WriteOptions& opts = {}) override;
  Result<json> update(const ApiResource& r, std::string_view ns, const json& obj,
                      std::string_view subresource = {}, const WriteOptions& opts = {}) override;
  Result<json> patch(const ApiResource& r, std::string_view ns, std::string_view name,
                     PatchType type, const json& patch, std::string_view subresource = {},
                     const WriteOptions& opts = {}) override;
  Result<json> apply(const ApiResource& r, std::string_view ns, const json& obj, bool force,
                     std::string_view subresource = {}, const WriteOptions& opts = {}) override;
  Result<json> remove(const ApiResource& r, std::string_view ns, std::string_view name,
                      const DeleteOptions& opts = {}) override;
  std::string default_field_manager() const override { return opts_.field_manager; }

  // Requests sent, for tests and metrics.
  uint64_t requests_sent() const { return requests_.load(); }

 private:
  Client(Config cfg, ClientOptions opts);
  Result<void> init();
  Result<Response> send(const Request& req, bool idempotent);
  Result<void> refresh_discovery();
  std::string field_manager(const WriteOptions& o) const;

  struct Transport;
  Config cfg_;
  ClientOptions opts_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<TokenSource> tokens_;
  TokenBucket bucket_;
  std::atomic<uint64_t> requests_{0};

  std::mutex disco_mu_;
  std::map<std::string, ApiResource> by_gvk_;         // "group/version/Kind"; guarded by disco_mu_
  std::chrono::steady_clock::time_point disco_at_{};  // guarded by disco_mu_
  bool disco_loaded_ = false;                         // guarded by disco_mu_
};

// Well-known resources, so common calls need no discovery round trip.
namespace res {
extern const ApiResource kNamespaces, kNodes, kPods, kEvents, kConfigMaps, kSecrets, kServices,
    kServiceAccounts, kLeases, kDeployments, kReplicaSets, kJobs, kValidatingWebhookConfigurations,
    kCustomResourceDefinitions;
}

// The "namespace/name" key of an object (or "name" for cluster-scoped ones).
std::string object_key(const json& obj);

}  // namespace cairn::kube
