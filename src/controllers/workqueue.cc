#include "controllers/workqueue.h"

namespace skiff::controllers {

std::chrono::milliseconds RateLimiter::When(const std::string& item) {
  int n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = failures_[item]++;
  }
  // Doubling past the cap would overflow; stop doubling once the cap is reached.
  auto delay = base_;
  for (int i = 0; i < n && delay < max_; ++i) delay *= 2;
  return delay < max_ ? delay : max_;
}

void RateLimiter::Forget(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(item);
}

int RateLimiter::NumRequeues(const std::string& item) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::AddLocked(const std::string& item) {
  if (shutting_down_ || dirty_.count(item)) return;
  dirty_.insert(item);
  if (processing_.count(item)) return;  // Done re-queues it
  queue_.push_back(item);
  cv_.notify_one();
}

void WorkQueue::Add(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(item);
}

void WorkQueue::AddAfter(const std::string& item, std::chrono::milliseconds delay) {
  if (delay <= std::chrono::milliseconds(0)) {
    Add(item);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  const auto at = Clock::now() + delay;
  auto it = delayed_at_.find(item);
  if (it != delayed_at_.end()) {
    if (it->second <= at) return;
    // Move the item earlier.
    auto range = delayed_.equal_range(it->second);
    for (auto d = range.first; d != range.second; ++d) {
      if (d->second == item) {
        delayed_.erase(d);
        break;
      }
    }
  }
  delayed_at_[item] = at;
  delayed_.emplace(at, item);
  // A waiting Get may need to wake earlier than it planned.
  cv_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& item) { AddAfter(item, limiter_.When(item)); }

void WorkQueue::PromoteDueLocked(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string item = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayed_at_.erase(item);
    AddLocked(item);
  }
}

bool WorkQueue::Get(std::string* item) { return GetUntil(item, nullptr); }

bool WorkQueue::TryGet(std::string* item, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  return GetUntil(item, &deadline);
}

bool WorkQueue::GetUntil(std::string* item, const Clock::time_point* deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (shutting_down_) return false;
    const auto now = Clock::now();
    PromoteDueLocked(now);
    if (!queue_.empty()) {
      *item = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(*item);
      processing_.insert(*item);
      return true;
    }
    if (deadline && now >= *deadline) return false;
    // Sleep until the next delayed item is due, the caller's deadline, or a notification.
    std::optional<Clock::time_point> wake;
    if (!delayed_.empty()) wake = delayed_.begin()->first;
    if (deadline && (!wake || *deadline < *wake)) wake = *deadline;
    if (wake) {
      cv_.wait_until(lock, *wake);
    } else {
      cv_.wait(lock);
    }
  }
}

void WorkQueue::Done(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(item);
  if (dirty_.count(item) && !shutting_down_) {
    queue_.push_back(item);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    queue_.clear();
    dirty_.clear();
    delayed_.clear();
    delayed_at_.clear();
  }
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

}  // namespace skiff::controllers
