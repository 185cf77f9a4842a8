// The C++ DSL compiles to IR that ValidateIr accepts and that has KFP's shape: shared components
// and executors, dependentTasks, conditions as triggerPolicy on group tasks, loops as
// parameterIterator with values threaded in as pipelinechannel-- inputs, exit handlers, retry and
// caching. Errors name the task. The example programs print IR that parses and validates.
#include "skiff/dsl.h"

#include <cstdio>
#include <memory>

#include "gtest/gtest.h"
#include "pipelines/ir.h"

namespace skiff::dsl {
namespace {

Component Add() {
  return Component("add")
      .Image("alpine")
      .Input("a", Type::Integer)
      .Input("b", Type::Integer)
      .Output("sum", Type::Integer)
      .Command({"sh", "-c", "echo $(( $0 + $1 )) > \"$2\""})
      .Args({InputParam("a"), InputParam("b"), OutputParamFile("sum")});
}

Component Echo() {
  return Component("echo")
      .Image("alpine")
      .Input("msg", Type::String)
      .Command({"echo", InputParam("msg")});
}

// Compiles, validates, and checks every DAG orders.
Json Ir(const Pipeline& p) {
  auto ir = p.Compile();
  EXPECT_TRUE(ir.ok()) << ir.status().message();
  if (!ir.ok()) return Json();
  Status valid = pipelines::ValidateIr(*ir);
  EXPECT_TRUE(valid.ok()) << valid.message();
  EXPECT_TRUE(pipelines::TopologicalOrder((*ir)["root"]["dag"]).ok());
  for (const auto& [name, c] : (*ir)["components"].items())
    if (c.contains("dag")) EXPECT_TRUE(pipelines::TopologicalOrder(c["dag"]).ok()) << name;
  return *ir;
}

std::string Error(const Pipeline& p) {
  auto ir = p.Compile();
  EXPECT_FALSE(ir.ok());
  if (ir.ok()) return "";
  EXPECT_EQ(ir.status().code(), Code::kInvalid);
  return ir.status().message();
}

TEST(DslTest, TwoAdditions) {
  Pipeline p("add-pipeline");
  auto x = p.Input("x", Type::Integer, 1);
  auto t1 = p.Task(Add(), {{"a", x}, {"b", 2}});
  auto t2 = p.Task(Add(), {{"a", t1.Output("sum")}, {"b", 3}}).After(t1);
  p.Output("total", t2.Output());
  Json ir = Ir(p);
  EXPECT_EQ(ir["pipelineInfo"]["name"], "add-pipeline");
  // One component and executor, shared by both tasks.
  ASSERT_EQ(ir["components"].size(), 1u);
  EXPECT_EQ(ir["components"]["comp-add"]["executorLabel"], "exec-add");
  EXPECT_EQ(ir["components"]["comp-add"]["inputDefinitions"]["parameters"]["a"]["parameterType"],
            "NUMBER_INTEGER");
  const Json& container = ir["deploymentSpec"]["executors"]["exec-add"]["container"];
  EXPECT_EQ(container["image"], "alpine");
  EXPECT_EQ(container["args"], Json({"{{$.inputs.parameters['a']}}", "{{$.inputs.parameters['b']}}",
                                     "{{$.outputs.parameters['sum'].output_file}}"}));

  const Json& tasks = ir["root"]["dag"]["tasks"];
  EXPECT_EQ(tasks["add"]["componentRef"]["name"], "comp-add");
  EXPECT_EQ(tasks["add"]["inputs"]["parameters"]["a"], Json({{"componentInputParameter", "x"}}));
  EXPECT_EQ(tasks["add"]["inputs"]["parameters"]["b"]["runtimeValue"]["constant"], 2);
  EXPECT_FALSE(tasks["add"].contains("dependentTasks"));
  EXPECT_EQ(tasks["add-2"]["inputs"]["parameters"]["a"]["taskOutputParameter"],
            Json({{"producerTask", "add"}, {"outputParameterKey", "sum"}}));
  EXPECT_EQ(tasks["add-2"]["dependentTasks"], Json({"add"}));
  EXPECT_EQ(tasks["add-2"]["cachingOptions"]["enableCache"], true);
  EXPECT_EQ(ir["root"]["inputDefinitions"]["parameters"]["x"],
            Json({{"parameterType", "NUMBER_INTEGER"}, {"defaultValue", 1}, {"isOptional", true}}));
  EXPECT_EQ(ir["root"]["dag"]["outputs"]["parameters"]["total"]["valueFromParameter"],
            Json({{"producerSubtask", "add-2"}, {"outputParameterKey", "sum"}}));

  // ToYaml is the same IR behind the compiler's header.
  std::string yaml = p.ToYaml();
  EXPECT_EQ(yaml.rfind("# PIPELINE DEFINITION\n# Name: add-pipeline\n", 0), 0u);
  auto doc = pipelines::ParsePipelineFile(yaml);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(doc->spec, ir);
}

TEST(DslTest, ConditionsLoopsExitHandlerRetryAndCaching) {
  Component flip = Component("flip-coin")
                       .Image("alpine")
                       .Output("side", Type::String)
                       .Command({"sh", "-c", "echo heads > \"$0\"", OutputParamFile("side")});
  Component report = Component("report")
                         .Image("alpine")
                         .Input("status", Type::TaskFinalStatus)
                         .Command({"echo", InputParam("status")});
  Pipeline p("flow");
  auto items = p.Input("items", Type::List, Json::array({"a", "b"}));
  auto done = p.Task(report, {{"status", FinalStatus()}});
  p.ExitHandler(done, [&] {
    auto coin = p.Task(flip).Retry(3, "2s", 2.0, "1m");
    p.If(
        coin.Output("side") == "heads",
        [&] {
          p.ParallelFor(
              items,
              [&](const Value& item) {
                p.Task(Echo(), {{"msg", item}});
              },
              2);
        },
        [&] {
          p.Task(Echo(), {{"msg", "tails"}}).DisableCache();
        });
    p.ParallelFor(Json::array({1, 2}), [&](const Value& item) {
      p.Task(Add(), {{"a", item}, {"b", 1}}).After(coin);
    });
  });
  Json ir = Ir(p);
  const Json& root = ir["root"]["dag"]["tasks"];
  // The exit task waits for the handler's group, whatever its end, and gets its status.
  EXPECT_EQ(root["exit-handler-1"]["componentRef"]["name"], "comp-exit-handler-1");
  EXPECT_EQ(root["exit-handler-1"]["inputs"]["parameters"]["pipelinechannel--items"],
            Json({{"componentInputParameter", "items"}}));
  EXPECT_EQ(root["report"]["dependentTasks"], Json({"exit-handler-1"}));
  EXPECT_EQ(root["report"]["triggerPolicy"]["strategy"], "ALL_UPSTREAM_TASKS_COMPLETED");
  EXPECT_EQ(root["report"]["inputs"]["parameters"]["status"],
            Json({{"taskFinalStatus", {{"producerTask", "exit-handler-1"}}}}));
  EXPECT_EQ(ir["components"]["comp-report"]["inputDefinitions"]["parameters"]["status"],
            Json({{"parameterType", "TASK_FINAL_STATUS"}, {"isOptional", true}}));

  const Json& handler = ir["components"]["comp-exit-handler-1"]["dag"]["tasks"];
  EXPECT_EQ(handler["flip-coin"]["retryPolicy"], Json({{"maxRetryCount", 3},
                                                       {"backoffDuration", "2s"},
                                                       {"backoffFactor", 2.0},
                                                       {"backoffMaxDuration", "60s"}}));
  // If / else: two condition groups, each depending on the producer of what they test.
  EXPECT_EQ(handler["condition-2"]["triggerPolicy"]["condition"],
            "inputs.parameter_values['pipelinechannel--flip-coin-side'] == 'heads'");
  EXPECT_EQ(handler["condition-2"]["dependentTasks"], Json({"flip-coin"}));
  EXPECT_EQ(handler["condition-2"]["inputs"]["parameters"]["pipelinechannel--flip-coin-side"],
            Json({{"taskOutputParameter",
                   {{"producerTask", "flip-coin"}, {"outputParameterKey", "side"}}}}));
  EXPECT_EQ(handler["condition-4"]["triggerPolicy"]["condition"],
            "!(inputs.parameter_values['pipelinechannel--flip-coin-side'] == 'heads')");
  EXPECT_EQ(ir["components"]["comp-condition-4"]["dag"]["tasks"]["echo-2"]["cachingOptions"]
              ["enableCache"],
            false);

  // The loop over a pipeline input: the list threaded through exit-handler-1 and condition-2.
  const Json& loop = ir["components"]["comp-condition-2"]["dag"]["tasks"]["for-loop-3"];
  EXPECT_EQ(loop["parameterIterator"],
            Json({{"itemInput", "pipelinechannel--items-loop-item"},
                  {"items", {{"inputParameter", "pipelinechannel--items"}}}}));
  EXPECT_EQ(loop["iteratorPolicy"]["parallelismLimit"], 2);
  EXPECT_EQ(loop["inputs"]["parameters"]["pipelinechannel--items"],
            Json({{"componentInputParameter", "pipelinechannel--items"}}));
  EXPECT_EQ(
      ir["components"]["comp-for-loop-3"]["dag"]["tasks"]["echo"]["inputs"]["parameters"]["msg"],
      Json({{"componentInputParameter", "pipelinechannel--items-loop-item"}}));
  EXPECT_EQ(ir["components"]["comp-for-loop-3"]["inputDefinitions"]["parameters"]
              ["pipelinechannel--items"]["parameterType"],
            "LIST");

  // The loop over a fixed list, after the coin flip: the loop group waits for it.
  const Json& raw = handler["for-loop-5"];
  EXPECT_EQ(raw["parameterIterator"]["items"]["raw"], "[1,2]");
  EXPECT_EQ(raw["parameterIterator"]["itemInput"], "pipelinechannel--loop-item-param-5");
  EXPECT_EQ(raw["dependentTasks"], Json({"flip-coin"}));
  EXPECT_EQ(ir["components"]["comp-for-loop-5"]["inputDefinitions"]["parameters"]
              ["pipelinechannel--loop-item-param-5"]["parameterType"],
            "NUMBER_INTEGER");
}

TEST(DslTest, OutputsThreadIntoNestedGroupsAndStructFields) {
  Component make =
      Component("make-list")
          .Image("alpine")
          .Output("Output", Type::List)
          .Command({"sh", "-c", "echo '[{\"a\": 1}]' > \"$0\"", OutputParamFile("Output")});
  Component print = Component("print-int")
                        .Image("alpine")
                        .Input("x", Type::Integer)
                        .Command({"echo", InputParam("x")});
  Pipeline p("nested");
  auto n = p.Input("n", Type::Integer, 3);
  auto made = p.Task(make);
  auto first = p.Task(Add(), {{"a", n}, {"b", 1}});
  p.If(n > 1, [&] {
    p.ParallelFor(
        made.Output(),
        [&](const Value& item) {
          p.Task(print, {{"x", item.Field("a")}});
          p.Task(Add(), {{"a", first.Output("sum")}, {"b", n}});
        },
        0, Type::Struct);
  });
  auto last = p.Task(Echo(), {{"msg", "done"}});
  p.If(n > 1, [&] { p.Task(Echo(), {{"msg", "inner"}}).Name("inner"); });
  last.After(p.Task(Echo(), {{"msg", "x"}}));
  Json ir = Ir(p);
  const Json& root = ir["root"]["dag"]["tasks"];
  EXPECT_EQ(root["condition-1"]["triggerPolicy"]["condition"],
            "int(inputs.parameter_values['pipelinechannel--n']) > 1");
  // condition-1 carries what the loop body needs from the top level, and waits for producers.
  EXPECT_EQ(root["condition-1"]["dependentTasks"], Json({"add", "make-list"}));
  EXPECT_EQ(
      root["condition-1"]["inputs"]["parameters"]["pipelinechannel--add-sum"],
      Json({{"taskOutputParameter", {{"producerTask", "add"}, {"outputParameterKey", "sum"}}}}));
  const Json& loop = ir["components"]["comp-condition-1"]["dag"]["tasks"]["for-loop-2"];
  EXPECT_EQ(loop["parameterIterator"]["itemInput"], "pipelinechannel--make-list-Output-loop-item");
  const Json& body = ir["components"]["comp-for-loop-2"]["dag"]["tasks"];
  EXPECT_EQ(body["print-int"]["inputs"]["parameters"]["x"],
            Json({{"componentInputParameter", "pipelinechannel--make-list-Output-loop-item"},
                  {"parameterExpressionSelector", "parseJson(string_value)[\"a\"]"}}));
  EXPECT_EQ(body["add-2"]["inputs"]["parameters"]["a"],
            Json({{"componentInputParameter", "pipelinechannel--add-sum"}}));
  EXPECT_EQ(body["add-2"]["inputs"]["parameters"]["b"],
            Json({{"componentInputParameter", "pipelinechannel--n"}}));
  EXPECT_EQ(ir["components"]["comp-for-loop-2"]["inputDefinitions"]["parameters"]
              ["pipelinechannel--make-list-Output-loop-item"]["parameterType"],
            "STRUCT");
  EXPECT_TRUE(ir["components"]["comp-condition-3"]["dag"]["tasks"].contains("inner"));
  EXPECT_EQ(root["echo"]["dependentTasks"], Json({"echo-2"}));
}

TEST(DslTest, AfterATaskInsideAGroupWaitsForTheGroup) {
  Pipeline p("after");
  auto flag = p.Input("flag", Type::Boolean, true);
  PipelineTask* inside = nullptr;
  std::unique_ptr<PipelineTask> keep;
  p.If(flag == true, [&] {
    keep = std::make_unique<PipelineTask>(p.Task(Echo(), {{"msg", "in"}}));
    inside = keep.get();
  });
  p.Task(Echo(), {{"msg", "out"}}).After(*inside);
  Json ir = Ir(p);
  EXPECT_EQ(ir["root"]["dag"]["tasks"]["echo-2"]["dependentTasks"], Json({"condition-1"}));
  EXPECT_EQ(ir["root"]["dag"]["tasks"]["condition-1"]["triggerPolicy"]["condition"],
            "inputs.parameter_values['pipelinechannel--flag'] == true");
}

TEST(DslTest, ErrorsNameTheTask) {
  Pipeline p("broken");
  auto t = p.Task(Add(), {{"a", 1}, {"c", 2}});  // no input c; b missing
  p.Task(Echo(), {{"msg", 5}});                  // wrong constant type
  p.Task(Echo(), {{"msg", t.Output("nope")}});   // unknown output
  p.Task(Echo(), {{"msg", FinalStatus()}});      // not an exit task
  Value inner = 0;
  p.If(t.Output("sum") > 1, [&] { inner = p.Task(Add(), {{"a", 1}, {"b", 2}}).Output("sum"); });
  p.Task(Echo(), {{"msg", inner}}).Name("uses-inner");  // output of a task inside a condition
  std::string msg = Error(p);
  for (const char* part : {
           "task \"add\": component \"add\" has no input \"c\"",
           "task \"add\": required input \"b\" of component \"add\" is not given",
           "task \"echo\": input \"msg\" is STRING but is given 5",
           "component \"add\" has no output \"nope\"",
           "task \"echo-3\": FinalStatus() is only for the exit task of an ExitHandler",
           "task \"uses-inner\": uses the output \"sum\" of task \"add-2\", which runs inside "
           "condition-1 that this task is not in",
       })
    EXPECT_NE(msg.find(part), std::string::npos) << part << "\n in: " << msg;
}

// The example programs print IR that a `skiff pipeline upload` accepts.
TEST(DslTest, ExamplesPrintValidIr) {
  for (const char* example : {"add_pipeline", "condition_loop_pipeline"}) {
    std::string path = std::string(SKIFF_EXAMPLES_DIR) + "/" + example;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(path.c_str(), "r"), ::pclose);
    ASSERT_TRUE(pipe) << path;
    std::string out;
    char buf[4096];
    while (size_t n = ::fread(buf, 1, sizeof buf, pipe.get())) out.append(buf, n);
    ASSERT_FALSE(out.empty()) << path << " printed nothing";
    auto doc = pipelines::ParsePipelineFile(out);
    ASSERT_TRUE(doc.ok()) << example << ": " << doc.status().message();
    EXPECT_GE(doc->spec["root"]["dag"]["tasks"].size(), 2u) << example;
  }
}

}  // namespace
}  // namespace skiff::dsl
