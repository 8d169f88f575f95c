// Internal: what a fetch needs around libgit2's network code.
//
// libgit2 1.5 has no network timeouts, and git_remote_stop() only sets a
// flag that the smart protocol looks at between packets: a server that
// accepts and then says nothing blocks a fetch in recv() forever. So all of
// libgit2's sockets (http, https under mbedTLS, git://, and the socket libssh2
// is handed) come from Cairn's own stream (registered as GIT_STREAM_STANDARD),
// which connects and waits in short poll() slices, counts every byte received
// as progress, and gives up once the fetch's FetchContext is cancelled. A
// watchdog thread per fetch cancels it when nothing was received for the stall
// timeout or the whole fetch ran out of time, and shuts the sockets down so
// that libssh2, which reads the socket itself, wakes up too.
#pragma once

#include <git2.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "git/git.h"
#include "git/url.h"

namespace cairn::git::detail {

class FetchContext {
 public:
  using Clock = std::chrono::steady_clock;

  FetchContext(const std::string& fetch_url, const FetchOptions& opts);

  const std::string& url() const { return url_; }  // redacted
  const UrlParts& parts() const { return parts_; }
  const Credentials& creds() const { return creds_; }

  // Something was received or the transfer advanced.
  void progress();
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // Called by the watchdog: stops the transfer and wakes blocked sockets.
  void cancel(std::string why);
  std::string cancel_reason() const;

  // Sockets of this fetch, for the watchdog to shut down.
  void add_fd(int fd);
  void remove_fd(int fd);

  // The first specific failure a callback or the stream saw (fetch thread only).
  void record(Code code, std::string message);
  const std::optional<Error>& recorded() const { return recorded_; }

  // Removes secrets (password, token, the URL's user info) from a message.
  std::string scrub(std::string message) const;

  // Watchdog: until done(), checks the stall and total deadlines.
  void watch();
  void done();

  git_remote_callbacks callbacks();

  // Fetch-thread state for the callbacks.
  int userpass_attempts = 0;
  std::string connected_host;  // where the last TCP connection went (a proxy, or the server)
  std::string tls_host;        // the https server whose certificate was checked last
  int ssh_key_attempts = 0;
  git_indexer_progress last_stats{};
  int updated_refs = 0;  // refs the fetch created, moved or pruned

 private:
  std::string url_;
  UrlParts parts_;
  Credentials creds_;
  std::vector<std::string> secrets_;
  Clock::time_point start_;
  Clock::duration total_, stall_;
  std::atomic<int64_t> last_progress_ns_;
  std::atomic<bool> cancelled_{false};

  mutable std::mutex mu_;
  std::string cancel_reason_;  // guarded by mu_
  std::vector<int> fds_;       // guarded by mu_
  bool done_ = false;          // guarded by mu_
  std::condition_variable cv_;

  std::optional<Error> recorded_;
};

// Makes `ctx` the context of sockets libgit2 opens on this thread while in scope.
class ScopedFetchContext {
 public:
  explicit ScopedFetchContext(std::shared_ptr<FetchContext> ctx);
  ~ScopedFetchContext();
  ScopedFetchContext(const ScopedFetchContext&) = delete;
  ScopedFetchContext& operator=(const ScopedFetchContext&) = delete;
};

// Registers Cairn's socket stream with libgit2 (once, from init()).
int register_stream();

// The Error for a failed git_remote_fetch (rc, and libgit2's message).
Error classify_fetch_error(const FetchContext& ctx, int rc, const std::string& message);

}  // namespace cairn::git::detail
