#include "api/validate.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>

#include "api/duration.h"
#include "api/enums.h"
#include "api/json_reader.h"

namespace cairn::api {
namespace {

using cairn::json;
using detail::Errors;
using detail::item_path;
using detail::Object;
using detail::quote;
using detail::read_enum;
using std::chrono::milliseconds;

constexpr std::size_t kMaxNotify = 20;
constexpr std::size_t kMaxDependsOn = 50;
constexpr std::size_t kMaxNameLength = 253;

std::string join(const std::vector<std::string>& parts, std::string_view last_sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(i + 1 == parts.size() ? last_sep : ", ");
    out += parts[i];
  }
  return out;
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A DNS-1123 label but for its length.
bool is_label_shaped(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_hex40(std::string_view s) {
  if (s.size() != 40) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_c_identifier(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

// Kubernetes object names (Secrets, Releases): lowercase RFC 1123 subdomain.
bool is_dns1123_subdomain(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_lower_alnum(c) || c == '-' || c == '.'; });
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// git check-ref-format, for a branch or tag name as a person writes it.
std::string check_ref_name(std::string_view s) {
  if (has_space_or_control(s)) return "must not contain spaces or control characters";
  for (char c : s) {
    if (c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' || c == '\\') {
      return std::string("must not contain '") + c + "'";
    }
  }
  if (s.front() == '-') return "must not start with '-'";
  if (s.front() == '/' || s.back() == '/') return "must not start or end with '/'";
  if (s.back() == '.') return "must not end with '.'";
  if (s.find("..") != std::string_view::npos) return "must not contain '..'";
  if (s.find("//") != std::string_view::npos) return "must not contain '//'";
  if (s.find("@{") != std::string_view::npos || s == "@") return "must not contain '@{' or be '@'";
  if (s.ends_with(".lock")) return "must not end with '.lock'";
  if (s.starts_with(".") || s.find("/.") != std::string_view::npos) {
    return "no path component may start with '.'";
  }
  return "";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// For notification targets and Prometheus: http(s)://host[...].
std::string check_http_url(std::string_view url) {
  if (has_space_or_control(url)) return "must not contain spaces or control characters";
  auto p = url.find("://");
  std::string scheme = p == std::string_view::npos ? "" : lower(url.substr(0, p));
  if (scheme != "http" && scheme != "https") {
    return "must be an http:// or https:// URL, not " + quote(url);
  }
  std::string_view rest = url.substr(p + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.back() == '@') return "has no host: " + quote(url);
  return "";
}

// ---- reading helpers: each reports its own errors ----

// A string that must be present and non-empty.
std::optional<std::string> required_string(const Object& o, std::string_view key) {
  if (!o.has(key)) {
    o.errors().add(o.path(key), "is required");
    return std::nullopt;
  }
  auto s = o.string(key);
  if (!s) return std::nullopt;
  if (s->empty()) {
    o.errors().add(o.path(key), "must not be empty");
    return std::nullopt;
  }
  return s;
}

// A string that may be absent but, when present, is not empty.
std::optional<std::string> nonempty_string(const Object& o, std::string_view key) {
  auto s = o.string(key);
  if (s && s->empty()) {
    o.errors().add(o.path(key), "must not be empty (leave it out instead)");
    return std::nullopt;
  }
  return s;
}

int int_in_range(const Object& o, std::string_view key, int def, int lo, int hi) {
  auto v = o.integer(key);
  if (!v) return def;
  if (*v < lo || *v > hi) {
    o.errors().add(o.path(key), "must be between " + std::to_string(lo) + " and " +
                                    std::to_string(hi) + ", not " + std::to_string(*v));
    return def;
  }
  return static_cast<int>(*v);
}

bool boolean_or(const Object& o, std::string_view key, bool def) {
  return o.boolean(key).value_or(def);
}

std::optional<milliseconds> duration_at_least(const Object& o, std::string_view key,
                                              milliseconds min) {
  auto s = o.string(key);
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    o.errors().add(o.path(key), d.error());
    return std::nullopt;
  }
  if (*d < min) {
    o.errors().add(o.path(key),
                   quote(*s) + " is too short: the minimum is " + format_duration(min));
    return std::nullopt;
  }
  return *d;
}

// {name: ...} naming a Secret (or another object) in the same namespace.
std::optional<LocalObjectReference> object_ref(const Object& parent, std::string_view key,
                                               std::string_view what) {
  Object r = parent.object(key);
  if (!r.present()) return std::nullopt;
  auto name = required_string(r, "name");
  if (!name) return std::nullopt;
  if (!is_dns1123_subdomain(*name)) {
    r.errors().add(r.path("name"), quote(*name) + " is not a valid " + std::string(what) +
                                       " name (lowercase letters, digits, '-' and '.')");
    return std::nullopt;
  }
  return LocalObjectReference{*name};
}

// Items of the list `a` (nullptr: absent) that must be objects; calls
// f(index, item).
template <typename F>
void each_item_in(const json* a, const std::string& path, Errors& errs, F f) {
  if (a == nullptr) return;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const json& v = (*a)[i];
    Object item(&v, item_path(path, i), errs);
    if (v.is_null()) errs.add(item.path(), "must be an object, not null");
    if (item.present()) f(i, item);
  }
}

template <typename F>
void each_item(const Object& parent, std::string_view key, F f) {
  each_item_in(parent.array(key), parent.path(key), parent.errors(), f);
}

// ---- shared spec pieces ----

SourceSpec read_source(const Object& spec) {
  SourceSpec src;
  Object o = spec.object("source");
  if (!o.present()) {
    if (!spec.has("source")) spec.errors().add(spec.path("source"), "is required");
    return src;
  }
  Errors& errs = o.errors();
  if (auto url = required_string(o, "url")) {
    if (std::string why = check_git_url(*url); !why.empty()) {
      errs.add(o.path("url"), why);
    } else {
      src.url = *url;
    }
  }

  std::vector<std::string> set;
  for (std::string_view key : {"branch", "tag", "commit"}) {
    if (!o.has(key)) continue;
    set.emplace_back(key);
    auto v = o.string(key);
    if (!v) continue;
    if (v->empty()) {
      errs.add(o.path(key), "must not be empty");
    } else if (key == "commit") {
      if (is_hex40(*v)) {
        src.commit = *v;
      } else {
        errs.add(o.path(key),
                 quote(*v) + " is not a full commit id (40 lowercase hexadecimal characters)");
      }
    } else if (std::string why = check_ref_name(*v); !why.empty()) {
      errs.add(o.path(key),
               quote(*v) + " is not a valid git " + std::string(key) + " name: " + why);
    } else {
      (key == "branch" ? src.branch : src.tag) = *v;
    }
  }
  if (set.empty()) {
    errs.add(o.path(), "set exactly one of branch, tag or commit: none is set");
  } else if (set.size() > 1) {
    errs.add(o.path(),
             "set exactly one of branch, tag or commit: " + join(set, " and ") + " are set");
  }

  src.secret_ref = object_ref(o, "secretRef", "Secret");
  src.interval = duration_at_least(o, "interval", kMinInterval).value_or(src.interval);

  Object verify = o.object("verify");
  src.verify.mode = read_enum<VerifyMode>(verify, "mode").value_or(VerifyMode::kNone);
  src.verify.signers_secret_ref = object_ref(verify, "signersSecretRef", "Secret");
  if (src.verify.mode == VerifyMode::kHead && !verify.has("signersSecretRef")) {
    errs.add(verify.path("signersSecretRef"),
             "is required when mode is head: name the Secret holding the trusted public keys");
  }
  return src;
}

std::vector<NotifySpec> read_notify(const Object& spec) {
  std::vector<NotifySpec> out;
  const json* a = spec.array("notify");
  if (a != nullptr && a->size() > kMaxNotify) {
    spec.errors().add(spec.path("notify"), std::to_string(a->size()) + " targets: at most " +
                                               std::to_string(kMaxNotify) + " are allowed");
    return out;
  }
  each_item_in(a, spec.path("notify"), spec.errors(), [&](std::size_t, const Object& n) {
    NotifySpec ns;
    if (auto url = required_string(n, "url")) {
      if (std::string why = check_http_url(*url); !why.empty()) {
        n.errors().add(n.path("url"), why);
      } else {
        ns.url = *url;
      }
    }
    ns.secret_ref = object_ref(n, "secretRef", "Secret");
    if (const json* events = n.array("events")) {
      std::string p = n.path("events");
      std::unordered_map<std::string, std::size_t> seen;
      for (std::size_t i = 0; i < events->size(); ++i) {
        const json& e = (*events)[i];
        std::string ep = item_path(p, i);
        if (!e.is_string()) {
          n.errors().add(ep, "must be a string, not " + detail::describe(e));
          continue;
        }
        const auto& name = e.get_ref<const std::string&>();
        NotifyEvent ev{};
        if (!detail::enum_parse(name, ev)) {
          n.errors().add(ep, detail::enum_error<NotifyEvent>(name));
        } else if (auto [it, fresh] = seen.emplace(name, i); !fresh) {
          n.errors().add(
              ep, "duplicate event " + quote(name) + " (also " + item_path(p, it->second) + ")");
        } else {
          ns.events.push_back(ev);
        }
      }
    }
    out.push_back(std::move(ns));
  });
  return out;
}

// ---- Pipeline steps ----

Step read_step(const Object& st) {
  Errors& errs = st.errors();
  Step step;
  if (auto name = required_string(st, "name")) {
    // Characters first: only then is the length in bytes a length in characters.
    if (!is_label_shaped(*name)) {
      errs.add(st.path("name"), quote(*name) +
                                    " is not a valid step name: use lowercase letters, digits "
                                    "and '-', starting and ending with a letter or digit");
    } else if (name->size() > kMaxStepNameLength) {
      errs.add(st.path("name"),
               quote(*name) + " is " + std::to_string(name->size()) + " characters long: at most " +
                   std::to_string(kMaxStepNameLength) + " (it is part of the step's Job name)");
    }
    step.name = *name;  // kept even when invalid, so `after` checks still resolve it
  }
  if (auto image = required_string(st, "image")) {
    if (has_space_or_control(*image)) {
      errs.add(st.path("image"), "must not contain spaces or control characters");
    } else {
      step.image = *image;
    }
  }

  step.script = nonempty_string(st, "script").value_or("");
  if (auto command = st.strings("command")) {
    if (command->empty()) errs.add(st.path("command"), "must not be empty (leave it out instead)");
    step.command = std::move(*command);
  }
  if (auto args = st.strings("args")) step.args = std::move(*args);
  bool has_script = st.has("script"), has_command = st.has("command"), has_args = st.has("args");
  if (has_script && has_command) {
    errs.add(st.path(), "set script or command, not both");
  } else if (!has_script && !has_command) {
    if (has_args) {
      errs.add(st.path("args"), "needs a command to pass them to (or use script)");
    } else {
      errs.add(st.path(), "set script (run with /bin/sh -c) or command");
    }
  }
  if (has_script && has_args) {
    errs.add(st.path("args"), "cannot be used with script: write the arguments in the script");
  }

  std::unordered_map<std::string, std::size_t> env_seen;
  each_item(st, "env", [&](std::size_t i, const Object& e) {
    EnvVar var;
    if (auto name = required_string(e, "name")) {
      if (!is_c_identifier(*name)) {
        errs.add(e.path("name"), quote(*name) +
                                     " is not a valid variable name: use letters, digits and '_', "
                                     "not starting with a digit");
      } else if (auto [it, fresh] = env_seen.emplace(*name, i); !fresh) {
        errs.add(e.path("name"), "duplicate variable " + quote(*name) + " (also " +
                                     item_path(st.path("env"), it->second) + ")");
      }
      var.name = *name;
    }
    var.value = e.string("value").value_or("");
    step.env.push_back(std::move(var));
  });

  step.timeout = duration_at_least(st, "timeout", kMinStepTimeout);
  step.retries = int_in_range(st, "retries", 0, 0, kMaxRetries);
  return step;
}

// Steps in dependency order (see topological_order) and the indices of the
// steps left over because they are on or after a cycle. deps[i] are indices.
std::pair<std::vector<std::size_t>, std::vector<bool>> kahn(
    const std::vector<std::vector<std::size_t>>& deps) {
  const std::size_t n = deps.size();
  std::vector<std::size_t> waiting(n, 0);
  std::vector<std::vector<std::size_t>> dependents(n);
  for (std::size_t i = 0; i < n; ++i) {
    waiting[i] = deps[i].size();
    for (std::size_t d : deps[i]) dependents[d].push_back(i);
  }
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) ready.push(i);
  }
  std::vector<std::size_t> order;
  std::vector<bool> left(n, true);
  while (!ready.empty()) {
    std::size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    left[i] = false;
    for (std::size_t d : dependents[i]) {
      if (--waiting[d] == 0) ready.push(d);
    }
  }
  return {std::move(order), std::move(left)};
}

// Distinct, known, non-self dependencies of each step, by index.
std::vector<std::vector<std::size_t>> dependency_indices(const std::vector<Step>& steps) {
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < steps.size(); ++i) index.emplace(steps[i].name, i);
  std::vector<std::vector<std::size_t>> deps(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const std::string& a : steps[i].after) {
      auto it = index.find(a);
      if (it == index.end() || it->second == i) continue;
      if (std::find(deps[i].begin(), deps[i].end(), it->second) == deps[i].end()) {
        deps[i].push_back(it->second);
      }
    }
  }
  return deps;
}

