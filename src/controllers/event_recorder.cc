#include "controllers/event_recorder.h"

#include <cctype>
#include <cstdio>

#include "common/log.h"
#include "controllers/object_meta.h"

namespace skiff::controllers {

EventRecorder::EventRecorder(client::Client* client, std::string component, std::string host,
                             Clock* clock)
    : client_(client), component_(std::move(component)), host_(std::move(host)), clock_(clock) {}

void EventRecorder::Remember(const std::string& key, Seen seen) {
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    lru_.erase(it->second.lru);
    seen_.erase(it);
  }
  lru_.push_front(key);
  seen.lru = lru_.begin();
  seen_.emplace(key, std::move(seen));
  while (seen_.size() > kMaxCachedEvents) {
    seen_.erase(lru_.back());
    lru_.pop_back();
  }
}

bool EventRecorder::Create(const std::string& key, const Json& involved, const std::string& type,
                           const std::string& reason, const std::string& message) {
  const auto now = clock_->Now();
  const std::string stamp = FormatRfc3339(now);
  const std::string obj_ns = NamespaceOf(involved);
  // Events about cluster-scoped objects live in "default", as kubectl describe looks for them.
  const std::string ns = obj_ns.empty() ? "default" : obj_ns;
  char hex[32];
  std::snprintf(
      hex, sizeof(hex), "%llx",
      static_cast<unsigned long long>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()));
  const std::string name = NameOf(involved) + "." + hex;

  Json ref = {{"kind", involved.value("kind", "")},
              {"apiVersion", involved.value("apiVersion", "")},
              {"name", NameOf(involved)}};
  if (!obj_ns.empty()) ref["namespace"] = obj_ns;
  if (std::string uid = UidOf(involved); !uid.empty()) ref["uid"] = uid;
  if (std::string rv = ResourceVersionOf(involved); !rv.empty()) ref["resourceVersion"] = rv;

  Json source = {{"component", component_}};
  if (!host_.empty()) source["host"] = host_;
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"involvedObject", ref},
                {"reason", reason},
                {"message", message},
                {"type", type},
                {"source", source},
                {"firstTimestamp", stamp},
                {"lastTimestamp", stamp},
                {"count", 1},
                {"reportingComponent", component_},
                {"reportingInstance", host_.empty() ? component_ : host_}};
  auto created = client_->Create(kEventsResource, ns, event);
  if (!created.ok()) {
    SKIFF_LOG(Warn) << "event " << reason << " for " << ObjectKeyOf(involved)
                    << " not recorded: " << created.status().ToString();
    return false;
  }
  Remember(key, Seen{ns, name, 1, now, {}});
  return true;
}

void EventRecorder::Event(const Json& involved_object, const std::string& type,
                          const std::string& reason, const std::string& message) {
  // Identity of "the same event": the object (uid when known, else kind/ns/name) and what it says.
  std::string object_id = UidOf(involved_object);
  if (object_id.empty()) {
    object_id = involved_object.value("kind", "") + "/" + ObjectKeyOf(involved_object);
  }
  const std::string key = object_id + '\x1f' + type + '\x1f' + reason + '\x1f' + message;

  std::lock_guard<std::mutex> lock(mu_);
  const auto now = clock_->Now();
  auto it = seen_.find(key);
  if (it == seen_.end() || now - it->second.last > kAggregationWindow) {
    Create(key, involved_object, type, reason, message);
    return;
  }
  Seen seen = it->second;
  const int64_t count = seen.count + 1;
  Json patch = {{"count", count}, {"lastTimestamp", FormatRfc3339(now)}};
  auto patched =
      client_->Patch(kEventsResource, seen.ns, seen.name, client::PatchType::kMerge, patch.dump());
  if (!patched.ok()) {
    if (patched.status().code() == Code::kNotFound) {
      // Someone deleted the Event (or it expired): start a new one.
      Create(key, involved_object, type, reason, message);
    } else {
      SKIFF_LOG(Warn) << "event " << reason << " for " << ObjectKeyOf(involved_object)
                      << " not updated: " << patched.status().ToString();
    }
    return;
  }
  seen.count = count;
  seen.last = now;
  Remember(key, std::move(seen));
}

Status CreateChild(client::Client* client, EventRecorder& recorder, const Json& owner,
                   const client::Resource& resource, const Json& object) {
  const std::string kind = object.value("kind", "");
  auto created = client->Create(resource, NamespaceOf(owner), object);
  if (!created.ok()) {
    if (created.status().code() == Code::kAlreadyExists) return Status::Ok();
    recorder.Event(owner, "Warning", "FailedCreate" + kind,
                   "Error creating: " + created.status().message());
    return created.status();
  }
  std::string lower = kind;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  recorder.Event(owner, "Normal", "SuccessfulCreate" + kind,
                 "Created " + lower + ": " + NameOf(object));
  return Status::Ok();
}

}  // namespace skiff::controllers
