// The documents `kubectl cairn` prints, assembled from objects already read
// from the cluster and commits already read from git. Pure: no I/O, so the
// shape of every document (the -o json contract) is unit-tested, and the text
// output is rendered from the same document (render.h), so both always carry
// the same facts.
//
// Field names are stable: they are the -o json interface. A link of the chain
// that was not found is null; an optional field with no value is left out.
#pragma once

#include <chrono>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "git/git.h"
#include "json/json.h"
#include "resolve.h"

namespace cairn::cli {

using cairn::json;

// The provenance stamp of an object (empty strings where it has none).
struct Stamp {
  std::string commit, source, path, release;  // release: "namespace/name"
  bool managed = false;                       // app.kubernetes.io/managed-by: cairn
  bool empty() const { return commit.empty() && release.empty(); }
};
Stamp read_stamp(const json& obj);

// "ns/name" -> {ns, name}; a bare "name" is in `default_ns`.
std::pair<std::string, std::string> split_key(const std::string& key,
                                              const std::string& default_ns);

// What git said about one commit; filled in by the caller.
struct CommitLookup {
  std::string url;  // the repository, redacted
  // offline: not contacted (--offline, or no Release to take credentials from);
  // cached: the commit was in the local cache, no fetch was needed;
  // fetched: fetched now; unreachable: the fetch failed (see error).
  std::string repository = "offline";
  std::optional<git::CommitInfo> info;
  std::string error;  // why the repository or the commit could not be read
  // Signature: required when the Release's spec.source.verify.mode is head.
  bool signature_required = false;
  std::optional<git::SignatureCheck> signature;  // the check, when it ran
  std::string signature_error;                   // why it could not run
};

// The Pipeline that tests a Release's commits: spec.gate.pipelineRef when
// set, else the first Pipeline (by name) whose source has the same
// normalised URL and ref as the Release's.
struct PipelineMatch {
  const json* pipeline = nullptr;  // into the `items` given
  std::string matched_by;          // "gate" | "source"
  std::string missing_gate;        // the gate names a Pipeline that does not exist
};
PipelineMatch find_pipeline(const api::ReleaseSpec& release, const json& pipeline_items,
                            const std::string& commit);

// Index into runs (newest first) of the run that tested `commit`: the newest
// that Succeeded, else the newest of any phase; nullopt when none did.
std::optional<size_t> tested_run(const std::vector<api::RunStatus>& runs,
                                 const std::string& commit);

// Whether `id` names `full` (equal, or a prefix of at least 7 hex digits).
bool same_commit(const std::string& id, const std::string& full);

// Everything `trace` has gathered.
struct TraceInput {
  json object;                     // the live object
  Resource resource;               // its resource
  std::optional<json> release;     // the Release (for a Release, the object itself)
  std::string release_error;       // why there is none
  json pipelines = json::array();  // the Pipelines in the Release's namespace
  std::string pipelines_error;
  std::string commit;  // the commit followed (from the stamp or the Release)
  CommitLookup git;
};

// The chain, as one document (-o json):
//   object:   {apiVersion, kind, namespace, name, managedByCairn,
//              stamp: {commit, source, path, release} | null}
//   release:  {namespace, name, phase, ready: {status, reason, message},
//              stalled?, source: {url, ref}, path, gate: name | null, suspended?,
//              currentCommit, desiredCommit, lastAttemptedCommit, pinnedCommit,
//              objectCommitIsCurrent, inInventory,
//              history: [{commit, result, startedAt, finishedAt,
//                         leadTimeSeconds, reason, current}]} | null
//   commit:   {id, from: "git" | "pipeline" | null, title, author: {name, email},
//              authorTime, committer, commitTime, parents,
//              signature: {required, status, signed | key, message},
//              repository: {url, status: offline | cached | fetched |
//                           unreachable, error}} | null
//   pipeline: {namespace, name, matchedBy: "gate" | "source",
//              run: {id, commit, trigger, phase, author, title, startTime,
//                    completionTime, durationSeconds, message,
//                    steps: [{name, phase, attempts, job, startTime,
//                             completionTime, durationSeconds, message,
//                             results}]} | null,
//              otherRuns: [{id, trigger, phase}]} | null
//   errors:   [string]  a link of the chain is missing: exit status 1
//   warnings: [string]  the chain is complete but something is off, or git
//                       could not be reached
// signature.status is Valid, Invalid, UntrustedKey, Unsigned or Unsupported
// when the Release requires signed commits and the check ran, Unknown when it
// could not run, and NotRequired otherwise (then `signed` says whether the
// commit carries a signature at all).
json assemble_trace(const TraceInput& in);

// {release: {namespace, name, phase, currentCommit}, history: [{commit,
// result, startedAt, finishedAt, leadTimeSeconds, reason, current, title,
// author}], warnings}. `commits` holds what git knows of each commit;
// `pipelines` supplies titles from Pipeline runs when git does not.
json assemble_history(const json& release, const std::map<std::string, git::CommitInfo>& commits,
                      const json& pipeline_items, const std::string& git_error);

// {namespace, releases: [...], pipelines: [...]} for `status`.
json assemble_status(const std::string& ns, const json& release_items, const json& pipeline_items);

// The commit a rollback request should name: the full id of the entry in
// status.history with result Deployed that `to` names, or an error that says
// which commits can be named.
std::expected<std::string, std::string> rollback_target(const json& release, const std::string& to);

// The cairn.dev/rollback-to value to write for `full_commit`: the full id,
// unless the annotation or status.lastHandledRollbackTo already holds it (the
// operator acts only on a new value), then a shorter prefix of it (it accepts
// any prefix of 7+ digits), so asking again for the same commit still counts.
std::string rollback_annotation_value(const std::string& full_commit, const json& release);

// Seconds between two RFC 3339 timestamps; nullopt if either does not parse.
std::optional<int64_t> seconds_between(const std::string& from, const std::string& to);

// RFC 3339 (UTC) of seconds since the epoch.
std::string time_string(int64_t epoch_seconds);

}  // namespace cairn::cli