// Strongly connected components of the left-over steps (Tarjan). Recursion
// depth is bounded by the step count, which is at most kMaxSteps here.
class Components {
 public:
  Components(const std::vector<std::vector<std::size_t>>& deps, const std::vector<bool>& left)
      : deps_(deps),
        left_(left),
        index_(deps.size(), kNone),
        low_(deps.size(), 0),
        on_stack_(deps.size(), false),
        component_(deps.size(), kNone) {
    for (std::size_t v = 0; v < deps.size(); ++v) {
      if (left_[v] && index_[v] == kNone) visit(v);
    }
  }
  // Component id of each step (kNone for steps not left over).
  const std::vector<std::size_t>& component() const { return component_; }
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

 private:
  void visit(std::size_t v) {
    index_[v] = low_[v] = next_index_++;
    stack_.push_back(v);
    on_stack_[v] = true;
    for (std::size_t w : deps_[v]) {
      if (!left_[w]) continue;
      if (index_[w] == kNone) {
        visit(w);
        low_[v] = std::min(low_[v], low_[w]);
      } else if (on_stack_[w]) {
        low_[v] = std::min(low_[v], index_[w]);
      }
    }
    if (low_[v] != index_[v]) return;
    std::size_t w;
    do {
      w = stack_.back();
      stack_.pop_back();
      on_stack_[w] = false;
      component_[w] = next_component_;
    } while (w != v);
    ++next_component_;
  }

