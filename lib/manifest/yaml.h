// YAML (and JSON) text to JSON values, the way Kubernetes reads manifests
// (sigs.k8s.io/yaml); the rules are listed in render.h. Shared by render and
// kustomize_build so that a kustomization's resources read exactly like plain
// manifests. Never throws: yaml-cpp's and nlohmann's exceptions stop here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.h"

namespace cairn::manifest {

struct YamlDocument {
  cairn::json value;  // null for an empty or comment-only document
  int line = 0;       // 1-based line where the document starts
};

struct YamlError {
  int document = 0;  // 0-based index of the document that failed
  int line = 0;      // 1-based; 0: unknown
  int column = 0;    // 1-based; 0: unknown
  std::string message;
};

// The documents of a multi-document YAML text up to the first syntax error
// (the documents before it are kept, so that a caller can report them too).
struct YamlDocuments {
  std::vector<YamlDocument> documents;
  std::optional<YamlError> error;
};
YamlDocuments parse_yaml(const std::string& text);

// One JSON value (a *.json manifest); nullopt value for a blank text. The
// error message never quotes the text (it may be a Secret).
struct JsonParse {
  std::optional<cairn::json> value;
  std::optional<std::string> error;
};
JsonParse parse_json_text(const std::string& text);

// The offset of the first byte that is not part of a well-formed UTF-8
// character, or is a NUL unless `nul_ok`; npos when the text is UTF-8.
std::size_t invalid_utf8_at(std::string_view s, bool nul_ok = false);

// "a mapping", "a list", "a string", ... for messages.
std::string json_type_name(const cairn::json& v);

}  // namespace cairn::manifest
