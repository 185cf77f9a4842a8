// The engine's view of one PipelineRun: its task instances and run-level state, loaded from and
// written to the run's status (the only durable copy). See engine.h for what the ids mean.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json.h"

namespace skiff::pipelines {

struct TaskRun {
  std::string id;       // path in the run: "train", "for-loop-2.0.print-op"
  std::string parent;   // the DAG, loop or iteration instance it belongs to ("" = root)
  std::string key;      // task name in its DAG (the iteration index for iterations)
  std::string display;  // taskInfo.name
  std::string kind;     // container | importer | dag | loop | iteration
  std::string state = "PENDING";
  std::string pod;
  std::string message;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool cached = false;
  int64_t cached_from = 0;       // lineage execution whose outputs were reused
  bool upstream_failed = false;  // SKIPPED because an upstream task did not succeed
  int attempts = 0;
  Json inputs = Json{{"parameters", Json::object()}, {"artifacts", Json::object()}};
  Json outputs = Json{{"parameters", Json::object()}, {"artifacts", Json::object()}};

  // Needed only while the task runs (kept in status under "runtime" until it ends).
  std::string exec_label;
  Json executor_input;
  Json retry_policy;
  int max_retries = 0;
  bool cache_enabled = false;
  Json output_types = Json::object();  // output parameter → parameterType
  std::string fingerprint;
  int64_t retry_at_ms = 0;
  int64_t pod_created_ms = 0;
  std::vector<std::string> command;
  Json items;  // loops: the items
  std::string item_input;
  bool artifact_items = false;
  int64_t parallelism = 0;

  bool pod_seen = false;  // memory only: the informer has shown the Pod

  Json ToJson() const;
  static TaskRun FromJson(const Json& j);
};

struct RunModel {
  std::string ns, name;
  std::string state;  // "" until first seen
  std::string message;
  std::string pipeline_name;
  std::string pipeline_root;
  int64_t start_ms = 0;
  int64_t completion_ms = 0;
  int64_t retry_count = 0;
  bool canceling = false;
  std::string cancel_reason;
  Json root_inputs = Json{{"parameters", Json::object()}, {"artifacts", Json::object()}};
  Json outputs = Json::object();
  std::vector<std::unique_ptr<TaskRun>> tasks;  // in creation order
  std::unordered_map<std::string, TaskRun*> by_id;
  Json last_written;            // the status as last written (no write when unchanged)
  int64_t last_written_rv = 0;  // its resourceVersion
  int64_t last_write_ms = 0;    // when it was written (engine clock)
  int64_t write_cost_ms = 0;    // how long that write took

  TaskRun* Find(const std::string& id) {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  }
  TaskRun& Add(const std::string& id, const std::string& parent, const std::string& key,
               const std::string& display, const std::string& kind);
  // For a retry: forgets FAILED and CANCELED tasks (and those SKIPPED because of them) and
  // reopens the groups that contained them; finished work keeps its outputs.
  void ResetFailed();
  void LoadStatus(const Json& status);
  Json ToStatus(const Json& generation) const;
  // "done/total" over container and importer tasks known so far.
  std::string Progress() const;
};

}  // namespace skiff::pipelines
