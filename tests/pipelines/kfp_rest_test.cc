// The KFP v2beta1 REST facade, called with constructed requests over an in-process API server.
// No engine runs here: tests check the objects the facade writes and the KFP JSON it renders from
// statuses they write themselves.
#include "pipelines/kfp_rest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/resource.h"
#include "apiserver/server.h"
#include "client/inprocess_client.h"
#include "common/encoding.h"
#include "http/client.h"
#include "store/store.h"

namespace skiff::pipelines {
namespace {

const apiserver::UserInfo kUser{"alice", {"system:masters"}};
const client::Resource kPipelinesRes{"kubeflow.org", "v2beta1", "pipelines"};
const client::Resource kVersionsRes{"kubeflow.org", "v2beta1", "pipelineversions"};
const client::Resource kRunsRes{"kubeflow.org", "v2beta1", "pipelineruns"};
const client::Resource kExperimentsRes{"kubeflow.org", "v2beta1", "pipelineexperiments"};
const client::Resource kRecurringRes{"kubeflow.org", "v2beta1", "recurringruns"};

// Every object is created a second after the previous one, so creation order is observable.
class SteppingClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    now_ += std::chrono::seconds(1);
    return now_;
  }

 private:
  mutable std::chrono::system_clock::time_point now_ =
      std::chrono::system_clock::from_time_t(1767225600);  // 2026-01-01T00:00:00Z
};

std::string ReadShared(const std::string& name) {
  std::ifstream in(std::string(SKIFF_SHARED_DIR) + "/conformance/kfp/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Result {
  int status = 0;
  Json body;
};

class KfpRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadBuiltins().ok());
    store_ = store::NewMemoryStore();
    api_ = std::make_unique<apiserver::ObjectApi>(&registry_, store_.get(), &clock_);
    client_ = client::NewInProcessClient(api_.get(), {"system:test", {"system:masters"}});
    for (const char* ns : {"default", "team-a"}) {
      ASSERT_TRUE(
          client_
              ->Create({"", "v1", "namespaces"}, "",
                       {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}})
              .ok());
    }
    route_ = KfpRestRoutes(api_.get());
  }

  std::optional<Result> Send(http::Request req) {
    auto reply = route_(req, kUser);
    if (!reply) return std::nullopt;
    EXPECT_FALSE(reply->is_stream());
    Result r;
    r.status = reply->response().status;
    auto parsed = ParseJson(reply->response().body);
    EXPECT_TRUE(parsed.ok()) << reply->response().body;
    if (parsed.ok()) r.body = std::move(*parsed);
    return r;
  }

  Result Call(const std::string& method, const std::string& path, const Json& body = nullptr,
              std::multimap<std::string, std::string> query = {}) {
    http::Request req;
    req.method = method;
    req.path = path;
    req.query = std::move(query);
    if (!body.is_null()) req.body = body.dump();
    auto r = Send(std::move(req));
    EXPECT_TRUE(r) << path;
    return r ? *r : Result{};
  }

  Result Upload(const std::string& path, const std::string& filename, const std::string& content,
                std::multimap<std::string, std::string> query) {
    http::Request req;
    req.method = "POST";
    req.path = path;
    req.query = std::move(query);
    req.headers["Content-Type"] = "multipart/form-data; boundary=XyZ";
    req.body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"" +
        filename + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content +
        "\r\n--XyZ--\r\n";
    auto r = Send(std::move(req));
    EXPECT_TRUE(r);
    return r ? *r : Result{};
  }

  // Uploads the KFP hello-world pipeline; returns the pipeline JSON.
  Json UploadHelloWorld(const std::string& name = "Hello World") {
    Result r = Upload("/apis/v2beta1/pipelines/upload", "hello_world.yaml",
                      ReadShared("valid__hello_world.yaml"), {{"name", name}});
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return r.body;
  }

  Json Get(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto got = client_->Get(r, ns, name);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : Json();
  }

  // The only PipelineRun in `ns`.
  Json OnlyRun(const std::string& ns = "default") {
    auto list = client_->List(kRunsRes, ns, {});
    EXPECT_TRUE(list.ok());
    EXPECT_EQ((*list)["items"].size(), 1u);
    return (*list)["items"].empty() ? Json() : (*list)["items"][0];
  }

  Json IrSpec() { return ParseYaml(ReadShared("valid__hello_world.yaml")).value(); }

  static void ExpectKfpError(const Result& r, int http, int grpc) {
    EXPECT_EQ(r.status, http) << r.body.dump();
    EXPECT_EQ(r.body.value("code", -1), grpc) << r.body.dump();
    EXPECT_FALSE(r.body.value("message", "").empty());
    EXPECT_EQ(r.body.value("error", ""), r.body.value("message", "x"));
    EXPECT_TRUE(r.body["details"].is_array());
  }

  SteppingClock clock_;
  api::ResourceRegistry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<apiserver::ObjectApi> api_;
  std::unique_ptr<client::Client> client_;
  apiserver::ExtraRoute route_;
};

TEST_F(KfpRestTest, KindsAreRegistered) {
  auto plv = registry_.Find("kubeflow.org", "v2beta1", "pipelineversions");
  auto pexp = registry_.Find("kubeflow.org", "v2beta1", "pipelineexperiments");
  ASSERT_TRUE(plv && pexp);
  // The cross-file $ref to KfpPipelineSpec resolved: the IR's root is kept as written.
  Json v = {{"apiVersion", "kubeflow.org/v2beta1"},
            {"kind", "PipelineVersion"},
            {"metadata", {{"name", "v1"}}},
            {"spec", {{"pipelineName", "p"}, {"pipelineSpec", IrSpec()}}}};
  auto created = client_->Create(kVersionsRes, "default", v);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["spec"]["pipelineSpec"]["root"], IrSpec()["root"]);
  // pipelineName is required.
  v["metadata"]["name"] = "v2";
  v["spec"].erase("pipelineName");
  EXPECT_FALSE(client_->Create(kVersionsRes, "default", v).ok());
  auto exp = client_->Create(kExperimentsRes, "default",
                             {{"apiVersion", "kubeflow.org/v2beta1"},
                              {"kind", "PipelineExperiment"},
                              {"metadata", {{"name", "e"}}},
                              {"spec", {{"displayName", "E"}}}});
  ASSERT_TRUE(exp.ok());
  EXPECT_EQ((*exp)["spec"]["storageState"], "AVAILABLE");
}

