// LineageStore on SQLite: MLMD's tables (types, contexts, executions, artifacts, events,
// attributions, associations) on one connection behind a mutex. Writes are one transaction per
// execution in WAL mode with synchronous=NORMAL, so a commit costs no fsync.
#include "pipelines/lineage.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>

#include "common/clock.h"

namespace skiff::pipelines {
namespace {

// MLMD's type kinds and event types (the numbers MLMD uses, so a dump reads the same).
enum TypeKind : int64_t { kExecutionType = 0, kArtifactType = 1, kContextType = 2 };
enum EventType : int64_t { kInput = 3, kOutput = 4 };

constexpr char kPipelineContext[] = "system.Pipeline";
constexpr char kRunContext[] = "system.PipelineRun";
// A walk deeper than this is cut short: no real pipeline nests artifacts that far.
constexpr int kMaxLineageDepth = 256;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS types (
  id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  UNIQUE (kind, name));
CREATE TABLE IF NOT EXISTS contexts (
  id INTEGER PRIMARY KEY,
  type_id INTEGER NOT NULL REFERENCES types (id),
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  uid TEXT NOT NULL,
  create_ms INTEGER NOT NULL,
  UNIQUE (type_id, namespace, name, uid));
CREATE INDEX IF NOT EXISTS contexts_uid ON contexts (uid);
CREATE TABLE IF NOT EXISTS executions (
  id INTEGER PRIMARY KEY,
  type_id INTEGER NOT NULL REFERENCES types (id),
  state TEXT NOT NULL,
  namespace TEXT NOT NULL,
  task TEXT NOT NULL,
  pod TEXT NOT NULL,
  image TEXT NOT NULL,
  command TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  input_parameters TEXT NOT NULL,
  output_parameters TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  cached_from INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS executions_cache
  ON executions (fingerprint, namespace, state, end_ms);
CREATE TABLE IF NOT EXISTS artifacts (
  id INTEGER PRIMARY KEY,
  type_id INTEGER NOT NULL REFERENCES types (id),
  uri TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  metadata TEXT NOT NULL,
  create_ms INTEGER NOT NULL,
  update_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS artifacts_type ON artifacts (type_id, update_ms);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  execution_id INTEGER NOT NULL REFERENCES executions (id),
  artifact_id INTEGER NOT NULL REFERENCES artifacts (id),
  type INTEGER NOT NULL,
  path TEXT NOT NULL,
  ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_execution ON events (execution_id);
CREATE INDEX IF NOT EXISTS events_artifact ON events (artifact_id, type);
CREATE TABLE IF NOT EXISTS attributions (
  context_id INTEGER NOT NULL,
  artifact_id INTEGER NOT NULL,
  PRIMARY KEY (context_id, artifact_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS associations (
  context_id INTEGER NOT NULL,
  execution_id INTEGER NOT NULL,
  PRIMARY KEY (context_id, execution_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS associations_execution ON associations (execution_id);
)sql";

// Statements, prepared once and kept (the key is the literal's address).
constexpr char kUpsertType[] =
    "INSERT INTO types (kind, name) VALUES (?1, ?2)"
    " ON CONFLICT (kind, name) DO UPDATE SET name = excluded.name RETURNING id";
constexpr char kUpsertContext[] =
    "INSERT INTO contexts (type_id, namespace, name, uid, create_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (type_id, namespace, name, uid) DO UPDATE SET name = excluded.name"
    " RETURNING id";
constexpr char kInsertExecution[] =
    "INSERT INTO executions (type_id, state, namespace, task, pod, image, command, fingerprint,"
    " input_parameters, output_parameters, start_ms, end_ms, cached_from)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr char kInsertAssociation[] =
    "INSERT OR IGNORE INTO associations (context_id, execution_id) VALUES (?1, ?2)";
constexpr char kInsertAttribution[] =
    "INSERT OR IGNORE INTO attributions (context_id, artifact_id) VALUES (?1, ?2)";
// ?6: the recording execution produced the artifact, so its type, name and metadata win; an
// input only fills in metadata it carries.
constexpr char kUpsertArtifact[] =
    "INSERT INTO artifacts (type_id, uri, name, metadata, create_ms, update_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
    " ON CONFLICT (uri) DO UPDATE SET"
    "  type_id = iif(?6, excluded.type_id, type_id),"
    "  name = iif(?6 AND excluded.name <> '', excluded.name, name),"
    "  metadata = iif(?6 OR excluded.metadata <> '{}', excluded.metadata, metadata),"
    "  update_ms = iif(?6, excluded.update_ms, update_ms)"
    " RETURNING id";
constexpr char kInsertEvent[] =
    "INSERT INTO events (execution_id, artifact_id, type, path, ms) VALUES (?1, ?2, ?3, ?4, ?5)";
// ?1: the pipeline context type, ?2: the run context type, ?3: the execution.
constexpr char kSelectExecution[] =
    "SELECT e.id, t.name, e.state, e.namespace, e.task, e.pod, e.image, e.command,"
    " e.fingerprint, e.input_parameters, e.output_parameters, e.start_ms, e.end_ms,"
    " e.cached_from,"
    " (SELECT c.name FROM associations a JOIN contexts c ON c.id = a.context_id"
    "   WHERE a.execution_id = e.id AND c.type_id = ?1),"
    " (SELECT c.name || char(0) || c.uid FROM associations a JOIN contexts c"
    "   ON c.id = a.context_id WHERE a.execution_id = e.id AND c.type_id = ?2)"
    " FROM executions e JOIN types t ON t.id = e.type_id WHERE e.id = ?3";
constexpr char kSelectEvents[] =
    "SELECT ev.type, ev.path, a.id, t.name, a.uri, a.name, a.metadata"
    " FROM events ev JOIN artifacts a ON a.id = ev.artifact_id JOIN types t ON t.id = a.type_id"
    " WHERE ev.execution_id = ?1 ORDER BY ev.id";
constexpr char kSelectCached[] =
    "SELECT id FROM executions WHERE fingerprint = ?1 AND namespace = ?2 AND state = 'COMPLETE'"
    " ORDER BY end_ms DESC, id DESC LIMIT 1";
constexpr char kSelectRunExecutions[] =
    "SELECT a.execution_id FROM contexts c JOIN associations a ON a.context_id = c.id"
    " WHERE c.uid = ?1 AND c.type_id = ?2 ORDER BY a.execution_id";
constexpr char kSelectArtifactByUri[] =
    "SELECT a.id, t.name, a.uri, a.name, a.metadata FROM artifacts a"
    " JOIN types t ON t.id = a.type_id WHERE a.uri = ?1";
constexpr char kSelectProducer[] =
    "SELECT execution_id, path FROM events WHERE artifact_id = ?1 AND type = 4"
    " ORDER BY id DESC LIMIT 1";
constexpr char kSelectArtifacts[] =
    "SELECT a.id, t.name, a.uri, a.name, a.metadata, a.create_ms, a.update_ms FROM artifacts a"
    " JOIN types t ON t.id = a.type_id WHERE (?1 = '' OR t.name = ?1)"
    " ORDER BY a.update_ms DESC, a.id DESC LIMIT ?2";

Status SqliteError(sqlite3* db, std::string_view what) {
  return Status::Internal("lineage: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = Status::Internal(std::string("lineage: ") + (err ? err : sqlite3_errmsg(db)));
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

// One use of a kept statement: binds, steps, and resets it when it goes out of scope.
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* s, Status prepared) : db_(db), s_(s), status_(prepared) {}
  ~Query() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(int i, std::string_view v) {
    if (s_) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& Bind(int i, int64_t v) {
    if (s_) sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  // True on a row; false when done or failed (then status() says why).
  bool Next() {
    if (!s_ || !status_.ok()) return false;
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) status_ = SqliteError(db_, "step");
    return false;
  }
  // Steps a statement that returns nothing (or whose rows do not matter).
  Status Run() {
    while (Next()) {
    }
    return status_;
  }
  const Status& status() const { return status_; }

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col))
             : std::string();
  }
  // A JSON column; text that is not JSON (never written by this store) comes back as a string.
  Json JsonCol(int col) const {
    std::string text = Text(col);
    auto parsed = ParseJson(text);
    return parsed.ok() ? std::move(*parsed) : Json(std::move(text));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  Status status_;
};

std::string TimeString(int64_t ms) {
  return FormatRfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

void SetIfNotEmpty(Json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

class SqliteLineageStore : public LineageStore {
 public:
  ~SqliteLineageStore() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Status Init(const std::string& path) {
    if (path != ":memory:") {
      std::error_code ec;
      std::filesystem::path parent = std::filesystem::path(path).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent, ec);
      if (ec) return Status::Internal("creating " + parent.string() + ": " + ec.message());
    }
    // FULLMUTEX is not needed: mu_ serialises every use of the connection.
    constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, kFlags, nullptr) != SQLITE_OK) {
      return SqliteError(db_, "open " + path);
    }
    SKIFF_RETURN_IF_ERROR(Exec(db_, "PRAGMA busy_timeout=5000"));
    // WAL (":memory:" stays "memory"): readers of the file never block the writer, and with
    // synchronous=NORMAL a commit is a write to the log without an fsync.
    SKIFF_RETURN_IF_ERROR(Exec(db_, "PRAGMA journal_mode=WAL"));
    SKIFF_RETURN_IF_ERROR(Exec(db_, "PRAGMA synchronous=NORMAL"));
    SKIFF_RETURN_IF_ERROR(Exec(db_, kSchema));
    std::lock_guard<std::mutex> l(mu_);
    auto pipeline = TypeId(kContextType, kPipelineContext);
    if (!pipeline.ok()) return pipeline.status();
    auto run = TypeId(kContextType, kRunContext);
    if (!run.ok()) return run.status();
    pipeline_type_ = *pipeline;
    run_type_ = *run;
    return Status::Ok();
  }

  StatusOr<int64_t> RecordExecution(const ExecutionRecord& e) override {
    for (const auto* list : {&e.inputs, &e.outputs}) {
      for (const ArtifactRecord& a : *list) {
        if (a.uri.empty()) {
          return Status::Invalid("lineage: artifact \"" + a.key + "\" of task \"" + e.task +
                                 "\" has no uri");
        }
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    SKIFF_RETURN_IF_ERROR(Use("BEGIN IMMEDIATE").Run());
    StatusOr<int64_t> id = RecordLocked(e);
    if (id.ok()) {
      Status committed = Use("COMMIT").Run();
      if (committed.ok()) return id;
      id = committed;
    }
    Use("ROLLBACK").Run();
    // Ids cached during the failed transaction may name rows that no longer exist.
    type_ids_.clear();
    context_ids_.clear();
    return id;
  }

  StatusOr<std::optional<ExecutionRecord>> FindCached(const std::string& namespace_name,
                                                      const std::string& fingerprint) override {
    if (fingerprint.empty()) return std::optional<ExecutionRecord>();
    std::lock_guard<std::mutex> l(mu_);
    int64_t id = 0;
    {
      Query q = Use(kSelectCached);
      q.Bind(1, fingerprint).Bind(2, namespace_name);
      if (q.Next()) id = q.Int(0);
      SKIFF_RETURN_IF_ERROR(q.status());
    }
    if (id == 0) return std::optional<ExecutionRecord>();
    auto e = ReadExecution(id, true);
    if (!e.ok()) return e.status();
    return std::optional<ExecutionRecord>(std::move(*e));
  }

  StatusOr<ExecutionRecord> GetExecution(int64_t id) override {
    std::lock_guard<std::mutex> l(mu_);
    return ReadExecution(id, true);
  }

  StatusOr<std::vector<ExecutionRecord>> ExecutionsOfRun(const std::string& run_uid) override {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<int64_t> ids;
    {
      Query q = Use(kSelectRunExecutions);
      q.Bind(1, run_uid).Bind(2, run_type_);
      while (q.Next()) ids.push_back(q.Int(0));
      SKIFF_RETURN_IF_ERROR(q.status());
    }
    std::vector<ExecutionRecord> out;
    out.reserve(ids.size());
    for (int64_t id : ids) {
      auto e = ReadExecution(id, true);
      if (!e.ok()) return e.status();
      out.push_back(std::move(*e));
    }
    return out;
  }

  StatusOr<Json> Lineage(const std::string& artifact_uri) override {
    std::lock_guard<std::mutex> l(mu_);
    auto artifact = ReadArtifactByUri(artifact_uri);
    if (!artifact.ok()) return artifact.status();
    if (!*artifact) return Status::NotFound("no artifact has uri \"" + artifact_uri + "\"");
    std::set<int64_t> seen;
    return ArtifactLineage(**artifact, seen, 0);
  }

  StatusOr<Json> ListArtifacts(const std::string& type, int64_t limit) override {
    std::lock_guard<std::mutex> l(mu_);
    Json items = Json::array();
    {
      Query q = Use(kSelectArtifacts);
      q.Bind(1, type).Bind(2, limit > 0 ? limit : int64_t{-1});
      while (q.Next()) {
        ArtifactRecord a;
        a.id = q.Int(0);
        a.type = q.Text(1);
        a.uri = q.Text(2);
        a.name = q.Text(3);
        a.metadata = q.JsonCol(4);
        Json j = ArtifactToJson(a);
        j["createTime"] = TimeString(q.Int(5));
        j["updateTime"] = TimeString(q.Int(6));
        items.push_back(std::move(j));
      }
      SKIFF_RETURN_IF_ERROR(q.status());
    }
    for (Json& item : items) {
      auto producer = Producer(item["id"].get<int64_t>());
      if (!producer.ok()) return producer.status();
      if (!producer->first) continue;
      auto e = ReadExecution(producer->first, false);
      if (!e.ok()) return e.status();
      Json by = {{"execution", e->id}, {"state", e->state}};
      SetIfNotEmpty(by, "namespace", e->namespace_name);
      SetIfNotEmpty(by, "pipeline", e->pipeline);
      SetIfNotEmpty(by, "run", e->run_name);
      SetIfNotEmpty(by, "runUid", e->run_uid);
      SetIfNotEmpty(by, "task", e->task);
      SetIfNotEmpty(by, "outputKey", producer->second);
      item["producedBy"] = std::move(by);
    }
    return Json{{"artifacts", std::move(items)}};
  }

 private:
  Query Use(const char* sql) {
    auto [it, added] = statements_.try_emplace(sql, nullptr);
    if (added && sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &it->second,
                                    nullptr) != SQLITE_OK) {
      Status st = SqliteError(db_, "prepare");
      statements_.erase(it);
      return Query(db_, nullptr, st);
    }
    return Query(db_, it->second, Status::Ok());
  }

  StatusOr<int64_t> TypeId(TypeKind kind, const std::string& name) {
    auto key = std::make_pair(static_cast<int64_t>(kind), name);
    if (auto it = type_ids_.find(key); it != type_ids_.end()) return it->second;
    Query q = Use(kUpsertType);
    q.Bind(1, static_cast<int64_t>(kind)).Bind(2, name);
    if (!q.Next()) {
      return q.status().ok() ? Status::Internal("lineage: type upsert returned nothing")
                             : q.status();
    }
    int64_t id = q.Int(0);
    SKIFF_RETURN_IF_ERROR(q.Run());
    type_ids_[key] = id;
    return id;
  }

  StatusOr<int64_t> ContextId(int64_t type_id, const std::string& ns, const std::string& name,
                              const std::string& uid, int64_t ms) {
    std::string key = std::to_string(type_id) + '\0' + ns + '\0' + name + '\0' + uid;
    if (auto it = context_ids_.find(key); it != context_ids_.end()) return it->second;
    Query q = Use(kUpsertContext);
    q.Bind(1, type_id).Bind(2, ns).Bind(3, name).Bind(4, uid).Bind(5, ms);
    if (!q.Next()) {
      return q.status().ok() ? Status::Internal("lineage: context upsert returned nothing")
                             : q.status();
    }
    int64_t id = q.Int(0);
    SKIFF_RETURN_IF_ERROR(q.Run());
    context_ids_[key] = id;
    return id;
  }

  StatusOr<int64_t> RecordLocked(const ExecutionRecord& e) {
    const int64_t ms = e.end_ms ? e.end_ms : e.start_ms;
    std::vector<int64_t> contexts;
    if (!e.pipeline.empty()) {
      auto c = ContextId(pipeline_type_, e.namespace_name, e.pipeline, "", e.start_ms);
      if (!c.ok()) return c.status();
      contexts.push_back(*c);
    }
    if (!e.run_name.empty() || !e.run_uid.empty()) {
      auto c = ContextId(run_type_, e.namespace_name, e.run_name, e.run_uid, e.start_ms);
      if (!c.ok()) return c.status();
      contexts.push_back(*c);
    }
    auto type = TypeId(kExecutionType, e.type.empty() ? "system.ContainerExecution" : e.type);
    if (!type.ok()) return type.status();

    int64_t id = 0;
    {
      Query q = Use(kInsertExecution);
      q.Bind(1, *type)
          .Bind(2, e.state)
          .Bind(3, e.namespace_name)
          .Bind(4, e.task)
          .Bind(5, e.pod)
          .Bind(6, e.image)
          .Bind(7, Json(e.command).dump())
          .Bind(8, e.fingerprint)
          .Bind(9, e.input_parameters.dump())
          .Bind(10, e.output_parameters.dump())
          .Bind(11, e.start_ms)
          .Bind(12, e.end_ms)
          .Bind(13, e.cached_from);
      SKIFF_RETURN_IF_ERROR(q.Run());
      id = sqlite3_last_insert_rowid(db_);
    }
    for (int64_t c : contexts) {
      SKIFF_RETURN_IF_ERROR(Use(kInsertAssociation).Bind(1, c).Bind(2, id).Run());
    }
    for (auto [list, event] : {std::pair{&e.inputs, kInput}, std::pair{&e.outputs, kOutput}}) {
      for (const ArtifactRecord& a : *list) {
        auto atype = TypeId(kArtifactType, a.type.empty() ? "system.Artifact" : a.type);
        if (!atype.ok()) return atype.status();
        int64_t artifact_id = 0;
        {
          Query q = Use(kUpsertArtifact);
          q.Bind(1, *atype)
              .Bind(2, a.uri)
              .Bind(3, a.name)
              .Bind(4, a.metadata.is_null() ? std::string("{}") : a.metadata.dump())
              .Bind(5, ms)
              .Bind(6, int64_t{event == kOutput});
          if (!q.Next()) {
            return q.status().ok() ? Status::Internal("lineage: artifact upsert returned nothing")
                                   : q.status();
          }
          artifact_id = q.Int(0);
          SKIFF_RETURN_IF_ERROR(q.Run());
        }
        SKIFF_RETURN_IF_ERROR(Use(kInsertEvent)
                                  .Bind(1, id)
                                  .Bind(2, artifact_id)
                                  .Bind(3, static_cast<int64_t>(event))
                                  .Bind(4, a.key)
                                  .Bind(5, ms)
                                  .Run());
        // An artifact belongs to the run (and pipeline) that produced it; inputs were
        // attributed when their producer recorded them, or are imports.
        if (event == kOutput) {
          for (int64_t c : contexts) {
            SKIFF_RETURN_IF_ERROR(Use(kInsertAttribution).Bind(1, c).Bind(2, artifact_id).Run());
          }
        }
      }
    }
    return id;
  }

  StatusOr<ExecutionRecord> ReadExecution(int64_t id, bool with_events) {
    ExecutionRecord e;
    {
      Query q = Use(kSelectExecution);
      q.Bind(1, pipeline_type_).Bind(2, run_type_).Bind(3, id);
      if (!q.Next()) {
        SKIFF_RETURN_IF_ERROR(q.status());
        return Status::NotFound("no execution with id " + std::to_string(id));
      }
      e.id = q.Int(0);
      e.type = q.Text(1);
      e.state = q.Text(2);
      e.namespace_name = q.Text(3);
      e.task = q.Text(4);
      e.pod = q.Text(5);
      e.image = q.Text(6);
      Json command = q.JsonCol(7);
      if (command.is_array()) {
        for (const Json& c : command)
          e.command.push_back(c.is_string() ? c.get<std::string>() : c.dump());
      }
      e.fingerprint = q.Text(8);
      e.input_parameters = q.JsonCol(9);
      e.output_parameters = q.JsonCol(10);
      e.start_ms = q.Int(11);
      e.end_ms = q.Int(12);
      e.cached_from = q.Int(13);
      e.pipeline = q.Text(14);
      std::string run = q.Text(15);
      if (size_t nul = run.find('\0'); nul != std::string::npos) {
        e.run_name = run.substr(0, nul);
        e.run_uid = run.substr(nul + 1);
      }
      SKIFF_RETURN_IF_ERROR(q.Run());
    }
    if (!with_events) return e;
    Query q = Use(kSelectEvents);
    q.Bind(1, id);
    while (q.Next()) {
      ArtifactRecord a;
      a.key = q.Text(1);
      a.id = q.Int(2);
      a.type = q.Text(3);
      a.uri = q.Text(4);
      a.name = q.Text(5);
      a.metadata = q.JsonCol(6);
      (q.Int(0) == kOutput ? e.outputs : e.inputs).push_back(std::move(a));
    }
    SKIFF_RETURN_IF_ERROR(q.status());
    return e;
  }

  StatusOr<std::optional<ArtifactRecord>> ReadArtifactByUri(const std::string& uri) {
    Query q = Use(kSelectArtifactByUri);
    q.Bind(1, uri);
    if (!q.Next()) {
      SKIFF_RETURN_IF_ERROR(q.status());
      return std::optional<ArtifactRecord>();
    }
    ArtifactRecord a;
    a.id = q.Int(0);
    a.type = q.Text(1);
    a.uri = q.Text(2);
    a.name = q.Text(3);
    a.metadata = q.JsonCol(4);
    return std::optional<ArtifactRecord>(std::move(a));
  }

  // The newest execution that wrote the artifact and the output key it wrote it as; 0 when none.
  StatusOr<std::pair<int64_t, std::string>> Producer(int64_t artifact_id) {
    Query q = Use(kSelectProducer);
    q.Bind(1, artifact_id);
    std::pair<int64_t, std::string> out{0, ""};
    if (q.Next()) out = {q.Int(0), q.Text(1)};
    SKIFF_RETURN_IF_ERROR(q.status());
    return out;
  }

  // {"artifact": ..., "producedBy": ...}. An execution already described elsewhere in the walk
  // (a diamond's shared ancestor) is named, not repeated, which also ends any cycle.
  StatusOr<Json> ArtifactLineage(const ArtifactRecord& artifact, std::set<int64_t>& seen,
                                 int depth) {
    ArtifactRecord plain = artifact;
    plain.key.clear();
    Json out = {{"artifact", ArtifactToJson(plain)}};
    auto producer = Producer(artifact.id);
    if (!producer.ok()) return producer.status();
    if (!producer->first) return out;
    auto e = ReadExecution(producer->first, true);
    if (!e.ok()) return e.status();

    Json by;
    Json exec = {{"id", e->id}, {"type", e->type}, {"state", e->state}};
    SetIfNotEmpty(exec, "pod", e->pod);
    SetIfNotEmpty(exec, "fingerprint", e->fingerprint);
    if (e->start_ms) exec["startTime"] = TimeString(e->start_ms);
    if (e->end_ms) exec["endTime"] = TimeString(e->end_ms);
    if (e->cached_from) exec["cachedFrom"] = e->cached_from;
    if (!e->output_parameters.empty()) exec["outputParameters"] = e->output_parameters;
    by["execution"] = std::move(exec);
    SetIfNotEmpty(by, "namespace", e->namespace_name);
    SetIfNotEmpty(by, "pipeline", e->pipeline);
    SetIfNotEmpty(by, "run", e->run_name);
    SetIfNotEmpty(by, "runUid", e->run_uid);
    SetIfNotEmpty(by, "task", e->task);
    SetIfNotEmpty(by, "outputKey", producer->second);
    if (!seen.insert(e->id).second || depth >= kMaxLineageDepth) {
      by["repeated"] = true;
      out["producedBy"] = std::move(by);
      return out;
    }
    SetIfNotEmpty(by, "image", e->image);
    by["command"] = e->command;
    Json inputs = {{"parameters", e->input_parameters}, {"artifacts", Json::array()}};
    for (const ArtifactRecord& in : e->inputs) {
      auto walked = ArtifactLineage(in, seen, depth + 1);
      if (!walked.ok()) return walked.status();
      Json entry = {{"key", in.key}, {"artifact", std::move((*walked)["artifact"])}};
      if (walked->contains("producedBy")) entry["producedBy"] = std::move((*walked)["producedBy"]);
      inputs["artifacts"].push_back(std::move(entry));
    }
    by["inputs"] = std::move(inputs);
    out["producedBy"] = std::move(by);
    return out;
  }

  std::mutex mu_;  // guards everything below: one connection, used by one thread at a time
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> statements_;
  std::map<std::pair<int64_t, std::string>, int64_t> type_ids_;
  std::map<std::string, int64_t> context_ids_;
  int64_t pipeline_type_ = 0;
  int64_t run_type_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<LineageStore>> LineageStore::Open(const std::string& path) {
  if (path.empty()) return Status::Invalid("lineage: database path is empty");
  auto store = std::make_unique<SqliteLineageStore>();
  SKIFF_RETURN_IF_ERROR(store->Init(path));
  return std::unique_ptr<LineageStore>(std::move(store));
}

Json ArtifactToJson(const ArtifactRecord& a) {
  Json j = Json::object();
  if (a.id) j["id"] = a.id;
  SetIfNotEmpty(j, "key", a.key);
  SetIfNotEmpty(j, "name", a.name);
  SetIfNotEmpty(j, "type", a.type);
  j["uri"] = a.uri;
  j["metadata"] = a.metadata.is_null() ? Json::object() : a.metadata;
  return j;
}

Json ExecutionToJson(const ExecutionRecord& e) {
  Json j = Json::object();
  if (e.id) j["id"] = e.id;
  SetIfNotEmpty(j, "type", e.type);
  SetIfNotEmpty(j, "state", e.state);
  SetIfNotEmpty(j, "namespace", e.namespace_name);
  SetIfNotEmpty(j, "pipeline", e.pipeline);
  SetIfNotEmpty(j, "run", e.run_name);
  SetIfNotEmpty(j, "runUid", e.run_uid);
  SetIfNotEmpty(j, "task", e.task);
  SetIfNotEmpty(j, "pod", e.pod);
  SetIfNotEmpty(j, "image", e.image);
  if (!e.command.empty()) j["command"] = e.command;
  SetIfNotEmpty(j, "fingerprint", e.fingerprint);
  j["inputParameters"] = e.input_parameters;
  j["outputParameters"] = e.output_parameters;
  Json inputs = Json::array(), outputs = Json::array();
  for (const ArtifactRecord& a : e.inputs) inputs.push_back(ArtifactToJson(a));
  for (const ArtifactRecord& a : e.outputs) outputs.push_back(ArtifactToJson(a));
  j["inputs"] = std::move(inputs);
  j["outputs"] = std::move(outputs);
  if (e.start_ms) j["startTime"] = TimeString(e.start_ms);
  if (e.end_ms) j["endTime"] = TimeString(e.end_ms);
  if (e.cached_from) j["cachedFrom"] = e.cached_from;
  return j;
}

}  // namespace skiff::pipelines
