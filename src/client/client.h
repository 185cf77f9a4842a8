// The Client every component uses to read and write API objects: the same verbs as the
// Kubernetes REST API. Implementations: in-process (calls the API server's ObjectApi directly,
// no HTTP) and HTTP (a remote skiff or a real Kubernetes cluster).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "api/options.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::client {

// Names a resource collection: group "" is the core group.
struct Resource {
  std::string group;
  std::string version;
  std::string plural;
};

using api::DeleteOptions;
using api::ListOptions;
using api::PatchType;
using api::WatchOptions;
using api::WriteOptions;

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
  virtual StatusOr<Json> UpdateStatus(const Resource& r, const std::string& ns, const Json& object,
                                      const WriteOptions& options = {}) = 0;
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
