// A port of the parts of gopkg.in/yaml.v2 (2.4) that decide Helm's output:
// resolve.go (what a plain scalar means), sorter.go (key order) and
// emitterc.go (scalar styles, block layout, folding at 80 columns).
#include "helm/yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <regex>

namespace cairn::helm {
namespace {

// ------------------------------------------------------------- resolve.go

bool parse_go_int(const std::string& s, std::int64_t* out) {
  // strconv.ParseInt(s, 0, 64): sign, then 0x/0o/0b/0 prefixes.
  std::string b = s;
  bool neg = false;
  if (!b.empty() && (b[0] == '+' || b[0] == '-')) {
    neg = b[0] == '-';
    b.erase(0, 1);
  }
  int base = 10;
  if (b.size() > 1 && b[0] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(b[1])));
    if (p == 'x')
      base = 16, b.erase(0, 2);
    else if (p == 'o')
      base = 8, b.erase(0, 2);
    else if (p == 'b')
      base = 2, b.erase(0, 2);
    else
      base = 8, b.erase(0, 1);
  }
  if (b.empty()) return false;
  std::uint64_t u = 0;
  auto r = std::from_chars(b.data(), b.data() + b.size(), u, base);
  if (r.ec != std::errc() || r.ptr != b.data() + b.size()) return false;
  if (u > static_cast<std::uint64_t>(INT64_MAX) + (neg ? 1 : 0)) return false;
  *out = neg ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u);
  return true;
}

bool is_timestamp(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i != 4 || i == s.size() || s[i] != '-') return false;
  static const std::regex date(R"(^\d{4}-\d{1,2}-\d{1,2}$)");
  static const std::regex datetime(
      R"(^\d{4}-\d{1,2}-\d{1,2}[Tt ]\d{1,2}:\d{1,2}:\d{1,2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$)");
  return std::regex_match(s, date) || std::regex_match(s, datetime);
}

enum class Tag { kNull, kBool, kInt, kFloat, kStr, kTimestamp };

