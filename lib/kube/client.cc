#include "kube/client.h"

#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <thread>

#include "kube/lines.h"
#include "kube/util.h"

namespace cairn::kube {

namespace http = web::http;
namespace http_client = web::http::client;

// ---------------------------------------------------------------- resources

std::string ApiResource::base_path() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string ApiResource::path(std::string_view ns, std::string_view name,
                              std::string_view subresource) const {
  std::string p = base_path();
  if (namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += "/";
  p += resource;
  if (!name.empty()) {
    p += "/";
    p += name;
    if (!subresource.empty()) {
      p += "/";
      p += subresource;
    }
  }
  return p;
}

namespace res {
const ApiResource kNamespaces{"", "v1", "namespaces", "Namespace", false};
const ApiResource kNodes{"", "v1", "nodes", "Node", false};
const ApiResource kPods{"", "v1", "pods", "Pod", true};
const ApiResource kEvents{"", "v1", "events", "Event", true};
const ApiResource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
const ApiResource kSecrets{"", "v1", "secrets", "Secret", true};
const ApiResource kServices{"", "v1", "services", "Service", true};
const ApiResource kServiceAccounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
const ApiResource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const ApiResource kDeployments{"apps", "v1", "deployments", "Deployment", true};
const ApiResource kReplicaSets{"apps", "v1", "replicasets", "ReplicaSet", true};
const ApiResource kJobs{"batch", "v1", "jobs", "Job", true};
const ApiResource kValidatingWebhookConfigurations{"admissionregistration.k8s.io", "v1",
                                                   "validatingwebhookconfigurations",
                                                   "ValidatingWebhookConfiguration", false};
const ApiResource kCustomResourceDefinitions{
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false};
}  // namespace res

std::string object_key(const json& obj) {
  const auto& md = obj.contains("metadata") ? obj["metadata"] : json::object();
  std::string ns = md.is_object() ? md.value("namespace", "") : "";
  std::string name = md.is_object() ? md.value("name", "") : "";
  return ns.empty() ? name : ns + "/" + name;
}

// ---------------------------------------------------------------- cancel

struct CancelToken::Impl {
  pplx::cancellation_token_source source;
  std::atomic<bool> cancelled{false};
};

CancelToken::CancelToken() : impl_(std::make_unique<Impl>()) {}
CancelToken::~CancelToken() = default;
void CancelToken::cancel() {
  impl_->cancelled = true;
  impl_->source.cancel();
}
bool CancelToken::cancelled() const { return impl_->cancelled.load(); }

// ---------------------------------------------------------------- TLS material

namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::shared_ptr<X509>;
using PkeyPtr = std::shared_ptr<EVP_PKEY>;

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

Result<std::vector<X509Ptr>> parse_certs(const std::string& pem, const std::string& what) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(x, X509Free{});
  }
  ERR_clear_error();  // the loop always ends on a "no start line" error
  if (out.empty()) {
    return fail(Code::kConfig, what + " holds no PEM certificate; check the file or *-data field");
  }
  return out;
}

Result<PkeyPtr> parse_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!k) {
    return fail(Code::kConfig, "client key is not a readable PEM private key (" + openssl_error() +
                                   "); check client-key(-data)");
  }
  return PkeyPtr(k, PkeyFree{});
}

bool is_tls_failure(const std::string& what) {
  for (const char* s : {"certificate", "handshake", "ssl", "SSL", "tls", "TLS", "verify"}) {
    if (what.find(s) != std::string::npos) return true;
  }
  return false;
}

Error transport_error(const std::exception& e, const std::string& server) {
  Error err;
  std::string what = e.what();
  if (auto* he = dynamic_cast<const http::http_exception*>(&e)) {
    auto ec = he->error_code();
    if (ec == std::errc::timed_out) {
      err.code = Code::kTimeout;
      err.message = "request to " + server + " timed out";
      return err;
    }
    if (ec == std::errc::operation_canceled) {
      err.code = Code::kCancelled;
      err.message = "request cancelled";
      return err;
    }
  }
  if (is_tls_failure(what)) {
    err.code = Code::kTls;
    err.message = "TLS with " + server + " failed: " + what +
                  " (check certificate-authority and the client certificate in the kubeconfig)";
  } else {
    err.code = Code::kUnavailable;
    err.message = "cannot reach " + server + ": " + what;
  }
  return err;
}

}  // namespace

