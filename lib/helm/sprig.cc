// sprig's functions (Masterminds/sprig v3 functions.go), the ones charts
// use. Each follows sprig's Go signature (parameter types are checked as
// Go's template call checks them) and its quirks (get returns "" when the
// key is missing, keys are returned sorted where Go's order is random).
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <regex>
#include <set>

#include "helm/functions.h"
#include "helm/yaml.h"

namespace cairn::helm {

using R = std::expected<Value, std::string>;
using Args = std::vector<Value>;

std::string strval(const Value& v) {
  if (v.is_string()) return v.as_string();
  return go_sprint(v);
}

std::int64_t to_int64(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kInt:
      return v.as_int();
    case Value::Kind::kFloat:
      return static_cast<std::int64_t>(v.as_float());
    case Value::Kind::kBool:
      return v.as_bool() ? 1 : 0;
    case Value::Kind::kString: {
      // cast.ToInt64: strconv.ParseInt(s, 0, 0); errors are 0.
      std::string s = v.as_string();
      bool neg = !s.empty() && s[0] == '-';
      if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.erase(0, 1);
      int base = 10;
      if (s.size() > 1 && s[0] == '0') {
        char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
        if (p == 'x')
          base = 16, s.erase(0, 2);
        else if (p == 'b')
          base = 2, s.erase(0, 2);
        else if (p == 'o')
          base = 8, s.erase(0, 2);
        else
          base = 8, s.erase(0, 1);
      }
      std::int64_t out = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), out, base);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return 0;
      return neg ? -out : out;
    }
    default:
      return 0;
  }
}

double to_float64(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kInt:
      return static_cast<double>(v.as_int());
    case Value::Kind::kFloat:
      return v.as_float();
    case Value::Kind::kBool:
      return v.as_bool() ? 1 : 0;
    case Value::Kind::kString: {
      const std::string& s = v.as_string();
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      return end == s.c_str() + s.size() && !s.empty() ? d : 0;
    }
    default:
      return 0;
  }
}

bool sprig_empty(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kObject:
    case Value::Kind::kFunc:
      return false;
    default:
      return !truthy(v);
  }
}

std::vector<std::string> strslice(const Value& v) {
  std::vector<std::string> out;
  if (v.is_nil()) return out;
  if (v.is_list()) {
    for (const Value& x : v.list())
      if (!x.is_nil()) out.push_back(strval(x));
    return out;
  }
  out.push_back(strval(v));
  return out;
}

namespace {

Value strings_value(const std::vector<std::string>& v) {
  List out;
  for (const std::string& s : v) out.emplace_back(s);
  return Value(std::move(out));
}

Value i64(std::int64_t v) { return Value(v, Value::IntType::kInt64); }

bool is_space(unsigned char c) { return std::isspace(c) != 0; }

std::string trim_set(const std::string& s, const std::string& cut, bool left, bool right) {
  std::size_t b = 0, e = s.size();
  if (left)
    while (b < e && cut.find(s[b]) != std::string::npos) ++b;
  if (right)
    while (e > b && cut.find(s[e - 1]) != std::string::npos) --e;
  return s.substr(b, e - b);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) {
    // strings.Replace with an empty old inserts `to` around every rune.
    std::string out = to;
    for (char c : s) {
      out += c;
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) out += to;
    }
    return out;
  }
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

std::vector<std::string> split_all(const std::string& s, const std::string& sep, int n = -1) {
  std::vector<std::string> out;
  if (n == 0) return out;
  if (sep.empty()) {
    for (char c : s) out.emplace_back(1, c);
    return out;
  }
  std::size_t start = 0;
  while (n < 0 || static_cast<int>(out.size()) < n - 1) {
    std::size_t p = s.find(sep, start);
    if (p == std::string::npos) break;
    out.push_back(s.substr(start, p - start));
    start = p + sep.size();
  }
  out.push_back(s.substr(start));
  return out;
}

// Words split as xstrings does for snake/kebab/camel case: on separators
// and at lower->upper and UPPER->Upper+lower boundaries.
std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!std::isalnum(c)) {
      flush();
      continue;
    }
    if (std::isupper(c) && !cur.empty()) {
      unsigned char prev = static_cast<unsigned char>(cur.back());
      bool next_lower = i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1]));
      if (std::islower(prev) || std::isdigit(prev) || (std::isupper(prev) && next_lower)) flush();
    }
    cur += static_cast<char>(c);
  }
  flush();
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string title(const std::string& s) {
  // strings.Title: upper-case a letter that follows a separator (anything
  // but a letter, digit or underscore).
  std::string out = s;
  bool prev_sep = true;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (prev_sep) c = static_cast<char>(std::toupper(u));
    prev_sep = !(std::isalnum(u) || u == '_' || u >= 0x80);
  }
  return out;
}

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string b64dec(const std::string& in) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto p = chars.find(c);
    if (p == std::string::npos)
      return "illegal base64 data at input byte " + std::to_string(&c - in.data());
    val = (val << 6) + static_cast<int>(p);
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

