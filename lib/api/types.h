// Pipeline and Release: spec and status as C++ values, mirroring
// crds/cairn.dev_pipelines.yaml and crds/cairn.dev_releases.yaml.
//
// Specs come in through validate.h (parse_pipeline_spec / parse_release_spec),
// which applies the CRD's defaults and checks what the schema cannot say.
// Statuses come in through parse_pipeline_status / parse_release_status below
// and go out through to_json. Durations are std::chrono::milliseconds;
// timestamps are kept as the RFC 3339 strings the apiserver stores
// ("2024-05-01T12:00:00Z"), so that a status read and written back is unchanged.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/field_error.h"
#include "json/json.h"

namespace cairn::api {

// ---- enumerations (the CRDs' enums; to_string gives the API spelling) ----

enum class VerifyMode { kNone, kHead };
enum class Trigger { kPoll, kPush, kManual };
enum class RunPhase { kPending, kRunning, kSucceeded, kFailed, kCancelled };
enum class StepPhase { kPending, kRunning, kSucceeded, kFailed, kSkipped, kCancelled };
enum class ReleasePhase { kProgressing, kDeployed, kFailed, kRolledBack };
enum class HistoryResult { kDeployed, kFailed, kRolledBack };
enum class NotifyEvent {
  kRunSucceeded,
  kRunFailed,
  kDeployed,
  kFailed,
  kRolledBack,
  kDriftCorrected
};

std::string_view to_string(VerifyMode v);
std::string_view to_string(Trigger v);
std::string_view to_string(RunPhase v);
std::string_view to_string(StepPhase v);
std::string_view to_string(ReleasePhase v);
std::string_view to_string(HistoryResult v);
std::string_view to_string(NotifyEvent v);

// Exact, case-sensitive match of the API spelling; false leaves `out` alone.
bool from_string(std::string_view s, VerifyMode& out);
bool from_string(std::string_view s, Trigger& out);
bool from_string(std::string_view s, RunPhase& out);
bool from_string(std::string_view s, StepPhase& out);
bool from_string(std::string_view s, ReleasePhase& out);
bool from_string(std::string_view s, HistoryResult& out);
bool from_string(std::string_view s, NotifyEvent& out);

// Whether a run or step phase is final.
bool is_finished(RunPhase p);
bool is_finished(StepPhase p);

// ---- shared spec pieces ----

struct LocalObjectReference {
  std::string name;
  bool operator==(const LocalObjectReference&) const = default;
};

struct VerifySpec {
  VerifyMode mode = VerifyMode::kNone;
  std::optional<LocalObjectReference> signers_secret_ref;  // required when mode is kHead
  bool operator==(const VerifySpec&) const = default;
};

// Exactly one of branch, tag and commit is non-empty in a validated spec.
struct SourceSpec {
  std::string url;
  std::string branch;
  std::string tag;
  std::string commit;
  std::optional<LocalObjectReference> secret_ref;
  std::chrono::milliseconds interval = std::chrono::minutes(1);
  VerifySpec verify;

  // "branch main", "tag v1.2.0" or "commit 0123abc..." for messages.
  std::string ref_description() const;
  bool operator==(const SourceSpec&) const = default;
};

struct NotifySpec {
  std::string url;
  std::optional<LocalObjectReference> secret_ref;  // keys: url (overrides url), token
  std::vector<NotifyEvent> events;                 // empty: every event

  bool wants(NotifyEvent e) const;
  bool operator==(const NotifySpec&) const = default;
};

// ---- Pipeline ----

struct EnvVar {
  std::string name;
  std::string value;
  bool operator==(const EnvVar&) const = default;
};

// A validated step has a script, or a command (with optional args), not both.
struct Step {
  std::string name;
  std::string image;
  std::string script;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::optional<std::chrono::milliseconds> timeout;  // per attempt; none: no limit
  int retries = 0;
  std::vector<std::string> after;
  bool operator==(const Step&) const = default;
};

struct PipelineSpec {
  SourceSpec source;
  std::vector<Step> steps;
  int concurrency = 1;
  int history_limit = 20;
  std::vector<NotifySpec> notify;

