// YAML as Helm sees it: toYaml writes what sigs.k8s.io/yaml (gopkg.in/yaml.v2
// underneath) writes, byte for byte (key order, quoting, literal blocks,
// folding at 80 columns); values and fromYaml read YAML 1.1 plain scalars as
// yaml.v2 resolves them (yes/on are booleans, numbers become float64 as
// they do after Helm's trip through JSON, timestamps stay strings).
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "helm/value.h"

namespace cairn::helm {

// yaml.Marshal of the value after a JSON round trip (whole floats print as
// integers), with the trailing newline.
std::string to_yaml(const Value& v);

// One YAML document (empty text is nil). Errors name line and column.
std::expected<Value, std::string> from_yaml(const std::string& text);
// Every document of a stream, as Helm splits values and manifests.
std::expected<std::vector<Value>, std::string> from_yaml_all(const std::string& text);

// What yaml.v2 makes of an unquoted scalar.
Value resolve_plain(const std::string& s);

// yaml.v2's map key order ("natural": digit runs compare as numbers).
bool yaml_key_less(const std::string& a, const std::string& b);

// encoding/json's Marshal of the value (keys sorted, HTML-safe escapes,
// floats as Go prints them); `indent` for toPrettyJson.
std::string to_go_json(const Value& v, const std::string& indent = "");

}  // namespace cairn::helm
