// Names shared by the operator, the webhook and the kubectl plugin: the API
// group, the provenance stamp, the annotations a person sets, the labels on
// the Jobs a Pipeline starts, and the names of those Jobs.
#pragma once

#include <string>
#include <string_view>

namespace cairn::api {

inline constexpr std::string_view kGroup = "cairn.dev";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "cairn.dev/v1alpha1";
inline constexpr std::string_view kPipelineKind = "Pipeline";
inline constexpr std::string_view kPipelineResource = "pipelines";
inline constexpr std::string_view kReleaseKind = "Release";
inline constexpr std::string_view kReleaseResource = "releases";

// Provenance stamp, set on every object the operator applies.
inline constexpr std::string_view kCommitAnnotation = "cairn.dev/commit";    // full commit id
inline constexpr std::string_view kSourceAnnotation = "cairn.dev/source";    // repository URL
inline constexpr std::string_view kPathAnnotation = "cairn.dev/path";        // file in the repo
inline constexpr std::string_view kReleaseAnnotation = "cairn.dev/release";  // namespace/name
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "cairn";

// Set by people (or the kubectl plugin).
// On a Pipeline: any new value requests a manual run of the latest commit.
inline constexpr std::string_view kRequestedAtAnnotation = "cairn.dev/requested-at";
// On a Release: a commit id from status.history to roll back to.
inline constexpr std::string_view kRollbackToAnnotation = "cairn.dev/rollback-to";
// On a governed object: the reason for an emergency change outside git.
inline constexpr std::string_view kBreakGlassAnnotation = "cairn.dev/break-glass";
// On a Namespace: deny | warn | audit.
inline constexpr std::string_view kEnforceLabel = "cairn.dev/enforce";
inline constexpr std::string_view kEnforceDeny = "deny";
inline constexpr std::string_view kEnforceWarn = "warn";
inline constexpr std::string_view kEnforceAudit = "audit";
// On a Namespace, set by the platform: the repositories its Releases and
// Pipelines may follow (URLs, or prefixes ending in '/' or '*', separated by
// commas); unset: any.
inline constexpr std::string_view kAllowedSourcesAnnotation = "cairn.dev/allowed-sources";
// Set by the apiserver from Kubernetes 1.21 on; on 1.20 anyone who may
// update a Namespace can set it, so the webhook guards it.
inline constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

inline constexpr std::string_view kFinalizer = "cairn.dev/finalizer";

// Labels on the Jobs (and so the Pods) of a Pipeline run.
inline constexpr std::string_view kPipelineLabel = "cairn.dev/pipeline";
inline constexpr std::string_view kRunLabel = "cairn.dev/run";
inline constexpr std::string_view kCommitLabel = "cairn.dev/commit";
inline constexpr std::string_view kStepLabel = "cairn.dev/step";

// Kubernetes limits a label value, and so a Job name (it becomes the Pods'
// job-name label), to 63 characters.
inline constexpr std::size_t kMaxLabelValueLength = 63;
// Step names stay short so that <pipeline>-<run>-<step> usually fits as is.
inline constexpr std::size_t kMaxStepNameLength = 40;

// True for a DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool is_dns1123_label(std::string_view s);

// Name of the Job that runs `step` of run `run_id` of `pipeline`:
// "<pipeline>-<run_id>-<step>" when that is a valid DNS-1123 label. Otherwise
// the parts are lowercased, characters outside [a-z0-9-] become '-', and when
// the result is longer than 63 characters the pipeline part (then, if needed,
// the whole name) is shortened and a hash of the three inputs is added, so the
// name is always a valid DNS-1123 label of at most 63 characters and is the
// same for the same inputs on every host and every version of the operator.
std::string job_name(std::string_view pipeline, std::string_view run_id, std::string_view step);

}  // namespace cairn::api
