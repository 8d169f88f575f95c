#include "git/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "git/known_hosts.h"
#include "git/util.h"

namespace cairn::git::detail {
namespace {

using namespace std::chrono_literals;

constexpr int kPollSliceMs = 100;

thread_local std::shared_ptr<FetchContext> t_context;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             FetchContext::Clock::now().time_since_epoch())
      .count();
}

// ------------------------------------------------------------------ stream

// The first four members mirror libgit2 1.5's internal git_socket_stream:
// its ssh transport takes the socket of the stream it opened from `s` through
// that struct, so the layout is part of the contract with this libgit2.
struct CairnStream {
  git_stream parent;
  char* host;
  char* port;
  int s;
  std::shared_ptr<FetchContext>* ctx;  // null outside a fetch
};
static_assert(std::is_standard_layout_v<CairnStream>);

FetchContext* context_of(git_stream* stream) {
  auto* st = reinterpret_cast<CairnStream*>(stream);
  return st->ctx ? st->ctx->get() : nullptr;
}

bool cancelled(git_stream* stream) {
  FetchContext* ctx = context_of(stream);
  if (ctx && ctx->cancelled()) {
    git_error_set_str(GIT_ERROR_NET, "the transfer was stopped by the fetch watchdog");
    return true;
  }
  return false;
}

int stream_connect(git_stream* stream) {
  auto* st = reinterpret_cast<CairnStream*>(stream);
  FetchContext* ctx = context_of(stream);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* info = nullptr;
  // getaddrinfo cannot be interrupted: a hanging resolver delays the
  // watchdog until it returns.
  int rc = getaddrinfo(st->host, st->port, &hints, &info);
  if (rc != 0) {
    std::string msg = std::string("cannot resolve host ") + st->host + ": " + gai_strerror(rc);
    if (ctx) msg = "fetching " + ctx->url() + ": " + msg;
    if (ctx) ctx->record(Code::kUnreachable, msg);
    git_error_set_str(GIT_ERROR_NET, msg.c_str());
    return -1;
  }
  int last_errno = 0;
  int fd = -1;
  for (addrinfo* p = info; p && fd < 0; p = p->ai_next) {
    fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (connect(fd, p->ai_addr, p->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_errno = errno;
        close(fd);
        fd = -1;
        continue;
      }
      for (;;) {
        if (cancelled(stream)) {
          close(fd);
          freeaddrinfo(info);
          return -1;
        }
        pollfd pfd{fd, POLLOUT, 0};
        int n = poll(&pfd, 1, kPollSliceMs);
        if (n > 0) break;
        if (n < 0 && errno != EINTR) break;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        last_errno = err;
        close(fd);
        fd = -1;
      }
    }
  }
  freeaddrinfo(info);
  if (fd < 0) {
    std::string msg = std::string("cannot connect to ") + st->host + " port " + st->port + ": " +
                      std::strerror(last_errno);
    if (ctx) msg = "fetching " + ctx->url() + ": " + msg;
    if (ctx) ctx->record(Code::kUnreachable, msg);
    git_error_set_str(GIT_ERROR_NET, msg.c_str());
    return -1;
  }
  st->s = fd;
  if (ctx) {
    ctx->connected_host = st->host;
    ctx->add_fd(fd);
    ctx->progress();
  }
  return 0;
}

ssize_t stream_read(git_stream* stream, void* data, size_t len) {
  auto* st = reinterpret_cast<CairnStream*>(stream);
  for (;;) {
    if (cancelled(stream)) return -1;
    ssize_t n = recv(st->s, data, len, 0);
    if (n >= 0) {
      if (n > 0) {
        if (FetchContext* ctx = context_of(stream)) ctx->progress();
      }
      return n;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd pfd{st->s, POLLIN, 0};
      poll(&pfd, 1, kPollSliceMs);
      continue;
    }
    git_error_set(GIT_ERROR_NET, "could not read from %s: %s", st->host, std::strerror(errno));
    return -1;
  }
}

ssize_t stream_write(git_stream* stream, const char* data, size_t len, int flags) {
  auto* st = reinterpret_cast<CairnStream*>(stream);
  (void)flags;
  for (;;) {
    if (cancelled(stream)) return -1;
    ssize_t n = send(st->s, data, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd pfd{st->s, POLLOUT, 0};
      poll(&pfd, 1, kPollSliceMs);
      continue;
    }
    git_error_set(GIT_ERROR_NET, "could not write to %s: %s", st->host, std::strerror(errno));
    return -1;
  }
}

