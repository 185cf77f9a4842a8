#include "apiserver/reviews.h"

#include <cstdint>
#include <string_view>

namespace skiff::apiserver {

namespace {

// A minimal protobuf wire-format reader: enough for the Kubernetes `Unknown` envelope and the
// review messages, which only use length-delimited fields and varints.
class ProtoReader {
 public:
  explicit ProtoReader(std::string_view data) : data_(data) {}

  // Reads the next field; false at the end or on malformed input (see ok()).
  bool Next(uint32_t* field, std::string_view* bytes, uint64_t* varint, bool* is_bytes) {
    if (pos_ >= data_.size()) return false;
    uint64_t key;
    if (!ReadVarint(&key)) return Fail();
    *field = static_cast<uint32_t>(key >> 3);
    switch (key & 7) {
      case 0:
        *is_bytes = false;
        return ReadVarint(varint) || Fail();
      case 2: {
        uint64_t len;
        if (!ReadVarint(&len) || len > data_.size() - pos_) return Fail();
        *is_bytes = true;
        *bytes = data_.substr(pos_, len);
        pos_ += len;
        return true;
      }
      case 1:
        if (data_.size() - pos_ < 8) return Fail();
        pos_ += 8;
        *is_bytes = false;
        return true;
      case 5:
        if (data_.size() - pos_ < 4) return Fail();
        pos_ += 4;
        *is_bytes = false;
        return true;
      default:
        return Fail();
    }
  }
  bool ok() const { return ok_; }

 private:
  bool ReadVarint(uint64_t* out) {
    *out = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      *out |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Decodes a message whose fields are all strings, by field number -> JSON name.
Json StringFields(std::string_view msg, const std::vector<std::pair<uint32_t, const char*>>& names) {
  Json out = Json::object();
  ProtoReader r(msg);
  uint32_t f;
  std::string_view b;
  uint64_t v;
  bool is_bytes;
  while (r.Next(&f, &b, &v, &is_bytes)) {
    if (!is_bytes) continue;
    for (const auto& [num, name] : names) {
      if (num == f && !b.empty()) out[name] = std::string(b);
    }
  }
  return out;
}

// The first length-delimited field numbered `want`, or empty.
std::string_view Field(std::string_view msg, uint32_t want) {
  ProtoReader r(msg);
  uint32_t f;
  std::string_view b;
  uint64_t v;
  bool is_bytes;
  while (r.Next(&f, &b, &v, &is_bytes)) {
    if (is_bytes && f == want) return b;
  }
  return {};
}

StatusOr<Json> DecodeProtobuf(const api::ResourceInfo& res, const std::string& body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.size() < 4 || std::string_view(body).substr(0, 4) != kMagic) {
    return Status::BadRequest("protobuf body lacks the Kubernetes \"k8s\\0\" envelope");
  }
  std::string_view unknown = std::string_view(body).substr(4);
  Json type_meta = StringFields(Field(unknown, 1), {{1, "apiVersion"}, {2, "kind"}});
  if (type_meta.value("kind", "") != res.kind) {
    return Status::BadRequest("protobuf body holds " + type_meta.value("kind", std::string("nothing")) +
                              ", expected " + res.kind);
  }
  std::string_view raw = Field(unknown, 2);
  Json obj = {{"apiVersion", res.ApiVersion()}, {"kind", res.kind}, {"spec", Json::object()}};
  if (res.kind == "SelfSubjectAccessReview") {
    std::string_view spec = Field(raw, 2);
    std::string_view ra = Field(spec, 1);
    std::string_view nra = Field(spec, 2);
    if (!ra.empty()) {
      obj["spec"]["resourceAttributes"] =
          StringFields(ra, {{1, "namespace"}, {2, "verb"}, {3, "group"}, {4, "version"},
                            {5, "resource"}, {6, "subresource"}, {7, "name"}});
    }
    if (!nra.empty()) {
      obj["spec"]["nonResourceAttributes"] = StringFields(nra, {{1, "path"}, {2, "verb"}});
    }
  } else if (res.kind == "SelfSubjectRulesReview") {
    obj["spec"] = StringFields(Field(raw, 2), {{1, "namespace"}});
  }
  return obj;
}

// Kubernetes' RBAC verbs/resources wildcard rules for a user the authorizer lets do anything.
Json AllowAllRules() {
  return {{"resourceRules", Json::array({{{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}}})},
          {"nonResourceRules", Json::array({{{"verbs", {"*"}}, {"nonResourceURLs", {"*"}}}})},
          {"incomplete", false}};
}

}  // namespace

StatusOr<Json> DecodeReviewBody(const api::ResourceInfo& res, const std::string& content_type,
                                const std::string& body) {
  if (content_type.find("protobuf") != std::string::npos) return DecodeProtobuf(res, body);
  auto j = ParseJson(body);
  if (!j.ok()) return Status::BadRequest("the body of the request could not be decoded: " + j.status().message());
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
      return Status::Invalid("SelfSubjectRulesReview.authorization.k8s.io is invalid: spec.namespace: Required value");
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
        "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified");
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
