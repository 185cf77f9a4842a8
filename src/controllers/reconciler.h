// The reconciler contract (controller-runtime's): a reconciler gets the key of one object, reads
// the current state, takes one step toward the desired state, and says whether to come back. It
// never sees the event that woke it, so it must be idempotent and level-triggered.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/status.h"

namespace skiff::controllers {

struct Request {
  std::string ns;  // "" for cluster-scoped objects
  std::string name;
  bool operator==(const Request& o) const { return ns == o.ns && name == o.name; }
};

struct Result {
  // Come back after the queue's per-item back-off.
  bool requeue = false;
  // Come back after this long (timers: timeouts, polling an external state); takes precedence.
  std::chrono::milliseconds requeue_after{0};
};

// Returning an error retries the request with per-item exponential back-off (5ms .. 1000s). A
// reconciler that can make no progress until something changes should record why in the object's
// status and return a Result without requeue: the next change to a watched object wakes it.
//
// Thread-safety: a controller with several workers calls Reconcile concurrently, but never for
// the same Request at the same time.
class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual StatusOr<Result> Reconcile(const Request& request) = 0;
};

using ReconcileFunc = std::function<StatusOr<Result>(const Request&)>;

}  // namespace skiff::controllers