TEST_F(KfpRestTest, ServesOnlyItsPrefix) {
  http::Request other;
  other.method = "GET";
  other.path = "/apis/kubeflow.org/v2beta1/pipelines";
  EXPECT_FALSE(Send(other));
  other.path = "/apis/v2beta1x";
  EXPECT_FALSE(Send(other));

  Result health = Call("GET", "/apis/v2beta1/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body["multi_user"], false);
  ExpectKfpError(Call("GET", "/apis/v2beta1/nothing"), 404, 5);
  ExpectKfpError(Call("PUT", "/apis/v2beta1/runs"), 405, 12);
}

TEST_F(KfpRestTest, UploadCreatesPipelineAndFirstVersion) {
  Json p = UploadHelloWorld();
  EXPECT_EQ(p["name"], "hello-world");
  EXPECT_EQ(p["display_name"], "Hello World");
  EXPECT_EQ(p["namespace"], "default");
  Json obj = Get(kPipelinesRes, "default", "hello-world");
  EXPECT_EQ(p["pipeline_id"], obj["metadata"]["uid"]);
  EXPECT_EQ(p["created_at"], obj["metadata"]["creationTimestamp"]);
  // The definition lives in a version named after the pipeline, not in the Pipeline.
  EXPECT_FALSE(obj["spec"].contains("pipelineSpec"));
  Json version = Get(kVersionsRes, "default", "hello-world");
  EXPECT_EQ(version["spec"]["pipelineName"], "hello-world");
  EXPECT_EQ(version["spec"]["pipelineSpec"]["pipelineInfo"]["name"], "echo");

  const std::string id = p["pipeline_id"];
  Result got = Call("GET", "/apis/v2beta1/pipelines/" + id);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, p);
  EXPECT_EQ(Call("GET", "/apis/v2beta1/pipelines/names/Hello World").body["pipeline_id"], id);
  EXPECT_EQ(Call("GET", "/apis/v2beta1/pipelines/names/hello-world").body["pipeline_id"], id);
  ExpectKfpError(Call("GET", "/apis/v2beta1/pipelines/names/nope"), 404, 5);

  Result versions = Call("GET", "/apis/v2beta1/pipelines/" + id + "/versions");
  ASSERT_EQ(versions.status, 200);
  EXPECT_EQ(versions.body["total_size"], 1);
  const Json& v = versions.body["pipeline_versions"][0];
  EXPECT_EQ(v["pipeline_id"], id);
  EXPECT_EQ(v["pipeline_version_id"], version["metadata"]["uid"]);
  EXPECT_EQ(v["pipeline_spec"]["deploymentSpec"], IrSpec()["deploymentSpec"]);

  // Same name again: KFP's AlreadyExists.
  Result again = Upload("/apis/v2beta1/pipelines/upload", "x.yaml",
                        ReadShared("valid__hello_world.yaml"), {{"name", "Hello World"}});
  ExpectKfpError(again, 409, 6);
}

TEST_F(KfpRestTest, UploadRejectsBadFilesAndLeavesNothingBehind) {
  Result bad = Upload("/apis/v2beta1/pipelines/upload", "no_name.yaml",
                      ReadShared("invalid__no_name.yaml"), {});
  ExpectKfpError(bad, 400, 3);
  EXPECT_NE(bad.body["message"].get<std::string>().find("no_name.yaml"), std::string::npos);
  EXPECT_TRUE((*client_->List(kPipelinesRes, "", {}))["items"].empty());

  http::Request plain;
  plain.method = "POST";
  plain.path = "/apis/v2beta1/pipelines/upload";
  plain.headers["Content-Type"] = "application/yaml";
  plain.body = ReadShared("valid__hello_world.yaml");
  ExpectKfpError(*Send(plain), 400, 3);

  // The default name is the file's.
  Result ok = Upload("/apis/v2beta1/pipelines/upload", "dir/my_pipeline.yaml",
                     ReadShared("valid__hello_world.yaml"), {});
  EXPECT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["name"], "my-pipeline");
  EXPECT_EQ(ok.body["display_name"], "my_pipeline");
}

