// Events expire: kube-apiserver keeps an Event for --event-ttl (1 h by default) and then drops
// it. Without that, every Pod start leaving a handful of Events would grow the store (and the
// memory that indexes it) forever. The collector sweeps the Events in pages every `interval` and
// deletes those whose last occurrence is older than `ttl`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "client/client.h"
#include "common/clock.h"
#include "controllers/manager.h"

namespace skiff::controllers {

struct EventTtlOptions {
  std::chrono::seconds ttl{3600};
  std::chrono::milliseconds interval{60000};
  int64_t page_size = 500;
};

class EventTtlCollector : public Runnable {
 public:
  // `client` and `clock` must outlive the collector.
  EventTtlCollector(client::Client* client, EventTtlOptions options = {},
                    Clock* clock = Clock::Real());
  ~EventTtlCollector() override;

  void Start() override;
  void Stop() override;

  // One sweep; returns how many Events it deleted. Public for tests.
  int64_t SweepOnce();

 private:
  void Run();

  client::Client* const client_;
  const EventTtlOptions options_;
  Clock* const clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace skiff::controllers
