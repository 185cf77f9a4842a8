// One reconciler for every Training Operator v1 kind, parameterised by JobKind: it creates a Pod
// and a headless Service per replica, restarts replicas as their restartPolicy says, carries out
// the runPolicy (backoffLimit, activeDeadlineSeconds, cleanPodPolicy, ttlSecondsAfterFinished,
// suspend, schedulingPolicy → PodGroup) and reports conditions, replica counts and events as the
// upstream operator does.
//
// Thread-safety: Reconcile may run on several workers at once (never for the same job); the only
// state kept between reconciles (retry counts and Pods already deleted, per job) is under a mutex
// and, like upstream's, lost on restart.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "client/client.h"
#include "common/clock.h"
#include "controllers/event_recorder.h"
#include "controllers/manager.h"
#include "controllers/reconciler.h"
#include "training/job_kind.h"

namespace skiff::training {

inline const client::Resource kPods{"", "v1", "pods"};
inline const client::Resource kServices{"", "v1", "services"};
inline const client::Resource kPodGroups{"scheduling.x-k8s.io", "v1alpha1", "podgroups"};
inline constexpr char kPodGroupLabel[] = "scheduling.x-k8s.io/pod-group";

class JobReconciler : public controllers::Reconciler {
 public:
  // Reads through `mgr`'s informers and writes through `client`; both and `clock` must outlive
  // the reconciler.
  JobReconciler(const JobKind& kind, controllers::Manager* mgr, client::Client* client,
                Clock* clock = Clock::Real());

  StatusOr<controllers::Result> Reconcile(const controllers::Request& request) override;

 private:
  struct Memory {
    int retries = 0;                 // Pods recreated after a retryable failure
    std::set<std::string> deleted;   // uids of Pods we deleted, until they leave the cache
    std::set<std::string> reported;  // one-off events already posted (pod uid + what)
  };
  struct Replicas;  // the job's Pods and Services, by replica type and index

  Replicas Observe(const Json& job, const Memory& memory);
  Status CreatePod(const Json& job, const std::string& type, int index);
  Status CreateService(const Json& job, const std::string& type, int index);
  Status EnsurePodGroup(const Json& job);
  // Deletes Pods (and their Services) as cleanPodPolicy says; `all` ignores the policy (suspend).
  void DeletePods(const Json& job, const Replicas& replicas, bool all);
  void DeletePodGroup(const Json& job);
  Json Labels(const Json& job, const std::string& type, int index) const;
  Json OwnerRef(const Json& job) const;
  std::string Message(const Json& job, const std::string& what, bool with_ns) const;
  // Writes `status` when it differs from the job's (ignoring lastReconcileTime).
  Status WriteStatus(const Json& job, Json status);
  Memory& MemoryOf(const std::string& uid);

  const JobKind& kind_;
  controllers::Manager* const mgr_;
  client::Client* const client_;
  Clock* const clock_;
  controllers::EventRecorder recorder_;
  controllers::Informer* const jobs_;
  controllers::Informer* const pods_;
  controllers::Informer* const services_;

  std::mutex mu_;
  std::map<std::string, Memory> memory_;  // GUARDED_BY(mu_), by job uid
};

}  // namespace skiff::training
