#include "apiserver/reviews.h"

#include "apiserver/protobuf.h"

namespace skiff::apiserver {

namespace {

// Kubernetes' RBAC verbs/resources wildcard rules for a user the authorizer lets do anything.
Json AllowAllRules() {
  return {{"resourceRules",
           Json::array({{{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}}})},
          {"nonResourceRules", Json::array({{{"verbs", {"*"}}, {"nonResourceURLs", {"*"}}}})},
          {"incomplete", false}};
}

}  // namespace

StatusOr<Json> DecodeReviewBody(const api::ResourceInfo& res, const std::string& content_type,
                                const std::string& body) {
  if (content_type.find("protobuf") != std::string::npos) return DecodeProtobufBody(res, body);
  auto j = ParseJson(body);
  if (!j.ok())
    return Status::BadRequest("the body of the request could not be decoded: " +
                              j.status().message());
  if (!j->is_object()) return Status::BadRequest("the request body must be a JSON object");
  return j;
}

StatusOr<Json> AnswerReview(const api::ResourceInfo& res, Json review, const UserInfo& user,
                            Authorizer* authz) {
  review["apiVersion"] = res.ApiVersion();
  review["kind"] = res.kind;
  if (!review.contains("metadata")) review["metadata"] = Json::object();
  review["metadata"]["creationTimestamp"] = nullptr;
  if (res.kind == "SelfSubjectReview") {
    review["status"] = {{"userInfo", {{"username", user.name}, {"groups", user.groups}}}};
    return review;
  }
  if (res.kind == "SelfSubjectRulesReview") {
    if (!review.contains("spec") || !review["spec"].contains("namespace")) {
      return Status::Invalid(
          "SelfSubjectRulesReview.authorization.k8s.io is invalid: spec.namespace: Required value");
    }
    review["status"] = AllowAllRules();
    return review;
  }
  // SelfSubjectAccessReview.
  const Json spec = review.value("spec", Json::object());
  RequestAttributes attrs;
  if (spec.contains("resourceAttributes")) {
    const Json& ra = spec["resourceAttributes"];
    attrs.verb = ra.value("verb", "");
    attrs.api_group = ra.value("group", "");
    attrs.resource = ra.value("resource", "");
    attrs.subresource = ra.value("subresource", "");
    attrs.ns = ra.value("namespace", "");
    attrs.name = ra.value("name", "");
  } else if (spec.contains("nonResourceAttributes")) {
    attrs.resource_request = false;
    attrs.verb = spec["nonResourceAttributes"].value("verb", "");
    attrs.path = spec["nonResourceAttributes"].value("path", "");
  } else {
    return Status::Invalid(
        "SelfSubjectAccessReview.authorization.k8s.io is invalid: spec.resourceAttributes: "
        "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must "
        "be specified");
  }
  Status decision = authz->Authorize(user, attrs);
  review["status"] = {{"allowed", decision.ok()}};
  if (!decision.ok()) {
    review["status"]["denied"] = true;
    review["status"]["reason"] = decision.message();
  }
  return review;
}

}  // namespace skiff::apiserver