  const Step* find_step(std::string_view name) const;
  bool operator==(const PipelineSpec&) const = default;
};

// ---- Release ----

struct AnalysisSpec {
  std::string prometheus;  // base URL, http or https
  std::string query;       // PromQL instant query returning one sample
  double threshold = 0;    // the analysis passes when every result <= threshold
  std::chrono::milliseconds interval = std::chrono::seconds(30);
  int count = 4;
  bool operator==(const AnalysisSpec&) const = default;
};

struct RolloutSpec {
  std::chrono::milliseconds progress_deadline = std::chrono::minutes(5);
  bool auto_rollback = true;
  std::optional<AnalysisSpec> analysis;
  bool operator==(const RolloutSpec&) const = default;
};

struct GateSpec {
  LocalObjectReference pipeline_ref;
  bool operator==(const GateSpec&) const = default;
};

// spec.helm: how a chart at spec.path is rendered (as `helm template`).
struct HelmSpec {
  // Repository paths (relative to the repository root, normalized like
  // spec.path), read from the same commit and merged in order.
  std::vector<std::string> values_files;
  // spec.helm.values: an object merged last; a null deletes the key, as
  // Helm does. Always an object (empty when not set).
  cairn::json values = cairn::json::object();
  // .Release.Name; empty: the Release's name.
  std::string release_name;
  bool operator==(const HelmSpec&) const = default;
};

struct ReleaseSpec {
  SourceSpec source;
  // Normalized: relative, no "." or empty segments, no trailing '/'; "" is the
  // repository root.
  std::string path;
  bool cluster_scope = false;
  // Set when spec.helm is: spec.path must then hold a Chart.yaml.
  std::optional<HelmSpec> helm;
  std::optional<GateSpec> gate;
  RolloutSpec rollout;
  bool prune = true;
  bool self_heal = true;
  std::vector<LocalObjectReference> depends_on;
  bool suspend = false;
  int history_limit = 10;
  std::vector<NotifySpec> notify;
  bool operator==(const ReleaseSpec&) const = default;
};

// ---- status ----

// metav1.Condition. status is "True", "False" or "Unknown".
struct Condition {
  std::string type;
  std::string status;
  std::string reason;
  std::string message;
  std::string last_transition_time;
  std::int64_t observed_generation = 0;
  bool operator==(const Condition&) const = default;
};

struct StepStatus {
  std::string name;
  StepPhase phase = StepPhase::kPending;
  std::string job;
  int attempts = 0;
  std::string start_time;
  std::string completion_time;
  std::string message;
  std::map<std::string, std::string> results;
  bool operator==(const StepStatus&) const = default;
};

struct RunStatus {
  std::string id;
  std::string commit;
  std::string author;
  std::string title;
  Trigger trigger = Trigger::kPoll;
  RunPhase phase = RunPhase::kPending;
  std::string start_time;
  std::string completion_time;
  std::string message;
  std::vector<StepStatus> steps;

  StepStatus* find_step(std::string_view name);
  const StepStatus* find_step(std::string_view name) const;
  bool operator==(const RunStatus&) const = default;
};

struct PipelineStatus {
  std::int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::string latest_commit;
  std::string last_succeeded_commit;
  std::string last_handled_requested_at;  // cairn.dev/requested-at value of the last manual run
  std::optional<RunPhase> last_run_phase;
  std::vector<RunStatus> runs;

