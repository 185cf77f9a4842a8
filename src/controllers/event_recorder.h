// EventRecorder writes core/v1 Events about objects, so `kubectl describe` and `kubectl get
// events` show what controllers did and why. Repeats of the same event (same object, type, reason
// and message within ten minutes) update one Event's count and lastTimestamp instead of creating
// new objects, as client-go's recorder does.
//
// Thread-safety: Event may be called concurrently; calls are serialised so that aggregation is
// exact. Writes are synchronous and failures are logged, never returned: an event is a courtesy,
// not part of any reconcile's correctness.
#pragma once

#include <chrono>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "client/client.h"
#include "common/clock.h"

namespace skiff::controllers {

class EventRecorder {
 public:
  // `component` is the reporting controller ("skiff-scheduler"); `host` the instance. `client` and
  // `clock` must outlive the recorder.
  EventRecorder(client::Client* client, std::string component, std::string host = "",
                Clock* clock = Clock::Real());

  // `involved_object` is the full object (or at least apiVersion, kind and metadata). `type` is
  // "Normal" or "Warning"; `reason` a short CamelCase word.
  void Event(const Json& involved_object, const std::string& type, const std::string& reason,
             const std::string& message);

  static constexpr std::chrono::minutes kAggregationWindow{10};
  static constexpr size_t kMaxCachedEvents = 4096;

 private:
  struct Seen {
    std::string ns;
    std::string name;  // the Event object's name
    int64_t count = 0;
    std::chrono::system_clock::time_point last;
    std::list<std::string>::iterator lru;
  };

  bool Create(const std::string& key, const Json& involved, const std::string& type,
              const std::string& reason, const std::string& message);
  void Remember(const std::string& key, Seen seen);

  client::Client* const client_;
  const std::string component_;
  const std::string host_;
  Clock* const clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Seen> seen_;  // GUARDED_BY(mu_)
  std::list<std::string> lru_;                  // GUARDED_BY(mu_), most recent first
};

// The core/v1 Event resource.
inline const client::Resource kEventsResource{"", "v1", "events"};

// Creates `object`, a child of `owner` (a Pod or Service of a job), in the owner's namespace and
// records upstream's events on the owner: SuccessfulCreate<Kind> ("Created pod: NAME") or
// FailedCreate<Kind> ("Error creating: ..."). An object of that name already there counts as
// created.
Status CreateChild(client::Client* client, EventRecorder& recorder, const Json& owner,
                   const client::Resource& resource, const Json& object);

}  // namespace skiff::controllers
