// Git sources for Cairn, on libgit2: a cache of bare mirrors (one per
// repository URL, shared by every Pipeline, Release and admission check that
// names it), ref resolution, reading the files of a tree at a commit, ancestry
// checks and commit signature verification (SSH signatures and OpenPGP, with
// OpenSSL).
//
// Nothing throws: every call that can fail returns Result<T> =
// std::expected<T, Error>, whose Error carries a code a controller can branch
// on and a message a person can act on. Messages and logs never contain
// credentials: URLs are shown redacted and secrets are scrubbed from libgit2's
// own messages.
//
// Process-wide libgit2 settings, applied once on first use (see init()):
// - network I/O goes through Cairn's socket stream, so that the fetch
//   watchdog can abort a stalled transfer (libgit2 1.5 has no timeouts);
// - the system, XDG and global git configuration are not read (a mirror
//   behaves the same whatever ~/.gitconfig says); https_proxy, http_proxy
//   and no_proxy from the environment are honoured;
// - TLS trust: libgit2 (Debian: mbedTLS) trusts /etc/ssl/certs/ca-certificates.crt.
//   When the environment sets SSL_CERT_FILE and/or SSL_CERT_DIR at the first
//   use of this library, those replace it, as they would for OpenSSL
//   (SSL_CERT_DIR defaults to /etc/ssl/certs when only SSL_CERT_FILE is set);
//   mbedTLS keeps one CA chain per process, so this cannot change later.
//   A per-repository CA (the Secret's `caFile` or `ca.crt`) is checked per
//   fetch, for that repository alone: when mbedTLS rejects a certificate,
//   Cairn verifies it again with OpenSSL against that CA plus the trust above
//   (which also fixes mbedTLS 2.28 ignoring IP-address SANs).
// - at most 256 pack files are kept open across all mirrors.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct git_repository;

