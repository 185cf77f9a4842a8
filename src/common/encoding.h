// Base64 (standard alphabet, padded) as Kubernetes uses for Secret data and kubeconfig fields, and
// ASCII case-insensitive comparison (HTTP header names and tokens).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace skiff {

std::string Base64Encode(std::string_view in);
// std::nullopt when `in` is not valid padded base64.
std::optional<std::string> Base64Decode(std::string_view in);

// ASCII letters compared without case; other bytes exactly.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace skiff
