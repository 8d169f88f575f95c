// libFuzzer target over watch streams (issue #9): the body of a watch
// response as the informer reads it -- split into lines by
// kube::LineSplitter (lib/kube/lines.h), each line read as an event by
// kube::parse_watch_event (lib/kube/watch.h).
//
// The first 8 bytes of the input choose where the stream is cut into chunks
// (as the network might cut it); the rest is the stream. Invariants:
// - chunking does not matter: the stream fed whole and fed in those chunks
//   gives the same lines, and the same overflow, with a line limit of 4 KiB
//   (a line longer than the limit is an overflow, never emitted); lines hold
//   no '\n' and are never empty;
// - parse_watch_event never throws; an accepted event has a type and an
//   object; an ERROR says gone or has a message; any other event's
//   object.metadata, if there, is a mapping with string name, namespace and
//   resourceVersion (what the informer's store reads) and resource_version
//   is that string; with trimming, metadata.managedFields is gone, and
//   trimming changes nothing else about the verdict (nor anything at all
//   when the line never says "managedFields").
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "kube/lines.h"
#include "kube/watch.h"

namespace {

constexpr const char* kTarget = "watch_fuzz";
constexpr size_t kMaxLine = 4096;

struct Split {
  std::vector<std::string> lines;
  bool ok = true;
};

Split split(std::string_view stream, const std::vector<size_t>& cuts) {
  cairn::kube::LineSplitter s(kMaxLine);
  Split out;
  size_t at = 0;
  auto emit = [&](std::string_view line) {
    out.lines.emplace_back(line);
    return true;
  };
  for (size_t cut : cuts) {
    if (cut <= at || cut >= stream.size()) continue;
    if (!s.feed(stream.substr(at, cut - at), emit)) {
      out.ok = false;
      return out;
    }
    at = cut;
  }
  out.ok = s.feed(stream.substr(at), emit);
  return out;
}

void check_event(std::string_view line) {
  using cairn::fuzz::fail;
  std::expected<cairn::kube::WatchEvent, std::string> trimmed, full;
  try {
    trimmed = cairn::kube::parse_watch_event(line, true);
    full = cairn::kube::parse_watch_event(line, false);
  } catch (const std::exception& e) {
    fail(kTarget, std::string("parse_watch_event threw: ") + e.what(), line);
  }
  if (trimmed.has_value() != full.has_value())
    fail(kTarget, "trimming managedFields changed whether the event is accepted", line);
  if (!trimmed) {
    if (trimmed.error().empty() || full.error().empty()) fail(kTarget, "an empty error", line);
    return;
  }
  for (const auto* ev : {&*trimmed, &*full}) {
    if (ev->type.empty()) fail(kTarget, "an event without a type", line);
    if (!ev->object.is_object()) fail(kTarget, "an event without an object", line);
    if (ev->type == "ERROR") {
      if (!ev->gone && ev->message.empty()) fail(kTarget, "an ERROR without a message", line);
      continue;
    }
    auto md = ev->object.find("metadata");
    if (md == ev->object.end()) {
      if (!ev->resource_version.empty()) fail(kTarget, "a version without metadata", line);
      continue;
    }
    if (!md->is_object()) fail(kTarget, "metadata that is not a mapping", line);
    for (const char* k : {"name", "namespace", "resourceVersion"}) {
      if (md->contains(k) && !(*md)[k].is_string())
        fail(kTarget, std::string(k) + " not a string", line);
    }
    const std::string rv =
        md->contains("resourceVersion") ? (*md)["resourceVersion"].get<std::string>() : "";
    if (ev->resource_version != rv) fail(kTarget, "resource_version is not metadata's", line);
  }
  if (trimmed->type != full->type || trimmed->resource_version != full->resource_version)
    fail(kTarget, "trimming managedFields changed the type or version", line);
  if (trimmed->type != "ERROR") {
    auto md = trimmed->object.find("metadata");
    if (md != trimmed->object.end() && md->contains("managedFields"))
      fail(kTarget, "managedFields kept", line);
  }
  if (line.find("managedFields") == std::string_view::npos && trimmed->object != full->object)
    fail(kTarget, "trimming changed an event without managedFields", line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cairn::fuzz::fail;
  if (size < 8) return 0;
  std::vector<size_t> cuts;
  size_t at = 0;
  for (size_t i = 0; i < 8; ++i) {
    at += 1 + data[i] * (data[i] & 1 ? 1 : 17);  // small steps and long ones
    cuts.push_back(at);
  }
  const std::string_view stream(reinterpret_cast<const char*>(data) + 8, size - 8);
  // Beyond the chosen cuts, every 61 bytes.
  for (size_t c = at + 61; c < stream.size(); c += 61) cuts.push_back(c);

  const Split whole = split(stream, {});
  const Split chunked = split(stream, cuts);
  if (whole.lines != chunked.lines || whole.ok != chunked.ok)
    fail(kTarget,
         "chunking changed the lines: whole " + std::to_string(whole.lines.size()) +
             " lines (ok=" + std::to_string(whole.ok) + "), chunked " +
             std::to_string(chunked.lines.size()) + " (ok=" + std::to_string(chunked.ok) + ")",
         stream);
  for (const auto& line : whole.lines) {
    if (line.empty()) fail(kTarget, "an empty line", stream);
    if (line.size() > kMaxLine) fail(kTarget, "a line over the limit was emitted", stream);
    if (line.find('\n') != std::string::npos) fail(kTarget, "a line with a newline", stream);
    check_event(line);
  }
  return 0;
}
