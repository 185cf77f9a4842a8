// Admission for the pipeline kinds: a Pipeline, PipelineVersion, PipelineRun or RecurringRun
// whose spec.pipelineSpec is compiled KFP IR is checked with ValidateIr when it is created or its
// pipelineSpec changes, so `kubectl apply` of a broken pipeline is refused with 422 and the
// problems named (`root.dag.tasks.x.componentRef: component "comp-y" is not defined`) instead of
// failing later at run time. Seed-format specs name Components that may be applied afterwards;
// they are checked when a run starts.
#pragma once

#include "apiserver/object_api.h"

namespace skiff::pipelines {

void InstallPipelineAdmission(apiserver::ObjectApi* api);

}  // namespace skiff::pipelines
