// One contract, three transports: the in-process client over ObjectApi, the HTTP client against
// a real ApiServer over plain HTTP, and over TLS with the generated CA and admin token. Every
// test runs against all three, so a controller behaves the same in skiff and against a cluster.
#include <gtest/gtest.h>

#include <fstream>

#include "apiserver/server.h"
#include "client/http_client.h"
#include "client/kubeconfig.h"
#include "test_util.h"

namespace skiff::client {
namespace {

using skiff::testing::ConfigMap;
using skiff::testing::Eventually;
using skiff::testing::kConfigMaps;
using skiff::testing::kNamespaces;

enum class Transport { kInProcess, kHttp, kHttps };

std::string Name(const ::testing::TestParamInfo<Transport>& info) {
  switch (info.param) {
    case Transport::kInProcess:
      return "InProcess";
    case Transport::kHttp:
      return "Http";
    case Transport::kHttps:
      return "Https";
  }
  return "Unknown";
}

class ClientTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    if (GetParam() == Transport::kInProcess) {
      env_ = std::make_unique<skiff::testing::InProcessEnv>();
      client_ = env_->client.get();
      store_ = env_->store.get();
      return;
    }
    apiserver::ApiServerOptions o;
    o.data_dir = dir_.File("home");
    o.port = 0;
    o.in_memory_store = true;
    o.insecure_http = GetParam() == Transport::kHttp;
    o.threads = 2;
    auto server = apiserver::ApiServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    store_ = server_->store();
    ClusterConfig config;
    if (GetParam() == Transport::kHttps) {
      const std::string path = dir_.File("kubeconfig");
      std::ofstream(path) << server_->Kubeconfig();
      auto loaded = LoadKubeconfig(path);
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      config = *loaded;
      ASSERT_FALSE(config.ca_pem.empty());
      ASSERT_FALSE(config.token.empty());
    } else {
      config.server = server_->url();
    }
    http_client_ = NewHttpClient(config);
    client_ = http_client_.get();
  }

  void TearDown() override {
    http_client_.reset();
    if (server_) server_->Stop();
  }

  skiff::testing::TempDir dir_;
  std::unique_ptr<skiff::testing::InProcessEnv> env_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<Client> http_client_;
  Client* client_ = nullptr;
  store::Store* store_ = nullptr;
};

TEST_P(ClientTest, CreateGetUpdateDelete) {
  auto created = client_->Create(kConfigMaps, "default", ConfigMap("cm1", "one"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE((*created)["metadata"].value("uid", "").empty());

  auto got = client_->Get(kConfigMaps, "default", "cm1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["data"]["key"], "one");
  EXPECT_EQ((*got)["metadata"]["namespace"], "default");

  Json changed = *got;
  changed["data"]["key"] = "two";
  auto updated = client_->Update(kConfigMaps, "default", changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["data"]["key"], "two");
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], (*got)["metadata"]["resourceVersion"]);

  auto deleted = client_->Delete(kConfigMaps, "default", "cm1");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  auto gone = client_->Get(kConfigMaps, "default", "cm1");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
}

TEST_P(ClientTest, ListReturnsAListObjectAndPages) {
  for (const char* n : {"a", "b", "c"}) {
    ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap(n)).ok());
  }
  auto all = client_->List(kConfigMaps, "default", {});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["kind"], "ConfigMapList");
  EXPECT_EQ((*all)["apiVersion"], "v1");
  EXPECT_FALSE((*all)["metadata"].value("resourceVersion", "").empty());
  EXPECT_EQ((*all)["items"].size(), 3u);

  ListOptions lo;
  lo.limit = 2;
  auto page1 = client_->List(kConfigMaps, "default", lo);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ((*page1)["items"].size(), 2u);
  lo.continue_token = (*page1)["metadata"].value("continue", "");
  ASSERT_FALSE(lo.continue_token.empty());
  auto page2 = client_->List(kConfigMaps, "default", lo);
  ASSERT_TRUE(page2.ok()) << page2.status().ToString();
  ASSERT_EQ((*page2)["items"].size(), 1u);
  EXPECT_EQ((*page2)["items"][0]["metadata"]["name"], "c");

  ListOptions selected;
  selected.field_selector = "metadata.name=b";
  auto one = client_->List(kConfigMaps, "", selected);  // across namespaces
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ((*one)["items"].size(), 1u);
}

