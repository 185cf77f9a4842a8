// ObjectApi: the semantics of every API verb over the store — metadata, validation, defaulting,
// admission, optimistic concurrency, finalizers, selectors, watch. The HTTP layer (handler.cc)
// and the in-process Client both call it, so a controller in this process and kubectl over HTTPS
// see exactly the same behaviour.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/options.h"
#include "api/resource.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"
#include "store/store.h"

namespace skiff::apiserver {

// Who is making a request, as authentication established it.
struct UserInfo {
  std::string name;
  std::vector<std::string> groups;
};

struct RequestContext {
  UserInfo user;
  std::string user_agent;  // the default field manager is derived from it
};

enum class Operation { kCreate, kUpdate, kDelete };

// Admission: runs after defaulting and validation, before the write. May mutate `object` on
// create/update; returning an error refuses the request. `old` is null on create.
class AdmissionPlugin {
 public:
  virtual ~AdmissionPlugin() = default;
  virtual Status Admit(const RequestContext& ctx, Operation op, const api::ResourceInfo& res,
                       Json* object, const Json* old) = 0;
};

struct ListResult {
  std::vector<std::string> items;  // each a JSON object, with its resourceVersion
  int64_t resource_version = 0;
  std::string continue_token;
  int64_t remaining_item_count = -1;  // -1: unknown / not applicable
};

// One watch event, already encoded: `object` is the object's JSON text.
struct WatchEventData {
  const char* type;  // "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
  std::string object;
};
// Returns false to stop the watch. Called on a store thread; must not block.
using WatchSink = std::function<bool(std::vector<WatchEventData>&& events)>;

class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
  virtual void Cancel() = 0;
};

class ObjectApi {
 public:
  ObjectApi(api::ResourceRegistry* registry, store::Store* store, Clock* clock);
  ~ObjectApi();

  api::ResourceRegistry* registry() const { return registry_; }
  store::Store* store() const { return store_; }

  void AddAdmissionPlugin(std::unique_ptr<AdmissionPlugin> plugin);

  // `ns` is ignored for cluster-scoped resources.
  StatusOr<Json> Get(const RequestContext& ctx, const api::ResourceInfo& res, const std::string& ns,
                     const std::string& name);
  // `ns` "" lists all namespaces.
  StatusOr<ListResult> List(const RequestContext& ctx, const api::ResourceInfo& res,
                            const std::string& ns, const api::ListOptions& options);
  // Events go to `sink` (current objects first as ADDED when options.resource_version is "" or
  // "0"). kGone if the resourceVersion is compacted.
  StatusOr<std::unique_ptr<WatchHandle>> Watch(const RequestContext& ctx,
                                               const api::ResourceInfo& res, const std::string& ns,
                                               const api::WatchOptions& options, WatchSink sink);

  StatusOr<Json> Create(const RequestContext& ctx, const api::ResourceInfo& res,
                        const std::string& ns, Json object, const api::WriteOptions& options,
                        std::vector<std::string>* warnings = nullptr);
  // Replaces the object (or only its status when `status_subresource`).
  StatusOr<Json> Update(const RequestContext& ctx, const api::ResourceInfo& res,
                        const std::string& ns, const std::string& name, Json object,
                        const api::WriteOptions& options, bool status_subresource,
                        std::vector<std::string>* warnings = nullptr);
  StatusOr<Json> Patch(const RequestContext& ctx, const api::ResourceInfo& res,
                       const std::string& ns, const std::string& name, api::PatchType type,
                       const std::string& body, const api::WriteOptions& options,
                       bool status_subresource, std::vector<std::string>* warnings = nullptr);
  // Returns the deleted object, or the object marked for deletion while finalizers remain.
  StatusOr<Json> Delete(const RequestContext& ctx, const api::ResourceInfo& res,
                        const std::string& ns, const std::string& name,
                        const api::DeleteOptions& options);
  // Deletes every object that the list options select; returns the List of deleted objects.
  StatusOr<Json> DeleteCollection(const RequestContext& ctx, const api::ResourceInfo& res,
                                  const std::string& ns, const api::ListOptions& list_options,
                                  const api::DeleteOptions& options);

  // The store key of an object, and the prefix of a collection (ns "" = all namespaces).
  static std::string Key(const api::ResourceInfo& res, const std::string& ns,
                         const std::string& name);
  static std::string Prefix(const api::ResourceInfo& res, const std::string& ns);

 private:
  StatusOr<Json> CreateInternal(const RequestContext& ctx, const api::ResourceInfo& res,
                                const std::string& ns, Json object,
                                const api::WriteOptions& options,
                                std::vector<std::string>* warnings, bool track_fields);
  StatusOr<Json> UpdateInternal(const RequestContext& ctx, const api::ResourceInfo& res,
                                const std::string& ns, const std::string& name, Json object,
                                const Json& live, int64_t live_revision,
                                const api::WriteOptions& options, bool status_subresource,
                                std::vector<std::string>* warnings, bool track_fields);
  // Writes `object` (already prepared) over `live`; deletes it instead when it is being deleted
  // and its last finalizer is gone.
  StatusOr<Json> Commit(const api::ResourceInfo& res, const std::string& key, Json object,
                        int64_t expected_revision);
  Status RunAdmission(const RequestContext& ctx, Operation op, const api::ResourceInfo& res,
                      Json* object, const Json* old);
  Status CheckNamespace(const api::ResourceInfo& res, const std::string& ns, Operation op);
  StatusOr<store::Record> GetRecord(const api::ResourceInfo& res, const std::string& ns,
                                    const std::string& name);
  // Adapts a stored object to the resource it is read through (alias groups).
  std::string ForRead(const api::ResourceInfo& res, std::string stored) const;

  api::ResourceRegistry* registry_;
  store::Store* store_;
  Clock* clock_;
  // Plugins may be added while requests are served (subsystems start after the server; the CRD
  // publisher writes meanwhile): the list is copied on write and each request runs the list it
  // started with. Plugins live as long as the ObjectApi.
  std::mutex admission_mu_;
  std::vector<std::unique_ptr<AdmissionPlugin>> admission_owned_;
  std::shared_ptr<const std::vector<AdmissionPlugin*>> admission_ =
      std::make_shared<std::vector<AdmissionPlugin*>>();
};

// Errors with Kubernetes' wording for the object they concern.
Status NotFoundError(const api::ResourceInfo& res, const std::string& name);
Status AlreadyExistsError(const api::ResourceInfo& res, const std::string& name);
Status ConflictError(const api::ResourceInfo& res, const std::string& name);

// Encodes a Status as the Kubernetes `Status` object.
Json StatusToJson(const Status& status);

}  // namespace skiff::apiserver
