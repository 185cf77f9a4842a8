// The namespace controller: finishes deleting a Namespace. Deleting a Namespace only marks it
// (deletionTimestamp, phase Terminating, finalizer "kubernetes"); this reconciler deletes every
// namespaced object of every stored kind in it, reports progress in the Namespace's status
// conditions as upstream does (NamespaceContentRemaining, NamespaceFinalizersRemaining,
// NamespaceDeletionContentFailure, ...), and removes the "kubernetes" finalizer once nothing is
// left, which lets the API server delete the Namespace.
//
// Thread-safety: Reconcile may run concurrently for different namespaces.
#pragma once

#include <chrono>

#include "api/resource.h"
#include "client/client.h"
#include "common/clock.h"
#include "controllers/reconciler.h"

namespace skiff::controllers {

inline const client::Resource kNamespacesResource{"", "v1", "namespaces"};

class NamespaceReconciler : public Reconciler {
 public:
  // `client`, `registry` and `clock` must outlive the reconciler.
  NamespaceReconciler(client::Client* client, api::ResourceRegistry* registry,
                      Clock* clock = Clock::Real());
  StatusOr<Result> Reconcile(const Request& request) override;

  // How often a terminating namespace is checked again while content (with finalizers) remains.
  static constexpr std::chrono::milliseconds kRecheck{1000};

 private:
  Status UpdateConditions(const Json& ns, const Json& conditions);

  client::Client* const client_;
  api::ResourceRegistry* const registry_;
  Clock* const clock_;
};

}  // namespace skiff::controllers