Tag resolve_tag(const std::string& in, Value* out) {
  static const std::map<std::string, std::pair<Tag, Value>> kMap = [] {
    std::map<std::string, std::pair<Tag, Value>> m;
    for (const char* s : {"", "~", "null", "Null", "NULL"}) m[s] = {Tag::kNull, Value()};
    for (const char* s : {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
      m[s] = {Tag::kBool, Value(true)};
    for (const char* s :
         {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
      m[s] = {Tag::kBool, Value(false)};
    for (const char* s : {".nan", ".NaN", ".NAN"}) m[s] = {Tag::kFloat, Value(std::nan(""))};
    for (const char* s : {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})
      m[s] = {Tag::kFloat, Value(HUGE_VAL)};
    for (const char* s : {"-.inf", "-.Inf", "-.INF"}) m[s] = {Tag::kFloat, Value(-HUGE_VAL)};
    m["<<"] = {Tag::kStr, Value("<<")};
    return m;
  }();
  char hint = 'N';
  if (!in.empty()) {
    char c = in[0];
    if (c == '+' || c == '-')
      hint = 'S';
    else if (c >= '0' && c <= '9')
      hint = 'D';
    else if (std::string("yYnNtTfFoO~").find(c) != std::string::npos)
      hint = 'M';
    else if (c == '.')
      hint = '.';
    else
      hint = 0;
  }
  if (hint != 0) {
    if (auto it = kMap.find(in); it != kMap.end()) {
      *out = it->second.second;
      return it->second.first;
    }
    if (hint == '.') {
      char* end = nullptr;
      double d = std::strtod(in.c_str(), &end);
      if (end == in.c_str() + in.size() && in.size() > 1) {
        *out = Value(d);
        return Tag::kFloat;
      }
    } else if (hint == 'D' || hint == 'S') {
      if (hint == 'D' && is_timestamp(in)) {
        *out = Value(in);
        return Tag::kTimestamp;
      }
      std::string plain;
      for (char c : in)
        if (c != '_') plain += c;
      std::int64_t i = 0;
      if (parse_go_int(plain, &i)) {
        *out = Value(i);
        return Tag::kInt;
      }
      static const std::regex yaml_float(
          R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
      if (std::regex_match(plain, yaml_float)) {
        *out = Value(std::strtod(plain.c_str(), nullptr));
        return Tag::kFloat;
      }
      if (plain.rfind("0b", 0) == 0 || plain.rfind("-0b", 0) == 0) {
        bool neg = plain[0] == '-';
        std::string bits = plain.substr(neg ? 3 : 2);
        std::uint64_t u = 0;
        auto r = std::from_chars(bits.data(), bits.data() + bits.size(), u, 2);
        if (r.ec == std::errc() && r.ptr == bits.data() + bits.size() && !bits.empty()) {
          *out = Value(neg ? -static_cast<std::int64_t>(u) : static_cast<std::int64_t>(u));
          return Tag::kInt;
        }
      }
    }
  }
  *out = Value(in);
  return Tag::kStr;
}

bool is_base60_float(const std::string& s) {
  static const std::regex re(R"(^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$)");
  return !s.empty() && std::regex_match(s, re);
}

// ------------------------------------------------------------- emitterc.go

bool is_break_at(const std::string& v, std::size_t i) {
  if (i >= v.size()) return false;
  auto c = static_cast<unsigned char>(v[i]);
  if (c == '\r' || c == '\n') return true;
  if (c == 0xC2 && i + 1 < v.size() && static_cast<unsigned char>(v[i + 1]) == 0x85) return true;
  if (c == 0xE2 && i + 2 < v.size() && static_cast<unsigned char>(v[i + 1]) == 0x80 &&
      (static_cast<unsigned char>(v[i + 2]) == 0xA8 ||
       static_cast<unsigned char>(v[i + 2]) == 0xA9))
    return true;
  return false;
}
bool is_space_at(const std::string& v, std::size_t i) { return i < v.size() && v[i] == ' '; }
bool is_blank_at(const std::string& v, std::size_t i) {
  return i < v.size() && (v[i] == ' ' || v[i] == '\t');
}
bool is_blankz_at(const std::string& v, std::size_t i) {
  return i >= v.size() || is_blank_at(v, i) || is_break_at(v, i) || v[i] == '\0';
}
std::size_t width_of(unsigned char c) {
  if ((c & 0x80) == 0) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}
bool is_printable_at(const std::string& s, std::size_t i) {
  auto b = [&](std::size_t k) -> unsigned char {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0;
  };
  unsigned char c = b(i);
  return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c == 0xC2 && b(i + 1) >= 0xA0) ||
         (c > 0xC2 && c < 0xED) || (c == 0xED && b(i + 1) < 0xA0) || c == 0xEE ||
         (c == 0xEF && !(b(i + 1) == 0xBB && b(i + 2) == 0xBF) &&
          !(b(i + 1) == 0xBF && (b(i + 2) == 0xBE || b(i + 2) == 0xBF)));
}

struct Analysis {
  bool multiline = false, flow_plain = true, block_plain = true, single_quoted = true, block = true;
};

Analysis analyze(const std::string& v) {
  Analysis a;
  if (v.empty()) {
    a.flow_plain = false;
    a.block = false;
    return a;
  }
  bool block_ind = false, flow_ind = false, line_breaks = false, special = false;
  bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false,
       break_space = false, space_break = false;
  bool prev_space = false, prev_break = false;
  if (v.size() >= 3 && (v.compare(0, 3, "---") == 0 || v.compare(0, 3, "...") == 0))
    block_ind = flow_ind = true;
  bool preceded_ws = true;
  for (std::size_t i = 0, w = 0; i < v.size(); i += w) {
    w = width_of(static_cast<unsigned char>(v[i]));
    bool followed_ws = i + w >= v.size() || is_blank_at(v, i + w);
    char c = v[i];
    if (i == 0) {
      switch (c) {
        case '#':
        case ',':
        case '[':
        case ']':
        case '{':
        case '}':
        case '&':
        case '*':
        case '!':
        case '|':
        case '>':
        case '\'':
        case '"':
        case '%':
        case '@':
        case '`':
          flow_ind = block_ind = true;
          break;
        case '?':
        case ':':
          flow_ind = true;
          if (followed_ws) block_ind = true;
          break;
        case '-':
          if (followed_ws) flow_ind = block_ind = true;
          break;
        default:
          break;
      }
    } else {
      switch (c) {
        case ',':
        case '?':
        case '[':
        case ']':
        case '{':
        case '}':
          flow_ind = true;
          break;
        case ':':
          flow_ind = true;
          if (followed_ws) block_ind = true;
          break;
        case '#':
          if (preceded_ws) flow_ind = block_ind = true;
          break;
        default:
          break;
      }
    }
    if (!is_printable_at(v, i)) special = true;
    if (is_space_at(v, i)) {
      if (i == 0) leading_space = true;
      if (i + w == v.size()) trailing_space = true;
      if (prev_break) break_space = true;
      prev_space = true;
      prev_break = false;
    } else if (is_break_at(v, i)) {
      line_breaks = true;
      if (i == 0) leading_break = true;
      if (i + w == v.size()) trailing_break = true;
      if (prev_space) space_break = true;
      prev_space = false;
      prev_break = true;
    } else {
      prev_space = prev_break = false;
    }
    preceded_ws = is_blankz_at(v, i);
  }
  a.multiline = line_breaks;
  if (leading_space || leading_break || trailing_space || trailing_break)
    a.flow_plain = a.block_plain = false;
  if (trailing_space) a.block = false;
  if (break_space) a.flow_plain = a.block_plain = a.single_quoted = false;
  if (space_break || special) a.flow_plain = a.block_plain = a.single_quoted = a.block = false;
  if (line_breaks) a.flow_plain = a.block_plain = false;
  if (flow_ind) a.flow_plain = false;
  if (block_ind) a.block_plain = false;
  return a;
}

enum class Style { kPlain, kSingle, kDouble, kLiteral };

class Emitter {
 public:
  std::string take() {
    // Document end: a final line break.
    write_indent();
    return std::move(out_);
  }

  void node(const Value& v, bool mapping_ctx, bool simple_key) {
    if (v.is_map()) {
      if (v.map().empty()) return empty_flow("{", "}");
      return mapping(v.map());
    }
    if (v.is_list()) {
      if (v.list().empty()) return empty_flow("[", "]");
      return sequence(v.list(), mapping_ctx);
    }
    switch (v.kind()) {
      case Value::Kind::kNil:
        return scalar("null", Style::kPlain, simple_key);
      case Value::Kind::kBool:
        return scalar(v.as_bool() ? "true" : "false", Style::kPlain, simple_key);
      case Value::Kind::kInt:
        return scalar(std::to_string(v.as_int()), Style::kPlain, simple_key);
      case Value::Kind::kFloat: {
        std::string s = format_float_v(v.as_float());
        if (s == "+Inf")
          s = ".inf";
        else if (s == "-Inf")
          s = "-.inf";
        else if (s == "NaN")
          s = ".nan";
        return scalar(s, Style::kPlain, simple_key);
      }
      case Value::Kind::kString:
        return string(v.as_string(), simple_key);
      default:
        return scalar("null", Style::kPlain, simple_key);
    }
  }

 private:
  void put(char c) {
    out_ += c;
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++column_;
  }
  void put_break() {
    out_ += '\n';
    column_ = 0;
  }
  void write_indent() {
    int indent = indent_ < 0 ? 0 : indent_;
    if (!indention_ || column_ > indent || (column_ == indent && !whitespace_)) put_break();
    while (column_ < indent) put(' ');
    whitespace_ = indention_ = true;
  }
  void indicator(const std::string& ind, bool need_ws, bool is_ws, bool is_indention) {
    if (need_ws && !whitespace_) put(' ');
    for (char c : ind) put(c);
    whitespace_ = is_ws;
    indention_ = indention_ && is_indention;
  }
  void increase_indent(bool flow, bool indentless) {
    indents_.push_back(indent_);
    if (indent_ < 0)
      indent_ = flow ? kBestIndent : 0;
    else if (!indentless)
      indent_ += kBestIndent;
  }
  void pop_indent() {
    indent_ = indents_.back();
    indents_.pop_back();
  }

  void empty_flow(const char* open, const char* close) {
    indicator(open, true, true, false);
    increase_indent(true, false);
    pop_indent();
    indicator(close, false, false, false);
  }

  void mapping(const Map& m) {
    increase_indent(false, false);
    std::vector<const std::pair<const std::string, Value>*> items;
    for (const auto& kv : m) items.push_back(&kv);
    std::stable_sort(items.begin(), items.end(),
                     [](auto* a, auto* b) { return yaml_key_less(a->first, b->first); });
    for (auto* kv : items) {
      write_indent();
      // yaml.v2 writes a multi-line or long key as a complex key ("? key").
      if (!analyze(kv->first).multiline && kv->first.size() <= 128) {
        string(kv->first, true);
        indicator(":", false, false, false);
      } else {
        indicator("?", true, false, true);
        string(kv->first, false);
        write_indent();
        indicator(":", true, false, true);
      }
      node(kv->second, true, false);
    }
    pop_indent();
  }

  void sequence(const List& l, bool mapping_ctx) {
    increase_indent(false, mapping_ctx && !indention_);
    for (const Value& x : l) {
      write_indent();
      indicator("-", true, false, true);
      node(x, false, false);
    }
    pop_indent();
  }

  // encode.go's stringv: quote what would read back as something else.
  void string(const std::string& s, bool simple_key) {
    Value ignored;
    bool can_plain = resolve_tag(s, &ignored) == Tag::kStr && !is_base60_float(s);
    Style st = s.find('\n') != std::string::npos ? Style::kLiteral
               : can_plain                       ? Style::kPlain
                                                 : Style::kDouble;
    scalar(s, st, simple_key);
  }

  void scalar(const std::string& v, Style st, bool simple_key) {
    Analysis a = analyze(v);
    if (simple_key && a.multiline) st = Style::kDouble;
    if (st == Style::kPlain) {
      if (!a.block_plain) st = Style::kSingle;
      if (v.empty() && simple_key) st = Style::kSingle;
    }
    if (st == Style::kSingle && !a.single_quoted) st = Style::kDouble;
    if (st == Style::kLiteral && (!a.block || simple_key)) st = Style::kDouble;
    increase_indent(true, false);
    switch (st) {
      case Style::kPlain:
        plain(v, !simple_key);
        break;
      case Style::kSingle:
        single_quoted(v, !simple_key);
        break;
      case Style::kDouble:
        double_quoted(v, !simple_key);
        break;
      case Style::kLiteral:
        literal(v);
        break;
    }
    pop_indent();
  }

  void write_char(const std::string& v, std::size_t* i) {
    std::size_t w = width_of(static_cast<unsigned char>(v[*i]));
    for (std::size_t k = 0; k < w && *i < v.size(); ++k) put(v[(*i)++]);
  }
  void write_break(const std::string& v, std::size_t* i) {
    if (v[*i] == '\n') {
      put_break();
      ++*i;
    } else {
      write_char(v, i);
      column_ = 0;
    }
  }

  void plain(const std::string& v, bool allow_breaks) {
    if (!whitespace_) put(' ');
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < v.size();) {
      if (is_space_at(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && !is_space_at(v, i + 1)) {
          write_indent();
          ++i;
        } else {
          write_char(v, &i);
        }
        spaces = true;
      } else if (is_break_at(v, i)) {
        if (!breaks && v[i] == '\n') put_break();
        write_break(v, &i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) write_indent();
        write_char(v, &i);
        indention_ = spaces = breaks = false;
      }
    }
    whitespace_ = indention_ = false;
  }

  void single_quoted(const std::string& v, bool allow_breaks) {
    indicator("'", true, false, false);
    bool spaces = false, breaks = false;
    for (std::size_t i = 0; i < v.size();) {
      if (is_space_at(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i > 0 && i < v.size() - 1 &&
            !is_space_at(v, i + 1)) {
          write_indent();
          ++i;
        } else {
          write_char(v, &i);
        }
        spaces = true;
      } else if (is_break_at(v, i)) {
        if (!breaks && v[i] == '\n') put_break();
        write_break(v, &i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) write_indent();
        if (v[i] == '\'') put('\'');
        write_char(v, &i);
        indention_ = spaces = breaks = false;
      }
    }
    indicator("'", false, false, false);
    whitespace_ = indention_ = false;
  }

  void double_quoted(const std::string& v, bool allow_breaks) {
    bool spaces = false;
    indicator("\"", true, false, false);
    for (std::size_t i = 0; i < v.size();) {
      auto c = static_cast<unsigned char>(v[i]);
      bool bom = i == 0 && v.size() >= 3 && v.compare(0, 3, "\xEF\xBB\xBF") == 0;
      if (!is_printable_at(v, i) || bom || is_break_at(v, i) || c == '"' || c == '\\') {
        std::size_t w = width_of(c);
        std::uint32_t r = w == 1 ? c : w == 2 ? (c & 0x1F) : w == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < w && i + k < v.size(); ++k)
          r = (r << 6) + (static_cast<unsigned char>(v[i + k]) & 0x3F);
        i += w;
        put('\\');
        switch (r) {
          case 0x00:
            put('0');
            break;
          case 0x07:
            put('a');
            break;
          case 0x08:
            put('b');
            break;
          case 0x09:
            put('t');
            break;
          case 0x0A:
            put('n');
            break;
          case 0x0B:
            put('v');
            break;
          case 0x0C:
            put('f');
            break;
          case 0x0D:
            put('r');
            break;
          case 0x1B:
            put('e');
            break;
          case 0x22:
            put('"');
            break;
          case 0x5C:
            put('\\');
            break;
          case 0x85:
            put('N');
            break;
          case 0xA0:
            put('_');
            break;
          case 0x2028:
            put('L');
            break;
          case 0x2029:
            put('P');
            break;
          default: {
            int digits = r <= 0xFF ? 2 : r <= 0xFFFF ? 4 : 8;
            put(r <= 0xFF ? 'x' : r <= 0xFFFF ? 'u' : 'U');
            for (int k = (digits - 1) * 4; k >= 0; k -= 4) {
              auto d = static_cast<char>((r >> k) & 0x0F);
              put(static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10));
            }
          }
        }
        spaces = false;
      } else if (is_space_at(v, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i > 0 && i < v.size() - 1) {
          write_indent();
          if (is_space_at(v, i + 1)) put('\\');
          ++i;
        } else {
          write_char(v, &i);
        }
        spaces = true;
      } else {
        write_char(v, &i);
        spaces = false;
      }
    }
    indicator("\"", false, false, false);
    whitespace_ = indention_ = false;
  }

  void literal(const std::string& v) {
    indicator("|", true, false, false);
    if (is_space_at(v, 0) || is_break_at(v, 0))
      indicator(std::to_string(kBestIndent), false, false, false);
    // Chomping: "-" without a final break, "+" with more than one.
    std::string chomp;
    if (v.empty()) {
      chomp = "-";
    } else {
      std::size_t i = v.size() - 1;
      while (i > 0 && (static_cast<unsigned char>(v[i]) & 0xC0) == 0x80) --i;
      if (!is_break_at(v, i)) {
        chomp = "-";
      } else if (i == 0) {
        chomp = "+";
      } else {
        --i;
        while (i > 0 && (static_cast<unsigned char>(v[i]) & 0xC0) == 0x80) --i;
        if (is_break_at(v, i)) chomp = "+";
      }
    }
    if (!chomp.empty()) indicator(chomp, false, false, false);
    put_break();
    indention_ = whitespace_ = true;
    bool breaks = true;
    for (std::size_t i = 0; i < v.size();) {
      if (is_break_at(v, i)) {
        write_break(v, &i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) write_indent();
        write_char(v, &i);
        indention_ = breaks = false;
      }
    }
  }

  static constexpr int kBestIndent = 2;
  static constexpr int kBestWidth = 80;
  std::string out_;
  int column_ = 0;
  int indent_ = -1;
  bool whitespace_ = true;
  bool indention_ = true;
  std::vector<int> indents_;
};

// toJSONish: whole floats become int64, as after json.Marshal + decode.
Value jsonish(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kFloat: {
      double f = v.as_float();
      if (std::isfinite(f) && f == std::trunc(f) && std::fabs(f) < 9.2e18)
        return Value(static_cast<std::int64_t>(f), Value::IntType::kInt64);
      return v;
    }
    case Value::Kind::kList: {
      List out;
      for (const Value& x : v.list()) out.push_back(jsonish(x));
      return Value(std::move(out));
    }
    case Value::Kind::kMap: {
      Map out;
      for (const auto& [k, x] : v.map()) out.emplace(k, jsonish(x));
      return Value(std::move(out));
    }
    case Value::Kind::kObject:
      if (auto m = v.object().marshal()) return jsonish(*m);
      return Value();
    case Value::Kind::kFunc:
      return Value();
    default:
      return v;
  }
}

