#include "manifest/diff.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace cairn::manifest {

using json = cairn::json;

namespace {

bool is_index(std::string_view seg) { return seg.size() >= 2 && seg.front() == '['; }

bool plain_key(std::string_view k) {
  if (k.empty()) return false;
  for (unsigned char c : k)
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  return true;
}

struct Differ {
  std::size_t max;
  std::vector<Change> out;
  std::vector<std::string> path;

  bool full() const { return out.size() >= max; }

  void add(Change::What what) {
    if (!full()) out.push_back({path, what});
  }

  // A value that appeared or disappeared as a whole: a mapping is reported
  // key by key, anything else (scalars, lists) at its own path.
  void whole(const json& v, Change::What what) {
    if (v.is_object() && !v.empty()) {
      for (const auto& [k, child] : v.items()) {
        if (full()) return;
        path.push_back(k);
        whole(child, what);
        path.pop_back();
      }
      return;
    }
    add(what);
  }

  static bool equal_scalars(const json& a, const json& b) {
    if (a.is_number() && b.is_number()) {
      if (a.is_number_float() || b.is_number_float()) return a.get<double>() == b.get<double>();
      if (a.is_number_unsigned() && b.is_number_unsigned())
        return a.get<std::uint64_t>() == b.get<std::uint64_t>();
      if (a.is_number_unsigned() || b.is_number_unsigned()) {
        // One is negative-capable: equal only when both fit int64 and agree.
        const json& u = a.is_number_unsigned() ? a : b;
        const json& s = a.is_number_unsigned() ? b : a;
        if (u.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) return false;
        return static_cast<std::int64_t>(u.get<std::uint64_t>()) == s.get<std::int64_t>();
      }
      return a.get<std::int64_t>() == b.get<std::int64_t>();
    }
    return a == b;
  }

  void value(const json& a, const json& b) {
    if (full()) return;
    if (a.is_object() && b.is_object()) return mapping(a, b);
    if (a.is_array() && b.is_array()) {
      if (a.size() != b.size()) return add(Change::What::kChanged);
      for (std::size_t i = 0; i < a.size() && !full(); ++i) {
        path.push_back("[" + std::to_string(i) + "]");
        value(a[i], b[i]);
        path.pop_back();
      }
      return;
    }
    if (!equal_scalars(a, b)) add(Change::What::kChanged);
  }

  bool ignored(const std::string& key) const {
    if (path.empty()) return key == "status";
    if (path.size() == 1 && path[0] == "metadata")
      return key == "resourceVersion" || key == "managedFields" || key == "generation";
    return false;
  }

  void mapping(const json& a, const json& b) {
    auto ia = a.begin();
    auto ib = b.begin();
    // Both maps are ordered by key: one merge pass.
    while ((ia != a.end() || ib != b.end()) && !full()) {
      int cmp = ia == a.end() ? 1 : ib == b.end() ? -1 : ia.key().compare(ib.key());
      const std::string& key = cmp <= 0 ? ia.key() : ib.key();
      if (!ignored(key)) {
        path.push_back(key);
        if (cmp < 0) {
          whole(*ia, Change::What::kRemoved);
        } else if (cmp > 0) {
          whole(*ib, Change::What::kAdded);
        } else {
          value(*ia, *ib);
        }
        path.pop_back();
      }
      if (cmp <= 0) ++ia;
      if (cmp >= 0) ++ib;
    }
  }
};

// Whether pattern[pi..] matches path[si..] or a prefix of it.
bool covers_from(const std::vector<std::string>& pat, std::size_t pi,
                 const std::vector<std::string>& path, std::size_t si) {
  if (pi == pat.size()) return true;
  if (pat[pi] == "**") return true;
  if (si == path.size()) return false;
  const std::string& p = pat[pi];
  const std::string& s = path[si];
  if (is_index(s)) {
    if (p == "*" || p == "[*]" || p == s) return covers_from(pat, pi + 1, path, si + 1);
    // A key pattern over a list element: the index is not written.
    return covers_from(pat, pi, path, si + 1);
  }
  if (p == "*" || p == s) return covers_from(pat, pi + 1, path, si + 1);
  return false;
}

}  // namespace

std::string path_to_string(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& seg : path) {
    if (is_index(seg)) {
      out += seg;
    } else if (plain_key(seg)) {
      if (!out.empty()) out += '.';
      out += seg;
    } else {
      out += "[\"";
      for (unsigned char c : seg) out += (c < 0x20 || c == 0x7f || c == '"') ? '?' : char(c);
      out += "\"]";
    }
  }
  return out;
}

std::string Change::to_string() const { return path_to_string(path); }

std::string_view Change::verb() const {
  switch (what) {
    case What::kAdded:
      return "was added";
    case What::kRemoved:
      return "was removed";
    case What::kChanged:
      break;
  }
  return "was changed";
}

std::vector<Change> diff(const json& before, const json& after, std::size_t max) {
  Differ d{.max = max == 0 ? 1 : max, .out = {}, .path = {}};
  d.value(before, after);
  return std::move(d.out);
}

PathPattern PathPattern::parse(std::string_view text) {
  PathPattern p;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) p.segments.push_back(std::move(cur));
    cur.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      flush();
    } else if (c == '[') {
      flush();
      std::size_t end = text.find(']', i);
      if (end == std::string_view::npos) end = text.size();
      std::string inner(text.substr(i + 1, end - i - 1));
      if (inner.size() >= 2 && inner.front() == '"' && inner.back() == '"')
        inner = inner.substr(1, inner.size() - 2);
      bool index = inner == "*" ||
                   (!inner.empty() && std::all_of(inner.begin(), inner.end(), [](unsigned char ch) {
                     return std::isdigit(ch) != 0;
                   }));
      p.segments.push_back(index ? "[" + inner + "]" : inner);
      i = end;
    } else {
      cur += c;
    }
  }
  flush();
  return p;
}

bool PathPattern::covers(const std::vector<std::string>& path) const {
  return covers_from(segments, 0, path, 0);
}

std::string PathPattern::to_string() const { return path_to_string(segments); }

}  // namespace cairn::manifest
