#include "manifest/yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <expected>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "manifest/render.h"

namespace cairn::manifest {

using json = cairn::json;

// The offset of the first byte that is not part of a well-formed UTF-8
// character (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF)
// or is a NUL (unless `nul_ok`), or npos.
std::size_t invalid_utf8_at(std::string_view s, bool nul_ok) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    // Text has no NUL (a file with one, yaml-cpp takes for UTF-16 or UTF-32).
    if (c == 0 && !nul_ok) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + n >= s.size()) return i;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += n + 1;
  }
  return std::string_view::npos;
}

std::string json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "a mapping";
    default:
      return "not a mapping";
  }
}

// One YAML document as JSON. Aliases are expanded by copying, within a

namespace {

// ---- YAML scalars ----

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Go's strconv.ParseUint(s, 0, 64) on an unsigned digit string (no sign):
// 0x/0X hex, 0o/0O octal, 0b/0B binary, a leading 0 octal, else decimal.
std::optional<std::uint64_t> parse_unsigned(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (UINT64_MAX - static_cast<std::uint64_t>(d)) / static_cast<std::uint64_t>(base)) {
      return std::nullopt;  // overflow
    }
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
  }
  return v;
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ (go-yaml's yamlStyleFloat)
bool is_yaml_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  std::size_t frac_digits = 0;
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && !(dot && frac_digits > 0)) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// yaml-cpp 0.7 writes the escapes \N and \_ of a double-quoted scalar as the
// single bytes 0x85 and 0xA0 instead of U+0085 and U+00A0 in UTF-8 (found by
// tests/fuzz/manifest_fuzz.cc: the object could not be written as JSON). The
// file is UTF-8 (checked first), so such a lone byte came from one of them:
// encode it. False if the text is still not UTF-8.
bool repair_yaml_cpp_escapes(std::string& s) {
  if (invalid_utf8_at(s, true) == std::string_view::npos) return true;
  std::string out;
  std::string_view rest = s;
  for (;;) {
    const std::size_t bad = invalid_utf8_at(rest, true);
    if (bad == std::string_view::npos) break;
    const auto b = static_cast<unsigned char>(rest[bad]);
    if (b != 0x85 && b != 0xA0) return false;
    out.append(rest.substr(0, bad));
    out.push_back('\xC2');
    out.push_back(rest[bad]);
    rest.remove_prefix(bad + 1);
  }
  out.append(rest);
  s = std::move(out);
  return true;
}

struct ScalarError {
  std::string message;
};

