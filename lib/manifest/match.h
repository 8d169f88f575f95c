// Whether a live object is what git says: every field that the manifest
// sets has the same value in the object. Fields the manifest leaves out may
// hold anything (server-side defaults, status, fields other controllers own),
// so this is a subset match, with these rules:
// - mappings: each key of the manifest must be in the object with a matching
//   value; a manifest's null, {} or [] also matches an absent key (the
//   apiserver drops empty optional fields);
// - lists: the same length, element by element in order (a container, port
//   or env var added by hand is a difference, not a superset);
// - numbers compare by value (1 and 1.0 are equal); under resource maps
//   (limits, requests, hard, capacity, overhead) strings compare as Kubernetes
//   quantities, so "0.5" matches the "500m" the apiserver stores;
// - everything else compares exactly.
// `ignore` lists dotted field paths not compared (fields an autoscaler owns,
// e.g. "spec.replicas"); list indexes are not written in them.
//
// Differences are reported by field path only: values never appear in the
// message (a Secret's data must not reach an admission denial or a log).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.h"

namespace cairn::manifest {

struct Difference {
  std::string path;  // "spec.template.spec.containers[0].image"
  std::string what;  // "differs from git", "is missing", "has 2 items, git has 1"
  std::string to_string() const { return path + " " + what; }
};

std::optional<Difference> first_difference(const cairn::json& manifest, const cairn::json& live,
                                           const std::vector<std::string>& ignore = {});

// A Kubernetes resource.Quantity ("500m", "1.5Gi", "1e3", "2k") as a number;
// nullopt if `s` is not one.
std::optional<long double> parse_quantity(std::string_view s);

}  // namespace cairn::manifest
