// One background thread running callbacks at deadlines (watch timeouts, bookmarks, resyncs).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace skiff {

class TimerQueue {
 public:
  TimerQueue();
  ~TimerQueue();  // cancels everything pending and joins

  // Runs `fn` on the timer thread after `delay`. Callbacks must be short.
  uint64_t RunAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  // Pending callbacks never run after Cancel returns (unless already running).
  void Cancel(uint64_t id);

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<TimePoint, std::pair<uint64_t, std::function<void()>>> pending_;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                                                          // GUARDED_BY(mu_)
  bool stop_ = false;                                                             // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace skiff
