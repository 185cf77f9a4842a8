// The revision log behind a Store: the only part that differs between the durable (SQLite) and the
// in-memory store. IndexedStore owns revision assignment, validation, the live index and watches;
// a Log only persists rows and answers questions about the past.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace skiff::store {

// One row of the log. `revision` is the row id; rows are appended in revision order.
struct LogRow {
  int64_t revision = 0;
  int64_t create_revision = 0;
  // The key's previous row (0 if none): lets compaction find superseded rows by primary key.
  int64_t prev_revision = 0;
  bool deleted = false;
  std::string key;
  std::string value;
};

// State recovered when a log is opened.
struct LogState {
  int64_t current_revision = 0;
  int64_t compacted_revision = 0;
  std::vector<Record> live;  // the newest row of every key whose newest row is not a tombstone
};

// Thread-safety: implementations are safe to call concurrently; Append calls are serialized by the
// caller (one writer), so rows arrive in revision order.
class Log {
 public:
  virtual ~Log() = default;

  virtual StatusOr<LogState> Load() = 0;

  // Appends `rows` atomically: either all of them are durable (to the configured level) or none.
  virtual Status Append(std::span<const LogRow> rows) = 0;

  // The keys live at `revision`, filtered like a latest-revision list. kGone if `revision` is at or
  // below the compacted revision; the check and the read see one snapshot.
  virtual StatusOr<ListResult> ListAt(const ListOptions& options, int64_t revision) = 0;

  // Appends the events under `prefix` with after < revision <= upto to `out`, in revision order.
  // kGone if `after` is below the compacted revision.
  virtual Status ReadEvents(std::string_view prefix, int64_t after, int64_t upto,
                            std::vector<Event>* out) = 0;

  // Drops rows at or below `revision` that no revision above it needs: superseded rows and
  // tombstones. May work in steps, advancing the compacted revision after each.
  virtual Status CompactTo(int64_t revision) = 0;
};

// The first key greater than every key starting with `prefix`; empty if there is none (the prefix
// is empty or all 0xff), meaning "no upper bound".
std::string PrefixEnd(std::string_view prefix);

}  // namespace skiff::store
