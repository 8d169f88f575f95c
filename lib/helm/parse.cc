// text/template's lexer and parser (Go's text/template/parse), producing
// parse.h's tree. Errors read "template: FILE:LINE: MESSAGE" as Go's.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>

#include "helm/parse_impl.h"

namespace cairn::helm {
namespace {

enum class T {
  kText,
  kLeft,
  kRight,
  kIdent,
  kField,
  kDot,
  kVar,
  kString,
  kRawString,
  kChar,
  kNumber,
  kBool,
  kNil,
  kLParen,
  kRParen,
  kPipe,
  kDeclare,
  kAssign,
  kComma,
  kEOF
};

struct Tok {
  T t;
  std::string val;
  std::size_t pos = 0;
  bool adjacent = false;  // no space between it and the previous token
};

struct ParseError {
  std::size_t pos;
  std::string msg;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

class Lexer {
 public:
  explicit Lexer(const std::string& s) : s_(s) {}

  std::expected<std::vector<Tok>, ParseError> run() {
    while (i_ < s_.size()) {
      std::size_t open = s_.find("{{", i_);
      if (open == std::string::npos) {
        emit_text(s_.substr(i_), i_);
        i_ = s_.size();
        break;
      }
      std::string text = s_.substr(i_, open - i_);
      std::size_t after = open + 2;
      bool trim_left = after + 1 < s_.size() + 0 && s_.compare(after, 1, "-") == 0 &&
                       after + 1 < s_.size() && is_space(s_[after + 1]);
      if (trim_left) {
        while (!text.empty() && is_space(text.back())) text.pop_back();
        after += 2;
      }
      emit_text(text, i_);
      i_ = after;
      // A comment is the whole action.
      std::size_t j = i_;
      while (trim_left && j < s_.size() && is_space(s_[j])) ++j;
      if (s_.compare(trim_left ? j : i_, 2, "/*") == 0) {
        if (auto r = comment(trim_left ? j : i_); !r) return std::unexpected(r.error());
        continue;
      }
      toks_.push_back({T::kLeft, "", open});
      if (auto r = action(); !r) return std::unexpected(r.error());
    }
    toks_.push_back({T::kEOF, "", s_.size()});
    return std::move(toks_);
  }

 private:
  void emit_text(std::string text, std::size_t pos) {
    if (trim_next_ && !text.empty()) {
      std::size_t k = 0;
      while (k < text.size() && is_space(text[k])) ++k;
      text.erase(0, k);
    }
    trim_next_ = false;
    if (!text.empty()) toks_.push_back({T::kText, std::move(text), pos});
  }

  // Is there a right delimiter at `k` (" -}}" or "}}")? Its length, or 0.
  std::size_t right_delim(std::size_t k, bool* trim) const {
    if (k + 3 < s_.size() + 0 && is_space(s_[k]) && s_.compare(k + 1, 3, "-}}") == 0) {
      *trim = true;
      return 4;
    }
    if (s_.compare(k, 2, "}}") == 0) {
      *trim = false;
      return 2;
    }
    return 0;
  }

  std::expected<void, ParseError> comment(std::size_t start) {
    std::size_t end = s_.find("*/", start + 2);
    if (end == std::string::npos) return std::unexpected(ParseError{start, "unclosed comment"});
    bool trim = false;
    std::size_t n = right_delim(end + 2, &trim);
    if (n == 0) return std::unexpected(ParseError{end, "comment ends before closing delimiter"});
    i_ = end + 2 + n;
    trim_next_ = trim;
    return {};
  }

