// Field ownership (metadata.managedFields) and server-side apply, following the
// structured-merge-diff model Kubernetes uses. Pure functions on JSON documents; no I/O,
// thread-safe.
//
// Ownership is tracked per manager entry {manager, operation: Apply|Update, apiVersion, time,
// fieldsType: FieldsV1, fieldsV1, subresource?}. fieldsV1 is a tree of path elements:
// `f:<field>` for object members, `k:{"name":"x"}` (the key fields as compact JSON, keys sorted)
// for items of associative lists, `v:<json>` for items of set lists, and `.: {}` marking that a
// node with children is itself owned. Atomic lists (the default) and `x-kubernetes-map-type:
// atomic` objects are owned as one leaf.
//
// Only the fields a user manages are tracked: everything but apiVersion, kind and status, and of
// metadata only labels, annotations, finalizers and ownerReferences. On the status subresource
// only status is tracked (and applied).
#pragma once

#include <string>

#include "common/json.h"
#include "common/status.h"

namespace skiff::apiserver {

// Server-side apply (PATCH with application/apply-patch+yaml) of `applied` by `manager`.
//
// `live` is the stored object, or nullptr when the apply creates it. `schema` is the kind's
// structural openAPIV3Schema; list semantics come from x-kubernetes-list-type/-list-map-keys
// (and the patch merge key of core kinds). `api_version` is the version the request was made in
// and `now_rfc3339` the time to stamp on entries whose fields change.
//
// Returns the new object: live with the applied configuration merged in (associative lists merge
// by key), minus fields this manager applied before, omits now, and nobody else owns. Server-set
// metadata in `applied` (uid, resourceVersion, managedFields, ...) is ignored, as is status (or,
// with `status_subresource`, everything but status). A null in `applied` removes the field.
//
// A field whose value the apply would change and that another manager owns is a conflict: 409
// with reason FieldManagerConflict, one cause per field ({type: FieldManagerConflict, message:
// `conflict with "kubectl-client-side-apply" using kubeflow.org/v1`, field: `.spec.pipelineRef`})
// and the message Kubernetes gives (`Apply failed with 1 conflict: conflict with ...:
// .spec.pipelineRef`). With `force` the applier takes those fields instead. Applying the value a
// field already has shares its ownership and is never a conflict. A live object without
// managedFields is first attributed to "before-first-apply", as Kubernetes does.
StatusOr<Json> ServerSideApply(const Json* live, const Json& applied, const std::string& manager,
                               bool force, const Json& schema, const std::string& api_version,
                               const std::string& now_rfc3339, bool status_subresource = false);

// Records ownership for a non-apply write (POST, PUT, non-apply PATCH) in
// `new_obj->metadata.managedFields`: the fields that differ between `old_obj` (nullptr on create)
// and `new_obj` move to `manager`'s entry for `operation` ("Update") and `api_version`, taken
// from every other entry; removed fields leave every entry; entries left empty are dropped.
// `manager` is the request's fieldManager, or the caller's default derived from the user agent
// (kubectl client-side apply sends "kubectl-client-side-apply").
//
// The entries built on are those of `new_obj` when the client sent some, else those of
// `old_obj`; `managedFields: []` (or one empty entry) in `new_obj` resets ownership. On the status
// subresource the client's entries are never taken.
void TrackUpdate(const Json* old_obj, Json* new_obj, const std::string& manager,
                 const std::string& operation, const Json& schema, const std::string& api_version,
                 const std::string& now_rfc3339, bool status_subresource = false);

}  // namespace skiff::apiserver
