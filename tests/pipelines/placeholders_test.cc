#include "pipelines/placeholders.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace skiff::pipelines {
namespace {

using Args = std::vector<std::string>;

PlaceholderContext MakeContext() {
  PlaceholderContext context;
  context.executor_input = Json::parse(R"({
    "inputs": {
      "parameterValues": {"text": "hello world", "count": 3, "ratio": 1.5, "whole": 3.0,
                          "huge": 1e21, "flag": true, "items": ["a", 1], "config": {"k": 1},
                          "nothing": null},
      "artifacts": {
        "data": {"artifacts": [{"name": "data", "uri": "s3://bucket/run/data",
                                "type": {"schemaTitle": "system.Dataset"},
                                "metadata": {"rows": 10, "format": "csv"}}]},
        "many": {"artifacts": [{"name": "a", "uri": "s3://b/a"}, {"name": "b", "uri": "s3://b/b"}]},
        "empty": {"artifacts": []}
      }
    },
    "outputs": {
      "parameters": {"result": {"outputFile": "/tmp/outputs/result"}},
      "artifacts": {"model": {"artifacts": [{"name": "model", "uri": "s3://bucket/run/model",
                                             "type": {"schemaTitle": "system.Model"},
                                             "metadata": {}}]}},
      "outputFile": "/tmp/outputs/executor_output.json"
    }
  })");
  context.pipeline_job_name = "my-run";
  context.pipeline_job_resource_name = "run-abc";
  context.pipeline_job_uuid = "uuid-run";
  context.pipeline_task_name = "train";
  context.pipeline_task_uuid = "uuid-task";
  context.pipeline_root = "/var/skiff/artifacts";
  context.pipeline_job_create_time = "2024-01-02T03:04:05Z";
  context.pipeline_job_schedule_time = "2024-01-02T03:00:00Z";
  context.local_path = [](const std::string& uri) {
    return "/mnt" + uri.substr(uri.find("://") + 2);
  };
  return context;
}

std::string Resolve(std::string_view text) {
  auto resolved = ResolveString(text, MakeContext());
  EXPECT_TRUE(resolved.ok()) << resolved.status().message();
  return resolved.ok() ? *resolved : "<error>";
}

Args ResolveList(const Json& args, const PlaceholderContext& context = MakeContext()) {
  auto resolved = ResolveArguments(args, context);
  EXPECT_TRUE(resolved.ok()) << resolved.status().message();
  return resolved.ok() ? *resolved : Args{"<error>"};
}

TEST(PlaceholdersTest, ParametersRenderAsKfpLauncherDoes) {
  EXPECT_EQ(Resolve("{{$.inputs.parameters['text']}}"), "hello world");
  EXPECT_EQ(Resolve("{{$.inputs.parameters['count']}}"), "3");
  EXPECT_EQ(Resolve("{{$.inputs.parameters['ratio']}}"), "1.5");
  // Numbers print without a fraction or exponent when they have none (Go's FormatFloat 'f').
  EXPECT_EQ(Resolve("{{$.inputs.parameters['whole']}}"), "3");
  EXPECT_EQ(Resolve("{{$.inputs.parameters['huge']}}"), "1000000000000000000000");
  EXPECT_EQ(Resolve("{{$.inputs.parameters['flag']}}"), "true");
  EXPECT_EQ(Resolve("{{$.inputs.parameters['items']}}"), R"(["a",1])");
  EXPECT_EQ(Resolve("{{$.inputs.parameters['config']}}"), R"({"k":1})");
  EXPECT_EQ(Resolve(R"({{$.inputs.parameters["text"]}})"), "hello world");
}

TEST(PlaceholdersTest, SeveralPlaceholdersInsideOneString) {
  EXPECT_EQ(Resolve("prefix-{{$.inputs.parameters['text']}}"), "prefix-hello world");
  EXPECT_EQ(Resolve("{{$.outputs.artifacts['model'].uri}}/0"), "s3://bucket/run/model/0");
  EXPECT_EQ(Resolve("n={{$.inputs.parameters['count']}},f={{$.inputs.parameters['flag']}}!"),
            "n=3,f=true!");
  EXPECT_EQ(Resolve("no placeholders {{ here }}"), "no placeholders {{ here }}");
}

