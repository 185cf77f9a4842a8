// IndexedStore: group commit over a Log, the live index, the event ring and watch registration.
#include "store/indexed_store.h"

#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include "common/log.h"

namespace skiff::store {
namespace {

bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string Quoted(std::string_view key) { return "\"" + std::string(key) + "\""; }

Status TooOld(int64_t revision, int64_t compacted) {
  return Status::Gone("too old resource version: " + std::to_string(revision) + " (" +
                      std::to_string(compacted) + ")");
}

EventType TypeOf(const LogRow& row) {
  if (row.deleted) return EventType::kDeleted;
  return row.create_revision == row.revision ? EventType::kCreated : EventType::kUpdated;
}

}  // namespace

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;
}

StatusOr<std::unique_ptr<Store>> IndexedStore::Open(std::unique_ptr<Log> log,
                                                    const IndexedStoreOptions& options) {
  StatusOr<LogState> state = log->Load();
  if (!state.ok()) return state.status();
  std::unique_ptr<IndexedStore> store(new IndexedStore(std::move(log), options));
  for (Record& r : state->live) {
    std::string key = r.key;
    store->live_.emplace(std::move(key), std::move(r));
  }
  store->current_revision_ = state->current_revision;
  store->ring_floor_ = state->current_revision;
  store->compacted_revision_ = state->compacted_revision;
  if (options.compaction_interval_ms > 0) {
    store->compactor_ = std::thread([s = store.get()] { s->CompactionLoop(); });
  }
  return std::unique_ptr<Store>(std::move(store));
}

IndexedStore::IndexedStore(std::unique_ptr<Log> log, const IndexedStoreOptions& options)
    : options_(options), log_(std::move(log)), hub_(std::make_shared<WatchHub>()) {}

IndexedStore::~IndexedStore() {
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (compactor_.joinable()) compactor_.join();
  hub_->Stop();
}

StatusOr<Record> IndexedStore::Create(std::string_view key, const Encoder& value) {
  return Write(OpKind::kCreate, key, 0, value);
}

StatusOr<Record> IndexedStore::Update(std::string_view key, int64_t expected_revision,
                                      const Encoder& value) {
  return Write(OpKind::kUpdate, key, expected_revision, value);
}

StatusOr<Record> IndexedStore::Delete(std::string_view key, int64_t expected_revision,
                                      const Encoder& tombstone) {
  return Write(OpKind::kDelete, key, expected_revision, tombstone);
}

StatusOr<Record> IndexedStore::Write(OpKind kind, std::string_view key, int64_t expected_revision,
                                     const Encoder& encoder) {
  Writer w{kind, key, expected_revision, &encoder};
  std::unique_lock<std::mutex> l(queue_mu_);
  writers_.push_back(&w);
  w.cv.wait(l, [&] { return w.done || writers_.front() == &w; });
  if (w.done) return std::move(w.result);

  // Leader: take everyone queued so far; later arrivals form the next batch.
  std::vector<Writer*> batch;
  for (Writer* x : writers_) {
    batch.push_back(x);
    if (batch.size() >= options_.max_batch) break;
  }
  l.unlock();
  CommitBatch(batch);
  l.lock();
  for (size_t i = 0; i < batch.size(); ++i) {
    Writer* x = writers_.front();
    writers_.pop_front();
    if (x != &w) {
      x->done = true;
      x->cv.notify_one();
    }
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return std::move(w.result);
}

void IndexedStore::CommitBatch(const std::vector<Writer*>& batch) {
  struct Current {
    bool exists = false;
    int64_t revision = 0;
    int64_t create_revision = 0;
  };
  std::vector<LogRow> rows;
  std::vector<Writer*> accepted;
  // Keys written earlier in this batch, to their row: later writes in the batch must see them.
  std::map<std::string_view, size_t> touched;
  int64_t next;
  {
    std::shared_lock<std::shared_mutex> l(index_mu_);
    next = current_revision_ + 1;
  }
  for (Writer* w : batch) {
    Current cur;
    if (auto t = touched.find(w->key); t != touched.end()) {
      const LogRow& row = rows[t->second];
      cur = {!row.deleted, row.revision, row.create_revision};
    } else {
      std::shared_lock<std::shared_mutex> l(index_mu_);
      if (auto it = live_.find(w->key); it != live_.end()) {
        cur = {true, it->second.revision, it->second.create_revision};
      }
    }
    if (w->kind == OpKind::kCreate) {
      if (cur.exists) {
        w->result = Status::AlreadyExists(Quoted(w->key) + " already exists");
        continue;
      }
    } else {
      if (!cur.exists) {
        w->result = Status::NotFound(Quoted(w->key) + " not found");
        continue;
      }
      if (w->expected_revision != 0 && w->expected_revision != cur.revision) {
        w->result =
            Status::Conflict(Quoted(w->key) + " has revision " + std::to_string(cur.revision) +
                             ", expected " + std::to_string(w->expected_revision));
        continue;
      }
    }
    LogRow row;
    try {
      row.value = (*w->encoder)(next);
    } catch (const std::exception& e) {
      w->result = Status::Internal(std::string("encoding ") + Quoted(w->key) + ": " + e.what());
      continue;
    }
    row.revision = next++;
    row.key = std::string(w->key);
    row.deleted = w->kind == OpKind::kDelete;
    row.create_revision = w->kind == OpKind::kCreate ? row.revision : cur.create_revision;
    row.prev_revision = cur.exists ? cur.revision : 0;
    touched[w->key] = rows.size();
    rows.push_back(std::move(row));
    accepted.push_back(w);
  }
  if (rows.empty()) return;

  if (Status st = log_->Append(rows); !st.ok()) {
    for (Writer* w : accepted) w->result = st;
    return;
  }

  std::vector<Event> events;
  events.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const LogRow& row = rows[i];
    Event e{TypeOf(row), Record{row.key, row.value, row.revision, row.create_revision}};
    accepted[i]->result = e.record;
    events.push_back(std::move(e));
  }
  std::unique_lock<std::shared_mutex> l(index_mu_);
  for (LogRow& row : rows) {
    if (row.deleted) {
      live_.erase(row.key);
      continue;
    }
    Record& r = live_[row.key];
    r.key = std::move(row.key);
    r.value = std::move(row.value);
    r.revision = row.revision;
    r.create_revision = row.create_revision;
  }
  current_revision_ = events.back().record.revision;
  for (const Event& e : events) ring_.push_back(e);
  while (ring_.size() > options_.event_ring_capacity) {
    ring_floor_ = ring_.front().record.revision;
    ring_.pop_front();
  }
  // Under index_mu_ so that a watch registering concurrently sees each event either in the ring
  // or live, never both or neither.
  hub_->Publish(events);
}

