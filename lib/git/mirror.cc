#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>
#include <utility>

#include "git/git.h"
#include "git/signature.h"
#include "git/transport.h"
#include "git/url.h"
#include "git/util.h"

namespace cairn::git {

using namespace detail;

namespace {

// Set by init() when SSL_CERT_FILE/SSL_CERT_DIR cannot be loaded; https
// fetches report it (other transports are unaffected).
std::string g_tls_error;

Result<void> do_init() {
  if (git_libgit2_init() < 0)
    return fail(Code::kInternal, "cannot initialise libgit2: " + last_git_error());
  // A mirror must behave the same whatever the system or the user's git
  // configuration says (url.insteadOf, http.proxy, ...).
  for (git_config_level_t level : {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG,
                                   GIT_CONFIG_LEVEL_GLOBAL, GIT_CONFIG_LEVEL_PROGRAMDATA})
    git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
  git_libgit2_opts(GIT_OPT_SET_USER_AGENT, "cairn");
  // Every fetch that brings objects adds a pack (libgit2 never repacks);
  // cap the packs kept open (and mapped) at once across all mirrors.
  git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT, static_cast<size_t>(256));
  // A controller reads trees once per commit: libgit2's defaults (a 256 MiB
  // object cache, 8 GiB of mapped pack windows) would let a few large
  // repositories grow the resident set far past what the work needs.
  git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, static_cast<ssize_t>(16) << 20);
  git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, static_cast<size_t>(64) << 20);
  // mbedTLS keeps one CA chain for the whole process, and replacing it while
  // a connection uses it is unsafe: this happens once, before any fetch.
  const char* file = std::getenv("SSL_CERT_FILE");
  const char* dir = std::getenv("SSL_CERT_DIR");
  if ((file && *file) || (dir && *dir)) {
    std::string d = dir && *dir ? dir : "";
    if (d.empty() && std::filesystem::is_directory("/etc/ssl/certs")) d = "/etc/ssl/certs";
    if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file && *file ? file : nullptr,
                         d.empty() ? nullptr : d.c_str()) < 0)
      g_tls_error =
          "cannot load the CA certificates of SSL_CERT_FILE=" + std::string(file ? file : "") +
          " SSL_CERT_DIR=" + d + ": " + last_git_error() + "; fix or unset these variables";
  }
  if (register_stream() < 0)
    return fail(Code::kInternal, "cannot register the socket stream: " + last_git_error());
  return {};
}

