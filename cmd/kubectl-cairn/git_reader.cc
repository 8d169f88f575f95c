#include "git_reader.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "source/source.h"

namespace cairn::cli {

namespace fs = std::filesystem;

std::string default_git_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/') {
    return std::string(x) + "/cairn/git";
  }
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/cairn/git";
  return "/tmp/cairn-git-cache-" + std::to_string(::getuid());
}

GitReader::GitReader(kube::Client& client, std::string ns, api::SourceSpec source,
                     std::string cache_dir, bool offline)
    : client_(client),
      ns_(std::move(ns)),
      source_(std::move(source)),
      cache_dir_(std::move(cache_dir)),
      offline_(offline) {
  if (!offline_) status_ = "cached";
}

bool GitReader::open() {
  if (mirror_) return true;
  std::error_code ec;
  fs::create_directories(cache_dir_, ec);
  if (ec) {
    error_ = "git cache directory " + cache_dir_ + " cannot be created: " + ec.message() +
             " (set --git-cache-dir)";
    status_ = "offline";
    return false;
  }
  cache_ = std::make_unique<git::Cache>(cache_dir_);
  mirror_ = cache_->mirror(source_.url);
  return true;
}

void GitReader::fetch_once() {
  if (fetched_ || offline_) return;
  fetched_ = true;
  auto creds = source::read_credentials(client_, ns_, source_);
  if (!creds) {
    status_ = "unreachable";
    error_ = creds.error().message;
    return;
  }
  git::FetchOptions opts;
  opts.creds = std::move(*creds);
  opts.timeout = std::chrono::seconds(60);
  opts.stall_timeout = std::chrono::seconds(15);
  if (auto r = mirror_->fetch(opts); !r) {
    status_ = "unreachable";
    error_ = r.error().message;  // lib/git redacts URLs and scrubs credentials
    return;
  }
  status_ = "fetched";
}

std::optional<git::CommitInfo> GitReader::commit(const std::string& id) {
  if (!open()) return std::nullopt;
  // A commit never changes: when the cache has it there is nothing to fetch.
  if (auto c = mirror_->commit(id)) return *c;
  if (offline_) {
    if (error_.empty()) error_ = "commit " + id.substr(0, 8) + " is not in the local cache";
    return std::nullopt;
  }
  fetch_once();
  auto c = mirror_->commit(id);
  if (c) return *c;
  if (status_ != "unreachable") {
    error_ = "commit " + id.substr(0, 8) + " is not in " + git::redact_url(source_.url) + " (" +
             c.error().message + ")";
  }
  return std::nullopt;
}

git::Source* GitReader::fetched_source() {
  if (!open()) return nullptr;
  fetch_once();
  if (status_ == "unreachable") return nullptr;
  return mirror_.get();
}

CommitLookup GitReader::look_up(const std::string& id) {
  CommitLookup out;
  out.url = git::redact_url(source_.url);
  out.info = commit(id);
  out.repository = status_;
  out.error = error_;
  out.signature_required = source_.verify.mode == api::VerifyMode::kHead;
  if (!out.signature_required) return out;
  if (!out.info) {
    out.signature_error = "the commit cannot be read, so its signature cannot be checked";
    return out;
  }
  auto signers = source::read_signers(client_, ns_, source_);
  if (!signers) {
    out.signature_error = signers.error().message;
    return out;
  }
  auto v = mirror_->verify_signature(out.info->id, *signers);
  if (v) {
    out.signature = *v;
  } else {
    out.signature_error = v.error().message;
  }
  return out;
}

}  // namespace cairn::cli
