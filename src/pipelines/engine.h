// The PipelineRun controller: runs a pipeline (KFP v2 IR, see ir.h) task by task as Pods through
// the API, the way KFP v2's driver and launcher do on a cluster.
//
// A run is a tree of task instances, each with an id that is its path in the run: `train`,
// `exit-handler-1.print-op`, `for-loop-2.0.print-op` (iteration 0 of for-loop-2). Every instance
// is one entry of status.tasks, and status.tasks is the engine's only durable state: outputs
// (parameter values, artifact URIs and metadata) live there, so a restarted skiff picks a run up
// where it was. Kinds of instance: container (a Pod), importer, dag (a nested pipeline, condition
// or exit-handler group), loop (ParallelFor) and iteration (one pass of a loop's DAG).
//
// Each reconcile walks the run's DAGs from the root: starts tasks whose upstream tasks are done
// (triggerPolicy strategy and condition decide whether they run or are SKIPPED), looks at the
// Pods of running tasks, collects outputs (output-parameter files, executor_output.json),
// retries failed attempts as retryPolicy says, completes DAGs (outputs by selectors, OneOf) and
// loops (Collected lists), and writes status once. Cacheable tasks are looked up in the lineage
// store by fingerprint before a Pod is made; every finished execution is recorded there.
//
// Artifacts: a run's artifacts live under {pipelineRoot}/{namespace}/{pipeline}/{run uid}/{task
// id}/{output}. The default root is $SKIFF_HOME/artifacts (file:// URIs); gs://, s3:// and
// minio:// roots are kept on this machine under $SKIFF_HOME/buckets/{scheme}/{bucket}/... A task's
// Pod gets its own directory and its input artifacts as hostPath volumes at the same paths, so
// `.path` placeholders mean the same inside and outside the sandbox.
#pragma once

#include <string>

#include "client/client.h"
#include "common/clock.h"
#include "common/status.h"
#include "controllers/manager.h"

namespace skiff::pipelines {

class LineageStore;
class PipelineMetrics;

inline const client::Resource kPipelineRuns{"kubeflow.org", "v2beta1", "pipelineruns"};
inline const client::Resource kPipelines{"kubeflow.org", "v2beta1", "pipelines"};
inline const client::Resource kPipelineVersions{"kubeflow.org", "v2beta1", "pipelineversions"};
inline const client::Resource kComponents{"kubeflow.org", "v2beta1", "components"};

// Labels on every task Pod.
inline constexpr char kRunLabel[] = "pipelines.kubeflow.org/run";
inline constexpr char kTaskLabel[] = "pipelines.kubeflow.org/task";

struct EngineOptions {
  std::string data_dir;             // $SKIFF_HOME
  LineageStore* lineage = nullptr;  // null: no lineage and no caching
  PipelineMetrics* metrics = nullptr;
  Clock* clock = Clock::Real();
  int workers = 2;
};

// Registers the PipelineRun controller (For PipelineRuns, Owns Pods) on `mgr`.
Status StartPipelineEngine(controllers::Manager& mgr, client::Client* client,
                           EngineOptions options);

// Where an artifact URI is kept on this machine (file:// → its path; gs://b/k →
// {data_dir}/buckets/gs/b/k; a plain path stays as is).
std::string LocalArtifactPath(const std::string& data_dir, const std::string& uri);

}  // namespace skiff::pipelines