  const std::vector<std::vector<std::size_t>>& deps_;
  const std::vector<bool>& left_;
  std::vector<std::size_t> index_, low_;
  std::vector<bool> on_stack_;
  std::vector<std::size_t> component_;
  std::vector<std::size_t> stack_;
  std::size_t next_index_ = 0, next_component_ = 0;
};

// Reports one cycle per group of steps that wait on each other, as
// "a -> b -> a" (a runs after b, b after a), starting from its
// earliest-declared step; groups in declaration order.
void report_cycles(const std::vector<Step>& steps,
                   const std::vector<std::vector<std::size_t>>& deps, const std::vector<bool>& left,
                   const std::string& path, Errors& errs) {
  Components sccs(deps, left);
  const auto& comp = sccs.component();
  std::vector<bool> reported;
  for (std::size_t start = 0; start < steps.size(); ++start) {
    std::size_t c = comp[start];
    if (c == Components::kNone) continue;
    if (c >= reported.size()) reported.resize(c + 1, false);
    if (reported[c]) continue;
    // Self-dependencies are not in `deps`, so a group of one is no cycle.
    bool cyclic = std::any_of(deps[start].begin(), deps[start].end(),
                              [&](std::size_t d) { return comp[d] == c; });
    if (!cyclic) continue;
    reported[c] = true;
    // Inside a group every step waits on another of the group: walk until a
    // step repeats.
    std::vector<std::size_t> walk;
    std::vector<std::size_t> pos(steps.size(), Components::kNone);
    std::size_t cur = start;
    while (pos[cur] == Components::kNone) {
      pos[cur] = walk.size();
      walk.push_back(cur);
      cur = *std::find_if(deps[cur].begin(), deps[cur].end(),
                          [&](std::size_t d) { return comp[d] == c; });
    }
    std::vector<std::size_t> cycle(walk.begin() + static_cast<std::ptrdiff_t>(pos[cur]),
                                   walk.end());
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::string text;
    for (std::size_t i : cycle) text += steps[i].name + " -> ";
    text += steps[cycle.front()].name;
    errs.add(path,
             "cycle " + text + " (x -> y: x runs after y); remove one of these after entries");
  }
}

