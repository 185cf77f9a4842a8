// `skiff pipeline upload FILE` (a compiled KFP pipeline, or a Pipeline manifest, as a
// kubeflow.org/v2beta1 Pipeline) and `skiff pipeline run NAME -p k=v` (a PipelineRun of it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/json.h"
#include "common/status.h"
#include "pipelines/ir.h"

namespace CLI {
class App;
}  // namespace CLI

namespace skiff::cli {

struct PipelineUploadOptions {
  std::string file;  // path, or "-" for stdin
  std::string name;  // Pipeline name; empty: pipelineInfo.name made a valid object name
};

struct PipelineRunOptions {
  std::string pipeline;
  std::vector<std::string> parameters;  // "key=value"
  std::string run_name;                 // empty: the server generates "<pipeline>-xxxxx"
  bool disable_cache = false;
};

// Print "pipeline.kubeflow.org/NAME created|configured" / "pipelinerun.kubeflow.org/NAME
// created"; errors as kubectl prints them, exit code 1.
int RunPipelineUpload(const ConnectionFlags& flags, const PipelineUploadOptions& options,
                      Streams io);
int RunPipelineRun(const ConnectionFlags& flags, const PipelineRunOptions& options, Streams io);

// The Pipeline object for a parsed file: spec.pipelineSpec is the IR, with the PlatformSpec's
// `platforms` inside it (where the Pipeline kind keeps it).
Json PipelineObject(const pipelines::PipelineDocument& doc, const std::string& name,
                    const std::string& ns);

// A DNS-1123 object name from a pipeline's display name ("My Pipeline_v2" → "my-pipeline-v2").
std::string ObjectName(const std::string& text);

// Parses `-p key=value` against the pipeline's root inputDefinitions: values are typed by the
// declared parameterType (NUMBER_INTEGER "3" → 3, LIST '[1,2]' → [1,2], ...); an unknown key or a
// value of the wrong type is kInvalid naming it. `input_definitions` null: every value a string.
StatusOr<Json> ParseParameterValues(const std::vector<std::string>& assignments,
                                    const Json& input_definitions);

// Registers `pipeline upload` and `pipeline run` on the CLI and runs whichever was parsed.
// Holds the parsed options, so it must outlive parsing. Not thread-safe.
class PipelineCommands {
 public:
  explicit PipelineCommands(CLI::App* app);
  std::optional<int> Run(const std::string& data_dir);

 private:
  ConnectionFlags flags_;
  PipelineUploadOptions upload_;
  PipelineRunOptions run_;
  CLI::App* pipeline_cmd_ = nullptr;
  CLI::App* upload_cmd_ = nullptr;
  CLI::App* run_cmd_ = nullptr;
};

}  // namespace skiff::cli
