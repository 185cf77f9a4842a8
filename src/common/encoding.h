// Base64 (standard alphabet, padded) as Kubernetes uses for Secret data and kubeconfig fields.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace skiff {

std::string Base64Encode(std::string_view in);
// std::nullopt when `in` is not valid padded base64.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace skiff