void check_after(const Object& spec, const json& steps_json, std::vector<Step>& steps) {
  Errors& errs = spec.errors();
  std::string steps_path = spec.path("steps");
  std::unordered_map<std::string_view, std::size_t> index;
  bool unique = true;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].name.empty()) continue;
    auto [it, fresh] = index.emplace(steps[i].name, i);
    if (!fresh) {
      unique = false;
      errs.add(item_path(steps_path, i) + ".name", "duplicate step " + quote(steps[i].name) +
                                                       " (also " +
                                                       item_path(steps_path, it->second) + ")");
    }
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!steps_json[i].is_object()) continue;
    Object st(&steps_json[i], item_path(steps_path, i), errs);
    const json* after = st.array("after");
    if (after == nullptr) continue;
    std::string p = st.path("after");
    std::unordered_map<std::string_view, std::size_t> seen;
    for (std::size_t j = 0; j < after->size(); ++j) {
      const json& a = (*after)[j];
      std::string ap = item_path(p, j);
      if (!a.is_string()) {
        errs.add(ap, "must be a string, not " + detail::describe(a));
        continue;
      }
      const auto& name = a.get_ref<const std::string&>();
      if (name == steps[i].name) {
        errs.add(ap, "a step cannot run after itself");
      } else if (!index.contains(name)) {
        errs.add(ap, "unknown step " + quote(name));
      } else if (auto [it, fresh] = seen.emplace(name, j); !fresh) {
        errs.add(ap, "duplicate " + quote(name) + " (also " + item_path(p, it->second) + ")");
      } else {
        steps[i].after.push_back(name);
      }
    }
  }
  if (!unique) return;  // the graph is ambiguous until names are fixed
  auto deps = dependency_indices(steps);
  auto [order, left] = kahn(deps);
  if (order.size() != steps.size()) report_cycles(steps, deps, left, steps_path, errs);
}

