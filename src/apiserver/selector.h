// Label and field selectors as the Kubernetes list and watch verbs take them.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::apiserver {

// A parsed label selector: equality (`a=b`, `a==b`, `a!=b`) and set-based (`a in (x,y)`,
// `a notin (x)`, `a`, `!a`) requirements, all of which must hold.
class LabelSelector {
 public:
  static StatusOr<LabelSelector> Parse(const std::string& text);
  // From a metav1.LabelSelector object ({matchLabels, matchExpressions}).
  static StatusOr<LabelSelector> FromJson(const Json& selector);

  bool Matches(const Json& labels) const;  // `labels` is metadata.labels (object or null)
  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

// A field selector: `path=value`, `path==value`, `path!=value`, comma-separated. Paths are dotted
// object paths (metadata.name, status.phase, involvedObject.uid); a missing field reads as "".
class FieldSelector {
 public:
  static StatusOr<FieldSelector> Parse(const std::string& text);
  bool Matches(const Json& object) const;
  bool empty() const { return terms_.empty(); }
  // If the selector pins metadata.name (`metadata.name=x`), that name; else "".
  std::string PinnedName() const;

 private:
  struct Term {
    std::string path;
    bool negate;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace skiff::apiserver
