// Strategic merge patch (Kubernetes' SMP, as Kustomize applies it) and JSON
// patch (RFC 6902) on JSON objects. Pure functions; errors as values.
//
// SMP merges mappings key by key (a null deletes the key) and merges lists
// of the built-in kinds by their merge key (containers, volumes, env by name,
// container ports by containerPort, Service ports by port, volumeMounts by
// mountPath, ...); other lists, and every list of a kind Kubernetes does not
// define (custom resources), are replaced, as Kustomize does without their
// schema. Directives: `$patch: delete|replace|merge` in mappings and list
// items, `$retainKeys`, `$deleteFromPrimitiveList/<f>`, and
// `$setElementOrder/<f>` (accepted, the order of the result is the patch's
// for elements it names).
#pragma once

#include <expected>
#include <string>

#include "json/json.h"

namespace cairn::manifest {

// Applies `patch` to `target` (an object of `api_version`/`kind`, which pick
// the merge keys). The error names the field that could not be merged.
std::expected<cairn::json, std::string> strategic_merge(const cairn::json& target,
                                                        const cairn::json& patch);

// RFC 6902: add, remove, replace, move, copy, test. The error names the
// operation's index and path.
std::expected<cairn::json, std::string> json_patch(const cairn::json& target,
                                                   const cairn::json& operations);

}  // namespace cairn::manifest
