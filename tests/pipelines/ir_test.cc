// Pipeline formats → IR: the seed's format converted (components, executors, inputs, placeholder
// rewriting), errors that name the task, IR validation listing every problem, topological order,
// and reading compiled files (platform document, Pipeline manifests).
#include "pipelines/ir.h"

#include "common/file.h"
#include "gtest/gtest.h"

namespace skiff::pipelines {
namespace {

Json Yaml(const std::string& text) {
  auto j = ParseYaml(text);
  EXPECT_TRUE(j.ok()) << j.status().message();
  return j.ok() ? *j : Json();
}

// Components for the seed's MNIST pipeline, as a user would apply them.
StatusOr<Json> MnistComponents(const std::string& name) {
  static const Json kComponents = Yaml(R"(
data-preprocessor:
  image: skiff/ml
  command: [skiff-ml, preprocess]
  args: [--batch-size, "{{inputs.parameters.batch-size}}",
         --out, "{{outputs.artifacts.processed-data.path}}"]
  inputs:
    parameters:
      - {name: batch-size, type: INTEGER}
  outputs:
    artifacts:
      - {name: processed-data, type: Dataset}
model-trainer:
  image: skiff/ml
  command: [skiff-ml, train]
  args: [--lr, "{{inputs.parameters.learning-rate}}",
         --data, "{{inputs.artifacts.training-data.path}}",
         --model, "{{outputs.artifacts.trained-model.path}}"]
  env:
    - {name: EPOCHS, value: "2"}
  resources:
    limits: {cpu: "2", memory: 1Gi}
  inputs:
    parameters:
      - {name: learning-rate, type: NUMBER}
    artifacts:
      - {name: training-data, type: Dataset}
model-evaluator:
  image: skiff/ml
  command: [skiff-ml, evaluate, "{{inputs.artifacts.model.path}}",
            --metrics, "{{outputs.parameters.accuracy.path}}"]
  inputs:
    artifacts:
      - {name: model, type: Model}
  outputs:
    parameters:
      - {name: accuracy, type: NUMBER}
)");
  if (!kComponents.contains(name)) return Status::NotFound("component " + name + " not found");
  return kComponents[name];
}

Json SeedSpec() {
  auto text = ReadFile(SKIFF_SHARED_DIR "/seed/01-pipeline-mnist.yaml");
  EXPECT_TRUE(text.ok());
  return Yaml(*text)["spec"]["pipelineSpec"];
}

TEST(SeedToIrTest, MnistBecomesIr) {
  auto ir = ToIr(SeedSpec(), "mnist-training-pipeline", MnistComponents);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  EXPECT_TRUE(IsIr(*ir));
  EXPECT_FALSE(IsIr(SeedSpec()));
  EXPECT_EQ((*ir)["pipelineInfo"]["name"], "mnist-training-pipeline");
  EXPECT_EQ((*ir)["pipelineInfo"]["description"], "MNIST图像分类训练流水线");

  // Pipeline inputs, typed the IR way with their defaults.
  const Json& params = (*ir)["root"]["inputDefinitions"]["parameters"];
  EXPECT_EQ(params["learning-rate"]["parameterType"], "NUMBER_DOUBLE");
  EXPECT_DOUBLE_EQ(params["learning-rate"]["defaultValue"].get<double>(), 0.01);
  EXPECT_EQ(params["batch-size"]["parameterType"], "NUMBER_INTEGER");
  EXPECT_EQ(params["batch-size"]["defaultValue"], 32);

  const Json& tasks = (*ir)["root"]["dag"]["tasks"];
  ASSERT_EQ(tasks.size(), 3u);
  const Json& pre = tasks["data-preprocessing"];
  EXPECT_EQ(pre["componentRef"]["name"], "comp-data-preprocessing");
  EXPECT_EQ(pre["taskInfo"]["name"], "data-preprocessing");
  EXPECT_EQ(pre["inputs"]["parameters"]["batch-size"]["componentInputParameter"], "batch-size");
  EXPECT_FALSE(pre.contains("dependentTasks"));
  EXPECT_EQ(pre["cachingOptions"]["enableCache"], true);

  const Json& train = tasks["model-training"];
  EXPECT_EQ(train["inputs"]["parameters"]["learning-rate"]["componentInputParameter"],
            "learning-rate");
  EXPECT_EQ(
      train["inputs"]["artifacts"]["training-data"]["taskOutputArtifact"],
      Json({{"producerTask", "data-preprocessing"}, {"outputArtifactKey", "processed-data"}}));
  EXPECT_EQ(train["dependentTasks"], Json({"data-preprocessing"}));
  EXPECT_EQ(tasks["model-evaluation"]["dependentTasks"], Json({"model-training"}));

  // Components and executors, one per task.
  const Json& comp = (*ir)["components"]["comp-model-training"];
  EXPECT_EQ(comp["executorLabel"], "exec-model-training");
  EXPECT_EQ(comp["inputDefinitions"]["parameters"]["learning-rate"]["parameterType"],
            "NUMBER_DOUBLE");
  EXPECT_EQ(comp["inputDefinitions"]["artifacts"]["training-data"]["artifactType"]["schemaTitle"],
            "system.Dataset");
  // Declared by the task, not the component: the output still exists, as system.Artifact.
  EXPECT_EQ(comp["outputDefinitions"]["artifacts"]["trained-model"]["artifactType"]["schemaTitle"],
            "system.Artifact");
  EXPECT_EQ((*ir)["components"]["comp-data-preprocessing"]["outputDefinitions"]["artifacts"]
                 ["processed-data"]["artifactType"]["schemaTitle"],
            "system.Dataset");

  const Json& container = (*ir)["deploymentSpec"]["executors"]["exec-model-training"]["container"];
  EXPECT_EQ(container["image"], "skiff/ml");
  EXPECT_EQ(container["command"], Json({"skiff-ml", "train"}));
  EXPECT_EQ(container["args"], Json({"--lr", "{{$.inputs.parameters['learning-rate']}}", "--data",
                                     "{{$.inputs.artifacts['training-data'].path}}", "--model",
                                     "{{$.outputs.artifacts['trained-model'].path}}"}));
  EXPECT_EQ(container["env"], Json::parse(R"([{"name": "EPOCHS", "value": "2"}])"));
  EXPECT_EQ(container["resources"]["resourceCpuLimit"], "2");
  EXPECT_EQ(container["resources"]["resourceMemoryLimit"], "1Gi");
  // The fixed paths the seed declares on task outputs.
  EXPECT_EQ(container["skiffArtifactPaths"], Json({{"trained-model", "/tmp/trained_model"}}));
  EXPECT_EQ((*ir)["deploymentSpec"]["executors"]["exec-data-preprocessing"]["container"]
                 ["skiffArtifactPaths"],
            Json({{"processed-data", "/tmp/processed_data"}}));
  EXPECT_EQ(
      (*ir)["deploymentSpec"]["executors"]["exec-model-evaluation"]["container"]["command"][4],
      "{{$.outputs.parameters['accuracy'].output_file}}");

  auto order = TopologicalOrder((*ir)["root"]["dag"]);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order,
            (std::vector<std::string>{"data-preprocessing", "model-training", "model-evaluation"}));
  EXPECT_TRUE(ValidateIr(*ir).ok());
}

TEST(SeedToIrTest, UnknownComponentNamesTheTask) {
  auto ir = ToIr(SeedSpec(), "mnist", [](const std::string& name) -> StatusOr<Json> {
    if (name == "model-trainer") return Status::NotFound("Component \"model-trainer\" not found");
    return MnistComponents(name);
  });
  ASSERT_FALSE(ir.ok());
  EXPECT_EQ(ir.status().code(), Code::kInvalid);
  EXPECT_NE(ir.status().message().find("tasks.model-training.taskSpec.componentRef: component "
                                       "\"model-trainer\" not found"),
            std::string::npos)
      << ir.status().message();
  // The consumer of the unresolved task is not blamed for it twice over.
  EXPECT_EQ(ir.status().message().find("is not defined"), std::string::npos)
      << ir.status().message();
}

// A small inline-component pipeline to break in the error tests below.
Json TwoSteps() {
  return Yaml(R"(
inputs:
  parameters:
    - {name: msg, type: STRING, defaultValue: hi}
    - {name: n, type: INTEGER}
tasks:
  - name: produce
    taskSpec:
      component:
        image: alpine
        command: [sh, -c, 'echo "$0" > "$1"', "{{inputs.parameters.text}}",
                  "{{outputs.parameters.out.path}}"]
        inputs: {parameters: [{name: text}]}
        outputs: {parameters: [{name: out, type: STRING}]}
      inputs:
        parameters:
          - {name: text, value: "{{inputs.parameters.msg}}"}
  - name: consume
    taskSpec:
      component:
        image: alpine
        command: [echo, "{{inputs.parameters.text}}"]
        inputs: {parameters: [{name: text}]}
      inputs:
        parameters:
          - {name: text, from: produce.outputs.parameters.out}
)");
}

std::string Error(const Json& spec) {
  auto ir = ToIr(spec, "p", nullptr);
  EXPECT_FALSE(ir.ok()) << "accepted: " << (ir.ok() ? ir->dump() : "");
  if (!ir.ok()) {
    EXPECT_EQ(ir.status().code(), Code::kInvalid);
  }
  return ir.ok() ? "" : ir.status().message();
}

TEST(SeedToIrTest, InlineComponentsAndTaskOutputParameters) {
  auto ir = ToIr(TwoSteps(), "two", nullptr);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  const Json& consume = (*ir)["root"]["dag"]["tasks"]["consume"];
  EXPECT_EQ(consume["inputs"]["parameters"]["text"]["taskOutputParameter"],
            Json({{"producerTask", "produce"}, {"outputParameterKey", "out"}}));
  EXPECT_EQ(consume["dependentTasks"], Json({"produce"}));
  // An untyped component input is a STRING.
  EXPECT_EQ((*ir)["components"]["comp-consume"]["inputDefinitions"]["parameters"]["text"]
                 ["parameterType"],
            "STRING");
  EXPECT_EQ((*ir)["deploymentSpec"]["executors"]["exec-produce"]["container"]["command"],
            Json({"sh", "-c", "echo \"$0\" > \"$1\"", "{{$.inputs.parameters['text']}}",
                  "{{$.outputs.parameters['out'].output_file}}"}));
}

TEST(SeedToIrTest, UnknownFromTaskNamesTheTask) {
  Json spec = TwoSteps();
  spec["tasks"][1]["taskSpec"]["inputs"]["parameters"][0]["from"] = "nobody.outputs.parameters.out";
  std::string msg = Error(spec);
  EXPECT_NE(msg.find("tasks.consume.taskSpec.inputs.parameters.text"), std::string::npos) << msg;
  EXPECT_NE(msg.find("task \"nobody\" is not defined"), std::string::npos) << msg;
}

TEST(SeedToIrTest, UnknownFromOutputNamesTheTask) {
  Json spec = TwoSteps();
  spec["tasks"][1]["taskSpec"]["inputs"]["parameters"][0]["from"] =
      "produce.outputs.parameters.missing";
  std::string msg = Error(spec);
  EXPECT_NE(msg.find("tasks.consume"), std::string::npos) << msg;
  EXPECT_NE(msg.find("task \"produce\" has no output parameter \"missing\""), std::string::npos)
      << msg;
}

TEST(SeedToIrTest, CycleIsRejected) {
  Json spec = TwoSteps();
  spec["tasks"][0]["dependentTasks"] = {"consume"};
  std::string msg = Error(spec);
  EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"produce\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"consume\""), std::string::npos) << msg;
}