int stream_close(git_stream* stream) {
  auto* st = reinterpret_cast<CairnStream*>(stream);
  if (st->s < 0) return 0;
  if (FetchContext* ctx = context_of(stream)) ctx->remove_fd(st->s);
  int rc = close(st->s);
  st->s = -1;
  return rc;
}

void stream_free(git_stream* stream) {
  auto* st = reinterpret_cast<CairnStream*>(stream);
  if (st->s >= 0) stream_close(stream);
  delete st->ctx;
  std::free(st->host);
  std::free(st->port);
  std::free(st);
}

int stream_init(git_stream** out, const char* host, const char* port) {
  auto* st = static_cast<CairnStream*>(std::calloc(1, sizeof(CairnStream)));
  if (!st) return -1;
  st->host = strdup(host);
  st->port = strdup(port ? port : "");
  st->s = -1;
  st->ctx = t_context ? new std::shared_ptr<FetchContext>(t_context) : nullptr;
  st->parent.version = GIT_STREAM_VERSION;
  st->parent.connect = stream_connect;
  st->parent.read = stream_read;
  st->parent.write = stream_write;
  st->parent.close = stream_close;
  st->parent.free = stream_free;
  *out = &st->parent;
  return 0;
}

// ------------------------------------------------------------------ callbacks

int fail_callback(FetchContext* ctx, Code code, const std::string& message) {
  ctx->record(code, message);
  git_error_set_str(GIT_ERROR_CALLBACK, message.c_str());
  return -1;
}

std::string allowed_names(unsigned int allowed) {
  std::string out;
  auto add = [&](unsigned int bit, const char* name) {
    if (allowed & bit) out += std::string(out.empty() ? "" : ", ") + name;
  };
  add(GIT_CREDENTIAL_USERPASS_PLAINTEXT, "username/password");
  add(GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_MEMORY, "SSH key");
  add(GIT_CREDENTIAL_DEFAULT, "Negotiate");
  return out.empty() ? "none Cairn supports" : out;
}

int credentials_cb(git_credential** out, const char* url, const char* username_from_url,
                   unsigned int allowed, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  const Credentials& c = ctx->creds();
  // Never hand the Secret to another host the repository redirected to.
  // libgit2 passes the original URL here, so where the request really went
  // comes from the certificate check (https) or the socket (plain http
  // without a proxy).
  std::string host = parse_url(url ? url : "").host;
  const std::string& scheme = ctx->parts().scheme;
  if (scheme == "https" && !ctx->tls_host.empty()) {
    host = ctx->tls_host;
  } else if (scheme == "http" && !std::getenv("http_proxy") && !std::getenv("HTTP_PROXY") &&
             !ctx->connected_host.empty()) {
    host = ctx->connected_host;
  }
  for (auto& ch : host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!host.empty() && !ctx->parts().host.empty() && host != ctx->parts().host)
    return fail_callback(ctx, Code::kAuth,
                         ctx->url() + " redirected to host " + host +
                             ", which asks for credentials; Cairn sends the Secret only to " +
                             ctx->parts().host + "; put the final URL in the spec");
  std::string user = username_from_url && *username_from_url ? username_from_url : c.username;
  if (allowed & GIT_CREDENTIAL_USERNAME)
    return git_credential_username_new(out, user.empty() ? "git" : user.c_str());
  if ((allowed & (GIT_CREDENTIAL_SSH_MEMORY | GIT_CREDENTIAL_SSH_KEY)) && !c.ssh_identity.empty()) {
    if (ctx->ssh_key_attempts++ > 0)
      return fail_callback(ctx, Code::kAuth,
                           "the SSH server of " + ctx->url() +
                               " rejected the key in the Secret's identity (user \"" +
                               (user.empty() ? "git" : user) +
                               "\"); check that its public key is authorized for the repository");
    int rc = git_credential_ssh_key_memory_new(out, user.empty() ? "git" : user.c_str(), nullptr,
                                               c.ssh_identity.c_str(),
                                               c.password.empty() ? nullptr : c.password.c_str());
    if (rc < 0)
      return fail_callback(ctx, Code::kAuth,
                           "cannot use the Secret's SSH identity: " + last_git_error());
    return 0;
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) &&
      (!c.password.empty() || !c.bearer_token.empty())) {
    if (ctx->userpass_attempts++ > 0)
      return fail_callback(ctx, Code::kAuth,
                           "authentication to " + ctx->url() +
                               " failed: the server rejected the credentials; check the "
                               "username/password or bearerToken in the Secret");
    std::string name = !user.empty() ? user : !c.bearer_token.empty() ? "x-access-token" : "git";
    const std::string& secret = !c.bearer_token.empty() ? c.bearer_token : c.password;
    return git_credential_userpass_plaintext_new(out, name.c_str(), secret.c_str());
  }
  if (c.empty())
    return fail_callback(ctx, Code::kAuth,
                         ctx->url() + " requires authentication (" + allowed_names(allowed) +
                             "), but no credentials were given; reference a Secret with " +
                             "username/password, bearerToken or identity/known_hosts");
  return fail_callback(ctx, Code::kAuth,
                       ctx->url() + " asks for " + allowed_names(allowed) +
                           " credentials, which the Secret does not hold; check the Secret");
}

struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
struct StoreDeleter {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};

// The CA certificates libgit2's mbedTLS trusts (see init() in mirror.cc).
void load_system_trust(X509_STORE* store) {
  const char* file = std::getenv("SSL_CERT_FILE");
  const char* dir = std::getenv("SSL_CERT_DIR");
  if ((file && *file) || (dir && *dir)) {
    if (file && *file) X509_STORE_load_file(store, file);
    X509_STORE_load_path(store, dir && *dir ? dir : "/etc/ssl/certs");
  } else {
    X509_STORE_load_file(store, "/etc/ssl/certs/ca-certificates.crt");
  }
  ERR_clear_error();
}

// Verifies a server's leaf certificate with OpenSSL against the system trust
// and the Secret's CA certificates (any of which may be an intermediate), and
// the host name or IP address. mbedTLS 2.28, which libgit2 uses on Debian,
// matches only DNS names and so rejects an https://<IP address> URL whose
// certificate names the address in an IP SAN; OpenSSL gets that right. Only
// the leaf is available here, so a CA in caFile must be the issuer itself or
// come with its intermediates.
bool verify_leaf(std::string_view der, const std::string& ca_pem, const std::string& host,
                 std::string* why) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, X509Deleter> leaf(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!leaf) {
    *why = "the server's certificate cannot be parsed";
    return false;
  }
  std::unique_ptr<X509_STORE, StoreDeleter> store(X509_STORE_new());
  load_system_trust(store.get());
  if (!ca_pem.empty()) {
    std::unique_ptr<BIO, BioDeleter> bio(
        BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
    int count = 0;
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store.get(), ca);
      X509_free(ca);
      ++count;
    }
    ERR_clear_error();
    if (count == 0) {
      *why = "the Secret's caFile holds no PEM certificate";
      return false;
    }
  }
  std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter> vctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(vctx.get(), store.get(), leaf.get(), nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(vctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  in6_addr a6;
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1)
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  else
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (X509_verify_cert(vctx.get()) == 1) return true;
  *why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx.get()));
  return false;
}

int certificate_cb(git_cert* cert, int valid, const char* host, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  const std::string h = host ? host : ctx->parts().host;
  if (cert->cert_type == GIT_CERT_X509) {
    ctx->tls_host = h;
    if (valid) return 0;
    const std::string& ca = ctx->creds().ca_pem;
    auto* x = reinterpret_cast<git_cert_x509*>(cert);
    std::string why;
    if (verify_leaf(std::string_view(static_cast<const char*>(x->data), x->len), ca, h, &why))
      return 0;
    if (!ca.empty())
      return fail_callback(
          ctx, Code::kUntrustedHost,
          "the TLS certificate of " + h + " (" + ctx->url() +
              ") is not trusted by the Secret's CA (caFile) or the system: " + why);
    return fail_callback(ctx, Code::kUntrustedHost,
                         "the TLS certificate of " + h + " (" + ctx->url() +
                             ") is not trusted: " + why +
                             "; put the CA certificate in the Secret's caFile, or in "
                             "SSL_CERT_FILE for the whole process");
  }
  if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    auto* key = reinterpret_cast<git_cert_hostkey*>(cert);
    int port = effective_port(ctx->parts());
    HostKeyResult r;
    if (key->type & GIT_CERT_SSH_RAW) {
      r = check_known_hosts(ctx->creds().ssh_known_hosts, h, port,
                            std::string_view(key->hostkey, key->hostkey_len));
    } else if (key->type & GIT_CERT_SSH_SHA256) {
      r = check_known_hosts_sha256(
          ctx->creds().ssh_known_hosts, h, port,
          std::string_view(reinterpret_cast<const char*>(key->hash_sha256), 32));
    } else {
      return fail_callback(ctx, Code::kUntrustedHost,
                           "the SSH host key of " + h + " cannot be checked (no key or SHA-256)");
    }
    if (r.match == HostKeyMatch::kMatch) return 0;
    return fail_callback(ctx, Code::kUntrustedHost, "fetching " + ctx->url() + ": " + r.message);
  }
  return fail_callback(ctx, Code::kUntrustedHost,
                       "the server " + h + " presented a kind of certificate Cairn cannot check");
}

