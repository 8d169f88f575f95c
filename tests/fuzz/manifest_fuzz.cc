// libFuzzer target over Release manifests (issue #9): manifest::render, which
// turns the YAML and JSON files of a commit into the objects the operator
// applies.
//
// The first byte of the input picks the file's name (.yaml, .yml or .json)
// and whether the Release has clusterScope; the rest is the file. Per input,
// render must return (never throw), within libFuzzer's time and memory
// limits (deep nesting and alias bombs are refused, not expanded). Errors name
// the file (or nothing, for the whole render) and have a message. Accepted
// objects have string apiVersion, kind and metadata.name; a namespaced one is
// in the Release's namespace unless clusterScope; each is stamped with the
// commit, source and Release; no two share an identity; and each can be
// written as JSON (the operator sends it with dump(), which throws on text
// that is not UTF-8). Rendering is deterministic: the same input gives the
// same objects again.
#include <set>
#include <string>

#include "api/names.h"
#include "common.h"
#include "manifest/render.h"

namespace {

constexpr const char* kTarget = "manifest_fuzz";
constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cairn::fuzz::fail;
  namespace manifest = cairn::manifest;
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static const char* names[] = {"deploy/app.yaml", "deploy/app.json", "deploy/app.yml",
                                "deploy/app.yaml"};
  manifest::RenderInput in;
  in.release_namespace = "shop";
  in.release_name = "web";
  in.commit = kCommit;
  in.source_url = "https://git.example.com/shop/app.git";
  in.cluster_scope = (data[0] & 4) != 0;
  in.files.push_back({names[data[0] & 3], std::string(input.substr(1))});
  in.max_documents = 200;

  std::expected<manifest::Rendered, std::vector<manifest::RenderError>> out, again;
  try {
    out = manifest::render(in);
    again = manifest::render(in);
  } catch (const std::exception& e) {
    fail(kTarget, std::string("render threw: ") + e.what(), input);
  }
  if (out.has_value() != again.has_value() || (out && out->objects != again->objects))
    fail(kTarget, "rendering the same input twice gave different results", input);
  if (!out) {
    if (out.error().empty()) fail(kTarget, "refused without an error", input);
    for (const auto& e : out.error()) {
      if (e.message.empty()) fail(kTarget, "an error without a message", input);
      if (!e.file.empty() && e.file != in.files[0].path)
        fail(kTarget, "an error names " + e.file, input);
      if (!cairn::fuzz::is_utf8(e.to_string()))
        fail(kTarget,
             "an error message that is not UTF-8: " + cairn::fuzz::printable(e.to_string()), input);
    }
    return 0;
  }
  std::set<std::string> ids;
  for (const auto& obj : out->objects) {
    const std::string text =
        cairn::fuzz::printable(obj.dump(-1, ' ', false, cairn::json::error_handler_t::replace));
    if (!obj.is_object()) fail(kTarget, "an object that is not a mapping", input);
    for (const char* k : {"apiVersion", "kind"}) {
      if (!obj.contains(k) || !obj[k].is_string() || obj[k].get<std::string>().empty())
        fail(kTarget, std::string("an object without ") + k + ": " + text, input);
    }
    const auto& md = obj.at("metadata");
    if (!md.is_object() || !md.contains("name") || !md["name"].is_string() ||
        md["name"].get<std::string>().empty())
      fail(kTarget, "an object without metadata.name: " + text, input);
    const bool cluster_scoped = manifest::is_cluster_scoped_kind(
        obj["apiVersion"].get<std::string>(), obj["kind"].get<std::string>());
    const auto ns = md.find("namespace");
    if (!in.cluster_scope && !cluster_scoped && (ns == md.end() || *ns != "shop"))
      fail(kTarget, "a namespaced object outside the Release's namespace: " + text, input);
    if (!in.cluster_scope && cluster_scoped)
      fail(kTarget, "a cluster-scoped object: " + text, input);
    const auto& ann = md.at("annotations");
    const auto commit = ann.find(std::string(cairn::api::kCommitAnnotation));
    if (commit == ann.end() || *commit != kCommit)
      fail(kTarget, "an object without the commit stamp: " + text, input);
    if (!ids.insert(manifest::identity(obj)).second)
      fail(kTarget, "two objects with the identity " + manifest::identity(obj), input);
    if (!cairn::fuzz::dumps(obj))
      fail(kTarget, "an object that cannot be written as JSON: " + text, input);
  }
  return 0;
}
