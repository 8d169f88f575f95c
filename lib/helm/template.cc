// text/template's execution (Go's text/template/exec.go) over parse.h's
// tree, and its builtin functions (funcs.go).
#include "helm/template.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "helm/parse_impl.h"

namespace cairn::helm {

TemplateSet::TemplateSet() = default;
TemplateSet::~TemplateSet() = default;

std::expected<void, std::string> TemplateSet::parse(const std::string& name,
                                                    const std::string& text, const FuncMap* funcs) {
  std::set<std::string, std::less<>> names;
  if (funcs) {
    for (const auto& [n, _] : *funcs) names.insert(n);
    for (const auto& [n, _] : builtin_funcs()) names.insert(n);
    names.insert("and");
    names.insert("or");
  }
  auto r = parse_template(name, text, funcs ? &names : nullptr);
  if (!r) return std::unexpected(r.error());
  // As Go's AddParseTree: an empty tree does not replace a template.
  auto add = [&](const std::string& n, std::shared_ptr<ListNode> tree) {
    if (templates_.contains(n) && is_empty_tree(*tree)) return;
    templates_[n] = std::move(tree);
  };
  add(name, r->root);
  for (auto& [n, tree] : r->defines) add(n, tree);
  return {};
}

bool TemplateSet::has(const std::string& name) const { return templates_.contains(name); }

std::unique_ptr<TemplateSet> TemplateSet::clone() const {
  auto out = std::make_unique<TemplateSet>();
  out->templates_ = templates_;
  return out;
}

const ListNode* TemplateSet::find(const std::string& name) const {
  auto it = templates_.find(name);
  return it == templates_.end() ? nullptr : it->second.get();
}

namespace {

enum class Flow { kNormal, kBreak, kContinue };
using Err = std::string;

// Builtins that are special forms or need no FuncSpec.
bool is_and_or(const std::string& n) { return n == "and" || n == "or"; }

}  // namespace

// The state of one template execution (Go's exec.state).
class State {
 public:
  State(Executor& ex, const TemplateSet& set, std::string name, std::string* out)
      : ex_(ex), set_(set), name_(std::move(name)), out_(out) {}

  std::expected<void, Err> run(const ListNode& root, const Value& dot) {
    vars_.push_back({"$", dot});
    auto r = walk_list(root, dot);
    if (!r) return std::unexpected(r.error());
    return {};
  }

 private:
  Err error_at(const Loc& loc, const std::string& text, const std::string& msg) const {
    return "template: " + (loc.file ? *loc.file : name_) + ":" + std::to_string(loc.line) + ":" +
           std::to_string(loc.col) + ": executing \"" + name_ + "\" at <" + text + ">: " + msg;
  }

  std::expected<void, Err> write(const std::string& s, const Loc& loc) {
    if (out_->size() + s.size() > ex_.limits().max_output) {
      return std::unexpected(error_at(
          loc, "output", "output exceeds " + std::to_string(ex_.limits().max_output) + " bytes"));
    }
    out_->append(s);
    return {};
  }

