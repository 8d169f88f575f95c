// Unified diffs of two texts, line by line (`diff -u`): Myers' O((N+M)·D)
// shortest edit script, hunks with `context` lines around each change, and
// hunk headers in GNU diff's form. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::cli {

enum class EditOp { kEqual, kDelete, kInsert };

struct Edit {
  EditOp op;
  std::string line;  // without its newline
};

// The lines of a text; a final newline does not start another line.
std::vector<std::string> split_lines(std::string_view text);

// A shortest edit script turning `a` into `b`. Past `max_edits` differences
// the middle (after the common prefix and suffix) is shown as deleted and
// then inserted, which keeps time and memory bounded on unrelated texts.
std::vector<Edit> diff_lines(const std::vector<std::string>& a, const std::vector<std::string>& b,
                             int max_edits = 4000);

// "--- a_label\n+++ b_label\n@@ -1,3 +1,4 @@\n ..." with `context` lines of
// context; empty when the texts are equal. A side that is empty (a new or a
// deleted object) is diffed as an empty file (@@ -0,0 +1,N @@).
std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_label,
                         std::string_view b_label, int context = 3);

// ANSI colours for a unified diff: removed lines red, added lines green,
// hunk headers cyan, file headers bold.
std::string colorize_diff(std::string_view diff);

}  // namespace cairn::cli
