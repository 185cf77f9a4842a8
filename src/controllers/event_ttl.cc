// Deletes Events older than their time to live (see event_ttl.h).
#include "controllers/event_ttl.h"

#include "common/log.h"
#include "controllers/event_recorder.h"

namespace skiff::controllers {
namespace {

// When the Event last happened: lastTimestamp (core/v1), else eventTime (events.k8s.io style),
// else its creation.
bool LastSeen(const Json& event, std::chrono::system_clock::time_point* out) {
  for (const char* path : {"lastTimestamp", "eventTime", "metadata.creationTimestamp"}) {
    const Json* v = FindPath(event, path);
    if (v && v->is_string() && ParseRfc3339(v->get<std::string>(), out)) return true;
  }
  return false;
}

}  // namespace

EventTtlCollector::EventTtlCollector(client::Client* client, EventTtlOptions options, Clock* clock)
    : client_(client), options_(options), clock_(clock) {}

EventTtlCollector::~EventTtlCollector() { Stop(); }

void EventTtlCollector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void EventTtlCollector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventTtlCollector::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) break;
    lock.unlock();
    const int64_t deleted = SweepOnce();
    if (deleted > 0) {
      SKIFF_LOG(Debug) << "event ttl: deleted " << deleted << " expired events";
    }
    lock.lock();
  }
}

int64_t EventTtlCollector::SweepOnce() {
  const auto cutoff = clock_->Now() - options_.ttl;
  int64_t deleted = 0;
  client::ListOptions lo;
  lo.limit = options_.page_size;
  do {
    auto page = client_->List(kEventsResource, "", lo);
    if (!page.ok()) {
      SKIFF_LOG(Warn) << "event ttl: listing events: " << page.status().ToString();
      return deleted;
    }
    const Json* items = FindPath(*page, "items");
    if (items && items->is_array()) {
      for (const Json& e : *items) {
        std::chrono::system_clock::time_point seen;
        if (!LastSeen(e, &seen) || seen > cutoff) continue;
        client::DeleteOptions del;
        del.precondition_uid = FindPath(e, "metadata.uid") ? e["metadata"].value("uid", "") : "";
        auto r = client_->Delete(kEventsResource, e["metadata"].value("namespace", ""),
                                 e["metadata"].value("name", ""), del);
        if (r.ok()) ++deleted;
      }
    }
    const Json* next = FindPath(*page, "metadata.continue");
    lo.continue_token = next && next->is_string() ? next->get<std::string>() : "";
  } while (!lo.continue_token.empty());
  return deleted;
}

}  // namespace skiff::controllers
