// Internal to lib/api: reads untrusted JSON (a spec or status from the
// apiserver, or an AdmissionReview) field by field. Nothing here throws: a
// missing field is absent, a null is absent (as the apiserver treats it), and
// a value of the wrong type is recorded as a FieldError naming the field and
// the expected type, then treated as absent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/field_error.h"
#include "json/json.h"

namespace cairn::api::detail {

using cairn::json;

// Collects errors, up to a cap so that hostile input (a million bad list
// entries) cannot make the answer itself huge; past the cap errors are counted.
class Errors {
 public:
  static constexpr std::size_t kMax = 100;

  void add(std::string field, std::string message);
  std::size_t count() const { return errors_.size() + dropped_; }
  bool empty() const { return count() == 0; }
  // The errors, plus one "N more errors not shown" entry when some were dropped.
  std::vector<FieldError> take();

 private:
  std::vector<FieldError> errors_;
  std::size_t dropped_ = 0;
};

// "a string", "an object", ... for "must be X, not Y" messages.
std::string describe(const json& v);
// A user value inside a message: quoted, escaped, and cut to a readable length.
std::string quote(std::string_view s);

std::string item_path(const std::string& list, std::size_t i);

// A JSON object at `path`, possibly absent. Reading a field of an absent object
// gives absent.
class Object {
 public:
  // `v` may be null (absent). A present non-object is reported as an error.
  Object(const json* v, std::string path, Errors& errors);

  bool present() const { return v_ != nullptr; }
  const std::string& path() const { return path_; }
  std::string path(std::string_view key) const;
  bool has(std::string_view key) const { return get(key) != nullptr; }
  // The raw value, or nullptr when absent or null.
  const json* get(std::string_view key) const;

  std::optional<std::string> string(std::string_view key) const;
  std::optional<std::int64_t> integer(std::string_view key) const;
  std::optional<double> number(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  Object object(std::string_view key) const;
  // The array, or nullptr when absent, null or not an array (reported).
  const json* array(std::string_view key) const;
  // An array of strings; wrong-typed items are reported and skipped.
  std::optional<std::vector<std::string>> strings(std::string_view key) const;
  // An object of string values (status results); wrong-typed values reported.
  std::optional<std::map<std::string, std::string>> string_map(std::string_view key) const;

  Errors& errors() const { return *errors_; }

 private:
  const json* v_ = nullptr;
  std::string path_;
  Errors* errors_;
};

}  // namespace cairn::api::detail