std::vector<Step> read_steps(const Object& spec) {
  std::vector<Step> steps;
  if (!spec.has("steps")) {
    spec.errors().add(spec.path("steps"), "is required: list at least one step");
    return steps;
  }
  const json* a = spec.array("steps");
  if (a == nullptr) return steps;
  // Refuse oversized input before any per-step work.
  if (a->size() > kMaxSteps) {
    spec.errors().add(spec.path("steps"), std::to_string(a->size()) + " steps: at most " +
                                              std::to_string(kMaxSteps) + " are allowed");
    return steps;
  }
  if (a->empty()) {
    spec.errors().add(spec.path("steps"), "must list at least one step");
    return steps;
  }
  // Non-objects keep their place (as an empty step) so indices stay those of the input.
  std::string p = spec.path("steps");
  for (std::size_t i = 0; i < a->size(); ++i) {
    const json& v = (*a)[i];
    Object st(&v, item_path(p, i), spec.errors());
    if (v.is_null()) spec.errors().add(st.path(), "must be an object, not null");
    steps.push_back(st.present() ? read_step(st) : Step{});
  }
  check_after(spec, *a, steps);
  return steps;
}

template <typename T>
std::expected<T, std::vector<FieldError>> done(T value, Errors& errs) {
  if (!errs.empty()) return std::unexpected(errs.take());
  return value;
}

