#include "pipelines/run_model.h"

#include <chrono>
#include <set>

#include "common/clock.h"

namespace skiff::pipelines {
namespace {

std::string Time(int64_t ms) {
  return FormatRfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

int64_t Ms(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return 0;
  std::chrono::system_clock::time_point t;
  if (!ParseRfc3339(it->get<std::string>(), &t)) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string S(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

template <typename T>
T Get(const Json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (...) {
    return fallback;
  }
}

bool Final(const std::string& s) {
  return s == "SUCCEEDED" || s == "FAILED" || s == "SKIPPED" || s == "CANCELED" || s == "CACHED";
}

}  // namespace

Json TaskRun::ToJson() const {
  Json j{{"name", id}, {"displayName", display}, {"type", kind}, {"state", state}};
  if (!parent.empty()) j["parent"] = parent;
  if (!pod.empty()) j["podName"] = pod;
  if (start_ms) j["startTime"] = Time(start_ms);
  if (end_ms) j["endTime"] = Time(end_ms);
  if (cached) j["cached"] = true;
  if (attempts) j["attempts"] = attempts;
  if (!message.empty()) j["message"] = message;
  if (upstream_failed) j["upstreamFailed"] = true;
  if (!inputs["parameters"].empty() || !inputs["artifacts"].empty()) j["inputs"] = inputs;
  if (!outputs["parameters"].empty() || !outputs["artifacts"].empty()) j["outputs"] = outputs;
  // A loop keeps its items even when finished: a retry of the run may reopen it.
  const bool keep_runtime = !Final(state) || kind == "loop";
  if (keep_runtime) {
    Json r = Json::object();
    if (!exec_label.empty()) r["execLabel"] = exec_label;
    if (!executor_input.is_null()) r["executorInput"] = executor_input;
    if (!retry_policy.is_null()) r["retryPolicy"] = retry_policy;
    if (max_retries) r["maxRetries"] = max_retries;
    if (cache_enabled) r["cacheEnabled"] = true;
    if (!output_types.empty()) r["outputTypes"] = output_types;
    if (!fingerprint.empty()) r["fingerprint"] = fingerprint;
    if (retry_at_ms) r["retryAtMs"] = retry_at_ms;
    if (pod_created_ms) r["podCreatedMs"] = pod_created_ms;
    if (!command.empty()) r["command"] = command;
    if (!items.is_null()) r["items"] = items;
    if (!item_input.empty()) r["itemInput"] = item_input;
    if (artifact_items) r["artifactItems"] = true;
    if (parallelism) r["parallelism"] = parallelism;
    if (!r.empty()) j["runtime"] = r;
  }
  return j;
}

TaskRun TaskRun::FromJson(const Json& j) {
  TaskRun t;
  t.id = S(j, "name");
  t.parent = S(j, "parent");
  const size_t dot = t.id.rfind('.');
  t.key = dot == std::string::npos ? t.id : t.id.substr(dot + 1);
  t.display = S(j, "displayName");
  t.kind = S(j, "type");
  t.state = S(j, "state");
  t.pod = S(j, "podName");
  t.message = S(j, "message");
  t.start_ms = Ms(j, "startTime");
  t.end_ms = Ms(j, "endTime");
  t.cached = Get<bool>(j, "cached", false);
  t.upstream_failed = Get<bool>(j, "upstreamFailed", false);
  t.attempts = Get<int>(j, "attempts", 0);
  if (j.contains("inputs") && j["inputs"].is_object()) t.inputs.update(j["inputs"]);
  if (j.contains("outputs") && j["outputs"].is_object()) t.outputs.update(j["outputs"]);
  if (j.contains("runtime") && j["runtime"].is_object()) {
    const Json& r = j["runtime"];
    t.exec_label = S(r, "execLabel");
    if (r.contains("executorInput")) t.executor_input = r["executorInput"];
    if (r.contains("retryPolicy")) t.retry_policy = r["retryPolicy"];
    t.max_retries = Get<int>(r, "maxRetries", 0);
    t.cache_enabled = Get<bool>(r, "cacheEnabled", false);
    if (r.contains("outputTypes")) t.output_types = r["outputTypes"];
    t.fingerprint = S(r, "fingerprint");
    t.retry_at_ms = Get<int64_t>(r, "retryAtMs", 0);
    t.pod_created_ms = Get<int64_t>(r, "podCreatedMs", 0);
    t.command = Get<std::vector<std::string>>(r, "command", {});
    if (r.contains("items")) t.items = r["items"];
    t.item_input = S(r, "itemInput");
    t.artifact_items = Get<bool>(r, "artifactItems", false);
    t.parallelism = Get<int64_t>(r, "parallelism", 0);
  }
  return t;
}

TaskRun& RunModel::Add(const std::string& id, const std::string& parent, const std::string& key,
                       const std::string& display, const std::string& kind) {
  auto t = std::make_unique<TaskRun>();
  t->id = id;
  t->parent = parent;
  t->key = key;
  t->display = display;
  t->kind = kind;
  TaskRun* raw = t.get();
  tasks.push_back(std::move(t));
  by_id[id] = raw;
  return *raw;
}

void RunModel::ResetFailed() {
  std::set<std::string> drop;
  for (const auto& t : tasks) {
    const bool leaf_failed =
        (t->kind == "container" || t->kind == "importer" || t->state == "SKIPPED") &&
        (t->state == "FAILED" || t->state == "CANCELED" ||
         (t->state == "SKIPPED" && t->upstream_failed));
    if (leaf_failed) drop.insert(t->id);
  }
  // Groups holding a dropped task run again (their finished children stay).
  std::set<std::string> reopen;
  for (const std::string& id : drop) {
    std::string p = by_id[id]->parent;
    while (!p.empty()) {
      reopen.insert(p);
      TaskRun* g = Find(p);
      p = g ? g->parent : "";
    }
  }
  // A failed group whose children are all gone (failed before starting any) is dropped too.
  for (const auto& t : tasks) {
    if ((t->kind == "dag" || t->kind == "loop" || t->kind == "iteration") &&
        (t->state == "FAILED" || t->state == "CANCELED") && !reopen.count(t->id)) {
      drop.insert(t->id);
    }
  }
  std::vector<std::unique_ptr<TaskRun>> kept;
  for (auto& t : tasks) {
    // Children of dropped groups go with them.
    bool gone = drop.count(t->id) > 0;
    for (std::string p = t->parent; !gone && !p.empty();) {
      if (drop.count(p)) gone = true;
      TaskRun* g = Find(p);
      p = g ? g->parent : "";
    }
    if (gone) continue;
    if (reopen.count(t->id)) {
      t->state = "RUNNING";
      t->end_ms = 0;
      t->message.clear();
      t->outputs = Json{{"parameters", Json::object()}, {"artifacts", Json::object()}};
    }
    kept.push_back(std::move(t));
  }
  tasks = std::move(kept);
  by_id.clear();
  for (auto& t : tasks) by_id[t->id] = t.get();
  canceling = false;
  cancel_reason.clear();
  outputs = Json::object();
}

void RunModel::LoadStatus(const Json& status) {
  if (!status.is_object()) return;
  state = S(status, "state");
  message = S(status, "message");
  pipeline_name = S(status, "pipelineName");
  pipeline_root = S(status, "pipelineRoot");
  start_ms = Ms(status, "startTime");
  completion_ms = Ms(status, "completionTime");
  retry_count = Get<int64_t>(status, "retryCount", 0);
  if (status.contains("outputs")) outputs = status["outputs"];
  canceling = state == "CANCELING";
  if (status.contains("runtime") && status["runtime"].is_object()) {
    const Json& r = status["runtime"];
    if (r.contains("rootInputs")) root_inputs = r["rootInputs"];
    cancel_reason = S(r, "cancelReason");
  }
  if (status.contains("tasks") && status["tasks"].is_array()) {
    for (const Json& j : status["tasks"]) {
      auto t = std::make_unique<TaskRun>(TaskRun::FromJson(j));
      by_id[t->id] = t.get();
      tasks.push_back(std::move(t));
    }
  }
  last_written = status;
}

Json RunModel::ToStatus(const Json& generation) const {
  Json s = Json::object();
  if (!generation.is_null()) s["observedGeneration"] = generation;
  s["state"] = state.empty() ? "PENDING" : state;
  if (!message.empty()) s["message"] = message;
  s["progress"] = Progress();
  if (start_ms) s["startTime"] = Time(start_ms);
  if (completion_ms) s["completionTime"] = Time(completion_ms);
  if (!pipeline_name.empty()) s["pipelineName"] = pipeline_name;
  if (!pipeline_root.empty()) s["pipelineRoot"] = pipeline_root;
  if (retry_count) s["retryCount"] = retry_count;
  if (!outputs.empty()) s["outputs"] = outputs;
  Json list = Json::array();
  for (const auto& t : tasks) list.push_back(t->ToJson());
  s["tasks"] = std::move(list);
  const bool final = Final(state);
  Json cond{{"type", "Succeeded"},
            {"status", state == "SUCCEEDED" ? "True"
                       : final              ? "False"
                                            : "Unknown"},
            {"reason", state.empty() ? "PENDING" : state}};
  if (!message.empty()) cond["message"] = message;
  if (completion_ms) {
    cond["lastTransitionTime"] = Time(completion_ms);
  } else if (start_ms) {
    cond["lastTransitionTime"] = Time(start_ms);
  }
  s["conditions"] = Json::array({cond});
  if (!final) {
    Json r{{"rootInputs", root_inputs}};
    if (!cancel_reason.empty()) r["cancelReason"] = cancel_reason;
    s["runtime"] = r;
  }
  return s;
}

std::string RunModel::Progress() const {
  int64_t done = 0, total = 0;
  for (const auto& t : tasks) {
    if (t->kind != "container" && t->kind != "importer") continue;
    ++total;
    if (Final(t->state)) ++done;
  }
  return std::to_string(done) + "/" + std::to_string(total);
}

}  // namespace skiff::pipelines
