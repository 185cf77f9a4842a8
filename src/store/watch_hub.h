// Fans committed events out to watch sinks on one notifier thread, so a slow commit path never runs
// user code and every sink sees its events in revision order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace skiff::store {

// Thread-safety: all methods are safe to call concurrently. The hub is shared (shared_ptr) by the
// store and every Watch handle it returned, so a handle may outlive the store; after Stop() handles
// only mark themselves cancelled.
class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  WatchHub();
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Registers a watcher that receives events under `prefix` with revision > `after`. If `ready` is
  // false, events are buffered until Activate() supplies the replayed history that precedes them.
  // Callers that need "no gap, no duplicate" must call this atomically with respect to Publish.
  std::unique_ptr<Watch> Add(std::string prefix, int64_t after, EventSink sink,
                             std::vector<Event> backlog, bool ready, uint64_t* id);

  // Prepends `history` (all older than any buffered event) and starts delivery.
  void Activate(uint64_t id, std::vector<Event> history);

  // Queues committed events (ascending revisions, called in commit order) for matching watchers.
  void Publish(const std::vector<Event>& events);

  // Cancels watcher `id`; waits for an in-flight delivery unless called from a sink.
  void Cancel(uint64_t id);

  // Stops the notifier thread and drops every watcher. Idempotent.
  void Stop();

 private:
  struct Watcher {
    uint64_t id = 0;
    std::string prefix;
    int64_t after = 0;
    EventSink sink;
    std::vector<Event> pending;
    bool ready = false;
    bool queued = false;  // in runnable_
    bool delivering = false;
    bool cancelled = false;  // cancelled by its own sink; dropped once the delivery returns
  };

  void Run();
  void MakeRunnableLocked(Watcher* w);

  std::mutex mu_;
  std::condition_variable wake_;  // notifier: work or stop
  std::condition_variable idle_;  // Cancel: a delivery finished
  // GUARDED_BY(mu_), as is every Watcher field except `sink`, which only the notifier calls.
  std::unordered_map<uint64_t, std::unique_ptr<Watcher>> watchers_;
  std::deque<uint64_t> runnable_;  // GUARDED_BY(mu_); a cancelled id is skipped
  uint64_t next_id_ = 1;           // GUARDED_BY(mu_)
  bool stopped_ = false;           // GUARDED_BY(mu_)
  std::thread thread_;
  std::thread::id notifier_id_;  // written once before any other thread can see the hub
};

}  // namespace skiff::store
