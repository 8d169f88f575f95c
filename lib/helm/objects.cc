#include "helm/objects.h"

#include <regex>

#include "helm/functions.h"
#include "helm/yaml.h"

namespace cairn::helm {
namespace {

using R = std::expected<Value, std::string>;

bool match_here(const std::string& p, std::size_t pi, const std::string& s, std::size_t si,
                bool star_crosses, int depth) {
  if (depth > 10000) return false;
  while (pi < p.size()) {
    char c = p[pi];
    if (c == '*') {
      bool dbl = pi + 1 < p.size() && p[pi + 1] == '*';
      std::size_t next = pi + (dbl ? 2 : 1);
      for (std::size_t k = si; k <= s.size(); ++k) {
        if (match_here(p, next, s, k, star_crosses, depth + 1)) return true;
        if (k < s.size() && s[k] == '/' && !dbl && !star_crosses) return false;
      }
      return false;
    }
    if (si >= s.size()) return false;
    if (c == '?') {
      if (s[si] == '/' && !star_crosses) return false;
      ++pi, ++si;
      continue;
    }
    if (c == '[') {
      std::size_t end = p.find(']', pi + 1);
      if (end == std::string::npos) return false;
      std::string set = p.substr(pi + 1, end - pi - 1);
      bool neg = !set.empty() && (set[0] == '!' || set[0] == '^');
      if (neg) set.erase(0, 1);
      bool in = false;
      for (std::size_t k = 0; k < set.size(); ++k) {
        if (k + 2 < set.size() && set[k + 1] == '-') {
          in |= s[si] >= set[k] && s[si] <= set[k + 2];
          k += 2;
        } else {
          in |= s[si] == set[k];
        }
      }
      if (in == neg) return false;
      pi = end + 1, ++si;
      continue;
    }
    if (c == '{') {
      std::size_t end = p.find('}', pi);
      if (end == std::string::npos) return false;
      std::string alts = p.substr(pi + 1, end - pi - 1);
      std::size_t st = 0;
      while (true) {
        std::size_t comma = alts.find(',', st);
        std::string alt =
            alts.substr(st, comma == std::string::npos ? std::string::npos : comma - st);
        if (match_here(alt + p.substr(end + 1), 0, s, si, star_crosses, depth + 1)) return true;
        if (comma == std::string::npos) return false;
        st = comma + 1;
      }
    }
    if (c == '\\' && pi + 1 < p.size()) ++pi, c = p[pi];
    if (s[si] != c) return false;
    ++pi, ++si;
  }
  return si == s.size();
}

class Files final : public Object {
 public:
  explicit Files(std::map<std::string, std::string> f) : files_(std::move(f)) {}
  std::string type_name() const override { return "chartutil.Files"; }
  std::optional<std::string> to_string() const override { return go_sprint(as_map()); }
  std::optional<Value> range_value() const override { return as_map(); }

  std::optional<Value> field(const std::string& name) const override {
    auto self = files_;
    if (name == "Get" || name == "GetBytes") {
      return Value(Method{name, [self](const std::vector<Value>& a) -> R {
                            if (a.size() != 1 || !a[0].is_string())
                              return std::unexpected("wrong number of args for Get: want 1 got " +
                                                     std::to_string(a.size()));
                            auto it = self.find(a[0].as_string());
                            return Value(it == self.end() ? std::string() : it->second);
                          }});
    }
    if (name == "Glob") {
      return Value(Method{name, [self](const std::vector<Value>& a) -> R {
                            if (a.size() != 1 || !a[0].is_string())
                              return std::unexpected("Glob takes one pattern");
                            std::map<std::string, std::string> out;
                            for (const auto& [k, v] : self)
                              if (glob_match(a[0].as_string(), k, false)) out[k] = v;
                            return make_files(std::move(out));
                          }});
    }
    if (name == "AsConfig" || name == "AsSecrets") {
      bool secrets = name == "AsSecrets";
      return Value(Method{name, [self, secrets](const std::vector<Value>&) -> R {
                            if (self.empty()) return Value("");
                            Map m;
                            for (const auto& [k, v] : self) {
                              std::string base = k.substr(k.rfind('/') + 1);
                              m[base] = secrets ? b64(v) : Value(v);
                            }
                            std::string y = to_yaml(Value(std::move(m)));
                            if (!y.empty() && y.back() == '\n') y.pop_back();
                            return Value(y);
                          }});
    }
    if (name == "Lines") {
      return Value(Method{name, [self](const std::vector<Value>& a) -> R {
                            if (a.size() != 1 || !a[0].is_string())
                              return std::unexpected("Lines takes one path");
                            auto it = self.find(a[0].as_string());
                            List out;
                            if (it == self.end() || it->second.empty()) return Value(out);
                            std::string s = it->second;
                            if (s.back() == '\n') s.pop_back();
                            std::size_t st = 0;
                            while (true) {
                              std::size_t p = s.find('\n', st);
                              out.emplace_back(s.substr(
                                  st, p == std::string::npos ? std::string::npos : p - st));
                              if (p == std::string::npos) break;
                              st = p + 1;
                            }
                            return Value(std::move(out));
                          }});
    }
    return std::nullopt;
  }

