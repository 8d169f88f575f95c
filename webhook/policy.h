// The provenance policy (shared/design.md, "Admission policy"): in a
// governed namespace a change to a governed kind is admitted only when it can
// be traced to a commit that a Release there tracks, and the object is what
// git says at that commit. And the validation of Pipeline and Release specs
// beyond what their CRD schemas can say.
//
// For a request in scope, in order:
// 1. the status subresource is admitted; scale too, unless scale is off;
// 2. requests of exempt users and groups (Kubernetes' own controllers) are
//    admitted; break-glass (a requester in the break-glass group, an object
//    carrying cairn.dev/break-glass: <reason>) is admitted with a warning and
//    reported (Event, metric, audit log line: the caller does that, from
//    Decision::break_glass);
// 3. DELETE is admitted for the operator only;
// 4. otherwise the object must carry the stamp, and: a Release in the
//    namespace named by the stamp tracks the stamp's repository; the commit
//    exists and is reachable from the Release's branch, tag or commit (one
//    bounded fetch when it is not known yet); it is signed by a trusted key
//    when the Release verifies signatures; its run of the gating Pipeline
//    succeeded when the Release has a gate; and the object has every field the
//    manifest at that commit sets, with the same value (manifest/match.h).
// A denial says what is missing and where to commit instead (repository,
// branch, path, Release). In a `warn` namespace the same finding becomes a
// warning; in `audit` it is only counted.
//
// The policy keeps no state the answer depends on besides caches of facts
// that cannot change (a commit's manifests, its signature, whether it is an
// ancestor of a given commit), so a dry-run request gets the same answer.
#pragma once

#include <chrono>
#include <expected>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/types.h"
#include "git/git.h"
#include "webhook/admission.h"

namespace cairn::webhook {

enum class Mode { kNone, kDeny, kWarn, kAudit };
std::string_view to_string(Mode m);
// "deny", "warn", "audit" (the cairn.dev/enforce label's values); anything
// else is kNone.
Mode mode_from_label(std::string_view value);

struct ReleaseInfo {
  std::string ns, name;
  api::ReleaseSpec spec;
  std::string key() const { return ns + "/" + name; }
};

// What the policy reads of the cluster: an informer-backed implementation in
// cluster.h; fakes in unit tests.
class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // The namespace's cairn.dev/enforce mode.
  virtual Mode mode(const std::string& ns) = 0;
  // The Releases in a namespace whose specs are valid, sorted by name.
  virtual std::vector<std::shared_ptr<const ReleaseInfo>> releases(const std::string& ns) = 0;
  // The phase ("Succeeded", "Failed", "Running", ...) of the newest run of
  // `commit` in Pipeline ns/name; "" when the Pipeline has no run of it;
  // nullopt when the Pipeline does not exist.
  virtual std::optional<std::string> run_phase(const std::string& ns, const std::string& pipeline,
                                               const std::string& commit) = 0;
  // The trusted keys of a Release that verifies signatures, or why they
  // cannot be read.
  virtual std::expected<std::vector<std::string>, std::string> signers(const ReleaseInfo& r) = 0;
  // Whether a kind is namespaced (discovery); nullopt when unknown.
  virtual std::optional<bool> is_namespaced(const std::string& api_version,
                                            const std::string& kind) = 0;
};

// The git side: a mirror per repository, and one bounded fetch with the
// Release's credentials.
class GitView {
 public:
  virtual ~GitView() = default;
  virtual std::shared_ptr<git::Source> source(const std::string& url) = 0;
  virtual std::expected<void, std::string> fetch(const ReleaseInfo& r, git::Source& source) = 0;
};