TEST_F(KfpRestTest, UploadVersionKeepsThePlatformSpec) {
  const std::string id = UploadHelloWorld()["pipeline_id"];
  Result r = Upload("/apis/v2beta1/pipelines/upload_version", "secret.yaml",
                    ReadShared("valid__critical__pipeline_with_secret_as_env.yaml"),
                    {{"pipelineid", id}, {"name", "with secret"}, {"description", "env"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["pipeline_id"], id);
  EXPECT_EQ(r.body["name"], "with-secret");
  EXPECT_EQ(r.body["display_name"], "with secret");
  EXPECT_EQ(r.body["description"], "env");
  // Stored as one spec with the platform part under `platforms`; shown as KFP shows two documents.
  Json stored = Get(kVersionsRes, "default", "with-secret");
  ASSERT_TRUE(stored["spec"]["pipelineSpec"]["platforms"].contains("kubernetes"));
  EXPECT_TRUE(r.body["pipeline_spec"]["pipeline_spec"].contains("root"));
  EXPECT_TRUE(r.body["pipeline_spec"]["platform_spec"]["platforms"].contains("kubernetes"));

  ExpectKfpError(Upload("/apis/v2beta1/pipelines/upload_version", "x.yaml",
                        ReadShared("valid__hello_world.yaml"), {{"pipelineid", "nope"}}),
                 404, 5);
}

TEST_F(KfpRestTest, PipelineAndVersionFromJson) {
  Result r = Call("POST", "/apis/v2beta1/pipelines/create",
                  {{"pipeline", {{"display_name", "Echo"}, {"namespace", "team-a"}}},
                   {"pipeline_version", {{"pipeline_spec", IrSpec()}}}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["namespace"], "team-a");
  const std::string id = r.body["pipeline_id"];
  EXPECT_EQ(Get(kVersionsRes, "team-a", "echo")["spec"]["pipelineName"], "echo");

  // A version must come with its definition: skiff does not download package_url.
  ExpectKfpError(Call("POST", "/apis/v2beta1/pipelines/" + id + "/versions",
                      {{"display_name", "v2"},
                       {"package_url", {{"pipeline_url", "https://example.com/p.yaml"}}}}),
                 400, 3);
  // Invalid IR is refused with the validator's message.
  Json broken = IrSpec();
  broken["root"]["dag"]["tasks"]["echo"]["componentRef"]["name"] = "comp-missing";
  Result invalid = Call("POST", "/apis/v2beta1/pipelines/" + id + "/versions",
                        {{"display_name", "v2"}, {"pipeline_spec", broken}});
  ExpectKfpError(invalid, 400, 3);
  EXPECT_NE(invalid.body["message"].get<std::string>().find("comp-missing"), std::string::npos);

  Result v2 =
      Call("POST", "/apis/v2beta1/pipelines/" + id + "/versions",
           {{"display_name", "v2"}, {"pipeline_spec", IrSpec()}, {"code_source_url", "git"}});
  ASSERT_EQ(v2.status, 200) << v2.body.dump();
  EXPECT_EQ(v2.body["code_source_url"], "git");
  ExpectKfpError(Call("POST", "/apis/v2beta1/pipelines/" + id + "/versions",
                      {{"display_name", "v2"}, {"pipeline_spec", IrSpec()}}),
                 409, 6);

  // Another pipeline's "v2" gets a name of its own, and the same display name.
  Result other = Call("POST", "/apis/v2beta1/pipelines/create",
                      {{"pipeline", {{"display_name", "Other"}, {"namespace", "team-a"}}},
                       {"pipeline_version", {{"pipeline_spec", IrSpec()}}}});
  const std::string other_id = other.body["pipeline_id"];
  Result other_v2 =
      Call("POST", "/apis/v2beta1/pipelines/" + other_id + "/versions",
           {{"pipeline_version", {{"display_name", "v2"}, {"pipeline_spec", IrSpec()}}}});
  ASSERT_EQ(other_v2.status, 200) << other_v2.body.dump();
  EXPECT_EQ(other_v2.body["name"], "other-v2");
  EXPECT_EQ(other_v2.body["display_name"], "v2");

  const std::string vid = v2.body["pipeline_version_id"];
  EXPECT_EQ(Call("GET", "/apis/v2beta1/pipelines/" + id + "/versions/" + vid).body["name"], "v2");
  // A version is only found under its own pipeline.
  ExpectKfpError(Call("GET", "/apis/v2beta1/pipelines/" + other_id + "/versions/" + vid), 404, 5);

  // Versions keep a pipeline from being deleted, unless asked to cascade.
  ExpectKfpError(Call("DELETE", "/apis/v2beta1/pipelines/" + id), 400, 9);
  EXPECT_EQ(Call("DELETE", "/apis/v2beta1/pipelines/" + id + "/versions/" + vid).status, 200);
  EXPECT_FALSE(client_->Get(kVersionsRes, "team-a", "v2").ok());
  EXPECT_EQ(Call("DELETE", "/apis/v2beta1/pipelines/" + id, nullptr, {{"cascade", "true"}}).status,
            200);
  EXPECT_FALSE(client_->Get(kPipelinesRes, "team-a", "echo").ok());
  EXPECT_FALSE(client_->Get(kVersionsRes, "team-a", "echo").ok());
  EXPECT_TRUE(client_->Get(kVersionsRes, "team-a", "other-v2").ok());
}

TEST_F(KfpRestTest, CreateRunPinsTheLatestVersion) {
  const std::string pid = UploadHelloWorld()["pipeline_id"];
  Result v2 = Call("POST", "/apis/v2beta1/pipelines/" + pid + "/versions",
                   {{"display_name", "v2"}, {"pipeline_spec", IrSpec()}});
  ASSERT_EQ(v2.status, 200);
  Result exp = Call("POST", "/apis/v2beta1/experiments", {{"display_name", "Default"}});
  ASSERT_EQ(exp.status, 200) << exp.body.dump();

  Result run =
      Call("POST", "/apis/v2beta1/runs",
           {{"display_name", "My Run"},
            {"description", "first"},
            {"experiment_id", exp.body["experiment_id"]},
            {"pipeline_version_reference", {{"pipeline_id", pid}}},
            {"runtime_config",
             {{"parameters", {{"message", "hi"}, {"count", 3}}}, {"pipeline_root", "/tmp/root"}}},
            {"service_account", "runner"}});
  ASSERT_EQ(run.status, 200) << run.body.dump();

  Json obj = OnlyRun();
  EXPECT_EQ(obj["metadata"]["name"].get<std::string>().rfind("my-run-", 0), 0u);
  EXPECT_EQ(obj["metadata"]["annotations"]["pipelines.kubeflow.org/display-name"], "My Run");
  EXPECT_EQ(obj["spec"]["pipelineRef"], Json({{"name", "hello-world"}, {"version", "v2"}}));
  EXPECT_EQ(obj["spec"]["parameters"], Json({{"message", "hi"}, {"count", 3}}));
  EXPECT_EQ(obj["spec"]["pipelineRoot"], "/tmp/root");
  EXPECT_EQ(obj["spec"]["serviceAccountName"], "runner");
  EXPECT_EQ(obj["spec"]["experiment"], "default");

  const Json& b = run.body;
  EXPECT_EQ(b["run_id"], obj["metadata"]["uid"]);
  EXPECT_EQ(b["display_name"], "My Run");
  EXPECT_EQ(b["description"], "first");
  EXPECT_EQ(b["experiment_id"], exp.body["experiment_id"]);
  EXPECT_EQ(b["state"], "PENDING");
  EXPECT_EQ(b["storage_state"], "AVAILABLE");
  EXPECT_EQ(b["service_account"], "runner");
  EXPECT_EQ(b["runtime_config"]["parameters"]["count"], 3);
  EXPECT_EQ(b["runtime_config"]["pipeline_root"], "/tmp/root");
  EXPECT_EQ(b["pipeline_version_reference"]["pipeline_id"], pid);
  EXPECT_EQ(b["pipeline_version_reference"]["pipeline_version_id"], v2.body["pipeline_version_id"]);
  EXPECT_EQ(b["created_at"], obj["metadata"]["creationTimestamp"]);
  EXPECT_FALSE(b.contains("finished_at"));
  EXPECT_EQ(Call("GET", "/apis/v2beta1/runs/" + b["run_id"].get<std::string>()).body, b);

  // A version of another pipeline is refused.
  Result other = Call("POST", "/apis/v2beta1/pipelines/create",
                      {{"pipeline", {{"display_name", "Other"}}},
                       {"pipeline_version", {{"pipeline_spec", IrSpec()}}}});
  ExpectKfpError(Call("POST", "/apis/v2beta1/runs",
                      {{"pipeline_version_reference",
                        {{"pipeline_id", other.body["pipeline_id"]},
                         {"pipeline_version_id", v2.body["pipeline_version_id"]}}}}),
                 400, 3);
  ExpectKfpError(Call("POST", "/apis/v2beta1/runs", {{"display_name", "no pipeline"}}), 400, 3);
}

TEST_F(KfpRestTest, CreateRunFromAnInlineSpec) {
  Json doc = ParseYamlDocuments(ReadShared("valid__critical__pipeline_with_secret_as_env.yaml"))
                 .value()
                 .at(0);
  Json platform =
      ParseYamlDocuments(ReadShared("valid__critical__pipeline_with_secret_as_env.yaml"))
          .value()
          .at(1);
  // The kfp client wraps a two-document package as {pipeline_spec, platform_spec}.
  Result run = Call("POST", "/apis/v2beta1/runs",
                    {{"displayName", "inline"},
                     {"pipelineSpec", {{"pipeline_spec", doc}, {"platform_spec", platform}}}},
                    {{"namespace", "team-a"}});
  ASSERT_EQ(run.status, 200) << run.body.dump();
  Json obj = OnlyRun("team-a");
  EXPECT_EQ(obj["spec"]["pipelineSpec"]["root"], doc["root"]);
  EXPECT_EQ(obj["spec"]["pipelineSpec"]["platforms"], platform["platforms"]);
  EXPECT_FALSE(obj["spec"].contains("pipelineRef"));
  EXPECT_EQ(run.body["pipeline_spec"]["platform_spec"], platform);
  EXPECT_FALSE(run.body.contains("pipeline_version_reference"));
}

TEST_F(KfpRestTest, RunsUseOnlyPipelinesOfTheirNamespace) {
  Result p = Call("POST", "/apis/v2beta1/pipelines/create",
                  {{"pipeline", {{"display_name", "Echo"}, {"namespace", "team-a"}}},
                   {"pipeline_version", {{"pipeline_spec", IrSpec()}}}});
  ASSERT_EQ(p.status, 200);
  Json ref = {{"pipeline_version_reference", {{"pipeline_id", p.body["pipeline_id"]}}}};
  ExpectKfpError(Call("POST", "/apis/v2beta1/runs", ref, {{"namespace", "default"}}), 400, 3);
  // Without a namespace the run goes where the pipeline is.
  EXPECT_EQ(Call("POST", "/apis/v2beta1/runs", ref).status, 200);
  EXPECT_EQ(OnlyRun("team-a")["spec"]["pipelineRef"]["name"], "echo");
}

TEST_F(KfpRestTest, PipelineWithAnEmbeddedSpecShowsItAsAVersion) {
  ASSERT_TRUE(client_
                  ->Create(kPipelinesRes, "default",
                           {{"apiVersion", "kubeflow.org/v2beta1"},
                            {"kind", "Pipeline"},
                            {"metadata", {{"name", "embedded"}}},
                            {"spec", {{"pipelineSpec", IrSpec()}}}})
                  .ok());
  const std::string pid = Get(kPipelinesRes, "default", "embedded")["metadata"]["uid"];
  Result versions = Call("GET", "/apis/v2beta1/pipelines/" + pid + "/versions");
  ASSERT_EQ(versions.body["total_size"], 1);
  EXPECT_EQ(versions.body["pipeline_versions"][0]["pipeline_version_id"], pid);
  ExpectKfpError(Call("DELETE", "/apis/v2beta1/pipelines/" + pid + "/versions/" + pid), 400, 9);

  Result run =
      Call("POST", "/apis/v2beta1/runs",
           {{"pipeline_version_reference", {{"pipeline_id", pid}, {"pipeline_version_id", pid}}}});
  ASSERT_EQ(run.status, 200) << run.body.dump();
  // The engine runs the Pipeline's own spec when the ref names no version.
  EXPECT_EQ(OnlyRun()["spec"]["pipelineRef"], Json({{"name", "embedded"}}));
  EXPECT_EQ(run.body["pipeline_version_reference"]["pipeline_version_id"], pid);
  EXPECT_EQ(run.body["display_name"], OnlyRun()["metadata"]["name"]);
}

TEST_F(KfpRestTest, RunJsonComesFromTheStatus) {
  const std::string pid = UploadHelloWorld()["pipeline_id"];
  Result created =
      Call("POST", "/apis/v2beta1/runs",
           {{"display_name", "r"}, {"pipeline_version_reference", {{"pipeline_id", pid}}}});
  ASSERT_EQ(created.status, 200);
  Json run = OnlyRun();
  run["status"] = {
      {"state", "FAILED"},
      {"message", "task train failed"},
      {"startTime", "2026-01-01T00:01:00Z"},
      {"completionTime", "2026-01-01T00:05:00Z"},
      {"tasks",
       {{{"name", "root"}, {"displayName", "hello"}, {"state", "FAILED"}, {"type", "dag"}},
        {{"name", "prep"},
         {"parent", "root"},
         {"state", "CACHED"},
         {"cached", true},
         {"podName", "r-prep-1"},
         {"startTime", "2026-01-01T00:01:10Z"},
         {"endTime", "2026-01-01T00:01:20Z"}},
        {{"name", "train"},
         {"parent", "root"},
         {"state", "FAILED"},
         {"message", "exit code 1"},
         {"podName", "r-train-1"},
         {"startTime", "2026-01-01T00:02:00Z"},
         {"endTime", "2026-01-01T00:04:00Z"}}}}};
  ASSERT_TRUE(client_->UpdateStatus(kRunsRes, "default", run).ok());

  Result r = Call("GET", "/apis/v2beta1/runs/" + created.body["run_id"].get<std::string>());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["state"], "FAILED");
  EXPECT_EQ(r.body["finished_at"], "2026-01-01T00:05:00Z");
  EXPECT_EQ(r.body["error"]["message"], "task train failed");
  const Json& history = r.body["state_history"];
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[1], Json({{"update_time", "2026-01-01T00:01:00Z"}, {"state", "RUNNING"}}));
  EXPECT_EQ(history[2]["state"], "FAILED");

  const Json& tasks = r.body["run_details"]["task_details"];
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0]["task_id"], "root");
  EXPECT_EQ(tasks[0]["display_name"], "hello");
  EXPECT_EQ(tasks[0]["child_tasks"],
            Json::parse(R"([{"pod_name": "r-prep-1"}, {"pod_name": "r-train-1"}])"));
  EXPECT_EQ(tasks[1]["state"], "SKIPPED");  // cached
  EXPECT_EQ(tasks[1]["parent_task_id"], "root");
  EXPECT_EQ(tasks[1]["pod_name"], "r-prep-1");
  EXPECT_EQ(tasks[1]["start_time"], "2026-01-01T00:01:10Z");
  EXPECT_EQ(tasks[1]["end_time"], "2026-01-01T00:01:20Z");
  EXPECT_EQ(tasks[2]["run_id"], r.body["run_id"]);
  EXPECT_EQ(tasks[2]["error"]["message"], "exit code 1");
  EXPECT_EQ(tasks[2]["executor_detail"]["main_job"], "r-train-1");
}

