// The run engine's semantics task by task, with real Pods: parameters between tasks, retries,
// failure propagation, caching, cancel, run retry, timeouts and ParallelFor.
#include <set>

#include "engine_fixture.h"

namespace skiff::testing {
namespace {

using pipelines::kPipelineRuns;

class EngineTest : public EngineFixture {};

const char kOut[] = "{{$.outputs.parameters['out'].output_file}}";

TEST_F(EngineTest, ParametersFlowBetweenTasksAndExecutionsAreRecorded) {
  Json ir = BuildPipeline("params",
                          {{"producer",
                            "printf '%s!' '{{$.inputs.parameters['text']}}' > " + std::string(kOut),
                            {{"text", {{"componentInputParameter", "text"}}}},
                            {"out"}},
                           {"consumer",
                            "echo got: '{{$.inputs.parameters['value']}}'",
                            {{"value",
                              {{"taskOutputParameter",
                                {{"producerTask", "producer"}, {"outputParameterKey", "out"}}}}}}}},
                          {{"text", {{"parameterType", "STRING"}, {"defaultValue", "hi"}}}});
  StartRun("params", ir, {{"parameters", {{"text", "hello"}}}});
  Json run = WaitState("params", "SUCCEEDED,FAILED");
  ASSERT_EQ(StringAt(run, "status.state"), "SUCCEEDED") << ToYaml(run["status"]);
  EXPECT_EQ(StringAt(run, "status.progress"), "2/2");
  Json producer = Task(run, "producer");
  EXPECT_EQ(producer["outputs"]["parameters"]["out"], "hello!");
  Json consumer = Task(run, "consumer");
  EXPECT_EQ(consumer["inputs"]["parameters"]["value"], "hello!");
  EXPECT_NE(PodLog(consumer["podName"]).find("got: hello!"), std::string::npos);
  // Pods carry the run and task labels and are owned by the run.
  auto pod = env_.client->Get({"", "v1", "pods"}, "default", consumer["podName"]);
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ((*pod)["metadata"]["labels"]["pipelines.kubeflow.org/run"], "params");
  EXPECT_EQ((*pod)["metadata"]["labels"]["pipelines.kubeflow.org/task"], "consumer");
  EXPECT_EQ((*pod)["metadata"]["ownerReferences"][0]["kind"], "PipelineRun");
  auto executions = lineage_->ExecutionsOfRun(StringAt(run, "metadata.uid"));
  ASSERT_TRUE(executions.ok());
  EXPECT_EQ(executions->size(), 2u);
}

TEST_F(EngineTest, UnknownParameterFailsTheRunWithAClearMessage) {
  Json ir = BuildPipeline("p", {{"a", "true"}});
  StartRun("unknown-param", ir, {{"parameters", {{"nope", 1}}}});
  Json run = WaitState("unknown-param", "FAILED,SUCCEEDED");
  EXPECT_EQ(StringAt(run, "status.state"), "FAILED");
  EXPECT_NE(StringAt(run, "status.message").find("\"nope\" is not an input of pipeline p"),
            std::string::npos)
      << StringAt(run, "status.message");
}

TEST_F(EngineTest, RetryPolicyRunsAFailedAttemptAgain) {
  // Fails on the first attempt, succeeds on the second (the task directory persists).
  const std::string script = "d=$(dirname " + std::string(kOut) +
                             "); if [ -f $d/tried ]; then echo ok > " + kOut +
                             "; else touch $d/tried; exit 3; fi";
  Json ir = BuildPipeline("retry",
                          {{"flaky",
                            script,
                            Json::object(),
                            {"out"},
                            {{"retryPolicy", {{"maxRetryCount", 2}, {"backoffDuration", "0s"}}}}}});
  StartRun("retry", ir);
  Json run = WaitState("retry", "SUCCEEDED,FAILED");
  ASSERT_EQ(StringAt(run, "status.state"), "SUCCEEDED") << ToYaml(run["status"]);
  Json t = Task(run, "flaky");
  EXPECT_EQ(t["attempts"], 2);
  EXPECT_EQ(t["outputs"]["parameters"]["out"], "ok\n");
}

TEST_F(EngineTest, AFailedTaskSkipsItsDownstreamButNotIndependentTasks) {
  Json ir = BuildPipeline("fail",
                          {{"bad", "echo broken >&2; exit 7"},
                           {"after-bad", "true", Json::object(), {}, {{"dependentTasks", {"bad"}}}},
                           {"independent", "true"}});
  StartRun("fail", ir);
  Json run = WaitState("fail", "SUCCEEDED,FAILED");
  EXPECT_EQ(StringAt(run, "status.state"), "FAILED");
  EXPECT_NE(StringAt(run, "status.message").find("task bad failed"), std::string::npos)
      << StringAt(run, "status.message");
  EXPECT_EQ(Task(run, "bad")["state"], "FAILED");
  EXPECT_NE(StringAt(Task(run, "bad"), "message").find("exit code 7"), std::string::npos);
  EXPECT_EQ(Task(run, "after-bad")["state"], "SKIPPED");
  EXPECT_EQ(Task(run, "independent")["state"], "SUCCEEDED");
}

TEST_F(EngineTest, CachingReusesOutputsUnlessDisabled) {
  Json ir = BuildPipeline("cache", {{"stamp",
                                     "date +%s%N > " + std::string(kOut),
                                     Json::object(),
                                     {"out"},
                                     {{"cachingOptions", {{"enableCache", true}}}}}});
  StartRun("cache-1", ir);
  Json first = WaitState("cache-1", "SUCCEEDED,FAILED");
  ASSERT_EQ(StringAt(first, "status.state"), "SUCCEEDED") << ToYaml(first["status"]);
  StartRun("cache-2", ir);
  Json second = WaitState("cache-2", "SUCCEEDED,FAILED");
  ASSERT_EQ(StringAt(second, "status.state"), "SUCCEEDED");
  Json t2 = Task(second, "stamp");
  EXPECT_EQ(t2["state"], "CACHED");
  EXPECT_EQ(t2["cached"], true);
  EXPECT_FALSE(t2.contains("podName"));
  EXPECT_EQ(t2["outputs"], Task(first, "stamp")["outputs"]);
  StartRun("cache-3", ir, {{"cachingOptions", {{"disabled", true}}}});
  Json third = WaitState("cache-3", "SUCCEEDED,FAILED");
  EXPECT_EQ(Task(third, "stamp")["state"], "SUCCEEDED");
  EXPECT_NE(Task(third, "stamp")["outputs"], Task(first, "stamp")["outputs"]);
  EXPECT_NE(metrics_.Render().find("kubeflow_pipeline_cache_hits_total 1"), std::string::npos);
}

TEST_F(EngineTest, TerminateCancelsRunningTasks) {
  Json ir = BuildPipeline(
      "slow", {{"sleeper", "sleep 60"},
               {"later", "true", Json::object(), {}, {{"dependentTasks", {"sleeper"}}}}});
  StartRun("cancel", ir);
  // Wait for the Pod to run.
  std::string pod;
  for (int i = 0; i < 400 && pod.empty(); ++i) {
    Json t = Task(Get("cancel"), "sleeper");
    if (t.contains("podName")) {
      auto p = env_.client->Get({"", "v1", "pods"}, "default", t["podName"]);
      if (p.ok() && StringAt(*p, "status.phase") == "Running") pod = t["podName"];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(pod.empty());
  auto patched = env_.client->Patch(kPipelineRuns, "default", "cancel", client::PatchType::kMerge,
                                    R"({"spec":{"terminate":true}})");
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  Json run = WaitState("cancel", "CANCELED,FAILED,SUCCEEDED", std::chrono::seconds(30));
  EXPECT_EQ(StringAt(run, "status.state"), "CANCELED");
  EXPECT_EQ(Task(run, "sleeper")["state"], "CANCELED");
  EXPECT_EQ(Task(run, "later")["state"], "CANCELED");
}

TEST_F(EngineTest, RetryingAFailedRunReRunsOnlyWhatFailed) {
  // `second` fails the first time it ever runs, then succeeds; `first` must not run again.
  const std::string flaky = "d=$(dirname " + std::string(kOut) +
                            "); if [ -f $d/tried ]; then echo fine > " + kOut +
                            "; else touch $d/tried; exit 1; fi";
  Json ir = BuildPipeline(
      "rerun", {{"first", "echo one > " + std::string(kOut), Json::object(), {"out"}},
                {"second", flaky, Json::object(), {"out"}, {{"dependentTasks", {"first"}}}}});
  StartRun("rerun", ir);
  Json failed = WaitState("rerun", "FAILED,SUCCEEDED");
  ASSERT_EQ(StringAt(failed, "status.state"), "FAILED");
  const std::string first_pod = Task(failed, "first")["podName"];
  auto patched = env_.client->Patch(kPipelineRuns, "default", "rerun", client::PatchType::kMerge,
                                    R"({"spec":{"retryCount":1}})");
  ASSERT_TRUE(patched.ok());
  Json run = WaitState("rerun", "SUCCEEDED");
  EXPECT_EQ(Task(run, "first")["podName"], first_pod);
  EXPECT_EQ(Task(run, "second")["state"], "SUCCEEDED");
  EXPECT_EQ(Task(run, "second")["outputs"]["parameters"]["out"], "fine\n");
  EXPECT_EQ(run["status"]["retryCount"], 1);
}

TEST_F(EngineTest, RunTimeoutFailsTheRun) {
  Json ir = BuildPipeline("timeout", {{"sleeper", "sleep 60"}});
  StartRun("timeout", ir, {{"timeout", "1s"}});
  Json run = WaitState("timeout", "FAILED,SUCCEEDED,CANCELED", std::chrono::seconds(40));
  EXPECT_EQ(StringAt(run, "status.state"), "FAILED");
  EXPECT_NE(StringAt(run, "status.message").find("timeout"), std::string::npos);
}

TEST_F(EngineTest, ParallelForRunsEachItemWithinTheLimitAndCollectsOutputs) {
  Json ir = BuildPipeline("loop", {});
  ir["components"]["comp-body"] = {
      {"executorLabel", "exec-body"},
      {"inputDefinitions", {{"parameters", {{"item", {{"parameterType", "NUMBER_INTEGER"}}}}}}},
      {"outputDefinitions", {{"parameters", {{"out", {{"parameterType", "STRING"}}}}}}}};
  ir["deploymentSpec"]["executors"]["exec-body"] = {
      {"container",
       {{"image", "alpine"},
        {"command",
         {"sh", "-c",
          "sleep 0.3; printf 'item-%s' '{{$.inputs.parameters['item']}}' > " +
              std::string(kOut)}}}}};
  ir["components"]["comp-for-loop-1"] = {
      {"dag",
       {{"tasks",
         {{"body",
           {{"componentRef", {{"name", "comp-body"}}},
            {"taskInfo", {{"name", "body"}}},
            {"inputs",
             {{"parameters",
               {{"item",
                 {{"componentInputParameter", "pipelinechannel--loop-item-param-1"}}}}}}}}}}},
        {"outputs",
         {{"parameters",
           {{"pipelinechannel--body-out",
             {{"valueFromParameter",
               {{"producerSubtask", "body"}, {"outputParameterKey", "out"}}}}}}}}}}},
      {"inputDefinitions",
       {{"parameters",
         {{"pipelinechannel--loop-item-param-1", {{"parameterType", "NUMBER_INTEGER"}}}}}}},
      {"outputDefinitions",
       {{"parameters", {{"pipelinechannel--body-out", {{"parameterType", "LIST"}}}}}}}};
  ir["root"]["dag"]["tasks"]["for-loop-1"] = {
      {"componentRef", {{"name", "comp-for-loop-1"}}},
      {"taskInfo", {{"name", "for-loop-1"}}},
      {"parameterIterator",
       {{"items", {{"raw", "[1, 2, 3, 4]"}}}, {"itemInput", "pipelinechannel--loop-item-param-1"}}},
      {"iteratorPolicy", {{"parallelismLimit", 2}}}};
  ir["components"]["comp-collect"] = {
      {"executorLabel", "exec-collect"},
      {"inputDefinitions", {{"parameters", {{"all", {{"parameterType", "LIST"}}}}}}}};
  ir["deploymentSpec"]["executors"]["exec-collect"] = {
      {"container",
       {{"image", "alpine"}, {"command", {"sh", "-c", "echo '{{$.inputs.parameters['all']}}'"}}}}};
  ir["root"]["dag"]["tasks"]["collect"] = {
      {"componentRef", {{"name", "comp-collect"}}},
      {"taskInfo", {{"name", "collect"}}},
      {"dependentTasks", {"for-loop-1"}},
      {"inputs",
       {{"parameters",
         {{"all",
           {{"taskOutputParameter",
             {{"producerTask", "for-loop-1"},
              {"outputParameterKey", "pipelinechannel--body-out"}}}}}}}}}};
  StartRun("loop", ir);
  int most_running = 0;
  Json run;
  for (int i = 0; i < 1800; ++i) {
    run = Get("loop");
    int running = 0;
    for (const Json& t : run["status"]["tasks"]) {
      if (t["type"] == "iteration" && t["state"] == "RUNNING") ++running;
    }
    most_running = std::max(most_running, running);
    const std::string state = StringAt(run, "status.state");
    if (state == "SUCCEEDED" || state == "FAILED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(StringAt(run, "status.state"), "SUCCEEDED") << ToYaml(run["status"]);
  EXPECT_LE(most_running, 2);
  EXPECT_EQ(Task(run, "for-loop-1.3.body")["inputs"]["parameters"]["item"], 4);
  Json collected = Task(run, "collect")["inputs"]["parameters"]["all"];
  EXPECT_EQ(collected, Json::parse(R"(["item-1","item-2","item-3","item-4"])"));
}

}  // namespace
}  // namespace skiff::testing
