// Kubernetes resource quantities ("500m", "4Gi", "1e3") as exact int64 milli-units, and back to
// the canonical strings kubectl and the API show. Used by the scheduler, quota and the node agent.
#pragma once

#include <cstdint>
#include <string>

#include "common/json.h"
#include "common/status.h"

namespace skiff::scheduler {

// How a quantity is written; canonical formatting keeps the family the user chose, as upstream.
enum class QuantityFormat {
  kDecimalSI,        // 1500m, 2, 5k, 8G
  kBinarySI,         // 512Mi, 8Gi
  kDecimalExponent,  // 1e3, 15e-1 -> 1500e-3
};

struct Quantity {
  int64_t milli = 0;
  QuantityFormat format = QuantityFormat::kDecimalSI;
};

// Parses a quantity exactly (sign, decimals, suffixes n u m k M G T P E Ki..Ei, exponents e3/E-2).
// Fractions below one milli round up, as upstream's MilliValue does. 400 BadRequest on malformed
// input; values beyond int64 milli-units (about 9.2e15 units) are refused too.
StatusOr<Quantity> ParseQuantity(const std::string& text);
StatusOr<int64_t> ParseQuantityMilli(const std::string& text);
// The API also carries quantities as JSON numbers (int-or-string); both are accepted.
StatusOr<Quantity> ParseQuantityJson(const Json& value);

// The canonical string of a quantity: "1500m", "2", "512Mi", "1536Mi", "8G", "2e3".
std::string FormatQuantity(const Quantity& q);
std::string FormatQuantityMilli(int64_t milli, QuantityFormat format = QuantityFormat::kDecimalSI);

}  // namespace skiff::scheduler
