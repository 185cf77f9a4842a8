// Turns the Kubernetes API's error answers (a `Status` body, or any other body) back into a
// skiff::Status, for every HTTP client of the API (the Client, the CLI).
#pragma once

#include "common/json.h"
#include "common/status.h"
#include "http/http.h"

namespace skiff::client {

// A Kubernetes Status object (an error body or a watch ERROR event). `http_code` 0: take the
// object's own `code`.
Status DecodeStatusObject(int http_code, const Json& body);

// A non-2xx response: its Status body when it has one, else its text.
Status DecodeError(const http::Response& response);

}  // namespace skiff::client
