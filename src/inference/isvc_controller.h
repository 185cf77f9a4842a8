// The InferenceService controller: For InferenceServices, Owns their Pods, Watches
// (Cluster)ServingRuntimes and the Model Registry's kinds (a models:/ or model-registry://
// storageUri follows its model's aliases and versions). Each component's spec becomes a revision
// (an immutable Pod template, kept in a ConfigMap named after the revision, labelled like
// Knative's); traffic is split between the latest ready revision and the previously rolled-out
// one as canaryTrafficPercent says; each routed revision gets the replica count the autoscaler
// decides; the ready Pods are published to the gateway's routing table; status follows KServe
// (url, address, components with traffic and revisions, conditions, modelStatus).
//
// Revision Pods are named {isvc}-{component}-{hash}-{n} (n = 0, 1, ...), labelled
// serving.kserve.io/inferenceservice, component, serving.knative.dev/revision and
// serving.kserve.io/replica-index.
//
// Thread-safety: Reconcile may run on several workers (never for the same InferenceService).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "client/client.h"
#include "common/clock.h"
#include "controllers/event_recorder.h"
#include "controllers/manager.h"
#include "controllers/reconciler.h"
#include "inference/autoscaler.h"
#include "inference/component.h"
#include "inference/routing_table.h"

namespace skiff::inference {

inline const client::Resource kInferenceServices{"serving.kserve.io", "v1beta1",
                                                 "inferenceservices"};
inline const client::Resource kPods{"", "v1", "pods"};
inline const client::Resource kConfigMaps{"", "v1", "configmaps"};

struct InferenceControllerOptions {
  std::string data_dir;                // $SKIFF_HOME
  std::string domain = "example.com";  // status.url is http://{isvc}.{ns}.{domain}
  std::string gateway_url;             // http://127.0.0.1:8081
};

class InferenceServiceReconciler : public controllers::Reconciler {
 public:
  // `table` and `autoscaler` (may be null: fixed replica counts) must outlive the reconciler.
  InferenceServiceReconciler(controllers::Manager* mgr, client::Client* client, RoutingTable* table,
                             Autoscaler* autoscaler, InferenceControllerOptions options,
                             Clock* clock = Clock::Real());

  StatusOr<controllers::Result> Reconcile(const controllers::Request& request) override;
  // The controller running this reconciler: the autoscaler wakes it through Enqueue.
  void set_controller(controllers::Controller* controller) { controller_.store(controller); }

 private:
  struct Revisions;
  Status EnsurePods(const Json& isvc, const std::string& revision, const Json& pod_template,
                    const std::vector<controllers::ObjectPtr>& pods, int desired);
  Status EnsureRevision(const Json& isvc, const std::string& component, const std::string& revision,
                        const ComponentPlan& plan);
  void DeleteRevision(const std::string& ns, const std::string& revision,
                      const std::vector<controllers::ObjectPtr>& pods);
  Status WriteStatus(const Json& isvc, const Json& status);
  Json OwnerRef(const Json& isvc) const;
  void ForgetKeys(const std::string& isvc_key, const std::set<std::string>& keep);

  controllers::Manager* const mgr_;
  client::Client* const client_;
  RoutingTable* const table_;
  Autoscaler* const autoscaler_;
  const InferenceControllerOptions options_;
  Clock* const clock_;
  controllers::EventRecorder recorder_;
  controllers::Informer* const isvcs_;
  controllers::Informer* const pods_;
  controllers::Informer* const configmaps_;
  controllers::Informer* const runtimes_;
  controllers::Informer* const cluster_runtimes_;
  std::atomic<controllers::Controller*> controller_{nullptr};

  std::mutex mu_;
  std::map<std::string, std::set<std::string>> autoscaled_;  // GUARDED_BY(mu_): isvc → keys
};

// Registers the controller on `mgr` (For InferenceServices, Owns Pods, Watches runtimes and the
// Model Registry's kinds).
StatusOr<controllers::Controller*> StartInferenceController(controllers::Manager& mgr,
                                                            client::Client* client,
                                                            RoutingTable* table,
                                                            Autoscaler* autoscaler,
                                                            InferenceControllerOptions options);

}  // namespace skiff::inference