// A plain (unquoted, untagged) scalar as sigs.k8s.io/yaml resolves it, except
// that YAML 1.1's yes/no/on/off/y/n stay strings.
std::expected<json, ScalarError> resolve_plain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return json(nullptr);
  if (s == "true" || s == "True" || s == "TRUE") return json(true);
  if (s == "false" || s == "False" || s == "FALSE") return json(false);
  static const char* const kSpecial[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                                         "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
  for (const char* sp : kSpecial) {
    if (s == sp) {
      return std::unexpected(ScalarError{
          "infinity and NaN cannot be represented in JSON; quote the value if it is a string"});
    }
  }
  const char c = s[0];
  if (!is_digit(c) && c != '-' && c != '+' && c != '.') return json(s);

  std::string plain;
  plain.reserve(s.size());
  for (char ch : s) {
    if (ch != '_') plain.push_back(ch);
  }
  if (!plain.empty() && c != '.') {
    std::string_view digits = plain;
    bool negative = false;
    if (digits[0] == '-' || digits[0] == '+') {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (auto u = parse_unsigned(digits)) {
      if (!negative) {
        if (*u <= static_cast<std::uint64_t>(INT64_MAX)) return json(static_cast<std::int64_t>(*u));
        return json(*u);
      }
      if (*u <= static_cast<std::uint64_t>(INT64_MAX)) return json(-static_cast<std::int64_t>(*u));
      if (*u == static_cast<std::uint64_t>(INT64_MAX) + 1) return json(INT64_MIN);
      // A negative number below int64: a float, as in Go.
    }
  }
  if (is_yaml_float(plain)) {
    errno = 0;
    char* end = nullptr;
    double d = std::strtod(plain.c_str(), &end);
    if (errno != ERANGE && end == plain.c_str() + plain.size() && std::isfinite(d)) return json(d);
  }
  return json(s);
}

// ---- YAML events to JSON ----

// Thrown by the event handler to stop the parser at a node.
struct NodeError {
  YAML::Mark mark;
  std::string message;
};

// budget of kMaxAliasNodes copied nodes; nesting is limited to kMaxDepth.
class JsonBuilder : public YAML::EventHandler {
 public:
  json root;
  int start_line = 0;  // 1-based
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override {
    start_line = mark.line + 1;
    start = mark;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(mark, json(nullptr), 1, 0, anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      throw NodeError{mark, "an alias refers to the node that contains it (a recursive alias)"};
    }
    const Anchored& a = it->second;
    if (static_cast<int>(stack_.size()) + a.height > kMaxDepth) {
      throw NodeError{mark, "nesting deeper than " + std::to_string(kMaxDepth) + " levels"};
    }
    charge(mark, a.nodes);
    add(mark, a.value, a.nodes, a.height, YAML::NullAnchor);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (tag == "?" && value == "<<" && expecting_key()) {
      stack_.back().merge_next = true;
      stack_.back().have_key = true;
      return;
    }
    if (invalid_utf8_at(value, true) == std::string_view::npos) {
      add(mark, scalar(mark, tag, value), 1, 0, anchor);
      return;
    }
    std::string text = value;
    if (!repair_yaml_cpp_escapes(text)) {
      throw NodeError{mark,
                      "a scalar whose escapes do not make UTF-8 text; write the characters "
                      "themselves"};
    }
    add(mark, scalar(mark, tag, text), 1, 0, anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    check_collection_tag(mark, tag, "seq");
    open(mark, json::array(), anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    check_collection_tag(mark, tag, "map");
    open(mark, json::object(), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    json value;
    YAML::Mark mark;
    YAML::anchor_t anchor = YAML::NullAnchor;
    std::size_t nodes = 1;
    int height = 1;
    // Mappings: the pending key, and the mappings merged in with `<<`.
    bool have_key = false;
    bool merge_next = false;
    std::string key;
    std::vector<json> merges;
  };
  struct Anchored {
    json value;
    std::size_t nodes = 0;
    int height = 0;
  };

  bool expecting_key() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().have_key;
  }

  void charge(const YAML::Mark& mark, std::size_t nodes) {
    copied_ += nodes;
    if (copied_ > kMaxAliasNodes) {
      throw NodeError{mark, "anchors and aliases expand to more than " +
                                std::to_string(kMaxAliasNodes) +
                                " nodes (an alias bomb?); write the values out instead"};
    }
  }

  static void check_collection_tag(const YAML::Mark& mark, const std::string& tag,
                                   std::string_view kind) {
    if (tag == "?" || tag == "!" || tag == std::string(kTagPrefix) + std::string(kind)) return;
    throw NodeError{mark, "unsupported tag " + tag};
  }

  json scalar(const YAML::Mark& mark, const std::string& tag, const std::string& value) {
    if (tag == "!") return json(value);  // quoted, block or `!`-tagged: a string
    auto resolved = resolve_plain(value);
    if (tag == "?") {
      if (!resolved) throw NodeError{mark, resolved.error().message};
      return *resolved;
    }
    if (tag.rfind(kTagPrefix, 0) != 0) throw NodeError{mark, "unsupported tag " + tag};
    const std::string t = tag.substr(kTagPrefix.size());
    if (t == "str" || t == "timestamp") return json(value);
    if (!resolved) throw NodeError{mark, resolved.error().message};
    if (t == "null" && resolved->is_null()) return *resolved;
    if (t == "bool" && resolved->is_boolean()) return *resolved;
    if (t == "int" && resolved->is_number_integer()) return *resolved;
    if (t == "float" && resolved->is_number()) return json(resolved->get<double>());
    if (t == "null" || t == "bool" || t == "int" || t == "float") {
      throw NodeError{mark, "the value tagged !!" + t + " is not a valid " + t};
    }
    throw NodeError{mark, "unsupported tag !!" + t};
  }

  void open(const YAML::Mark& mark, json value, YAML::anchor_t anchor) {
    if (expecting_key()) {
      throw NodeError{mark, "a mapping or list as a mapping key is not supported"};
    }
    if (static_cast<int>(stack_.size()) + 1 > kMaxDepth) {
      throw NodeError{mark, "nesting deeper than " + std::to_string(kMaxDepth) + " levels"};
    }
    Frame f;
    f.value = std::move(value);
    f.mark = mark;
    f.anchor = anchor;
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    for (auto& m : f.merges) {
      for (auto& [k, v] : m.items()) {
        if (!f.value.contains(k)) f.value[k] = v;
      }
    }
    add(f.mark, std::move(f.value), f.nodes, f.height, f.anchor);
  }

  static std::string key_string(const YAML::Mark& mark, const json& v) {
    switch (v.type()) {
      case json::value_t::string:
        return v.get<std::string>();
      case json::value_t::boolean:
      case json::value_t::number_integer:
      case json::value_t::number_unsigned:
      case json::value_t::number_float:
        return v.dump();
      case json::value_t::null:
        throw NodeError{mark, "a mapping key is null"};
      default:
        throw NodeError{mark, "a mapping or list as a mapping key is not supported"};
    }
  }

  void add(const YAML::Mark& mark, json v, std::size_t nodes, int height, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      charge(mark, nodes);
      anchors_[anchor] = Anchored{v, nodes, height};
    }
    if (stack_.empty()) {
      root = std::move(v);
      return;
    }
    Frame& top = stack_.back();
    top.nodes += nodes;
    top.height = std::max(top.height, height + 1);
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
      return;
    }
    if (!top.have_key) {
      top.key = key_string(mark, v);
      top.have_key = true;
      return;
    }
    top.have_key = false;
    if (top.merge_next) {
      top.merge_next = false;
      bool ok = v.is_object();
      if (v.is_array()) {
        ok = std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); });
      }
      if (!ok) {
        throw NodeError{mark,
                        "the value of a merge key (<<) must be a mapping or a list of mappings"};
      }
      if (v.is_object()) {
        top.merges.push_back(std::move(v));
      } else {
        for (auto& e : v) top.merges.push_back(std::move(e));
      }
      return;
    }
    if (top.value.contains(top.key)) {
      throw NodeError{mark, "mapping key \"" + top.key + "\" is repeated"};
    }
    top.value[top.key] = std::move(v);
  }

  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::size_t copied_ = 0;
};