// ---------------------------------------------------------------- transport

struct Client::Transport {
  std::vector<X509Ptr> ca;
  std::vector<X509Ptr> chain;
  PkeyPtr key;
  std::unique_ptr<http_client::http_client> unary;
  std::unique_ptr<http_client::http_client> streaming;

  // Called by cpprestsdk for each new connection; the parsed material is
  // shared, so nothing is re-parsed per connection.
  void configure(boost::asio::ssl::context& ctx) const {
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    if (!ca.empty()) {
      // With a certificate-authority, trust it alone, as client-go does. This
      // also drops the system bundle that cpprestsdk loads into every new
      // context (about 140 parsed certificates per connection).
      X509_STORE* store = X509_STORE_new();
      for (const auto& c : ca) X509_STORE_add_cert(store, c.get());
      SSL_CTX_set_cert_store(native, store);  // takes ownership, frees the old store
    }
    if (!chain.empty() && key) {
      SSL_CTX_use_certificate(native, chain.front().get());
      for (size_t i = 1; i < chain.size(); ++i) {
        X509_up_ref(chain[i].get());
        SSL_CTX_add_extra_chain_cert(native, chain[i].get());
      }
      SSL_CTX_use_PrivateKey(native, key.get());
    }
  }
};

Client::Client(Config cfg, ClientOptions opts)
    : cfg_(std::move(cfg)), opts_(std::move(opts)), bucket_(cfg_.qps, cfg_.burst) {}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(const Config& cfg, ClientOptions opts) {
  std::unique_ptr<Client> c(new Client(cfg, std::move(opts)));
  if (auto r = c->init(); !r) return std::unexpected(r.error());
  return c;
}

Result<void> Client::init() {
  transport_ = std::make_unique<Transport>();
  if (!cfg_.ca_pem.empty()) {
    auto ca = parse_certs(cfg_.ca_pem, "certificate-authority");
    if (!ca) return std::unexpected(ca.error());
    transport_->ca = std::move(*ca);
  }
  if (!cfg_.client_cert_pem.empty()) {
    auto chain = parse_certs(cfg_.client_cert_pem, "client-certificate");
    if (!chain) return std::unexpected(chain.error());
    auto key = parse_key(cfg_.client_key_pem);
    if (!key) return std::unexpected(key.error());
    transport_->chain = std::move(*chain);
    transport_->key = std::move(*key);
  }
  tokens_ = std::make_unique<TokenSource>(cfg_);

  auto make =
      [&](std::chrono::seconds timeout) -> Result<std::unique_ptr<http_client::http_client>> {
    http_client::http_client_config hc;
    hc.set_timeout(timeout);
    hc.set_validate_certificates(!cfg_.insecure_skip_tls_verify);
    const Transport* t = transport_.get();
    hc.set_ssl_context_callback([t](boost::asio::ssl::context& ctx) { t->configure(ctx); });
    try {
      return std::make_unique<http_client::http_client>(web::uri(cfg_.server), hc);
    } catch (const std::exception& e) {
      return fail(Code::kConfig, "server \"" + cfg_.server + "\" is not a usable URL: " + e.what());
    }
  };
  auto unary = make(opts_.request_timeout);
  if (!unary) return std::unexpected(unary.error());
  auto streaming = make(opts_.stream_timeout);
  if (!streaming) return std::unexpected(streaming.error());
  transport_->unary = std::move(*unary);
  transport_->streaming = std::move(*streaming);
  return {};
}

namespace {

http::http_request build(const Request& req, const std::string& token, const std::string& ua) {
  http::http_request hr(http::method(req.method));
  std::string target = req.path;
  if (!req.query.empty()) target += "?" + req.query;
  hr.set_request_uri(web::uri(target));
  hr.headers().add("Accept", req.accept);
  hr.headers().add("User-Agent", ua);
  if (!token.empty()) hr.headers().add("Authorization", "Bearer " + token);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    hr.set_body(req.body, req.content_type.empty() ? "application/json" : req.content_type);
  }
  return hr;
}

}  // namespace

