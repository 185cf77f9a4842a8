// The in-process Client: resolves a Resource against the registry and calls ObjectApi, so a
// controller inside skiff sees exactly what kubectl sees over HTTPS, without the HTTP round trip.
#include "client/inprocess_client.h"

#include <atomic>

#include "client/watch_queue.h"
#include "common/log.h"

namespace skiff::client {
namespace {

Status UnknownResource(const Resource& r) {
  Status s = Status::NotFound("the server could not find the requested resource");
  s.WithDetails("", r.group, r.plural);
  return s;
}

// Adapts ObjectApi's push-style watch to the pull-style WatchStream.
class InProcessWatch : public WatchStream {
 public:
  explicit InProcessWatch(std::shared_ptr<WatchQueue> queue) : queue_(std::move(queue)) {}
  ~InProcessWatch() override { Stop(); }

  void set_handle(std::unique_ptr<apiserver::WatchHandle> handle) { handle_ = std::move(handle); }

  bool Next(WatchEvent* event, std::chrono::milliseconds timeout, bool* timed_out) override {
    return queue_->Next(event, timeout, timed_out);
  }

  void Stop() override {
    queue_->Stop();
    // Cancel guarantees the sink is not called afterwards; the queue it holds stays alive anyway
    // because the sink owns a reference.
    if (handle_ && !cancelled_.exchange(true)) handle_->Cancel();
  }

 private:
  std::shared_ptr<WatchQueue> queue_;
  std::unique_ptr<apiserver::WatchHandle> handle_;
  std::atomic<bool> cancelled_{false};
};

class InProcessClient : public Client {
 public:
  InProcessClient(apiserver::ObjectApi* api, apiserver::UserInfo user)
      : api_(api), ctx_{std::move(user), "skiff-controller"} {}

  StatusOr<Json> Get(const Resource& r, const std::string& ns, const std::string& name) override {
    auto res = Find(r);
    if (!res) return UnknownResource(r);
    return api_->Get(ctx_, *res, ns, name);
  }

  StatusOr<Json> List(const Resource& r, const std::string& ns,
                      const ListOptions& options) override {
    auto res = Find(r);
    if (!res) return UnknownResource(r);
    auto listed = api_->List(ctx_, *res, ns, options);
    if (!listed.ok()) return listed.status();
    Json items = Json::array();
    for (const std::string& raw : listed->items) {
      auto obj = ParseJson(raw);
      if (!obj.ok()) return Status::Internal("stored object is corrupt: " + obj.status().message());
      items.push_back(std::move(*obj));
    }
    Json meta = {{"resourceVersion", std::to_string(listed->resource_version)}};
    if (!listed->continue_token.empty()) meta["continue"] = listed->continue_token;
    if (listed->remaining_item_count >= 0)
      meta["remainingItemCount"] = listed->remaining_item_count;
    return Json{{"apiVersion", res->ApiVersion()},
                {"kind", res->list_kind},
                {"metadata", std::move(meta)},
                {"items", std::move(items)}};
  }

  StatusOr<std::unique_ptr<WatchStream>> Watch(const Resource& r, const std::string& ns,
                                               const WatchOptions& options) override {
    auto res = Find(r);
    if (!res) return UnknownResource(r);
    std::optional<WatchQueue::TimePoint> deadline;
    if (options.timeout_seconds > 0) {
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_seconds);
    }
    auto queue = std::make_shared<WatchQueue>(deadline);
    // Runs on the store's thread: parse and enqueue, never block.
    apiserver::WatchSink sink = [queue](std::vector<apiserver::WatchEventData>&& events) {
      for (apiserver::WatchEventData& e : events) {
        auto obj = ParseJson(e.object);
        if (!obj.ok()) {
          SKIFF_LOG(Warn) << "in-process watch: dropping undecodable object: "
                          << obj.status().message();
          continue;
        }
        if (!queue->Push(WatchEvent{e.type, std::move(*obj)})) return false;
      }
      return true;
    };
    auto handle = api_->Watch(ctx_, *res, ns, options, std::move(sink));
    if (!handle.ok()) return handle.status();
    auto stream = std::make_unique<InProcessWatch>(queue);
    stream->set_handle(std::move(*handle));
    return std::unique_ptr<WatchStream>(std::move(stream));
  }

  StatusOr<Json> Create(const Resource& r, const std::string& ns, const Json& object,
                        const WriteOptions& options) override {
    auto res = Find(r);
    if (!res) return UnknownResource(r);
    return api_->Create(ctx_, *res, ns, object, options);
  }

  StatusOr<Json> Update(const Resource& r, const std::string& ns, const Json& object,
                        const WriteOptions& options) override {
    return DoUpdate(r, ns, object, options, false);
  }

  StatusOr<Json> UpdateStatus(const Resource& r, const std::string& ns, const Json& object,
                              const WriteOptions& options) override {
    return DoUpdate(r, ns, object, options, true);
  }

  StatusOr<Json> Patch(const Resource& r, const std::string& ns, const std::string& name,
                       PatchType type, const std::string& patch, const WriteOptions& options,
                       const std::string& subresource) override {
    auto res = Find(r);
    if (!res) return UnknownResource(r);
    auto status_sub = StatusSubresource(*res, subresource);
    if (!status_sub.ok()) return status_sub.status();
    return api_->Patch(ctx_, *res, ns, name, type, patch, options, *status_sub);
  }

  StatusOr<Json> Delete(const Resource& r, const std::string& ns, const std::string& name,
                        const DeleteOptions& options) override {
    auto res = Find(r);
    if (!res) return UnknownResource(r);
    return api_->Delete(ctx_, *res, ns, name, options);
  }

 private:
  api::ResourcePtr Find(const Resource& r) const {
    return api_->registry()->Find(r.group, r.version, r.plural);
  }

  // The HTTP layer answers 404 for a subresource the kind does not have; so does this client.
  static StatusOr<bool> StatusSubresource(const api::ResourceInfo& res,
                                          const std::string& subresource) {
    if (subresource.empty()) return false;
    if (subresource == "status" && res.status_subresource) return true;
    return Status::NotFound("the server could not find the requested resource (" + res.plural +
                            "/" + subresource + ")");
  }

  StatusOr<Json> DoUpdate(const Resource& r, const std::string& ns, const Json& object,
                          const WriteOptions& options, bool status) {
    auto res = Find(r);
    if (!res) return UnknownResource(r);
    if (status) {
      auto sub = StatusSubresource(*res, "status");
      if (!sub.ok()) return sub.status();
    }
    const Json* name = FindPath(object, "metadata.name");
    if (!name || !name->is_string() || name->get<std::string>().empty()) {
      return Status::BadRequest("an update needs the object's metadata.name");
    }
    return api_->Update(ctx_, *res, ns, name->get<std::string>(), object, options, status);
  }

  apiserver::ObjectApi* const api_;
  const apiserver::RequestContext ctx_;
};

}  // namespace

std::unique_ptr<Client> NewInProcessClient(apiserver::ObjectApi* api, apiserver::UserInfo user) {
  return std::make_unique<InProcessClient>(api, std::move(user));
}

}  // namespace skiff::client
