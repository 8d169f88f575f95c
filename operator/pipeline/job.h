// The Kubernetes Job that runs one step of one run. A pure function of its
// inputs, so the same run and step always give the same Job (and name): a
// restarted operator finds the Job it created instead of making another.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "api/types.h"
#include "kube/client.h"

namespace cairn::pipeline {

struct JobInputs {
  std::string ns;
  std::string pipeline;
  std::string pipeline_uid;
  std::string run_id;
  std::string commit;       // full id
  std::string source_url;   // as in the spec (never with credentials)
  std::string secret_name;  // the source's secretRef, mounted for the checkout; may be empty
  std::string checkout_image;
  const api::Step* step = nullptr;
};

inline constexpr const char* kWorkspace = "/workspace";
inline constexpr const char* kGitAuthDir = "/var/run/cairn/git";

kube::json build_job(const JobInputs& in);

// The shell script of the checkout init container: fetch the repository and
// check the commit out into the workspace, with the credentials (if any)
// mounted from the source's Secret.
std::string checkout_script();

// Step results from a container's termination message: one `key=value` per
// line; keys are [A-Za-z0-9_.-]{1,63}; other lines are ignored; at most 32.
// Values longer than 1024 bytes are cut, at a UTF-8 character boundary (the
// status is JSON: half a character would make it unwritable).
std::map<std::string, std::string> parse_results(const std::string& message);

// At most `max_bytes` of `s`, never ending inside a UTF-8 character.
std::string utf8_prefix(std::string_view s, size_t max_bytes);

// What a failed step's message quotes of its termination message: trimmed,
// at most 512 bytes, cut at a character boundary.
std::string failure_excerpt(std::string_view message);

}  // namespace cairn::pipeline
