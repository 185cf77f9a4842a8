// The Client every component uses to read and write API objects: the same verbs as the
// Kubernetes REST API. Implementations: in-process (calls the API server's ObjectApi directly,
// no HTTP) and HTTP (a remote skiff or a real Kubernetes cluster).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/json.h"
#include "common/status.h"

namespace skiff::client {

// Names a resource collection: group "" is the core group.
struct Resource {
  std::string group;
  std::string version;
  std::string plural;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;  // "" latest, "0" any
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" or "0": start with ADDED for every current object
  bool allow_bookmarks = false;
  int64_t timeout_seconds = 0;   // 0: until stopped
  bool send_initial_events = false;
};

struct WriteOptions {
  std::string field_manager;
  bool dry_run = false;
  std::string field_validation;  // Ignore, Warn, Strict
  bool force = false;            // server-side apply: take ownership on conflicts
};

struct DeleteOptions {
  std::string propagation_policy;  // Orphan, Background, Foreground
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;
  std::string precondition_resource_version;
  bool dry_run = false;
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  Json object;
};

class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Waits up to `timeout` for the next event. Returns false when the stream ended (server closed
  // it, timeoutSeconds passed, or Stop was called); `*timed_out` distinguishes a mere wait timeout.
  virtual bool Next(WatchEvent* event, std::chrono::milliseconds timeout, bool* timed_out) = 0;
  virtual void Stop() = 0;
};

class Client {
 public:
  virtual ~Client() = default;
  // `ns` is ignored for cluster-scoped resources; "" lists across all namespaces.
  virtual StatusOr<Json> Get(const Resource& r, const std::string& ns, const std::string& name) = 0;
  virtual StatusOr<Json> List(const Resource& r, const std::string& ns,
                              const ListOptions& options) = 0;
  virtual StatusOr<std::unique_ptr<WatchStream>> Watch(const Resource& r, const std::string& ns,
                                                       const WatchOptions& options) = 0;
  virtual StatusOr<Json> Create(const Resource& r, const std::string& ns, const Json& object,
                                const WriteOptions& options = {}) = 0;
  virtual StatusOr<Json> Update(const Resource& r, const std::string& ns, const Json& object,
                                const WriteOptions& options = {}) = 0;
  virtual StatusOr<Json> UpdateStatus(const Resource& r, const std::string& ns,
                                      const Json& object, const WriteOptions& options = {}) = 0;
  // `subresource` is "" or "status".
  virtual StatusOr<Json> Patch(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const std::string& patch,
                               const WriteOptions& options = {},
                               const std::string& subresource = "") = 0;
  // Returns the object as deleted (or marked for deletion when finalizers remain).
  virtual StatusOr<Json> Delete(const Resource& r, const std::string& ns, const std::string& name,
                                const DeleteOptions& options = {}) = 0;
};

}  // namespace skiff::client