TEST(SeedToIrTest, UnknownPipelineParameterAndPlaceholder) {
  Json spec = TwoSteps();
  spec["tasks"][0]["taskSpec"]["inputs"]["parameters"][0]["value"] = "{{inputs.parameters.nope}}";
  spec["tasks"][1]["taskSpec"]["component"]["command"][1] = "{{inputs.parameters.txt}}";
  std::string msg = Error(spec);
  EXPECT_NE(msg.find("tasks.produce.taskSpec.inputs.parameters.text: {{inputs.parameters.nope}}: "
                     "the pipeline has no input parameter \"nope\""),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("tasks.consume (command): {{inputs.parameters.txt}}: component \"(inline)\" "
                     "has no input parameter \"txt\""),
            std::string::npos)
      << msg;
}

TEST(SeedToIrTest, MissingRequiredInputAndDuplicateName) {
  Json spec = TwoSteps();
  spec["tasks"][1]["taskSpec"].erase("inputs");
  spec["tasks"].push_back(spec["tasks"][0]);
  std::string msg = Error(spec);
  EXPECT_NE(msg.find("tasks.consume: component \"(inline)\" input parameter \"text\" has no value"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("tasks.produce: task name is used twice"), std::string::npos) << msg;
}

TEST(SeedToIrTest, TypesConstantsAndEmbeddedPipelineParameters) {
  Json spec = Yaml(R"(
inputs:
  parameters:
    - {name: s, type: STRING}
    - {name: b, type: BOOLEAN, defaultValue: "true"}
    - {name: l, type: LIST, defaultValue: [1, 2]}
    - {name: st, type: STRUCT, isOptional: true}
tasks:
  - name: t
    taskSpec:
      component:
        image: python:3.11
        command: [python3, -c, pass]
        inputs:
          parameters:
            - {name: count, type: INTEGER}
            - {name: ratio, type: NUMBER, default: "0.5"}
            - {name: greeting}
            - {name: flag, type: bool, optional: true}
      inputs:
        parameters:
          - {name: count, value: "3"}
          - {name: greeting, value: "hello {{inputs.parameters.s}}!"}
          - {name: extra, value: 7}
    retryPolicy: {maxRetryCount: 2, backoffDuration: 1m30s, backoffFactor: 2}
    cachingOptions: {enableCache: false}
    triggerPolicy: {condition: "inputs.parameter_values['b'] == true"}
)");
  auto ir = ToIr(spec, "types", nullptr);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  const Json& root_params = (*ir)["root"]["inputDefinitions"]["parameters"];
  EXPECT_EQ(root_params["b"]["parameterType"], "BOOLEAN");
  EXPECT_EQ(root_params["b"]["defaultValue"], true);
  EXPECT_EQ(root_params["l"]["parameterType"], "LIST");
  EXPECT_EQ(root_params["st"]["parameterType"], "STRUCT");
  EXPECT_EQ(root_params["st"]["isOptional"], true);

  const Json& defs = (*ir)["components"]["comp-t"]["inputDefinitions"]["parameters"];
  EXPECT_EQ(defs["count"]["parameterType"], "NUMBER_INTEGER");
  EXPECT_EQ(defs["ratio"]["defaultValue"], 0.5);
  EXPECT_EQ(defs["flag"]["parameterType"], "BOOLEAN");
  EXPECT_EQ(defs["flag"]["isOptional"], true);
  // An input the component does not declare is added with the constant's type.
  EXPECT_EQ(defs["extra"]["parameterType"], "NUMBER_INTEGER");
  // As the compiler does, the pipelinechannel input for a parameter inside a string is the
  // task's, not declared by the component.
  EXPECT_FALSE(defs.contains("pipelinechannel--s"));

  const Json& task = (*ir)["root"]["dag"]["tasks"]["t"];
  EXPECT_EQ(task["inputs"]["parameters"]["count"]["runtimeValue"]["constant"], 3);
  EXPECT_EQ(task["inputs"]["parameters"]["greeting"]["runtimeValue"]["constant"],
            "hello {{$.inputs.parameters['pipelinechannel--s']}}!");
  EXPECT_EQ(task["inputs"]["parameters"]["pipelinechannel--s"]["componentInputParameter"], "s");
  EXPECT_EQ(task["retryPolicy"]["maxRetryCount"], 2);
  EXPECT_EQ(task["retryPolicy"]["backoffDuration"], "90s");
  EXPECT_EQ(task["cachingOptions"]["enableCache"], false);
  EXPECT_EQ(task["triggerPolicy"]["condition"], "inputs.parameter_values['b'] == true");

  spec["inputs"]["parameters"][0]["type"] = "COMPLEX";
  std::string msg = Error(spec);
  EXPECT_NE(msg.find("inputs.parameters.s: unknown type \"COMPLEX\""), std::string::npos) << msg;
}

TEST(SeedToIrTest, StructuredV1ArgumentsAndPipelineIo) {
  Json spec = Yaml(R"(
inputs:
  artifacts:
    - {name: raw, type: Dataset}
outputs:
  parameters:
    - {name: result, from: t.outputs.parameters.out}
  artifacts:
    - {name: model, from: t.outputs.artifacts.model}
tasks:
  - name: t
    taskSpec:
      component:
        inputs:
          parameters: [{name: opt, optional: true}]
          artifacts: [{name: data}]
        outputs:
          parameters: [{name: out, path: /tmp/out.txt}]
          artifacts: [{name: model, type: Model}]
        implementation:
          container:
            image: python:3.11
            command: [train]
            args:
              - {inputPath: data}
              - {outputPath: out}
              - {outputPath: model}
              - {concat: [--opt=, {inputValue: opt}]}
              - if: {cond: {isPresent: opt}, then: [--opt, {inputValue: opt}], else: [--none]}
      inputs:
        artifacts:
          - {name: data, from: inputs.artifacts.raw}
)");
  auto ir = ToIr(spec, "v1", nullptr);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  const Json& c = (*ir)["deploymentSpec"]["executors"]["exec-t"]["container"];
  EXPECT_EQ(c["image"], "python:3.11");
  ASSERT_EQ(c["args"].size(), 5u);
  EXPECT_EQ(c["args"][0], "{{$.inputs.artifacts['data'].path}}");
  EXPECT_EQ(c["args"][1], "{{$.outputs.parameters['out'].output_file}}");
  EXPECT_EQ(c["args"][2], "{{$.outputs.artifacts['model'].path}}");
  EXPECT_EQ(Json::parse(c["args"][3].get<std::string>()),
            Json::parse(R"({"Concat": ["--opt=", "{{$.inputs.parameters['opt']}}"]})"));
  EXPECT_EQ(Json::parse(c["args"][4].get<std::string>()), Json::parse(R"(
      {"IfPresent": {"InputName": "opt", "Then": ["--opt", "{{$.inputs.parameters['opt']}}"],
                     "Else": ["--none"]}})"));
  EXPECT_EQ(c["skiffParameterPaths"], Json({{"out", "/tmp/out.txt"}}));
  const Json& task = (*ir)["root"]["dag"]["tasks"]["t"];
  EXPECT_EQ(task["inputs"]["artifacts"]["data"]["componentInputArtifact"], "raw");
  EXPECT_EQ((*ir)["root"]["inputDefinitions"]["artifacts"]["raw"]["artifactType"]["schemaTitle"],
            "system.Dataset");
  EXPECT_EQ((*ir)["root"]["dag"]["outputs"]["parameters"]["result"]["valueFromParameter"],
            Json({{"producerSubtask", "t"}, {"outputParameterKey", "out"}}));
  EXPECT_EQ((*ir)["root"]["dag"]["outputs"]["artifacts"]["model"]["artifactSelectors"][0],
            Json({{"producerSubtask", "t"}, {"outputArtifactKey", "model"}}));
  EXPECT_EQ((*ir)["root"]["outputDefinitions"]["artifacts"]["model"]["artifactType"]["schemaTitle"],
            "system.Model");
}

// A valid IR pipeline to break in the validation tests.
Json SmallIr() {
  return Yaml(R"(
pipelineInfo: {name: small}
schemaVersion: 2.1.0
components:
  comp-a:
    executorLabel: exec-a
    inputDefinitions: {parameters: {x: {parameterType: STRING}}}
    outputDefinitions: {parameters: {Output: {parameterType: STRING}}}
  comp-loop:
    dag:
      tasks:
        inner:
          componentRef: {name: comp-a}
          inputs: {parameters: {x: {componentInputParameter: item}}}
    inputDefinitions: {parameters: {item: {parameterType: STRING}}}
deploymentSpec:
  executors:
    exec-a:
      container: {image: alpine, command: [echo, "{{$.inputs.parameters['x']}}"]}
root:
  inputDefinitions: {parameters: {items: {parameterType: LIST}}}
  dag:
    tasks:
      a:
        componentRef: {name: comp-a}
        inputs: {parameters: {x: {runtimeValue: {constant: hi}}}}
      b:
        componentRef: {name: comp-a}
        inputs: {parameters: {x: {taskOutputParameter: {producerTask: a, outputParameterKey: Output}}}}
      loop:
        componentRef: {name: comp-loop}
        dependentTasks: [b]
        inputs: {parameters: {items: {componentInputParameter: items}}}
        parameterIterator: {itemInput: item, items: {inputParameter: items}}
        iteratorPolicy: {parallelismLimit: 2}
)");
}

TEST(ValidateIrTest, AcceptsAValidPipeline) {
  Status s = ValidateIr(SmallIr());
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(ValidateIrTest, ListsEveryProblem) {
  Json ir = SmallIr();
  ir["root"]["dag"]["tasks"]["a"]["componentRef"]["name"] = "comp-x";
  ir["components"]["comp-a"]["executorLabel"] = "exec-missing";
  ir["root"]["dag"]["tasks"]["b"]["inputs"]["parameters"]["x"]["taskOutputParameter"]
    ["producerTask"] = "ghost";
  ir["root"]["dag"]["tasks"]["loop"]["dependentTasks"] = {"nobody"};
  ir["root"]["dag"]["tasks"]["loop"]["parameterIterator"]["itemInput"] = "elem";
  ir["root"]["inputDefinitions"]["parameters"]["items"]["parameterType"] = "FLOAT";
  Status s = ValidateIr(ir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalid);
  for (const char* part : {
           "root.dag.tasks.a.componentRef: component \"comp-x\" is not defined",
           "components.comp-a.executorLabel: executor \"exec-missing\" is not defined",
           "root.dag.tasks.b.inputs.parameters.x.taskOutputParameter: producer task \"ghost\" is "
           "not in the same DAG",
           "root.dag.tasks.loop.dependentTasks: task \"nobody\" is not in the same DAG",
           "root.dag.tasks.loop.parameterIterator.itemInput: component \"comp-loop\" has no input "
           "parameter \"elem\"",
           "root.inputDefinitions.parameters.items.parameterType: unknown parameter type \"FLOAT\"",
       })
    EXPECT_NE(s.message().find(part), std::string::npos) << part << "\n in: " << s.message();
}

TEST(ValidateIrTest, OutputKeysInputsAndPlaceholders) {
  Json ir = SmallIr();
  ir["root"]["dag"]["tasks"]["b"]["inputs"]["parameters"]["x"]["taskOutputParameter"]
    ["outputParameterKey"] = "Nope";
  ir["components"]["comp-loop"]["dag"]["tasks"]["inner"]["inputs"]["parameters"]["x"]
    ["componentInputParameter"] = "missing";
  ir["deploymentSpec"]["executors"]["exec-a"]["container"]["command"][1] =
      "{{$.inputs.parameters['y']}}";
  ir["root"]["dag"]["tasks"]["loop"]["retryPolicy"] = {{"maxRetryCount", -1},
                                                       {"backoffDuration", "soon"}};
  Status s = ValidateIr(ir);
  ASSERT_FALSE(s.ok());
  for (const char* part : {
           "task \"a\" has no output parameter \"Nope\"",
           "components.comp-loop.dag.tasks.inner.inputs.parameters.x.componentInputParameter: the "
           "enclosing component has no input parameter \"missing\"",
           "components.comp-a: placeholder {{$.inputs.parameters['y']...}} names parameter \"y\"",
           "root.dag.tasks.loop.retryPolicy.maxRetryCount",
           "root.dag.tasks.loop.retryPolicy.backoffDuration",
       })
    EXPECT_NE(s.message().find(part), std::string::npos) << part << "\n in: " << s.message();
}

TEST(ValidateIrTest, CyclesInDagsAndComponents) {
  Json ir = SmallIr();
  ir["root"]["dag"]["tasks"]["a"]["dependentTasks"] = {"loop"};
  ir["components"]["comp-loop"]["dag"]["tasks"]["again"] = {
      {"componentRef", {{"name", "comp-loop"}}},
      {"inputs", {{"parameters", {{"item", {{"componentInputParameter", "item"}}}}}}}};
  Status s = ValidateIr(ir);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("root.dag: tasks depend on each other in a cycle"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("components run each other in a cycle: comp-loop -> comp-loop"),
            std::string::npos)
      << s.message();
}

TEST(TopologicalOrderTest, ProducersCountEvenWithoutDependentTasks) {
  Json dag = Yaml(R"(
tasks:
  c: {componentRef: {name: x}, dependentTasks: [b]}
  b:
    componentRef: {name: x}
    inputs: {artifacts: {d: {taskOutputArtifact: {producerTask: a, outputArtifactKey: o}}}}
  a: {componentRef: {name: x}}
  exit:
    componentRef: {name: x}
    inputs: {parameters: {status: {taskFinalStatus: {producerTask: c}}}}
  z: {componentRef: {name: x}}
)");
  auto order = TopologicalOrder(dag);
  ASSERT_TRUE(order.ok()) << order.status().message();
  EXPECT_EQ(*order, (std::vector<std::string>{"a", "b", "c", "exit", "z"}));
  // A whole component is accepted too.
  auto again = TopologicalOrder(Json{{"dag", dag}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *order);

  dag["tasks"]["a"]["dependentTasks"] = {"c"};
  auto cycle = TopologicalOrder(dag);
  ASSERT_FALSE(cycle.ok());
  EXPECT_EQ(cycle.status().code(), Code::kInvalid);
  EXPECT_NE(cycle.status().message().find("cycle"), std::string::npos);
  EXPECT_EQ(cycle.status().message().find("\"z\""), std::string::npos) << "z is not in the cycle";
}

TEST(ParsePipelineFileTest, CompiledFileWithPlatformDocument) {
  auto doc = ParsePipelineFile(ToYaml(SmallIr()) +
                               "---\nplatforms:\n  kubernetes:\n    deploymentSpec: {}\n");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(doc->spec, SmallIr());
  EXPECT_EQ(doc->platform_spec,
            Json::parse(R"({"platforms": {"kubernetes": {"deploymentSpec": {}}}})"));

  auto three = ParsePipelineFile(ToYaml(SmallIr()) + "---\nplatforms: {}\n---\na: 1\n");
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.status().message().find("found 3 documents"), std::string::npos);

  auto bad_second = ParsePipelineFile(ToYaml(SmallIr()) + "---\nfoo: 1\n");
  ASSERT_FALSE(bad_second.ok());
  EXPECT_NE(bad_second.status().message().find("second document must be a PlatformSpec"),
            std::string::npos);

  auto syntax = ParsePipelineFile("root: [unclosed\n");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), Code::kBadRequest);
  EXPECT_NE(syntax.status().message().find("line"), std::string::npos);

  auto seed_like = ParsePipelineFile("tasks: []\n");
  ASSERT_FALSE(seed_like.ok());
  EXPECT_NE(seed_like.status().message().find("not a compiled KFP pipeline"), std::string::npos);
}

TEST(ParsePipelineFileTest, PipelineManifests) {
  Json ir = SmallIr();
  ir.erase("pipelineInfo");
  ir["platforms"] = {{"kubernetes", Json::object()}};
  Json manifest = {{"apiVersion", "kubeflow.org/v2beta1"},
                   {"kind", "Pipeline"},
                   {"metadata", {{"name", "from-manifest"}}},
                   {"spec", {{"pipelineSpec", ir}}}};
  auto doc = ParsePipelineFile(ToYaml(manifest));
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(doc->spec["pipelineInfo"]["name"], "from-manifest");  // named by metadata.name
  EXPECT_FALSE(doc->spec.contains("platforms"));
  EXPECT_EQ(doc->platform_spec, Json({{"platforms", {{"kubernetes", Json::object()}}}}));

  // The seed's manifest names Components that only exist in a cluster.
  auto seed = ParsePipelineFile(*ReadFile(SKIFF_SHARED_DIR "/seed/01-pipeline-mnist.yaml"));
  ASSERT_FALSE(seed.ok());
  EXPECT_NE(seed.status().message().find("cannot name Component \"data-preprocessor\""),
            std::string::npos)
      << seed.status().message();

  // With inline components a seed-format manifest converts.
  manifest["spec"]["pipelineSpec"] = TwoSteps();
  auto inline_doc = ParsePipelineFile(ToYaml(manifest));
  ASSERT_TRUE(inline_doc.ok()) << inline_doc.status().message();
  EXPECT_TRUE(IsIr(inline_doc->spec));
  EXPECT_EQ(inline_doc->spec["root"]["dag"]["tasks"].size(), 2u);
}

TEST(ToIrTest, IrIsNamedWhenUnnamed) {
  Json ir = SmallIr();
  ir["pipelineInfo"].erase("name");
  auto out = ToIr(ir, "given", nullptr);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)["pipelineInfo"]["name"], "given");
  auto kept = ToIr(SmallIr(), "given", nullptr);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)["pipelineInfo"]["name"], "small");
}

}  // namespace
}  // namespace skiff::pipelines
