#include "controllers/informer.h"

#include <random>

#include "common/log.h"
#include "controllers/object_meta.h"

namespace skiff::controllers {
namespace {

std::string Describe(const client::Resource& r) {
  return r.group.empty() ? r.plural : r.plural + "." + r.group;
}

}  // namespace

Informer::Informer(client::Client* client, client::Resource resource, InformerOptions options)
    : client_(client), resource_(std::move(resource)), options_(std::move(options)) {}

Informer::~Informer() { Stop(); }

void Informer::AddEventHandlers(EventHandlers handlers) {
  std::lock_guard<std::mutex> lock(handlers_mu_);
  if (handlers.on_add) {
    for (const ObjectPtr& obj : List()) handlers.on_add(obj);
  }
  handlers_.push_back(std::move(handlers));
}

void Informer::Start() {
  std::lock_guard<std::mutex> lock(run_mu_);
  if (started_ || stop_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_ = true;
    if (current_watch_) current_watch_->Stop();
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(run_mu_);
  while (!synced_.load() && !stop_) {
    if (run_cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  return synced_.load();
}

ObjectPtr Informer::Get(const std::string& ns, const std::string& name) const {
  std::shared_lock lock(cache_mu_);
  auto it = cache_.find(ObjectKey(ns, name));
  return it == cache_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::List(const std::string& ns) const {
  std::vector<ObjectPtr> out;
  std::shared_lock lock(cache_mu_);
  if (ns.empty()) {
    out.reserve(cache_.size());
    for (const auto& [key, obj] : cache_) out.push_back(obj);
    return out;
  }
  const std::string prefix = ns + "/";
  for (auto it = cache_.lower_bound(prefix); it != cache_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->second);
  }
  return out;
}

size_t Informer::Size() const {
  std::shared_lock lock(cache_mu_);
  return cache_.size();
}

std::string Informer::kind() const {
  std::shared_lock lock(cache_mu_);
  return kind_;
}

std::string Informer::last_resource_version() const {
  std::shared_lock lock(cache_mu_);
  return rv_;
}

bool Informer::SleepInterruptible(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(run_mu_);
  run_cv_.wait_for(lock, d, [this] { return stop_; });
  return !stop_;
}

void Informer::Run() {
  auto backoff = options_.backoff_initial;
  auto grow = [&] { backoff = std::min(backoff * 2, options_.backoff_max); };
  while (true) {
    {
      std::lock_guard<std::mutex> lock(run_mu_);
      if (stop_) return;
    }
    auto rv = ListAndReplace();
    if (!rv.ok()) {
      SKIFF_LOG(Warn) << "informer " << Describe(resource_)
                      << ": list failed: " << rv.status().ToString();
      if (!SleepInterruptible(backoff)) return;
      grow();
      continue;
    }
    backoff = options_.backoff_initial;
    std::string from = *rv;
    while (WatchFrom(&from, &backoff)) {
    }
  }
}

StatusOr<std::string> Informer::ListAndReplace() {
  client::ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  std::map<std::string, ObjectPtr> fresh;
  std::string rv, kind;
  while (true) {
    auto page = client_->List(resource_, options_.ns, lo);
    if (!page.ok()) {
      if (page.status().code() == Code::kGone && !lo.continue_token.empty()) {
        // The snapshot we were paging through was compacted: start over in one go.
        fresh.clear();
        lo.continue_token.clear();
        lo.limit = 0;
        continue;
      }
      return page.status();
    }
    Json& list = *page;
    if (kind.empty() && list.contains("kind") && list["kind"].is_string()) {
      kind = list["kind"].get<std::string>();
      if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
        kind.resize(kind.size() - 4);
      }
    }
    if (list.contains("items") && list["items"].is_array()) {
      for (Json& item : list["items"]) {
        if (options_.transform) item = options_.transform(std::move(item));
        std::string key = ObjectKeyOf(item);
        fresh[key] = std::make_shared<const Json>(std::move(item));
      }
    }
    const Json* meta_rv = FindPath(list, "metadata.resourceVersion");
    if (rv.empty() && meta_rv && meta_rv->is_string()) rv = meta_rv->get<std::string>();
    const Json* cont = FindPath(list, "metadata.continue");
    if (!cont || !cont->is_string() || cont->get<std::string>().empty()) break;
    lo.continue_token = cont->get<std::string>();
  }

  std::vector<ObjectPtr> added, deleted;
  std::vector<std::pair<ObjectPtr, ObjectPtr>> updated;
  {
    std::unique_lock lock(cache_mu_);
    for (const auto& [key, obj] : fresh) {
      auto old = cache_.find(key);
      if (old == cache_.end()) {
        added.push_back(obj);
      } else if (ResourceVersionOf(*old->second) != ResourceVersionOf(*obj)) {
        updated.emplace_back(old->second, obj);
      }
    }
    for (const auto& [key, obj] : cache_) {
      if (!fresh.count(key)) deleted.push_back(obj);
    }
    cache_ = std::move(fresh);
    if (!kind.empty()) kind_ = kind;
    rv_ = rv;
  }
  for (const ObjectPtr& obj : deleted) DispatchDelete(obj);
  for (const ObjectPtr& obj : added) DispatchAdd(obj);
  for (const auto& [old_obj, obj] : updated) DispatchUpdate(old_obj, obj);
  if (!synced_.exchange(true)) {
    std::lock_guard<std::mutex> lock(run_mu_);
    run_cv_.notify_all();
  }
  return rv;
}

bool Informer::WatchFrom(std::string* rv, std::chrono::milliseconds* backoff) {
  auto grow = [&] { *backoff = std::min(*backoff * 2, options_.backoff_max); };
  client::WatchOptions wo;
  wo.label_selector = options_.label_selector;
  wo.field_selector = options_.field_selector;
  wo.resource_version = *rv;
  wo.allow_bookmarks = true;
  {
    static thread_local std::mt19937 rng{std::random_device{}()};
    const int64_t min = options_.watch_timeout_min.count();
    wo.timeout_seconds = min > 0 ? min + static_cast<int64_t>(rng() % min) : 0;
  }
  auto watch = client_->Watch(resource_, options_.ns, wo);
  if (!watch.ok()) {
    if (watch.status().code() != Code::kGone) {
      SKIFF_LOG(Warn) << "informer " << Describe(resource_)
                      << ": watch failed: " << watch.status().ToString();
      if (!SleepInterruptible(*backoff)) return false;
      grow();
    }
    return false;  // re-list
  }
  std::unique_ptr<client::WatchStream> stream = std::move(*watch);
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (stop_) return false;
    current_watch_ = stream.get();
  }
  auto unregister = [&] {
    std::lock_guard<std::mutex> lock(run_mu_);
    current_watch_ = nullptr;
  };
  const auto started = std::chrono::steady_clock::now();
  bool relist = false;
  bool expired = false;
  client::WatchEvent ev;
  while (true) {
    bool timed_out = false;
    if (!stream->Next(&ev, std::chrono::seconds(30), &timed_out)) {
      if (timed_out) continue;
      break;
    }
    if (ev.type == "ERROR") {
      int code = ev.object.is_object() ? ev.object.value("code", 0) : 0;
      expired = code == 410;
      if (!expired) {
        SKIFF_LOG(Warn) << "informer " << Describe(resource_) << ": watch error: "
                        << (ev.object.is_object() ? ev.object.value("message", "") : "");
      }
      relist = true;
      break;
    }
    const std::string obj_rv = ResourceVersionOf(ev.object);
    if (ev.type == "ADDED" || ev.type == "MODIFIED") {
      Upsert(std::move(ev.object));
    } else if (ev.type == "DELETED") {
      Remove(ev.object);
    }
    if (!obj_rv.empty()) {
      *rv = obj_rv;
      std::unique_lock lock(cache_mu_);
      rv_ = obj_rv;
    }
  }
  unregister();
  stream.reset();
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (stop_) return false;
  }
  if (relist) {
    // A 410 is routine (history compacted); anything else may repeat, so back off.
    if (!expired && SleepInterruptible(*backoff)) grow();
    return false;
  }
  // A stream that ends at once (server refusing quietly) must not spin.
  if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
    if (!SleepInterruptible(*backoff)) return false;
    grow();
  } else {
    *backoff = options_.backoff_initial;
  }
  return true;
}