// ---- Release pieces ----

// A repository path as a person writes it, normalized (no "." or empty
// segments, no trailing '/'; "" is the root); the error says what is wrong.
std::expected<std::string, std::string> normalize_repo_path(std::string_view p) {
  if (std::any_of(p.begin(), p.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f || c == '\\';
      })) {
    return std::unexpected(
        "must not contain control characters or '\\' (use '/' between directories)");
  }
  if (p.starts_with("/")) {
    return std::unexpected(quote(p) +
                           " must be relative to the repository root: remove the leading '/'");
  }
  std::string out;
  std::string_view rest = p;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      return std::unexpected(quote(p) + " must stay inside the repository: remove '..'");
    }
    if (!out.empty()) out += '/';
    out += seg;
  }
  return out;
}

std::string read_path(const Object& spec) {
  auto p = spec.string("path");
  if (!p) return "";
  auto normalized = normalize_repo_path(*p);
  if (!normalized) {
    spec.errors().add(spec.path("path"), normalized.error());
    return "";
  }
  return *normalized;
}

constexpr std::size_t kMaxValuesFiles = 20;
constexpr std::size_t kMaxValuesDepth = 100;  // as manifests' nesting (manifest::kMaxDepth)

// How deeply a JSON value nests objects and arrays, without recursion;
// stops counting past `limit`.
std::size_t nesting_depth(const json& v, std::size_t limit) {
  std::size_t deepest = 0;
  std::vector<std::pair<const json*, std::size_t>> todo{{&v, 1}};
  while (!todo.empty()) {
    auto [j, d] = todo.back();
    todo.pop_back();
    if (!j->is_structured()) continue;
    deepest = std::max(deepest, d);
    if (deepest > limit) return deepest;
    for (const json& child : *j) todo.emplace_back(&child, d + 1);
  }
  return deepest;
}
constexpr std::size_t kMaxHelmReleaseName = 53;  // Helm's limit

// spec.helm: values files (repository paths), values (an object), release name.
std::optional<HelmSpec> read_helm(const Object& spec) {
  Object o = spec.object("helm");
  if (!o.present()) return std::nullopt;
  Errors& errs = o.errors();
  HelmSpec h;
  const json* files = o.array("valuesFiles");
  if (files != nullptr && files->size() > kMaxValuesFiles) {
    errs.add(o.path("valuesFiles"), std::to_string(files->size()) + " entries: at most " +
                                        std::to_string(kMaxValuesFiles) + " are allowed");
  } else if (files != nullptr) {
    for (std::size_t i = 0; i < files->size(); ++i) {
      const json& f = (*files)[i];
      const std::string field = item_path(o.path("valuesFiles"), i);
      if (!f.is_string()) {
        errs.add(field, "must be a string, not " + detail::describe(f));
        continue;
      }
      const std::string p = f.get<std::string>();
      auto normalized = normalize_repo_path(p);
      if (!normalized || normalized->empty()) {
        errs.add(field, "must be a relative path inside the repository, without '..': " +
                            (normalized ? quote(p) + " names no file" : normalized.error()));
        continue;
      }
      h.values_files.push_back(*normalized);
    }
  }
  if (const json* v = o.get("values")) {
    if (!v->is_object()) {
      errs.add(o.path("values"),
               "must be an object (the chart's values), not " + detail::describe(*v));
    } else if (nesting_depth(*v, kMaxValuesDepth) > kMaxValuesDepth) {
      errs.add(o.path("values"), "nests objects and lists more than " +
                                     std::to_string(kMaxValuesDepth) + " levels deep");
    } else {
      h.values = *v;
    }
  }
  if (auto name = o.string("releaseName")) {
    if (name->empty()) {
      errs.add(o.path("releaseName"), "must not be empty (leave it out for the Release's name)");
    } else if (name->size() > kMaxHelmReleaseName || !is_dns1123_subdomain(*name)) {
      errs.add(o.path("releaseName"),
               quote(*name) +
                   " is not a valid Helm release name: lowercase letters, digits, '-' and '.', "
                   "starting and ending with a letter or digit, at most 53 characters");
    } else {
      h.release_name = *name;
    }
  }
  return h;
}

