// The KFP v2beta1 REST API (/apis/v2beta1/...: pipelines and their versions, runs, experiments,
// recurring runs) as a facade over skiff's API objects, so the `kfp` Python client and curl users
// drive skiff as they would Kubeflow Pipelines. All state lives in Pipeline, PipelineVersion,
// PipelineRun, PipelineExperiment and RecurringRun objects; KFP's IDs are their metadata.uid.
#pragma once

#include "apiserver/handler.h"
#include "apiserver/object_api.h"

namespace skiff::pipelines {

// Serves every path under /apis/v2beta1 (others: std::nullopt). Each request runs as the
// authenticated user through an in-process Client, so the API server's authorization applies.
// `api` must outlive the route; the route may be called from many threads at once.
apiserver::ExtraRoute KfpRestRoutes(apiserver::ObjectApi* api);

}  // namespace skiff::pipelines
