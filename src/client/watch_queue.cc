#include "client/watch_queue.h"

namespace skiff::client {

bool WatchQueue::Push(WatchEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || stopped_) return false;
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
  return true;
}

void WatchQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

void WatchQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    events_.clear();
  }
  cv_.notify_all();
}

bool WatchQueue::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

bool WatchQueue::Next(WatchEvent* event, std::chrono::milliseconds timeout, bool* timed_out) {
  if (timed_out) *timed_out = false;
  auto wait_until = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (stopped_) return false;
    const auto now = std::chrono::steady_clock::now();
    // timeoutSeconds ends the stream even while events keep coming, as the server would.
    if (deadline_ && now >= *deadline_) return false;
    if (!events_.empty()) {
      *event = std::move(events_.front());
      events_.pop_front();
      return true;
    }
    if (closed_) return false;
    if (now >= wait_until) {
      if (timed_out) *timed_out = true;
      return false;
    }
    auto until = wait_until;
    if (deadline_ && *deadline_ < until) until = *deadline_;
    cv_.wait_until(lock, until);
  }
}

}  // namespace skiff::client