// ------------------------------------------------------------- decoding

Value scalar_value(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  // Quoted or explicitly tagged !!str: a string; plain: resolved.
  if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str") return Value(s);
  Value v;
  Tag t = resolve_tag(s, &v);
  if (t == Tag::kInt) return Value(static_cast<double>(v.as_int()));
  return v;
}

Value convert(const YAML::Node& n, int depth);

Value convert(const YAML::Node& n, int depth) {
  if (depth > 10000) return Value();
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return Value();
    case YAML::NodeType::Scalar:
      return scalar_value(n);
    case YAML::NodeType::Sequence: {
      List out;
      for (const auto& x : n) out.push_back(convert(x, depth + 1));
      return Value(std::move(out));
    }
    case YAML::NodeType::Map: {
      Map out;
      for (const auto& kv : n) {
        // Non-string keys print as fmt.Sprint prints them.
        Value k = kv.first.IsScalar() ? scalar_value(kv.first) : Value();
        std::string key = k.is_string() ? k.as_string() : go_sprint(k);
        out[key] = convert(kv.second, depth + 1);
      }
      return Value(std::move(out));
    }
  }
  return Value();
}

std::string yaml_error(const YAML::Exception& e) {
  if (e.mark.is_null()) return e.msg;
  return "yaml: line " + std::to_string(e.mark.line + 1) + ": " + e.msg;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  char buf[8];
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
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
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        if (c < 0x20) {
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
          out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string json_float(double f) {
  if (!std::isfinite(f)) return "null";
  double a = std::fabs(f);
  char buf[64];
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
    std::string s(buf, r.ptr);
    // Go writes e-7, not e-07.
    std::size_t e = s.find("e-0");
    if (e != std::string::npos && s.size() - e == 4) s.erase(e + 2, 1);
    e = s.find("e+0");
    if (e != std::string::npos && s.size() - e == 4) s.erase(e + 2, 1);
    return s;
  }
  auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

void write_json(const Value& v, const std::string& indent, const std::string& prefix,
                std::string* out) {
  if (v.kind() == Value::Kind::kObject) {
    if (auto m = v.object().marshal()) return write_json(*m, indent, prefix, out);
  }
  switch (v.kind()) {
    case Value::Kind::kBool:
      *out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::kInt:
      *out += std::to_string(v.as_int());
      return;
    case Value::Kind::kFloat:
      *out += json_float(v.as_float());
      return;
    case Value::Kind::kString:
      *out += json_string(v.as_string());
      return;
    case Value::Kind::kList: {
      if (v.list().empty()) {
        *out += "[]";
        return;
      }
      *out += '[';
      std::string inner = prefix + indent;
      bool first = true;
      for (const Value& x : v.list()) {
        if (!first) *out += ',';
        first = false;
        if (!indent.empty()) *out += "\n" + inner;
        write_json(x, indent, inner, out);
      }
      if (!indent.empty()) *out += "\n" + prefix;
      *out += ']';
      return;
    }
    case Value::Kind::kMap: {
      if (v.map().empty()) {
        *out += "{}";
        return;
      }
      *out += '{';
      std::string inner = prefix + indent;
      bool first = true;
      for (const auto& [k, x] : v.map()) {
        if (!first) *out += ',';
        first = false;
        if (!indent.empty()) *out += "\n" + inner;
        *out += json_string(k) + (indent.empty() ? ":" : ": ");
        write_json(x, indent, inner, out);
      }
      if (!indent.empty()) *out += "\n" + prefix;
      *out += '}';
      return;
    }
    default:
      *out += "null";
      return;
  }
}

}  // namespace

Value resolve_plain(const std::string& s) {
  Value v;
  resolve_tag(s, &v);
  return v;
}

bool yaml_key_less(const std::string& a, const std::string& b) {
  // Runes: ASCII bytes as themselves; a multi-byte rune counts as a letter.
  auto letter = [](unsigned char c) { return std::isalpha(c) || c >= 0x80; };
  auto digit = [](unsigned char c) { return c >= '0' && c <= '9'; };
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    bool al = letter(x), bl = letter(y);
    if (al && bl) return x < y;
    if (al || bl) return bl;
    std::int64_t an = 0, bn = 0;
    if (x == '0' || y == '0') {
      for (std::size_t j = i; j-- > 0 && digit(static_cast<unsigned char>(a[j]));) {
        if (a[j] != '0') {
          an = bn = 1;
          break;
        }
      }
    }
    std::size_t ai = i, bi = i;
    for (; ai < a.size() && digit(static_cast<unsigned char>(a[ai])); ++ai)
      an = an * 10 + (a[ai] - '0');
    for (; bi < b.size() && digit(static_cast<unsigned char>(b[bi])); ++bi)
      bn = bn * 10 + (b[bi] - '0');
    if (an != bn) return an < bn;
    if (ai != bi) return ai < bi;
    return x < y;
  }
  return a.size() < b.size();
}

std::string to_yaml(const Value& v) {
  Emitter e;
  e.node(jsonish(v), false, false);
  return e.take();
}

std::expected<Value, std::string> from_yaml(const std::string& text) {
  try {
    return convert(YAML::Load(text), 0);
  } catch (const YAML::Exception& e) {
    return std::unexpected(yaml_error(e));
  } catch (const std::exception& e) {
    return std::unexpected(std::string("yaml: ") + e.what());
  }
}

std::expected<std::vector<Value>, std::string> from_yaml_all(const std::string& text) {
  try {
    std::vector<Value> out;
    for (const auto& doc : YAML::LoadAll(text)) out.push_back(convert(doc, 0));
    return out;
  } catch (const YAML::Exception& e) {
    return std::unexpected(yaml_error(e));
  } catch (const std::exception& e) {
    return std::unexpected(std::string("yaml: ") + e.what());
  }
}

std::string to_go_json(const Value& v, const std::string& indent) {
  std::string out;
  write_json(v, indent, "", &out);
  return out;
}

}  // namespace cairn::helm
