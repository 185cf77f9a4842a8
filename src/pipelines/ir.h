// Pipeline formats → KFP v2 IR. The engine runs one representation: a KFP `PipelineSpec` as JSON
// (the proto's JSON names: pipelineInfo, components, deploymentSpec, root, ...). Compiled KFP
// YAML is taken as is; the seed's format (inputs/tasks with componentRef and `from:`) is
// converted to it. Pure functions: no I/O, no API calls.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::pipelines {

// What `kfp compiler` writes: the PipelineSpec and, when the pipeline uses kfp-kubernetes
// features, a second document with the PlatformSpec (`platforms: {kubernetes: ...}`).
struct PipelineDocument {
  Json spec;           // PipelineSpec (IR)
  Json platform_spec;  // PlatformSpec, or null
};

// Reads a compiled pipeline file (one or two YAML documents). Also accepts a seed `Pipeline`
// manifest (kind: Pipeline) whose spec.pipelineSpec embeds IR. Empty input, YAML syntax errors,
// a spec with no pipelineInfo.name, and IR that fails ValidateIr are errors (kInvalid /
// kBadRequest) whose message says what and where.
StatusOr<PipelineDocument> ParsePipelineFile(std::string_view text);

// True when `pipeline_spec` is compiled IR (has `root` or `deploymentSpec`), false for the
// seed's format (`tasks`).
bool IsIr(const Json& pipeline_spec);

// The spec of a `Component` resource (KfpComponentSpec in api/builtin/pipelines.yaml) by name.
using ComponentLookup = std::function<StatusOr<Json>(const std::string& name)>;

// Turns a Pipeline's spec.pipelineSpec (either format) into validated IR. `pipeline_name` names
// the IR (pipelineInfo.name) when the spec does not. Seed-format rules:
//  - each task becomes a component `comp-<task>` and executor `exec-<task>` (container: image,
//    command, args, env, resources from the component), placeholders rewritten to IR's
//    ({{inputs.parameters.x}} → {{$.inputs.parameters['x']}}, {{inputs.artifacts.x.path}} →
//    {{$.inputs.artifacts['x'].path}}, {{outputs.artifacts.x.path}} and
//    {{outputs.parameters.x.path}} likewise; pipeline-level {{inputs.parameters.x}} in a task's
//    input value → componentInputParameter);
//  - `from: t.outputs.artifacts.a` → taskOutputArtifact, `from: t.outputs.parameters.p` →
//    taskOutputParameter, both adding t to dependentTasks;
//  - a task output declared with a fixed `path` is kept on the executor's container as
//    `"skiffArtifactPaths": {"<output name>": "<path>"}` (the engine mounts the artifact there);
//  - types: STRING/NUMBER/INTEGER/BOOLEAN/LIST/STRUCT → STRING/NUMBER_DOUBLE/NUMBER_INTEGER/
//    BOOLEAN/LIST/STRUCT; artifact type names → {schemaTitle: system.Artifact|Dataset|Model|...}.
// Unknown componentRef, unknown `from` task or output, cycles → kInvalid naming the task.
StatusOr<Json> ToIr(const Json& pipeline_spec, const std::string& pipeline_name,
                    const ComponentLookup& lookup);

// Checks IR the engine is about to run: every componentRef names a component, every
// executorLabel an executor, every task input references an existing producer task and output
// key (or a declared component input), dependentTasks exist in the same DAG, no cycles, iterator
// item inputs resolve, parameter types are known. One message listing every problem
// (`root.dag.tasks.print-op.componentRef: component "comp-x" is not defined`).
Status ValidateIr(const Json& ir);

// Topological order of the tasks of one DAG (names), dependencies first; kInvalid on a cycle.
StatusOr<std::vector<std::string>> TopologicalOrder(const Json& dag);

}  // namespace skiff::pipelines