std::string hex(const unsigned char* d, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[d[i] >> 4];
    out += digits[d[i] & 15];
  }
  return out;
}

std::string digest(const EVP_MD* md, const std::string& s) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), buf, &n, md, nullptr);
  return hex(buf, n);
}

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

std::string random_from(const std::string& alphabet, std::int64_t n) {
  std::string out;
  std::uniform_int_distribution<std::size_t> d(0, alphabet.size() - 1);
  for (std::int64_t i = 0; i < n; ++i) out += alphabet[d(rng())];
  return out;
}

// Go's regexp uses RE2; std::regex's ECMAScript agrees on the common
// subset (classes, groups, alternation, anchors, lazy quantifiers). Not
// supported: (?P<name>...), \pL classes, (?i) flags mid-pattern.
std::expected<std::regex, std::string> compile(const std::string& re) {
  std::string pattern = re;
  std::regex::flag_type flags = std::regex::ECMAScript;
  if (pattern.rfind("(?i)", 0) == 0) {
    pattern.erase(0, 4);
    flags |= std::regex::icase;
  }
  try {
    return std::regex(pattern, flags);
  } catch (const std::regex_error& e) {
    return std::unexpected("error parsing regexp: " + std::string(e.what()) + ": `" + re + "`");
  }
}

// Go's Regexp.ReplaceAllString expands $1, ${1}; ECMAScript's format
// takes $1 too, but ${1} must be rewritten.
std::string go_replacement(const std::string& repl) {
  static const std::regex braces(R"(\$\{(\d+)\})");
  return std::regex_replace(repl, braces, "$$$1");
}

Map& map_of(const Value& v) {
  static Map empty;
  return v.is_map() ? v.map() : (empty = Map{});
}

// mergo.Merge: fill what dst lacks (or holds empty), recursing into maps;
// with `overwrite`, src wins for everything but maps, which recurse.
void merge_into(Map& dst, const Map& src, bool overwrite, int depth = 0) {
  if (depth > 1000) return;
  for (const auto& [k, v] : src) {
    auto it = dst.find(k);
    if (it == dst.end()) {
      dst.emplace(k, deep_copy(v));
    } else if (it->second.is_map() && v.is_map()) {
      merge_into(it->second.map(), v.map(), overwrite, depth + 1);
    } else if (overwrite || sprig_empty(it->second)) {
      it->second = deep_copy(v);
    }
  }
}

std::expected<List, std::string> list_of(const Value& v, const char* fn) {
  if (v.is_nil()) return List{};
  if (!v.is_list())
    return std::unexpected(std::string("Cannot ") + fn + " on type " + v.type_name());
  return v.list();
}

}  // namespace

