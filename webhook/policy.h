// The provenance policy (shared/design.md, "Admission policy: closed by
// construction"): in a governed namespace nothing changes what runs, or what
// may run, unless it comes from git through Cairn. The rule is about who
// writes, not only about what the object looks like. For a request in a
// governed namespace (cairn.dev/enforce = deny | warn | audit; the exempt
// namespaces are decided by the request's namespace name):
//
// 1. Every namespaced kind is governed, except the kinds controllers derive
//    from governed objects (Pods, ReplicaSets, ControllerRevisions,
//    Endpoints, EndpointSlices, Jobs of CronJobs and of Pipelines, the
//    ServiceAccount token Secrets), which are written only by Kubernetes'
//    own components (and Pipeline Jobs by the operator); Events and Leases
//    (which change nothing that runs) and the review kinds that are never
//    stored are admitted. An outside controller is trusted for a kind only
//    when named with it (trusted_writers: identity and kind, never a
//    blanket exemption).
// 2. Only Cairn's operator creates, changes or deletes governed objects, and
//    only with a full stamp whose commit is a current target of the Release
//    the stamp names (status desired, current, last attempted or pinned
//    commit, a rollback requested from history, or a commit on the tracked
//    ref no older than the deployed one), that exists, is signed when the
//    Release verifies, passed the gate, and whose manifest the object
//    matches.
// 3. Anyone else changes only what is theirs: an UPDATE is diffed oldObject
//    -> object (manifest/diff.h) and each changed path must be allowed for
//    that identity: Kubernetes' components the fields they own
//    (controller_fields), anyone the --ignore-fields of the kind, and on
//    Releases and Pipelines the operational handles (rollback-to from
//    history, requested-at, spec.suspend). The scale subresource is a change
//    of spec.replicas. A CREATE is an object git never had.
// 4. Break-glass: a member of break_glass_group may make any change when the
//    object (for a DELETE, the old object) carries cairn.dev/break-glass
//    with a reason; it is admitted with a warning and reported (Event,
//    metric, audit line: the caller does that from Decision::break_glass).
//    Nobody else may add, change or remove that annotation.
// 5. DELETE: the operator, or break-glass. ownerReferences are a field like
//    any other (the garbage collector cannot be borrowed). On Namespaces
//    (cluster-scoped requests with kind Namespace): removing or changing
//    cairn.dev/enforce or cairn.dev/allowed-sources, setting
//    kubernetes.io/metadata.name to another name, and deleting a governed
//    Namespace that holds Releases need platform_group.
// 6. Releases and Pipelines in a governed namespace come from git (a parent
//    Release, through the operator) or from platform_group; their status
//    only from the operator. platform_group may also write Secrets that are
//    not from git (a Release's credentials and signers come before git can
//    deliver anything). A Release follows only the sources the
//    Namespace allows (cairn.dev/allowed-sources) and its gate must be a
//    Pipeline that follows the same repository.
// 7. Fail closed: when the namespace's mode, a Release or git cannot be
//    read, a mutating request is refused ("cannot verify"). CONNECT to
//    pods/exec and pods/attach is break-glass only in `deny` (exec option).
// 8. A denial says what is missing and what to do instead (Finding).
//
// `warn` turns each denial into an admission with warnings, `audit` into a
// count. The policy keeps no state an answer depends on besides caches of
// facts that do not change (git_facts.h), so a dry run gets the same answer.
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
#include <vector>

#include "api/types.h"
#include "git/git.h"
#include "manifest/diff.h"
#include "webhook/admission.h"
#include "webhook/git_facts.h"

namespace cairn::webhook {

enum class Mode { kNone, kDeny, kWarn, kAudit };
std::string_view to_string(Mode m);
// "deny", "warn", "audit" (the cairn.dev/enforce label's values); anything
// else is kNone.
Mode mode_from_label(std::string_view value);

// What the policy reads of a Namespace.
struct NamespaceInfo {
  Mode mode = Mode::kNone;
  // cairn.dev/allowed-sources: repository URLs (or prefixes ending in '/'
  // or '*'); unset: any.
  std::optional<std::vector<std::string>> allowed_sources;
};
// The policy's reading of a Namespace object.
NamespaceInfo namespace_info_of(const json& ns_object);

// A Release as the policy reads it: its spec, and the commits the operator
// may stamp objects with now.
struct ReleaseInfo {
  std::string ns, name;
  api::ReleaseSpec spec;
  std::set<std::string> targets;     // desired, current, last attempted, pinned, rollback-to
  std::string current_commit;        // status.currentCommit (deployed and healthy)
  std::vector<std::string> history;  // status.history commits, newest first
  std::string key() const { return ns + "/" + name; }
};
// From a Release object; nullptr when its spec is invalid.
std::shared_ptr<const ReleaseInfo> release_info_of(const json& release_object);

// What the policy reads of the cluster: an informer-backed implementation in
// cluster.h; fakes in unit tests.
class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // The namespace's mode and allowed sources, or why they cannot be read
  // (the decision then fails closed).
  virtual std::expected<NamespaceInfo, std::string> namespace_info(const std::string& ns) = 0;
  // The Releases in a namespace whose specs are valid, sorted by name.
  virtual std::vector<std::shared_ptr<const ReleaseInfo>> releases(const std::string& ns) = 0;
  // One Release read again from the apiserver (a cache may lag behind the
  // operator's last status write); nullptr when it does not exist.
  virtual std::expected<std::shared_ptr<const ReleaseInfo>, std::string> fresh_release(
      const std::string& ns, const std::string& name) = 0;
  // The phase ("Succeeded", "Failed", "Running", ...) of the newest run of
  // `commit` in Pipeline ns/name; "" when the Pipeline has no run of it;
  // nullopt when the Pipeline does not exist.
  virtual std::optional<std::string> run_phase(const std::string& ns, const std::string& pipeline,
                                               const std::string& commit) = 0;
  // spec.source.url of Pipeline ns/name; nullopt when it does not exist.
  virtual std::optional<std::string> pipeline_source(const std::string& ns,
                                                     const std::string& pipeline) = 0;
  // The trusted keys of a Release that verifies signatures, or why they
  // cannot be read.
  virtual std::expected<std::vector<std::string>, std::string> signers(const ReleaseInfo& r) = 0;
  // Whether a kind is namespaced (discovery); nullopt when unknown.
  virtual std::optional<bool> is_namespaced(const std::string& api_version,
                                            const std::string& kind) = 0;
};