  std::expected<void, ParseError> action() {
    bool adjacent = true;
    int parens = 0;
    while (true) {
      if (i_ >= s_.size()) return std::unexpected(ParseError{i_, "unclosed action"});
      bool trim = false;
      if (std::size_t n = right_delim(i_, &trim); n != 0 && parens == 0) {
        toks_.push_back({T::kRight, "", i_});
        i_ += n;
        trim_next_ = trim;
        return {};
      }
      char c = s_[i_];
      std::size_t start = i_;
      if (is_space(c)) {
        ++i_;
        adjacent = false;
        continue;
      }
      Tok tok{T::kEOF, "", start, adjacent};
      adjacent = true;
      if (c == '"' || c == '`' || c == '\'') {
        char q = c;
        ++i_;
        while (i_ < s_.size() && s_[i_] != q) {
          if (q != '`' && s_[i_] == '\\') ++i_;
          if (q != '`' && i_ < s_.size() && s_[i_] == '\n')
            return std::unexpected(ParseError{start, "unterminated quoted string"});
          ++i_;
        }
        if (i_ >= s_.size()) {
          return std::unexpected(ParseError{
              start, q == '`' ? "unterminated raw quoted string" : "unterminated quoted string"});
        }
        ++i_;
        tok.t = q == '"' ? T::kString : q == '`' ? T::kRawString : T::kChar;
      } else if (c == '.' && (i_ + 1 >= s_.size() || !std::isdigit((unsigned char)s_[i_ + 1]))) {
        ++i_;
        while (i_ < s_.size() && is_alnum(s_[i_])) ++i_;
        tok.t = i_ - start == 1 ? T::kDot : T::kField;
      } else if (c == '$') {
        ++i_;
        while (i_ < s_.size() && is_alnum(s_[i_])) ++i_;
        tok.t = T::kVar;
      } else if (std::isdigit((unsigned char)c) || c == '.' ||
                 ((c == '-' || c == '+') && i_ + 1 < s_.size() &&
                  (std::isdigit((unsigned char)s_[i_ + 1]) || s_[i_ + 1] == '.'))) {
        ++i_;
        while (i_ < s_.size() &&
               (is_alnum(s_[i_]) || s_[i_] == '.' ||
                ((s_[i_] == '-' || s_[i_] == '+') && std::strchr("eEpP", s_[i_ - 1]) &&
                 !(s_[start] == '0' && i_ - start < 2))))
          ++i_;
        tok.t = T::kNumber;
      } else if (is_alnum(c)) {
        while (i_ < s_.size() && is_alnum(s_[i_])) ++i_;
        std::string w = s_.substr(start, i_ - start);
        tok.t = w == "true" || w == "false" ? T::kBool : w == "nil" ? T::kNil : T::kIdent;
      } else if (c == ':' && s_.compare(i_, 2, ":=") == 0) {
        i_ += 2;
        tok.t = T::kDeclare;
      } else if (c == '=') {
        ++i_;
        tok.t = T::kAssign;
      } else if (c == '(') {
        ++i_;
        ++parens;
        tok.t = T::kLParen;
      } else if (c == ')') {
        ++i_;
        if (--parens < 0) return std::unexpected(ParseError{start, "unexpected right paren"});
        tok.t = T::kRParen;
      } else if (c == '|') {
        ++i_;
        tok.t = T::kPipe;
      } else if (c == ',') {
        ++i_;
        tok.t = T::kComma;
      } else {
        return std::unexpected(
            ParseError{start, "unexpected \"" + std::string(1, c) + "\" in command"});
      }
      tok.val = s_.substr(start, i_ - start);
      toks_.push_back(std::move(tok));
    }
  }