FuncMap sprig_funcs() {
  FuncMap m;
  using P = Param;
  auto add = [&](const char* name, std::vector<Param> params, Func fn, bool variadic = false,
                 Param vp = P::kAny) {
    m[name] = FuncSpec{std::move(fn), std::move(params), variadic, vp};
  };
  auto str1 = [&](const char* name, std::function<std::string(const std::string&)> f) {
    add(name, {P::kString}, [f](FuncContext&, Args& a) -> R { return Value(f(a[0].as_string())); });
  };

  // ------------------------------------------------------------ strings
  str1("upper", upper);
  str1("lower", lower);
  str1("title", title);
  str1("untitle", [](const std::string& s) {
    std::string out = s;
    bool prev_space = true;
    for (char& c : out) {
      if (prev_space) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      prev_space = is_space(static_cast<unsigned char>(c));
    }
    return out;
  });
  str1("swapcase", [](const std::string& s) {
    std::string out = s;
    for (char& c : out) {
      auto u = static_cast<unsigned char>(c);
      c = static_cast<char>(std::isupper(u) ? std::tolower(u) : std::toupper(u));
    }
    return out;
  });
  str1("trim", [](const std::string& s) { return trim_set(s, " \t\n\r\v\f", true, true); });
  str1("nospace", [](const std::string& s) {
    std::string out;
    for (char c : s)
      if (!is_space(static_cast<unsigned char>(c))) out += c;
    return out;
  });
  str1("initials", [](const std::string& s) {
    std::string out;
    bool start = true;
    for (char c : s) {
      if (is_space(static_cast<unsigned char>(c))) {
        start = true;
      } else if (start) {
        out += c;
        start = false;
      }
    }
    return out;
  });
  str1("snakecase", [](const std::string& s) {
    std::string out;
    for (const auto& w : words(s)) out += (out.empty() ? "" : "_") + lower(w);
    return out;
  });
  str1("kebabcase", [](const std::string& s) {
    std::string out;
    for (const auto& w : words(s)) out += (out.empty() ? "" : "-") + lower(w);
    return out;
  });
  str1("camelcase", [](const std::string& s) {
    // xstrings.ToCamelCase: split on _ - and space, capitalise each part.
    std::string out;
    bool up = true;
    for (char c : s) {
      if (c == '_' || c == '-' || c == ' ') {
        up = true;
        continue;
      }
      out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      up = false;
    }
    return out;
  });
  str1("b64enc", b64);
  str1("b64dec", b64dec);
  str1("sha1sum", [](const std::string& s) { return digest(EVP_sha1(), s); });
  str1("sha256sum", [](const std::string& s) { return digest(EVP_sha256(), s); });
  str1("adler32sum", [](const std::string& s) {
    std::uint32_t a = 1, b = 0;
    for (unsigned char c : s) {
      a = (a + c) % 65521;
      b = (b + a) % 65521;
    }
    return std::to_string((b << 16) | a);
  });
  str1("dir", [](const std::string& s) {
    auto p = s.rfind('/');
    if (p == std::string::npos) return std::string(".");
    std::string d = s.substr(0, p);
    return d.empty() ? std::string("/") : d;
  });
  str1("base", [](const std::string& s) {
    if (s.empty()) return std::string(".");
    std::string t = s;
    while (t.size() > 1 && t.back() == '/') t.pop_back();
    auto p = t.rfind('/');
    return p == std::string::npos || t == "/" ? t : t.substr(p + 1);
  });
  str1("ext", [](const std::string& s) {
    for (std::size_t i = s.size(); i-- > 0 && s[i] != '/';)
      if (s[i] == '.') return s.substr(i);
    return std::string();
  });
  str1("clean", [](const std::string& s) {
    if (s.empty()) return std::string(".");
    bool abs = s[0] == '/';
    std::vector<std::string> parts;
    for (const auto& p : split_all(s, "/")) {
      if (p.empty() || p == ".") continue;
      if (p == "..") {
        if (!parts.empty() && parts.back() != "..")
          parts.pop_back();
        else if (!abs)
          parts.push_back(p);
        continue;
      }
      parts.push_back(p);
    }
    std::string out = abs ? "/" : "";
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
    return out.empty() ? std::string(".") : out;
  });
  add("isAbs", {P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(!a[0].as_string().empty() && a[0].as_string()[0] == '/');
  });
  add("trimAll", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(trim_set(a[1].as_string(), a[0].as_string(), true, true));
  });
  m["trimall"] = m["trimAll"];
  add("trimPrefix", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    const std::string& s = a[1].as_string();
    const std::string& p = a[0].as_string();
    return Value(s.rfind(p, 0) == 0 ? s.substr(p.size()) : s);
  });
  add("trimSuffix", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    const std::string& s = a[1].as_string();
    const std::string& x = a[0].as_string();
    bool ends = s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
    return Value(ends ? s.substr(0, s.size() - x.size()) : s);
  });
  add("contains", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(a[1].as_string().find(a[0].as_string()) != std::string::npos);
  });
  add("hasPrefix", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(a[1].as_string().rfind(a[0].as_string(), 0) == 0);
  });
  add("hasSuffix", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    const std::string& s = a[1].as_string();
    const std::string& x = a[0].as_string();
    return Value(s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0);
  });
  add("replace", {P::kString, P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(replace_all(a[2].as_string(), a[0].as_string(), a[1].as_string()));
  });
  add("repeat", {P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    std::int64_t n = a[0].as_int();
    if (n < 0) return std::unexpected("strings: negative Repeat count");
    if (static_cast<std::size_t>(n) * a[1].as_string().size() > 64 * 1024 * 1024)
      return std::unexpected("strings: Repeat output length overflow");
    std::string out;
    for (std::int64_t i = 0; i < n; ++i) out += a[1].as_string();
    return Value(out);
  });
  add("substr", {P::kInt, P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    const std::string& s = a[2].as_string();
    std::int64_t start = a[0].as_int(), end = a[1].as_int(),
                 n = static_cast<std::int64_t>(s.size());
    if (start < 0)
      return Value(s.substr(0, static_cast<std::size_t>(std::clamp<std::int64_t>(end, 0, n))));
    if (start > n) start = n;
    if (end < 0 || end > n) return Value(s.substr(static_cast<std::size_t>(start)));
    if (end < start) return std::unexpected("slice bounds out of range");
    return Value(s.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start)));
  });
  add("trunc", {P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    const std::string& s = a[1].as_string();
    std::int64_t c = a[0].as_int(), n = static_cast<std::int64_t>(s.size());
    if (c < 0 && n + c > 0) return Value(s.substr(static_cast<std::size_t>(n + c)));
    if (c >= 0 && n > c) return Value(s.substr(0, static_cast<std::size_t>(c)));
    return Value(s);
  });
  add("abbrev", {P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    const std::string& s = a[1].as_string();
    std::int64_t w = a[0].as_int();
    if (w < 4 || static_cast<std::int64_t>(s.size()) <= w) return Value(s);
    return Value(s.substr(0, static_cast<std::size_t>(w - 3)) + "...");
  });
  add("wrap", {P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    // goutils.Wrap: break at spaces so lines are at most `l` long.
    std::int64_t l = std::max<std::int64_t>(1, a[0].as_int());
    std::string out, line;
    for (const auto& w : split_all(a[1].as_string(), " ")) {
      if (!line.empty() && static_cast<std::int64_t>(line.size() + 1 + w.size()) > l) {
        out += line + "\n";
        line.clear();
      }
      line += (line.empty() ? "" : " ") + w;
    }
    return Value(out + line);
  });
  add("indent", {P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    std::string pad(static_cast<std::size_t>(std::max<std::int64_t>(0, a[0].as_int())), ' ');
    return Value(pad + replace_all(a[1].as_string(), "\n", "\n" + pad));
  });
  add("nindent", {P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    std::string pad(static_cast<std::size_t>(std::max<std::int64_t>(0, a[0].as_int())), ' ');
    return Value("\n" + pad + replace_all(a[1].as_string(), "\n", "\n" + pad));
  });
  add("plural", {P::kString, P::kString, P::kInt},
      [](FuncContext&, Args& a) -> R { return a[2].as_int() == 1 ? a[0] : a[1]; });
  add(
      "quote", {},
      [](FuncContext&, Args& a) -> R {
        std::string out;
        for (const Value& v : a) {
          if (v.is_nil()) continue;
          if (!out.empty()) out += ' ';
          out += go_sprintf("%q", {Value(strval(v))});
        }
        return Value(out);
      },
      true);
  add(
      "squote", {},
      [](FuncContext&, Args& a) -> R {
        std::string out;
        for (const Value& v : a) {
          if (v.is_nil()) continue;
          if (!out.empty()) out += ' ';
          out += "'" + strval(v) + "'";
        }
        return Value(out);
      },
      true);
  add(
      "cat", {},
      [](FuncContext&, Args& a) -> R {
        std::string out;
        for (const Value& v : a) {
          if (v.is_nil()) continue;
          if (!out.empty()) out += ' ';
          out += strval(v);
        }
        return Value(out);
      },
      true);
  add("split", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    Map out;
    auto parts = split_all(a[1].as_string(), a[0].as_string());
    for (std::size_t i = 0; i < parts.size(); ++i) out["_" + std::to_string(i)] = parts[i];
    return Value(std::move(out));
  });
  add("splitn", {P::kString, P::kInt, P::kString}, [](FuncContext&, Args& a) -> R {
    Map out;
    auto parts = split_all(a[2].as_string(), a[0].as_string(), static_cast<int>(a[1].as_int()));
    for (std::size_t i = 0; i < parts.size(); ++i) out["_" + std::to_string(i)] = parts[i];
    return Value(std::move(out));
  });
  add("splitList", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    return strings_value(split_all(a[1].as_string(), a[0].as_string()));
  });
  add("join", {P::kString, P::kAny}, [](FuncContext&, Args& a) -> R {
    std::string out;
    auto parts = strslice(a[1]);
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? a[0].as_string() : "") + parts[i];
    return Value(out);
  });
  add("toString", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(strval(a[0])); });
  add("toStrings", {P::kAny},
      [](FuncContext&, Args& a) -> R { return strings_value(strslice(a[0])); });
  add("sortAlpha", {P::kAny}, [](FuncContext&, Args& a) -> R {
    auto s = strslice(a[0]);
    std::sort(s.begin(), s.end());
    return strings_value(s);
  });
  add("randAlphaNum", {P::kInt}, [](FuncContext&, Args& a) -> R {
    return Value(random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                             std::min<std::int64_t>(a[0].as_int(), 1 << 20)));
  });
  add("randAlpha", {P::kInt}, [](FuncContext&, Args& a) -> R {
    return Value(random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                             std::min<std::int64_t>(a[0].as_int(), 1 << 20)));
  });
  add("randNumeric", {P::kInt}, [](FuncContext&, Args& a) -> R {
    return Value(random_from("0123456789", std::min<std::int64_t>(a[0].as_int(), 1 << 20)));
  });
  add("randAscii", {P::kInt}, [](FuncContext&, Args& a) -> R {
    std::string alphabet;
    for (char c = ' '; c <= '~'; ++c) alphabet += c;
    return Value(random_from(alphabet, std::min<std::int64_t>(a[0].as_int(), 1 << 20)));
  });
  add("uuidv4", {}, [](FuncContext&, Args&) -> R {
    std::uniform_int_distribution<int> d(0, 255);
    unsigned char b[16];
    for (auto& x : b) x = static_cast<unsigned char>(d(rng()));
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    std::string h = hex(b, 16);
    return Value(h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
                 h.substr(16, 4) + "-" + h.substr(20));
  });

  // ------------------------------------------------------------ regexps
  add("regexMatch", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    auto re = compile(a[0].as_string());
    if (!re) return std::unexpected(re.error());
    return Value(std::regex_search(a[1].as_string(), *re));
  });
  add("regexFind", {P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    auto re = compile(a[0].as_string());
    if (!re) return std::unexpected(re.error());
    std::smatch mt;
    const std::string& s = a[1].as_string();
    return Value(std::regex_search(s, mt, *re) ? mt.str(0) : "");
  });
  add("regexFindAll", {P::kString, P::kString, P::kInt}, [](FuncContext&, Args& a) -> R {
    auto re = compile(a[0].as_string());
    if (!re) return std::unexpected(re.error());
    const std::string& s = a[1].as_string();
    std::int64_t n = a[2].as_int();
    std::vector<std::string> out;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), *re); it != std::sregex_iterator();
         ++it) {
      if (n >= 0 && static_cast<std::int64_t>(out.size()) >= n) break;
      out.push_back(it->str(0));
    }
    return strings_value(out);
  });
  add("regexReplaceAll", {P::kString, P::kString, P::kString}, [](FuncContext&, Args& a) -> R {
    auto re = compile(a[0].as_string());
    if (!re) return std::unexpected(re.error());
    return Value(std::regex_replace(a[1].as_string(), *re, go_replacement(a[2].as_string())));
  });
  add("regexReplaceAllLiteral", {P::kString, P::kString, P::kString},
      [](FuncContext&, Args& a) -> R {
        auto re = compile(a[0].as_string());
        if (!re) return std::unexpected(re.error());
        return Value(
            std::regex_replace(a[1].as_string(), *re, replace_all(a[2].as_string(), "$", "$$")));
      });
  add("regexSplit", {P::kString, P::kString, P::kInt}, [](FuncContext&, Args& a) -> R {
    auto re = compile(a[0].as_string());
    if (!re) return std::unexpected(re.error());
    const std::string& s = a[1].as_string();
    std::int64_t n = a[2].as_int();
    std::vector<std::string> out;
    if (n == 0) return strings_value(out);
    std::size_t last = 0;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), *re); it != std::sregex_iterator();
         ++it) {
      if (n > 0 && static_cast<std::int64_t>(out.size()) == n - 1) break;
      if (it->length(0) == 0 && static_cast<std::size_t>(it->position(0)) == 0) continue;
      out.push_back(s.substr(last, static_cast<std::size_t>(it->position(0)) - last));
      last = static_cast<std::size_t>(it->position(0) + it->length(0));
    }
    out.push_back(s.substr(last));
    return strings_value(out);
  });
  add("regexQuoteMeta", {P::kString}, [](FuncContext&, Args& a) -> R {
    std::string out;
    for (char c : a[0].as_string()) {
      if (std::string("\\.+*?()|[]{}^$").find(c) != std::string::npos) out += '\\';
      out += c;
    }
    return Value(out);
  });

  // ------------------------------------------------------------ defaults
  add(
      "default", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        if (a.size() < 2 || sprig_empty(a[1])) return a[0];
        return a[1];
      },
      true);
  add("empty", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(sprig_empty(a[0])); });
  add(
      "coalesce", {},
      [](FuncContext&, Args& a) -> R {
        for (const Value& v : a)
          if (!sprig_empty(v)) return v;
        return Value();
      },
      true);
  add(
      "all", {},
      [](FuncContext&, Args& a) -> R {
        for (const Value& v : a)
          if (sprig_empty(v)) return Value(false);
        return Value(true);
      },
      true);
  add(
      "any", {},
      [](FuncContext&, Args& a) -> R {
        for (const Value& v : a)
          if (!sprig_empty(v)) return Value(true);
        return Value(false);
      },
      true);
  add("ternary", {P::kAny, P::kAny, P::kBool},
      [](FuncContext&, Args& a) -> R { return a[2].as_bool() ? a[0] : a[1]; });
  add("deepCopy", {P::kAny}, [](FuncContext&, Args& a) -> R { return deep_copy(a[0]); });
  m["mustDeepCopy"] = m["deepCopy"];
  add("typeOf", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(a[0].type_name()); });
  add("kindOf", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(a[0].kind_name()); });
  add("typeIs", {P::kString, P::kAny},
      [](FuncContext&, Args& a) -> R { return Value(a[0].as_string() == a[1].type_name()); });
  add("typeIsLike", {P::kString, P::kAny}, [](FuncContext&, Args& a) -> R {
    const std::string& t = a[0].as_string();
    return Value(t == a[1].type_name() || t == "*" + a[1].type_name());
  });
  add("kindIs", {P::kString, P::kAny},
      [](FuncContext&, Args& a) -> R { return Value(a[0].as_string() == a[1].kind_name()); });

  // ------------------------------------------------------------ numbers
  add("int", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(to_int64(a[0])); });
  add("int64", {P::kAny}, [](FuncContext&, Args& a) -> R { return i64(to_int64(a[0])); });
  add("float64", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(to_float64(a[0])); });
  add("atoi", {P::kString}, [](FuncContext&, Args& a) -> R {
    const std::string& s = a[0].as_string();
    std::int64_t v = 0;
    auto r = std::from_chars(s.data() + (!s.empty() && s[0] == '+'), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) v = 0;
    return Value(v);
  });
  add("add1", {P::kAny}, [](FuncContext&, Args& a) -> R { return i64(to_int64(a[0]) + 1); });
  add(
      "add", {},
      [](FuncContext&, Args& a) -> R {
        std::int64_t s = 0;
        for (const Value& v : a) s += to_int64(v);
        return i64(s);
      },
      true);
  add("sub", {P::kAny, P::kAny},
      [](FuncContext&, Args& a) -> R { return i64(to_int64(a[0]) - to_int64(a[1])); });
  add(
      "mul", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        std::int64_t s = to_int64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s *= to_int64(a[i]);
        return i64(s);
      },
      true);
  add("div", {P::kAny, P::kAny}, [](FuncContext&, Args& a) -> R {
    std::int64_t d = to_int64(a[1]);
    if (d == 0) return std::unexpected("runtime error: integer divide by zero");
    return i64(to_int64(a[0]) / d);
  });
  add("mod", {P::kAny, P::kAny}, [](FuncContext&, Args& a) -> R {
    std::int64_t d = to_int64(a[1]);
    if (d == 0) return std::unexpected("runtime error: integer divide by zero");
    return i64(to_int64(a[0]) % d);
  });
  add(
      "max", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        std::int64_t s = to_int64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s = std::max(s, to_int64(a[i]));
        return i64(s);
      },
      true);
  add(
      "min", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        std::int64_t s = to_int64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s = std::min(s, to_int64(a[i]));
        return i64(s);
      },
      true);
  add(
      "addf", {},
      [](FuncContext&, Args& a) -> R {
        double s = 0;
        for (const Value& v : a) s += to_float64(v);
        return Value(s);
      },
      true);
  add(
      "subf", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        double s = to_float64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s -= to_float64(a[i]);
        return Value(s);
      },
      true);
  add(
      "mulf", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        double s = to_float64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s *= to_float64(a[i]);
        return Value(s);
      },
      true);
  add(
      "divf", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        double s = to_float64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s /= to_float64(a[i]);
        return Value(s);
      },
      true);
  add(
      "maxf", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        double s = to_float64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s = std::max(s, to_float64(a[i]));
        return Value(s);
      },
      true);
  add(
      "minf", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        double s = to_float64(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) s = std::min(s, to_float64(a[i]));
        return Value(s);
      },
      true);
  add("floor", {P::kAny},
      [](FuncContext&, Args& a) -> R { return Value(std::floor(to_float64(a[0]))); });
  add("ceil", {P::kAny},
      [](FuncContext&, Args& a) -> R { return Value(std::ceil(to_float64(a[0]))); });
  add(
      "round", {P::kAny, P::kInt},
      [](FuncContext&, Args& a) -> R {
        double r = a.size() > 2 ? static_cast<double>(to_int64(a[2])) / 10.0 : 0.5;
        double pow = std::pow(10.0, static_cast<double>(a[1].as_int()));
        double digit = pow * to_float64(a[0]);
        double ip = 0;
        double frac = std::modf(digit, &ip);
        double rounder = frac >= r ? std::ceil(digit) : std::floor(digit);
        return Value(rounder / pow);
      },
      true, P::kInt);
  add("until", {P::kInt}, [](FuncContext&, Args& a) -> R {
    std::int64_t n = a[0].as_int();
    if (std::llabs(n) > 10'000'000) return std::unexpected("until: count too large");
    List out;
    for (std::int64_t i = 0; n >= 0 ? i < n : i > n; n >= 0 ? ++i : --i) out.emplace_back(i);
    return Value(std::move(out));
  });
  add("untilStep", {P::kInt, P::kInt, P::kInt}, [](FuncContext&, Args& a) -> R {
    std::int64_t start = a[0].as_int(), stop = a[1].as_int(), step = a[2].as_int();
    List out;
    if (step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop)) return Value(out);
    if (std::llabs((stop - start) / step) > 10'000'000)
      return std::unexpected("untilStep: too many");
    for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.emplace_back(i);
    return Value(std::move(out));
  });
  add(
      "seq", {},
      [](FuncContext&, Args& a) -> R {
        std::int64_t start = 1, end = 0, step = 1;
        for (const Value& v : a)
          if (!v.is_int())
            return std::unexpected("wrong type for value; expected int; got " + v.type_name());
        if (a.size() == 1) {
          end = a[0].as_int();
          if (end < 1) step = -1;
        } else if (a.size() == 2) {
          start = a[0].as_int();
          end = a[1].as_int();
          step = end < start ? -1 : 1;
        } else if (a.size() == 3) {
          start = a[0].as_int();
          step = a[1].as_int();
          end = a[2].as_int();
        } else {
          return Value("");
        }
        if (step == 0 || std::llabs((end - start) / step) > 10'000'000) return Value("");
        std::string out;
        for (std::int64_t i = start; step > 0 ? i <= end : i >= end; i += step)
          out += (out.empty() ? "" : " ") + std::to_string(i);
        return Value(out);
      },
      true, P::kAny);

  // ------------------------------------------------------------ lists
  add(
      "list", {}, [](FuncContext&, Args& a) -> R { return Value(List(a.begin(), a.end())); }, true);
  m["tuple"] = m["list"];
  auto list_fn = [&](const char* name, std::function<R(List&)> f) {
    add(name, {P::kAny}, [name, f](FuncContext&, Args& a) -> R {
      auto l = list_of(a[0], name);
      if (!l) return std::unexpected(l.error());
      return f(*l);
    });
  };
  list_fn("first", [](List& l) -> R { return l.empty() ? Value() : l.front(); });
  list_fn("last", [](List& l) -> R { return l.empty() ? Value() : l.back(); });
  list_fn("rest",
          [](List& l) -> R { return l.empty() ? Value() : Value(List(l.begin() + 1, l.end())); });
  list_fn("initial",
          [](List& l) -> R { return l.empty() ? Value() : Value(List(l.begin(), l.end() - 1)); });
  list_fn("reverse", [](List& l) -> R { return Value(List(l.rbegin(), l.rend())); });
  list_fn("uniq", [](List& l) -> R {
    List out;
    for (const Value& v : l)
      if (std::none_of(out.begin(), out.end(), [&](const Value& x) { return deep_equal(x, v); }))
        out.push_back(v);
    return Value(std::move(out));
  });
  list_fn("compact", [](List& l) -> R {
    List out;
    for (const Value& v : l)
      if (!sprig_empty(v)) out.push_back(v);
    return Value(std::move(out));
  });
  for (const char* n : {"first", "last", "rest", "initial", "reverse", "uniq", "compact"})
    m[std::string("must") + static_cast<char>(std::toupper(n[0])) + (n + 1)] = m[n];
  add("append", {P::kAny, P::kAny}, [](FuncContext&, Args& a) -> R {
    auto l = list_of(a[0], "append");
    if (!l) return std::unexpected(l.error());
    l->push_back(a[1]);
    return Value(std::move(*l));
  });
  m["push"] = m["append"];
  m["mustAppend"] = m["append"];
  m["mustPush"] = m["append"];
  add("prepend", {P::kAny, P::kAny}, [](FuncContext&, Args& a) -> R {
    auto l = list_of(a[0], "prepend");
    if (!l) return std::unexpected(l.error());
    l->insert(l->begin(), a[1]);
    return Value(std::move(*l));
  });
  m["mustPrepend"] = m["prepend"];
  add(
      "concat", {},
      [](FuncContext&, Args& a) -> R {
        List out;
        for (const Value& v : a) {
          auto l = list_of(v, "concat");
          if (!l) return std::unexpected(l.error());
          out.insert(out.end(), l->begin(), l->end());
        }
        return Value(std::move(out));
      },
      true);
  add(
      "without", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        auto l = list_of(a[0], "without");
        if (!l) return std::unexpected(l.error());
        List out;
        for (const Value& v : *l)
          if (std::none_of(a.begin() + 1, a.end(),
                           [&](const Value& x) { return deep_equal(x, v); }))
            out.push_back(v);
        return Value(std::move(out));
      },
      true);
  add("has", {P::kAny, P::kAny}, [](FuncContext&, Args& a) -> R {
    if (a[1].is_nil()) return Value(false);
    auto l = list_of(a[1], "has");
    if (!l) return std::unexpected(l.error());
    return Value(
        std::any_of(l->begin(), l->end(), [&](const Value& x) { return deep_equal(x, a[0]); }));
  });
  m["mustHas"] = m["has"];
  add(
      "slice", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        if (!a[0].is_list())
          return std::unexpected("list should be type of slice or array but " + a[0].kind_name());
        const List& l = a[0].list();
        std::int64_t n = static_cast<std::int64_t>(l.size());
        std::int64_t lo = a.size() > 1 ? to_int64(a[1]) : 0, hi = a.size() > 2 ? to_int64(a[2]) : n;
        if (lo < 0 || hi > n || lo > hi) return std::unexpected("slice bounds out of range");
        return Value(List(l.begin() + lo, l.begin() + hi));
      },
      true);
  m["mustSlice"] = m["slice"];

  // ------------------------------------------------------------ dicts
  add(
      "dict", {},
      [](FuncContext&, Args& a) -> R {
        Map out;
        for (std::size_t i = 0; i < a.size(); i += 2)
          out[strval(a[i])] = i + 1 < a.size() ? a[i + 1] : Value("");
        return Value(std::move(out));
      },
      true);
  add("get", {P::kMap, P::kString}, [](FuncContext&, Args& a) -> R {
    if (a[0].is_nil()) return Value("");
    auto it = a[0].map().find(a[1].as_string());
    return it == a[0].map().end() ? Value("") : it->second;
  });
  add("set", {P::kMap, P::kString, P::kAny}, [](FuncContext&, Args& a) -> R {
    if (a[0].is_nil()) return std::unexpected("assignment to entry in nil map");
    a[0].map()[a[1].as_string()] = a[2];
    return a[0];
  });
  add("unset", {P::kMap, P::kString}, [](FuncContext&, Args& a) -> R {
    if (!a[0].is_nil()) a[0].map().erase(a[1].as_string());
    return a[0];
  });
  add("hasKey", {P::kMap, P::kString}, [](FuncContext&, Args& a) -> R {
    return Value(!a[0].is_nil() && a[0].map().contains(a[1].as_string()));
  });
  add(
      "pluck", {P::kString},
      [](FuncContext&, Args& a) -> R {
        List out;
        for (std::size_t i = 1; i < a.size(); ++i) {
          if (a[i].is_nil()) continue;
          auto it = a[i].map().find(a[0].as_string());
          if (it != a[i].map().end()) out.push_back(it->second);
        }
        return Value(std::move(out));
      },
      true, P::kMap);
  add(
      "keys", {},
      [](FuncContext&, Args& a) -> R {
        // Go's map order is random; sorted is one of its orders.
        std::vector<std::string> out;
        for (const Value& d : a)
          if (!d.is_nil())
            for (const auto& [k, _] : d.map()) out.push_back(k);
        return strings_value(out);
      },
      true, P::kMap);
  add("values", {P::kMap}, [](FuncContext&, Args& a) -> R {
    List out;
    for (const auto& [_, v] : map_of(a[0])) out.push_back(v);
    return Value(std::move(out));
  });
  add(
      "pick", {P::kMap},
      [](FuncContext&, Args& a) -> R {
        Map out;
        for (std::size_t i = 1; i < a.size(); ++i) {
          auto it = map_of(a[0]).find(a[i].as_string());
          if (it != map_of(a[0]).end()) out[it->first] = it->second;
        }
        return Value(std::move(out));
      },
      true, P::kString);
  add(
      "omit", {P::kMap},
      [](FuncContext&, Args& a) -> R {
        Map out = map_of(a[0]);
        for (std::size_t i = 1; i < a.size(); ++i) out.erase(a[i].as_string());
        return Value(std::move(out));
      },
      true, P::kString);
  add(
      "merge", {P::kMap},
      [](FuncContext&, Args& a) -> R {
        if (a[0].is_nil()) return Value(Map{});
        for (std::size_t i = 1; i < a.size(); ++i) merge_into(a[0].map(), map_of(a[i]), false);
        return a[0];
      },
      true, P::kMap);
  add(
      "mergeOverwrite", {P::kMap},
      [](FuncContext&, Args& a) -> R {
        if (a[0].is_nil()) return Value(Map{});
        for (std::size_t i = 1; i < a.size(); ++i) merge_into(a[0].map(), map_of(a[i]), true);
        return a[0];
      },
      true, P::kMap);
  m["mustMerge"] = m["merge"];
  m["mustMergeOverwrite"] = m["mergeOverwrite"];
  add(
      "dig", {P::kAny},
      [](FuncContext&, Args& a) -> R {
        // dig "a" "b" default dict
        if (a.size() < 3) return std::unexpected("dig needs at least three arguments");
        Value cur = a.back();
        for (std::size_t i = 0; i + 2 < a.size(); ++i) {
          if (!cur.is_map() || !a[i].is_string()) return a[a.size() - 2];
          auto it = cur.map().find(a[i].as_string());
          if (it == cur.map().end()) return a[a.size() - 2];
          cur = it->second;
        }
        return cur;
      },
      true);

  // ------------------------------------------------------------ JSON
  add("toJson", {P::kAny}, [](FuncContext&, Args& a) -> R { return Value(to_go_json(a[0])); });
  m["mustToJson"] = m["toJson"];
  add("toPrettyJson", {P::kAny},
      [](FuncContext&, Args& a) -> R { return Value(to_go_json(a[0], "  ")); });
  m["mustToPrettyJson"] = m["toPrettyJson"];
  add("toRawJson", {P::kAny}, [](FuncContext&, Args& a) -> R {
    // Without HTML escaping.
    std::string s = to_go_json(a[0]);
    s = replace_all(s, "\\u003c", "<");
    s = replace_all(s, "\\u003e", ">");
    s = replace_all(s, "\\u0026", "&");
    return Value(s);
  });
  m["mustToRawJson"] = m["toRawJson"];

  add_semver_funcs(m);
  add_date_funcs(m);
  add_crypto_funcs(m);
  return m;
}

}  // namespace cairn::helm