 private:
  static Value b64(const std::string& s) {
    FuncMap f = sprig_funcs();
    FuncContext ctx{nullptr};
    std::vector<Value> a{Value(s)};
    auto r = f.at("b64enc").fn(ctx, a);
    return r ? *r : Value("");
  }
  Value as_map() const {
    Map m;
    for (const auto& [k, v] : files_) m[k] = Value(v);
    return Value(std::move(m));
  }
  std::map<std::string, std::string> files_;
};

class KubeVersion final : public Object {
 public:
  KubeVersion(std::string v, std::string major, std::string minor)
      : v_(std::move(v)), major_(std::move(major)), minor_(std::move(minor)) {}
  std::string type_name() const override { return "*chartutil.KubeVersion"; }
  std::optional<std::string> to_string() const override { return v_; }
  std::optional<Value> field(const std::string& name) const override {
    if (name == "Version" || name == "GitVersion") return Value(v_);
    if (name == "Major") return Value(major_);
    if (name == "Minor") return Value(minor_);
    if (name == "String") {
      std::string v = v_;
      return Value(Method{name, [v](const std::vector<Value>&) -> R { return Value(v); }});
    }
    return std::nullopt;
  }

 private:
  std::string v_, major_, minor_;
};

class VersionSet final : public Object {
 public:
  explicit VersionSet(std::vector<std::string> v) : v_(std::move(v)) {}
  std::string type_name() const override { return "chartutil.VersionSet"; }
  std::optional<std::string> to_string() const override {
    std::string out = "[";
    for (std::size_t i = 0; i < v_.size(); ++i) out += (i ? " " : "") + v_[i];
    return out + "]";
  }
  std::optional<Value> field(const std::string& name) const override {
    if (name != "Has") return std::nullopt;
    auto v = v_;
    return Value(Method{name, [v](const std::vector<Value>& a) -> R {
                          if (a.size() != 1 || !a[0].is_string())
                            return std::unexpected("Has takes one apiVersion");
                          return Value(std::find(v.begin(), v.end(), a[0].as_string()) != v.end());
                        }});
  }

 private:
  std::vector<std::string> v_;
};

const std::vector<std::string>& default_api_versions() {
  static const std::vector<std::string> v = {"v1",
                                             "admissionregistration.k8s.io/v1",
                                             "apiextensions.k8s.io/v1",
                                             "apiregistration.k8s.io/v1",
                                             "apps/v1",
                                             "authentication.k8s.io/v1",
                                             "authorization.k8s.io/v1",
                                             "autoscaling/v1",
                                             "autoscaling/v2",
                                             "batch/v1",
                                             "certificates.k8s.io/v1",
                                             "coordination.k8s.io/v1",
                                             "discovery.k8s.io/v1",
                                             "events.k8s.io/v1",
                                             "flowcontrol.apiserver.k8s.io/v1beta3",
                                             "networking.k8s.io/v1",
                                             "node.k8s.io/v1",
                                             "policy/v1",
                                             "rbac.authorization.k8s.io/v1",
                                             "scheduling.k8s.io/v1",
                                             "storage.k8s.io/v1"};
  return v;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& name, bool star_crosses) {
  return match_here(pattern, 0, name, 0, star_crosses, 0);
}

Value make_files(std::map<std::string, std::string> files) {
  return Value(std::shared_ptr<const Object>(std::make_shared<Files>(std::move(files))));
}

std::expected<Value, std::string> make_capabilities(const std::string& kube_version,
                                                    const std::vector<std::string>& api_versions) {
  static const std::regex re(R"(^v?(\d+)\.(\d+)\.(\d+)(.*)$)");
  std::smatch m;
  if (!std::regex_match(kube_version, m, re))
    return std::unexpected("kube version \"" + kube_version + "\" is not vMAJOR.MINOR.PATCH");
  std::string v = "v" + m[1].str() + "." + m[2].str() + "." + m[3].str() + m[4].str();
  Map caps;
  caps["KubeVersion"] = Value(
      std::shared_ptr<const Object>(std::make_shared<KubeVersion>(v, m[1].str(), m[2].str())));
  caps["APIVersions"] = Value(std::shared_ptr<const Object>(
      std::make_shared<VersionSet>(api_versions.empty() ? default_api_versions() : api_versions)));
  caps["HelmVersion"] = Value(Map{{"Version", Value("v3.14.0")},
                                  {"GitCommit", Value("")},
                                  {"GitTreeState", Value("clean")},
                                  {"GoVersion", Value("go1.21")}});
  return Value(std::move(caps));
}

}  // namespace cairn::helm