  RunStatus* find_run(std::string_view id);
  const RunStatus* find_run(std::string_view id) const;
  bool operator==(const PipelineStatus&) const = default;
};

struct InventoryEntry {
  std::string api_version;
  std::string kind;
  std::string namespace_;  // empty for cluster-scoped objects
  std::string name;
  bool operator==(const InventoryEntry&) const = default;
  auto operator<=>(const InventoryEntry&) const = default;
};

struct HistoryEntry {
  std::string commit;
  std::string started_at;
  std::string finished_at;
  HistoryResult result = HistoryResult::kDeployed;
  std::string reason;
  std::optional<std::int64_t> lead_time_seconds;  // set when result is kDeployed
  bool operator==(const HistoryEntry&) const = default;
};

// Progress of the analysis (spec.rollout.analysis) of one commit.
struct AnalysisStatus {
  std::string commit;
  int passed = 0;  // queries at or under the threshold so far
  int errors = 0;  // consecutive queries that returned no value
  std::string last_query_at;
  std::string last_value;  // as Prometheus returned it
  bool operator==(const AnalysisStatus&) const = default;
};

struct ReleaseStatus {
  std::int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  std::optional<ReleasePhase> phase;
  std::string desired_commit;
  std::string current_commit;
  std::string last_attempted_commit;
  std::string last_handled_rollback_to;  // cairn.dev/rollback-to value last acted on
  std::string pinned_commit;             // a manual rollback's commit, kept while...
  std::string pinned_while_head_was;     // ...the tracked ref still points here
  std::vector<InventoryEntry> inventory;
  std::vector<HistoryEntry> history;
  std::optional<AnalysisStatus> analysis;
  bool operator==(const ReleaseStatus&) const = default;
};

// ---- JSON ----
//
// to_json writes the API field names and, like Go's omitempty, leaves out
// empty strings, empty lists, zero counters and unset optionals, so write a
// status with an update of the status subresource or a server-side apply (a
// JSON merge patch would not clear a field that became empty). Spec to_json
// writes every defaulted field, durations in Go form ("1m0s").
//
// The parse functions never throw: fields of the wrong type, unknown enum
// values and non-object input come back as FieldErrors with their paths
// ("status.runs[0].phase"); unknown fields are ignored. A null or absent
// status parses as an empty status.

std::expected<PipelineStatus, std::vector<FieldError>> parse_pipeline_status(
    const cairn::json& status);
std::expected<ReleaseStatus, std::vector<FieldError>> parse_release_status(
    const cairn::json& status);
std::expected<std::vector<Condition>, std::vector<FieldError>> parse_conditions(
    const cairn::json& conditions);

void to_json(cairn::json& j, const LocalObjectReference& v);
void to_json(cairn::json& j, const VerifySpec& v);
void to_json(cairn::json& j, const SourceSpec& v);
void to_json(cairn::json& j, const NotifySpec& v);
void to_json(cairn::json& j, const EnvVar& v);
void to_json(cairn::json& j, const Step& v);
void to_json(cairn::json& j, const PipelineSpec& v);
void to_json(cairn::json& j, const AnalysisSpec& v);
void to_json(cairn::json& j, const RolloutSpec& v);
void to_json(cairn::json& j, const GateSpec& v);
void to_json(cairn::json& j, const HelmSpec& v);
void to_json(cairn::json& j, const ReleaseSpec& v);
void to_json(cairn::json& j, const Condition& v);
void to_json(cairn::json& j, const StepStatus& v);
void to_json(cairn::json& j, const RunStatus& v);
void to_json(cairn::json& j, const PipelineStatus& v);
void to_json(cairn::json& j, const InventoryEntry& v);
void to_json(cairn::json& j, const HistoryEntry& v);
void to_json(cairn::json& j, const ReleaseStatus& v);

// For nlohmann's j.get<T>(): the parse functions above, throwing
// std::invalid_argument with every error when they fail. Prefer the parse
// functions where the input is untrusted.
void from_json(const cairn::json& j, PipelineStatus& v);
void from_json(const cairn::json& j, ReleaseStatus& v);

}  // namespace cairn::api
