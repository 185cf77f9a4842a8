// `skiff pipeline upload|run`: KFP's "upload a compiled pipeline, start a run of it" as two thin
// API calls. The file is parsed and validated here, so a broken pipeline never reaches the server.
#include "cli/pipeline_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/printer.h"
#include "cli/session.h"
#include "common/file.h"

namespace skiff::cli {
namespace {

const client::Resource kPipelines{"kubeflow.org", "v2beta1", "pipelines"};
const client::Resource kPipelineRuns{"kubeflow.org", "v2beta1", "pipelineruns"};
const client::Resource kComponents{"kubeflow.org", "v2beta1", "components"};

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return j.is_object() && it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

void AddConnectionFlags(CLI::App* cmd, ConnectionFlags* flags) {
  cmd->add_option("--kubeconfig", flags->kubeconfig,
                  "Path to the kubeconfig file (default $KUBECONFIG, ~/.kube/config, then "
                  "$SKIFF_HOME/kubeconfig)");
  cmd->add_option("--context", flags->context, "The kubeconfig context to use");
  cmd->add_option("-n,--namespace", flags->namespace_, "The namespace (default: the context's)");
}

// The root input definitions of a stored Pipeline, converting the seed's format (whose
// Components live on the server) when needed; null when they cannot be worked out.
Json InputDefinitions(Session* s, const std::string& ns, const Json& pipeline) {
  const Json* spec = FindPath(pipeline, "spec.pipelineSpec");
  if (spec == nullptr) return nullptr;
  if (pipelines::IsIr(*spec)) {
    const Json* params = FindPath(*spec, "root.inputDefinitions.parameters");
    return params ? *params : Json::object();
  }
  auto lookup = [&](const std::string& name) -> StatusOr<Json> {
    auto component = s->client()->Get(kComponents, ns, name);
    if (!component.ok()) return component.status();
    return (*component)["spec"];
  };
  auto ir = pipelines::ToIr(*spec, StringAt(pipeline, "metadata.name"), lookup);
  if (!ir.ok()) return nullptr;
  const Json* params = FindPath(*ir, "root.inputDefinitions.parameters");
  return params ? *params : Json::object();
}

}  // namespace

std::string ObjectName(const std::string& text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 253) out.resize(253);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

Json PipelineObject(const pipelines::PipelineDocument& doc, const std::string& name,
                    const std::string& ns) {
  Json spec = doc.spec;
  if (doc.platform_spec.is_object() && doc.platform_spec.contains("platforms"))
    spec["platforms"] = doc.platform_spec["platforms"];
  Json object = {{"apiVersion", "kubeflow.org/v2beta1"},
                 {"kind", "Pipeline"},
                 {"metadata", {{"name", name}}},
                 {"spec", {{"pipelineSpec", spec}}}};
  if (!ns.empty()) object["metadata"]["namespace"] = ns;
  const Json& info = doc.spec["pipelineInfo"];
  if (std::string d = Str(info, "displayName"); !d.empty()) object["spec"]["displayName"] = d;
  if (std::string d = Str(info, "description"); !d.empty()) object["spec"]["description"] = d;
  return object;
}

StatusOr<Json> ParseParameterValues(const std::vector<std::string>& assignments,
                                    const Json& input_definitions) {
  Json values = Json::object();
  for (const std::string& a : assignments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return Status::Invalid("parameter " + Json(a).dump() + " must be key=value");
    std::string key = a.substr(0, eq);
    std::string text = a.substr(eq + 1);
    if (!input_definitions.is_object()) {
      values[key] = text;
      continue;
    }
    if (!input_definitions.contains(key)) {
      std::string known;
      for (const auto& [k, unused] : input_definitions.items())
        known += (known.empty() ? "" : ", ") + k;
      return Status::Invalid("the pipeline has no input parameter \"" + key + "\"" +
                             (known.empty() ? " (it takes none)" : " (it has: " + known + ")"));
    }
    std::string type = Str(input_definitions[key], "parameterType");
    if (type.empty() || type == "STRING") {
      values[key] = text;
      continue;
    }
    auto parsed = ParseJson(text);
    bool ok = parsed.ok();
    if (ok) {
      const Json& v = *parsed;
      ok = (type == "NUMBER_INTEGER" && v.is_number_integer()) ||
           (type == "NUMBER_DOUBLE" && v.is_number()) || (type == "BOOLEAN" && v.is_boolean()) ||
           (type == "LIST" && v.is_array()) || (type == "STRUCT" && v.is_object()) ||
           (type != "NUMBER_INTEGER" && type != "NUMBER_DOUBLE" && type != "BOOLEAN" &&
            type != "LIST" && type != "STRUCT");
    }
    if (!ok)
      return Status::Invalid("parameter \"" + key + "\" is " + type + "; " + Json(text).dump() +
                             " is not one");
    values[key] = *parsed;
  }
  return values;
}

int RunPipelineUpload(const ConnectionFlags& flags, const PipelineUploadOptions& options,
                      Streams io) {
  std::string text;
  if (options.file == "-") {
    text.assign(std::istreambuf_iterator<char>(io.in), std::istreambuf_iterator<char>());
  } else {
    auto read = ReadFile(options.file);
    if (!read.ok()) {
      PrintClientError(io.err, "reading " + options.file + ": " + read.status().message());
      return 1;
    }
    text = std::move(*read);
  }
  auto doc = pipelines::ParsePipelineFile(text);
  if (!doc.ok()) {
    PrintClientError(io.err, options.file + ": " + doc.status().message());
    return 1;
  }
  std::string name =
      options.name.empty() ? ObjectName(doc->spec["pipelineInfo"].value("name", "")) : options.name;
  if (name.empty()) {
    PrintClientError(io.err, options.file + ": the pipeline has no usable name; pass --name");
    return 1;
  }
  auto opened = Session::Open(flags);
  if (!opened.ok()) {
    PrintClientError(io.err, opened.status().message());
    return 1;
  }
  Session* s = opened->get();
  const std::string ns = s->default_namespace();
  Json object = PipelineObject(*doc, name, ns);
  auto created = s->client()->Create(kPipelines, ns, object);
  if (created.ok()) {
    io.out << "pipeline.kubeflow.org/" << name << " created\n";
    return 0;
  }
  if (created.status().code() != Code::kAlreadyExists) {
    PrintError(io.err, created.status(), "error when creating \"" + options.file + "\"");
    return 1;
  }
  // Uploading under an existing name replaces that pipeline's spec (its metadata stays).
  auto existing = s->client()->Get(kPipelines, ns, name);
  if (!existing.ok()) {
    PrintError(io.err, existing.status());
    return 1;
  }
  if ((*existing)["spec"] == object["spec"]) {
    io.out << "pipeline.kubeflow.org/" << name << " unchanged\n";
    return 0;
  }
  (*existing)["spec"] = object["spec"];
  auto updated = s->client()->Update(kPipelines, ns, *existing);
  if (!updated.ok()) {
    PrintError(io.err, updated.status(), "error when replacing \"" + options.file + "\"");
    return 1;
  }
  io.out << "pipeline.kubeflow.org/" << name << " configured\n";
  return 0;
}

int RunPipelineRun(const ConnectionFlags& flags, const PipelineRunOptions& options, Streams io) {
  auto opened = Session::Open(flags);
  if (!opened.ok()) {
    PrintClientError(io.err, opened.status().message());
    return 1;
  }
  Session* s = opened->get();
  const std::string ns = s->default_namespace();
  auto pipeline = s->client()->Get(kPipelines, ns, options.pipeline);
  if (!pipeline.ok()) {
    PrintError(io.err, pipeline.status());
    return 1;
  }
  auto values = ParseParameterValues(options.parameters, InputDefinitions(s, ns, *pipeline));
  if (!values.ok()) {
    PrintClientError(io.err, values.status().message());
    return 1;
  }
  Json run = {{"apiVersion", "kubeflow.org/v2beta1"},
              {"kind", "PipelineRun"},
              {"metadata", {{"namespace", ns}}},
              {"spec", {{"pipelineRef", {{"name", options.pipeline}}}}}};
  if (options.run_name.empty()) {
    run["metadata"]["generateName"] = options.pipeline + "-";
  } else {
    run["metadata"]["name"] = options.run_name;
  }
  if (!values->empty()) run["spec"]["parameters"] = *values;
  if (options.disable_cache) run["spec"]["cachingOptions"] = {{"disabled", true}};
  auto created = s->client()->Create(kPipelineRuns, ns, run);
  if (!created.ok()) {
    PrintError(io.err, created.status());
    return 1;
  }
  io.out << "pipelinerun.kubeflow.org/" << StringAt(*created, "metadata.name") << " created\n";
  return 0;
}

PipelineCommands::PipelineCommands(CLI::App* app) {
  pipeline_cmd_ = app->add_subcommand("pipeline", "Upload KFP pipelines and start runs of them");
  pipeline_cmd_->require_subcommand(1);
  upload_cmd_ = pipeline_cmd_->add_subcommand(
      "upload", "Create (or replace) a Pipeline from a compiled KFP pipeline file");
  AddConnectionFlags(upload_cmd_, &flags_);
  upload_cmd_->add_option("file", upload_.file, "Compiled pipeline YAML, or - for stdin")
      ->required();
  upload_cmd_->add_option("--name", upload_.name, "Pipeline name (default: pipelineInfo.name)");

  run_cmd_ = pipeline_cmd_->add_subcommand("run", "Start a PipelineRun of an uploaded Pipeline");
  AddConnectionFlags(run_cmd_, &flags_);
  run_cmd_->add_option("pipeline", run_.pipeline, "Pipeline name")->required();
  run_cmd_->add_option("-p,--param", run_.parameters, "Input parameter, key=value (repeatable)")
      ->allow_extra_args(false);
  run_cmd_->add_option("--name", run_.run_name, "Run name (default: generated)");
  run_cmd_->add_flag("--disable-cache", run_.disable_cache,
                     "Run every task even when a cached execution exists");
}

std::optional<int> PipelineCommands::Run(const std::string& data_dir) {
  if (!*pipeline_cmd_) return std::nullopt;
  flags_.data_dir = data_dir;
  Streams io{std::cin, std::cout, std::cerr};
  if (*upload_cmd_) return RunPipelineUpload(flags_, upload_, io);
  if (*run_cmd_) return RunPipelineRun(flags_, run_, io);
  return std::nullopt;
}

}  // namespace skiff::cli
