// Errors as values. A Status carries what the Kubernetes API returns in a `Status` object: an HTTP
// code, a machine-readable reason and causes with field paths. StatusOr<T> holds a value or an
// error.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace skiff {

enum class Code {
  kOk,
  kBadRequest,             // 400 BadRequest
  kUnauthorized,           // 401 Unauthorized
  kForbidden,              // 403 Forbidden
  kNotFound,               // 404 NotFound
  kMethodNotAllowed,       // 405 MethodNotAllowed
  kNotAcceptable,          // 406 NotAcceptable
  kAlreadyExists,          // 409 AlreadyExists
  kConflict,               // 409 Conflict
  kGone,                   // 410 Expired
  kRequestEntityTooLarge,  // 413 RequestEntityTooLarge
  kUnsupportedMediaType,   // 415 UnsupportedMediaType
  kInvalid,                // 422 Invalid
  kTooManyRequests,        // 429 TooManyRequests
  kInternal,               // 500 InternalError
  kUnavailable,            // 503 ServiceUnavailable
  kTimeout,                // 504 Timeout
};

// One reason a request was refused; `field` is a path such as `spec.replicas`.
struct StatusCause {
  std::string type;  // FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, ...
  std::string message;
  std::string field;
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status BadRequest(std::string m) { return {Code::kBadRequest, std::move(m)}; }
  static Status Unauthorized(std::string m) { return {Code::kUnauthorized, std::move(m)}; }
  static Status Forbidden(std::string m) { return {Code::kForbidden, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status Gone(std::string m) { return {Code::kGone, std::move(m)}; }
  static Status Invalid(std::string m) { return {Code::kInvalid, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<StatusCause>& causes() const { return causes_; }

  // Kubernetes `details` of the Status object: which object the error is about.
  const std::string& details_name() const { return details_name_; }
  const std::string& details_group() const { return details_group_; }
  const std::string& details_kind() const { return details_kind_; }
  Status& WithDetails(std::string name, std::string group, std::string kind) {
    details_name_ = std::move(name);
    details_group_ = std::move(group);
    details_kind_ = std::move(kind);
    return *this;
  }
  Status& AddCause(StatusCause cause) {
    causes_.push_back(std::move(cause));
    return *this;
  }
  // Overrides the reason derived from the code (e.g. "FieldManagerConflict" is not one of them).
  Status& WithReason(std::string reason) {
    reason_ = std::move(reason);
    return *this;
  }

  int HttpCode() const;
  // The Kubernetes StatusReason string ("NotFound", "AlreadyExists", ...).
  std::string Reason() const;
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string reason_;
  std::string details_name_, details_group_, details_kind_;
  std::vector<StatusCause> causes_;
};

template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace skiff

#define SKIFF_RETURN_IF_ERROR(expr) \
  do {                              \
    ::skiff::Status _st = (expr);   \
    if (!_st.ok()) return _st;      \
  } while (0)
