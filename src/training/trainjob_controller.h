// The Kubeflow Trainer v2 TrainJob controller. skiff has no JobSet, so the reconciler resolves the
// TrainJob's runtime (TrainingRuntime or ClusterTrainingRuntime), takes the runtime's `node`
// replicated job with the TrainJob's trainer overrides, and creates its Pods directly —
// `{trainjob}-node-0-{i}`, each with a headless Service of the same name — with the torch
// environment (PET_*, and MASTER_*/WORLD_SIZE/RANK for skiff-ml). Status follows upstream's
// TrainJob: conditions Created, Suspended, Complete, Failed and jobsStatus.
//
// Thread-safety: Reconcile may run on several workers at once, never for the same TrainJob; it
// keeps no state between reconciles.
#pragma once

#include <string>
#include <vector>

#include "client/client.h"
#include "common/clock.h"
#include "common/json.h"
#include "controllers/event_recorder.h"
#include "controllers/manager.h"
#include "controllers/reconciler.h"

namespace skiff::training {

inline const client::Resource kTrainJobs{"trainer.kubeflow.org", "v1alpha1", "trainjobs"};

inline constexpr char kTrainJobNameLabel[] = "trainer.kubeflow.org/trainjob-name";
inline constexpr char kJobSetNameLabel[] = "jobset.sigs.k8s.io/jobset-name";
inline constexpr char kReplicatedJobNameLabel[] = "jobset.sigs.k8s.io/replicatedjob-name";
inline constexpr char kJobIndexLabel[] = "jobset.sigs.k8s.io/job-index";
inline constexpr char kCompletionIndexLabel[] = "batch.kubernetes.io/job-completion-index";
inline constexpr char kNodeJob[] = "node";  // the trainer's replicated job (upstream's name)
inline constexpr int kDefaultMasterPort = 29400;

// What a TrainJob runs, resolved from its runtime, runtimePatches (merged into the node job's Pod
// template) and trainer overrides, in that order. Pure, for tests.
struct TrainPlan {
  int num_nodes = 1;
  int num_proc_per_node = 1;
  std::string restart_policy;  // the node Pods' restartPolicy: Never (default) or OnFailure
  Json pod_template;           // the node job's Pod template with the overrides applied
  std::string container;       // the trainer container's name
  // The runtime's other replicated jobs (initializers, launchers): not run by skiff.
  std::vector<std::string> skipped_jobs;
};
// `runtime` is the resolved runtime object; an error says what is wrong with it.
StatusOr<TrainPlan> PlanTrainJob(const Json& trainjob, const Json& runtime);
// `{trainjob}-node-0-{index}`: the Pod's and its Service's name.
std::string NodePodName(const std::string& trainjob, int index);
// The environment of node `rank`: a JSON array of {name, value}.
Json NodeEnv(const std::string& trainjob, const TrainPlan& plan, int rank);

class TrainJobReconciler : public controllers::Reconciler {
 public:
  // Reads through `mgr`'s informers and writes through `client`; both and `clock` must outlive
  // the reconciler.
  TrainJobReconciler(controllers::Manager* mgr, client::Client* client,
                     Clock* clock = Clock::Real());

  StatusOr<controllers::Result> Reconcile(const controllers::Request& request) override;

 private:
  // The runtime the job refers to, or NotFound/BadRequest with a message for the user.
  StatusOr<Json> ResolveRuntime(const Json& job);
  Status CreateNode(const Json& job, const TrainPlan& plan, int index);
  Json Labels(const Json& job, int index) const;
  Json OwnerRef(const Json& job) const;
  Status WriteStatus(const Json& job, const Json& status);

  controllers::Manager* const mgr_;
  client::Client* const client_;
  Clock* const clock_;
  controllers::EventRecorder recorder_;
  controllers::Informer* const jobs_;
  controllers::Informer* const pods_;
  controllers::Informer* const services_;
};

// Registers the TrainJob controller (For TrainJob, Owns Pods and Services, Watches runtimes) and
// creates the built-in runtimes.
Status StartTrainJobController(controllers::Manager& mgr, client::Client* client);

}  // namespace skiff::training
