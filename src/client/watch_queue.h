// A WatchStream fed from another thread: the in-process watch's store thread and the HTTP watch's
// reader thread push events; the consumer pops them with Next. Shared by both Client
// implementations so they end, time out and stop the same way.
//
// Thread-safety: all methods may be called concurrently. Push never blocks (the store thread that
// feeds an in-process watch must not), so the queue is unbounded; a consumer that stops reading
// should Stop the stream.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "client/client.h"

namespace skiff::client {

class WatchQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `deadline`: the stream ends then (a watch's timeoutSeconds); nullopt: never.
  explicit WatchQueue(std::optional<TimePoint> deadline = std::nullopt) : deadline_(deadline) {}

  // Returns false once the queue is closed, telling the producer to stop.
  bool Push(WatchEvent event);
  // Ends the stream after the events already queued have been read.
  void Close();
  // Ends the stream now, dropping queued events.
  void Stop();
  bool stopped() const;
  // WatchStream::Next semantics.
  bool Next(WatchEvent* event, std::chrono::milliseconds timeout, bool* timed_out);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> events_;  // GUARDED_BY(mu_)
  bool closed_ = false;            // GUARDED_BY(mu_)
  bool stopped_ = false;           // GUARDED_BY(mu_)
  const std::optional<TimePoint> deadline_;
};

}  // namespace skiff::client
