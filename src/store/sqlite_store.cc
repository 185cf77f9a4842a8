// SqliteLog and OpenSqliteStore. Revisions are assigned by IndexedStore (values embed them), so
// every id is written explicitly and there is exactly one writer connection.
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "store/indexed_store.h"

namespace skiff::store {
namespace {

// Compaction deletes this many revisions per transaction so writers are never stalled for long.
constexpr int64_t kCompactionStep = 1000;

Status SqliteError(sqlite3* db, std::string_view what) {
  return Status::Internal("sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = Status::Internal(std::string("sqlite: ") + (err ? err : sqlite3_errmsg(db)));
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

// A statement prepared for one call.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status status() const { return rc_ == SQLITE_OK ? Status::Ok() : SqliteError(db_, "prepare"); }
  sqlite3_stmt* get() { return s_; }
  void BindText(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  // SQLITE_ROW: true; SQLITE_DONE: false; anything else: an error in *st.
  bool Step(Status* st) {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) *st = SqliteError(db_, "step");
    return false;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

std::string ColumnText(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  return std::string(static_cast<const char*>(p), sqlite3_column_bytes(s, i));
}

// Binds the key range of `prefix` (and `start_after`, exclusive) as ?first.. and returns the SQL.
std::string KeyRange(std::string_view prefix, std::string_view start_after, int first) {
  std::string sql = " AND key >= ?" + std::to_string(first);
  if (!PrefixEnd(prefix).empty()) sql += " AND key < ?" + std::to_string(first + 1);
  if (!start_after.empty()) sql += " AND key > ?" + std::to_string(first + 2);
  return sql;
}

void BindKeyRange(Stmt& s, int first, const std::string& prefix, const std::string& prefix_end,
                  std::string_view start_after) {
  s.BindText(first, prefix);
  if (!prefix_end.empty()) s.BindText(first + 1, prefix_end);
  if (!start_after.empty()) s.BindText(first + 2, start_after);
}

// Ends the read transaction begun on `db` when it goes out of scope.
class ReadTxn {
 public:
  explicit ReadTxn(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~ReadTxn() {
    if (ok_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }
  Status status() const { return ok_ ? Status::Ok() : SqliteError(db_, "begin"); }

 private:
  sqlite3* db_;
  bool ok_;
};

Status TooOld(int64_t revision, int64_t compacted) {
  return Status::Gone("too old resource version: " + std::to_string(revision) + " (" +
                      std::to_string(compacted) + ")");
}

}  // namespace

StatusOr<std::unique_ptr<SqliteLog>> SqliteLog::Open(const SqliteOptions& options) {
  if (options.path.empty()) return Status::Invalid("store path is empty");
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::Internal("creating " + parent.string() + ": " + ec.message());

  std::unique_ptr<SqliteLog> log(new SqliteLog());
  const std::string lock_path = options.path + ".lock";
  log->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (log->lock_fd_ < 0) {
    return Status::Internal("opening " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(log->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("store " + options.path + " is in use by another process");
  }

  constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(options.path.c_str(), &log->writer_, kFlags, nullptr) != SQLITE_OK) {
    return SqliteError(log->writer_, "open " + options.path);
  }
  sqlite3* w = log->writer_;
  // busy_timeout covers the window in which a checkpoint briefly holds locks the reader needs.
  SKIFF_RETURN_IF_ERROR(Exec(w, "PRAGMA busy_timeout=5000"));
  {
    Stmt mode(w, "PRAGMA journal_mode=WAL");
    SKIFF_RETURN_IF_ERROR(mode.status());
    Status st;
    if (!mode.Step(&st))
      return st.ok() ? Status::Internal("sqlite: journal_mode returned nothing") : st;
    if (ColumnText(mode.get(), 0) != "wal") {
      return Status::Internal("sqlite: cannot enable WAL mode on " + options.path);
    }
  }
  SKIFF_RETURN_IF_ERROR(
      Exec(w, options.fsync_each_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  SKIFF_RETURN_IF_ERROR(Exec(w,
                             "CREATE TABLE IF NOT EXISTS log ("
                             "  id INTEGER PRIMARY KEY,"
                             "  key TEXT NOT NULL,"
                             "  create_revision INTEGER NOT NULL,"
                             "  prev_revision INTEGER NOT NULL,"
                             "  deleted INTEGER NOT NULL,"
                             "  value BLOB NOT NULL);"
                             "CREATE INDEX IF NOT EXISTS log_key_id ON log (key, id);"
                             "CREATE TABLE IF NOT EXISTS meta ("
                             "  name TEXT PRIMARY KEY,"
                             "  value INTEGER NOT NULL);"));
  for (auto [stmt, sql] :
       {std::pair{&log->begin_, "BEGIN IMMEDIATE"}, std::pair{&log->commit_, "COMMIT"},
        std::pair{&log->insert_,
                  "INSERT INTO log (id, key, create_revision, prev_revision,"
                  " deleted, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"}}) {
    if (sqlite3_prepare_v2(w, sql, -1, stmt, nullptr) != SQLITE_OK) {
      return SqliteError(w, "prepare");
    }
  }

  if (sqlite3_open_v2(options.path.c_str(), &log->reader_,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    return SqliteError(log->reader_, "open " + options.path);
  }
  SKIFF_RETURN_IF_ERROR(Exec(log->reader_, "PRAGMA busy_timeout=5000"));
  return log;
}

SqliteLog::~SqliteLog() {
  sqlite3_finalize(begin_);
  sqlite3_finalize(commit_);
  sqlite3_finalize(insert_);
  sqlite3_close_v2(reader_);
  sqlite3_close_v2(writer_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

StatusOr<int64_t> SqliteLog::ReadCompacted(sqlite3* db) {
  Stmt s(db, "SELECT value FROM meta WHERE name = 'compacted_revision'");
  SKIFF_RETURN_IF_ERROR(s.status());
  Status st;
  int64_t compacted = 0;
  if (s.Step(&st)) compacted = sqlite3_column_int64(s.get(), 0);
  SKIFF_RETURN_IF_ERROR(st);
  return compacted;
}

StatusOr<LogState> SqliteLog::Load() {
  std::lock_guard<std::mutex> l(write_mu_);
  ReadTxn txn(writer_);
  SKIFF_RETURN_IF_ERROR(txn.status());
  LogState state;
  StatusOr<int64_t> compacted = ReadCompacted(writer_);
  if (!compacted.ok()) return compacted.status();
  state.compacted_revision = *compacted;
  Status st;
  {
    Stmt s(writer_, "SELECT COALESCE(MAX(id), 0) FROM log");
    SKIFF_RETURN_IF_ERROR(s.status());
    if (s.Step(&st)) state.current_revision = sqlite3_column_int64(s.get(), 0);
    SKIFF_RETURN_IF_ERROR(st);
  }
  // Rows above the compacted revision are never deleted, so if the newest rows were compacted
  // tombstones the compacted revision is exactly the revision we must not reuse.
  state.current_revision = std::max(state.current_revision, state.compacted_revision);
  Stmt s(writer_,
         "SELECT l.key, l.value, l.id, l.create_revision FROM log AS l"
         " JOIN (SELECT MAX(id) AS id FROM log GROUP BY key) AS m ON l.id = m.id"
         " WHERE l.deleted = 0");
  SKIFF_RETURN_IF_ERROR(s.status());
  while (s.Step(&st)) {
    state.live.push_back(Record{ColumnText(s.get(), 0), ColumnText(s.get(), 1),
                                sqlite3_column_int64(s.get(), 2),
                                sqlite3_column_int64(s.get(), 3)});
  }
  SKIFF_RETURN_IF_ERROR(st);
  return state;
}

Status SqliteLog::Append(std::span<const LogRow> rows) {
  std::lock_guard<std::mutex> l(write_mu_);
  auto fail = [&](std::string_view what) {
    Status st = SqliteError(writer_, what);
    sqlite3_reset(insert_);
    sqlite3_reset(begin_);
    sqlite3_reset(commit_);
    if (!sqlite3_get_autocommit(writer_)) Exec(writer_, "ROLLBACK");
    return st;
  };
  if (sqlite3_step(begin_) != SQLITE_DONE) return fail("begin");
  sqlite3_reset(begin_);
  for (const LogRow& row : rows) {
    sqlite3_bind_int64(insert_, 1, row.revision);
    sqlite3_bind_text(insert_, 2, row.key.data(), static_cast<int>(row.key.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 3, row.create_revision);
    sqlite3_bind_int64(insert_, 4, row.prev_revision);
    sqlite3_bind_int(insert_, 5, row.deleted ? 1 : 0);
    sqlite3_bind_blob(insert_, 6, row.value.data(), static_cast<int>(row.value.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(insert_) != SQLITE_DONE) return fail("insert");
    sqlite3_reset(insert_);
  }
  sqlite3_clear_bindings(insert_);
  if (sqlite3_step(commit_) != SQLITE_DONE) return fail("commit");
  sqlite3_reset(commit_);
  return Status::Ok();
}

StatusOr<ListResult> SqliteLog::ListAt(const ListOptions& options, int64_t revision) {
  std::lock_guard<std::mutex> l(read_mu_);
  ReadTxn txn(reader_);
  SKIFF_RETURN_IF_ERROR(txn.status());
  StatusOr<int64_t> compacted = ReadCompacted(reader_);
  if (!compacted.ok()) return compacted.status();
  if (revision <= *compacted) return TooOld(revision, *compacted);

  const std::string prefix_end = PrefixEnd(options.prefix);
  std::string sql =
      "SELECT l.key, l.value, l.id, l.create_revision FROM log AS l"
      " JOIN (SELECT MAX(id) AS id FROM log WHERE id <= ?1" +
      KeyRange(options.prefix, options.start_after, 2) +
      " GROUP BY key) AS m ON l.id = m.id WHERE l.deleted = 0 ORDER BY l.key";
  if (options.limit > 0) sql += " LIMIT ?5";
  Stmt s(reader_, sql);
  SKIFF_RETURN_IF_ERROR(s.status());
  s.BindInt(1, revision);
  BindKeyRange(s, 2, options.prefix, prefix_end, options.start_after);
  // One extra row tells whether there is more.
  if (options.limit > 0) s.BindInt(5, options.limit + 1);
  ListResult result;
  result.revision = revision;
  Status st;
  while (s.Step(&st)) {
    if (options.limit > 0 && static_cast<int64_t>(result.records.size()) == options.limit) {
      result.more = true;
      break;
    }
    result.records.push_back(Record{ColumnText(s.get(), 0), ColumnText(s.get(), 1),
                                    sqlite3_column_int64(s.get(), 2),
                                    sqlite3_column_int64(s.get(), 3)});
  }
  SKIFF_RETURN_IF_ERROR(st);
  return result;
}

Status SqliteLog::ReadEvents(std::string_view prefix, int64_t after, int64_t upto,
                             std::vector<Event>* out) {
  std::lock_guard<std::mutex> l(read_mu_);
  ReadTxn txn(reader_);
  SKIFF_RETURN_IF_ERROR(txn.status());
  StatusOr<int64_t> compacted = ReadCompacted(reader_);
  if (!compacted.ok()) return compacted.status();
  if (after < *compacted) return TooOld(after, *compacted);

  const std::string prefix_str(prefix);
  const std::string prefix_end = PrefixEnd(prefix);
  Stmt s(reader_,
         "SELECT key, value, id, create_revision, deleted FROM log WHERE id > ?1 AND id <= ?2" +
             KeyRange(prefix, "", 3) + " ORDER BY id");
  SKIFF_RETURN_IF_ERROR(s.status());
  s.BindInt(1, after);
  s.BindInt(2, upto);
  BindKeyRange(s, 3, prefix_str, prefix_end, "");
  Status st;
  while (s.Step(&st)) {
    Event e;
    e.record = Record{ColumnText(s.get(), 0), ColumnText(s.get(), 1),
                      sqlite3_column_int64(s.get(), 2), sqlite3_column_int64(s.get(), 3)};
    e.type = sqlite3_column_int(s.get(), 4) != 0             ? EventType::kDeleted
             : e.record.create_revision == e.record.revision ? EventType::kCreated
                                                             : EventType::kUpdated;
    out->push_back(std::move(e));
  }
  return st;
}

Status SqliteLog::CompactTo(int64_t revision) {
  int64_t done;
  {
    std::lock_guard<std::mutex> l(write_mu_);
    StatusOr<int64_t> compacted = ReadCompacted(writer_);
    if (!compacted.ok()) return compacted.status();
    done = *compacted;
  }
  while (done < revision) {
    const int64_t hi = std::min(revision, done + kCompactionStep);
    // The lock is released between steps so commits interleave with a long compaction.
    std::lock_guard<std::mutex> l(write_mu_);
    SKIFF_RETURN_IF_ERROR(Exec(writer_, "BEGIN IMMEDIATE"));
    Status st;
    // A row's successor names it in prev_revision; once the successor is at or below `hi` no
    // revision above `hi` can need the row. Tombstones at or below `hi` describe absence, which
    // needs no row.
    for (const char* sql :
         {"DELETE FROM log WHERE id IN (SELECT prev_revision FROM log"
          " WHERE id > ?1 AND id <= ?2 AND prev_revision > 0)",
          "DELETE FROM log WHERE id > ?1 AND id <= ?2 AND deleted = 1",
          "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted_revision', ?2)"}) {
      Stmt s(writer_, sql);
      st = s.status();
      if (!st.ok()) break;
      s.BindInt(1, done);
      s.BindInt(2, hi);
      s.Step(&st);
      if (!st.ok()) break;
    }
    if (st.ok()) st = Exec(writer_, "COMMIT");
    if (!st.ok()) {
      if (!sqlite3_get_autocommit(writer_)) Exec(writer_, "ROLLBACK");
      return st;
    }
    done = hi;
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  StatusOr<std::unique_ptr<SqliteLog>> log = SqliteLog::Open(options);
  if (!log.ok()) return log.status();
  IndexedStoreOptions io;
  io.history_revisions = options.history_revisions;
  io.compaction_interval_ms = options.compaction_interval_ms;
  return IndexedStore::Open(std::move(*log), io);
}

}  // namespace skiff::store