TEST_P(ClientTest, ErrorsAreDecodedIntoStatus) {
  auto missing = client_->Get(kConfigMaps, "default", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "configmaps \"nope\" not found");
  EXPECT_EQ(missing.status().details_name(), "nope");
  EXPECT_EQ(missing.status().details_kind(), "configmaps");

  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("dup")).ok());
  auto dup = client_->Create(kConfigMaps, "default", ConfigMap("dup"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(dup.status().Reason(), "AlreadyExists");

  auto live = client_->Get(kConfigMaps, "default", "dup");
  ASSERT_TRUE(live.ok());
  Json stale = *live;
  stale["metadata"]["resourceVersion"] = "1";
  auto conflict = client_->Update(kConfigMaps, "default", stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().code(), Code::kConflict);

  Json bad = ConfigMap("Not_A_Valid_Name");
  auto invalid = client_->Create(kConfigMaps, "default", bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), Code::kInvalid);
  ASSERT_FALSE(invalid.status().causes().empty());
  EXPECT_EQ(invalid.status().causes()[0].field, "metadata.name");

  auto unknown = client_->Get({"example.com", "v1", "widgets"}, "default", "w");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_EQ(unknown.status().message(), "the server could not find the requested resource");

  auto no_ns = client_->Create(kConfigMaps, "no-such-namespace", ConfigMap("x"));
  ASSERT_FALSE(no_ns.ok());
  EXPECT_EQ(no_ns.status().code(), Code::kNotFound);
}

TEST_P(ClientTest, PatchesOfEveryType) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("p", "0")).ok());

  auto merged = client_->Patch(kConfigMaps, "default", "p", PatchType::kMerge,
                               R"({"data":{"merged":"yes"}})");
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ((*merged)["data"]["merged"], "yes");
  EXPECT_EQ((*merged)["data"]["key"], "0");

  auto json_patched = client_->Patch(kConfigMaps, "default", "p", PatchType::kJson,
                                     R"([{"op":"replace","path":"/data/key","value":"1"}])");
  ASSERT_TRUE(json_patched.ok()) << json_patched.status().ToString();
  EXPECT_EQ((*json_patched)["data"]["key"], "1");

  auto strategic = client_->Patch(kConfigMaps, "default", "p", PatchType::kStrategicMerge,
                                  R"({"data":{"smp":"ok"}})");
  ASSERT_TRUE(strategic.ok()) << strategic.status().ToString();
  EXPECT_EQ((*strategic)["data"]["smp"], "ok");

  WriteOptions apply;
  apply.field_manager = "client-test";
  apply.force = true;
  auto applied = client_->Patch(kConfigMaps, "default", "applied", PatchType::kApply,
                                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n"
                                "data:\n  from: apply\n",
                                apply);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ((*applied)["data"]["from"], "apply");

  // Status through the subresource: only status changes.
  auto ns = client_->Patch(kNamespaces, "", "default", PatchType::kMerge,
                           R"({"status":{"phase":"Active"},"metadata":{"labels":{"x":"y"}}})", {},
                           "status");
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  EXPECT_EQ((*ns)["status"]["phase"], "Active");
  EXPECT_FALSE(FindPath(*ns, "metadata.labels.x"));

  auto not_found = client_->Patch(kConfigMaps, "default", "absent", PatchType::kMerge, "{}");
  ASSERT_FALSE(not_found.ok());
  EXPECT_EQ(not_found.status().code(), Code::kNotFound);
}

TEST_P(ClientTest, UpdateStatusChangesOnlyStatus) {
  auto ns = client_->Get(kNamespaces, "", "default");
  ASSERT_TRUE(ns.ok());
  Json obj = *ns;
  obj["status"]["phase"] = "Active";
  obj["metadata"]["labels"]["ignored"] = "yes";
  auto updated = client_->UpdateStatus(kNamespaces, "", obj);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["status"]["phase"], "Active");
  EXPECT_FALSE(FindPath(*updated, "metadata.labels.ignored"));
}

TEST_P(ClientTest, DeleteHonoursFinalizersAndPreconditions) {
  Json cm = ConfigMap("held");
  cm["metadata"]["finalizers"] = {"example.com/hold"};
  auto created = client_->Create(kConfigMaps, "default", cm);
  ASSERT_TRUE(created.ok());

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "not-the-uid";
  auto refused = client_->Delete(kConfigMaps, "default", "held", wrong_uid);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kConflict);

  DeleteOptions fg;
  fg.propagation_policy = "Foreground";
  auto marked = client_->Delete(kConfigMaps, "default", "held", fg);
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  EXPECT_TRUE(FindPath(*marked, "metadata.deletionTimestamp"));
  auto finalizers = (*marked)["metadata"]["finalizers"];
  EXPECT_NE(std::find(finalizers.begin(), finalizers.end(), "foregroundDeletion"),
            finalizers.end());
  EXPECT_TRUE(client_->Get(kConfigMaps, "default", "held").ok());
}

