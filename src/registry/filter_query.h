// The Model Registry's `filterQuery`: a SQL-like predicate over an entity's REST JSON, e.g.
// `name = 'mnist' AND state = "LIVE"`, `name LIKE 'mnist%'`, `accuracy > 0.9`,
// `framework.string_value = 'pytorch'`, `` `mlflow.source.type` = "notebook" ``.
#pragma once

#include <memory>
#include <string>

#include "common/json.h"
#include "common/status.h"

namespace skiff::registry {

// A parsed filterQuery. Immutable; Matches is thread-safe.
class FilterQuery {
 public:
  struct Node;
  ~FilterQuery();
  FilterQuery(FilterQuery&&) noexcept;

  // An empty query matches everything. Errors are kBadRequest and say where parsing stopped.
  static StatusOr<FilterQuery> Parse(const std::string& query);

  // `entity` is the REST representation (name, id, state, customProperties, ...). A name that is
  // not a top-level field is looked up in customProperties (`customProperties.` may prefix it).
  bool Matches(const Json& entity) const;

 private:
  explicit FilterQuery(std::unique_ptr<Node> root);
  std::unique_ptr<Node> root_;
};

}  // namespace skiff::registry