void Informer::Upsert(Json obj) {
  if (options_.transform) obj = options_.transform(std::move(obj));
  auto ptr = std::make_shared<const Json>(std::move(obj));
  const std::string key = ObjectKeyOf(*ptr);
  ObjectPtr old;
  {
    std::unique_lock lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      old = it->second;
      if (ResourceVersionOf(*old) == ResourceVersionOf(*ptr) && !ResourceVersionOf(*ptr).empty()) {
        return;  // already seen (e.g. replayed after a re-watch)
      }
      it->second = ptr;
    } else {
      cache_.emplace(key, ptr);
    }
  }
  if (old) {
    DispatchUpdate(old, ptr);
  } else {
    DispatchAdd(ptr);
  }
}

void Informer::Remove(const Json& obj) {
  const std::string key = ObjectKeyOf(obj);
  ObjectPtr last;
  {
    std::unique_lock lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) cache_.erase(it);
  }
  Json copy = options_.transform ? options_.transform(obj) : obj;
  last = std::make_shared<const Json>(std::move(copy));
  DispatchDelete(last);
}

void Informer::DispatchAdd(const ObjectPtr& obj) {
  std::lock_guard<std::mutex> lock(handlers_mu_);
  for (const EventHandlers& h : handlers_) {
    if (h.on_add) h.on_add(obj);
  }
}

void Informer::DispatchUpdate(const ObjectPtr& old_obj, const ObjectPtr& obj) {
  std::lock_guard<std::mutex> lock(handlers_mu_);
  for (const EventHandlers& h : handlers_) {
    if (h.on_update) h.on_update(old_obj, obj);
  }
}

void Informer::DispatchDelete(const ObjectPtr& obj) {
  std::lock_guard<std::mutex> lock(handlers_mu_);
  for (const EventHandlers& h : handlers_) {
    if (h.on_delete) h.on_delete(obj);
  }
}

}  // namespace skiff::controllers
