// What an UPDATE changed: the paths at which `after` differs from `before`.
// The webhook admits a change by anyone but Cairn's operator only when every
// changed path is one that identity may change (shared/design.md, admission
// rule 3), so this must see every change, including a field added that git
// never set.
//
// - mappings are compared key by key: a key added, removed or whose value
//   changed is a change at that key (recursing into mappings and lists); a
//   mapping added or removed as a whole is reported key by key down to its
//   scalars and lists, so that an allowed key inside it (an annotation
//   added to an object that had none) is seen as itself;
// - lists of the same length are compared element by element; a list whose
//   length changed is one change at the list itself (the elements cannot be
//   paired reliably; the message names the list);
// - values of different types, and scalars that differ, are a change;
// - numbers compare by value (1 and 1.0 are equal);
// - what the apiserver or the status subresource writes is not a change:
//   metadata.resourceVersion, metadata.managedFields, metadata.generation and
//   the top-level status.
//
// Paths are segments ("spec", "template", ..., "[0]", ...): a key, or a list
// index written "[i]". Values never appear: a Secret's data must not reach
// a denial or a log.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.h"

namespace cairn::manifest {

struct Change {
  enum class What { kAdded, kRemoved, kChanged };
  std::vector<std::string> path;
  What what = What::kChanged;
  // "spec.template.spec.containers[0].env",
  // `metadata.annotations["cairn.dev/break-glass"]` (keys that are not plain
  // identifiers are quoted).
  std::string to_string() const;
  // "was added", "was removed", "was changed".
  std::string_view verb() const;
};

// At most `max` changes, in key order (the rest are not looked for).
std::vector<Change> diff(const cairn::json& before, const cairn::json& after, std::size_t max = 64);

// A path pattern: segments where "*" matches any one segment (a key or an
// index) and a final "**" matches any rest (including none). Written as
// dotted text with keys holding dots or slashes in brackets:
// "metadata.annotations[cairn.dev/rollback-to]", "spec.template.**",
// "secrets", "metadata.finalizers". An index in brackets is "[*]" or "[3]".
struct PathPattern {
  std::vector<std::string> segments;
  static PathPattern parse(std::string_view text);
  // Whether a change at `path` is covered: the pattern matches `path` or a
  // prefix of it (an allowed field covers everything under it). Index
  // segments of `path` are skipped where the pattern has a key instead, so
  // "spec.containers.image" covers spec.containers[0].image (the
  // --ignore-fields spelling, which writes no indexes).
  bool covers(const std::vector<std::string>& path) const;
  std::string to_string() const;
};

// The path as text (Change::to_string's spelling).
std::string path_to_string(const std::vector<std::string>& path);

}  // namespace cairn::manifest
