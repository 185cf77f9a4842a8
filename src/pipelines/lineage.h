// Lineage in ML Metadata's model — contexts (a pipeline, a run), executions (one per task
// execution), artifacts, and events joining them (INPUT / OUTPUT) — kept in its own SQLite file
// ($SKIFF_HOME/lineage.db), as MLMD keeps its own database beside KFP's. Also the cache index:
// a task's fingerprint → the outputs of the last completed execution with it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::pipelines {

struct ArtifactRecord {
  int64_t id = 0;                  // assigned by the store
  std::string key;                 // input/output name in the task (the event's path)
  std::string name;                // artifact name (KFP: the output key, or the importer's name)
  std::string type;                // schema title: system.Artifact, system.Dataset, system.Model,
                                   // system.Metrics, system.ClassificationMetrics, ...
  std::string uri;                 // file:///..., gs://..., ...
  Json metadata = Json::object();  // the executor's metadata (metrics values for system.Metrics)
};

// One execution of one task (a container, an importer, or a DAG/loop iteration driver).
struct ExecutionRecord {
  int64_t id = 0;     // assigned by the store
  std::string type;   // system.ContainerExecution | system.ImporterExecution |
                      // system.DAGExecution
  std::string state;  // RUNNING, COMPLETE, FAILED, CACHED, CANCELED
  std::string namespace_name;
  std::string pipeline;  // pipeline name (context type system.Pipeline)
  std::string run_name;  // run object name (context type system.PipelineRun)
  std::string run_uid;
  std::string task;  // task path in the run (e.g. for-loop-2.1.train)
  std::string pod;   // Pod that ran it, if any
  std::string image;
  std::vector<std::string> command;  // resolved command + args
  std::string fingerprint;           // cache key (empty: not cacheable)
  Json input_parameters = Json::object();
  Json output_parameters = Json::object();
  std::vector<ArtifactRecord> inputs;   // events INPUT
  std::vector<ArtifactRecord> outputs;  // events OUTPUT
  int64_t start_ms = 0;                 // Unix ms
  int64_t end_ms = 0;
  int64_t cached_from = 0;  // for CACHED: the execution whose outputs were reused
};

class LineageStore {
 public:
  // Opens (creating) the database; ":memory:" for tests. Safe to use from many threads.
  static StatusOr<std::unique_ptr<LineageStore>> Open(const std::string& path);
  virtual ~LineageStore() = default;

  // Records one execution with its contexts (pipeline, run — created on first use), its
  // artifacts (an artifact is identified by its URI: recording the same URI again updates its
  // metadata and reuses the id) and events, in one transaction. Returns the execution id.
  virtual StatusOr<int64_t> RecordExecution(const ExecutionRecord& execution) = 0;

  // The newest COMPLETE execution in `namespace_name` with this fingerprint, with its outputs;
  // nullopt when there is none.
  virtual StatusOr<std::optional<ExecutionRecord>> FindCached(const std::string& namespace_name,
                                                              const std::string& fingerprint) = 0;

  virtual StatusOr<ExecutionRecord> GetExecution(int64_t id) = 0;
  // Executions of one run, oldest first.
  virtual StatusOr<std::vector<ExecutionRecord>> ExecutionsOfRun(const std::string& run_uid) = 0;

  // The provenance of an artifact, walking back from the execution that produced it through
  // that execution's inputs to the executions that produced those, and so on:
  //   {"artifact": {...}, "producedBy": {"execution": {...}, "run": ..., "pipeline": ...,
  //    "task": ..., "image": ..., "command": [...], "inputs": {"parameters": {...},
  //    "artifacts": [{"key": ..., "artifact": {...}, "producedBy": {...}}]}}}
  // kNotFound when no artifact has this URI.
  virtual StatusOr<Json> Lineage(const std::string& artifact_uri) = 0;

  // Artifacts, newest first, optionally of one type (e.g. system.Metrics), with the execution
  // and run that produced them.
  // `limit` <= 0: all of them. Answers {"artifacts": [...]}.
  virtual StatusOr<Json> ListArtifacts(const std::string& type, int64_t limit) = 0;
};

// The JSON forms the HTTP surface and `skiff lineage` share. Times are RFC 3339 (left out when
// 0), empty strings are left out.
Json ArtifactToJson(const ArtifactRecord& artifact);
Json ExecutionToJson(const ExecutionRecord& execution);

}  // namespace skiff::pipelines
