// WatchHub: per-watcher queues drained by one notifier thread.
#include "store/watch_hub.h"

#include <utility>

namespace skiff::store {
namespace {

class HubWatch : public Watch {
 public:
  HubWatch(std::shared_ptr<WatchHub> hub, uint64_t id) : hub_(std::move(hub)), id_(id) {}
  ~HubWatch() override { Cancel(); }
  void Cancel() override { hub_->Cancel(id_); }

 private:
  std::shared_ptr<WatchHub> hub_;
  uint64_t id_;
};

}  // namespace

WatchHub::WatchHub() {
  thread_ = std::thread([this] { Run(); });
  notifier_id_ = thread_.get_id();
}

WatchHub::~WatchHub() { Stop(); }

std::unique_ptr<Watch> WatchHub::Add(std::string prefix, int64_t after, EventSink sink,
                                     std::vector<Event> backlog, bool ready, uint64_t* id) {
  std::lock_guard<std::mutex> l(mu_);
  auto w = std::make_unique<Watcher>();
  w->id = next_id_++;
  w->prefix = std::move(prefix);
  w->after = after;
  w->sink = std::move(sink);
  w->pending = std::move(backlog);
  w->ready = ready && !stopped_;
  Watcher* raw = w.get();
  if (!stopped_) watchers_.emplace(raw->id, std::move(w));
  if (raw->ready && !raw->pending.empty()) MakeRunnableLocked(raw);
  if (id != nullptr) *id = raw->id;
  uint64_t assigned = raw->id;
  return std::make_unique<HubWatch>(shared_from_this(), assigned);
}

void WatchHub::Activate(uint64_t id, std::vector<Event> history) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return;
  Watcher* w = it->second.get();
  if (!w->pending.empty()) {
    history.insert(history.end(), std::make_move_iterator(w->pending.begin()),
                   std::make_move_iterator(w->pending.end()));
  }
  w->pending = std::move(history);
  w->ready = true;
  if (!w->pending.empty()) MakeRunnableLocked(w);
}

void WatchHub::Publish(const std::vector<Event>& events) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [id, w] : watchers_) {
    if (w->cancelled) continue;
    bool added = false;
    for (const Event& e : events) {
      if (e.record.revision <= w->after) continue;
      if (std::string_view(e.record.key).substr(0, w->prefix.size()) != w->prefix) continue;
      w->pending.push_back(e);
      added = true;
    }
    if (added && w->ready) MakeRunnableLocked(w.get());
  }
}

void WatchHub::MakeRunnableLocked(Watcher* w) {
  if (w->queued) return;
  w->queued = true;
  runnable_.push_back(w->id);
  wake_.notify_one();
}

void WatchHub::Cancel(uint64_t id) {
  std::unique_ptr<Watcher> dead;
  {
    std::unique_lock<std::mutex> l(mu_);
    const bool on_notifier = std::this_thread::get_id() == notifier_id_;
    while (true) {
      auto it = watchers_.find(id);
      if (it == watchers_.end()) return;
      Watcher* w = it->second.get();
      if (!w->delivering) {
        dead = std::move(it->second);
        watchers_.erase(it);
        break;
      }
      if (on_notifier) {
        // A sink cancelling itself: Run drops it when the sink returns, and calls no sink after.
        w->cancelled = true;
        return;
      }
      idle_.wait(l);
    }
  }
  // The sink's destructor runs user code; never under mu_.
  dead.reset();
}

void WatchHub::Stop() {
  std::unordered_map<uint64_t, std::unique_ptr<Watcher>> dead;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopped_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) {
    if (std::this_thread::get_id() == notifier_id_) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    dead.swap(watchers_);
    runnable_.clear();
    idle_.notify_all();
  }
}

void WatchHub::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    wake_.wait(l, [this] { return stopped_ || !runnable_.empty(); });
    if (stopped_) return;
    const uint64_t id = runnable_.front();
    runnable_.pop_front();
    auto it = watchers_.find(id);
    if (it == watchers_.end()) continue;
    Watcher* w = it->second.get();
    w->queued = false;
    if (!w->ready || w->pending.empty() || w->cancelled) continue;
    std::vector<Event> batch = std::move(w->pending);
    w->pending.clear();
    w->delivering = true;
    l.unlock();
    // `w` stays valid: Cancel from another thread waits for `delivering` to clear, and a Cancel
    // from inside the sink only marks it.
    const bool keep = w->sink(batch);
    batch.clear();
    l.lock();
    w->delivering = false;
    std::unique_ptr<Watcher> dead;
    if (!keep || w->cancelled) {
      dead = std::move(watchers_[id]);
      watchers_.erase(id);
    }
    idle_.notify_all();
    if (dead) {
      l.unlock();
      dead.reset();
      l.lock();
    }
  }
}

}  // namespace skiff::store
