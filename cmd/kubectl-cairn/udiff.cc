#include "udiff.h"

#include <algorithm>
#include <cstddef>

namespace cairn::cli {

namespace {

// Myers' greedy forward search, keeping for each d the furthest x reached on
// diagonals -d-1..d+1 so that the path can be walked back. Memory O(D²).
std::vector<Edit> myers(const std::vector<std::string>& a, std::size_t a0, std::size_t a1,
                        const std::vector<std::string>& b, std::size_t b0, std::size_t b1,
                        int max_edits, bool* gave_up) {
  const int n = static_cast<int>(a1 - a0), m = static_cast<int>(b1 - b0);
  const int max = n + m;
  const int off = max + 1;
  std::vector<int> v(2 * max + 3, 0);
  std::vector<std::vector<int>> trace;  // trace[d][k + d + 1]: v before step d
  int found = -1;
  for (int d = 0; d <= max && found < 0; ++d) {
    if (d > max_edits) {
      *gave_up = true;
      return {};
    }
    trace.emplace_back(v.begin() + off - d - 1, v.begin() + off + d + 2);
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
                                                                       : v[off + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[a0 + x] == b[b0 + y]) ++x, ++y;
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  std::vector<Edit> out;
  int x = n, y = m;
  for (int d = found; d >= 0; --d) {
    const std::vector<int>& pv = trace[d];
    auto at = [&](int k) { return pv[k + d + 1]; };
    const int k = x - y;
    const int prev_k = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    const int prev_x = d == 0 ? 0 : at(prev_k);
    const int prev_y = d == 0 ? 0 : prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      out.push_back({EditOp::kEqual, a[a0 + x - 1]});
      --x, --y;
    }
    if (d > 0) {
      if (x == prev_x) {
        out.push_back({EditOp::kInsert, b[b0 + prev_y]});
      } else {
        out.push_back({EditOp::kDelete, a[a0 + prev_x]});
      }
    }
    x = prev_x, y = prev_y;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string range(std::size_t start, std::size_t len) {
  // GNU diff: an empty range names the line before it; a single line has no length.
  if (len == 0) return std::to_string(start == 0 ? 0 : start - 1) + ",0";
  if (len == 1) return std::to_string(start);
  return std::to_string(start) + "," + std::to_string(len);
}

}  // namespace

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::vector<Edit> diff_lines(const std::vector<std::string>& a, const std::vector<std::string>& b,
                             int max_edits) {
  // The common prefix and suffix need no search; objects usually differ in a few lines.
  std::size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) {
    ++suf;
  }
  std::vector<Edit> out;
  for (std::size_t i = 0; i < pre; ++i) out.push_back({EditOp::kEqual, a[i]});
  bool gave_up = false;
  auto mid = myers(a, pre, a.size() - suf, b, pre, b.size() - suf, max_edits, &gave_up);
  if (gave_up) {
    for (std::size_t i = pre; i < a.size() - suf; ++i) out.push_back({EditOp::kDelete, a[i]});
    for (std::size_t i = pre; i < b.size() - suf; ++i) out.push_back({EditOp::kInsert, b[i]});
  } else {
    out.insert(out.end(), mid.begin(), mid.end());
  }
  for (std::size_t i = a.size() - suf; i < a.size(); ++i) out.push_back({EditOp::kEqual, a[i]});
  return out;
}

std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_label,
                         std::string_view b_label, int context) {
  const std::vector<Edit> edits = diff_lines(split_lines(a), split_lines(b));
  const std::size_t ctx = static_cast<std::size_t>(std::max(context, 0));
  std::vector<std::size_t> changes;
  for (std::size_t i = 0; i < edits.size(); ++i) {
    if (edits[i].op != EditOp::kEqual) changes.push_back(i);
  }
  if (changes.empty()) return "";

  // Line numbers (1-based) in a and b before each edit.
  std::vector<std::size_t> a_line(edits.size() + 1), b_line(edits.size() + 1);
  a_line[0] = b_line[0] = 1;
  for (std::size_t i = 0; i < edits.size(); ++i) {
    a_line[i + 1] = a_line[i] + (edits[i].op != EditOp::kInsert ? 1 : 0);
    b_line[i + 1] = b_line[i] + (edits[i].op != EditOp::kDelete ? 1 : 0);
  }

  std::string out = "--- " + std::string(a_label) + "\n+++ " + std::string(b_label) + "\n";
  std::size_t c = 0;
  while (c < changes.size()) {
    // A hunk runs while the next change is within 2·context equal lines.
    std::size_t last = c;
    while (last + 1 < changes.size() && changes[last + 1] - changes[last] <= 2 * ctx + 1) ++last;
    const std::size_t begin = changes[c] > ctx ? changes[c] - ctx : 0;
    const std::size_t end = std::min(edits.size(), changes[last] + ctx + 1);
    const std::size_t a_len = a_line[end] - a_line[begin], b_len = b_line[end] - b_line[begin];
    out += "@@ -" + range(a_line[begin], a_len) + " +" + range(b_line[begin], b_len) + " @@\n";
    for (std::size_t i = begin; i < end; ++i) {
      out += edits[i].op == EditOp::kEqual ? ' ' : edits[i].op == EditOp::kDelete ? '-' : '+';
      out += edits[i].line;
      out += '\n';
    }
    c = last + 1;
  }
  return out;
}

std::string colorize_diff(std::string_view diff) {
  std::string out;
  for (const std::string& line : split_lines(diff)) {
    const char* color = nullptr;
    if (line.rfind("--- ", 0) == 0 || line.rfind("+++ ", 0) == 0) {
      color = "\033[1m";
    } else if (line.rfind("@@", 0) == 0) {
      color = "\033[36m";
    } else if (!line.empty() && line[0] == '-') {
      color = "\033[31m";
    } else if (!line.empty() && line[0] == '+') {
      color = "\033[32m";
    }
    if (color) {
      out += color + line + "\033[0m\n";
    } else {
      out += line + "\n";
    }
  }
  return out;
}

}  // namespace cairn::cli
