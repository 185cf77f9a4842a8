// The controller runtime over the in-process client: informer caches and events, re-listing when
// the watch's history is gone, and controllers wired with For/Owns reconciling the right keys.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "../client/test_util.h"
#include "controllers/informer.h"
#include "controllers/manager.h"
#include "controllers/object_meta.h"

namespace skiff::controllers {
namespace {

using skiff::testing::ConfigMap;
using skiff::testing::Eventually;
using skiff::testing::InProcessEnv;
using skiff::testing::kConfigMaps;
using skiff::testing::kSecrets;

// Delegates to another client; its first `gone_watches` watches fail with 410, as after a
// compaction, and it counts lists.
class FlakyClient : public client::Client {
 public:
  FlakyClient(client::Client* inner, int gone_watches) : inner_(inner), gone_(gone_watches) {}
  StatusOr<Json> Get(const client::Resource& r, const std::string& ns,
                     const std::string& name) override {
    return inner_->Get(r, ns, name);
  }
  StatusOr<Json> List(const client::Resource& r, const std::string& ns,
                      const client::ListOptions& o) override {
    ++lists;
    return inner_->List(r, ns, o);
  }
  StatusOr<std::unique_ptr<client::WatchStream>> Watch(const client::Resource& r,
                                                       const std::string& ns,
                                                       const client::WatchOptions& o) override {
    if (gone_-- > 0) return Status::Gone("too old resource version");
    return inner_->Watch(r, ns, o);
  }
  StatusOr<Json> Create(const client::Resource& r, const std::string& ns, const Json& obj,
                        const client::WriteOptions& o) override {
    return inner_->Create(r, ns, obj, o);
  }
  StatusOr<Json> Update(const client::Resource& r, const std::string& ns, const Json& obj,
                        const client::WriteOptions& o) override {
    return inner_->Update(r, ns, obj, o);
  }
  StatusOr<Json> UpdateStatus(const client::Resource& r, const std::string& ns, const Json& obj,
                              const client::WriteOptions& o) override {
    return inner_->UpdateStatus(r, ns, obj, o);
  }
  StatusOr<Json> Patch(const client::Resource& r, const std::string& ns, const std::string& name,
                       client::PatchType t, const std::string& p, const client::WriteOptions& o,
                       const std::string& sub) override {
    return inner_->Patch(r, ns, name, t, p, o, sub);
  }
  StatusOr<Json> Delete(const client::Resource& r, const std::string& ns, const std::string& name,
                        const client::DeleteOptions& o) override {
    return inner_->Delete(r, ns, name, o);
  }

  std::atomic<int> lists{0};

 private:
  client::Client* inner_;
  std::atomic<int> gone_;
};

TEST(InformerTest, CachesObjectsAndReportsChanges) {
  InProcessEnv env;
  ASSERT_TRUE(env.client->Create(kConfigMaps, "default", ConfigMap("before")).ok());

  Informer informer(env.client.get(), kConfigMaps);
  std::mutex mu;
  std::vector<std::string> events;
  informer.AddEventHandlers(EventHandlers{
      [&](const ObjectPtr& o) {
        std::lock_guard<std::mutex> l(mu);
        events.push_back("add " + NameOf(*o));
      },
      [&](const ObjectPtr& old_obj, const ObjectPtr& o) {
        std::lock_guard<std::mutex> l(mu);
        events.push_back("update " + NameOf(*o) + " " + (*old_obj)["data"].value("key", "") + "->" +
                         (*o)["data"].value("key", ""));
      },
      [&](const ObjectPtr& o) {
        std::lock_guard<std::mutex> l(mu);
        events.push_back("delete " + NameOf(*o));
      },
  });
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(informer.kind(), "ConfigMap");
  ASSERT_TRUE(informer.Get("default", "before"));

  ASSERT_TRUE(env.client->Create(kConfigMaps, "default", ConfigMap("after", "1")).ok());
  ASSERT_TRUE(env.client
                  ->Patch(kConfigMaps, "default", "after", client::PatchType::kMerge,
                          R"({"data":{"key":"2"}})")
                  .ok());
  ASSERT_TRUE(env.client->Delete(kConfigMaps, "default", "before").ok());

  const std::vector<std::string> want = {"add before", "add after", "update after 1->2",
                                         "delete before"};
  EXPECT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return events.size() >= want.size();
  }));
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(events, want);
  }
  EXPECT_FALSE(informer.Get("default", "before"));
  auto after = informer.Get("default", "after");
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)["data"]["key"], "2");
  EXPECT_EQ(informer.List("default").size(), 1u);
  EXPECT_EQ(informer.List("other").size(), 0u);
  informer.Stop();
}