std::optional<AnalysisSpec> read_analysis(const Object& rollout) {
  Object o = rollout.object("analysis");
  if (!o.present()) return std::nullopt;
  AnalysisSpec a;
  if (auto url = required_string(o, "prometheus")) {
    if (std::string why = check_http_url(*url); !why.empty()) {
      o.errors().add(o.path("prometheus"), why);
    } else {
      a.prometheus = *url;
    }
  }
  a.query = required_string(o, "query").value_or("");
  if (!o.has("threshold")) {
    o.errors().add(o.path("threshold"), "is required: the largest acceptable query result");
  } else {
    a.threshold = o.number("threshold").value_or(0);
  }
  a.interval = duration_at_least(o, "interval", std::chrono::seconds(1)).value_or(a.interval);
  a.count = int_in_range(o, "count", a.count, 1, 100);
  return a;
}

}  // namespace

std::string check_git_url(std::string_view url) {
  if (url.empty()) return "must not be empty";
  if (has_space_or_control(url)) return "must not contain spaces or control characters";
  constexpr std::string_view kHint =
      "use an https://, http://, ssh://, git:// or file:// URL, or user@host:path";
  auto p = url.find("://");
  if (p != std::string_view::npos) {
    std::string scheme = lower(url.substr(0, p));
    if (scheme != "https" && scheme != "http" && scheme != "ssh" && scheme != "git" &&
        scheme != "file") {
      return "unsupported scheme " + quote(scheme) + ": " + std::string(kHint);
    }
    std::string_view rest = url.substr(p + 3);
    if (scheme == "file") {
      return rest.empty() ? "a file:// URL needs a path" : "";
    }
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    std::size_t at = authority.rfind('@');
    std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
    if (host.empty()) return "has no host: " + quote(url);
    if (at != std::string_view::npos &&
        authority.substr(0, at).find(':') != std::string_view::npos) {
      return "must not contain a password: put the credentials in the Secret named by secretRef";
    }
    return "";
  }
  // scp-like: user@host:path (the part before ':' has no '/').
  std::size_t colon = url.find(':');
  std::size_t at = url.find('@');
  if (colon != std::string_view::npos && at != std::string_view::npos && at > 0 && at + 1 < colon &&
      colon + 1 < url.size() && url.substr(0, colon).find('/') == std::string_view::npos) {
    return "";
  }
  return quote(url) + " is not a repository URL: " + std::string(kHint);
}

