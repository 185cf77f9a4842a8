// Maps what a user types (`tfjobs`, `tfjob`, `TFJob`, `tfjob.kubeflow.org`, `isvc`) or what a
// manifest says (apiVersion + kind) to the REST resource that serves it, from the server's
// discovery documents, so the CLI knows every kind the server has (CRDs included) without a table
// compiled in.
#pragma once

#include <string>
#include <vector>

#include "client/client.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::cli {

struct Mapping {
  client::Resource resource;
  std::string kind;      // "TFJob"
  std::string singular;  // "tfjob"
  std::vector<std::string> short_names;
  std::vector<std::string> categories;  // "all", "kubeflow", ...
  bool namespaced = true;

  // "tfjobs.kubeflow.org", "configmaps": how error messages and `delete` name the resource.
  std::string GroupResource() const;
  // "tfjob.kubeflow.org", "configmap": the prefix of `-o name` and of apply's output.
  std::string KindGroup() const;
  // "kubeflow.org/v1", "v1".
  std::string ApiVersion() const;
};

class RestMapper {
 public:
  RestMapper() = default;
  explicit RestMapper(std::vector<Mapping> mappings) : mappings_(std::move(mappings)) {}

  // Reads aggregated discovery documents (APIGroupDiscoveryList, from GET /api and GET /apis).
  // Groups and versions keep the server's order, so the preferred version of a group wins.
  static StatusOr<RestMapper> FromAggregatedDiscovery(const Json& core, const Json& groups);

  // A resource argument: plural, singular, kind or short name, case-insensitive, optionally
  // qualified as `name.group` or `name.version.group`.
  StatusOr<Mapping> ForArg(const std::string& arg) const;
  // Every resource in a category (`all`, `kubeflow`), in discovery order, one version per group;
  // empty when none is.
  std::vector<Mapping> ForCategory(const std::string& category) const;
  // The resource that serves `kind` in `api_version` ("kubeflow.org/v1", "v1").
  StatusOr<Mapping> ForKind(const std::string& api_version, const std::string& kind) const;

  const std::vector<Mapping>& mappings() const { return mappings_; }

 private:
  std::vector<Mapping> mappings_;
};

}  // namespace skiff::cli
