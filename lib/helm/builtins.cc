// text/template's builtin functions (Go's text/template/funcs.go). `and`
// and `or` are special forms in the executor (they short-circuit).
#include <cstdio>

#include "helm/template.h"

namespace cairn::helm {
namespace {

using R = std::expected<Value, std::string>;

enum class BasicKind { kBool, kInt, kFloat, kString, kOther };

BasicKind basic_kind(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kBool:
      return BasicKind::kBool;
    case Value::Kind::kInt:
      return BasicKind::kInt;
    case Value::Kind::kFloat:
      return BasicKind::kFloat;
    case Value::Kind::kString:
      return BasicKind::kString;
    default:
      return BasicKind::kOther;
  }
}

std::expected<bool, std::string> equal(const Value& a, const Value& b) {
  if (a.is_nil() || b.is_nil()) return a.is_nil() && b.is_nil();
  BasicKind ka = basic_kind(a), kb = basic_kind(b);
  if (ka == BasicKind::kOther) return std::unexpected("invalid type for comparison");
  if (ka != kb) {
    if (kb == BasicKind::kOther) return std::unexpected("invalid type for comparison");
    return std::unexpected("incompatible types for comparison");
  }
  switch (ka) {
    case BasicKind::kBool:
      return a.as_bool() == b.as_bool();
    case BasicKind::kInt:
      return a.as_int() == b.as_int();
    case BasicKind::kFloat:
      return a.as_float() == b.as_float();
    case BasicKind::kString:
      return a.as_string() == b.as_string();
    default:
      return false;
  }
}

std::expected<bool, std::string> less(const Value& a, const Value& b) {
  BasicKind ka = basic_kind(a), kb = basic_kind(b);
  if (ka == BasicKind::kOther || ka == BasicKind::kBool || kb == BasicKind::kOther ||
      kb == BasicKind::kBool)
    return std::unexpected("invalid type for comparison");
  if (ka != kb) return std::unexpected("incompatible types for comparison");
  switch (ka) {
    case BasicKind::kInt:
      return a.as_int() < b.as_int();
    case BasicKind::kFloat:
      return a.as_float() < b.as_float();
    default:
      return a.as_string() < b.as_string();
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string js_escape(const std::string& s) {
  std::string out;
  char buf[8];
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
        break;
      case '<':
        out += "\\u003C";
        break;
      case '>':
        out += "\\u003E";
        break;
      case '&':
        out += "\\u0026";
        break;
      case '=':
        out += "\\u003D";
        break;
      default:
        if (static_cast<unsigned char>(c) < ' ') {
          std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string query_escape(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Go's escapers print their arguments as fmt.Sprint would (one string
// argument as is).
std::string eval_args_string(const std::vector<Value>& args) {
  if (args.size() == 1 && args[0].is_string()) return args[0].as_string();
  return go_print(args);
}

std::expected<std::int64_t, std::string> index_arg(const Value& v, std::size_t cap) {
  if (!v.is_int()) {
    if (v.is_nil()) return std::unexpected("cannot index slice/array with nil");
    return std::unexpected("cannot index slice/array with type " + v.type_name());
  }
  std::int64_t x = v.as_int();
  if (x < 0 || static_cast<std::size_t>(x) > cap)
    return std::unexpected("index out of range: " + std::to_string(x));
  return x;
}

R index_fn(FuncContext&, std::vector<Value>& a) {
  Value item = a[0];
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (item.is_nil()) return std::unexpected("index of untyped nil");
    if (item.is_list() || item.is_string()) {
      std::size_t len = item.is_list() ? item.list().size() : item.as_string().size();
      auto x = index_arg(a[i], len);
      if (!x) return std::unexpected(x.error());
      if (static_cast<std::size_t>(*x) == len)
        return std::unexpected("index out of range: " + std::to_string(*x));
      item =
          item.is_list()
              ? item.list()[*x]
              : Value(static_cast<std::int64_t>(static_cast<unsigned char>(item.as_string()[*x])));
    } else if (item.is_map()) {
      if (!a[i].is_string())
        return std::unexpected("value has type " + a[i].type_name() + "; should be string");
      auto it = item.map().find(a[i].as_string());
      item = it == item.map().end() ? Value() : it->second;
    } else {
      return std::unexpected("can't index item of type " + item.type_name());
    }
  }
  return item;
}

R slice_fn(FuncContext&, std::vector<Value>& a) {
  const Value& item = a[0];
  if (item.is_nil()) return std::unexpected("slice of untyped nil");
  if (a.size() > 4)
    return std::unexpected("too many slice indexes: " + std::to_string(a.size() - 1));
  std::size_t cap;
  if (item.is_string()) {
    if (a.size() == 4) return std::unexpected("cannot 3-index slice a string");
    cap = item.as_string().size();
  } else if (item.is_list()) {
    cap = item.list().size();
  } else {
    return std::unexpected("can't slice item of type " + item.type_name());
  }
  std::int64_t idx[3] = {0, static_cast<std::int64_t>(cap), static_cast<std::int64_t>(cap)};
  for (std::size_t i = 1; i < a.size(); ++i) {
    auto x = index_arg(a[i], cap);
    if (!x) return std::unexpected(x.error());
    idx[i - 1] = *x;
  }
  if (idx[0] > idx[1])
    return std::unexpected("invalid slice index: " + std::to_string(idx[0]) + " > " +
                           std::to_string(idx[1]));
  if (item.is_string())
    return Value(item.as_string().substr(static_cast<std::size_t>(idx[0]),
                                         static_cast<std::size_t>(idx[1] - idx[0])));
  return Value(List(item.list().begin() + idx[0], item.list().begin() + idx[1]));
}

}  // namespace

FuncMap builtin_funcs() {
  FuncMap m;
  auto add = [&](const char* name, std::vector<Param> params, bool variadic, Func fn) {
    m[name] = FuncSpec{std::move(fn), std::move(params), variadic, Param::kAny};
  };
  add("not", {Param::kAny}, false,
      [](FuncContext&, std::vector<Value>& a) -> R { return Value(!truthy(a[0])); });
  add("len", {Param::kAny}, false, [](FuncContext&, std::vector<Value>& a) -> R {
    const Value& v = a[0];
    if (v.is_string()) return Value(static_cast<std::int64_t>(v.as_string().size()));
    if (v.is_list()) return Value(static_cast<std::int64_t>(v.list().size()));
    if (v.is_map()) return Value(static_cast<std::int64_t>(v.map().size()));
    if (v.is_nil()) return std::unexpected("len of nil pointer");
    return std::unexpected("len of type " + v.type_name());
  });
  add("index", {Param::kAny}, true, index_fn);
  add("slice", {Param::kAny}, true, slice_fn);
  add("eq", {Param::kAny}, true, [](FuncContext&, std::vector<Value>& a) -> R {
    if (a.size() < 2) return std::unexpected("missing argument for comparison");
    for (std::size_t i = 1; i < a.size(); ++i) {
      auto e = equal(a[0], a[i]);
      if (!e) return std::unexpected(e.error());
      if (*e) return Value(true);
    }
    return Value(false);
  });
  add("ne", {Param::kAny, Param::kAny}, false, [](FuncContext&, std::vector<Value>& a) -> R {
    auto e = equal(a[0], a[1]);
    if (!e) return std::unexpected(e.error());
    return Value(!*e);
  });
  auto cmp = [&](const char* name, bool swap, bool or_equal) {
    add(name, {Param::kAny, Param::kAny}, false,
        [swap, or_equal](FuncContext&, std::vector<Value>& a) -> R {
          const Value& x = swap ? a[1] : a[0];
          const Value& y = swap ? a[0] : a[1];
          auto l = less(x, y);
          if (!l) return std::unexpected(l.error());
          if (*l) return Value(true);
          if (!or_equal) return Value(false);
          auto e = equal(x, y);
          if (!e) return std::unexpected(e.error());
          return Value(*e);
        });
  };
  cmp("lt", false, false);
  cmp("le", false, true);
  cmp("gt", true, false);
  cmp("ge", true, true);
  add("print", {}, true,
      [](FuncContext&, std::vector<Value>& a) -> R { return Value(go_print(a)); });
  add("println", {}, true,
      [](FuncContext&, std::vector<Value>& a) -> R { return Value(go_println(a)); });
  add("printf", {Param::kString}, true, [](FuncContext&, std::vector<Value>& a) -> R {
    return Value(go_sprintf(a[0].as_string(), std::vector<Value>(a.begin() + 1, a.end())));
  });
  add("html", {}, true, [](FuncContext&, std::vector<Value>& a) -> R {
    return Value(html_escape(eval_args_string(a)));
  });
  add("js", {}, true, [](FuncContext&, std::vector<Value>& a) -> R {
    return Value(js_escape(eval_args_string(a)));
  });
  add("urlquery", {}, true, [](FuncContext&, std::vector<Value>& a) -> R {
    return Value(query_escape(eval_args_string(a)));
  });
  add("call", {Param::kAny}, true, [](FuncContext&, std::vector<Value>& a) -> R {
    if (a[0].kind() != Value::Kind::kFunc)
      return std::unexpected("non-function of type " + a[0].type_name());
    return a[0].method().fn(std::vector<Value>(a.begin() + 1, a.end()));
  });
  return m;
}

}  // namespace cairn::helm
