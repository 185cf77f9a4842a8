#include "client/status_decode.h"

namespace skiff::client {

namespace {

Code CodeForHttp(int http, const std::string& reason) {
  switch (http) {
    case 400:
      return Code::kBadRequest;
    case 401:
      return Code::kUnauthorized;
    case 403:
      return Code::kForbidden;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kMethodNotAllowed;
    case 406:
      return Code::kNotAcceptable;
    case 409:
      return reason == "AlreadyExists" ? Code::kAlreadyExists : Code::kConflict;
    case 410:
      return Code::kGone;
    case 413:
      return Code::kRequestEntityTooLarge;
    case 415:
      return Code::kUnsupportedMediaType;
    case 422:
      return Code::kInvalid;
    case 429:
      return Code::kTooManyRequests;
    case 503:
      return Code::kUnavailable;
    case 504:
      return Code::kTimeout;
    default:
      return http >= 500 ? Code::kInternal : Code::kBadRequest;
  }
}

std::string JsonStr(const Json& obj, const char* field) {
  if (!obj.is_object()) return "";
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

// Turns a Kubernetes Status object (an error response body or a watch ERROR event) into a Status.
Status DecodeStatusObject(int http_code, const Json& body) {
  if (http_code == 0 && body.is_object() && body.contains("code") && body["code"].is_number()) {
    http_code = body["code"].get<int>();
  }
  const std::string reason = JsonStr(body, "reason");
  std::string message = JsonStr(body, "message");
  if (message.empty()) message = "the server responded with HTTP " + std::to_string(http_code);
  Status s(CodeForHttp(http_code, reason), message);
  if (!reason.empty() && reason != s.Reason()) s.WithReason(reason);
  if (body.is_object() && body.contains("details") && body["details"].is_object()) {
    const Json& d = body["details"];
    s.WithDetails(JsonStr(d, "name"), JsonStr(d, "group"), JsonStr(d, "kind"));
    if (d.contains("causes") && d["causes"].is_array()) {
      for (const Json& c : d["causes"]) {
        s.AddCause({JsonStr(c, "reason"), JsonStr(c, "message"), JsonStr(c, "field")});
      }
    }
  }
  return s;
}

Status DecodeError(const http::Response& r) {
  auto body = ParseJson(r.body);
  if (body.ok() && body->is_object() && body->value("kind", "") == "Status") {
    return DecodeStatusObject(r.status, *body);
  }
  std::string text = r.body.size() > 512 ? r.body.substr(0, 512) + "..." : r.body;
  Json fake = {{"message", text.empty()
                               ? "the server responded with HTTP " + std::to_string(r.status)
                               : text}};
  return DecodeStatusObject(r.status, fake);
}

}  // namespace skiff::client
