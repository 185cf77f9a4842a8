// `skiff apply`'s patch computation, exposed for tests.
#pragma once

#include "common/json.h"

namespace skiff::cli {

inline constexpr char kLastAppliedAnnotation[] = "kubectl.kubernetes.io/last-applied-configuration";

// kubectl's three-way JSON merge patch: set what `modified` adds or changes relative to `current`
// (the live object), and delete (null) what `original` (the last applied configuration) had and
// `modified` no longer has. Fields only the server or other writers set are left alone. Lists are
// replaced whole, as JSON merge patch does, except that a list unchanged since the last apply
// which the live object still holds (plus server defaults) is left out. Returns an empty object
// when nothing changes.
Json ThreeWayMergePatch(const Json& original, const Json& modified, const Json& current);

}  // namespace skiff::cli
