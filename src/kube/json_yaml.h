// JSON and YAML documents as nlohmann::json: Kubernetes manifests arrive in either form.
//
// YAML scalars follow the YAML 1.2 core schema: plain `true`/`false`, `null`/`~`/empty, integers
// and floats become JSON booleans, null and numbers; quoted scalars are always strings. Anchors
// and aliases are resolved by yaml-cpp; tags other than the standard ones are ignored.
#ifndef MODELCAR_KUBE_JSON_YAML_H_
#define MODELCAR_KUBE_JSON_YAML_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace modelcar::kube {

// Parses `text` as JSON when it starts with '{' or '[' (after whitespace), else as YAML (first
// document). `what` names the input in errors ("pod.yaml"). InvalidArgument on syntax errors.
Result<nlohmann::json> ParseJsonOrYaml(std::string_view text, std::string_view what);

// Every non-empty document of a YAML stream (or the single JSON document). A YAML `kind: List`
// is not expanded here.
Result<std::vector<nlohmann::json>> ParseDocuments(std::string_view text, std::string_view what);

// Block-style YAML for `doc` (yaml-cpp's emitter; empty maps and lists as {} and []). Strings that
// a plain scalar would turn into another type (under the core schema above, or YAML 1.1's yes/no/
// on/off) are double-quoted, as are those whose characters need it; the output parses back to
// `doc` here and in PyYAML.
std::string ToYaml(const nlohmann::json& doc);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_JSON_YAML_H_