TEST_F(KfpRestTest, TerminateRetryArchive) {
  const std::string pid = UploadHelloWorld()["pipeline_id"];
  Result created =
      Call("POST", "/apis/v2beta1/runs",
           {{"display_name", "r"}, {"pipeline_version_reference", {{"pipeline_id", pid}}}});
  const std::string id = created.body["run_id"];
  const std::string base = "/apis/v2beta1/runs/" + id;

  Json run = OnlyRun();
  run["status"] = {{"state", "RUNNING"}};
  ASSERT_TRUE(client_->UpdateStatus(kRunsRes, "default", run).ok());
  // Only failed or canceled runs are retried.
  ExpectKfpError(Call("POST", base + ":retry"), 400, 9);

  EXPECT_EQ(Call("POST", base + ":terminate").status, 200);
  EXPECT_EQ(OnlyRun()["spec"]["terminate"], true);
  EXPECT_EQ(Call("GET", base).body["state"], "CANCELING");

  run = OnlyRun();
  run["status"]["state"] = "CANCELED";
  ASSERT_TRUE(client_->UpdateStatus(kRunsRes, "default", run).ok());
  EXPECT_EQ(Call("GET", base).body["state"], "CANCELED");
  EXPECT_EQ(Call("POST", base + ":retry").status, 200);
  EXPECT_EQ(OnlyRun()["spec"]["retryCount"], 1);
  EXPECT_FALSE(OnlyRun()["spec"].contains("terminate"));
  run = OnlyRun();
  run["status"]["state"] = "FAILED";
  ASSERT_TRUE(client_->UpdateStatus(kRunsRes, "default", run).ok());
  EXPECT_EQ(Call("POST", base + ":retry").status, 200);
  EXPECT_EQ(OnlyRun()["spec"]["retryCount"], 2);

  EXPECT_EQ(Call("POST", base + ":archive").status, 200);
  EXPECT_EQ(OnlyRun()["spec"]["storageState"], "ARCHIVED");
  Json hide_archived = {
      {"predicates",
       {{{"key", "storage_state"}, {"op", "NOT_EQUALS"}, {"string_value", "ARCHIVED"}}}}};
  EXPECT_EQ(Call("GET", "/apis/v2beta1/runs", nullptr, {{"filter", hide_archived.dump()}})
                .body["total_size"],
            0);
  EXPECT_EQ(Call("POST", base + ":unarchive").status, 200);
  EXPECT_EQ(Call("GET", base).body["storage_state"], "AVAILABLE");
  EXPECT_EQ(Call("GET", "/apis/v2beta1/runs", nullptr, {{"filter", hide_archived.dump()}})
                .body["total_size"],
            1);

  ExpectKfpError(Call("POST", base + ":pause"), 404, 5);
  ExpectKfpError(Call("GET", base + ":terminate"), 405, 12);
  EXPECT_EQ(Call("DELETE", base).status, 200);
  ExpectKfpError(Call("GET", base), 404, 5);
  ExpectKfpError(Call("POST", base + ":terminate"), 404, 5);
}

