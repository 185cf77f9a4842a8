// The Store semantics shared by the SQLite and in-memory stores: revision assignment with group
// commit, an in-memory index of live records, a ring of recent events and watch fan-out. The
// backend Log only persists rows and answers questions about older revisions.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/log.h"
#include "store/store.h"
#include "store/watch_hub.h"

namespace skiff::store {

struct IndexedStoreOptions {
  // Events kept in memory so that watches from a recent revision replay without reading the log.
  size_t event_ring_capacity = 8192;
  // Background compaction; disabled when interval_ms <= 0.
  int64_t history_revisions = 10000;
  int compaction_interval_ms = 0;
  // Most writes committed in one Log::Append.
  size_t max_batch = 256;
};

// Thread-safety: all methods are safe to call concurrently. Encoders run on whichever writer thread
// leads the batch, must not call back into the store, and are called only for writes that pass
// their precondition.
class IndexedStore : public Store {
 public:
  // Fails if the log cannot be loaded.
  static StatusOr<std::unique_ptr<Store>> Open(std::unique_ptr<Log> log,
                                               const IndexedStoreOptions& options);
  ~IndexedStore() override;

  StatusOr<Record> Create(std::string_view key, const Encoder& value) override;
  StatusOr<Record> Update(std::string_view key, int64_t expected_revision,
                          const Encoder& value) override;
  StatusOr<Record> Delete(std::string_view key, int64_t expected_revision,
                          const Encoder& tombstone) override;
  StatusOr<Record> Get(std::string_view key) override;
  StatusOr<ListResult> List(const ListOptions& options) override;
  int64_t Count(std::string_view prefix) override;
  StatusOr<std::unique_ptr<Watch>> WatchPrefix(std::string_view prefix, int64_t after_revision,
                                               EventSink sink) override;
  int64_t CurrentRevision() override;
  int64_t CompactedRevision() override;
  Status Compact(int64_t keep) override;

 private:
  enum class OpKind { kCreate, kUpdate, kDelete };

  // One queued write; lives on its caller's stack until `done`.
  struct Writer {
    OpKind kind;
    std::string_view key;
    int64_t expected_revision;
    const Encoder* encoder;
    StatusOr<Record> result = Status::Internal("write not executed");
    bool done = false;
    std::condition_variable cv;
  };

  IndexedStore(std::unique_ptr<Log> log, const IndexedStoreOptions& options);

  StatusOr<Record> Write(OpKind kind, std::string_view key, int64_t expected_revision,
                         const Encoder& encoder);
  // Validates, encodes and appends `batch` as one transaction, then publishes it. Only the leader
  // of the writer queue calls this, so it is the only mutator of the index.
  void CommitBatch(const std::vector<Writer*>& batch);
  void CompactionLoop();

  const IndexedStoreOptions options_;
  std::unique_ptr<Log> log_;
  std::shared_ptr<WatchHub> hub_;

  // Writer queue (leveldb-style leader/follower): the front writer commits everyone queued behind
  // it in one transaction while new writers queue up for the next batch.
  std::mutex queue_mu_;
  std::deque<Writer*> writers_;  // GUARDED_BY(queue_mu_)

  // The index: live records, the current revision and the recent-event ring. Readers take it
  // shared; the commit leader takes it exclusively only to apply an already durable batch.
  std::shared_mutex index_mu_;
  std::map<std::string, Record, std::less<>> live_;  // GUARDED_BY(index_mu_)
  int64_t current_revision_ = 0;                     // GUARDED_BY(index_mu_)
  std::deque<Event> ring_;                           // GUARDED_BY(index_mu_)
  // GUARDED_BY(index_mu_): the ring holds every event with revision > ring_floor_.
  int64_t ring_floor_ = 0;
  std::atomic<int64_t> compacted_revision_{0};

  std::mutex compact_mu_;  // one compaction at a time
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // GUARDED_BY(stop_mu_)
  std::thread compactor_;
};

}  // namespace skiff::store
