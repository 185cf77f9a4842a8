// An in-process machine that runs pipelines for real: API, scheduler, node agent (real Pods) and
// the pipeline engine with an in-memory lineage store.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "../client/test_util.h"
#include "../node/local_node.h"
#include "common/file.h"
#include "pipelines/engine.h"
#include "pipelines/ir.h"
#include "pipelines/lineage.h"
#include "pipelines/metrics.h"

namespace skiff::testing {

class EngineFixture : public ::testing::Test, public LocalNode {
 protected:
  void SetUp() override {
    SetUpNode(env_, dir_.path(), SKIFF_BIN_DIR);
    auto lineage = pipelines::LineageStore::Open(":memory:");
    ASSERT_TRUE(lineage.ok()) << lineage.status().ToString();
    lineage_ = std::move(*lineage);
    pipelines::EngineOptions o;
    o.data_dir = dir_.path();
    o.lineage = lineage_.get();
    o.metrics = &metrics_;
    ASSERT_TRUE(pipelines::StartPipelineEngine(*mgr_, env_.client.get(), o).ok());
    StartNode();
  }
  void TearDown() override { TearDownNode(); }

  // Creates a PipelineRun of `ir` (a PipelineSpec) named `name`; `spec_extra` is merged into spec.
  void StartRun(const std::string& name, const Json& ir, const Json& spec_extra = Json::object()) {
    Json spec{{"pipelineSpec", ir}};
    spec.update(spec_extra);
    Json run{{"apiVersion", "kubeflow.org/v2beta1"},
             {"kind", "PipelineRun"},
             {"metadata", {{"name", name}, {"namespace", "default"}}},
             {"spec", spec}};
    auto created = env_.client->Create(pipelines::kPipelineRuns, "default", run);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  Json LoadIr(const std::string& path) {
    auto text = ReadFile(path);
    EXPECT_TRUE(text.ok()) << path;
    if (!text.ok()) return Json();
    auto doc = pipelines::ParsePipelineFile(*text);
    EXPECT_TRUE(doc.ok()) << path << ": " << doc.status().ToString();
    if (!doc.ok()) return Json();
    Json ir = doc->spec;
    if (!doc->platform_spec.is_null()) ir["platforms"] = doc->platform_spec["platforms"];
    return ir;
  }

  Json Get(const std::string& name) {
    auto got = env_.client->Get(pipelines::kPipelineRuns, "default", name);
    return got.ok() ? *got : Json();
  }

  // Waits until the run's state is one of `states` (comma-separated); returns the run.
  Json WaitState(const std::string& name, const std::string& states,
                 std::chrono::seconds timeout = std::chrono::seconds(90)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Json run;
    while (std::chrono::steady_clock::now() < deadline) {
      run = Get(name);
      const std::string state = StringAt(run, "status.state");
      if (!state.empty() && ("," + states + ",").find("," + state + ",") != std::string::npos) {
        return run;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "run " << name << " did not reach " << states << "; last:\n"
                  << ToYaml(Field(run, "status"));
    return run;
  }

  // The status entry of task `id`.
  static Json Task(const Json& run, const std::string& id) {
    const Json* tasks = FindPath(run, "status.tasks");
    if (tasks && tasks->is_array()) {
      for (const Json& t : *tasks) {
        if (StringAt(t, "name") == id) return t;
      }
    }
    return Json();
  }

  std::string PodLog(const std::string& pod_name) {
    auto pod = env_.client->Get({"", "v1", "pods"}, "default", pod_name);
    if (!pod.ok()) return "<no pod " + pod_name + ">";
    std::string out;
    runtime::LogReadOptions lo;
    Status s = agent_->StreamLogs(*pod, "main", false, lo, [&](const std::string& chunk) {
      out += chunk;
      return true;
    });
    return out;
  }

  static const Json& Field(const Json& j, const char* key) {
    static const Json kNull;
    return j.is_object() && j.contains(key) ? j[key] : kNull;
  }

  TempDir dir_;
  InProcessEnv env_;
  std::unique_ptr<pipelines::LineageStore> lineage_;
  pipelines::PipelineMetrics metrics_;
};

// One task of a small test pipeline: `script` runs under `sh -c` (placeholders allowed inside
// it), `inputs` is the task's IR inputs.parameters, `outputs` the output parameter names (STRING).
struct TestTask {
  std::string name;
  std::string script;
  Json inputs = Json::object();
  std::vector<std::string> outputs;
  Json extra = Json::object();  // merged into the task spec (dependentTasks, retryPolicy, ...)
  Json input_types = Json::object();  // input name → parameterType (default STRING)
};

inline Json BuildPipeline(const std::string& name, const std::vector<TestTask>& tasks,
                          const Json& root_inputs = Json::object()) {
  Json ir{{"pipelineInfo", {{"name", name}}},
          {"schemaVersion", "2.1.0"},
          {"components", Json::object()},
          {"deploymentSpec", {{"executors", Json::object()}}},
          {"root", {{"dag", {{"tasks", Json::object()}}}}}};
  if (!root_inputs.empty()) ir["root"]["inputDefinitions"]["parameters"] = root_inputs;
  for (const TestTask& t : tasks) {
    Json comp{{"executorLabel", "exec-" + t.name}};
    for (auto it = t.inputs.begin(); it != t.inputs.end(); ++it) {
      std::string type =
          t.input_types.contains(it.key()) ? t.input_types[it.key()].get<std::string>() : "STRING";
      comp["inputDefinitions"]["parameters"][it.key()] = {{"parameterType", type}};
    }
    for (const std::string& o : t.outputs) {
      comp["outputDefinitions"]["parameters"][o] = {{"parameterType", "STRING"}};
    }
    ir["components"]["comp-" + t.name] = comp;
    ir["deploymentSpec"]["executors"]["exec-" + t.name] = {
        {"container", {{"image", "alpine"}, {"command", {"sh", "-c", t.script}}}}};
    Json task{{"componentRef", {{"name", "comp-" + t.name}}}, {"taskInfo", {{"name", t.name}}}};
    if (!t.inputs.empty()) task["inputs"]["parameters"] = t.inputs;
    task.update(t.extra);
    ir["root"]["dag"]["tasks"][t.name] = task;
  }
  return ir;
}

}  // namespace skiff::testing