TEST_F(KfpRestTest, ListsPageSortAndFilter) {
  for (const char* name : {"alpha", "bravo", "charlie", "delta", "echo"}) {
    ASSERT_EQ(Call("POST", "/apis/v2beta1/experiments", {{"display_name", name}}).status, 200);
  }
  auto names = [](const Json& body) {
    std::vector<std::string> out;
    for (const Json& e : body["experiments"]) out.push_back(e["display_name"]);
    return out;
  };
  using V = std::vector<std::string>;

  // Pages of two, following next_page_token, oldest first by default.
  Result page = Call("GET", "/apis/v2beta1/experiments", nullptr, {{"page_size", "2"}});
  EXPECT_EQ(names(page.body), (V{"alpha", "bravo"}));
  EXPECT_EQ(page.body["total_size"], 5);
  std::string token = page.body["next_page_token"];
  ASSERT_FALSE(token.empty());
  page = Call("GET", "/apis/v2beta1/experiments", nullptr,
              {{"page_size", "2"}, {"page_token", token}});
  EXPECT_EQ(names(page.body), (V{"charlie", "delta"}));
  token = page.body["next_page_token"];
  page = Call("GET", "/apis/v2beta1/experiments", nullptr,
              {{"page_size", "2"}, {"page_token", token}});
  EXPECT_EQ(names(page.body), (V{"echo"}));
  EXPECT_EQ(page.body["next_page_token"], "");

  EXPECT_EQ(names(Call("GET", "/apis/v2beta1/experiments", nullptr,
                       {{"sort_by", "created_at desc"}, {"page_size", "3"}})
                      .body),
            (V{"echo", "delta", "charlie"}));
  EXPECT_EQ(
      names(Call("GET", "/apis/v2beta1/experiments", nullptr, {{"sort_by", "display_name desc"}})
                .body)
          .front(),
      "echo");

  auto filtered = [&](const Json& predicate) {
    return names(Call("GET", "/apis/v2beta1/experiments", nullptr,
                      {{"filter", Json{{"predicates", {predicate}}}.dump()}})
                     .body);
  };
  EXPECT_EQ(filtered({{"key", "display_name"}, {"op", "EQUALS"}, {"string_value", "charlie"}}),
            (V{"charlie"}));
  // The kfp client spells the operation as a number under `operation`, values in camelCase.
  EXPECT_EQ(filtered({{"key", "name"}, {"operation", 1}, {"stringValue", "delta"}}), (V{"delta"}));
  EXPECT_EQ(
      filtered({{"key", "display_name"}, {"op", "NOT_EQUALS"}, {"string_value", "alpha"}}).size(),
      4u);
  EXPECT_EQ(filtered({{"key", "display_name"},
                      {"op", "IN"},
                      {"string_values", {{"values", {"bravo", "echo", "zulu"}}}}}),
            (V{"bravo", "echo"}));
  EXPECT_EQ(filtered({{"key", "display_name"}, {"op", "IS_SUBSTRING"}, {"string_value", "ha"}}),
            (V{"alpha", "charlie"}));
  // Creation times are one second apart (see SteppingClock); charlie is the third.
  Json charlie =
      Call("GET", "/apis/v2beta1/experiments", nullptr,
           {{"filter",
             Json{{"predicates",
                   {{{"key", "display_name"}, {"op", "EQUALS"}, {"string_value", "charlie"}}}}}
                 .dump()}})
          .body["experiments"][0];
  EXPECT_EQ(filtered({{"key", "created_at"},
                      {"op", "GREATER_THAN"},
                      {"timestamp_value", charlie["created_at"]}}),
            (V{"delta", "echo"}));
  EXPECT_EQ(filtered({{"key", "created_at"},
                      {"op", "LESS_THAN_EQUALS"},
                      {"timestamp_value", charlie["created_at"]}}),
            (V{"alpha", "bravo", "charlie"}));

  ExpectKfpError(Call("GET", "/apis/v2beta1/experiments", nullptr, {{"filter", "{not json"}}), 400,
                 3);
  ExpectKfpError(
      Call("GET", "/apis/v2beta1/experiments", nullptr,
           {{"filter", R"({"predicates":[{"key":"x","op":"SOUNDS_LIKE","string_value":"y"}]})"}}),
      400, 3);
  ExpectKfpError(Call("GET", "/apis/v2beta1/experiments", nullptr, {{"page_token", "!!"}}), 400, 3);
  ExpectKfpError(Call("GET", "/apis/v2beta1/experiments", nullptr, {{"sort_by", "name sideways"}}),
                 400, 3);
  ExpectKfpError(Call("GET", "/apis/v2beta1/experiments", nullptr, {{"page_size", "-1"}}), 400, 3);
  // Another namespace has none.
  EXPECT_EQ(Call("GET", "/apis/v2beta1/experiments", nullptr, {{"namespace", "team-a"}})
                .body["total_size"],
            0);
}

