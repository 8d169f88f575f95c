// What `kubectl cairn diff` shows for one object: the live object and the
// result of a server-side dry-run apply of the rendered one, without the
// fields the server manages, as YAML in a unified diff. Secret values are
// never shown. Pure: the caller does the GET and the dry run.
#pragma once

#include <string>

#include "json/json.h"

namespace cairn::cli {

// The object without metadata.managedFields, resourceVersion, generation,
// uid, creationTimestamp and selfLink, and without status: they change on
// every write (or are the controllers'), so they are noise, not drift.
cairn::json without_server_fields(cairn::json obj);

// For Secrets (core group), replaces each value of data and stringData with
// "<redacted: N bytes>" (N: decoded size) on both sides, so that a diff shows
// which keys change but no value. A value that differs gets a different
// marker on each side (" (before)"/" (after)") even when the sizes match, so
// that the change still shows; equal values get the same marker. The
// last-applied-configuration annotation, which holds the data too, is
// replaced by "<redacted>". Either pointer may be null (object absent).
void redact_secret_values(cairn::json* live, cairn::json* cairn);

// "<Kind>/<namespace>/<name>", or "<Kind>/<name>" for a cluster-scoped object.
std::string object_label(const cairn::json& obj);

// The unified diff (3 lines of context) between the YAML of `live` and of
// `cairn` (the dry-run result), labelled live/<label> and cairn/<label>;
// either may be null: a new object, or one that would be pruned. Empty when
// they are equal once the server fields are left out.
std::string object_diff(const cairn::json* live, const cairn::json* cairn);

}  // namespace cairn::cli