enum class ExecPolicy { kBreakGlass, kAllow };

struct PolicyOptions {
  // Never governed, by the request's namespace name (Cairn's own namespace
  // is added by main).
  std::set<std::string> exempt_namespaces = {"kube-system", "kube-public", "kube-node-lease"};
  // People may use the scale subresource of governed workloads (kubectl
  // scale). Off: replicas come from git (an HPA, as a component, may still
  // scale; list spec.replicas in ignore_fields so that self-heal leaves it).
  bool allow_scale = false;
  std::string break_glass_group = "cairn:break-glass";
  // May create, change and delete Releases and Pipelines in governed
  // namespaces, and change a governed Namespace's Cairn labels.
  std::string platform_group = "cairn:platform";
  // Cairn's operator (its ServiceAccount's user name).
  std::set<std::string> operator_users;
  // Kubernetes' own components: they write the derived kinds and the fields
  // of governed objects that controllers own (controller_fields).
  std::set<std::string> component_users = {"system:kube-controller-manager",
                                           "system:kube-scheduler"};
  std::set<std::string> component_groups = {"system:nodes", "system:serviceaccounts:kube-system"};
  // Fields of governed objects a component may change, any kind
  // (manifest::PathPattern spelling).
  std::vector<std::string> controller_fields = default_controller_fields();
  // user name -> "group/Kind" it may create, change and delete (e.g. an
  // external-secrets controller's Secrets).
  std::map<std::string, std::set<std::string>> trusted_writers;
  // "group/Kind" -> dotted field paths anyone may change, and that the
  // manifest match does not compare (fields an autoscaler owns).
  std::map<std::string, std::vector<std::string>> ignore_fields;
  ExecPolicy exec = ExecPolicy::kBreakGlass;
  // A commit that is not known (or not on the branch) triggers a fetch, but
  // no more often than this per repository.
  std::chrono::milliseconds min_fetch_interval{1000};
  size_t manifest_cache_entries = 256;

  static std::vector<std::string> default_controller_fields();
};

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

  // /validate: every namespaced kind, and Namespaces.
  Decision decide(const Review& r);
  // /validate-cairn: Pipeline and Release specs.
  Decision validate_spec(const Review& r);

  const PolicyOptions& options() const { return opts_; }
  uint64_t fetches() const { return facts_.fetches(); }

  struct Finding {
    std::string problem;  // what is missing or wrong
    std::string remedy;   // what to do instead
  };

 private:
  struct Request;  // a review with the facts every rule reads
  struct Index;    // the rendered manifests of one Release at one commit

  Decision decide_namespace(const Review& r);
  Decision decide_connect(const Request& q);
  Decision decide_operator(const Request& q);
  Decision decide_component(const Request& q);
  Decision decide_other(const Request& q);
  Decision decide_cairn_kind(const Request& q);
  std::optional<Finding> check_release_spec(const Request& q);
  std::optional<Finding> check_provenance(const Request& q);
  std::optional<Finding> check_target(const Request& q, const ReleaseInfo& rel,
                                      const std::string& commit);
  std::optional<Finding> check_changes(const Request& q,
                                       const std::vector<manifest::PathPattern>& allowed,
                                       const std::string& who);
  std::shared_ptr<const Index> manifests(const ReleaseInfo& rel, git::Source& src,
                                         const std::string& commit);
  Decision finish(const Request& q, std::string rule, const Finding& f);
  Decision cannot_verify(const Review& r, std::string rule, const std::string& what);

  ClusterView& cluster_;
  PolicyOptions opts_;
  GitFacts facts_;
  std::vector<manifest::PathPattern> controller_patterns_;
  std::map<std::string, std::vector<manifest::PathPattern>> ignore_patterns_;

  std::mutex cache_mu_;  // guards the manifest cache below
  std::list<std::string> lru_;
  std::unordered_map<std::string,
                     std::pair<std::shared_ptr<const Index>, std::list<std::string>::iterator>>
      index_;
};

}  // namespace cairn::webhook