namespace cairn::git {

enum class Code {
  kAuth,           // credentials missing or rejected
  kNotFound,       // repository, ref, commit or path does not exist
  kUnreachable,    // connection refused, DNS, network or protocol failure
  kTimeout,        // the fetch watchdog gave up
  kInvalid,        // bad input (URL, ref name, path) or a limit exceeded
  kSignature,      // the trusted keys cannot be parsed (a failed check is a SignatureStatus)
  kInternal,       // libgit2, disk or a bug on our side
  kUntrustedHost,  // TLS certificate or SSH host key not trusted
};

std::string_view code_name(Code c);

struct Error {
  Code code = Code::kInternal;
  std::string message;
  // "NotFound: branch \"main\" not found in https://..." — code first.
  std::string to_string() const;
  // Whether trying again later may succeed without anyone changing anything.
  bool retriable() const;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Code code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

// From a Kubernetes Secret's data (already base64-decoded by the caller).
// Keys (as Flux's GitRepository reads them): username + password, or
// bearerToken (sent as the password; the username defaults to
// "x-access-token"), or identity (SSH private key, PEM or OpenSSH format;
// `password` is then its passphrase) + known_hosts; and caFile or ca.crt
// (PEM CA certificates trusted for this repository's https server, in
// addition to the system store).
struct Credentials {
  std::string username, password, bearer_token, ssh_identity, ssh_known_hosts;
  std::string ca_pem;
  bool empty() const {
    return username.empty() && password.empty() && bearer_token.empty() && ssh_identity.empty();
  }
};
Credentials credentials_from_secret(const std::map<std::string, std::string>& data);

// The watchdog aborts a fetch (Code::kTimeout) that runs longer than
// `timeout`, or receives nothing and makes no progress for `stall_timeout`.
// Zero disables a bound. Name resolution (getaddrinfo) cannot be interrupted.
struct FetchOptions {
  Credentials creds;
  std::chrono::seconds timeout{120};       // whole fetch
  std::chrono::seconds stall_timeout{30};  // no bytes received and no progress for this long
  // Finer-grained overrides, used when non-zero (tests; sub-second bounds).
  std::chrono::milliseconds timeout_ms{0};
  std::chrono::milliseconds stall_timeout_ms{0};
};

enum class RefKind { kBranch, kTag, kCommit };
struct Ref {
  RefKind kind;
  std::string name;  // branch or tag name (without refs/heads/ or refs/tags/), or a full 40-hex id
};
std::string to_string(const Ref& ref);  // `branch "main"`, `tag "v1"`, `commit 0123abc...`

struct CommitInfo {
  std::string id, author_name, author_email, committer_name, committer_email, title, message;
  int64_t author_time = 0, commit_time = 0;  // seconds since the epoch
  bool has_signature = false;
  std::vector<std::string> parents;
};

struct File {
  std::string path;  // relative to the repository root
  std::string content;
};

struct ReadLimits {
  size_t max_files = 10000;
  size_t max_file_bytes = 64u << 20;
  size_t max_total_bytes = 256u << 20;
};

enum class SignatureStatus { kUnsigned, kValid, kInvalid, kUntrustedKey, kUnsupported };
std::string_view status_name(SignatureStatus s);

struct SignatureCheck {
  SignatureStatus status = SignatureStatus::kUnsigned;
  // SSH: "SHA256:<base64>" as ssh-keygen -l prints it; OpenPGP: the 40-hex
  // fingerprint of the signing (sub)key, or its 16-hex key id when only that is known.
  std::string key_fingerprint;
  std::string message;  // why, for a person
};

// What reconcilers and the webhook need from a repository. Mirror implements
// it; tests of the callers can supply their own.
class Source {
 public:
  virtual ~Source() = default;
  // The URL without credentials.
  virtual const std::string& url() const = 0;
  // Fetches all branches and tags (+refs/heads/*:refs/heads/*,
  // +refs/tags/*:refs/tags/*) and prunes refs deleted upstream. Force-pushed
  // history is accepted; objects are never deleted (no gc), so commits that
  // a force-push dropped stay readable by id. Fetches of one mirror are
  // serialised (the timeouts count from when this fetch starts); reads go on.
  virtual Result<void> fetch(const FetchOptions& opts) = 0;
  // Full commit id of a branch or tag (annotated tags peeled); for a commit,
  // that it exists (NotFound otherwise).
  virtual Result<std::string> resolve(const Ref& ref) = 0;
  // Metadata of a commit, by full id or an unambiguous prefix of 4+ hex digits.
  virtual Result<CommitInfo> commit(const std::string& id) = 0;
  // The files under `path` (a directory, recursively; "" or "." for the
  // root; a file names just that file) at the commit, for which `filter`
  // (given the repository-relative path; empty: all) is true, sorted by path.
  // Symbolic links and submodules are skipped.
  virtual Result<std::vector<File>> files(const std::string& commit, const std::string& path,
                                          const std::function<bool(std::string_view)>& filter,
                                          const ReadLimits& limits = {}) = 0;
  // True if `commit` == `descendant` or `commit` is reachable from `descendant`.
  virtual Result<bool> is_ancestor(const std::string& commit, const std::string& descendant) = 0;
  // resolve(ref), then is_ancestor(commit, that).
  virtual Result<bool> reachable_from(const std::string& commit, const Ref& ref) = 0;
  // Verifies the commit's signature against trusted public keys. Each entry
  // holds one or more OpenSSH public key lines ("ssh-ed25519 AAAA... comment",
  // "ecdsa-sha2-nistp256 ...", "ssh-rsa ..."; an allowed_signers line with
  // principals in front also works) or ASCII-armored OpenPGP public key blocks.
  virtual Result<SignatureCheck> verify_signature(const std::string& commit,
                                                  const std::vector<std::string>& trusted_keys) = 0;
  // When the last successful fetch finished; the epoch if never.
  virtual std::chrono::system_clock::time_point last_fetch() const = 0;
};

// One bare mirror of one URL, on disk. Safe for concurrent use from many
// threads: every operation uses its own libgit2 repository handle (handles are
// pooled, never shared between threads at once).
class Mirror final : public Source {
 public:
  // `url` may carry credentials (they are used, never shown); `dir` is the
  // bare repository's directory, created on first use.
  Mirror(std::string url, std::string dir);
  ~Mirror() override;
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  const std::string& url() const override { return url_; }
  const std::string& dir() const { return dir_; }
  Result<void> fetch(const FetchOptions& opts) override;
  Result<std::string> resolve(const Ref& ref) override;
  Result<CommitInfo> commit(const std::string& id) override;
  Result<std::vector<File>> files(const std::string& commit, const std::string& path,
                                  const std::function<bool(std::string_view)>& filter,
                                  const ReadLimits& limits = {}) override;
  Result<bool> is_ancestor(const std::string& commit, const std::string& descendant) override;
  Result<bool> reachable_from(const std::string& commit, const Ref& ref) override;
  Result<SignatureCheck> verify_signature(const std::string& commit,
                                          const std::vector<std::string>& trusted_keys) override;
  std::chrono::system_clock::time_point last_fetch() const override;