Result<Response> Client::send(const Request& req, bool idempotent) {
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::seconds(5));
  for (int attempt = 0;; ++attempt) {
    bucket_.acquire();
    requests_++;
    Response out;
    try {
      auto hr = build(req, tokens_->token(), cfg_.user_agent);
      http::http_response resp = transport_->unary->request(hr).get();
      out.status = resp.status_code();
      if (resp.headers().has("Retry-After")) out.retry_after = resp.headers()["Retry-After"];
      out.body = resp.extract_utf8string(true).get();
    } catch (const std::exception& e) {
      Error err = transport_error(e, cfg_.server);
      if (idempotent && attempt < opts_.max_retries &&
          (err.code == Code::kUnavailable || err.code == Code::kTimeout)) {
        std::this_thread::sleep_for(backoff.next());
        continue;
      }
      return std::unexpected(err);
    }
    if (out.status == 429 || (idempotent && (out.status == 503 || out.status == 504))) {
      if (attempt < opts_.max_retries) {
        Error err = error_from_response(out.status, out.body, out.retry_after);
        std::this_thread::sleep_for(err.retry_after ? std::chrono::milliseconds(*err.retry_after)
                                                    : backoff.next());
        continue;
      }
    }
    return out;
  }
}

Result<Response> Client::raw(const Request& req) {
  bool idempotent = req.method == "GET" || req.method == "HEAD";
  return send(req, idempotent);
}

Result<void> Client::stream(const Request& req, const LineHandler& on_line, CancelToken* cancel) {
  bucket_.acquire();
  requests_++;
  try {
    auto hr = build(req, tokens_->token(), cfg_.user_agent);
    auto token = cancel ? cancel->impl().source.get_token() : pplx::cancellation_token::none();
    if (cancel && cancel->cancelled()) return fail(Code::kCancelled, "stream cancelled");
    http::http_response resp = transport_->streaming->request(hr, token).get();
    if (resp.status_code() >= 300) {
      std::string body = resp.extract_utf8string(true).get();
      std::string ra = resp.headers().has("Retry-After") ? resp.headers()["Retry-After"] : "";
      return std::unexpected(error_from_response(resp.status_code(), body, ra));
    }
    auto buf = resp.body().streambuf();
    LineSplitter splitter;
    std::vector<char> chunk(64 * 1024);
    for (;;) {
      // getc completes as soon as one byte (or EOF) is there; then take all
      // that is buffered. Reading N bytes directly would wait for N.
      auto c = buf.getc().get();
      if (c == std::char_traits<char>::eof()) break;
      chunk[0] = static_cast<char>(c);
      buf.bumpc().get();
      size_t avail = std::min(buf.in_avail(), chunk.size() - 1);
      size_t n = avail ? buf.getn(reinterpret_cast<uint8_t*>(chunk.data() + 1), avail).get() : 0;
      bool stop = false;
      bool ok = splitter.feed(std::string_view(chunk.data(), n + 1), [&](std::string_view line) {
        if (!on_line(line)) {
          stop = true;
          return false;
        }
        return true;
      });
      if (stop) break;
      if (!ok) return fail(Code::kDecode, "stream line longer than the limit; dropping the stream");
      if (cancel && cancel->cancelled()) return fail(Code::kCancelled, "stream cancelled");
    }
    if (cancel && cancel->cancelled()) return fail(Code::kCancelled, "stream cancelled");
    return {};
  } catch (const std::exception& e) {
    if (cancel && cancel->cancelled()) return fail(Code::kCancelled, "stream cancelled");
    return std::unexpected(transport_error(e, cfg_.server));
  }
}

// ---------------------------------------------------------------- discovery

namespace {

Result<json> get_json(Client& c, const std::string& path) {
  auto r = c.raw({.path = path});
  if (!r) return std::unexpected(r.error());
  if (r->status >= 300)
    return std::unexpected(error_from_response(r->status, r->body, r->retry_after));
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded())
    return fail(Code::kDecode, "GET " + path + " returned a body that is not JSON");
  return j;
}

}  // namespace

Result<void> Client::refresh_discovery() {
  std::map<std::string, ApiResource> found;
  auto add_group_version = [&](const std::string& group,
                               const std::string& version) -> Result<void> {
    std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    auto j = get_json(*this, path);
    if (!j) {
      // An aggregated API that is down should not hide every other group.
      if (j.error().code == Code::kServerError || j.error().code == Code::kNotFound) return {};
      return std::unexpected(j.error());
    }
    for (const auto& r : j->value("resources", json::array())) {
      std::string name = r.value("name", "");
      if (name.empty() || name.find('/') != std::string::npos) continue;  // subresources
      ApiResource ar{group, version, name, r.value("kind", ""), r.value("namespaced", false)};
      found.emplace(group + "/" + version + "/" + ar.kind, ar);
    }
    return {};
  };
  if (auto r = add_group_version("", "v1"); !r) return r;
  auto groups = get_json(*this, "/apis");
  if (!groups) return std::unexpected(groups.error());
  for (const auto& g : groups->value("groups", json::array())) {
    for (const auto& v : g.value("versions", json::array())) {
      if (auto r = add_group_version(g.value("name", ""), v.value("version", "")); !r) return r;
    }
  }
  std::lock_guard lock(disco_mu_);
  by_gvk_ = std::move(found);
  disco_at_ = std::chrono::steady_clock::now();
  disco_loaded_ = true;
  return {};
}