  std::expected<Flow, Err> walk_list(const ListNode& list, const Value& dot) {
    for (const Node& n : list.nodes) {
      auto f = walk(n, dot);
      if (!f) return f;
      if (*f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  std::expected<Flow, Err> walk(const Node& n, const Value& dot) {
    switch (n.kind) {
      case Node::Kind::kText:
        if (auto r = write(n.text, n.loc); !r) return std::unexpected(r.error());
        return Flow::kNormal;
      case Node::Kind::kAction: {
        auto v = eval_pipe(dot, *n.pipe);
        if (!v) return std::unexpected(v.error());
        if (n.pipe->decl.empty()) {
          // A nil result prints as Go's invalid value does.
          std::string s = v->is_nil() ? "<no value>" : go_sprint(*v);
          if (auto r = write(s, n.loc); !r) return std::unexpected(r.error());
        }
        return Flow::kNormal;
      }
      case Node::Kind::kIf:
      case Node::Kind::kWith:
        return walk_if_with(n, dot);
      case Node::Kind::kRange:
        return walk_range(n, dot);
      case Node::Kind::kTemplate:
        return walk_template(n, dot);
      case Node::Kind::kBreak:
        return Flow::kBreak;
      case Node::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  std::expected<Flow, Err> walk_if_with(const Node& n, const Value& dot) {
    std::size_t mark = vars_.size();
    auto v = eval_pipe(dot, *n.pipe);
    if (!v) return std::unexpected(v.error());
    std::expected<Flow, Err> r = Flow::kNormal;
    if (truthy(*v)) {
      r = walk_list(*n.list, n.kind == Node::Kind::kWith ? *v : dot);
    } else if (n.else_list) {
      r = walk_list(*n.else_list, dot);
    }
    vars_.resize(mark);
    return r;
  }

  std::expected<Flow, Err> walk_range(const Node& n, const Value& dot) {
    std::size_t mark = vars_.size();
    Pipe p = *n.pipe;
    std::vector<std::string> decl = p.decl;
    bool assign = p.assign;
    p.decl.clear();
    auto v = eval_pipe(dot, p);
    if (!v) return std::unexpected(v.error());
    if (v->kind() == Value::Kind::kObject)
      if (auto r = v->object().range_value()) v = std::move(*r);
    for (const std::string& d : decl)
      if (!assign) vars_.push_back({d, Value()});
    std::size_t iterations = 0;
    auto one = [&](const Value& index, const Value& elem) -> std::expected<Flow, Err> {
      if (++iterations > ex_.limits().max_range)
        return std::unexpected(error_at(n.loc, "range", "range exceeds its iteration limit"));
      if (!decl.empty()) {
        // One variable is the element; two are index and element.
        if (auto r = set_var(decl.back(), elem, assign, n.loc); !r)
          return std::unexpected(r.error());
        if (decl.size() > 1)
          if (auto r = set_var(decl[0], index, assign, n.loc); !r)
            return std::unexpected(r.error());
      }
      std::size_t inner = vars_.size();
      auto f = walk_list(*n.list, elem);
      vars_.resize(inner);
      return f;
    };
    bool any = false;
    std::expected<Flow, Err> result = Flow::kNormal;
    auto run = [&](const Value& i, const Value& e) {
      any = true;
      auto f = one(i, e);
      if (!f) {
        result = f;
        return false;
      }
      return *f != Flow::kBreak;
    };
    switch (v->kind()) {
      case Value::Kind::kList: {
        auto keep = v->list_ptr();  // the body may replace the variable holding it
        for (std::size_t i = 0; i < keep->size(); ++i)
          if (!run(Value(static_cast<std::int64_t>(i)), (*keep)[i])) break;
        break;
      }
      case Value::Kind::kMap: {
        auto keep = v->map_ptr();
        for (const auto& [k, e] : *keep)
          if (!run(Value(k), e)) break;
        break;
      }
      case Value::Kind::kInt: {
        // Go 1.22: range over an int counts from 0.
        for (std::int64_t i = 0; i < v->as_int(); ++i)
          if (!run(Value(i, v->int_type()), Value(i, v->int_type()))) break;
        break;
      }
      case Value::Kind::kNil:
        break;
      default:
        vars_.resize(mark);
        return std::unexpected(
            error_at(n.pipe->loc, n.pipe->text, "range can't iterate over " + go_sprint(*v)));
    }
    if (!result) {
      vars_.resize(mark);
      return result;
    }
    if (!any && n.else_list) result = walk_list(*n.else_list, dot);
    vars_.resize(mark);
    if (result && *result != Flow::kNormal) return Flow::kNormal;
    return result;
  }

  std::expected<Flow, Err> walk_template(const Node& n, const Value& dot) {
    const ListNode* t = set_.find(n.text);
    // Go prints a template node as it was written.
    std::string text = "{{template \"" + n.text + "\"" + (n.pipe ? " " + n.pipe->text : "") + "}}";
    if (!t)
      return std::unexpected(error_at(n.loc, text, "template \"" + n.text + "\" not defined"));
    Value new_dot;
    if (n.pipe) {
      auto v = eval_pipe(dot, *n.pipe);
      if (!v) return std::unexpected(v.error());
      new_dot = *v;
    }
    if (ex_.depth_ >= ex_.limits().max_depth) {
      return std::unexpected(error_at(
          n.loc, text,
          "exceeded maximum template depth (" + std::to_string(ex_.limits().max_depth) + ")"));
    }
    ++ex_.depth_;
    State inner(ex_, set_, n.text, out_);
    auto r = inner.run(*t, new_dot);
    --ex_.depth_;
    if (!r) return std::unexpected(r.error());
    return Flow::kNormal;
  }

  std::expected<void, Err> set_var(const std::string& name, const Value& v, bool assign,
                                   const Loc& loc) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        it->second = v;
        return {};
      }
    }
    if (assign) return std::unexpected(error_at(loc, name, "undefined variable: " + name));
    vars_.push_back({name, v});
    return {};
  }

  std::expected<Value, Err> var(const std::string& name, const Loc& loc) const {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == name) return it->second;
    return std::unexpected(error_at(loc, name, "undefined variable: " + name));
  }

  std::expected<Value, Err> eval_pipe(const Value& dot, const Pipe& p) {
    std::optional<Value> value;
    for (const Cmd& c : p.cmds) {
      auto v = eval_cmd(dot, c, value);
      if (!v) return v;
      value = std::move(*v);
    }
    for (const std::string& d : p.decl) {
      if (p.assign) {
        if (auto r = set_var(d, *value, true, p.loc); !r) return std::unexpected(r.error());
      } else {
        vars_.push_back({d, *value});
      }
    }
    return *value;
  }

  std::expected<Value, Err> eval_cmd(const Value& dot, const Cmd& c,
                                     const std::optional<Value>& final) {
    const Arg& first = c.args[0];
    auto not_function = [&]() -> std::expected<Value, Err> {
      return std::unexpected(
          error_at(first.loc, first.text, "can't give argument to non-function " + first.text));
    };
    switch (first.kind) {
      case Arg::Kind::kField:
        return eval_chain(dot, dot, first, c, final);
      case Arg::Kind::kVar: {
        auto v = var(first.name, first.loc);
        if (!v) return v;
        if (!first.fields.empty()) return eval_chain(dot, *v, first, c, final);
        if (c.args.size() > 1 || final) return not_function();
        return v;
      }
      case Arg::Kind::kPipe: {
        auto v = eval_pipe(dot, *first.pipe);
        if (!v) return v;
        if (!first.fields.empty()) return eval_chain(dot, *v, first, c, final);
        if (c.args.size() > 1 || final) return not_function();
        return v;
      }
      case Arg::Kind::kIdent:
        return call_function(dot, first.name, c, final);
      case Arg::Kind::kNil:
        return std::unexpected(error_at(c.loc, c.text, "nil is not a command"));
      case Arg::Kind::kDot:
      case Arg::Kind::kLiteral:
        if (c.args.size() > 1 || final) return not_function();
        return first.kind == Arg::Kind::kDot ? dot : first.literal;
    }
    return Value();
  }

  // The arguments after the first of a command, and the piped value.
  std::expected<std::vector<Value>, Err> eval_args(const Value& dot, const Cmd& c,
                                                   const std::optional<Value>& final) {
    std::vector<Value> out;
    for (std::size_t i = 1; i < c.args.size(); ++i) {
      auto v = eval_arg(dot, c.args[i]);
      if (!v) return std::unexpected(v.error());
      out.push_back(std::move(*v));
    }
    if (final) out.push_back(*final);
    return out;
  }

  std::expected<Value, Err> eval_arg(const Value& dot, const Arg& a) {
    switch (a.kind) {
      case Arg::Kind::kDot:
        return dot;
      case Arg::Kind::kNil:
        return Value();
      case Arg::Kind::kLiteral:
        return a.literal;
      case Arg::Kind::kField: {
        Cmd c;
        c.args.push_back(a);
        c.loc = a.loc;
        c.text = a.text;
        return eval_chain(dot, dot, a, c, std::nullopt);
      }
      case Arg::Kind::kVar: {
        auto v = var(a.name, a.loc);
        if (!v || a.fields.empty()) return v;
        Cmd c;
        c.args.push_back(a);
        return eval_chain(dot, *v, a, c, std::nullopt);
      }
      case Arg::Kind::kPipe: {
        auto v = eval_pipe(dot, *a.pipe);
        if (!v || a.fields.empty()) return v;
        Cmd c;
        c.args.push_back(a);
        return eval_chain(dot, *v, a, c, std::nullopt);
      }
      case Arg::Kind::kIdent: {
        Cmd c;
        c.args.push_back(a);
        c.loc = a.loc;
        c.text = a.text;
        return call_function(dot, a.name, c, std::nullopt);
      }
    }
    return Value();
  }

  // receiver.f1.f2...fn, the last possibly a method given the command's
  // other arguments.
  std::expected<Value, Err> eval_chain(const Value& dot, Value receiver, const Arg& a, const Cmd& c,
                                       const std::optional<Value>& final) {
    for (std::size_t i = 0; i < a.fields.size(); ++i) {
      bool last = i + 1 == a.fields.size();
      const std::string& f = a.fields[i];
      if (receiver.is_nil()) {
        return std::unexpected(error_at(a.loc, a.text, "nil pointer evaluating interface {}." + f));
      }
      bool has_args = last && (c.args.size() > 1 || final);
      if (receiver.is_map()) {
        if (has_args)
          return std::unexpected(error_at(a.loc, a.text, f + " is not a method but has arguments"));
        auto it = receiver.map().find(f);
        receiver = it == receiver.map().end() ? Value() : it->second;
        continue;
      }
      if (receiver.kind() == Value::Kind::kObject) {
        auto v = receiver.object().field(f);
        if (!v) {
          return std::unexpected(error_at(
              a.loc, a.text, "can't evaluate field " + f + " in type " + receiver.type_name()));
        }
        if (v->kind() == Value::Kind::kFunc) {
          std::vector<Value> args;
          if (last) {
            auto ev = eval_args(dot, c, final);
            if (!ev) return std::unexpected(ev.error());
            args = std::move(*ev);
          }
          auto r = v->method().fn(args);
          if (!r)
            return std::unexpected(
                error_at(a.loc, a.text, "error calling " + f + ": " + r.error()));
          receiver = std::move(*r);
          continue;
        }
        if (has_args)
          return std::unexpected(
              error_at(a.loc, a.text, f + " has arguments but cannot be invoked as function"));
        receiver = std::move(*v);
        continue;
      }
      return std::unexpected(
          error_at(a.loc, a.text, "can't evaluate field " + f + " in type interface {}"));
    }
    return receiver;
  }

  std::expected<Value, Err> call_function(const Value& dot, const std::string& name, const Cmd& c,
                                          const std::optional<Value>& final) {
    const auto& funcs = ex_.funcs();
    auto it = funcs.find(name);
    if (it == funcs.end() && is_and_or(name)) return and_or(dot, name == "and", c, final);
    static const FuncMap builtins = builtin_funcs();
    const FuncSpec* spec = nullptr;
    if (it != funcs.end()) {
      spec = &it->second;
    } else if (auto b = builtins.find(name); b != builtins.end()) {
      spec = &b->second;
    } else {
      return std::unexpected(error_at(c.loc, c.text, "function \"" + name + "\" not defined"));
    }
    auto args = eval_args(dot, c, final);
    if (!args) return std::unexpected(args.error());
    if (auto r = check_args(name, *spec, *args, c); !r) return std::unexpected(r.error());
    FuncContext ctx{&ex_};
    auto r = spec->fn(ctx, *args);
    if (!r)
      return std::unexpected(error_at(c.loc, c.text, "error calling " + name + ": " + r.error()));
    return r;
  }

  std::expected<Value, Err> and_or(const Value& dot, bool is_and, const Cmd& c,
                                   const std::optional<Value>& final) {
    std::size_t n = c.args.size() - 1 + (final ? 1 : 0);
    if (n < 1) {
      return std::unexpected(error_at(c.loc, c.text,
                                      std::string("wrong number of args for ") +
                                          (is_and ? "and" : "or") + ": want at least 1 got 0"));
    }
    Value v;
    for (std::size_t i = 1; i <= n; ++i) {
      if (i < c.args.size()) {
        auto r = eval_arg(dot, c.args[i]);
        if (!r) return r;
        v = std::move(*r);
      } else {
        v = *final;
      }
      if (truthy(v) != is_and) return v;
    }
    return v;
  }

  // Go's reflect call: argument count and types from the signature.
  std::expected<void, Err> check_args(const std::string& name, const FuncSpec& spec,
                                      std::vector<Value>& args, const Cmd& c) {
    std::size_t fixed = spec.params.size();
    if (spec.variadic ? args.size() < fixed : args.size() != fixed) {
      return std::unexpected(error_at(
          c.loc, c.text,
          "wrong number of args for " + name + ": want " + (spec.variadic ? "at least " : "") +
              std::to_string(fixed) + " got " + std::to_string(args.size())));
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      Param p = i < fixed ? spec.params[i] : spec.variadic_param;
      // An untyped number constant takes the parameter's type, as in Go.
      if (i + 1 < c.args.size() && c.args[i + 1].number) literal_to(p, args[i]);
      if (auto r = convert(p, args[i]); !r) {
        const Arg& a = i + 1 < c.args.size() ? c.args[i + 1] : c.args[0];
        // A constant for a struct parameter, as Go's evalArg says.
        if (p == Param::kTime && i + 1 < c.args.size() && a.kind == Arg::Kind::kLiteral)
          return std::unexpected(
              error_at(a.loc, a.text, "can't handle " + a.text + " for arg of type time.Time"));
        return std::unexpected(error_at(a.loc, a.text, r.error()));
      }
    }
    return {};
  }

  static void literal_to(Param p, Value& v) {
    if (p == Param::kFloat && v.is_int()) v = Value(static_cast<double>(v.as_int()));
    if ((p == Param::kInt || p == Param::kInt64) && v.is_float() &&
        v.as_float() == static_cast<double>(static_cast<std::int64_t>(v.as_float())))
      v = Value(static_cast<std::int64_t>(v.as_float()));
    if (p == Param::kInt64 && v.is_int()) v = Value(v.as_int(), Value::IntType::kInt64);
  }

  static std::expected<void, Err> convert(Param p, Value& v) {
    auto wrong = [&](const char* want) -> std::expected<void, Err> {
      if (v.is_nil()) return std::unexpected(std::string("invalid value; expected ") + want);
      return std::unexpected(std::string("wrong type for value; expected ") + want + "; got " +
                             v.type_name());
    };
    switch (p) {
      case Param::kAny:
        return {};
      case Param::kString:
        return v.is_string() ? std::expected<void, Err>{} : wrong("string");
      case Param::kBool:
        return v.kind() == Value::Kind::kBool ? std::expected<void, Err>{} : wrong("bool");
      case Param::kInt:
      case Param::kInt64: {
        auto t = p == Param::kInt ? Value::IntType::kInt : Value::IntType::kInt64;
        if (v.is_int() && v.int_type() == t) return {};
        return wrong(p == Param::kInt ? "int" : "int64");
      }
      case Param::kFloat:
        return v.is_float() ? std::expected<void, Err>{} : wrong("float64");
      case Param::kList:
        return v.is_list() || v.is_nil() ? std::expected<void, Err>{} : wrong("[]interface {}");
      case Param::kMap:
        return v.is_map() || v.is_nil() ? std::expected<void, Err>{}
                                        : wrong("map[string]interface {}");
      case Param::kStrings: {
        if (v.is_nil()) return {};
        if (!v.is_list()) return wrong("[]string");
        for (const Value& x : v.list())
          if (!x.is_string()) return wrong("[]string");
        return {};
      }
      case Param::kTime:
        return v.kind() == Value::Kind::kObject && v.object().type_name() == "time.Time"
                   ? std::expected<void, Err>{}
                   : wrong("time.Time");
    }
    return {};
  }

  Executor& ex_;
  const TemplateSet& set_;
  std::string name_;
  std::string* out_;
  std::vector<std::pair<std::string, Value>> vars_;
};

Executor::Executor(const TemplateSet& set, const FuncMap& funcs, Limits limits)
    : set_(&set), funcs_(funcs), limits_(limits) {}

std::expected<std::string, std::string> Executor::execute(const std::string& name,
                                                          const Value& dot) {
  return execute_in(*set_, name, dot);
}

std::expected<std::string, std::string> Executor::execute_in(const TemplateSet& set,
                                                             const std::string& name,
                                                             const Value& dot) {
  const ListNode* t = set.find(name);
  if (!t)
    return std::unexpected("template: no template \"" + name +
                           "\" associated with template \"gotpl\"");
  if (depth_ >= limits_.max_depth) {
    return std::unexpected("template: " + name + ": exceeded maximum template depth (" +
                           std::to_string(limits_.max_depth) + ")");
  }
  std::string out;
  const TemplateSet* saved = set_;
  set_ = &set;
  ++depth_;
  State st(*this, set, name, &out);
  auto r = st.run(*t, dot);
  --depth_;
  set_ = saved;
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace cairn::helm
