// KFP-compiled pipelines from ../shared/conformance/kfp run to their expected final state with
// the expected outputs, with real Pods.
//
// Which files run here: those whose executors are plain container commands that the image
// catalog maps to this machine's programs (alpine/busybox → host shell tools; python:*,
// ubi9/python-* → host python3), and lightweight Python components whose functions need only the
// standard library (skiff's bin/python stands in for kfp's executor and for `pip install kfp`).
// The others cannot, and why:
//  - Python components that import packages this machine lacks (sklearn, pandas, torch, ...) or
//    `pip install` them (offline);
//  - google/cloud-sdk images (two_step_pipeline, sequential_v2): gsutil talks to Google Cloud;
//  - images with no meaning here (gcr.io/my-image, gcr.io/image, dummy);
//  - nvidia_gpu_scheduling_check needs a GPU (on this machine its Pod stays Pending);
//  - long-running sleeps 2×5 minutes: it is used below to test cancel instead.
// The `my_program` files are real sample containers whose program does not exist in any image we
// map: they must fail with a message that names the missing program.
#include "engine_fixture.h"

namespace skiff::testing {
namespace {

struct Case {
  std::string file;
  Json parameters = Json::object();
  std::string state = "SUCCEEDED";
  // task id → text its Pod's log must contain ("" to only require the task's state).
  std::vector<std::pair<std::string, std::string>> logs;
  // task id → state.
  std::vector<std::pair<std::string, std::string>> task_states;
  std::string message;            // run message must contain this
  Json outputs = Json::object();  // the run's output parameters must include these
};

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.file;
  n = n.substr(0, n.size() - 5);
  for (char& c : n) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

class ConformanceRun : public EngineFixture, public ::testing::WithParamInterface<Case> {};

TEST_P(ConformanceRun, ReachesTheExpectedState) {
  const Case& c = GetParam();
  Json ir = LoadIr(std::string(SKIFF_SHARED_DIR) + "/conformance/kfp/" + c.file);
  ASSERT_FALSE(ir.is_null());
  Json extra = Json::object();
  if (!c.parameters.empty()) extra["parameters"] = c.parameters;
  // Runs are named after their pipeline, as KFP names them (some samples check it).
  const std::string name = StringAt(ir, "pipelineInfo.name").substr(0, 40) + "-run";
  StartRun(name, ir, extra);
  Json run = WaitState(name, "SUCCEEDED,FAILED,CANCELED", std::chrono::seconds(120));
  ASSERT_EQ(StringAt(run, "status.state"), c.state) << ToYaml(run["status"]);
  if (!c.message.empty()) {
    EXPECT_NE(StringAt(run, "status.message").find(c.message), std::string::npos)
        << StringAt(run, "status.message");
  }
  for (auto it = c.outputs.begin(); it != c.outputs.end(); ++it) {
    EXPECT_EQ(run["status"]["outputs"]["parameters"][it.key()], it.value()) << it.key();
  }
  for (const auto& [task, state] : c.task_states) {
    EXPECT_EQ(StringAt(Task(run, task), "state"), state) << task << "\n" << ToYaml(run["status"]);
  }
  for (const auto& [task, text] : c.logs) {
    Json t = Task(run, task);
    ASSERT_TRUE(t.contains("podName")) << task << "\n" << ToYaml(run["status"]);
    const std::string log = PodLog(t["podName"]);
    EXPECT_NE(log.find(text), std::string::npos) << task << " log:\n" << log;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kfp, ConformanceRun,
    ::testing::Values(
        Case{"valid__hello_world.yaml", {}, "SUCCEEDED", {{"echo", "hello world"}}},
        Case{"valid__critical__container_component_with_no_inputs.yaml",
             {},
             "SUCCEEDED",
             {{"hello-world-container", "hello world"}}},
        Case{"valid__essential__container_no_input.yaml",
             {},
             "SUCCEEDED",
             {{"container-no-input", "hello world"}}},
        Case{"valid__arguments_parameters.yaml",
             {{"param2", "world"}},
             "SUCCEEDED",
             {{"echo", "hello-world"}}},
        Case{"valid__critical__producer_consumer_param_pipeline.yaml",
             {{"text", "Hi there"}},
             "SUCCEEDED",
             {{"consumer", "Hi there, this is an output parameter"}}},
        Case{"valid__critical__two_step_pipeline_containerized.yaml",
             {{"text", "through an artifact"}},
             "SUCCEEDED",
             {{"component2", "through an artifact"}}},
        Case{"valid__essential__pipeline_with_after.yaml",
             {},
             "SUCCEEDED",
             {{"print-text", "1st task"},
              {"print-text-2", "2nd task"},
              {"print-text-3", "3rd task"}}},
        Case{"valid__sequential_v1.yaml",
             {{"param1", "first"}, {"param2", "second"}},
             "SUCCEEDED",
             {{"echo", "first"}, {"echo-2", "second"}}},
        Case{"valid__essential__placeholder_with_if_placeholder_none_input_value.yaml",
             {},
             "SUCCEEDED",
             {{"component-with-optional-inputs", "--arg0 input0 --arg2 default value"}}},
        Case{"valid__pipeline_with_concat_placeholder.yaml"},
        Case{"valid__pipeline_with_only_display_name.yaml", {}, "SUCCEEDED", {{"echo", "hello"}}},
        Case{"valid__pipeline_with_task_final_status_yaml.yaml",
             {{"message", "final words"}},
             "SUCCEEDED",
             {{"exit-handler-1.print-op", "final words"},
              {"exit-op", "pipeline status:"},
              {"exit-op", "\"state\":\"COMPLETE\""}}},
        Case{"valid__essential__pipeline_with_nested_conditions_yaml.yaml"},
        Case{"valid__run_as_user_cache_enabled.yaml", {}, "SUCCEEDED", {{"echo", "hello world"}}},
        Case{"argo_compatibility__fast_artifact.yaml"},
        // Lightweight Python components, run by skiff's stand-in for KFP's executor (bin/python).
        Case{"valid__critical__add_numbers.yaml",
             {{"a", 2}, {"b", 40}},
             "SUCCEEDED",
             {},
             {},
             "",
             {{"Output", 42}}},
        Case{"valid__essential__concat_message.yaml",
             {{"message1", "skiff "}, {"message2", "runs"}},
             "SUCCEEDED",
             {},
             {},
             "",
             {{"Output", "skiff runs"}}},
        Case{"valid__critical__parameters_simple.yaml"}, Case{"valid__critical__flip_coin.yaml"},
        Case{"valid__critical__multiple_parameters_namedtuple.yaml"},
        Case{"valid__critical__multiple_artifacts_namedtuple.yaml"},
        Case{"valid__critical__collected_parameters.yaml"},
        Case{"valid__critical__parallel_for_after_dependency.yaml"},
        Case{"valid__critical__mixed_parameters.yaml"},
        Case{"valid__critical__component_with_optional_inputs.yaml"},
        Case{"valid__critical__if_else_with_oneof_artifacts.yaml"},
        Case{"valid__critical__parameter_oneof.yaml"}, Case{"valid__critical__artifact_cache.yaml"},
        Case{"valid__critical__parameter_cache.yaml"}, Case{"valid__critical__artifact_crust.yaml"},
        Case{"valid__critical__pipeline_with_env.yaml"},
        Case{"valid__critical__pipeline_with_retry.yaml"},
        Case{"valid__critical__pipeline_with_placeholders.yaml"},
        Case{"valid__critical__pythonic_artifacts_test_pipeline.yaml"},
        Case{"valid__critical__pipeline_with_input_status_state.yaml"},
        Case{"valid__essential__pipeline_with_metrics_outputs.yaml"},
        Case{"valid__essential__pipeline_with_condition.yaml"},
        Case{"valid__essential__pipeline_with_nested_conditions.yaml"},
        Case{"valid__essential__pipeline_with_outputs.yaml"},
        Case{"valid__essential__pipeline_with_reused_component.yaml"},
        Case{"valid__essential__component_with_env_variable.yaml"},
        Case{"valid__essential__lightweight_python_functions_pipeline.yaml", {{"message", "hi"}}},
        Case{"valid__essential__lightweight_python_functions_with_outputs.yaml",
             {{"first_message", "a"},
              {"second_message", "b"},
              {"first_number", 1},
              {"second_number", 2}}},
        Case{"valid__essential__dict_input.yaml", {{"struct", {{"a", 1}, {"b", "two"}}}}},
        Case{"valid__container_io.yaml",
             {{"text", "x"}},
             "FAILED",
             {},
             {{"container-io", "FAILED"}},
             "my_program"}),
    Name);

// The long-running sample (two 5-minute sleeps) ends CANCELED when terminated, its Pod stopped.
TEST_F(EngineFixture, LongRunningSampleCancels) {
  Json ir = LoadIr(std::string(SKIFF_SHARED_DIR) + "/conformance/kfp/valid__long-running.yaml");
  ASSERT_FALSE(ir.is_null());
  StartRun("long", ir);
  bool running = false;
  for (int i = 0; i < 400 && !running; ++i) {
    const Json current = Get("long");
    const Json* tasks = FindPath(current, "status.tasks");
    if (tasks && tasks->is_array()) {
      for (const Json& t : *tasks) {
        if (StringAt(t, "state") != "RUNNING" || !t.contains("podName")) continue;
        auto pod = env_.client->Get({"", "v1", "pods"}, "default", t["podName"]);
        running = pod.ok() && StringAt(*pod, "status.phase") == "Running";
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(running) << ToYaml(Get("long")["status"]);
  ASSERT_TRUE(env_.client
                  ->Patch(pipelines::kPipelineRuns, "default", "long", client::PatchType::kMerge,
                          R"({"spec":{"terminate":true}})")
                  .ok());
  Json run = WaitState("long", "CANCELED,FAILED,SUCCEEDED", std::chrono::seconds(30));
  EXPECT_EQ(StringAt(run, "status.state"), "CANCELED");
  EXPECT_EQ(StringAt(run, "status.message"), "the run was terminated");
}

}  // namespace
}  // namespace skiff::testing