  const std::string& s_;
  std::size_t i_ = 0;
  bool trim_next_ = false;
  std::vector<Tok> toks_;
};

// Go's strconv.Unquote for "..." and '...' (the lexer checked the quotes).
std::expected<std::string, std::string> unquote(const std::string& q) {
  std::string out;
  for (std::size_t i = 1; i + 1 < q.size(); ++i) {
    char c = q[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i + 1 > q.size() - 1) return std::unexpected("invalid syntax");
    char e = q[i];
    auto hex = [&](int n) -> std::expected<unsigned long, std::string> {
      if (i + n >= q.size()) return std::unexpected("invalid syntax");
      unsigned long v = 0;
      auto r = std::from_chars(q.data() + i + 1, q.data() + i + 1 + n, v, 16);
      if (r.ptr != q.data() + i + 1 + n) return std::unexpected("invalid syntax");
      i += n;
      return v;
    };
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case '\'':
        out += '\'';
        break;
      case 'x': {
        auto v = hex(2);
        if (!v) return std::unexpected(v.error());
        out += static_cast<char>(*v);
        break;
      }
      case 'u':
      case 'U': {
        auto v = hex(e == 'u' ? 4 : 8);
        if (!v) return std::unexpected(v.error());
        out += rune_to_utf8(static_cast<std::int64_t>(*v));
        break;
      }
      default:
        if (e >= '0' && e <= '7' && i + 2 < q.size()) {
          out += static_cast<char>((e - '0') * 64 + (q[i + 1] - '0') * 8 + (q[i + 2] - '0'));
          i += 2;
          break;
        }
        return std::unexpected("invalid syntax");
    }
  }
  return out;
}

// A number literal as Go's parser types it when the parameter is
// interface{}: int unless it has a fraction or exponent (or is too big).
std::expected<Value, std::string> parse_number(const std::string& text) {
  std::string s;
  for (char c : text)
    if (c != '_') s += c;
  bool neg = false;
  std::string body = s;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    neg = body[0] == '-';
    body.erase(0, 1);
  }
  int base = 10;
  std::string digits = body;
  if (body.size() > 1 && body[0] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(body[1])));
    if (p == 'x')
      base = 16, digits = body.substr(2);
    else if (p == 'o')
      base = 8, digits = body.substr(2);
    else if (p == 'b')
      base = 2, digits = body.substr(2);
    else if (std::isdigit(static_cast<unsigned char>(p)))
      base = 8, digits = body.substr(1);
  }
  bool floaty = base == 16 ? digits.find_first_of(".pP") != std::string::npos
                           : body.find_first_of(".eE") != std::string::npos;
  if (!floaty) {
    std::uint64_t u = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
    if (r.ec == std::errc() && r.ptr == digits.data() + digits.size() && !digits.empty()) {
      if (u <= static_cast<std::uint64_t>(INT64_MAX) + (neg ? 1 : 0))
        return Value(neg ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u));
    } else if (r.ec != std::errc::result_out_of_range) {
      return std::unexpected("bad number syntax: \"" + text + "\"");
    }
  }
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || s.empty())
    return std::unexpected("bad number syntax: \"" + text + "\"");
  return Value(d);
}

