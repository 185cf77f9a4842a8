// The patch kinds the Kubernetes API accepts on PATCH: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902) and strategic merge patch. Pure functions on JSON documents; no I/O, thread-safe.
// Server-side apply lives in managed_fields.h and shares the schema navigation declared here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::apiserver {

// application/merge-patch+json. Object members of `patch` merge recursively into `target`, a
// null member deletes, and any non-object patch replaces the target wholesale. Never fails; the
// StatusOr keeps the three patch functions interchangeable for the caller.
StatusOr<Json> ApplyMergePatch(const Json& target, const Json& patch);

// application/json-patch+json. Operations run in order on a copy of `target`; the first failing
// one aborts the whole patch. A malformed document (not an array, an operation without "op" or
// "path", an unknown op, a missing "value"/"from") is 400 BadRequest; an operation that does not
// apply to this document (missing path, index out of range, failed "test") is 422 Invalid with a
// message such as `jsonpatch replace operation does not apply: doc is missing key: /spec/foo`.
StatusOr<Json> ApplyJsonPatch(const Json& target, const Json& patch);

// application/strategic-merge-patch+json, for kinds whose schema carries patch strategies.
// `schema` is the kind's structural openAPIV3Schema (the whole object); lists merge element-wise
// when their schema node has `x-kubernetes-patch-strategy: merge` (with
// `x-kubernetes-patch-merge-key` for lists of objects) or `x-kubernetes-list-type: map|set`;
// other lists are replaced. `metadata` always follows ObjectMeta (finalizers merge,
// ownerReferences merge by uid). Supported directives: `$patch: replace|merge|delete` (in maps
// and as list elements), `$retainKeys`, `$deleteFromPrimitiveList/<field>`,
// `$setElementOrder/<field>`. A patch that is not an object, or a list element without its merge
// key, is 400 BadRequest.
StatusOr<Json> ApplyStrategicMergePatch(const Json& target, const Json& patch, const Json& schema);

// ---- Schema navigation shared with server-side apply ----

// How the elements of a list relate to each other.
enum class ListKind {
  kAtomic,  // the list is one value: replaced and owned whole
  kSet,     // scalar elements identified by value
  kMap,     // object elements identified by the values of `keys`
};

struct ListStrategy {
  ListKind kind = ListKind::kAtomic;
  std::vector<std::string> keys;  // for kMap
};

// The strategy for a list under strategic merge patch: the patch merge key wins over
// `x-kubernetes-list-map-keys`, as in Kubernetes where SMP predates list types.
ListStrategy PatchListStrategy(const Json* schema);

// The strategy for a list under server-side apply: `x-kubernetes-list-type` wins; core kinds that
// only declare a patch merge key are treated as maps keyed by it.
ListStrategy ApplyListStrategy(const Json* schema);

// The schema of member `key` of the object described by `node` (properties, then
// additionalProperties), or nullptr when the schema says nothing. `root` is the kind's schema:
// its `metadata` member is always ObjectMeta, whatever the CRD declares, because the API server
// owns that shape.
const Json* ChildSchema(const Json* root, const Json* node, std::string_view key);

// The schema of a list's elements, or nullptr.
const Json* ItemSchema(const Json* node);

// True when the object schema `node` declares `key` as a property (a struct field rather than a
// map entry); server-side apply owns struct fields and map entries differently.
bool DeclaresProperty(const Json* root, const Json* node, std::string_view key);

// True when an object with this schema is one value (`x-kubernetes-map-type: atomic`).
bool IsAtomicMap(const Json* node);

}  // namespace skiff::apiserver
