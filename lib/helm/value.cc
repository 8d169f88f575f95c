#include "helm/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace cairn::helm {

std::optional<Value> Object::range_value() const { return std::nullopt; }
std::optional<Value> Object::marshal() const { return std::nullopt; }

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::kNil:
      return "<nil>";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return int_type_ == IntType::kInt64 ? "int64" : "int";
    case Kind::kFloat:
      return "float64";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "[]interface {}";
    case Kind::kMap:
      return "map[string]interface {}";
    case Kind::kFunc:
      return "func";
    case Kind::kObject:
      return object().type_name();
  }
  return "";
}

std::string Value::kind_name() const {
  switch (kind()) {
    case Kind::kNil:
      return "invalid";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return int_type_ == IntType::kInt64 ? "int64" : "int";
    case Kind::kFloat:
      return "float64";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "slice";
    case Kind::kMap:
      return "map";
    case Kind::kFunc:
      return "func";
    case Kind::kObject:
      return "struct";
  }
  return "";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
      return false;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int() != 0;
    case Value::Kind::kFloat:
      return v.as_float() != 0;
    case Value::Kind::kString:
      return !v.as_string().empty();
    case Value::Kind::kList:
      return !v.list().empty();
    case Value::Kind::kMap:
      return !v.map().empty();
    case Value::Kind::kFunc:
    case Value::Kind::kObject:
      return true;
  }
  return false;
}

Value deep_copy(const Value& v) {
  if (v.is_list()) {
    List out;
    out.reserve(v.list().size());
    for (const Value& x : v.list()) out.push_back(deep_copy(x));
    return Value(std::move(out));
  }
  if (v.is_map()) {
    Map out;
    for (const auto& [k, x] : v.map()) out.emplace(k, deep_copy(x));
    return Value(std::move(out));
  }
  return v;
}

bool deep_equal(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNil:
      return true;
    case Value::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Value::Kind::kInt:
      return a.int_type() == b.int_type() && a.as_int() == b.as_int();
    case Value::Kind::kFloat:
      return a.as_float() == b.as_float();
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kList: {
      if (a.list().size() != b.list().size()) return false;
      for (std::size_t i = 0; i < a.list().size(); ++i)
        if (!deep_equal(a.list()[i], b.list()[i])) return false;
      return true;
    }
    case Value::Kind::kMap: {
      if (a.map().size() != b.map().size()) return false;
      for (auto ia = a.map().begin(), ib = b.map().begin(); ia != a.map().end(); ++ia, ++ib)
        if (ia->first != ib->first || !deep_equal(ia->second, ib->second)) return false;
      return true;
    }
    case Value::Kind::kFunc:
      return false;
    case Value::Kind::kObject:
      return &a.object() == &b.object();
  }
  return false;
}

Value from_json(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return Value();
    case json::value_t::boolean:
      return Value(j.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return Value(j.get<double>());
    case json::value_t::string:
      return Value(j.get<std::string>());
    case json::value_t::array: {
      List out;
      out.reserve(j.size());
      for (const auto& x : j) out.push_back(from_json(x));
      return Value(std::move(out));
    }
    case json::value_t::object: {
      Map out;
      for (const auto& [k, x] : j.items()) out.emplace(k, from_json(x));
      return Value(std::move(out));
    }
    default:
      return Value();
  }
}

json to_json(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int();
    case Value::Kind::kFloat:
      return v.as_float();
    case Value::Kind::kString:
      return v.as_string();
    case Value::Kind::kList: {
      json out = json::array();
      for (const Value& x : v.list()) out.push_back(to_json(x));
      return out;
    }
    case Value::Kind::kMap: {
      json out = json::object();
      for (const auto& [k, x] : v.map()) out[k] = to_json(x);
      return out;
    }
    case Value::Kind::kObject:
      if (auto m = v.object().marshal()) return to_json(*m);
      return nullptr;
    default:
      return nullptr;
  }
}

std::string format_float_v(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f == 0) return std::signbit(f) ? "-0" : "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  // s is like "-1.2345e+06": split sign, digits, exponent.
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  std::size_t e = s.find('e');
  int exp = std::stoi(s.substr(e + 1));
  std::string digits;
  for (char c : s.substr(0, e))
    if (c != '.') digits += c;
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {  // strconv 'g', shortest: precision 6 decides
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + eb;
  }
  if (exp < 0) return out + "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  auto point = static_cast<std::size_t>(exp + 1);
  if (digits.size() <= point) return out + digits + std::string(point - digits.size(), '0');
  return out + digits.substr(0, point) + "." + digits.substr(point);
}

std::string go_sprint(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
      return "<nil>";
    case Value::Kind::kBool:
      return v.as_bool() ? "true" : "false";
    case Value::Kind::kInt:
      return std::to_string(v.as_int());
    case Value::Kind::kFloat:
      return format_float_v(v.as_float());
    case Value::Kind::kString:
      return v.as_string();
    case Value::Kind::kList: {
      std::string out = "[";
      bool first = true;
      for (const Value& x : v.list()) {
        if (!first) out += ' ';
        first = false;
        out += go_sprint(x);
      }
      return out + "]";
    }
    case Value::Kind::kMap: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, x] : v.map()) {
        if (!first) out += ' ';
        first = false;
        out += k + ":" + go_sprint(x);
      }
      return out + "]";
    }
    case Value::Kind::kFunc:
      return "0xfunc";
    case Value::Kind::kObject: {
      auto s = v.object().to_string();
      return s ? *s : "{" + v.object().type_name() + "}";
    }
  }
  return "";
}

}  // namespace cairn::helm
