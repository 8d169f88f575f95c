// Parsing, defaulting and validation of Pipeline and Release specs: everything
// the CRD schema says, plus what it cannot (exclusive fields, the step graph,
// URL schemes, duration bounds). Shared by the webhook, which denies a bad
// spec with these messages, and the operator, which marks the object Stalled
// with them.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "api/field_error.h"
#include "api/names.h"
#include "api/types.h"
#include "json/json.h"

namespace cairn::api {

// Limits beyond which a spec is refused (also in the CRDs).
inline constexpr std::size_t kMaxSteps = 100;
inline constexpr int kMaxConcurrency = 20;
inline constexpr int kMaxHistoryLimit = 100;
inline constexpr int kMaxRetries = 10;
inline constexpr std::chrono::milliseconds kMinInterval = std::chrono::seconds(10);
inline constexpr std::chrono::milliseconds kMinStepTimeout = std::chrono::seconds(1);

// Parses `spec` (the object's .spec), applies the CRD's defaults and returns
// the spec, or every error found, each with its field path ("spec.steps[2].
// after[0]") and a message that says what to do. Never throws, whatever the
// input. `name` is the Pipeline's metadata.name; when given it is checked too
// (it must fit a label value: 63 characters).
std::expected<PipelineSpec, std::vector<FieldError>> parse_pipeline_spec(
    const cairn::json& spec, std::string_view name = {});

// Likewise for a Release; `release_name` is its metadata.name (a Release may
// not depend on itself).
std::expected<ReleaseSpec, std::vector<FieldError>> parse_release_spec(
    const cairn::json& spec, std::string_view release_name);

// Step names in an order that runs every step after the steps in its `after`:
// of the steps whose dependencies are done, the one declared first comes
// first. Meant for a validated spec; steps on a cycle (and steps after them)
// are left out, and unknown names in `after` are ignored.
std::vector<std::string> topological_order(const PipelineSpec& spec);

// Checks a repository URL: https, http, ssh, git or file scheme, or scp-like
// user@host:path; no password in it. Empty on success, else the reason.
std::string check_git_url(std::string_view url);

}  // namespace cairn::api
