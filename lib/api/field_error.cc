#include "api/field_error.h"

namespace cairn::api {

std::string FieldError::to_string() const {
  if (field.empty()) return message;
  return field + ": " + message;
}

std::string to_string(const std::vector<FieldError>& errors) {
  std::string out;
  for (const FieldError& e : errors) {
    if (!out.empty()) out += '\n';
    out += e.to_string();
  }
  return out;
}

}  // namespace cairn::api
