// One event of a watch stream (one line of the body, lib/kube/lines.h), read
// without trusting it: a line that is not an event is an error returned,
// never an exception, and what the informer then reads from the event (type,
// metadata strings, an ERROR's Status) has the types it expects.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "json/json.h"

namespace cairn::kube {

struct WatchEvent {
  std::string type;    // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR, or what the server sent
  cairn::json object;  // an object (for ERROR: a metav1.Status)
  std::string resource_version;  // object.metadata.resourceVersion; "" if none or ERROR
  // ERROR only: the Status says our resourceVersion is gone (code 410,
  // reason Expired or Gone): re-list. Else `message` says what went wrong.
  bool gone = false;
  std::string message;
};

// Parses one line; `trim_managed_fields` leaves metadata.managedFields out
// while parsing. An error names what is wrong with the line (never its text).
// When it succeeds, object.metadata, if present, is a mapping whose name,
// namespace and resourceVersion, if present, are strings, and whose labels,
// if present, map to strings.
std::expected<WatchEvent, std::string> parse_watch_event(std::string_view line,
                                                         bool trim_managed_fields = true);

}  // namespace cairn::kube