std::string format_time(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string oid_str(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

// A normalised repository-relative directory: "" for the root.
Result<std::string> clean_path(const std::string& path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string part =
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..")
      return fail(Code::kInvalid, "the path \"" + path +
                                      "\" leaves the repository (\"..\"); give a path inside it");
    if (!part.empty() && part != ".") out += (out.empty() ? "" : "/") + part;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

Result<void> init() {
  static std::once_flag once;
  static Result<void> result;
  std::call_once(once, [] { result = do_init(); });
  return result;
}

// ------------------------------------------------------------------ Lease

class Mirror::Lease {
 public:
  Lease(Mirror* m, git_repository* r, uint64_t gen) : mirror_(m), repo_(r), gen_(gen) {}
  Lease(Lease&& o) noexcept
      : mirror_(o.mirror_), repo_(std::exchange(o.repo_, nullptr)), gen_(o.gen_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (repo_) mirror_->release(repo_, gen_);
  }
  git_repository* get() const { return repo_; }

 private:
  Mirror* mirror_;
  git_repository* repo_;
  uint64_t gen_;
};

Mirror::Mirror(std::string url, std::string dir)
    : fetch_url_(std::move(url)), url_(redact_url(fetch_url_)), dir_(std::move(dir)) {}

Mirror::~Mirror() {
  for (git_repository* r : pool_) git_repository_free(r);
}

Result<void> Mirror::ensure_created() {
  std::lock_guard lk(create_mu_);
  if (created_) return {};
  if (auto r = init(); !r) return r;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    return fail(Code::kInternal,
                "cannot create the mirror directory " + dir_ + ": " + ec.message());
  git_repository* repo = nullptr;
  if (std::filesystem::exists(std::filesystem::path(dir_) / "HEAD")) {
    if (git_repository_open_bare(&repo, dir_.c_str()) < 0)
      return fail(Code::kInternal, "cannot open the mirror " + dir_ + " of " + url_ + ": " +
                                       last_git_error() +
                                       "; delete the directory to have it fetched again");
  } else if (git_repository_init(&repo, dir_.c_str(), 1) < 0) {
    return fail(Code::kInternal, "cannot create the mirror " + dir_ + ": " + last_git_error());
  }
  RepoPtr owned(repo);
  git_config* cfg = nullptr;
  if (git_repository_config(&cfg, repo) == 0) {
    ConfigPtr c(cfg);
    git_config_set_string(cfg, "cairn.url", url_.c_str());  // for people looking at the cache
  }
  created_ = true;
  return {};
}

Result<Mirror::Lease> Mirror::open() {
  if (auto r = ensure_created(); !r) return std::unexpected(r.error());
  uint64_t gen;
  {
    std::lock_guard lk(pool_mu_);
    gen = generation_;
    if (!pool_.empty()) {
      git_repository* r = pool_.back();
      pool_.pop_back();
      return Lease(this, r, gen);
    }
  }
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, dir_.c_str()) < 0)
    return fail(Code::kInternal,
                "cannot open the mirror " + dir_ + " of " + url_ + ": " + last_git_error());
  return Lease(this, repo, gen);
}

void Mirror::release(git_repository* repo, uint64_t generation) {
  {
    std::lock_guard lk(pool_mu_);
    // Handles opened before the last fetch are dropped rather than reused,
    // so no reader keeps stale caches around.
    if (generation == generation_ && pool_.size() < 16) {
      pool_.push_back(repo);
      return;
    }
  }
  git_repository_free(repo);
}

std::chrono::system_clock::time_point Mirror::last_fetch() const {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(last_fetch_ns_.load())));
}

namespace {

std::string fetched_note(std::chrono::system_clock::time_point last) {
  if (last.time_since_epoch().count() == 0) return " (the mirror has not been fetched yet)";
  return " (as of the fetch at " + format_time(last) + ")";
}

}  // namespace

// ------------------------------------------------------------------ fetch

