// The routing table the InferenceService controller publishes and the gateway reads: for each
// InferenceService, its components (predictor, transformer, explainer), each a traffic split
// over revisions with the ready Pods (address and port) of each revision. Published as immutable
// snapshots: readers take the current one without locking the writers out, and keep it as long as
// they like.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inference/autoscaler.h"

namespace skiff::inference {

struct Backend {
  std::string ip;
  uint16_t port = 0;
  std::string pod;
};

struct RevisionRoute {
  std::string name;               // the revision ({isvc}-{component}-{hash})
  std::string key;                // "ns/revision": the autoscaler's key
  std::vector<Backend> backends;  // ready Pods only
  int percent = 0;
  std::shared_ptr<RevisionStats> stats;  // counted by the gateway; may be null
};

struct ComponentRoute {
  std::string component;                 // predictor, transformer, explainer
  std::vector<RevisionRoute> revisions;  // with percent > 0; percents sum to 100
  std::chrono::milliseconds timeout{300000};
  // Deterministic weighted choice: the n-th request of this publication goes to the revision
  // whose cumulative share covers frac(n x golden ratio), so any run of requests splits almost
  // exactly by percent.
  std::shared_ptr<std::atomic<uint64_t>> counter = std::make_shared<std::atomic<uint64_t>>(0);
  // Round-robin over each revision's backends.
  std::shared_ptr<std::atomic<uint64_t>> rr = std::make_shared<std::atomic<uint64_t>>(0);

  // The revision for the next request (nullptr when there is none).
  const RevisionRoute* Pick() const;
};

struct ServiceRoute {
  std::string ns;
  std::string name;
  std::optional<ComponentRoute> predictor, transformer, explainer;
  // Compared on publication: an unchanged route is not republished (keeps the split's counter).
  std::string signature;

  const ComponentRoute* Component(const std::string& component) const;
};

struct RoutingSnapshot {
  std::map<std::string, std::shared_ptr<const ServiceRoute>> services;  // by "ns/name"
  std::string domain;
};

// Where a request goes: a service's component and the path to send it.
struct RouteTarget {
  std::shared_ptr<const ServiceRoute> service;
  const ComponentRoute* component = nullptr;
  std::string path;  // the request target to forward (prefix removed for path routing)
};

// Path routing prefix: /serving/{ns}/{isvc}/... (or /serving/{ns}/{isvc}-{component}/...).
inline constexpr std::string_view kPathPrefix = "/serving/";

// Resolves a request: path prefix first, else the Host header ({isvc}.{ns}.{domain},
// {isvc}-{component}.{ns}.{domain}, the same under .svc.cluster.local or .svc, or {isvc}.{ns}).
// The entry component is the transformer when there is one, else the predictor; `:explain`
// requests go to the explainer when there is one. Returns nullopt when no service matches.
std::optional<RouteTarget> ResolveRoute(const RoutingSnapshot& snapshot, std::string_view host,
                                        std::string_view target);

class RoutingTable {
 public:
  explicit RoutingTable(std::string domain = "example.com");

  // Replaces the route of route.ns/route.name (unless its signature is unchanged).
  void Publish(ServiceRoute route);
  void Remove(const std::string& ns, const std::string& name);

  std::shared_ptr<const RoutingSnapshot> Current() const;
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  const std::string& domain() const { return domain_; }

  // Called (on the publishing thread) after every change; the gateway wakes its loops with it.
  void AddListener(std::function<void()> listener);

 private:
  // Under mu_: installs `next` and bumps the version.
  void Swap(std::shared_ptr<const RoutingSnapshot> next);
  void Notify();

  const std::string domain_;
  mutable std::mutex mu_;
  std::shared_ptr<const RoutingSnapshot> current_;  // GUARDED_BY(mu_)
  std::vector<std::function<void()>> listeners_;    // GUARDED_BY(mu_)
  std::atomic<uint64_t> version_{1};
};

}  // namespace skiff::inference