StatusOr<Record> IndexedStore::Get(std::string_view key) {
  std::shared_lock<std::shared_mutex> l(index_mu_);
  auto it = live_.find(key);
  if (it == live_.end()) return Status::NotFound(Quoted(key) + " not found");
  return it->second;
}

StatusOr<ListResult> IndexedStore::List(const ListOptions& options) {
  std::shared_lock<std::shared_mutex> l(index_mu_);
  if (options.revision != 0 && options.revision != current_revision_) {
    const int64_t current = current_revision_;
    l.unlock();
    if (options.revision > current) {
      return Status(Code::kTimeout,
                    "Too large resource version: " + std::to_string(options.revision) +
                        ", current resource version: " + std::to_string(current));
    }
    if (options.revision <= compacted_revision_) {
      return TooOld(options.revision, compacted_revision_);
    }
    return log_->ListAt(options, options.revision);
  }
  ListResult result;
  result.revision = current_revision_;
  auto it = options.start_after.empty() || options.start_after < options.prefix
                ? live_.lower_bound(options.prefix)
                : live_.upper_bound(options.start_after);
  for (; it != live_.end() && HasPrefix(it->first, options.prefix); ++it) {
    if (options.limit > 0 && static_cast<int64_t>(result.records.size()) == options.limit) {
      result.more = true;
      break;
    }
    result.records.push_back(it->second);
  }
  return result;
}

int64_t IndexedStore::Count(std::string_view prefix) {
  std::shared_lock<std::shared_mutex> l(index_mu_);
  int64_t n = 0;
  for (auto it = live_.lower_bound(prefix); it != live_.end() && HasPrefix(it->first, prefix);
       ++it) {
    ++n;
  }
  return n;
}

StatusOr<std::unique_ptr<Watch>> IndexedStore::WatchPrefix(std::string_view prefix,
                                                           int64_t after_revision, EventSink sink) {
  std::shared_lock<std::shared_mutex> l(index_mu_);
  const int64_t current = current_revision_;
  const int64_t after = after_revision == 0 ? current : after_revision;
  const int64_t compacted = compacted_revision_;
  if (after < compacted) return TooOld(after, compacted);
  if (after >= ring_floor_) {
    // The ring holds one event per revision, ring_floor_+1 .. current.
    std::vector<Event> backlog;
    for (size_t i = static_cast<size_t>(std::min(after, current) - ring_floor_); i < ring_.size();
         ++i) {
      if (HasPrefix(ring_[i].record.key, prefix)) backlog.push_back(ring_[i]);
    }
    return hub_->Add(std::string(prefix), after, std::move(sink), std::move(backlog),
                     /*ready=*/true, nullptr);
  }
  // Too old for the ring: buffer live events (> current) while the log supplies after..current.
  uint64_t id = 0;
  std::unique_ptr<Watch> watch =
      hub_->Add(std::string(prefix), current, std::move(sink), {}, /*ready=*/false, &id);
  l.unlock();
  std::vector<Event> history;
  if (Status st = log_->ReadEvents(prefix, after, current, &history); !st.ok()) {
    watch->Cancel();
    return st;
  }
  hub_->Activate(id, std::move(history));
  return watch;
}

int64_t IndexedStore::CurrentRevision() {
  std::shared_lock<std::shared_mutex> l(index_mu_);
  return current_revision_;
}

int64_t IndexedStore::CompactedRevision() { return compacted_revision_; }

Status IndexedStore::Compact(int64_t keep) {
  if (keep < 0) return Status::Invalid("compaction must keep a non-negative number of revisions");
  std::lock_guard<std::mutex> l(compact_mu_);
  const int64_t target = CurrentRevision() - keep;
  if (target <= compacted_revision_) return Status::Ok();
  SKIFF_RETURN_IF_ERROR(log_->CompactTo(target));
  compacted_revision_ = target;
  return Status::Ok();
}

void IndexedStore::CompactionLoop() {
  std::unique_lock<std::mutex> l(stop_mu_);
  while (!stop_cv_.wait_for(l, std::chrono::milliseconds(options_.compaction_interval_ms),
                            [this] { return stopping_; })) {
    l.unlock();
    if (Status st = Compact(options_.history_revisions); !st.ok()) {
      SKIFF_LOG(Warn) << "store compaction: " << st.message();
    }
    l.lock();
  }
}

}  // namespace skiff::store
