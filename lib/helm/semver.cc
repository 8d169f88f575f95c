// semver and semverCompare as sprig v3 has them (Masterminds/semver v3):
// loose versions ("v1.2", "1.2.3-rc.1+meta"), constraints with = != > <
// >= <= ~ ~> ^, wildcards (1.2.x, *), hyphen ranges ("1.2 - 1.4"), ","
// or space for AND, "||" for OR. A version with a pre-release only meets
// constraints that name a pre-release themselves (">=1.21-0"), as in v3.
#include <algorithm>
#include <regex>

#include "helm/functions.h"

namespace cairn::helm {
namespace {

struct Version {
  std::int64_t major = 0, minor = 0, patch = 0;
  std::string pre, meta, original;
};

std::optional<Version> parse_version(const std::string& s) {
  static const std::regex re(
      R"(^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return std::nullopt;
  Version v;
  v.original = s;
  try {
    v.major = std::stoll(m[1].str());
    if (m[2].matched) v.minor = std::stoll(m[2].str().substr(1));
    if (m[3].matched) v.patch = std::stoll(m[3].str().substr(1));
  } catch (...) {
    return std::nullopt;
  }
  v.pre = m[5].str();
  v.meta = m[8].str();
  return v;
}

int compare_pre(const std::string& a, const std::string& b) {
  if (a == b) return 0;
  if (a.empty()) return 1;
  if (b.empty()) return -1;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0, p;
    while ((p = s.find('.', start)) != std::string::npos) {
      out.push_back(s.substr(start, p - start));
      start = p + 1;
    }
    out.push_back(s.substr(start));
    return out;
  };
  auto pa = split(a), pb = split(b);
  auto numeric = [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  for (std::size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    if (i >= pa.size()) return -1;
    if (i >= pb.size()) return 1;
    const std::string &x = pa[i], &y = pb[i];
    if (x == y) continue;
    bool nx = numeric(x), ny = numeric(y);
    if (nx && ny) {
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
      return x < y ? -1 : 1;
    }
    if (nx) return -1;
    if (ny) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

int compare(const Version& a, const Version& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  return compare_pre(a.pre, b.pre);
}

struct Constraint {
  std::string op;
  Version v;
  int wild = 3;  // how many of major/minor/patch were given (before an x)
};

std::expected<Constraint, std::string> parse_constraint(const std::string& text) {
  static const std::regex re(
      R"(^\s*(!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*v?(x|X|\*|[0-9]+)(\.(x|X|\*|[0-9]+))?(\.(x|X|\*|[0-9]+))?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return std::unexpected("improper constraint: " + text);
  Constraint c;
  c.op = m[1].str();
  if (c.op == "=>") c.op = ">=";
  if (c.op == "=<") c.op = "<=";
  if (c.op == "~>") c.op = "~";
  auto wild = [](const std::string& s) { return s == "x" || s == "X" || s == "*"; };
  std::string parts[3] = {m[2].str(), m[4].str(), m[6].str()};
  c.wild = 3;
  for (int i = 0; i < 3; ++i) {
    if (parts[i].empty() || wild(parts[i])) {
      c.wild = i;
      break;
    }
  }
  std::int64_t* fields[3] = {&c.v.major, &c.v.minor, &c.v.patch};
  for (int i = 0; i < c.wild; ++i) *fields[i] = std::stoll(parts[i]);
  c.v.pre = m[8].str();
  c.v.original = text;
  return c;
}

bool check(const Constraint& c, const Version& v) {
  // A pre-release version only meets a constraint naming a pre-release.
  if (!v.pre.empty() && c.v.pre.empty()) return false;
  Version lo = c.v;
  auto bump = [&](int level) {
    Version hi = lo;
    hi.pre.clear();
    if (level == 0)
      hi.major++, hi.minor = 0, hi.patch = 0;
    else if (level == 1)
      hi.minor++, hi.patch = 0;
    else
      hi.patch++;
    return hi;
  };
  int cmp = compare(v, lo);
  const std::string& op = c.op;
  if (op.empty() || op == "=") {
    if (c.wild == 3) return cmp == 0;
    if (c.wild == 0) return true;
    return cmp >= 0 && compare(v, bump(c.wild - 1)) < 0;
  }
  if (op == "!=") {
    if (c.wild == 3) return cmp != 0;
    if (c.wild == 0) return false;
    return !(cmp >= 0 && compare(v, bump(c.wild - 1)) < 0);
  }
  if (op == ">") {
    if (c.wild == 3) return cmp > 0;
    if (c.wild == 0) return false;
    return compare(v, bump(c.wild - 1)) >= 0;
  }
  if (op == ">=") return cmp >= 0;
  if (op == "<") return cmp < 0;
  if (op == "<=") {
    if (c.wild == 3 || c.wild == 0) return c.wild == 0 || cmp <= 0;
    return compare(v, bump(c.wild - 1)) < 0;
  }
  if (op == "~") {
    if (cmp < 0) return false;
    if (c.wild == 0) return true;
    return compare(v, bump(c.wild == 1 ? 0 : 1)) < 0;
  }
  if (op == "^") {
    if (cmp < 0) return false;
    if (c.wild == 0) return true;
    if (lo.major > 0 || c.wild == 1) return compare(v, bump(0)) < 0;
    if (lo.minor > 0 || c.wild == 2) return compare(v, bump(1)) < 0;
    return compare(v, bump(2)) < 0;
  }
  return false;
}

class SemverObject final : public Object {
 public:
  explicit SemverObject(Version v) : v_(std::move(v)) {}
  std::string type_name() const override { return "*semver.Version"; }
  std::optional<Value> field(const std::string& name) const override {
    if (name == "Major") return Value(static_cast<std::int64_t>(v_.major));
    if (name == "Minor") return Value(static_cast<std::int64_t>(v_.minor));
    if (name == "Patch") return Value(static_cast<std::int64_t>(v_.patch));
    if (name == "Prerelease") return Value(v_.pre);
    if (name == "Metadata") return Value(v_.meta);
    if (name == "Original") return Value(v_.original);
    if (name == "String") {
      Version v = v_;
      return Value(
          Method{"String", [v](const std::vector<Value>&) -> std::expected<Value, std::string> {
                   return Value(canonical(v));
                 }});
    }
    return std::nullopt;
  }
  std::optional<std::string> to_string() const override { return canonical(v_); }

 private:
  static std::string canonical(const Version& v) {
    std::string s =
        std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
    if (!v.pre.empty()) s += "-" + v.pre;
    if (!v.meta.empty()) s += "+" + v.meta;
    return s;
  }
  Version v_;
};

std::vector<std::string> split_or(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0, p;
  while ((p = s.find("||", start)) != std::string::npos) {
    out.push_back(s.substr(start, p - start));
    start = p + 2;
  }
  out.push_back(s.substr(start));
  return out;
}

// One AND group: "a, b", "a b" or "a - b".
std::expected<std::vector<Constraint>, std::string> parse_group(const std::string& g) {
  std::vector<Constraint> out;
  static const std::regex hyphen(R"(^\s*(\S+)\s+-\s+(\S+)\s*$)");
  std::smatch m;
  if (std::regex_match(g, m, hyphen)) {
    auto lo = parse_constraint(">=" + m[1].str());
    auto hi = parse_constraint("<=" + m[2].str());
    if (!lo || !hi) return std::unexpected("improper constraint: " + g);
    return std::vector<Constraint>{*lo, *hi};
  }
  // Operators may be separated from versions by spaces (">= 1.2").
  static const std::regex item(R"((!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*[^\s,]+)");
  bool any = false;
  for (auto it = std::sregex_iterator(g.begin(), g.end(), item); it != std::sregex_iterator();
       ++it) {
    auto c = parse_constraint(it->str(0));
    if (!c) return std::unexpected("improper constraint: " + g);
    out.push_back(*c);
    any = true;
  }
  if (!any) return std::unexpected("improper constraint: " + g);
  return out;
}

}  // namespace

std::expected<bool, std::string> semver_check(const std::string& constraint,
                                              const std::string& version) {
  std::vector<std::vector<Constraint>> groups;
  for (const auto& g : split_or(constraint)) {
    auto cs = parse_group(g);
    if (!cs) return std::unexpected(cs.error());
    groups.push_back(*cs);
  }
  auto v = parse_version(version);
  if (!v) return std::unexpected("Invalid Semantic Version");
  for (const auto& g : groups)
    if (std::all_of(g.begin(), g.end(), [&](const Constraint& c) { return check(c, *v); }))
      return true;
  return false;
}

void add_semver_funcs(FuncMap& m) {
  m["semverCompare"] =
      FuncSpec{[](FuncContext&, std::vector<Value>& a) -> std::expected<Value, std::string> {
                 auto r = semver_check(a[0].as_string(), a[1].as_string());
                 if (!r) return std::unexpected(r.error());
                 return Value(*r);
               },
               {Param::kString, Param::kString}};
  m["semver"] =
      FuncSpec{[](FuncContext&, std::vector<Value>& a) -> std::expected<Value, std::string> {
                 auto v = parse_version(a[0].as_string());
                 if (!v) return std::unexpected("Invalid Semantic Version");
                 return Value(std::shared_ptr<const Object>(std::make_shared<SemverObject>(*v)));
               },
               {Param::kString}};
}

}  // namespace cairn::helm
