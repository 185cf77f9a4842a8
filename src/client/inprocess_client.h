// The Client inside the skiff process: calls ObjectApi directly (no HTTP, no JSON re-parsing of
// requests), with the same semantics kubectl sees over HTTPS.
#pragma once

#include <memory>

#include "apiserver/object_api.h"
#include "client/client.h"

namespace skiff::client {

// `api` must outlive the client. Requests run as `user` (controllers use a system identity).
std::unique_ptr<Client> NewInProcessClient(apiserver::ObjectApi* api, apiserver::UserInfo user);

}  // namespace skiff::client