int transfer_progress_cb(const git_indexer_progress* stats, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  if (ctx->cancelled()) {
    git_error_set_str(GIT_ERROR_NET, "the transfer was stopped by the fetch watchdog");
    return -1;
  }
  const git_indexer_progress& last = ctx->last_stats;
  if (stats->received_bytes != last.received_bytes ||
      stats->received_objects != last.received_objects ||
      stats->indexed_objects != last.indexed_objects ||
      stats->indexed_deltas != last.indexed_deltas) {
    ctx->last_stats = *stats;
    ctx->progress();
  }
  return 0;
}

int sideband_cb(const char*, int, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  if (ctx->cancelled()) return -1;
  ctx->progress();
  return 0;
}

int update_tips_cb(const char*, const git_oid*, const git_oid*, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  ++ctx->updated_refs;
  ctx->progress();
  return 0;
}

}  // namespace

// ------------------------------------------------------------------ FetchContext

FetchContext::FetchContext(const std::string& fetch_url, const FetchOptions& opts)
    : url_(redact_url(fetch_url)),
      parts_(parse_url(fetch_url)),
      creds_(opts.creds),
      start_(Clock::now()),
      total_(opts.timeout_ms.count() > 0 ? Clock::duration(opts.timeout_ms)
                                         : Clock::duration(opts.timeout)),
      stall_(opts.stall_timeout_ms.count() > 0 ? Clock::duration(opts.stall_timeout_ms)
                                               : Clock::duration(opts.stall_timeout)),
      last_progress_ns_(now_ns()) {
  for (const std::string* s : {&creds_.password, &creds_.bearer_token, &parts_.password}) {
    if (s->size() >= 3) secrets_.push_back(*s);
  }
  // A lone user name in an http(s) URL is usually a token.
  if (parts_.form == UrlParts::Form::kUrl && parts_.scheme.starts_with("http") &&
      parts_.user.size() >= 3)
    secrets_.push_back(parts_.user);
}

void FetchContext::progress() { last_progress_ns_.store(now_ns(), std::memory_order_relaxed); }

void FetchContext::cancel(std::string why) {
  std::lock_guard lk(mu_);
  if (cancelled_.exchange(true)) return;
  cancel_reason_ = std::move(why);
  // Wakes a recv()/poll() blocked on the socket, ours or libssh2's.
  for (int fd : fds_) shutdown(fd, SHUT_RDWR);
}

std::string FetchContext::cancel_reason() const {
  std::lock_guard lk(mu_);
  return cancel_reason_;
}

void FetchContext::add_fd(int fd) {
  std::lock_guard lk(mu_);
  fds_.push_back(fd);
  if (cancelled_) shutdown(fd, SHUT_RDWR);
}

void FetchContext::remove_fd(int fd) {
  // Under the lock, so the watchdog never shuts down a descriptor number
  // that has been closed and reused.
  std::lock_guard lk(mu_);
  std::erase(fds_, fd);
}

void FetchContext::record(Code code, std::string message) {
  if (!recorded_) recorded_ = Error{code, scrub(std::move(message))};
}

std::string FetchContext::scrub(std::string message) const {
  for (const auto& s : secrets_) {
    for (size_t pos; (pos = message.find(s)) != std::string::npos;)
      message.replace(pos, s.size(), "***");
  }
  return message;
}