TEST(InformerTest, ReListsWhenTheWatchHistoryIsGone) {
  InProcessEnv env;
  FlakyClient flaky(env.client.get(), 2);
  Informer informer(&flaky, kConfigMaps,
                    InformerOptions{.backoff_initial = std::chrono::milliseconds(1)});
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  ASSERT_TRUE(env.client->Create(kConfigMaps, "default", ConfigMap("x")).ok());
  EXPECT_TRUE(Eventually([&] { return informer.Get("default", "x") != nullptr; }));
  EXPECT_GE(flaky.lists.load(), 3);  // the first list, then one per expired watch
  informer.Stop();
}

TEST(InformerTest, HandlersAddedLateSeeTheCacheAsAdds) {
  InProcessEnv env;
  ASSERT_TRUE(env.client->Create(kConfigMaps, "default", ConfigMap("a")).ok());
  Informer informer(env.client.get(), kConfigMaps);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  std::atomic<int> adds{0};
  informer.AddEventHandlers(EventHandlers{[&](const ObjectPtr&) { ++adds; }, nullptr, nullptr});
  EXPECT_EQ(adds.load(), 1);
}

TEST(ManagerTest, ForEnqueuesTheObjectAndOwnsEnqueuesItsController) {
  InProcessEnv env;
  Manager mgr(env.client.get());
  std::mutex mu;
  std::multiset<std::string> seen;
  mgr.NewController("parents")
      .For(kConfigMaps)
      .Owns(kSecrets)
      .WithWorkers(2)
      .Complete([&](const Request& r) -> StatusOr<Result> {
        std::lock_guard<std::mutex> l(mu);
        seen.insert(r.ns + "/" + r.name);
        return Result{};
      });
  mgr.Start();
  ASSERT_TRUE(mgr.WaitForCacheSync(std::chrono::seconds(30)));

  auto parent = env.client->Create(kConfigMaps, "default", ConfigMap("parent"));
  ASSERT_TRUE(parent.ok());
  EXPECT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return seen.count("default/parent") >= 1;
  }));
  const size_t before = [&] {
    std::lock_guard<std::mutex> l(mu);
    return seen.count("default/parent");
  }();

  Json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata",
                  {{"name", "child"},
                   {"ownerReferences",
                    {{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"name", "parent"},
                      {"uid", UidOf(*parent)},
                      {"controller", true}}}}}}};
  ASSERT_TRUE(env.client->Create(kSecrets, "default", secret).ok());
  // An unowned secret wakes nobody.
  Json lone = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "lone"}}}};
  ASSERT_TRUE(env.client->Create(kSecrets, "default", lone).ok());

  EXPECT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return seen.count("default/parent") > before;
  }));
  mgr.Stop();
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(seen.count("default/child"), 0u);
  EXPECT_EQ(seen.count("default/lone"), 0u);
}

TEST(ManagerTest, ErrorsAndRequeuesComeBack) {
  InProcessEnv env;
  Manager mgr(env.client.get());
  std::atomic<int> calls{0};
  Controller* c = mgr.NewController("flaky")
                      .For(kConfigMaps)
                      .Complete([&](const Request& r) -> StatusOr<Result> {
                        int n = ++calls;
                        if (n == 1) return Status::Internal("transient");
                        if (n == 2) return Result{.requeue = true};
                        if (n == 3) return Result{.requeue_after = std::chrono::milliseconds(10)};
                        return Result{};
                      });
  ASSERT_TRUE(env.client->Create(kConfigMaps, "default", ConfigMap("x")).ok());
  mgr.Start();
  EXPECT_TRUE(Eventually([&] { return calls.load() >= 4; }));
  EXPECT_EQ(c->error_count(), 1);
  mgr.Stop();
}

TEST(ManagerTest, ControllersAddedAfterStartRunAndStopIsPrompt) {
  InProcessEnv env;
  Manager mgr(env.client.get());
  mgr.Start();
  ASSERT_TRUE(env.client->Create(kConfigMaps, "default", ConfigMap("x")).ok());
  std::atomic<int> calls{0};
  mgr.NewController("late").For(kConfigMaps).Complete([&](const Request&) -> StatusOr<Result> {
    ++calls;
    return Result{.requeue_after = std::chrono::hours(1)};
  });
  EXPECT_TRUE(Eventually([&] { return calls.load() >= 1; }));
  mgr.Stop();  // must not wait for the hour
  mgr.Stop();  // idempotent
}

}  // namespace
}  // namespace skiff::controllers