TEST(PlaceholdersTest, ArtifactPathsUrisAndMetadata) {
  EXPECT_EQ(Resolve("{{$.inputs.artifacts['data'].uri}}"), "s3://bucket/run/data");
  EXPECT_EQ(Resolve("{{$.inputs.artifacts['data'].path}}"), "/mnt/bucket/run/data");
  EXPECT_EQ(Json::parse(Resolve("{{$.inputs.artifacts['data'].metadata}}")),
            Json::parse(R"({"rows": 10, "format": "csv"})"));
  EXPECT_EQ(Resolve("{{$.inputs.artifacts['data'].metadata['format']}}"), "csv");
  EXPECT_EQ(Resolve("{{$.inputs.artifacts['data'].metadata['rows']}}"), "10");
  EXPECT_EQ(Resolve("{{$.outputs.artifacts['model'].path}}"), "/mnt/bucket/run/model");
  EXPECT_EQ(Resolve("{{$.outputs.artifacts['model'].metadata}}"), "{}");
  // A list input (Input[List[Dataset]]) without a field renders the artifacts as JSON; the
  // conformance file artifacts_simple reads `uri` from each element.
  Json list = Json::parse(Resolve("{{$.inputs.artifacts['many']}}"));
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["uri"], "s3://b/b");
  // The scalar forms of a list take its first artifact, as KFP's launcher does.
  EXPECT_EQ(Resolve("{{$.inputs.artifacts['many'].uri}}"), "s3://b/a");
}

TEST(PlaceholdersTest, OutputsExecutorInputAndNames) {
  EXPECT_EQ(Resolve("{{$.outputs.parameters['result'].output_file}}"), "/tmp/outputs/result");
  EXPECT_EQ(Resolve("{{$.outputs.output_file}}"), "/tmp/outputs/executor_output.json");
  PlaceholderContext context = MakeContext();
  auto whole = ResolveString("{{$}}", context);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->find('\n'), std::string::npos);  // compact: one argv element, one line
  EXPECT_EQ(Json::parse(*whole), context.executor_input);
  EXPECT_EQ(Resolve("{{$.pipeline_job_name}}/{{$.pipeline_job_resource_name}}/"
                    "{{$.pipeline_job_uuid}}/{{$.pipeline_task_name}}/{{$.pipeline_task_uuid}}"),
            "my-run/run-abc/uuid-run/train/uuid-task");
  EXPECT_EQ(Resolve("{{$.pipeline_root}} {{$.pipeline_job_create_time_utc}} "
                    "{{$.pipeline_job_schedule_time_utc}}"),
            "/var/skiff/artifacts 2024-01-02T03:04:05Z 2024-01-02T03:00:00Z");
  context.workspace_path = "/kfp-workspace";
  EXPECT_EQ(*ResolveString("{{$.workspace_path}}/data", context), "/kfp-workspace/data");
}

TEST(PlaceholdersTest, MissingInputsAreErrorsNamingThem) {
  auto missing = ResolveString("--x={{$.inputs.parameters['absent']}}", MakeContext());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalid);
  EXPECT_NE(missing.status().message().find("'absent'"), std::string::npos);
  // A null value is "not supplied", as KFP's driver treats it.
  EXPECT_FALSE(ResolveString("{{$.inputs.parameters['nothing']}}", MakeContext()).ok());
  auto artifact = ResolveString("{{$.inputs.artifacts['empty'].path}}", MakeContext());
  ASSERT_FALSE(artifact.ok());
  EXPECT_NE(artifact.status().message().find("'empty'"), std::string::npos);
  EXPECT_FALSE(ResolveString("{{$.outputs.parameters['nope'].output_file}}", MakeContext()).ok());
  EXPECT_FALSE(ResolveString("{{$.workspace_path}}", MakeContext()).ok());
  EXPECT_FALSE(
      ResolveArguments(Json::array({"ok", "{{$.inputs.parameters['absent']}}"}), MakeContext())
          .ok());
}

