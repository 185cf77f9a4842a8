// The object model: every API object is a JSON document (nlohmann::json). Helpers for the few
// conversions every layer needs.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

using Json = nlohmann::json;

// Parses JSON; a syntax error becomes a 400 with the parser's position.
StatusOr<Json> ParseJson(std::string_view text);

// Parses one YAML document (or JSON, which is YAML) into JSON. Integers, floats, booleans and null
// are typed as YAML 1.2 core schema does; quoted scalars stay strings.
StatusOr<Json> ParseYaml(std::string_view text);

// Parses a stream of `---`-separated YAML documents, skipping empty ones.
StatusOr<std::vector<Json>> ParseYamlDocuments(std::string_view text);

// Renders JSON as block-style YAML, as `kubectl get -o yaml` does.
std::string ToYaml(const Json& value);

// Returns the value at a dotted path ("metadata.name"), or nullptr when absent.
const Json* FindPath(const Json& root, std::string_view dotted_path);
// The string / integer at a dotted path, or "" / nullopt when absent or of another type.
std::string StringAt(const Json& root, std::string_view dotted_path);
std::optional<int64_t> IntAt(const Json& root, std::string_view dotted_path);

}  // namespace skiff
