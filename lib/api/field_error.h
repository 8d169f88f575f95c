// A problem with one field of a Pipeline or Release, named by its path the way
// the apiserver names fields ("spec.steps[2].after[0]").
#pragma once

#include <string>
#include <vector>

namespace cairn::api {

struct FieldError {
  std::string field;    // "spec.steps[2].after[0]"; empty when not about one field
  std::string message;  // "unknown step \"tset\""

  // "spec.steps[2].after[0]: unknown step \"tset\""
  std::string to_string() const;
  bool operator==(const FieldError&) const = default;
};

// All errors, one per line, for a condition message or an admission denial.
std::string to_string(const std::vector<FieldError>& errors);

}  // namespace cairn::api