Result<void> Mirror::fetch(const FetchOptions& opts) {
  if (auto r = init(); !r) return r;
  if (auto r = check_url(fetch_url_); !r) return r;
  UrlParts parts = parse_url(fetch_url_);
  if (parts.scheme == "https" && !g_tls_error.empty())
    return fail(Code::kUntrustedHost, g_tls_error);
  std::lock_guard fetch_lock(fetch_mu_);
  if (auto r = ensure_created(); !r) return r;
  git_repository* raw_repo = nullptr;
  if (git_repository_open_bare(&raw_repo, dir_.c_str()) < 0)
    return fail(Code::kInternal, "cannot open the mirror " + dir_ + ": " + last_git_error());
  RepoPtr repo(raw_repo);

  auto ctx = std::make_shared<FetchContext>(fetch_url_, opts);
  git_remote* raw_remote = nullptr;
  git_remote_create_options ro = GIT_REMOTE_CREATE_OPTIONS_INIT;
  ro.repository = repo.get();
  // Skipping url.insteadOf is not only consistent with ignoring the user's
  // config: libgit2 1.5 (pcre2 build) leaks ~20 KiB per config entry that
  // the insteadOf regex does not match (git_regexp_match never frees its
  // match data on a miss), i.e. on every fetch.
  ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  if (git_remote_create_with_opts(&raw_remote, fetch_url_.c_str(), &ro) < 0)
    return fail(Code::kInvalid, "cannot fetch " + url_ + ": " + ctx->scrub(last_git_error()));
  RemotePtr remote(raw_remote);

  git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
  fo.callbacks = ctx->callbacks();
  fo.prune = GIT_FETCH_PRUNE;
  // https_proxy/http_proxy/no_proxy from the environment, as for git.
  fo.proxy_opts.type = GIT_PROXY_AUTO;
  fo.update_fetchhead = 0;
  // Tags come from the forced refspec below; auto-following would skip it.
  fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  const char* specs[] = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
  git_strarray refspecs{const_cast<char**>(specs), 2};

  int rc;
  std::string message;
  {
    ScopedFetchContext scope(ctx);
    std::thread watchdog([ctx] { ctx->watch(); });
    rc = git_remote_fetch(remote.get(), &refspecs, &fo, "cairn: fetch");
    if (rc < 0) message = last_git_error("fetch failed");
    ctx->done();
    watchdog.join();
    remote.reset();  // closes the sockets while the context is current
  }
  if (rc < 0) return std::unexpected(classify_fetch_error(*ctx, rc, message));
  // libgit2 writes each fetched branch and tag as a file of its own (a loose
  // ref), and every later fetch and lookup stats them all: with 10,000 tags
  // a poll took twice as long. Pack them into packed-refs, as git gc
  // would (readers on other handles see the packed copy: libgit2 reloads
  // packed-refs when it changes). A failure only costs that speed.
  if (ctx->updated_refs > 0) {
    git_refdb* db = nullptr;
    if (git_repository_refdb(&db, repo.get()) == 0) {
      git_refdb_compress(db);
      git_refdb_free(db);
    }
  }

  last_fetch_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
  std::vector<git_repository*> stale;
  {
    std::lock_guard lk(pool_mu_);
    ++generation_;
    stale.swap(pool_);
  }
  for (git_repository* r : stale) git_repository_free(r);
  return {};
}

// ------------------------------------------------------------------ reads

namespace {

// Looks up a commit by its full id, or an unambiguous prefix of at least 4 hex digits.
Result<CommitPtr> lookup_commit(git_repository* repo, const std::string& id, const std::string& url,
                                std::chrono::system_clock::time_point fetched) {
  if (id.size() < 4 || id.size() > GIT_OID_HEXSZ || !is_hex(id))
    return fail(Code::kInvalid, "\"" + id + "\" is not a commit id (40 hexadecimal digits)");
  git_oid oid;
  if (git_oid_fromstrn(&oid, id.data(), id.size()) < 0)
    return fail(Code::kInvalid, "\"" + id + "\" is not a commit id: " + last_git_error());
  git_object* obj = nullptr;
  int rc = id.size() == GIT_OID_HEXSZ
               ? git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY)
               : git_object_lookup_prefix(&obj, repo, &oid, id.size(), GIT_OBJECT_ANY);
  if (rc == GIT_ENOTFOUND)
    return fail(Code::kNotFound, "commit " + id + " not found in " + url + fetched_note(fetched));
  if (rc == GIT_EAMBIGUOUS)
    return fail(Code::kInvalid, "the abbreviated id " + id + " is ambiguous in " + url +
                                    "; give the full 40-digit commit id");
  if (rc < 0) return fail(Code::kInternal, "looking up " + id + ": " + last_git_error());
  ObjectPtr owned(obj);
  if (git_object_type(obj) != GIT_OBJECT_COMMIT)
    return fail(Code::kNotFound, id + " in " + url + " is a " +
                                     git_object_type2string(git_object_type(obj)) +
                                     ", not a commit");
  return CommitPtr(reinterpret_cast<git_commit*>(owned.release()));
}

}  // namespace