 private:
  class Lease;  // a pooled repository handle, returned to the pool on destruction
  Result<Lease> open();
  Result<void> ensure_created();
  void release(git_repository* repo, uint64_t generation);

  const std::string fetch_url_;  // as given, with credentials
  const std::string url_;        // redacted
  const std::string dir_;

  std::mutex fetch_mu_;  // serialises fetches

  std::mutex create_mu_;
  bool created_ = false;  // guarded by create_mu_

  std::mutex pool_mu_;
  std::vector<git_repository*> pool_;  // idle handles; guarded by pool_mu_
  uint64_t generation_ = 0;            // bumped by each fetch; guarded by pool_mu_

  std::atomic<int64_t> last_fetch_ns_{0};
};

// One Mirror per normalised URL, shared by all resources that name it.
class Cache {
 public:
  // Bare repositories live in dir/<first 20 hex of sha256(normalised URL)>/.
  explicit Cache(std::string dir);
  // The same object for the same (normalised) URL; thread-safe.
  std::shared_ptr<Mirror> mirror(const std::string& url);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Mirror>> mirrors_;  // guarded by mu_
};

// A URL without credentials, for messages and logs: user:password@ (or a lone
// token@) is dropped from URLs with a scheme; scp-like `git@host:path` keeps
// its user, which is not a secret.
std::string redact_url(const std::string& url);

// The cache key of a URL: scheme and host lower-cased, credentials and
// trailing slashes dropped; a local path made absolute.
std::string normalize_url(const std::string& url);

// The repository a URL names, for matching a push hook's URLs with a
// source's: normalize_url without a trailing ".git" and without the ssh
// user, so git@host:org/app.git and https://host/org/app differ only by
// scheme, and https://host/org/app.git equals https://host/org/app.
std::string repository_identity(const std::string& url);

// The web address of a repository, as GitHub, GitLab, Gitea and the like
// serve it (<web_url>/commit/<sha> shows a commit): credentials and ".git"
// dropped, ssh and scp-like URLs on https without their ssh port;
// https://user:pw@host/org/app.git and git@host:org/app.git ->
// https://host/org/app. "" for other transports (git://, file, local paths).
std::string web_url(const std::string& url);

// Whether `url` uses a supported transport (https, http, ssh, scp-like
// user@host:path, git, file, or a local path); kInvalid with the reason if not.
Result<void> check_url(const std::string& url);

// A commit id as messages show it: its first 8 hex digits.
std::string short_sha(const std::string& commit);

// Why `commit` is not validly signed by one of `trusted_keys`, for a person
// ("Invalid: ...", or why it could not be checked); std::nullopt when it is.
std::optional<std::string> signature_problem(Source& source, const std::string& commit,
                                             const std::vector<std::string>& trusted_keys);

// Initialises libgit2 and the process-wide settings above. Called by every
// entry point; idempotent and thread-safe. Fails only if libgit2 cannot start.
Result<void> init();

}  // namespace cairn::git