void Client::invalidate_discovery() {
  std::lock_guard lock(disco_mu_);
  disco_loaded_ = false;
}

Result<ApiResource> Client::resource_for(std::string_view api_version, std::string_view kind) {
  std::string gv(api_version);
  std::string group, version;
  if (auto slash = gv.find('/'); slash == std::string::npos) {
    version = gv;
  } else {
    group = gv.substr(0, slash);
    version = gv.substr(slash + 1);
  }
  const std::string key = group + "/" + version + "/" + std::string(kind);
  bool may_refresh = false;
  {
    std::lock_guard lock(disco_mu_);
    if (auto it = by_gvk_.find(key); it != by_gvk_.end() && disco_loaded_) return it->second;
    // A miss refreshes, but not more than every few seconds, so a typo in a
    // manifest cannot turn into a discovery storm.
    may_refresh =
        !disco_loaded_ || std::chrono::steady_clock::now() - disco_at_ > std::chrono::seconds(5);
    if (disco_loaded_ && !may_refresh) {
      if (auto it = by_gvk_.find(key); it != by_gvk_.end()) return it->second;
    }
  }
  if (may_refresh) {
    if (auto r = refresh_discovery(); !r) return std::unexpected(r.error());
  }
  std::lock_guard lock(disco_mu_);
  if (auto it = by_gvk_.find(key); it != by_gvk_.end()) return it->second;
  return fail(Code::kNotFound, "the server has no resource for kind \"" + std::string(kind) +
                                   "\" in apiVersion \"" + gv +
                                   "\"; check the apiVersion and kind, or install its CRD");
}

Result<ApiResource> Client::resource_of(const json& obj) {
  if (!obj.is_object() || !obj.contains("apiVersion") || !obj.contains("kind") ||
      !obj["apiVersion"].is_string() || !obj["kind"].is_string()) {
    return fail(Code::kBadRequest, "object has no apiVersion/kind");
  }
  return resource_for(obj["apiVersion"].get<std::string>(), obj["kind"].get<std::string>());
}

// ---------------------------------------------------------------- typed calls

namespace {

Result<json> decode(Result<Response> r, bool without_managed_fields = false) {
  if (!r) return std::unexpected(r.error());
  if (r->status >= 300)
    return std::unexpected(error_from_response(r->status, r->body, r->retry_after));
  if (r->body.empty()) return json::object();
  json j = without_managed_fields ? parse_without_managed_fields(r->body)
                                  : json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return fail(Code::kDecode, "apiserver returned a body that is not JSON");
  return j;
}

void add_param(std::string& q, std::string_view k, std::string_view v) {
  if (v.empty()) return;
  if (!q.empty()) q += "&";
  q += k;
  q += "=";
  q += url_encode(v);
}

std::string ns_of(const ApiResource& r, std::string_view ns) {
  return r.namespaced ? std::string(ns) : std::string();
}

std::string name_of(const json& obj) {
  if (obj.contains("metadata") && obj["metadata"].is_object()) {
    return obj["metadata"].value("name", "");
  }
  return {};
}

}  // namespace

std::string Client::field_manager(const WriteOptions& o) const {
  return o.field_manager.empty() ? opts_.field_manager : o.field_manager;
}

Result<json> Client::get(const ApiResource& r, std::string_view ns, std::string_view name,
                         std::string_view subresource) {
  return decode(send({.path = r.path(ns_of(r, ns), name, subresource)}, true));
}