struct JsonTooDeep {};

}  // namespace

YamlDocuments parse_yaml(const std::string& text) {
  YamlDocuments out;
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  int last_start = -1;
  for (int doc = 0;; ++doc) {
    JsonBuilder builder;
    try {
      if (!parser.HandleNextDocument(builder)) break;
      // yaml-cpp 0.7 does not consume a ',' outside a flow collection: it
      // returns an empty document there again and again, for ever
      // (jbeder/yaml-cpp#1040). A document that starts where the last one
      // did is that.
      if (builder.start.pos == last_start) {
        out.error = YamlError{doc - 1, builder.start.line + 1, builder.start.column + 1,
                              "the YAML parser cannot read past this point (a ',' outside [...] "
                              "or {...}?); fix the syntax here"};
        return out;
      }
      last_start = builder.start.pos;
    } catch (const NodeError& e) {
      out.error = YamlError{doc, e.mark.line + 1, e.mark.column + 1, e.message};
      return out;
    } catch (const YAML::Exception& e) {
      // yaml-cpp quotes bytes of the input in some messages ("unknown
      // escape character: X", a single byte of a UTF-8 character): keep
      // printable ASCII only, so the message is valid UTF-8 in a condition.
      std::string msg = e.msg;
      for (char& ch : msg) {
        const auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u >= 0x7f) ch = '?';
      }
      if (e.mark.is_null()) {
        out.error = YamlError{doc, 0, 0, msg};
      } else {
        out.error = YamlError{doc, e.mark.line + 1, e.mark.column + 1, msg};
      }
      return out;
    }
    out.documents.push_back({std::move(builder.root), builder.start_line});
  }
  return out;
}

JsonParse parse_json_text(const std::string& content) {
  JsonParse out;
  if (content.find_first_not_of(" \t\r\n") == std::string::npos) return out;  // empty
  try {
    out.value = json::parse(
        content,
        [](int depth, json::parse_event_t event, json&) {
          if ((event == json::parse_event_t::object_start ||
               event == json::parse_event_t::array_start) &&
              depth >= kMaxDepth) {
            throw JsonTooDeep{};
          }
          return true;
        },
        true, false);
  } catch (const JsonTooDeep&) {
    out.error = "nesting deeper than " + std::to_string(kMaxDepth) + " levels";
  } catch (const json::out_of_range&) {
    // "number overflow parsing '1e400'" (found by tests/fuzz/manifest_fuzz.cc:
    // it was thrown out of render): without the number, which may be secret.
    out.error = "a number is too large (beyond +-1.8e308, what JSON numbers can hold)";
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ...;
    // last read: '...'": keep neither the id nor the text read (it may be secret).
    std::string m = e.what();
    if (auto p = m.find("] "); p != std::string::npos && m.starts_with("[json.exception")) {
      m = m.substr(p + 2);
    }
    if (auto p = m.find("; last read:"); p != std::string::npos) m.resize(p);
    out.error = m;
  }
  if (out.error) out.value.reset();
  return out;
}

}  // namespace cairn::manifest
