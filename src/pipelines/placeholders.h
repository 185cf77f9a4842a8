// KFP v2 command-line placeholders, resolved for one task execution the way KFP's launcher does.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::pipelines {

// Everything a placeholder can name. `executor_input` is KFP's ExecutorInput in its JSON form:
//   {"inputs": {"parameterValues": {"x": 1, ...},
//               "artifacts": {"a": {"artifacts": [{"name", "uri", "type": {"schemaTitle"},
//                                                  "metadata": {...}}]}}},
//    "outputs": {"parameters": {"p": {"outputFile": "/…/p"}},
//                "artifacts": {"m": {"artifacts": [{"name", "uri", "type", "metadata"}]}},
//                "outputFile": "/…/executor_output.json"}}
// An input absent from parameterValues / artifacts is "not present" (IfPresent's Else).
struct PlaceholderContext {
  Json executor_input = Json::object();
  std::string pipeline_job_name;           // {{$.pipeline_job_name}} (the run's display name)
  std::string pipeline_job_resource_name;  // {{$.pipeline_job_resource_name}} (run object name)
  std::string pipeline_job_uuid;           // {{$.pipeline_job_uuid}}
  std::string pipeline_task_name;          // {{$.pipeline_task_name}}
  std::string pipeline_task_uuid;          // {{$.pipeline_task_uuid}}
  std::string pipeline_root;               // {{$.pipeline_root}}
  std::string pipeline_job_create_time;    // {{$.pipeline_job_create_time_utc}} (RFC 3339)
  std::string pipeline_job_schedule_time;  // {{$.pipeline_job_schedule_time_utc}}
  std::string workspace_path;              // {{$.workspace_path}}; empty: the run has none
  // Maps an artifact URI to the path the container sees it at (`.path` placeholders). Required.
  std::function<std::string(const std::string& uri)> local_path;
};

// Resolves a container's `command` or `args` (a JSON array of strings). Handles
//   {{$}} (the executor input as compact JSON), {{$.inputs.parameters['x']}},
//   {{$.inputs.artifacts['x'].path|uri|metadata}}, {{$.inputs.artifacts['x'].metadata['k']}},
//   {{$.outputs.parameters['x'].output_file}}, {{$.outputs.artifacts['x'].path|uri|metadata}},
//   {{$.outputs.output_file}}, the pipeline_* names above, several placeholders inside one string,
//   and the JSON forms KFP writes as whole strings: {"Concat": [...]}, {"IfPresent": {"InputName":
//   "x", "Then": [...], "Else": [...]}} (nested; Then/Else lists splice into the argument list).
// Parameter values render as KFP does: strings raw, other types as compact JSON (true, 3, 1.5,
// ["a"], {"k": 1}); a missing input without IfPresent is an error naming it.
// Details that follow KFP: numbers print without exponent (1e21 → "1000000000000000000000"); a
// null parameter is not present; `{{$.inputs.artifacts['x']}}` with no field renders the
// artifact list as JSON (Input[List[Artifact]]), the field forms use its first artifact;
// `.metadata` is the metadata object as compact JSON, `.metadata['k']` renders like a parameter;
// Then/Else may be a single element instead of a list; Concat joins what its items resolve to
// (an IfPresent inside it contributes its branch's items). Vertex-only names
// ({{$.pipeline_google_cloud_project_id}}, ..._location, {{$.pipeline_persistent_resource_id}})
// are left as written, as KFP's open-source launcher does; any other unknown form is kInvalid.
// A task input's runtimeValue.constant may embed `{{$.inputs.parameters['pipelinechannel--x']}}`
// naming the same task's other inputs: resolve it with ResolveString against those.
StatusOr<std::vector<std::string>> ResolveArguments(const Json& args,
                                                    const PlaceholderContext& context);

// Resolves placeholders in one string (env values, image names).
StatusOr<std::string> ResolveString(std::string_view text, const PlaceholderContext& context);

}  // namespace skiff::pipelines
