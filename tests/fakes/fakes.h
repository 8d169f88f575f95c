// One set of fakes for the interfaces the operator's reconcilers use:
// kube::Api (an in-memory apiserver), git::Source and source::SourceProvider
// (an in-memory repository), kube::EventSink (recorded Events). Every
// reconciler test drives the real reconciler against these.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "git/git.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "source/source.h"

namespace cairn::fakes {

using kube::json;

// An apiserver in memory: objects by resource, namespace and name, with
// resourceVersion compare-and-swap, merge patches, a small server-side
// apply (the applied object replaces what it sets; managedFields record
// who applied) and deletes. `fault` can fail any call before it runs.
class FakeApi final : public kube::Api {
 public:
  struct Call {
    std::string verb;  // get list create update patch apply delete discovery
    std::string resource, ns, name, subresource;
    bool dry_run = false;
    json body;
  };
  FakeApi();

  // Runs before every call; an Error fails it (nothing changes).
  std::function<std::optional<kube::Error>(const Call&)> fault;
  // Runs after every successful apply that is not a dry run (a controller:
  // e.g. gives a Deployment its status).
  std::function<void(json& stored)> on_applied;

  // Every call made, in order.
  std::vector<Call> calls() const;
  size_t count(const std::string& verb, const std::string& resource = {}) const;
  void clear_calls();

  // Direct access, as kubectl would have: no faults, no calls recorded.
  void put(const kube::ApiResource& r, const json& obj);
  std::optional<json> peek(const kube::ApiResource& r, const std::string& ns,
                           const std::string& name) const;
  std::vector<json> all(const kube::ApiResource& r) const;
  // A hand edit by `manager`: `patch` is merge-patched in and `manager`
  // gets an Update entry owning `fields` (fieldsV1).
  void edit(const kube::ApiResource& r, const std::string& ns, const std::string& name,
            const json& patch, const std::string& manager, const json& fields);

  kube::Result<kube::ApiResource> resource_for(std::string_view api_version,
                                               std::string_view kind) override;
  kube::Result<kube::ApiResource> resource_of(const json& obj) override;
  kube::Result<json> get(const kube::ApiResource& r, std::string_view ns, std::string_view name,
                         std::string_view subresource = {}) override;
  kube::Result<json> list(const kube::ApiResource& r, std::string_view ns,
                          const kube::ListOptions& opts = {}) override;
  kube::Result<json> create(const kube::ApiResource& r, std::string_view ns, const json& obj,
                            const kube::WriteOptions& opts = {}) override;
  kube::Result<json> update(const kube::ApiResource& r, std::string_view ns, const json& obj,
                            std::string_view subresource = {},
                            const kube::WriteOptions& opts = {}) override;
  kube::Result<json> patch(const kube::ApiResource& r, std::string_view ns, std::string_view name,
                           kube::PatchType type, const json& patch,
                           std::string_view subresource = {},
                           const kube::WriteOptions& opts = {}) override;
  kube::Result<json> apply(const kube::ApiResource& r, std::string_view ns, const json& obj,
                           bool force, std::string_view subresource = {},
                           const kube::WriteOptions& opts = {}) override;
  kube::Result<json> remove(const kube::ApiResource& r, std::string_view ns, std::string_view name,
                            const kube::DeleteOptions& opts = {}) override;
  std::string default_field_manager() const override { return "cairn"; }

  static kube::Error error(kube::Code code, const std::string& message);

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // resource, ns, name
  Key key(const kube::ApiResource& r, std::string_view ns, std::string_view name) const;
  std::optional<kube::Error> check(Call call);
  void stamp(json& obj);  // resourceVersion, uid, creationTimestamp

  mutable std::mutex mu_;
  std::map<std::string, kube::ApiResource> kinds_;  // "apiVersion/Kind"
  std::map<Key, json> objects_;                     // guarded by mu_
  std::vector<Call> calls_;                         // guarded by mu_
  int64_t rv_ = 100;                                // guarded by mu_
};

// RFC 7386 JSON merge patch.
void merge_patch(json& target, const json& patch);

// A repository in memory: commits with their files and parents, branches.
class FakeGit final : public git::Source {
 public:
  explicit FakeGit(std::string url) : url_(std::move(url)) {}
  // Adds a commit on `branch` (its parent is the branch's head) and returns
  // its id (40 hex digits, from a counter).
  std::string commit(const std::string& branch, std::map<std::string, std::string> files,
                     const std::string& title = "change");
  // Moves a branch (a force-push).
  void set_branch(const std::string& branch, const std::string& id);
  // Signatures: commit id -> status.
  std::map<std::string, git::SignatureStatus> signatures;
  bool fail_fetch = false;
  int fetches = 0;

  const std::string& url() const override { return url_; }
  git::Result<void> fetch(const git::FetchOptions&) override;
  git::Result<std::string> resolve(const git::Ref& ref) override;
  git::Result<git::CommitInfo> commit(const std::string& id) override;
  git::Result<std::vector<git::File>> files(const std::string& commit, const std::string& path,
                                            const std::function<bool(std::string_view)>& filter,
                                            const git::ReadLimits& limits = {}) override;
  git::Result<bool> is_ancestor(const std::string& commit, const std::string& descendant) override;
  git::Result<bool> reachable_from(const std::string& commit, const git::Ref& ref) override;
  git::Result<git::SignatureCheck> verify_signature(const std::string& commit,
                                                    const std::vector<std::string>&) override;
  std::chrono::system_clock::time_point last_fetch() const override { return {}; }

 private:
  struct Commit {
    std::map<std::string, std::string> files;
    std::string parent, title;
  };
  mutable std::mutex mu_;
  std::string url_;
  std::map<std::string, Commit> commits_;        // guarded by mu_
  std::map<std::string, std::string> branches_;  // guarded by mu_
  int next_ = 1;                                 // guarded by mu_
};

class FakeSources final : public source::SourceProvider {
 public:
  std::shared_ptr<git::Source> source(const std::string& url) override;
  std::shared_ptr<FakeGit> repo(const std::string& url);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FakeGit>> repos_;  // guarded by mu_
};

class FakeEvents final : public kube::EventSink {
 public:
  struct Event {
    std::string type, reason, message;
  };
  void record(const json& object, const std::string& type, const std::string& reason,
              const std::string& message) override;
  std::vector<Event> events() const;
  bool has(const std::string& reason) const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;  // guarded by mu_
};

}  // namespace cairn::fakes