TEST_P(ClientTest, WatchDeliversChangesInOrder) {
  auto list = client_->List(kConfigMaps, "default", {});
  ASSERT_TRUE(list.ok());
  WatchOptions wo;
  wo.resource_version = (*list)["metadata"]["resourceVersion"];
  auto watch = client_->Watch(kConfigMaps, "default", wo);
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();

  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("w", "1")).ok());
  ASSERT_TRUE(
      client_->Patch(kConfigMaps, "default", "w", PatchType::kMerge, R"({"data":{"key":"2"}})")
          .ok());
  ASSERT_TRUE(client_->Delete(kConfigMaps, "default", "w").ok());

  std::vector<std::string> types;
  WatchEvent ev;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (types.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    bool timed_out = false;
    if ((*watch)->Next(&ev, std::chrono::milliseconds(200), &timed_out)) {
      if (ev.type == "BOOKMARK") continue;
      types.push_back(ev.type);
      EXPECT_EQ(ev.object["metadata"]["name"], "w");
      if (ev.type == "MODIFIED") {
        EXPECT_EQ(ev.object["data"]["key"], "2");
      }
    } else {
      ASSERT_TRUE(timed_out) << "watch ended early";
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));

  (*watch)->Stop();
  bool timed_out = true;
  EXPECT_FALSE((*watch)->Next(&ev, std::chrono::milliseconds(10), &timed_out));
  EXPECT_FALSE(timed_out);
}

TEST_P(ClientTest, WatchFromScratchStartsWithCurrentObjects) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("existing")).ok());
  auto watch = client_->Watch(kConfigMaps, "default", {});
  ASSERT_TRUE(watch.ok());
  WatchEvent ev;
  bool timed_out = false;
  ASSERT_TRUE((*watch)->Next(&ev, std::chrono::seconds(30), &timed_out));
  EXPECT_EQ(ev.type, "ADDED");
  EXPECT_EQ(ev.object["metadata"]["name"], "existing");
}

TEST_P(ClientTest, WatchEndsAtTimeoutSeconds) {
  WatchOptions wo;
  wo.timeout_seconds = 1;
  auto watch = client_->Watch(kConfigMaps, "default", wo);
  ASSERT_TRUE(watch.ok());
  WatchEvent ev;
  bool ended = Eventually([&] {
    bool timed_out = false;
    while ((*watch)->Next(&ev, std::chrono::milliseconds(100), &timed_out)) {
    }
    return !timed_out;
  });
  EXPECT_TRUE(ended);
}

TEST_P(ClientTest, WatchOfCompactedHistoryIsGone) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("c" + std::to_string(i))).ok());
  }
  ASSERT_TRUE(store_->Compact(1).ok());
  WatchOptions wo;
  wo.resource_version = "1";
  auto watch = client_->Watch(kConfigMaps, "default", wo);
  if (!watch.ok()) {
    EXPECT_EQ(watch.status().code(), Code::kGone);
    return;
  }
  // Over HTTP the server reports it as an ERROR event carrying a 410 Status.
  WatchEvent ev;
  bool timed_out = false;
  ASSERT_TRUE((*watch)->Next(&ev, std::chrono::seconds(30), &timed_out));
  EXPECT_EQ(ev.type, "ERROR");
  EXPECT_EQ(ev.object.value("code", 0), 410);
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientTest,
                         ::testing::Values(Transport::kInProcess, Transport::kHttp,
                                           Transport::kHttps),
                         Name);

TEST(HttpClientTest, WrongTokenIsUnauthorized) {
  skiff::testing::TempDir dir;
  apiserver::ApiServerOptions o;
  o.data_dir = dir.File("home");
  o.port = 0;
  o.in_memory_store = true;
  o.threads = 1;
  auto server = apiserver::ApiServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string path = dir.File("kubeconfig");
  std::ofstream(path) << (*server)->Kubeconfig();
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok());
  config->token = "wrong";
  auto client = NewHttpClient(*config);
  auto got = client->Get(kNamespaces, "", "default");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnauthorized);
}

TEST(HttpClientTest, BadServerUrlIsReportedOnUse) {
  ClusterConfig config;
  config.server = "ftp://example";
  auto client = NewHttpClient(config);
  auto got = client->Get(kNamespaces, "", "default");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("ftp://example"), std::string::npos);
}

TEST(HttpClientTest, UnreachableServerIsUnavailable) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";  // nothing listens on port 1
  auto client = NewHttpClient(config);
  auto got = client->Get(kNamespaces, "", "default");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnavailable);
  // A watch reports the failure as an ERROR event and ends.
  auto watch = client->Watch(kNamespaces, "", {});
  ASSERT_TRUE(watch.ok());
  WatchEvent ev;
  bool timed_out = false;
  ASSERT_TRUE((*watch)->Next(&ev, std::chrono::seconds(30), &timed_out));
  EXPECT_EQ(ev.type, "ERROR");
  EXPECT_FALSE((*watch)->Next(&ev, std::chrono::seconds(30), &timed_out));
  EXPECT_FALSE(timed_out);
}

}  // namespace
}  // namespace skiff::client