Result<json> Client::list(const ApiResource& r, std::string_view ns, const ListOptions& o) {
  std::string q;
  add_param(q, "labelSelector", o.label_selector);
  add_param(q, "fieldSelector", o.field_selector);
  add_param(q, "resourceVersion", o.resource_version);
  add_param(q, "resourceVersionMatch", o.resource_version_match);
  if (o.limit > 0) add_param(q, "limit", std::to_string(o.limit));
  add_param(q, "continue", o.continue_token);
  return decode(send({.path = r.path(ns_of(r, ns)), .query = q}, true), o.without_managed_fields);
}

Result<json> Client::list_all(const ApiResource& r, std::string_view ns, ListOptions o) {
  json all;
  for (;;) {
    auto page = list(r, ns, o);
    if (!page) return page;
    if (all.is_null()) {
      all = std::move(*page);
      if (!all.contains("items") || !all["items"].is_array()) all["items"] = json::array();
    } else {
      for (auto& item : (*page)["items"]) all["items"].push_back(std::move(item));
      all["metadata"]["continue"] = (*page)["metadata"].value("continue", "");
    }
    std::string next = all["metadata"].value("continue", "");
    if (next.empty()) break;
    o.continue_token = next;
    o.resource_version.clear();  // the continue token pins the snapshot
  }
  all["metadata"].erase("continue");
  return all;
}

Result<json> Client::create(const ApiResource& r, std::string_view ns, const json& obj,
                            const WriteOptions& o) {
  std::string q;
  add_param(q, "fieldManager", field_manager(o));
  if (o.dry_run) add_param(q, "dryRun", "All");
  return decode(send(
      {.method = "POST", .path = r.path(ns_of(r, ns)), .query = q, .body = obj.dump()}, false));
}

Result<json> Client::update(const ApiResource& r, std::string_view ns, const json& obj,
                            std::string_view subresource, const WriteOptions& o) {
  std::string name = name_of(obj);
  if (name.empty()) return fail(Code::kBadRequest, "update: object has no metadata.name");
  std::string q;
  add_param(q, "fieldManager", field_manager(o));
  if (o.dry_run) add_param(q, "dryRun", "All");
  return decode(send({.method = "PUT",
                      .path = r.path(ns_of(r, ns), name, subresource),
                      .query = q,
                      .body = obj.dump()},
                     true));
}

Result<json> Client::patch(const ApiResource& r, std::string_view ns, std::string_view name,
                           PatchType type, const json& p, std::string_view subresource,
                           const WriteOptions& o) {
  std::string q;
  add_param(q, "fieldManager", field_manager(o));
  if (o.dry_run) add_param(q, "dryRun", "All");
  std::string ct = type == PatchType::kMerge  ? "application/merge-patch+json"
                   : type == PatchType::kJson ? "application/json-patch+json"
                                              : "application/strategic-merge-patch+json";
  return decode(send({.method = "PATCH",
                      .path = r.path(ns_of(r, ns), name, subresource),
                      .query = q,
                      .body = p.dump(),
                      .content_type = ct},
                     false));
}

Result<json> Client::apply(const ApiResource& r, std::string_view ns, const json& obj, bool force,
                           std::string_view subresource, const WriteOptions& o) {
  std::string name = name_of(obj);
  if (name.empty()) return fail(Code::kBadRequest, "apply: object has no metadata.name");
  std::string q;
  add_param(q, "fieldManager", field_manager(o));
  if (force) add_param(q, "force", "true");
  if (o.dry_run) add_param(q, "dryRun", "All");
  // Apply is idempotent by definition, so it may be retried.
  return decode(send({.method = "PATCH",
                      .path = r.path(ns_of(r, ns), name, subresource),
                      .query = q,
                      .body = obj.dump(),
                      .content_type = "application/apply-patch+yaml"},
                     true));
}

Result<json> Client::remove(const ApiResource& r, std::string_view ns, std::string_view name,
                            const DeleteOptions& o) {
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (o.precondition_uid || o.precondition_resource_version) {
    json pre = json::object();
    if (o.precondition_uid) pre["uid"] = *o.precondition_uid;
    if (o.precondition_resource_version) pre["resourceVersion"] = *o.precondition_resource_version;
    body["preconditions"] = pre;
  }
  if (!o.propagation_policy.empty()) body["propagationPolicy"] = o.propagation_policy;
  if (o.grace_period_seconds) body["gracePeriodSeconds"] = *o.grace_period_seconds;
  if (o.dry_run) body["dryRun"] = json::array({"All"});
  return decode(
      send({.method = "DELETE", .path = r.path(ns_of(r, ns), name), .body = body.dump()}, true));
}

}  // namespace cairn::kube