TEST_F(KfpRestTest, ExperimentsGroupAndArchiveRuns) {
  Result exp =
      Call("POST", "/apis/v2beta1/experiments",
           {{"display_name", "Tuning"}, {"description", "lr sweep"}, {"namespace", "team-a"}});
  ASSERT_EQ(exp.status, 200) << exp.body.dump();
  EXPECT_EQ(exp.body["storage_state"], "AVAILABLE");
  EXPECT_EQ(exp.body["namespace"], "team-a");
  EXPECT_EQ(Get(kExperimentsRes, "team-a", "tuning")["spec"]["description"], "lr sweep");
  ExpectKfpError(Call("POST", "/apis/v2beta1/experiments",
                      {{"display_name", "Tuning"}, {"namespace", "team-a"}}),
                 409, 6);
  ExpectKfpError(Call("POST", "/apis/v2beta1/experiments", {{"description", "no name"}}), 400, 3);
  const std::string eid = exp.body["experiment_id"];

  Json spec_run = {{"experiment_id", eid}, {"pipeline_spec", IrSpec()}};
  ASSERT_EQ(Call("POST", "/apis/v2beta1/runs", spec_run).status, 200);
  // A run outside the experiment, in the same namespace.
  ASSERT_EQ(
      Call("POST", "/apis/v2beta1/runs", {{"pipeline_spec", IrSpec()}}, {{"namespace", "team-a"}})
          .status,
      200);
  Result rr = Call("POST", "/apis/v2beta1/recurringruns",
                   {{"experiment_id", eid},
                    {"pipeline_spec", IrSpec()},
                    {"trigger", {{"periodic_schedule", {{"interval_second", "60"}}}}}});
  ASSERT_EQ(rr.status, 200) << rr.body.dump();

  Result runs = Call("GET", "/apis/v2beta1/runs", nullptr, {{"experiment_id", eid}});
  ASSERT_EQ(runs.body["total_size"], 1);
  EXPECT_EQ(runs.body["runs"][0]["experiment_id"], eid);
  EXPECT_EQ(
      Call("GET", "/apis/v2beta1/runs", nullptr, {{"namespace", "team-a"}}).body["total_size"], 2);

  EXPECT_EQ(Call("POST", "/apis/v2beta1/experiments/" + eid + ":archive").status, 200);
  EXPECT_EQ(Call("GET", "/apis/v2beta1/experiments/" + eid).body["storage_state"], "ARCHIVED");
  EXPECT_EQ(Call("GET", "/apis/v2beta1/runs", nullptr, {{"experiment_id", eid}})
                .body["runs"][0]["storage_state"],
            "ARCHIVED");
  Json rr_obj = (*client_->List(kRecurringRes, "team-a", {}))["items"][0];
  EXPECT_EQ(rr_obj["spec"]["mode"], "DISABLE");
  // No new runs in an archived experiment.
  ExpectKfpError(Call("POST", "/apis/v2beta1/runs", spec_run), 400, 9);

  EXPECT_EQ(Call("POST", "/apis/v2beta1/experiments/" + eid + ":unarchive").status, 200);
  EXPECT_EQ(Call("GET", "/apis/v2beta1/experiments/" + eid).body["storage_state"], "AVAILABLE");
  // Its runs stay archived, as in KFP.
  EXPECT_EQ(Call("GET", "/apis/v2beta1/runs", nullptr, {{"experiment_id", eid}})
                .body["runs"][0]["storage_state"],
            "ARCHIVED");

  EXPECT_EQ(Call("DELETE", "/apis/v2beta1/experiments/" + eid).status, 200);
  ExpectKfpError(Call("GET", "/apis/v2beta1/experiments/" + eid), 404, 5);
  EXPECT_EQ(
      Call("GET", "/apis/v2beta1/runs", nullptr, {{"namespace", "team-a"}}).body["total_size"], 2);
}

