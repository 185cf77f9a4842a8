// Server-side printing: meta.k8s.io/v1 Table responses (what `kubectl get` renders) from a
// resource's printer columns, with built-in printers for the core kinds kubectl users know.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "api/resource.h"
#include "common/json.h"

namespace skiff::apiserver {

struct TableOptions {
  bool include_object = true;  // rows carry PartialObjectMetadata (includeObject=Metadata)
  bool full_object = false;    // includeObject=Object
  std::chrono::system_clock::time_point now;
};

// `list_metadata` becomes the Table's metadata (resourceVersion, continue).
Json ToTable(const api::ResourceInfo& res, const std::vector<Json>& objects,
             const Json& list_metadata, const TableOptions& options);

}  // namespace skiff::apiserver