Result<std::string> Mirror::resolve(const Ref& ref) {
  auto lease = open();
  if (!lease) return std::unexpected(lease.error());
  git_repository* repo = lease->get();
  if (ref.kind == RefKind::kCommit) {
    if (ref.name.size() != GIT_OID_HEXSZ || !is_hex(ref.name))
      return fail(Code::kInvalid,
                  "commit \"" + ref.name + "\" is not a full commit id (40 hexadecimal digits)");
    auto c = lookup_commit(repo, ref.name, url_, last_fetch());
    if (!c) return std::unexpected(c.error());
    return oid_str(git_commit_id(c->get()));
  }
  const bool branch = ref.kind == RefKind::kBranch;
  std::string name = ref.name;
  const std::string prefix = branch ? "refs/heads/" : "refs/tags/";
  if (name.starts_with(prefix)) name = name.substr(prefix.size());
  const std::string full = prefix + name;
  int valid = 0;
  if (name.empty() || git_reference_name_is_valid(&valid, full.c_str()) < 0 || !valid)
    return fail(Code::kInvalid,
                "\"" + ref.name + "\" is not a valid " + (branch ? "branch" : "tag") + " name");
  git_reference* raw = nullptr;
  int rc = git_reference_lookup(&raw, repo, full.c_str());
  if (rc == GIT_ENOTFOUND)
    return fail(Code::kNotFound,
                to_string(ref) + " not found in " + url_ + fetched_note(last_fetch()));
  if (rc < 0) return fail(Code::kInternal, "reading " + full + ": " + last_git_error());
  ReferencePtr r(raw);
  git_object* obj = nullptr;
  if (git_reference_peel(&obj, r.get(), GIT_OBJECT_COMMIT) < 0)
    return fail(Code::kInvalid, to_string(ref) + " in " + url_ +
                                    " does not point to a commit: " + last_git_error());
  ObjectPtr owned(obj);
  return oid_str(git_object_id(obj));
}

Result<CommitInfo> Mirror::commit(const std::string& id) {
  auto lease = open();
  if (!lease) return std::unexpected(lease.error());
  auto c = lookup_commit(lease->get(), id, url_, last_fetch());
  if (!c) return std::unexpected(c.error());
  git_commit* commit = c->get();
  CommitInfo info;
  info.id = oid_str(git_commit_id(commit));
  if (const git_signature* a = git_commit_author(commit)) {
    info.author_name = a->name ? a->name : "";
    info.author_email = a->email ? a->email : "";
    info.author_time = a->when.time;
  }
  if (const git_signature* s = git_commit_committer(commit)) {
    info.committer_name = s->name ? s->name : "";
    info.committer_email = s->email ? s->email : "";
  }
  info.commit_time = git_commit_time(commit);
  const char* msg = git_commit_message(commit);
  info.message = msg ? msg : "";
  const char* summary = git_commit_summary(commit);
  info.title = summary ? summary : "";
  Buf sig;
  info.has_signature = git_commit_header_field(&sig.buf, commit, "gpgsig") == 0;
  for (unsigned i = 0; i < git_commit_parentcount(commit); ++i)
    info.parents.push_back(oid_str(git_commit_parent_id(commit, i)));
  return info;
}

