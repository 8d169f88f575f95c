// Go's text/template, as Helm uses it: a set of named templates parsed from
// files (and the `define`s inside them), executed against dynamic values with
// Go's semantics (truthiness, and/or returning an operand, eq/lt type rules,
// fmt's printing, missingkey=zero with "<no value>"). Errors read like Go's:
//   template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE
// Pure: no I/O; recursion and output are bounded.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "helm/value.h"

namespace cairn::helm {

class Executor;
struct ListNode;

// A template function. `args` are evaluated; an error is the text after
// "error calling NAME: ". Functions that need the executor (include, tpl)
// get it through `ctx`.
struct FuncContext {
  Executor* exec;
};
using Func =
    std::function<std::expected<Value, std::string>(FuncContext&, std::vector<Value>& args)>;

// How a function's arguments are checked and converted, as Go's reflect
// call does from the Go function's signature.
enum class Param { kAny, kString, kInt, kInt64, kFloat, kBool, kList, kMap, kStrings, kTime };
struct FuncSpec {
  Func fn;
  std::vector<Param> params;  // fixed parameters
  bool variadic = false;      // the last of `params` repeats
  Param variadic_param = Param::kAny;
  // Go's and/or are special forms: arguments evaluated lazily.
};
using FuncMap = std::map<std::string, FuncSpec, std::less<>>;

// Limits that keep a hostile chart from exhausting the operator.
struct Limits {
  int max_depth = 1000;                       // nested template/include/tpl calls
  std::size_t max_output = 64 * 1024 * 1024;  // bytes one execution may write
  std::size_t max_range = 10'000'000;         // iterations of one range
};

// A parsed set of templates (Go's *template.Template and its associates).
class TemplateSet {
 public:
  TemplateSet();
  ~TemplateSet();
  TemplateSet(const TemplateSet&) = delete;
  TemplateSet& operator=(const TemplateSet&) = delete;

  // Parses `text` as the template `name`, adding the `define`s in it. An
  // error reads "template: NAME:LINE: MESSAGE" as Go's parser's.
  // With `funcs`, a call of an unknown function is a parse error, as Go's.
  std::expected<void, std::string> parse(const std::string& name, const std::string& text,
                                         const FuncMap* funcs = nullptr);
  bool has(const std::string& name) const;
  // A copy sharing the parsed trees (tpl parses into a clone).
  std::unique_ptr<TemplateSet> clone() const;

  const ListNode* find(const std::string& name) const;

 private:
  std::map<std::string, std::shared_ptr<const ListNode>> templates_;
};

// Executes templates of a set. One per render (not thread-safe).
class Executor {
 public:
  Executor(const TemplateSet& set, const FuncMap& funcs, Limits limits = {});
  // Renders `name` with `dot` as its data. Output has "<no value>" where a
  // missing key was printed (Helm removes them afterwards).
  std::expected<std::string, std::string> execute(const std::string& name, const Value& dot);
  // Renders `name` of another set (tpl) sharing this executor's depth.
  std::expected<std::string, std::string> execute_in(const TemplateSet& set,
                                                     const std::string& name, const Value& dot);
  const TemplateSet& set() const { return *set_; }
  const FuncMap& funcs() const { return funcs_; }
  int depth() const { return depth_; }
  const Limits& limits() const { return limits_; }

 private:
  friend class State;
  const TemplateSet* set_;
  const FuncMap& funcs_;
  Limits limits_;
  int depth_ = 0;
};

// Go's fmt.Sprintf for the verbs templates use.
std::string go_sprintf(const std::string& format, const std::vector<Value>& args);
// fmt.Sprint / fmt.Sprintln of operands.
std::string go_print(const std::vector<Value>& args);
std::string go_println(const std::vector<Value>& args);

// text/template's builtins (and, or, not, eq, ..., printf, html, js,
// urlquery, call, index, slice, len).
FuncMap builtin_funcs();

}  // namespace cairn::helm
