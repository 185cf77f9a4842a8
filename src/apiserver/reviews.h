// The virtual "review" kinds kubectl posts for `kubectl auth can-i` and `kubectl auth whoami`:
// SelfSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview. kubectl sends them as
// protobuf in the `k8s\0` envelope (JSON is accepted too); answers are JSON.
#pragma once

#include <string>

#include "api/resource.h"
#include "apiserver/auth.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::apiserver {

// Decodes a request body (JSON, or protobuf when `content_type` says so) of `res`'s kind into
// the JSON form of the object.
StatusOr<Json> DecodeReviewBody(const api::ResourceInfo& res, const std::string& content_type,
                                const std::string& body);

// Fills in the review's status for `user`, asking `authz` for access decisions.
StatusOr<Json> AnswerReview(const api::ResourceInfo& res, Json review, const UserInfo& user,
                            Authorizer* authz);

}  // namespace skiff::apiserver