TEST_F(KfpRestTest, RecurringRuns) {
  const std::string pid = UploadHelloWorld()["pipeline_id"];
  Result cron = Call(
      "POST", "/apis/v2beta1/recurringruns",
      {{"display_name", "Nightly"},
       {"pipeline_version_reference", {{"pipeline_id", pid}}},
       {"runtime_config", {{"parameters", {{"day", "[[ScheduledTime]]"}}}}},
       {"max_concurrency", "3"},
       {"no_catchup", true},
       {"mode", "ENABLE"},
       {"trigger",
        {{"cron_schedule", {{"cron", "0 0 2 * * *"}, {"start_time", "2026-02-01T00:00:00Z"}}}}}});
  ASSERT_EQ(cron.status, 200) << cron.body.dump();
  Json obj = (*client_->List(kRecurringRes, "default", {}))["items"][0];
  EXPECT_EQ(obj["spec"]["schedule"],
            Json({{"cron", "0 0 2 * * *"}, {"startTime", "2026-02-01T00:00:00Z"}}));
  EXPECT_EQ(obj["spec"]["maxConcurrency"], 3);
  EXPECT_EQ(obj["spec"]["noCatchup"], true);
  EXPECT_EQ(obj["spec"]["pipelineRef"],
            Json({{"name", "hello-world"}, {"version", "hello-world"}}));
  EXPECT_EQ(obj["spec"]["parameters"]["day"], "[[ScheduledTime]]");

  const Json& b = cron.body;
  EXPECT_EQ(b["recurring_run_id"], obj["metadata"]["uid"]);
  EXPECT_EQ(b["display_name"], "Nightly");
  EXPECT_EQ(b["max_concurrency"], "3");
  EXPECT_EQ(b["trigger"]["cron_schedule"]["cron"], "0 0 2 * * *");
  EXPECT_EQ(b["trigger"]["cron_schedule"]["start_time"], "2026-02-01T00:00:00Z");
  EXPECT_EQ(b["mode"], "ENABLE");
  EXPECT_EQ(b["status"], "ENABLED");
  EXPECT_EQ(b["no_catchup"], true);
  EXPECT_EQ(b["pipeline_version_reference"]["pipeline_id"], pid);

  const std::string base =
      "/apis/v2beta1/recurringruns/" + b["recurring_run_id"].get<std::string>();
  EXPECT_EQ(Call("POST", base + ":disable").status, 200);
  EXPECT_EQ(Get(kRecurringRes, "default", obj["metadata"]["name"])["spec"]["mode"], "DISABLE");
  EXPECT_EQ(Call("GET", base).body["status"], "DISABLED");
  EXPECT_EQ(Call("POST", base + ":enable").status, 200);
  EXPECT_EQ(Call("GET", base).body["status"], "ENABLED");

  Result periodic = Call("POST", "/apis/v2beta1/recurringruns",
                         {{"display_name", "Hourly"},
                          {"pipeline_spec", IrSpec()},
                          {"mode", "DISABLE"},
                          {"trigger", {{"periodic_schedule", {{"interval_second", 3600}}}}}});
  ASSERT_EQ(periodic.status, 200) << periodic.body.dump();
  EXPECT_EQ(periodic.body["trigger"]["periodic_schedule"]["interval_second"], "3600");
  EXPECT_EQ(periodic.body["status"], "DISABLED");
  EXPECT_EQ(periodic.body["max_concurrency"], "10");  // the kind's default

  Result list = Call("GET", "/apis/v2beta1/recurringruns", nullptr, {{"sort_by", "display_name"}});
  ASSERT_EQ(list.body["total_size"], 2);
  EXPECT_EQ(list.body["recurringRuns"][0]["display_name"], "Hourly");

  ExpectKfpError(Call("POST", "/apis/v2beta1/recurringruns",
                      {{"pipeline_spec", IrSpec()}, {"trigger", Json::object()}}),
                 400, 3);
  ExpectKfpError(Call("POST", "/apis/v2beta1/recurringruns",
                      {{"pipeline_spec", IrSpec()},
                       {"trigger", {{"periodic_schedule", {{"interval_second", 0}}}}}}),
                 400, 3);
  // Out of the kind's range: refused by the API server's validation.
  ExpectKfpError(Call("POST", "/apis/v2beta1/recurringruns",
                      {{"pipeline_spec", IrSpec()},
                       {"max_concurrency", 50},
                       {"trigger", {{"cron_schedule", {{"cron", "* * * * *"}}}}}}),
                 400, 3);

  EXPECT_EQ(Call("DELETE", base).status, 200);
  ExpectKfpError(Call("GET", base), 404, 5);
}

