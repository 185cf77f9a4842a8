// The store: versioned key/value records in one append-only revision log (the kine model).
//
// Every write appends a row; the row's id is the new global revision, which the API layer exposes
// as `metadata.resourceVersion`. Because objects embed their own resourceVersion, writers pass an
// Encoder that receives the revision the write will get and returns the bytes to store; this keeps
// reads zero-copy (no re-encoding on list or watch).
//
// Thread-safety: all methods are safe to call concurrently. Watch sinks are invoked on a
// store-owned thread, in revision order, and must not block or call back into the store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::store {

struct Record {
  std::string key;
  std::string value;
  int64_t revision = 0;         // revision of the write that produced this value
  int64_t create_revision = 0;  // revision at which the key was (last) created
};

enum class EventType { kCreated, kUpdated, kDeleted };

struct Event {
  EventType type;
  // For kDeleted, `record.value` is the tombstone value passed to Delete (the object as it was
  // deleted, with the deletion revision embedded) and record.revision is the deletion revision.
  Record record;
};

// Called with the bytes a write should store, given the revision it will get.
using Encoder = std::function<std::string(int64_t revision)>;

// Receives events of one watch, in revision order, possibly several per call. Returning false
// cancels the watch. Must not block.
using EventSink = std::function<bool(const std::vector<Event>& events)>;

class Watch {
 public:
  virtual ~Watch() = default;
  // Stops delivery; after return the sink is never called again. Idempotent.
  virtual void Cancel() = 0;
};

struct ListOptions {
  std::string prefix;       // keys starting with this
  std::string start_after;  // continue after this key (exclusive); empty = from the start
  int64_t limit = 0;        // 0 = no limit
  int64_t revision = 0;     // 0 = latest; else the state as of that revision (kGone if compacted)
};

struct ListResult {
  std::vector<Record> records;  // sorted by key
  int64_t revision = 0;         // the revision the list reflects
  bool more = false;            // more keys match after the last one returned
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates `key`. kAlreadyExists if it currently exists.
  virtual StatusOr<Record> Create(std::string_view key, const Encoder& value) = 0;

  // Replaces `key` if its current revision equals `expected_revision` (0: any revision).
  // kNotFound if absent; kConflict if the revision does not match.
  virtual StatusOr<Record> Update(std::string_view key, int64_t expected_revision,
                                  const Encoder& value) = 0;

  // Deletes `key` under the same revision check as Update, recording `tombstone` as the last value.
  virtual StatusOr<Record> Delete(std::string_view key, int64_t expected_revision,
                                  const Encoder& tombstone) = 0;

  // kNotFound if absent.
  virtual StatusOr<Record> Get(std::string_view key) = 0;

  virtual StatusOr<ListResult> List(const ListOptions& options) = 0;

  // Number of live keys under `prefix` (cheap; used for quota and metrics).
  virtual int64_t Count(std::string_view prefix) = 0;

  // Streams every change under `prefix` with revision > `after_revision` to `sink`: first the
  // history from the log (kGone if `after_revision` is older than the compacted revision), then
  // live changes as they commit. `after_revision` 0 means "from now".
  virtual StatusOr<std::unique_ptr<Watch>> WatchPrefix(std::string_view prefix,
                                                       int64_t after_revision, EventSink sink) = 0;

  // The newest committed revision.
  virtual int64_t CurrentRevision() = 0;
  // Revisions at or below this one are no longer in the log.
  virtual int64_t CompactedRevision() = 0;
  // Drops history older than the newest `keep` revisions (current values are always kept).
  virtual Status Compact(int64_t keep) = 0;
};

struct SqliteOptions {
  std::string path;  // database file; created if missing
  bool fsync_each_commit =
      false;  // synchronous=FULL; default NORMAL survives kill -9, not power loss
  int64_t history_revisions = 10000;  // background compaction keeps this many revisions
  int compaction_interval_ms = 60000;
};

// The durable store: SQLite in WAL mode.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// The same semantics in memory, for unit tests.
std::unique_ptr<Store> NewMemoryStore();

}  // namespace skiff::store
