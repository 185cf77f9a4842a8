// The work queue between a controller's event handlers and its workers, as client-go's: an item
// is queued at most once however many events name it, is never processed by two workers at once,
// and failures come back after a per-item exponential back-off.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

namespace skiff::controllers {

// Per-item exponential back-off: base * 2^failures, capped (client-go's default: 5ms .. 1000s).
// Thread-safety: all methods may be called concurrently.
class RateLimiter {
 public:
  explicit RateLimiter(std::chrono::milliseconds base = std::chrono::milliseconds(5),
                       std::chrono::milliseconds max = std::chrono::seconds(1000))
      : base_(base), max_(max) {}

  // The delay before `item` is retried, counting this as one more failure.
  std::chrono::milliseconds When(const std::string& item);
  // Clears the failure count (after a success).
  void Forget(const std::string& item);
  int NumRequeues(const std::string& item) const;

 private:
  const std::chrono::milliseconds base_, max_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> failures_;  // GUARDED_BY(mu_)
};

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WorkQueue(std::chrono::milliseconds base_delay = std::chrono::milliseconds(5),
                     std::chrono::milliseconds max_delay = std::chrono::seconds(1000))
      : limiter_(base_delay, max_delay) {}

  // Queues `item` unless it is already waiting. An item being processed is queued again when its
  // worker calls Done, so a change seen mid-reconcile is never lost.
  void Add(const std::string& item);
  // Queues `item` after `delay`; if it is already waiting for a later time, the earlier wins.
  void AddAfter(const std::string& item, std::chrono::milliseconds delay);
  // Queues `item` after its back-off (see RateLimiter).
  void AddRateLimited(const std::string& item);
  void Forget(const std::string& item) { limiter_.Forget(item); }
  int NumRequeues(const std::string& item) const { return limiter_.NumRequeues(item); }

  // Blocks until an item is ready and hands it to the caller, who must call Done with it. Returns
  // false once ShutDown was called.
  bool Get(std::string* item);
  // Blocks for at most `timeout`; false on time-out or shut-down.
  bool TryGet(std::string* item, std::chrono::milliseconds timeout);
  void Done(const std::string& item);

  // Wakes every Get; pending and delayed items are dropped, later Adds are ignored.
  void ShutDown();
  bool shutting_down() const;
  // Items ready now (not counting delayed ones or those being processed).
  size_t Len() const;

 private:
  bool GetUntil(std::string* item, const Clock::time_point* deadline);
  void PromoteDueLocked(Clock::time_point now);
  void AddLocked(const std::string& item);

  RateLimiter limiter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;                          // GUARDED_BY(mu_)
  std::set<std::string> dirty_;                            // GUARDED_BY(mu_): queued or re-queued
  std::set<std::string> processing_;                       // GUARDED_BY(mu_)
  std::multimap<Clock::time_point, std::string> delayed_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, Clock::time_point> delayed_at_;  // GUARDED_BY(mu_)
  bool shutting_down_ = false;                                     // GUARDED_BY(mu_)
};

}  // namespace skiff::controllers