TEST_F(KfpRestTest, MalformedRequests) {
  http::Request req;
  req.method = "POST";
  req.path = "/apis/v2beta1/experiments";
  req.body = "{display_name:";
  ExpectKfpError(*Send(req), 400, 3);
  ExpectKfpError(Call("GET", "/apis/v2beta1/runs/00000000-0000-0000-0000-000000000000"), 404, 5);
  ExpectKfpError(Call("GET", "/apis/v2beta1/pipelines/nope/versions"), 404, 5);
  ExpectKfpError(Call("POST", "/apis/v2beta1/pipelines/upload_version"), 400, 3);
  ExpectKfpError(
      Call("POST", "/apis/v2beta1/runs",
           {{"pipeline_spec", IrSpec()}, {"pipeline_version_reference", {{"pipeline_id", "x"}}}}),
      400, 3);
}

// Through the real API server: the route is reached before Kubernetes' /apis/<group> dispatch, and
// query strings and multipart bodies arrive as a kfp client sends them.
TEST(KfpRestOverHttpTest, UploadAndListThroughTheApiServer) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-kfp-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  apiserver::ApiServerOptions o;
  o.data_dir = tmpl + "/home";
  o.port = 0;
  o.in_memory_store = true;
  o.insecure_http = true;
  o.threads = 2;
  auto server = apiserver::ApiServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*server)->handler()->AddRoute(KfpRestRoutes((*server)->api()));
  auto http = http::NewClient({.port = (*server)->port()});

  auto health = http->Do({"GET", "/apis/v2beta1/healthz", {}, ""});
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, 200) << health->body;

  http::ClientRequest upload{"POST", "/apis/v2beta1/pipelines/upload?name=Hello+World", {}, ""};
  upload.headers["Content-Type"] = "multipart/form-data; boundary=\"b0undary\"";
  upload.body =
      "--b0undary\r\nContent-Disposition: form-data; name=\"uploadfile\"; "
      "filename=\"hello.yaml\"\r\n\r\n" +
      ReadShared("valid__hello_world.yaml") + "\r\n--b0undary--\r\n";
  auto uploaded = http->Do(upload);
  ASSERT_TRUE(uploaded.ok());
  ASSERT_EQ(uploaded->status, 200) << uploaded->body;
  EXPECT_EQ(ParseJson(uploaded->body).value()["display_name"], "Hello World");

  const std::string filter = http::PercentEncode(
      R"({"predicates":[{"key":"name","operation":"EQUALS","string_value":"Hello World"}]})");
  auto listed = http->Do(
      {"GET", "/apis/v2beta1/pipelines?sort_by=created_at%20desc&filter=" + filter, {}, ""});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_EQ(ParseJson(listed->body).value()["total_size"], 1);

  auto missing = http->Do({"GET", "/apis/v2beta1/runs/nope", {}, ""});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(ParseJson(missing->body).value()["code"], 5);
  // Kubernetes paths are still the API server's.
  auto k8s = http->Do(
      {"GET", "/apis/kubeflow.org/v2beta1/namespaces/default/pipelines/hello-world", {}, ""});
  ASSERT_TRUE(k8s.ok());
  EXPECT_EQ(k8s->status, 200) << k8s->body;
  EXPECT_EQ(ParseJson(k8s->body).value()["kind"], "Pipeline");

  (*server)->Stop();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace skiff::pipelines