struct PolicyOptions {
  // "group/Kind" ("apps/Deployment", "/ConfigMap" for the core group).
  std::set<std::string> governed_kinds;
  std::set<std::string> exempt_namespaces = {"kube-system"};
  bool allow_scale = true;
  std::string break_glass_group = "cairn:break-glass";
  // Who may delete governed objects (the operator's user names).
  std::set<std::string> operator_users;
  // Kubernetes' own controllers, which update objects they did not create
  // (the ServiceAccount token controller, the namespace controller, ...).
  std::set<std::string> exempt_users = {"system:kube-controller-manager"};
  std::set<std::string> exempt_groups = {"system:serviceaccounts:kube-system"};
  // "group/Kind" -> dotted field paths not compared (fields an autoscaler owns).
  std::map<std::string, std::vector<std::string>> ignore_fields;
  // A commit that is not known (or not on the branch) triggers a fetch, but
  // no more often than this per repository.
  std::chrono::milliseconds min_fetch_interval{1000};
  size_t manifest_cache_entries = 256;
};

// Deployments, StatefulSets, DaemonSets, CronJobs, Services, ConfigMaps,
// Ingresses, Roles, RoleBindings, NetworkPolicies, ServiceAccounts.
std::set<std::string> default_governed_kinds();

// Parses "Deployment.apps,ConfigMap,Ingress.networking.k8s.io" (kubectl's
// Kind.group spelling) into group/Kind entries; an error names a bad entry.
std::expected<std::set<std::string>, std::string> parse_kinds(std::string_view list);

struct Decision {
  Verdict verdict;
  // Bounded labels for metrics: which rule decided, and the result
  // (allowed, denied, warned, audited).
  std::string rule;
  std::string result;
  Mode mode = Mode::kNone;
  // A break-glass admission: the caller records an Event, a metric and an
  // audit log line (unless the request is a dry run).
  bool break_glass = false;
  std::string break_glass_reason;
};

class Policy {
 public:
  Policy(ClusterView& cluster, GitView& git, PolicyOptions opts);

  // /validate: governed kinds.
  Decision decide(const Review& r);
  // /validate-cairn: Pipeline and Release specs.
  Decision validate_spec(const Review& r);

  const PolicyOptions& options() const { return opts_; }
  uint64_t fetches() const;

 private:
  struct Finding {
    std::string problem;  // what is missing or wrong
    std::string remedy;   // what to do instead
  };
  struct Index;  // the parsed manifests of one Release at one commit
  std::optional<Finding> check_provenance(const Review& r, const json& obj);
  // src.resolve(ref), read again only after the mirror has fetched.
  std::optional<std::string> resolve_head(git::Source& src, const git::Ref& ref);
  std::optional<Finding> check_commit(const ReleaseInfo& rel, const std::string& commit,
                                      const std::string& what);
  std::shared_ptr<const Index> manifests(const ReleaseInfo& rel, git::Source& src,
                                         const std::string& commit);
  bool fetch_once(const ReleaseInfo& rel, git::Source& src,
                  std::chrono::steady_clock::time_point asked_at, std::string* error);
  Decision finish(const Review& r, Mode mode, std::string rule, const Finding& f);

  ClusterView& cluster_;
  GitView& git_;
  PolicyOptions opts_;

  mutable std::mutex fetch_mu_;  // guards last_fetch_, fetches_ and fetch_locks_
  std::map<std::string, std::chrono::steady_clock::time_point> last_fetch_;  // by repository
  uint64_t fetches_ = 0;
  std::map<std::string, std::shared_ptr<std::mutex>> fetch_locks_;  // one fetch per repository

  std::mutex cache_mu_;  // guards the caches below
  std::list<std::string> lru_;
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<const Index>, std::list<std::string>::iterator>>
      index_;
  std::unordered_map<std::string, bool> ancestry_;    // "url commit head" -> is ancestor
  std::unordered_map<std::string, bool> signatures_;  // "url commit keys-hash" -> valid
  // "url ref" -> the commit it pointed to, and the mirror's last fetch when
  // it was read: refs change only when the mirror fetches, so a decision
  // reads them from disk only after one.
  std::unordered_map<std::string, std::pair<std::chrono::system_clock::time_point, std::string>>
      heads_;
  std::unordered_set<std::string> commits_;  // "url commit" known to exist (objects are immutable)
};

}  // namespace cairn::webhook
