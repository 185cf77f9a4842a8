// ObjectMeta rules shared by every kind: name formats, generated names, uids, label checks.
#pragma once

#include <string>
#include <vector>

#include "api/resource.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::apiserver {

// Checks `metadata` (names, labels, annotations, finalizers, ownerReferences) and appends causes.
void ValidateObjectMeta(const api::ResourceInfo& res, const Json& metadata,
                        std::vector<StatusCause>* causes);

// A name with the 5-character random suffix Kubernetes appends to generateName.
std::string GenerateName(const std::string& prefix);

// A random RFC 4122 version 4 UUID.
std::string NewUid();

// "" when `name` is a valid DNS-1123 subdomain, else the reason.
std::string CheckDns1123Subdomain(const std::string& name);
std::string CheckDns1123Label(const std::string& name);

}  // namespace skiff::apiserver
