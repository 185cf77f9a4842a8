// ResourceQuota accounting shared by quota admission and the quota controller: which objects a
// quota key counts, what one object adds, a namespace's usage from live objects, and upstream's
// wording of quota errors.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "scheduler/resources.h"

namespace skiff::scheduler {

// The collection a quota key counts objects of: "requests.cpu" -> pods, "requests.storage" ->
// persistentvolumeclaims, "count/jobs.batch" -> jobs in group batch, "configmaps" -> configmaps.
struct Collection {
  std::string group;
  std::string plural;
  bool operator<(const Collection& o) const {
    return group != o.group ? group < o.group : plural < o.plural;
  }
};
bool CollectionOfKey(const std::string& key, Collection* out);

// What one object of `c` adds to each of `keys` (zero entries omitted). Terminal Pods add nothing.
ResourceList ObjectUsage(const Collection& c, const Json& obj,
                         const std::vector<std::string>& keys);

// Upstream's "must specify" check: when a quota limits cpu/memory requests or limits, every
// container must state them. Returns "" or e.g. "limits.cpu for: main; limits.memory for: main".
std::string MissingPodConstraints(const Json& pod, const std::vector<std::string>& keys);

// Lists the objects of a collection in a namespace.
using CollectionLister =
    std::function<StatusOr<std::vector<Json>>(const Collection& c, const std::string& ns)>;
// The usage of `keys` in `ns` from live objects. Keys whose collection cannot be listed are left
// out of the result (the caller keeps what it had for them).
ResourceList NamespaceUsage(const std::vector<std::string>& keys, const std::string& ns,
                            const CollectionLister& list);

// A ResourceList as the API writes it ({"requests.cpu": "1500m", ...}).
Json ResourceListToJson(const ResourceList& list);
// "requests.cpu=2,requests.memory=1Gi": sorted, comma-joined, as upstream's quota errors print.
std::string PrettyPrint(const ResourceList& list);

// Quota admission in this process notes when it charged a quota, so the quota controller does not
// undo a charge for an object that is admitted but not yet stored (upstream lives with that race;
// in one process it can be closed). Thread-safe.
class QuotaChargeLog {
 public:
  static void Record(const std::string& ns, const std::string& name);
  static bool ChargedWithin(const std::string& ns, const std::string& name,
                            std::chrono::milliseconds window);
};

}  // namespace skiff::scheduler
