// What a Pod asks of a node and of a quota: per-resource amounts in milli-units, computed the way
// upstream does (effective requests over init and regular containers, limits-as-requests
// defaulting, overhead), plus the small Pod readers the scheduler and quota share.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/json.h"

namespace skiff::scheduler {

// Resource name -> milli-units ("cpu" 1500 = 1.5 cores; "memory" 1024000 = 1Ki; "pods" 1000 = one).
using ResourceList = std::map<std::string, int64_t>;

// Parses a ResourceList object; entries that are not quantities are skipped.
ResourceList ParseResourceList(const Json* list);

// Upstream defaulting: a container's requests take its limits for every resource it limits but
// does not request. Applies to containers and initContainers of `pod`.
void DefaultRequestsFromLimits(Json* pod);

// The effective requests (or limits) of a Pod: the larger of the sum over regular containers (plus
// restartable init "sidecar" containers) and each init container's own amount (plus the sidecars
// started before it), plus spec.overhead. Requests are defaulted from limits as above.
ResourceList PodRequests(const Json& pod);
ResourceList PodLimits(const Json& pod);

void Add(ResourceList* into, const ResourceList& x);
void Subtract(ResourceList* from, const ResourceList& x);

// The canonical string of an amount of `resource`: cpu and counts in decimal ("1500m", "2"),
// byte amounts in whichever of binary or decimal form is shorter ("512Mi", "1G").
std::string FormatResource(const std::string& resource, int64_t milli);

// Pod readers tolerant of missing fields.
std::string PodPhase(const Json& pod);
bool IsTerminal(const Json& pod);  // Succeeded or Failed
std::string NodeNameOf(const Json& pod);
bool IsDeletingPod(const Json& pod);

}  // namespace skiff::scheduler