class Parser {
 public:
  Parser(std::vector<Tok> toks, const std::string& src, std::shared_ptr<const std::string> file,
         const std::set<std::string, std::less<>>* funcs)
      : toks_(std::move(toks)), src_(src), file_(std::move(file)), funcs_(funcs) {
    for (std::size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') newlines_.push_back(i);
  }

  std::expected<ParseResult, ParseError> parse() {
    ParseResult out;
    out.root = std::make_shared<ListNode>();
    defines_ = &out.defines;
    while (peek().t != T::kEOF) {
      if (peek().t == T::kLeft && toks_[i_ + 1].t == T::kIdent && toks_[i_ + 1].val == "define") {
        i_ += 2;
        if (auto r = define(); !r) return std::unexpected(r.error());
        continue;
      }
      auto n = node(0);
      if (!n) return std::unexpected(n.error());
      if (n->end != End::kNone)
        return std::unexpected(ParseError{n->pos, "unexpected {{" + end_name(n->end) + "}}"});
      if (n->node) out.root->nodes.push_back(std::move(*n->node));
    }
    return out;
  }

 private:
  enum class End { kNone, kEnd, kElse };
  struct Item {
    std::optional<Node> node;
    End end = End::kNone;
    std::size_t pos = 0;
  };
  static std::string end_name(End e) { return e == End::kEnd ? "end" : "else"; }

  const Tok& peek() const { return toks_[i_]; }
  const Tok& next() { return toks_[i_ < toks_.size() - 1 ? i_++ : i_]; }

  Loc loc(std::size_t pos) const {
    auto it = std::lower_bound(newlines_.begin(), newlines_.end(), pos);
    int line = static_cast<int>(it - newlines_.begin()) + 1;
    int col =
        it == newlines_.begin() ? static_cast<int>(pos) : static_cast<int>(pos - *(it - 1) - 1);
    return Loc{file_, line, col};
  }
  ParseError err(std::size_t pos, std::string msg) const { return ParseError{pos, std::move(msg)}; }

  std::expected<void, ParseError> expect_right(const char* context) {
    if (peek().t != T::kRight)
      return std::unexpected(err(peek().pos, "unexpected \"" + peek().val + "\" in " + context));
    next();
    return {};
  }

  std::expected<std::string, ParseError> string_token(const char* context) {
    const Tok& t = next();
    if (t.t == T::kRawString) return t.val.substr(1, t.val.size() - 2);
    if (t.t == T::kString) {
      auto s = unquote(t.val);
      if (!s) return std::unexpected(err(t.pos, s.error()));
      return *s;
    }
    return std::unexpected(err(t.pos, std::string("unexpected \"") + t.val + "\" in " + context));
  }

  std::expected<void, ParseError> define() {
    auto name = string_token("define clause");
    if (!name) return std::unexpected(name.error());
    if (auto r = expect_right("define clause"); !r) return r;
    auto body = list(0);
    if (!body) return std::unexpected(body.error());
    if (body->second != End::kEnd) return std::unexpected(err(peek().pos, "unexpected {{else}}"));
    (*defines_)[*name] = body->first;
    return {};
  }

  // Nodes until {{end}} or {{else}}; which one ended it.
  std::expected<std::pair<std::shared_ptr<ListNode>, End>, ParseError> list(int range_depth) {
    auto out = std::make_shared<ListNode>();
    while (true) {
      if (peek().t == T::kEOF) return std::unexpected(err(peek().pos, "unexpected EOF"));
      auto n = node(range_depth);
      if (!n) return std::unexpected(n.error());
      if (n->end != End::kNone) return std::make_pair(out, n->end);
      if (n->node) out->nodes.push_back(std::move(*n->node));
    }
  }

  std::expected<Item, ParseError> node(int range_depth) {
    const Tok& t = next();
    if (t.t == T::kText) {
      Node n;
      n.kind = Node::Kind::kText;
      n.text = t.val;
      return Item{std::move(n)};
    }
    std::size_t left = t.pos;
    const Tok& k = peek();
    Loc where = loc(k.pos);
    if (k.t == T::kIdent) {
      const std::string& w = k.val;
      if (w == "end" || w == "else") {
        next();
        End e = w == "end" ? End::kEnd : End::kElse;
        // `{{else if ...}}` / `{{else with ...}}`: the caller chains it.
        if (e == End::kElse && peek().t == T::kIdent &&
            (peek().val == "if" || peek().val == "with"))
          return Item{std::nullopt, e, left};
        if (auto r = expect_right(w.c_str()); !r) return std::unexpected(r.error());
        return Item{std::nullopt, e, left};
      }
      if (w == "if" || w == "with" || w == "range") {
        next();
        return control(w, range_depth);
      }
      if (w == "break" || w == "continue") {
        next();
        if (range_depth == 0) return std::unexpected(err(k.pos, "{{" + w + "}} outside {{range}}"));
        if (auto r = expect_right(w.c_str()); !r) return std::unexpected(r.error());
        Node n;
        n.kind = w == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
        n.loc = where;
        return Item{std::move(n)};
      }
      if (w == "template" || w == "block") {
        next();
        return template_call(w == "block", loc(peek().pos), range_depth);
      }
      if (w == "define") return std::unexpected(err(k.pos, "unexpected \"define\""));
    }
    auto p = pipeline("command", false);
    if (!p) return std::unexpected(p.error());
    if (auto r = expect_right("command"); !r) return std::unexpected(r.error());
    Node n;
    n.kind = Node::Kind::kAction;
    n.pipe = *p;
    n.loc = where;
    return Item{std::move(n)};
  }

  std::expected<Item, ParseError> template_call(bool block, Loc where, int range_depth) {
    const char* context = block ? "block clause" : "template clause";
    auto name = string_token(context);
    if (!name) return std::unexpected(name.error());
    Node n;
    n.kind = Node::Kind::kTemplate;
    n.text = *name;
    n.loc = where;
    if (peek().t != T::kRight) {
      auto p = pipeline(context, false);
      if (!p) return std::unexpected(p.error());
      n.pipe = *p;
    }
    if (auto r = expect_right(context); !r) return std::unexpected(r.error());
    if (block) {
      auto body = list(range_depth);
      if (!body) return std::unexpected(body.error());
      if (body->second != End::kEnd) return std::unexpected(err(peek().pos, "unexpected {{else}}"));
      (*defines_)[*name] = body->first;
    }
    return Item{std::move(n)};
  }

  std::expected<Item, ParseError> control(const std::string& w, int range_depth) {
    Node n;
    n.kind = w == "if" ? Node::Kind::kIf : w == "with" ? Node::Kind::kWith : Node::Kind::kRange;
    n.loc = loc(toks_[i_ - 1].pos);
    auto p = pipeline(w.c_str(), w == "range");
    if (!p) return std::unexpected(p.error());
    n.pipe = *p;
    if (auto r = expect_right(w.c_str()); !r) return std::unexpected(r.error());
    int inner = n.kind == Node::Kind::kRange ? range_depth + 1 : range_depth;
    auto body = list(inner);
    if (!body) return std::unexpected(body.error());
    n.list = body->first;
    if (body->second == End::kElse) {
      if (peek().t == T::kIdent && (peek().val == "if" || peek().val == "with")) {
        // else if/with: a nested control sharing this one's {{end}}.
        std::string kw = next().val;
        auto chained = control(kw, range_depth);
        if (!chained) return chained;
        n.else_list = std::make_shared<ListNode>();
        n.else_list->nodes.push_back(std::move(*chained->node));
        return Item{std::move(n)};
      }
      auto other = list(range_depth);
      if (!other) return std::unexpected(other.error());
      if (other->second != End::kEnd)
        return std::unexpected(err(peek().pos, "expected end; found {{else}}"));
      n.else_list = other->first;
    }
    return Item{std::move(n)};
  }

  std::expected<std::shared_ptr<Pipe>, ParseError> pipeline(const char* context, bool range) {
    auto p = std::make_shared<Pipe>();
    p->loc = loc(peek().pos);
    // Declarations: $x := / $x = / (range) $i, $v :=
    if (peek().t == T::kVar) {
      std::size_t save = i_;
      std::vector<std::string> vars{next().val};
      if (range && peek().t == T::kComma) {
        next();
        if (peek().t != T::kVar)
          return std::unexpected(
              err(peek().pos, std::string("too many declarations in ") + context));
        vars.push_back(next().val);
      }
      if (peek().t == T::kDeclare || peek().t == T::kAssign) {
        p->assign = next().t == T::kAssign;
        p->decl = vars;
      } else {
        i_ = save;
      }
    }
    while (true) {
      auto c = command(context);
      if (!c) return std::unexpected(c.error());
      p->cmds.push_back(std::move(*c));
      if (peek().t != T::kPipe) break;
      next();
    }
    std::string text;
    for (std::size_t k = 0; k < p->decl.size(); ++k) text += (k ? ", " : "") + p->decl[k];
    if (!p->decl.empty()) text += p->assign ? " = " : " := ";
    for (std::size_t k = 0; k < p->cmds.size(); ++k) text += (k ? " | " : "") + p->cmds[k].text;
    p->text = text;
    return p;
  }

  std::expected<Cmd, ParseError> command(const char* context) {
    Cmd c;
    c.loc = loc(peek().pos);
    while (true) {
      T t = peek().t;
      if (t == T::kRight || t == T::kRParen || t == T::kPipe || t == T::kEOF) break;
      auto a = operand();
      if (!a) return std::unexpected(a.error());
      c.args.push_back(std::move(*a));
    }
    if (c.args.empty())
      return std::unexpected(err(peek().pos, std::string("missing value for ") + context));
    for (std::size_t k = 0; k < c.args.size(); ++k) c.text += (k ? " " : "") + c.args[k].text;
    return c;
  }

  std::expected<Arg, ParseError> operand() {
    const Tok& t = next();
    Arg a;
    a.loc = loc(t.pos);
    a.text = t.val;
    switch (t.t) {
      case T::kField:
        a.kind = Arg::Kind::kField;
        a.fields.push_back(t.val.substr(1));
        break;
      case T::kDot:
        a.kind = Arg::Kind::kDot;
        break;
      case T::kVar:
        a.kind = Arg::Kind::kVar;
        a.name = t.val;
        break;
      case T::kIdent:
        if (funcs_ && !funcs_->contains(t.val))
          return std::unexpected(err(t.pos, "function \"" + t.val + "\" not defined"));
        a.kind = Arg::Kind::kIdent;
        a.name = t.val;
        break;
      case T::kNil:
        a.kind = Arg::Kind::kNil;
        break;
      case T::kBool:
        a.kind = Arg::Kind::kLiteral;
        a.literal = t.val == "true";
        break;
      case T::kString:
      case T::kRawString: {
        a.kind = Arg::Kind::kLiteral;
        if (t.t == T::kRawString) {
          a.literal = t.val.substr(1, t.val.size() - 2);
        } else {
          auto s = unquote(t.val);
          if (!s) return std::unexpected(err(t.pos, s.error() + ": " + t.val));
          a.literal = *s;
        }
        break;
      }
      case T::kChar: {
        auto s = unquote(t.val);
        if (!s || s->empty())
          return std::unexpected(err(t.pos, "malformed character constant: " + t.val));
        a.kind = Arg::Kind::kLiteral;
        a.number = true;
        a.literal = decode_rune(*s);
        break;
      }
      case T::kNumber: {
        auto v = parse_number(t.val);
        if (!v) return std::unexpected(err(t.pos, v.error()));
        a.kind = Arg::Kind::kLiteral;
        a.number = true;
        a.literal = *v;
        break;
      }
      case T::kLParen: {
        auto p = pipeline("parenthesized pipeline", false);
        if (!p) return std::unexpected(p.error());
        if (peek().t != T::kRParen) return std::unexpected(err(peek().pos, "unclosed left paren"));
        next();
        a.kind = Arg::Kind::kPipe;
        a.pipe = *p;
        a.text = "(" + (*p)->text + ")";
        break;
      }
      default:
        return std::unexpected(err(t.pos, "unexpected \"" + t.val + "\" in operand"));
    }
    // Chained fields: .a.b, $x.a, (pipe).a -- Go reports a chain at its
    // second field.
    bool chained = false;
    while (peek().t == T::kField && peek().adjacent &&
           (a.kind == Arg::Kind::kField || a.kind == Arg::Kind::kVar ||
            a.kind == Arg::Kind::kPipe || a.kind == Arg::Kind::kDot)) {
      if (!chained && a.kind == Arg::Kind::kField) a.loc = loc(peek().pos);
      chained = true;
      a.fields.push_back(peek().val.substr(1));
      a.text += peek().val;
      next();
    }
    if (a.kind == Arg::Kind::kDot && !a.fields.empty()) a.kind = Arg::Kind::kField;
    return a;
  }

  static Value decode_rune(const std::string& s) {
    auto c = static_cast<unsigned char>(s[0]);
    if (c < 0x80) return Value(static_cast<std::int64_t>(c));
    int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    std::int64_t cp = c & (0x3F >> n);
    for (int k = 1; k <= n && k < static_cast<int>(s.size()); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[k]) & 0x3F);
    return Value(cp);
  }