TEST(PlaceholdersTest, MalformedAndUnknownPlaceholdersAreRejected) {
  auto unterminated = ResolveString("{{$.inputs.parameters['text']", MakeContext());
  ASSERT_FALSE(unterminated.ok());
  EXPECT_NE(unterminated.status().message().find("unterminated"), std::string::npos);
  auto unknown = ResolveString("{{$.inputs.bogus['x']}}", MakeContext());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("{{$.inputs.bogus['x']}}"), std::string::npos);
  EXPECT_FALSE(ResolveString("{{$.inputs.artifacts['data'].size}}", MakeContext()).ok());
  EXPECT_FALSE(ResolveArguments(Json::parse(R"(["a", 3])"), MakeContext()).ok());
  EXPECT_FALSE(ResolveArguments(Json("not a list"), MakeContext()).ok());
}

TEST(PlaceholdersTest, VertexOnlyNamesStayAsWritten) {
  // KFP's open-source backend does not fill these in; they appear as defaults of Google Cloud
  // components and must not make a run fail before the component decides what to do.
  EXPECT_EQ(Resolve("{{$.pipeline_google_cloud_project_id}}"),
            "{{$.pipeline_google_cloud_project_id}}");
  EXPECT_EQ(Resolve("loc={{$.pipeline_google_cloud_location}} t={{$.inputs.parameters['text']}}"),
            "loc={{$.pipeline_google_cloud_location}} t=hello world");
}

TEST(PlaceholdersTest, ConcatJoinsIntoOneArgument) {
  Json args = Json::array(
      {"echo",
       R"({"Concat": ["prefix-", "{{$.inputs.parameters['text']}}", "-", "{{$.outputs.artifacts['model'].uri}}"]})"});
  EXPECT_EQ(ResolveList(args), (Args{"echo", "prefix-hello world-s3://bucket/run/model"}));
  // An empty Concat is still one (empty) argument.
  EXPECT_EQ(ResolveList(Json::array({R"({"Concat": []})"})), (Args{""}));
}

TEST(PlaceholdersTest, IfPresentSplicesThenOrElse) {
  Json args = Json::array(
      {"prog",
       R"({"IfPresent": {"InputName": "text", "Then": ["--text", "{{$.inputs.parameters['text']}}"], "Else": ["--no-text"]}})",
       R"({"IfPresent": {"InputName": "absent", "Then": ["--absent", "{{$.inputs.parameters['absent']}}"], "Else": ["--arg2", "default value"]}})",
       R"({"IfPresent": {"InputName": "absent", "Then": ["--absent"]}})", "end"});
  EXPECT_EQ(ResolveList(args),
            (Args{"prog", "--text", "hello world", "--arg2", "default value", "end"}));
}

TEST(PlaceholdersTest, IfPresentPresenceRules) {
  // Then/Else given as one string rather than a list is one argument.
  Json single = Json::array(
      {R"({"IfPresent": {"InputName": "count", "Then": "--count={{$.inputs.parameters['count']}}"}})",
       R"({"IfPresent": {"InputName": "absent", "Then": "x", "Else": "fallback"}})"});
  EXPECT_EQ(ResolveList(single), (Args{"--count=3", "fallback"}));
  // Null parameters and empty artifact lists are absent; a listed artifact is present.
  Json presence = Json::array(
      {R"({"IfPresent": {"InputName": "nothing", "Then": ["p"], "Else": ["a"]}})",
       R"({"IfPresent": {"InputName": "empty", "Then": ["p"], "Else": ["a"]}})",
       R"({"IfPresent": {"InputName": "data", "Then": ["{{$.inputs.artifacts['data'].uri}}"], "Else": ["a"]}})"});
  EXPECT_EQ(ResolveList(presence), (Args{"a", "a", "s3://bucket/run/data"}));
  // The branch not taken is not resolved, so it may name the missing input.
  Json guarded = Json::array(
      {R"({"IfPresent": {"InputName": "absent", "Then": ["{{$.inputs.parameters['absent']}}"]}})"});
  EXPECT_EQ(ResolveList(guarded), Args{});
}

