// Go's fmt for the verbs templates use: Sprint, Sprintln and Sprintf with
// %v %s %d %q %x %X %f %F %e %E %g %G %t %c %T %%, flags, width and
// precision, and fmt's "%!d(string=x)" / "%!v(MISSING)" / "%!(EXTRA ...)".
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "helm/template.h"

namespace cairn::helm {
namespace {

struct Spec {
  bool minus = false, plus = false, sharp = false, space = false, zero = false;
  int width = -1, prec = -1;
  char verb = 'v';
};

std::string pad(std::string s, const Spec& sp, bool numeric) {
  // Width counts runes, as Go's.
  int runes = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++runes;
  if (sp.width <= runes) return s;
  auto n = static_cast<std::size_t>(sp.width - runes);
  if (sp.minus) return s + std::string(n, ' ');
  if (sp.zero && numeric) {
    std::size_t at = !s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
    return s.insert(at, std::string(n, '0'));
  }
  if (sp.zero && !numeric) return std::string(n, '0') + s;
  return std::string(n, ' ') + s;
}

std::string bad_verb(const Spec& sp, const Value& v) {
  if (v.is_nil()) return std::string("%!") + sp.verb + "(<nil>)";
  return std::string("%!") + sp.verb + "(" + v.type_name() + "=" + go_sprint(v) + ")";
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\x%02x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string format_int(std::int64_t i, const Spec& sp) {
  std::string c = "%";
  if (sp.plus) c += '+';
  if (sp.space) c += ' ';
  if (sp.sharp) c += '#';
  if (sp.prec >= 0) c += "." + std::to_string(sp.prec);
  char v = sp.verb;
  if (v == 'v') v = 'd';
  if (v == 'b') {
    std::string bits;
    auto u = static_cast<std::uint64_t>(i < 0 ? -i : i);
    do {
      bits.insert(bits.begin(), static_cast<char>('0' + (u & 1)));
      u >>= 1;
    } while (u);
    return pad((i < 0 ? "-" : "") + bits, sp, true);
  }
  c += "ll";
  c += v;
  char buf[80];
  if (v == 'x' || v == 'X' || v == 'o') {
    // Go prints negative hex as -ff, not two's complement.
    std::snprintf(buf, sizeof buf, c.c_str(), static_cast<unsigned long long>(i < 0 ? -i : i));
    return pad((i < 0 ? "-" : "") + std::string(buf), sp, true);
  }
  std::snprintf(buf, sizeof buf, c.c_str(), static_cast<long long>(i));
  return pad(buf, sp, true);
}

std::string format_float(double f, const Spec& sp) {
  char v = sp.verb;
  if ((v == 'v' || v == 'g' || v == 'G') && sp.prec < 0) {
    std::string s = format_float_v(f);
    if (v == 'G')
      for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (sp.plus && f >= 0) s = "+" + s;
    return pad(s, sp, true);
  }
  if (std::isinf(f) || std::isnan(f)) return pad(format_float_v(f), sp, false);
  std::string c = "%";
  if (sp.plus) c += '+';
  if (sp.space) c += ' ';
  if (sp.sharp) c += '#';
  if (sp.prec >= 0) c += "." + std::to_string(sp.prec);
  c += v == 'v' ? 'g' : v;
  char buf[512];
  std::snprintf(buf, sizeof buf, c.c_str(), f);
  return pad(buf, sp, true);
}

std::string format_value(const Value& v, const Spec& sp);

std::string format_compound(const Value& v, const Spec& sp) {
  std::string out = v.is_map() ? "map[" : "[";
  bool first = true;
  Spec inner = sp;
  inner.width = -1;
  if (v.is_list()) {
    for (const Value& x : v.list()) {
      if (!first) out += ' ';
      first = false;
      out += format_value(x, inner);
    }
  } else {
    for (const auto& [k, x] : v.map()) {
      if (!first) out += ' ';
      first = false;
      out += format_value(Value(k), inner) + ":" + format_value(x, inner);
    }
  }
  return pad(out + "]", sp, false);
}

std::string format_value(const Value& v, const Spec& sp) {
  char verb = sp.verb;
  if (verb == 'T') return pad(v.type_name(), sp, false);
  switch (v.kind()) {
    case Value::Kind::kNil:
      return verb == 'v' ? pad("<nil>", sp, false) : bad_verb(sp, v);
    case Value::Kind::kBool:
      if (verb == 'v' || verb == 't') return pad(v.as_bool() ? "true" : "false", sp, false);
      return bad_verb(sp, v);
    case Value::Kind::kInt:
      if (std::string("vdboxX").find(verb) != std::string::npos) return format_int(v.as_int(), sp);
      if (verb == 'c') return pad(rune_to_utf8(v.as_int()), sp, false);
      if (verb == 'q') return pad("'" + rune_to_utf8(v.as_int()) + "'", sp, false);
      return bad_verb(sp, v);
    case Value::Kind::kFloat:
      if (std::string("vfFeEgG").find(verb) != std::string::npos)
        return format_float(v.as_float(), sp);
      return bad_verb(sp, v);
    case Value::Kind::kString: {
      const std::string& s = v.as_string();
      if (verb == 'v' || verb == 's') {
        if (sp.prec < 0) return pad(s, sp, false);
        std::string cut;
        int runes = 0;
        for (char c : s) {
          if ((static_cast<unsigned char>(c) & 0xC0) != 0x80 && runes++ == sp.prec) break;
          cut += c;
        }
        return pad(cut, sp, false);
      }
      if (verb == 'q')
        return pad(sp.sharp && s.find('`') == std::string::npos ? "`" + s + "`" : quote(s), sp,
                   false);
      if (verb == 'x' || verb == 'X') {
        std::string out;
        char b[4];
        for (unsigned char c : s) {
          std::snprintf(b, sizeof b, verb == 'x' ? "%02x" : "%02X", c);
          out += b;
        }
        return pad(out, sp, false);
      }
      return bad_verb(sp, v);
    }
    case Value::Kind::kList:
    case Value::Kind::kMap:
      return format_compound(v, sp);
    case Value::Kind::kFunc:
    case Value::Kind::kObject:
      return pad(go_sprint(v), sp, false);
  }
  return "";
}

}  // namespace

std::string rune_to_utf8(std::int64_t cp) {
  std::string out;
  if (cp < 0 || cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

std::string go_sprintf(const std::string& f, const std::vector<Value>& args) {
  std::string out;
  std::size_t arg = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    Spec sp;
    ++i;
    for (; i < f.size(); ++i) {
      char c = f[i];
      if (c == '-')
        sp.minus = true, sp.zero = false;
      else if (c == '+')
        sp.plus = true;
      else if (c == '#')
        sp.sharp = true;
      else if (c == ' ')
        sp.space = true;
      else if (c == '0')
        sp.zero = !sp.minus;
      else
        break;
    }
    auto number = [&](int* dst) {
      if (i < f.size() && f[i] == '*') {
        ++i;
        if (arg < args.size() && args[arg].is_int()) *dst = static_cast<int>(args[arg].as_int());
        ++arg;
        return;
      }
      int n = -1;
      while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i])) && n < 1000000)
        n = (n < 0 ? 0 : n * 10) + (f[i++] - '0');
      *dst = n;
    };
    number(&sp.width);
    if (i < f.size() && f[i] == '.') {
      ++i;
      number(&sp.prec);
      if (sp.prec < 0) sp.prec = 0;
    }
    if (i >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    sp.verb = f[i];
    if (sp.verb == '%') {
      out += '%';
      continue;
    }
    if (arg >= args.size()) {
      out += std::string("%!") + sp.verb + "(MISSING)";
      continue;
    }
    out += format_value(args[arg++], sp);
  }
  if (arg < args.size()) {
    out += "%!(EXTRA ";
    for (std::size_t k = arg; k < args.size(); ++k) {
      if (k > arg) out += ", ";
      out += args[k].is_nil() ? "<nil>" : args[k].type_name() + "=" + go_sprint(args[k]);
    }
    out += ")";
  }
  return out;
}

std::string go_print(const std::vector<Value>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    // Sprint adds a space between operands when neither is a string.
    if (i > 0 && !args[i].is_string() && !args[i - 1].is_string()) out += ' ';
    out += go_sprint(args[i]);
  }
  return out;
}

std::string go_println(const std::vector<Value>& args) {
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ' ';
    out += go_sprint(args[i]);
  }
  return out + "\n";
}

}  // namespace cairn::helm