  std::vector<Tok> toks_;
  const std::string& src_;
  std::shared_ptr<const std::string> file_;
  const std::set<std::string, std::less<>>* funcs_;
  std::vector<std::size_t> newlines_;
  std::size_t i_ = 0;
  std::map<std::string, std::shared_ptr<ListNode>>* defines_ = nullptr;
};

}  // namespace

std::expected<ParseResult, std::string> parse_template(
    const std::string& name, const std::string& text,
    const std::set<std::string, std::less<>>* funcs) {
  auto file = std::make_shared<const std::string>(name);
  auto line_of = [&](std::size_t pos) {
    return 1 + std::count(text.begin(),
                          text.begin() + static_cast<std::ptrdiff_t>(std::min(pos, text.size())),
                          '\n');
  };
  auto toks = Lexer(text).run();
  if (!toks) {
    return std::unexpected("template: " + name + ":" + std::to_string(line_of(toks.error().pos)) +
                           ": " + toks.error().msg);
  }
  Parser p(std::move(*toks), text, file, funcs);
  auto r = p.parse();
  if (!r) {
    return std::unexpected("template: " + name + ":" + std::to_string(line_of(r.error().pos)) +
                           ": " + r.error().msg);
  }
  return std::move(*r);
}

bool is_empty_tree(const ListNode& l) {
  return std::all_of(l.nodes.begin(), l.nodes.end(), [](const Node& n) {
    return n.kind == Node::Kind::kText &&
           std::all_of(n.text.begin(), n.text.end(), [](char c) { return is_space(c); });
  });
}

}  // namespace cairn::helm