namespace {

struct Walk {
  git_repository* repo;
  std::string base;  // the walked directory + "/", or ""
  const std::function<bool(std::string_view)>* filter;
  const ReadLimits* limits;
  std::string where;  // for messages
  std::vector<File> files;
  size_t total = 0;
  std::optional<Error> error;
};

// Adds one blob; false (with w->error set) when a limit is exceeded.
bool add_blob(Walk* w, const std::string& path, const git_oid* id) {
  if (*w->filter && !(*w->filter)(path)) return true;
  if (w->files.size() >= w->limits->max_files) {
    w->error =
        Error{Code::kInvalid, "more than " + std::to_string(w->limits->max_files) + " files " +
                                  w->where + " (the limit); point the path at a smaller directory"};
    return false;
  }
  // The size from the object's header first: an oversized blob is refused
  // without being inflated into memory.
  size_t size = 0;
  git_odb* odb = nullptr;
  if (git_repository_odb(&odb, w->repo) == 0) {
    size_t len = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (git_odb_read_header(&len, &type, odb, id) == 0) size = len;
    git_odb_free(odb);
  }
  auto too_big = [&](size_t n) {
    w->error = Error{Code::kInvalid, "the file " + path + " " + w->where + " has " +
                                         std::to_string(n) + " bytes, more than the limit of " +
                                         std::to_string(w->limits->max_file_bytes) +
                                         " bytes for one file; split it into smaller files"};
    return false;
  };
  if (size > w->limits->max_file_bytes) return too_big(size);
  git_blob* raw = nullptr;
  if (git_blob_lookup(&raw, w->repo, id) < 0) {
    w->error = Error{Code::kInternal, "reading " + path + ": " + last_git_error()};
    return false;
  }
  BlobPtr blob(raw);
  size = static_cast<size_t>(git_blob_rawsize(raw));
  if (size > w->limits->max_file_bytes) return too_big(size);
  if (w->total + size > w->limits->max_total_bytes) {
    w->error =
        Error{Code::kInvalid, "the files " + w->where + " add up to more than " +
                                  std::to_string(w->limits->max_total_bytes) +
                                  " bytes (the limit); point the path at a smaller directory"};
    return false;
  }
  w->total += size;
  w->files.push_back({path, std::string(static_cast<const char*>(git_blob_rawcontent(raw)), size)});
  return true;
}

int walk_cb(const char* root, const git_tree_entry* entry, void* payload) {
  auto* w = static_cast<Walk*>(payload);
  git_filemode_t mode = git_tree_entry_filemode(entry);
  if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) return 0;
  std::string path = w->base + root + git_tree_entry_name(entry);
  return add_blob(w, path, git_tree_entry_id(entry)) ? 0 : -1;
}

}  // namespace

Result<std::vector<File>> Mirror::files(const std::string& commit_id, const std::string& path,
                                        const std::function<bool(std::string_view)>& filter,
                                        const ReadLimits& limits) {
  auto clean = clean_path(path);
  if (!clean) return std::unexpected(clean.error());
  auto lease = open();
  if (!lease) return std::unexpected(lease.error());
  git_repository* repo = lease->get();
  auto c = lookup_commit(repo, commit_id, url_, last_fetch());
  if (!c) return std::unexpected(c.error());
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, c->get()) < 0)
    return fail(Code::kInternal, "reading the tree of " + commit_id + ": " + last_git_error());
  TreePtr tree(raw_tree);
  const std::string short_id = oid_str(git_commit_id(c->get())).substr(0, 12);
  Walk w{repo,
         "",
         &filter,
         &limits,
         "under \"" + (clean->empty() ? std::string("/") : *clean) + "\" at commit " + short_id,
         {},
         0,
         std::nullopt};
  if (!clean->empty()) {
    git_tree_entry* raw_entry = nullptr;
    int rc = git_tree_entry_bypath(&raw_entry, tree.get(), clean->c_str());
    if (rc == GIT_ENOTFOUND)
      return fail(Code::kNotFound, "the path \"" + *clean + "\" does not exist at commit " +
                                       short_id + " of " + url_);
    if (rc < 0) return fail(Code::kInternal, "reading " + *clean + ": " + last_git_error());
    TreeEntryPtr entry(raw_entry);
    switch (git_tree_entry_type(raw_entry)) {
      case GIT_OBJECT_BLOB:
        if (git_tree_entry_filemode(raw_entry) == GIT_FILEMODE_LINK)
          return fail(Code::kInvalid, "the path \"" + *clean + "\" at commit " + short_id +
                                          " is a symbolic link, which Cairn does not follow");
        if (!add_blob(&w, *clean, git_tree_entry_id(raw_entry))) return std::unexpected(*w.error);
        return std::move(w.files);
      case GIT_OBJECT_TREE: {
        git_tree* sub = nullptr;
        if (git_tree_lookup(&sub, repo, git_tree_entry_id(raw_entry)) < 0)
          return fail(Code::kInternal, "reading " + *clean + ": " + last_git_error());
        tree.reset(sub);
        w.base = *clean + "/";
        break;
      }
      default:
        return fail(Code::kInvalid, "the path \"" + *clean + "\" at commit " + short_id +
                                        " is a submodule, not a directory");
    }
  }
  int rc = git_tree_walk(tree.get(), GIT_TREEWALK_PRE, walk_cb, &w);
  if (w.error) return std::unexpected(*w.error);
  if (rc < 0) return fail(Code::kInternal, "reading the tree " + w.where + ": " + last_git_error());
  std::sort(w.files.begin(), w.files.end(),
            [](const File& a, const File& b) { return a.path < b.path; });
  return std::move(w.files);
}