std::expected<PipelineSpec, std::vector<FieldError>> parse_pipeline_spec(const json& spec,
                                                                         std::string_view name) {
  Errors errs;
  if (name.size() > kMaxLabelValueLength) {
    errs.add("metadata.name", "is " + std::to_string(name.size()) +
                                  " characters long: at most 63, as it is the value of the " +
                                  std::string(kPipelineLabel) + " label on the Pipeline's Jobs");
  }
  if (spec.is_null()) {
    errs.add("spec", "is required");
    return std::unexpected(errs.take());
  }
  Object o(&spec, "spec", errs);
  if (!o.present()) return std::unexpected(errs.take());
  PipelineSpec out;
  out.source = read_source(o);
  out.steps = read_steps(o);
  out.concurrency = int_in_range(o, "concurrency", out.concurrency, 1, kMaxConcurrency);
  out.history_limit = int_in_range(o, "historyLimit", out.history_limit, 1, kMaxHistoryLimit);
  out.notify = read_notify(o);
  return done(std::move(out), errs);
}

std::expected<ReleaseSpec, std::vector<FieldError>> parse_release_spec(
    const json& spec, std::string_view release_name) {
  Errors errs;
  if (spec.is_null()) {
    errs.add("spec", "is required");
    return std::unexpected(errs.take());
  }
  Object o(&spec, "spec", errs);
  if (!o.present()) return std::unexpected(errs.take());
  ReleaseSpec out;
  out.source = read_source(o);
  out.path = read_path(o);
  out.cluster_scope = boolean_or(o, "clusterScope", out.cluster_scope);
  out.helm = read_helm(o);

  Object gate = o.object("gate");
  if (gate.present()) {
    Object ref = gate.object("pipelineRef");
    if (!gate.has("pipelineRef")) {
      errs.add(gate.path("pipelineRef"), "is required: name the Pipeline that gates this Release");
    } else if (ref.present()) {
      if (auto name = required_string(ref, "name")) {
        if (name->size() > kMaxLabelValueLength || !is_dns1123_subdomain(*name)) {
          errs.add(ref.path("name"), quote(*name) + " is not a valid Pipeline name");
        } else {
          out.gate = GateSpec{LocalObjectReference{*name}};
        }
      }
    }
  }

  Object rollout = o.object("rollout");
  out.rollout.progress_deadline =
      duration_at_least(rollout, "progressDeadline", std::chrono::seconds(1))
          .value_or(out.rollout.progress_deadline);
  out.rollout.auto_rollback = boolean_or(rollout, "autoRollback", out.rollout.auto_rollback);
  out.rollout.analysis = read_analysis(rollout);

  out.prune = boolean_or(o, "prune", out.prune);
  out.self_heal = boolean_or(o, "selfHeal", out.self_heal);
  out.suspend = boolean_or(o, "suspend", out.suspend);
  out.history_limit = int_in_range(o, "historyLimit", out.history_limit, 1, kMaxHistoryLimit);

  const json* deps = o.array("dependsOn");
  if (deps != nullptr && deps->size() > kMaxDependsOn) {
    errs.add(o.path("dependsOn"), std::to_string(deps->size()) + " entries: at most " +
                                      std::to_string(kMaxDependsOn) + " are allowed");
  } else {
    std::unordered_map<std::string, std::size_t> seen;
    each_item_in(deps, o.path("dependsOn"), errs, [&](std::size_t i, const Object& d) {
      auto name = required_string(d, "name");
      if (!name) return;
      if (!is_dns1123_subdomain(*name)) {
        errs.add(d.path("name"), quote(*name) + " is not a valid Release name");
      } else if (!release_name.empty() && *name == release_name) {
        errs.add(d.path("name"), "a Release cannot depend on itself");
      } else if (auto [it, fresh] = seen.emplace(*name, i); !fresh) {
        errs.add(d.path("name"), "duplicate dependency " + quote(*name) + " (also " +
                                     item_path(o.path("dependsOn"), it->second) + ")");
      } else {
        out.depends_on.push_back(LocalObjectReference{*name});
      }
    });
  }
  out.notify = read_notify(o);
  return done(std::move(out), errs);
}

std::vector<std::string> topological_order(const PipelineSpec& spec) {
  auto [order, left] = kahn(dependency_indices(spec.steps));
  std::vector<std::string> names;
  names.reserve(order.size());
  for (std::size_t i : order) names.push_back(spec.steps[i].name);
  return names;
}

}  // namespace cairn::api
