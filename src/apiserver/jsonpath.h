// The JSONPath subset CRD printer columns use: `.a.b`, `.a[0]`, `.a[-1:]`, `.a[*].b`,
// `.a[?(@.type=="Ready")].status`, and `['key.with.dots']`.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"

namespace skiff::apiserver {

// All values the path selects, in document order (empty when none).
std::vector<Json> EvalJsonPath(const Json& root, const std::string& path);

}  // namespace skiff::apiserver
