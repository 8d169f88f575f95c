// Helm's own template functions (pkg/engine/funcs.go and engine.go):
// include, tpl, required, fail, toYaml, fromYaml, fromYamlArray, toJson,
// fromJson, fromJsonArray and lookup (which, as in `helm template`, finds
// nothing). toToml is not provided: a chart calling it fails to parse with
// `function "toToml" not defined`.
#include "helm/functions.h"

#include "helm/yaml.h"

namespace cairn::helm {
namespace {

using R = std::expected<Value, std::string>;
using Args = std::vector<Value>;

std::string trim_newline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

std::string replace_no_value(std::string s) {
  static const std::string kNoValue = "<no value>";
  std::size_t p = 0;
  while ((p = s.find(kNoValue, p)) != std::string::npos) s.erase(p, kNoValue.size());
  return s;
}

R include(FuncContext& ctx, Args& a) {
  auto r = ctx.exec->execute(a[0].as_string(), a[1]);
  if (!r) return std::unexpected(r.error());
  return Value(std::move(*r));
}

R tpl(FuncContext& ctx, Args& a) {
  // As Helm: parse into a clone of the chart's templates, so the text can
  // include them, and drop "<no value>".
  auto set = ctx.exec->set().clone();
  const std::string& text = a[0].as_string();
  if (auto p = set->parse("tpl", text, &ctx.exec->funcs()); !p)
    return std::unexpected("cannot parse template \"" + text + "\": " + p.error());
  auto r = ctx.exec->execute_in(*set, "tpl", a[1]);
  if (!r)
    return std::unexpected("error during tpl function execution for \"" + text +
                           "\": " + r.error());
  return Value(replace_no_value(std::move(*r)));
}

R required(FuncContext&, Args& a) {
  if (a[1].is_nil() || (a[1].is_string() && a[1].as_string().empty()))
    return std::unexpected(a[0].as_string());
  return a[1];
}

R from_json_text(const std::string& s, bool want_array) {
  try {
    json j = json::parse(s);
    if (want_array != j.is_array()) {
      std::string msg = std::string("json: cannot unmarshal ") +
                        (j.is_array()    ? "array"
                         : j.is_object() ? "object"
                                         : "value") +
                        " into Go value of type " +
                        (want_array ? "[]interface {}" : "map[string]interface {}");
      return std::unexpected(msg);
    }
    return from_json(j);
  } catch (const std::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
}

}  // namespace

FuncMap helm_funcs() {
  FuncMap m = sprig_funcs();
  using P = Param;
  m["include"] = FuncSpec{include, {P::kString, P::kAny}};
  m["tpl"] = FuncSpec{tpl, {P::kString, P::kAny}};
  m["required"] = FuncSpec{required, {P::kString, P::kAny}};
  m["fail"] = FuncSpec{[](FuncContext&, Args& a) -> R { return std::unexpected(a[0].as_string()); },
                       {P::kString}};
  m["toYaml"] = FuncSpec{
      [](FuncContext&, Args& a) -> R { return Value(trim_newline(to_yaml(a[0]))); }, {P::kAny}};
  m["mustToYaml"] = m["toYaml"];
  m["fromYaml"] = FuncSpec{
      [](FuncContext&, Args& a) -> R {
        auto v = from_yaml(a[0].as_string());
        if (!v) return Value(Map{{"Error", Value(v.error())}});
        if (v->is_nil()) return Value(Map{});
        if (!v->is_map()) {
          return Value(Map{{"Error", Value("error unmarshaling JSON: json: cannot unmarshal " +
                                           std::string(v->is_list() ? "array" : "string") +
                                           " into Go value of type map[string]interface {}")}});
        }
        return *v;
      },
      {P::kString}};
  m["fromYamlArray"] = FuncSpec{
      [](FuncContext&, Args& a) -> R {
        auto v = from_yaml(a[0].as_string());
        if (!v) return Value(List{Value(v.error())});
        if (v->is_nil()) return Value(List{});
        if (!v->is_list()) {
          return Value(List{
              Value("error unmarshaling JSON: json: cannot unmarshal object into Go value of type "
                    "[]interface {}")});
        }
        return *v;
      },
      {P::kString}};
  m["fromJson"] = FuncSpec{[](FuncContext&, Args& a) -> R {
                             auto v = from_json_text(a[0].as_string(), false);
                             if (!v) return Value(Map{{"Error", Value(v.error())}});
                             return *v;
                           },
                           {P::kString}};
  m["fromJsonArray"] = FuncSpec{[](FuncContext&, Args& a) -> R {
                                  auto v = from_json_text(a[0].as_string(), true);
                                  if (!v) return Value(List{Value(v.error())});
                                  return *v;
                                },
                                {P::kString}};
  m["lookup"] = FuncSpec{[](FuncContext&, Args&) -> R { return Value(Map{}); },
                         {P::kString, P::kString, P::kString, P::kString}};
  return m;
}

}  // namespace cairn::helm