Result<bool> Mirror::is_ancestor(const std::string& commit_id, const std::string& descendant) {
  auto lease = open();
  if (!lease) return std::unexpected(lease.error());
  git_repository* repo = lease->get();
  auto a = lookup_commit(repo, commit_id, url_, last_fetch());
  if (!a) return std::unexpected(a.error());
  auto d = lookup_commit(repo, descendant, url_, last_fetch());
  if (!d) return std::unexpected(d.error());
  const git_oid* aid = git_commit_id(a->get());
  const git_oid* did = git_commit_id(d->get());
  if (git_oid_equal(aid, did)) return true;
  int rc = git_graph_descendant_of(repo, did, aid);
  if (rc < 0)
    return fail(Code::kInternal, "walking the history of " + url_ + ": " + last_git_error());
  return rc == 1;
}

Result<bool> Mirror::reachable_from(const std::string& commit_id, const Ref& ref) {
  auto head = resolve(ref);
  if (!head) return std::unexpected(head.error());
  return is_ancestor(commit_id, *head);
}

Result<SignatureCheck> Mirror::verify_signature(const std::string& commit_id,
                                                const std::vector<std::string>& trusted_keys) {
  auto trusted = parse_trusted_keys(trusted_keys);
  if (!trusted) return std::unexpected(trusted.error());
  auto lease = open();
  if (!lease) return std::unexpected(lease.error());
  git_repository* repo = lease->get();
  auto c = lookup_commit(repo, commit_id, url_, last_fetch());
  if (!c) return std::unexpected(c.error());
  const std::string id = oid_str(git_commit_id(c->get()));
  Buf sig, data;
  int rc = git_commit_extract_signature(&sig.buf, &data.buf, repo,
                                        const_cast<git_oid*>(git_commit_id(c->get())), nullptr);
  if (rc == GIT_ENOTFOUND)
    return SignatureCheck{SignatureStatus::kUnsigned, "", "commit " + id + " is not signed"};
  if (rc < 0)
    return fail(Code::kInternal, "reading the signature of " + id + ": " + last_git_error());
  SignatureCheck check = detail::verify_signature(sig.view(), data.view(), *trusted);
  check.message = "commit " + id.substr(0, 12) + ": " + check.message;
  return check;
}

// ------------------------------------------------------------------ Cache

Cache::Cache(std::string dir) : dir_(std::move(dir)) {}

std::shared_ptr<Mirror> Cache::mirror(const std::string& url) {
  std::string key = normalize_url(url);
  std::lock_guard lk(mu_);
  auto it = mirrors_.find(key);
  if (it != mirrors_.end()) return it->second;
  std::string dir = (std::filesystem::path(dir_) / hex(sha256(key)).substr(0, 20)).string();
  auto m = std::make_shared<Mirror>(url, dir);
  mirrors_.emplace(key, m);
  return m;
}

}  // namespace cairn::git