void FetchContext::watch() {
  std::unique_lock lk(mu_);
  while (!done_) {
    cv_.wait_for(lk, 50ms);
    if (done_ || cancelled_) continue;
    auto now = Clock::now();
    auto idle = std::chrono::nanoseconds(now_ns() - last_progress_ns_.load());
    std::string why;
    auto secs = [](Clock::duration d) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
      return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
    };
    if (total_.count() > 0 && now - start_ >= total_) {
      why = "the fetch of " + url_ + " did not finish within " + secs(total_) +
            " (FetchOptions.timeout)";
    } else if (stall_.count() > 0 && idle >= stall_) {
      why = "the fetch of " + url_ + " made no progress for " + secs(stall_) +
            " (stall timeout): the server accepted the connection but stopped sending";
    } else {
      continue;
    }
    lk.unlock();
    cancel(why);
    lk.lock();
  }
}

void FetchContext::done() {
  std::lock_guard lk(mu_);
  done_ = true;
  cv_.notify_all();
}

git_remote_callbacks FetchContext::callbacks() {
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  cb.credentials = credentials_cb;
  cb.certificate_check = certificate_cb;
  cb.transfer_progress = transfer_progress_cb;
  cb.sideband_progress = sideband_cb;
  cb.update_tips = update_tips_cb;
  cb.payload = this;
  return cb;
}

ScopedFetchContext::ScopedFetchContext(std::shared_ptr<FetchContext> ctx) {
  t_context = std::move(ctx);
}

ScopedFetchContext::~ScopedFetchContext() { t_context.reset(); }

int register_stream() {
  git_stream_registration reg{};
  reg.version = GIT_STREAM_VERSION;
  reg.init = stream_init;
  reg.wrap = nullptr;
  return git_stream_register(GIT_STREAM_STANDARD, &reg);
}

Error classify_fetch_error(const FetchContext& ctx, int rc, const std::string& raw) {
  std::string message = ctx.scrub(raw);
  if (ctx.cancelled()) return {Code::kTimeout, ctx.cancel_reason()};
  if (ctx.recorded()) return *ctx.recorded();
  const std::string prefix = "fetching " + ctx.url() + ": ";
  const git_error* e = git_error_last();
  int klass = e ? e->klass : GIT_ERROR_NONE;
  auto has = [&](std::string_view s) { return message.find(s) != std::string::npos; };
  if (rc == GIT_EAUTH || has("status code: 401") || has("authentication required"))
    return {Code::kAuth, prefix + message +
                             "; check the credentials in the Secret (username/password, "
                             "bearerToken or identity)"};
  if (has("status code: 403"))
    return {Code::kAuth, prefix + message +
                             "; the credentials in the Secret are not allowed to "
                             "read this repository"};
  if (rc == GIT_ECERTIFICATE)
    return {Code::kUntrustedHost,
            prefix + message + "; put the server's CA certificate in the Secret's caFile"};
  // The transfer got through but what came was not a valid pack, or the
  // server gave up sending it: most often a damaged repository on the
  // server (which a retry does not fix), else a connection cut mid-transfer.
  if (klass == GIT_ERROR_INDEXER || klass == GIT_ERROR_ZLIB || klass == GIT_ERROR_ODB ||
      has("early EOF") || has("remote error") || has("inflate") || has("corrupt") ||
      has("bad packed object") || has("hash mismatch"))
    return {Code::kInternal,
            prefix + message +
                "; the server's objects did not arrive intact: if this persists, its repository "
                "is probably damaged (run `git fsck` in it on the server and repair it)"};
  if (rc == GIT_ENOTFOUND || has("status code: 404") || has("could not find repository") ||
      has("not found") || has("not appear to be a git repository") || has("does not exist") ||
      has("No such file or directory"))
    return {Code::kNotFound,
            prefix + message + "; check the repository URL (and that the credentials can see it)"};
  if (klass == GIT_ERROR_NET || klass == GIT_ERROR_SSL || klass == GIT_ERROR_SSH ||
      klass == GIT_ERROR_HTTP || klass == GIT_ERROR_OS)
    return {Code::kUnreachable, prefix + message};
  return {Code::kInternal, prefix + message};
}

}  // namespace cairn::git::detail