TEST(PlaceholdersTest, NestedStructures) {
  // The SDK nests Concat/IfPresent as JSON objects inside the outer structure.
  Json nested = Json::array({Json::parse(R"({"IfPresent": {"InputName": "text", "Then": [
      {"Concat": ["--text=", "{{$.inputs.parameters['text']}}"]}, "--flag"]}})")
                                 .dump()});
  EXPECT_EQ(ResolveList(nested), (Args{"--text=hello world", "--flag"}));
  // IfPresent inside Concat contributes its branch's items to the joined string.
  Json in_concat =
      Json::array({Json::parse(R"({"Concat": ["a", {"IfPresent": {"InputName": "absent",
      "Then": ["-x"], "Else": ["-", "{{$.inputs.parameters['count']}}"]}}, "z"]})")
                       .dump()});
  EXPECT_EQ(ResolveList(in_concat), (Args{"a-3z"}));
  // Structures also come as JSON values in the list, and as JSON-encoded strings nested within.
  Json as_objects = Json::array({Json::parse(
      R"({"Concat": ["[", "{\"IfPresent\": {\"InputName\": \"flag\", \"Then\": \"on\"}}", "]"]})")});
  EXPECT_EQ(ResolveList(as_objects), (Args{"[on]"}));
}

TEST(PlaceholdersTest, JsonLookingTextThatIsNotAStructurePassesThrough) {
  Json args = Json::array({R"({"key": "{{$.inputs.parameters['text']}}"})", "{not json",
                           R"({"IfPresent": 1, "other": 2})"});
  EXPECT_EQ(ResolveList(args),
            (Args{R"({"key": "hello world"})", "{not json", R"({"IfPresent": 1, "other": 2})"}));
  EXPECT_EQ(ResolveList(Json()), Args{});
}

// ---- Every executor of every conformance file -------------------------------------------------

// `object[key]` when both exist, else an empty object (compiled files omit empty sections).
const Json& Member(const Json& object, const char* key) {
  static const Json kEmpty = Json::object();
  if (!object.is_object()) return kEmpty;
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? kEmpty : *it;
}

Json SampleValue(const Json& definition) {
  std::string type = definition.is_object() ? definition.value("parameterType", "STRING") : "";
  if (type == "NUMBER_INTEGER") return 7;
  if (type == "NUMBER_DOUBLE") return 0.25;
  if (type == "BOOLEAN") return false;
  if (type == "LIST") return Json::array({"a", "b"});
  if (type == "STRUCT") return Json{{"k", "v"}};
  if (type == "TASK_FINAL_STATUS") {
    return Json{
        {"state", "SUCCEEDED"}, {"pipelineJobResourceName", "run"}, {"error", Json::object()}};
  }
  return "sample";
}

// An executor input with every declared input present and every output provisioned.
Json SyntheticExecutorInput(const Json& component) {
  Json input = {{"inputs", {{"parameterValues", Json::object()}, {"artifacts", Json::object()}}},
                {"outputs",
                 {{"parameters", Json::object()},
                  {"artifacts", Json::object()},
                  {"outputFile", "/tmp/kfp/executor_output.json"}}}};
  auto artifact = [](const std::string& name, const Json& definition) {
    const Json& type = Member(definition, "artifactType");
    return Json{{"name", name},
                {"uri", "s3://bucket/root/" + name},
                {"type", type},
                {"metadata", {{"k", "v"}}}};
  };
  const Json& in = Member(component, "inputDefinitions");
  for (auto& [name, def] : Member(in, "parameters").items()) {
    input["inputs"]["parameterValues"][name] = SampleValue(def);
  }
  for (auto& [name, def] : Member(in, "artifacts").items()) {
    input["inputs"]["artifacts"][name]["artifacts"] = Json::array({artifact(name, def)});
  }
  const Json& out = Member(component, "outputDefinitions");
  for (auto& [name, def] : Member(out, "parameters").items()) {
    input["outputs"]["parameters"][name]["outputFile"] = "/tmp/kfp/outputs/" + name;
  }
  for (auto& [name, def] : Member(out, "artifacts").items()) {
    input["outputs"]["artifacts"][name]["artifacts"] = Json::array({artifact(name, def)});
  }
  return input;
}

// What may legitimately survive resolution: the Vertex-only names.
bool OnlyVertexPlaceholdersLeft(const std::string& text) {
  size_t pos = 0;
  while ((pos = text.find("{{$", pos)) != std::string::npos) {
    if (text.compare(pos, 12, "{{$.pipeline") != 0) return false;
    pos += 3;
  }
  return true;
}

std::vector<std::filesystem::path> ConformanceFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SKIFF_SHARED_DIR) + "/conformance/kfp")) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".yaml" && name.rfind("invalid__", 0) != 0) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(PlaceholdersConformanceTest, EveryExecutorResolvesWithAllInputsPresent) {
  auto files = ConformanceFiles();
  ASSERT_GT(files.size(), 100u);
  int executors = 0, structured = 0, constants = 0;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    std::ifstream stream(path);
    std::stringstream text;
    text << stream.rdbuf();
    auto docs = ParseYamlDocuments(text.str());
    ASSERT_TRUE(docs.ok()) << docs.status().message();
    ASSERT_FALSE(docs->empty());
    const Json& spec = docs->front();
    const Json& components = Member(spec, "components");
    const Json& executor_specs = Member(Member(spec, "deploymentSpec"), "executors");
    for (auto& [component_name, component] : components.items()) {
      if (!component.contains("executorLabel")) continue;
      const std::string label = component["executorLabel"];
      if (!executor_specs.contains(label) || !executor_specs[label].contains("container")) continue;
      const Json& container = executor_specs[label]["container"];
      PlaceholderContext context;
      context.executor_input = SyntheticExecutorInput(component);
      context.pipeline_job_name = "run";
      context.workspace_path = "/kfp-workspace";
      context.local_path = [](const std::string& uri) { return "/local/" + uri.substr(5); };
      for (const char* field : {"command", "args"}) {
        SCOPED_TRACE(label + "." + field);
        if (!container.contains(field)) continue;
        for (const Json& element : container[field]) {
          if (element.is_string() && element.get<std::string>().rfind("{\"", 0) == 0) ++structured;
        }
        auto resolved = ResolveArguments(container[field], context);
        ASSERT_TRUE(resolved.ok()) << resolved.status().message();
        for (const std::string& arg : *resolved) {
          EXPECT_TRUE(OnlyVertexPlaceholdersLeft(arg)) << arg;
        }
      }
      ++executors;
    }
    // A constant task input may embed the task's other inputs: the compiler adds a
    // `pipelinechannel--x` input beside `text: "Hello
    // {{$.inputs.parameters['pipelinechannel--x']}}"`.
    auto walk_dag = [&](const Json& owner) {
      for (auto& [task_name, task] : Member(Member(owner, "dag"), "tasks").items()) {
        const Json& params = Member(Member(task, "inputs"), "parameters");
        PlaceholderContext context;
        context.workspace_path = "/kfp-workspace";
        context.local_path = [](const std::string& uri) { return uri; };
        for (auto& [param_name, param] : params.items()) {
          context.executor_input["inputs"]["parameterValues"][param_name] = "sample";
        }
        for (auto& [param_name, param] : params.items()) {
          const Json* constant = FindPath(param, "runtimeValue.constant");
          if (constant == nullptr || !constant->is_string()) continue;
          const std::string& value = constant->get_ref<const std::string&>();
          if (value.find("{{$") == std::string::npos) continue;
          SCOPED_TRACE(task_name + "." + param_name);
          auto resolved = ResolveString(value, context);
          ASSERT_TRUE(resolved.ok()) << resolved.status().message();
          EXPECT_TRUE(OnlyVertexPlaceholdersLeft(*resolved)) << *resolved;
          ++constants;
        }
      }
    };
    if (spec.contains("root")) walk_dag(spec["root"]);
    for (auto& [name, component] : components.items()) walk_dag(component);
  }
  // Guards against the walk silently finding nothing (a renamed field, an empty directory).
  EXPECT_GT(executors, 400);
  EXPECT_GT(structured, 25);
  EXPECT_GT(constants, 20);
}

}  // namespace
}  // namespace skiff::pipelines
