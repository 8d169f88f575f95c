// The dynamic values a Go template sees, modelled on what Helm hands
// text/template: nil, bool, int/int64, float64, string, []interface{},
// map[string]interface{} and a few objects with methods (.Files,
// .Capabilities.APIVersions). Maps and lists are shared by reference, as Go
// maps and slices are: sprig's `set` on a dict is seen by every holder of it.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "json/json.h"

namespace cairn::helm {

class Value;
using List = std::vector<Value>;
using Map = std::map<std::string, Value>;  // Go prints and ranges maps sorted

// A function value (`call`) and a bound method (`.Files.Get`): arguments
// already evaluated; an error is the message Go would give after
// "error calling NAME: ".
using Callable = std::function<std::expected<Value, std::string>(const std::vector<Value>&)>;

// A Go struct or named type with fields and methods.
class Object {
 public:
  virtual ~Object() = default;
  // Go's type name, for errors and typeOf ("chartutil.Files").
  virtual std::string type_name() const = 0;
  // A field or a method by name; nullopt when it has neither.
  virtual std::optional<Value> field(const std::string& name) const = 0;
  // What fmt prints (a Stringer), nullopt for Go's struct printing.
  virtual std::optional<std::string> to_string() const { return std::nullopt; }
  // What `range` iterates over (Helm's Files is a map), nullopt if none.
  virtual std::optional<Value> range_value() const;
  // What encoding/json marshals it as (a json.Marshaler: time.Time is its
  // RFC 3339 string), nullopt for null.
  virtual std::optional<Value> marshal() const;
};

struct Method {
  std::string name;
  Callable fn;
};

class Value {
 public:
  enum class Kind { kNil, kBool, kInt, kFloat, kString, kList, kMap, kFunc, kObject };
  // Go distinguishes int and int64 for typeOf/kindIs and for functions'
  // parameter types; both are held as int64.
  enum class IntType : std::uint8_t { kInt, kInt64 };

  Value() = default;
  Value(std::nullptr_t) {}               // NOLINT(google-explicit-constructor)
  Value(bool b) : v_(b) {}               // NOLINT(google-explicit-constructor)
  Value(int i) : v_(std::int64_t{i}) {}  // NOLINT(google-explicit-constructor)
  Value(std::int64_t i, IntType t = IntType::kInt) : v_(i), int_type_(t) {}  // NOLINT
  Value(double d) : v_(d) {}                    // NOLINT(google-explicit-constructor)
  Value(std::string s) : v_(std::move(s)) {}    // NOLINT(google-explicit-constructor)
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  Value(List l) : v_(std::make_shared<List>(std::move(l))) {}      // NOLINT
  Value(Map m) : v_(std::make_shared<Map>(std::move(m))) {}        // NOLINT
  Value(std::shared_ptr<List> l) : v_(std::move(l)) {}             // NOLINT
  Value(std::shared_ptr<Map> m) : v_(std::move(m)) {}              // NOLINT
  Value(Method m) : v_(std::make_shared<Method>(std::move(m))) {}  // NOLINT
  Value(std::shared_ptr<const Object> o) : v_(std::move(o)) {}     // NOLINT

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_nil() const { return kind() == Kind::kNil; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_map() const { return kind() == Kind::kMap; }

  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  IntType int_type() const { return int_type_; }
  double as_float() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  List& list() const { return *std::get<std::shared_ptr<List>>(v_); }
  Map& map() const { return *std::get<std::shared_ptr<Map>>(v_); }
  const std::shared_ptr<List>& list_ptr() const { return std::get<std::shared_ptr<List>>(v_); }
  const std::shared_ptr<Map>& map_ptr() const { return std::get<std::shared_ptr<Map>>(v_); }
  const Method& method() const { return *std::get<std::shared_ptr<Method>>(v_); }
  const Object& object() const { return *std::get<std::shared_ptr<const Object>>(v_); }

  // Go's type name as %T and sprig's typeOf print it.
  std::string type_name() const;
  // Go's reflect.Kind name as sprig's kindOf prints it.
  std::string kind_name() const;

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string, std::shared_ptr<List>,
               std::shared_ptr<Map>, std::shared_ptr<Method>, std::shared_ptr<const Object>>
      v_;
  IntType int_type_ = IntType::kInt;
};

// text/template's truth: false, 0, nil, empty string/list/map are false.
bool truthy(const Value& v);
// A deep copy (sprig's deepCopy; values handed to a render are copied so a
// template's `set` cannot reach the caller's data).
Value deep_copy(const Value& v);
// Structural equality of JSON-like values (sprig's has/uniq/without).
bool deep_equal(const Value& a, const Value& b);

// JSON <-> Value. Numbers from JSON/YAML become float64, as Helm's values
// do after their trip through JSON; `ints` keeps whole numbers as int64
// (toYaml/toJson's view, and fromJson of integer literals is still float).
Value from_json(const json& j);
json to_json(const Value& v);

// fmt's %v of a value (Go's Sprint of one operand).
std::string go_sprint(const Value& v);
// Go's strconv.FormatFloat(f, 'g', -1, 64) as %v prints it.
std::string format_float_v(double f);
// A code point as UTF-8 (U+FFFD for one out of range), as Go's string(rune).
std::string rune_to_utf8(std::int64_t cp);

}  // namespace cairn::helm
