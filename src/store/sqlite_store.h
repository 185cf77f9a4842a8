// The durable revision log: SQLite in WAL mode, one append-only `log` table (kine's model) and a
// `meta` table holding the compacted revision.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>

#include "store/log.h"

namespace skiff::store {

// Thread-safety: Append and CompactTo share the writer connection under write_mu_; ListAt and
// ReadEvents share a reader connection under read_mu_, so history reads never wait on commits.
// The database file is locked (flock on `<path>.lock`) against a second process, whose revisions
// would collide with ours.
class SqliteLog : public Log {
 public:
  static StatusOr<std::unique_ptr<SqliteLog>> Open(const SqliteOptions& options);
  ~SqliteLog() override;
  SqliteLog(const SqliteLog&) = delete;
  SqliteLog& operator=(const SqliteLog&) = delete;

  StatusOr<LogState> Load() override;
  Status Append(std::span<const LogRow> rows) override;
  StatusOr<ListResult> ListAt(const ListOptions& options, int64_t revision) override;
  Status ReadEvents(std::string_view prefix, int64_t after, int64_t upto,
                    std::vector<Event>* out) override;
  Status CompactTo(int64_t revision) override;

 private:
  SqliteLog() = default;
  // Reads the compacted revision through `db` (inside the caller's transaction, if any).
  StatusOr<int64_t> ReadCompacted(sqlite3* db);

  int lock_fd_ = -1;
  std::mutex write_mu_;
  sqlite3* writer_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;  // BEGIN IMMEDIATE
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::mutex read_mu_;
  sqlite3* reader_ = nullptr;
};

}  // namespace skiff::store
