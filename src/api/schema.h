// Structural schemas (the openAPIV3Schema subset Kubernetes accepts for CRDs): defaulting, pruning
// and validation of objects, as the API server applies them on every write.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::api {

enum class UnknownFields {
  kPrune,   // drop silently (fieldValidation=Ignore)
  kWarn,    // drop and report a warning per field (fieldValidation=Warn, the default)
  kStrict,  // reject: a cause per field (fieldValidation=Strict)
};

struct SchemaResult {
  std::vector<StatusCause> causes;    // validation failures, with field paths
  std::vector<std::string> warnings;  // `unknown field "spec.foo"` for kWarn
  // Paths of the unknown fields that were dropped, in every mode. With kStrict a real API server
  // answers these with a 400 BadRequest (see StrictDecodingStatus), not a 422.
  std::vector<std::string> unknown_fields;
};

// Applies `schema` to `object` in place, in the API server's order: prune unknown fields (unless
// x-kubernetes-preserve-unknown-fields), apply defaults, then validate types, required fields,
// enums, formats, bounds, patterns, x-kubernetes-int-or-string, nullable, embedded resources.
// `metadata` of the top-level object is left to the caller (only its type is checked).
// Field paths in causes are dotted with list indexes: "spec.containers[0].image".
SchemaResult ApplySchema(const Json& schema, Json& object, UnknownFields unknown);

// Only defaulting (used on read for objects stored before a default existed).
void ApplyDefaults(const Json& schema, Json& object);

// Renders causes as Kubernetes does in a 422 message:
// `PipelineRun.kubeflow.org "run1" is invalid: [spec.x: Invalid value: ..., ...]`.
Status InvalidStatus(const std::string& group_kind, const std::string& name,
                     std::vector<StatusCause> causes);

// The 400 Kubernetes returns for fieldValidation=Strict when the body has unknown fields:
// `TFJob in version "v1" cannot be handled as a TFJob: strict decoding error: unknown field "x"`.
Status StrictDecodingStatus(const std::string& kind, const std::string& version,
                            const std::vector<std::string>& unknown_fields);

// Replaces every `$ref: "#/definitions/Name"` in `schema` by `definitions[Name]` (recursively;
// keys next to a $ref override the definition's). Unknown names and cycles are errors whose
// message names the path of the offending $ref. Used for the built-in definition files only:
// user CRDs may not use $ref (CheckStructural rejects it).
StatusOr<Json> ResolveRefs(const Json& schema, const Json& definitions);

// Checks that a schema is structural and uses only supported keywords; used when a user applies a
// CRD. Returns causes with paths under `spec.versions[i].schema.openAPIV3Schema`.
std::vector<StatusCause> CheckStructural(const Json& schema, const std::string& path);

}  // namespace skiff::api
