#include "pipelines/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pki.h"
#include "controllers/event_recorder.h"
#include "controllers/object_meta.h"
#include "controllers/reconciler.h"
#include "pipelines/cel.h"
#include "pipelines/ir.h"
#include "pipelines/lineage.h"
#include "pipelines/metrics.h"
#include "pipelines/placeholders.h"
#include "pipelines/run_model.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;
using controllers::ObjectPtr;
using controllers::Request;
using controllers::Result;
using std::chrono::milliseconds;

const client::Resource kPods{"", "v1", "pods"};

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string ToLower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

const Json& Field(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Str(const Json& j, const char* key) {
  const Json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

int64_t NowMs(Clock* clock) {
  return std::chrono::duration_cast<milliseconds>(clock->Now().time_since_epoch()).count();
}

// "5s", "1.5s", "100ms", "2m", "1h" (protobuf Duration JSON and Go durations) → milliseconds.
int64_t DurationMs(const Json& v, int64_t fallback) {
  if (v.is_number()) return static_cast<int64_t>(v.get<double>() * 1000);
  if (!v.is_string()) return fallback;
  std::string s = v.get<std::string>();
  if (s.empty()) return fallback;
  double total = 0;
  size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return fallback;
    double n = 0;
    try {
      n = std::stod(s.substr(i, j - i));
    } catch (...) {  // "." and the like
      return fallback;
    }
    size_t k = j;
    while (k < s.size() && isalpha(static_cast<unsigned char>(s[k]))) ++k;
    std::string unit = s.substr(j, k - j);
    double scale = unit == "ms"                  ? 1
                   : unit == "s" || unit.empty() ? 1000
                   : unit == "m"                 ? 60000
                   : unit == "h"                 ? 3600000
                                                 : -1;
    if (scale < 0) return fallback;
    total += n * scale;
    any = true;
    i = k;
  }
  return any ? static_cast<int64_t>(total) : fallback;
}

// A DNS-1123 label from free text, at most `max` characters (a hash keeps long names distinct).
std::string DnsLabel(const std::string& text, size_t max) {
  std::string out;
  for (char c : text) {
    char l = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      out += l;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > max) {
    std::string hash = pki::Sha256Hex(text).substr(0, 8);
    out = out.substr(0, max - 9);
    while (!out.empty() && out.back() == '-') out.pop_back();
    out += "-" + hash;
  }
  return out.empty() ? "x" : out;
}

int64_t ResourceVersionOf(const Json& obj) {
  const std::string rv = StringAt(obj, "metadata.resourceVersion");
  try {
    return rv.empty() ? 0 : std::stoll(rv);
  } catch (...) {
    return 0;
  }
}

bool IsFinal(const std::string& s) {
  return s == "SUCCEEDED" || s == "FAILED" || s == "SKIPPED" || s == "CANCELED" || s == "CACHED";
}

// A value for a parameter of `type` from what a user or a file gave (strings from -p key=value,
// YAML scalars, file contents).
StatusOr<Json> Coerce(const Json& value, const std::string& type, const std::string& what) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid(what + ": " + why + " (type " + type + ")");
  };
  if (type == "NUMBER_INTEGER") {
    if (value.is_number_integer()) return value;
    if (value.is_number_float()) {
      double d = value.get<double>();
      if (d == static_cast<double>(static_cast<int64_t>(d))) return Json(static_cast<int64_t>(d));
      return bad("not an integer");
    }
    if (value.is_string()) {
      std::string s = Trim(value.get<std::string>());
      try {
        size_t used = 0;
        int64_t n = std::stoll(s, &used);
        if (used == s.size()) return Json(n);
      } catch (...) {
      }
      return bad("\"" + s + "\" is not an integer");
    }
    return bad("not an integer");
  }
  if (type == "NUMBER_DOUBLE") {
    if (value.is_number()) return Json(value.get<double>());
    if (value.is_string()) {
      std::string s = Trim(value.get<std::string>());
      try {
        size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size()) return Json(d);
      } catch (...) {
      }
      return bad("\"" + s + "\" is not a number");
    }
    return bad("not a number");
  }
  if (type == "BOOLEAN") {
    if (value.is_boolean()) return value;
    if (value.is_string()) {
      std::string s = Trim(value.get<std::string>());
      if (s == "true" || s == "True" || s == "TRUE") return Json(true);
      if (s == "false" || s == "False" || s == "FALSE") return Json(false);
      return bad("\"" + s + "\" is not true or false");
    }
    return bad("not a boolean");
  }
  if (type == "LIST" || type == "STRUCT") {
    const bool list = type == "LIST";
    if ((list && value.is_array()) || (!list && value.is_object())) return value;
    if (value.is_string()) {
      auto parsed = ParseJson(value.get<std::string>());
      if (parsed.ok() && ((list && parsed->is_array()) || (!list && parsed->is_object()))) {
        return *parsed;
      }
    }
    return bad(list ? "not a JSON list" : "not a JSON object");
  }
  if (type == "STRING") {
    if (value.is_string()) return value;
    return Json(value.dump());
  }
  return value;  // TASK_FINAL_STATUS and unknown types pass through
}

Json EmptyIo() { return Json{{"parameters", Json::object()}, {"artifacts", Json::object()}}; }

// The cached, parsed pipeline of a run.
struct Plan {
  Json ir;
  Json platform;  // platforms.kubernetes (may be null)
  std::string pipeline_name;
  std::map<std::string, std::vector<std::string>> order;  // component → task keys, deps first
};

// Everything one reconcile needs about the run it works on.
struct Ctx {
  const Json* run = nullptr;
  std::string ns, name, uid;
  RunModel* model = nullptr;
  Plan* plan = nullptr;
  int64_t now_ms = 0;
  int64_t wake_ms = 0;  // 0: nothing timed
  bool canceling = false;
  bool cache_disabled = false;
  // Pods to create once the walk is done, all at once (a fan-out makes hundreds).
  std::vector<std::pair<TaskRun*, Json>> pods_to_create;
  void WakeAt(int64_t ms) {
    if (wake_ms == 0 || ms < wake_ms) wake_ms = ms;
  }
};

class RunReconciler : public controllers::Reconciler {
 public:
  RunReconciler(controllers::Manager* mgr, client::Client* client, EngineOptions options)
      : mgr_(mgr),
        client_(client),
        options_(std::move(options)),
        recorder_(client, "pipeline-engine"),
        runs_(mgr->GetInformer(kPipelineRuns)),
        pods_(mgr->GetInformer(kPods)) {}

  StatusOr<Result> Reconcile(const Request& request) override;

 private:
  RunModel* ModelFor(const Json& run);
  // Drops a finished run's model and plan; `final_rv` is its final status' resourceVersion.
  void Forget(const std::string& uid, const std::string& key, int64_t final_rv);
  StatusOr<Plan*> PlanFor(Ctx& c);
  StatusOr<Json> RawSpec(const Json& run, std::string* pipeline_name);

  // Walks one DAG instance; true when every task in it is final.
  bool ProcessDag(Ctx& c, const std::string& dag_id, const std::string& comp_name,
                  const Json& dag_inputs);
  void StartTask(Ctx& c, TaskRun& t, const Json& spec, const std::string& comp_name);
  void Advance(Ctx& c, TaskRun& t, const Json& spec, const std::string& comp_name);
  void AdvanceLoop(Ctx& c, TaskRun& t, const std::string& comp_name);
  // `item_input`: a loop's per-iteration input, not required of the loop task itself.
  StatusOr<Json> ResolveInputs(Ctx& c, const std::string& dag_id, const Json& spec,
                               const Json& dag_inputs, const Json& comp,
                               const std::string& item_input, const std::string& task_id);
  void StartContainer(Ctx& c, TaskRun& t, const Json& comp, const Json& executor,
                      const std::string& exec_label);
  void RunImporter(Ctx& c, TaskRun& t, const Json& importer);
  // What the pipeline_* placeholders of task `task_id` resolve to (executor input left empty).
  PlaceholderContext PipelinePlaceholders(Ctx& c, const std::string& task_id,
                                          const std::string& task_name) const;
  // Builds the task's Pod (created later by CreatePods) and marks the task as running it.
  Status CreatePod(Ctx& c, TaskRun& t);
  // Creates the Pods the walk asked for, several at a time; a Pod that cannot be created fails
  // its task with the API's message.
  void CreatePods(Ctx& c);
  void CheckPod(Ctx& c, TaskRun& t);
  void CollectOutputs(Ctx& c, TaskRun& t);
  void FinishGroup(Ctx& c, TaskRun& t, const std::string& comp_name, bool loop);
  Json GroupOutputs(Ctx& c, const std::string& group_id, const Json& comp);
  void Finish(Ctx& c, TaskRun& t, const std::string& state, const std::string& message);
  void Record(Ctx& c, const TaskRun& t);
  std::string TaskDir(Ctx& c, const TaskRun& t) const;
  std::string ArtifactUri(Ctx& c, const TaskRun& t, const std::string& key) const;
  void Complete(Ctx& c, const std::string& state, const std::string& message);
  Status WriteStatus(Ctx& c);

  controllers::Manager* const mgr_;
  client::Client* const client_;
  const EngineOptions options_;
  controllers::EventRecorder recorder_;
  controllers::Informer* const runs_;
  controllers::Informer* const pods_;

  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<RunModel>> models_;  // by run uid
  std::unordered_map<std::string, std::unique_ptr<Plan>> plans_;       // by run uid
  // Finished runs are dropped from memory (their status says everything); this remembers the
  // resourceVersion of each one's final status so an informer copy older than it is ignored.
  std::unordered_map<std::string, std::pair<int64_t, std::string>> finished_rv_;  // uid → rv, key
};

// ---------------------------------------------------------------------------------------------
// Run-level flow

StatusOr<Result> RunReconciler::Reconcile(const Request& request) {
  ObjectPtr obj = runs_->Get(request.ns, request.name);
  if (obj == nullptr) {
    // Gone: forget it (models are keyed by uid; drop those whose run no longer exists).
    std::lock_guard<std::mutex> lock(mu_);
    const std::string key = request.ns + "/" + request.name;
    for (auto it = finished_rv_.begin(); it != finished_rv_.end();) {
      it = it->second.second == key ? finished_rv_.erase(it) : std::next(it);
    }
    for (auto it = models_.begin(); it != models_.end();) {
      if (it->second->ns == request.ns && it->second->name == request.name) {
        plans_.erase(it->first);
        it = models_.erase(it);
      } else {
        ++it;
      }
    }
    return Result{};
  }
  const Json& run = *obj;
  if (!Field(Field(run, "metadata"), "deletionTimestamp").is_null()) return Result{};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto done = finished_rv_.find(controllers::UidOf(run));
    if (done != finished_rv_.end() && ResourceVersionOf(run) < done->second.first) {
      return Result{};
    }
  }

  Ctx c;
  c.run = &run;
  c.ns = request.ns;
  c.name = request.name;
  c.uid = controllers::UidOf(run);
  c.now_ms = NowMs(options_.clock);
  c.model = ModelFor(run);
  RunModel& m = *c.model;
  // However this reconcile ends, a run that is finished and written leaves memory.
  struct ForgetFinished {
    RunReconciler* self;
    Ctx* c;
    int64_t seen_rv;
    ~ForgetFinished() {
      const RunModel& m = *c->model;
      // Only once the final state is in the stored status (the write may have failed).
      if (!IsFinal(m.state) || !m.last_written.is_object() ||
          m.last_written.value("state", "") != m.state) {
        return;
      }
      self->Forget(c->uid, c->ns + "/" + c->name, std::max(m.last_written_rv, seen_rv));
    }
  } forget_finished{this, &c, ResourceVersionOf(run)};
  const Json& spec = Field(run, "spec");
  const int64_t retry_count =
      Field(spec, "retryCount").is_number_integer() ? Field(spec, "retryCount").get<int64_t>() : 0;
  const bool terminate = Field(spec, "terminate").is_boolean() && spec["terminate"].get<bool>();
  c.cache_disabled = Field(Field(spec, "cachingOptions"), "disabled").is_boolean() &&
                     spec["cachingOptions"]["disabled"].get<bool>();

  if (IsFinal(m.state)) {
    if (retry_count > m.retry_count && (m.state == "FAILED" || m.state == "CANCELED")) {
      m.retry_count = retry_count;
      m.ResetFailed();
      m.state = "RUNNING";
      m.message = "retrying from the failed tasks (retry " + std::to_string(retry_count) + ")";
      m.completion_ms = 0;
      recorder_.Event(run, "Normal", "RunRetried", m.message);
    } else {
      if (retry_count != m.retry_count) {
        m.retry_count = retry_count;  // nothing to retry: record that it was seen
        if (Status s = WriteStatus(c); !s.ok()) return s;
      }
      return Result{};
    }
  }
  m.retry_count = std::max(m.retry_count, retry_count);

  auto plan = PlanFor(c);
  if (!plan.ok()) {
    if (plan.status().code() == Code::kNotFound) {
      // A referenced Pipeline or Component may still be on its way.
      m.state = "PENDING";
      m.message = plan.status().message();
      if (Status s = WriteStatus(c); !s.ok()) return s;
      return Result{false, milliseconds(2000)};
    }
    if (m.start_ms == 0) m.start_ms = c.now_ms;
    Complete(c, "FAILED", plan.status().message());
    if (Status s = WriteStatus(c); !s.ok()) return s;
    return Result{};
  }
  c.plan = *plan;

  if (m.state.empty() || m.state == "PENDING") {
    m.state = "RUNNING";
    m.message.clear();
    if (m.start_ms == 0) m.start_ms = c.now_ms;
    m.pipeline_name = c.plan->pipeline_name;
    // Root inputs: the run's parameter values checked against the pipeline's inputs.
    Json root_inputs = EmptyIo();
    const Json& defs = Field(Field(c.plan->ir["root"], "inputDefinitions"), "parameters");
    const Json& given = Field(spec, "parameters");
    std::string error;
    if (given.is_object()) {
      for (auto it = given.begin(); it != given.end(); ++it) {
        if (!defs.is_object() || !defs.contains(it.key())) {
          std::vector<std::string> names;
          if (defs.is_object()) {
            for (auto d = defs.begin(); d != defs.end(); ++d) names.push_back(d.key());
          }
          error = "parameter \"" + it.key() + "\" is not an input of pipeline " +
                  c.plan->pipeline_name +
                  " (its inputs: " + (names.empty() ? "none" : Join(names, ", ")) + ")";
          break;
        }
      }
    }
    if (error.empty() && defs.is_object()) {
      for (auto it = defs.begin(); it != defs.end() && error.empty(); ++it) {
        const std::string type = Str(it.value(), "parameterType");
        Json value;
        if (given.is_object() && given.contains(it.key())) {
          value = given[it.key()];
        } else if (it.value().contains("defaultValue")) {
          value = it.value()["defaultValue"];
        } else if (Field(it.value(), "isOptional").is_boolean() &&
                   it.value()["isOptional"].get<bool>()) {
          continue;
        } else {
          error = "pipeline parameter \"" + it.key() + "\" needs a value (it has no default)";
          break;
        }
        auto coerced = Coerce(value, type, "pipeline parameter \"" + it.key() + "\"");
        if (!coerced.ok()) {
          error = coerced.status().message();
          break;
        }
        root_inputs["parameters"][it.key()] = *coerced;
      }
    }
    if (!error.empty()) {
      Complete(c, "FAILED", error);
      if (Status s = WriteStatus(c); !s.ok()) return s;
      return Result{};
    }
    m.root_inputs = std::move(root_inputs);
    std::string root = Str(spec, "pipelineRoot");
    if (root.empty()) root = Str(c.plan->ir, "defaultPipelineRoot");
    if (root.empty()) root = "file://" + options_.data_dir + "/artifacts";
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    m.pipeline_root = root;
    if (!StartsWith(root, "file://") && root.find("://") != std::string::npos) {
      recorder_.Event(run, "Normal", "LocalPipelineRoot",
                      "pipeline root " + root + " is kept on this machine under " +
                          LocalArtifactPath(options_.data_dir, root));
    }
  }

  // Cancel (terminate) and the run's timeout.
  const int64_t timeout_ms = DurationMs(Field(spec, "timeout"), 0);
  if (timeout_ms > 0 && !m.canceling) {
    if (c.now_ms - m.start_ms >= timeout_ms) {
      m.canceling = true;
      m.cancel_reason = "the run exceeded its timeout of " + Field(spec, "timeout").dump();
    } else {
      c.WakeAt(m.start_ms + timeout_ms);
    }
  }
  if (terminate && !m.canceling) {
    m.canceling = true;
    m.cancel_reason = "the run was terminated";
  }
  c.canceling = m.canceling;
  if (c.canceling) m.state = "CANCELING";

  bool done = ProcessDag(c, "", "root", m.root_inputs);
  if (!c.pods_to_create.empty()) {
    CreatePods(c);
    done = false;  // a Pod that could not be created failed its task: walk again to finish
    c.WakeAt(c.now_ms + 1);
  }
  if (done) {
    std::string state = "SUCCEEDED";
    std::string message;
    for (const auto& t : m.tasks) {
      if (!t->parent.empty()) continue;
      if (t->state == "FAILED") {
        state = "FAILED";
        message = "task " + t->display + " failed" + (t->message.empty() ? "" : ": " + t->message);
        break;
      }
      if (t->state == "CANCELED") state = "CANCELED";
    }
    if (m.canceling) {
      state = StartsWith(m.cancel_reason, "the run exceeded") ? "FAILED" : "CANCELED";
      message = m.cancel_reason;
    }
    if (state == "SUCCEEDED") {
      m.outputs = GroupOutputs(c, "", c.plan->ir["root"]);
    }
    Complete(c, state, message);
  }
  if (Status s = WriteStatus(c); !s.ok()) return s;
  if (c.wake_ms > 0) {
    return Result{false, milliseconds(std::max<int64_t>(1, c.wake_ms - NowMs(options_.clock)))};
  }
  return Result{};
}

void RunReconciler::Forget(const std::string& uid, const std::string& key, int64_t final_rv) {
  std::lock_guard<std::mutex> lock(mu_);
  models_.erase(uid);
  plans_.erase(uid);
  finished_rv_[uid] = {final_rv, key};
}

RunModel* RunReconciler::ModelFor(const Json& run) {
  const std::string uid = controllers::UidOf(run);
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = models_[uid];
  if (!slot) {
    slot = std::make_unique<RunModel>();
    slot->LoadStatus(Field(run, "status"));
    slot->ns = controllers::NamespaceOf(run);
    slot->name = controllers::NameOf(run);
  }
  return slot.get();
}

StatusOr<Json> RunReconciler::RawSpec(const Json& run, std::string* pipeline_name) {
  const Json& spec = Field(run, "spec");
  const std::string ns = controllers::NamespaceOf(run);
  if (spec.contains("pipelineSpec") && spec["pipelineSpec"].is_object()) {
    *pipeline_name = controllers::NameOf(run);
    return spec["pipelineSpec"];
  }
  const Json& ref = Field(spec, "pipelineRef");
  const std::string name = Str(ref, "name");
  if (name.empty()) {
    return Status::Invalid("spec: the run needs pipelineRef.name or pipelineSpec");
  }
  *pipeline_name = name;
  const std::string version = Str(ref, "version");
  if (!version.empty()) {
    auto v = client_->Get(kPipelineVersions, ns, version);
    if (!v.ok()) {
      return Status::NotFound("pipeline version \"" + version + "\" of pipeline \"" + name +
                              "\" not found in namespace " + ns);
    }
    if (StringAt(*v, "spec.pipelineName") != name) {
      return Status::Invalid("pipeline version \"" + version + "\" belongs to pipeline \"" +
                             StringAt(*v, "spec.pipelineName") + "\", not \"" + name + "\"");
    }
    return (*v)["spec"]["pipelineSpec"];
  }
  auto p = client_->Get(kPipelines, ns, name);
  if (p.ok() && FindPath(*p, "spec.pipelineSpec") && (*p)["spec"]["pipelineSpec"].is_object()) {
    return (*p)["spec"]["pipelineSpec"];
  }
  // The newest version of the pipeline.
  auto versions = client_->List(kPipelineVersions, ns, {});
  if (versions.ok()) {
    const Json* newest = nullptr;
    std::string newest_time;
    for (const Json& v : Field(*versions, "items")) {
      if (StringAt(v, "spec.pipelineName") != name) continue;
      std::string t = StringAt(v, "metadata.creationTimestamp");
      if (newest == nullptr || t >= newest_time) {
        newest = &v;
        newest_time = t;
      }
    }
    if (newest != nullptr) return (*newest)["spec"]["pipelineSpec"];
  }
  if (!p.ok()) {
    return Status::NotFound("pipeline \"" + name + "\" not found in namespace " + ns);
  }
  return Status::Invalid("pipeline \"" + name + "\" has no pipelineSpec and no versions");
}

StatusOr<Plan*> RunReconciler::PlanFor(Ctx& c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(c.uid);
    if (it != plans_.end()) return it->second.get();
  }
  std::string pipeline_name;
  auto raw = RawSpec(*c.run, &pipeline_name);
  if (!raw.ok()) return raw.status();
  const std::string ns = c.ns;
  ComponentLookup lookup = [this, ns](const std::string& name) -> StatusOr<Json> {
    auto got = client_->Get(kComponents, ns, name);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) {
        return Status::NotFound("component \"" + name + "\" not found in namespace " + ns);
      }
      return got.status();
    }
    return Field(*got, "spec");
  };
  auto ir = ToIr(*raw, pipeline_name, lookup);
  if (!ir.ok()) return ir.status();
  auto plan = std::make_unique<Plan>();
  plan->ir = std::move(*ir);
  if (raw->contains("platforms")) {
    plan->platform = Field((*raw)["platforms"], "kubernetes");
  } else if (plan->ir.contains("platforms")) {
    plan->platform = Field(plan->ir["platforms"], "kubernetes");
  }
  plan->pipeline_name = StringAt(plan->ir, "pipelineInfo.name");
  if (plan->pipeline_name.empty()) plan->pipeline_name = pipeline_name;
  // Topological order of every DAG, once.
  auto add_order = [&](const std::string& name, const Json& comp) -> Status {
    const Json& dag = Field(comp, "dag");
    if (dag.is_null()) return Status::Ok();
    auto order = TopologicalOrder(dag);
    if (!order.ok()) return order.status();
    plan->order[name] = std::move(*order);
    return Status::Ok();
  };
  if (Status s = add_order("root", plan->ir["root"]); !s.ok()) return s;
  const Json& comps = Field(plan->ir, "components");
  if (comps.is_object()) {
    for (auto it = comps.begin(); it != comps.end(); ++it) {
      if (Status s = add_order(it.key(), it.value()); !s.ok()) return s;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = plans_[c.uid];
  slot = std::move(plan);
  return slot.get();
}

void RunReconciler::Complete(Ctx& c, const std::string& state, const std::string& message) {
  RunModel& m = *c.model;
  m.state = state;
  m.message = message;
  m.completion_ms = c.now_ms;
  m.canceling = false;
  if (options_.metrics) {
    options_.metrics->RunFinished(m.pipeline_name.empty() ? c.name : m.pipeline_name, state,
                                  (m.completion_ms - m.start_ms) / 1000.0);
  }
  recorder_.Event(*c.run, state == "SUCCEEDED" ? "Normal" : "Warning",
                  state == "SUCCEEDED"  ? "RunSucceeded"
                  : state == "CANCELED" ? "RunCanceled"
                                        : "RunFailed",
                  message.empty() ? "run " + c.name + " " + ToLower(state) : message);
}

Status RunReconciler::WriteStatus(Ctx& c) {
  RunModel& m = *c.model;
  // While tasks run, status is written at most every max(50 ms, 4 × the last write's cost): a
  // 1 000-task run's status is a few hundred KB, and every Pod event would otherwise rewrite it.
  // Nothing is lost by waiting: Pods made since the last write are found again by name
  // (AlreadyExists) if skiff restarts. Final states are written at once.
  if (!IsFinal(m.state) && m.last_write_ms > 0) {
    const int64_t next = m.last_write_ms + std::max<int64_t>(50, 4 * m.write_cost_ms);
    if (c.now_ms < next) {
      c.WakeAt(next);
      return Status::Ok();
    }
  }
  Json status = m.ToStatus(Field(Field(*c.run, "metadata"), "generation"));
  if (status == m.last_written) return Status::Ok();
  const auto started = std::chrono::steady_clock::now();
  Json patch{{"status", status}};
  auto written = client_->Patch(kPipelineRuns, c.ns, c.name, client::PatchType::kMerge,
                                patch.dump(), {}, "status");
  if (!written.ok()) {
    if (written.status().code() == Code::kNotFound) return Status::Ok();  // deleted meanwhile
    return written.status();
  }
  m.last_written = std::move(status);
  m.last_written_rv = ResourceVersionOf(*written);
  m.last_write_ms = NowMs(options_.clock);
  m.write_cost_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started).count();
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// DAGs, loops and task start

std::vector<std::string> Upstream(const Json& spec) {
  std::set<std::string> deps;
  for (const Json& d : Field(spec, "dependentTasks")) {
    if (d.is_string()) deps.insert(d.get<std::string>());
  }
  const Json& inputs = Field(spec, "inputs");
  for (const char* kind : {"parameters", "artifacts"}) {
    const Json& group = Field(inputs, kind);
    if (!group.is_object()) continue;
    for (auto it = group.begin(); it != group.end(); ++it) {
      for (const char* ref : {"taskOutputParameter", "taskOutputArtifact", "taskFinalStatus"}) {
        std::string p = Str(Field(it.value(), ref), "producerTask");
        if (!p.empty()) deps.insert(p);
      }
    }
  }
  return {deps.begin(), deps.end()};
}

bool RunReconciler::ProcessDag(Ctx& c, const std::string& dag_id, const std::string& comp_name,
                               const Json& dag_inputs) {
  RunModel& m = *c.model;
  const Json& comp = comp_name == "root" ? c.plan->ir["root"] : c.plan->ir["components"][comp_name];
  const Json& tasks = Field(Field(comp, "dag"), "tasks");
  auto order = c.plan->order.find(comp_name);
  if (order == c.plan->order.end()) return true;
  bool all_final = true;
  for (const std::string& key : order->second) {
    const Json& spec = tasks[key];
    const std::string id = dag_id.empty() ? key : dag_id + "." + key;
    const std::string child_comp = StringAt(spec, "componentRef.name");
    TaskRun* t = m.Find(id);
    if (t == nullptr) {
      std::string display = StringAt(spec, "taskInfo.name");
      if (display.empty()) display = key;
      if (c.canceling) {
        TaskRun& nt = m.Add(id, dag_id, key, display, "container");
        nt.state = "CANCELED";
        nt.message = "not started: " + m.cancel_reason;
        continue;
      }
      // Wait for upstream tasks; note whether any of them did not succeed.
      bool ready = true;
      std::string failed_upstream;
      for (const std::string& d : Upstream(spec)) {
        const TaskRun* u = m.Find(dag_id.empty() ? d : dag_id + "." + d);
        if (u == nullptr || !IsFinal(u->state)) {
          ready = false;
          break;
        }
        if (failed_upstream.empty() && (u->state == "FAILED" || u->state == "CANCELED" ||
                                        (u->state == "SKIPPED" && u->upstream_failed))) {
          failed_upstream = u->display;
        }
      }
      if (!ready) {
        all_final = false;
        continue;
      }
      const Json& child = Field(Field(c.plan->ir, "components"), child_comp.c_str());
      std::string kind = "container";
      if (!Field(child, "dag").is_null()) {
        kind = (spec.contains("parameterIterator") || spec.contains("artifactIterator")) ? "loop"
                                                                                         : "dag";
      } else {
        const Json& exec = Field(Field(Field(c.plan->ir, "deploymentSpec"), "executors"),
                                 Str(child, "executorLabel").c_str());
        if (exec.contains("importer")) kind = "importer";
      }
      TaskRun& nt = m.Add(id, dag_id, key, display, kind);
      nt.start_ms = c.now_ms;
      const std::string strategy = StringAt(spec, "triggerPolicy.strategy");
      if (!failed_upstream.empty() && strategy != "ALL_UPSTREAM_TASKS_COMPLETED") {
        nt.state = "SKIPPED";
        nt.upstream_failed = true;
        nt.end_ms = c.now_ms;
        nt.message = "not run: upstream task " + failed_upstream + " did not succeed";
        if (options_.metrics) options_.metrics->TaskFinished("SKIPPED");
        continue;
      }
      std::string item_input = StringAt(spec, "parameterIterator.itemInput");
      if (item_input.empty()) item_input = StringAt(spec, "artifactIterator.itemInput");
      auto inputs = ResolveInputs(c, dag_id, spec, dag_inputs, child, item_input, id);
      if (!inputs.ok()) {
        Finish(c, nt, "FAILED", inputs.status().message());
        continue;
      }
      nt.inputs = std::move(*inputs);
      const std::string condition = StringAt(spec, "triggerPolicy.condition");
      if (!condition.empty()) {
        Json bound{{"parameter_values", nt.inputs["parameters"]},
                   {"artifacts", nt.inputs["artifacts"]}};
        auto holds = EvaluateCondition(condition, bound);
        if (!holds.ok()) {
          Finish(c, nt, "FAILED", "condition: " + holds.status().message());
          continue;
        }
        if (!*holds) {
          nt.state = "SKIPPED";
          nt.end_ms = c.now_ms;
          nt.message = "condition is false: " + condition;
          if (options_.metrics) options_.metrics->TaskFinished("SKIPPED");
          continue;
        }
      }
      StartTask(c, nt, spec, child_comp);
      t = m.Find(id);
    }
    if (!IsFinal(t->state)) Advance(c, *t, spec, child_comp);
    if (!IsFinal(t->state)) all_final = false;
  }
  return all_final;
}

void RunReconciler::StartTask(Ctx& c, TaskRun& t, const Json& spec, const std::string& comp_name) {
  const Json& comp = c.plan->ir["components"][comp_name];
  t.state = "RUNNING";
  t.cache_enabled = Field(Field(spec, "cachingOptions"), "enableCache").is_boolean() &&
                    spec["cachingOptions"]["enableCache"].get<bool>();
  t.retry_policy = Field(spec, "retryPolicy");
  t.max_retries = Field(t.retry_policy, "maxRetryCount").is_number()
                      ? t.retry_policy["maxRetryCount"].get<int>()
                      : 0;
  const Json& oparams = Field(Field(comp, "outputDefinitions"), "parameters");
  if (oparams.is_object()) {
    for (auto it = oparams.begin(); it != oparams.end(); ++it) {
      t.output_types[it.key()] = Str(it.value(), "parameterType");
    }
  }
  if (t.kind == "dag") return;  // children start on this same pass (Advance)
  if (t.kind == "loop") {
    // The items: a raw JSON list, or one of the loop task's inputs.
    Json items;
    if (spec.contains("parameterIterator")) {
      const Json& it = spec["parameterIterator"];
      const Json& src = Field(it, "items");
      if (src.contains("raw")) {
        const Json& raw = src["raw"];
        if (raw.is_string()) {
          auto parsed = ParseJson(raw.get<std::string>());
          if (parsed.ok()) items = *parsed;
        } else {
          items = raw;
        }
      } else {
        const std::string in = Str(src, "inputParameter");
        const Json& v = Field(t.inputs["parameters"], in.c_str());
        if (v.is_string()) {
          auto parsed = ParseJson(v.get<std::string>());
          if (parsed.ok()) items = *parsed;
        } else {
          items = v;
        }
      }
      t.item_input = Str(it, "itemInput");
    } else {
      const Json& it = spec["artifactIterator"];
      const std::string in = StringAt(it, "items.inputArtifact");
      items = Field(t.inputs["artifacts"], in.c_str());
      t.item_input = Str(it, "itemInput");
      t.artifact_items = true;
    }
    if (!items.is_array()) {
      Finish(c, t, "FAILED", "ParallelFor items are not a list: " + items.dump());
      return;
    }
    t.items = items;
    // parallelismLimit: an int32 (a string in proto3 JSON); 0 or absent means no limit.
    const Json* limit = FindPath(spec, "iteratorPolicy.parallelismLimit");
    auto parsed = limit ? Coerce(*limit, "NUMBER_INTEGER", "parallelismLimit") : StatusOr<Json>(0);
    t.parallelism = parsed.ok() ? parsed->get<int64_t>() : 0;
    return;
  }
  const std::string label = Str(comp, "executorLabel");
  const Json& executor =
      Field(Field(Field(c.plan->ir, "deploymentSpec"), "executors"), label.c_str());
  if (executor.contains("importer")) {
    RunImporter(c, t, executor["importer"]);
  } else if (executor.contains("container")) {
    StartContainer(c, t, comp, executor["container"], label);
  } else {
    Finish(c, t, "FAILED",
           "executor " + label + " is not a container or an importer; skiff cannot run it");
  }
}

void RunReconciler::Advance(Ctx& c, TaskRun& t, const Json& spec, const std::string& comp_name) {
  if (t.kind == "container") {
    CheckPod(c, t);
  } else if (t.kind == "dag") {
    if (ProcessDag(c, t.id, comp_name, t.inputs)) FinishGroup(c, t, comp_name, false);
  } else if (t.kind == "loop") {
    AdvanceLoop(c, t, comp_name);
  }
}

void RunReconciler::AdvanceLoop(Ctx& c, TaskRun& t, const std::string& comp_name) {
  RunModel& m = *c.model;
  const size_t n = t.items.size();
  int64_t running = 0;
  bool all_final = true;
  for (size_t i = 0; i < n; ++i) {
    const std::string id = t.id + "." + std::to_string(i);
    TaskRun* it = m.Find(id);
    if (it == nullptr) {
      if (c.canceling) continue;
      if (t.parallelism > 0 && running >= t.parallelism) {
        all_final = false;
        continue;
      }
      TaskRun& nt =
          m.Add(id, t.id, std::to_string(i), t.display + "-" + std::to_string(i), "iteration");
      nt.start_ms = c.now_ms;
      nt.state = "RUNNING";
      nt.inputs = t.inputs;
      if (t.artifact_items) {
        nt.inputs["artifacts"][t.item_input] = Json::array({t.items[i]});
      } else {
        nt.inputs["parameters"][t.item_input] = t.items[i];
      }
      it = m.Find(id);
    }
    if (!IsFinal(it->state)) {
      if (ProcessDag(c, it->id, comp_name, it->inputs)) FinishGroup(c, *it, comp_name, false);
    }
    if (!IsFinal(it->state)) {
      ++running;
      all_final = false;
    }
  }
  if (all_final) FinishGroup(c, t, comp_name, true);
}

// The value one task input takes in the DAG instance `dag_id`.
StatusOr<Json> RunReconciler::ResolveInputs(Ctx& c, const std::string& dag_id, const Json& spec,
                                            const Json& dag_inputs, const Json& comp,
                                            const std::string& item_input,
                                            const std::string& task_id) {
  RunModel& m = *c.model;
  Json out = EmptyIo();
  auto producer = [&](const std::string& key) -> const TaskRun* {
    return m.Find(dag_id.empty() ? key : dag_id + "." + key);
  };
  const Json& params = Field(Field(spec, "inputs"), "parameters");
  if (params.is_object()) {
    for (auto it = params.begin(); it != params.end(); ++it) {
      const Json& p = it.value();
      Json value;
      bool present = false;
      if (p.contains("componentInputParameter")) {
        const Json& v = Field(dag_inputs["parameters"], Str(p, "componentInputParameter").c_str());
        if (!v.is_null() || dag_inputs["parameters"].contains(Str(p, "componentInputParameter"))) {
          value = v;
          present = true;
        }
      } else if (p.contains("taskOutputParameter")) {
        const TaskRun* u = producer(StringAt(p, "taskOutputParameter.producerTask"));
        const std::string key = StringAt(p, "taskOutputParameter.outputParameterKey");
        if (u != nullptr && u->outputs["parameters"].contains(key)) {
          value = u->outputs["parameters"][key];
          present = true;
        }
      } else if (p.contains("runtimeValue")) {
        const Json& rv = p["runtimeValue"];
        if (rv.contains("constant")) {
          value = rv["constant"];
          present = true;
        } else if (rv.contains("constantValue")) {
          const Json& cv = rv["constantValue"];
          for (const char* k : {"stringValue", "intValue", "doubleValue"}) {
            if (cv.contains(k)) value = cv[k];
          }
          present = true;
        }
      } else if (p.contains("taskFinalStatus")) {
        const TaskRun* u = producer(StringAt(p, "taskFinalStatus.producerTask"));
        if (u != nullptr) {
          // As KFP's driver reports it: ML Metadata's execution state (COMPLETE, FAILED, ...)
          // and the task's name in its DAG.
          const std::string state = u->state == "SUCCEEDED" ? "COMPLETE" : u->state;
          value = Json{{"state", state},
                       {"pipelineJobResourceName", c.name},
                       {"pipelineTaskName", u->key},
                       {"error", u->state == "FAILED" ? Json{{"code", 2}, {"message", u->message}}
                                                      : Json::object()}};
          present = true;
        }
      }
      if (present && p.contains("parameterExpressionSelector")) {
        auto v = EvaluateExpression(Str(p, "parameterExpressionSelector"), SelectorBindings(value));
        if (!v.ok()) return Status::Invalid("input " + it.key() + ": " + v.status().message());
        value = *v;
      }
      if (present) out["parameters"][it.key()] = value;
    }
  }
  // A constant may name the task's other inputs (`"Hello {{$.inputs.parameters['name']}}"`),
  // as KFP's driver resolves it.
  if (params.is_object()) {
    for (auto it = params.begin(); it != params.end(); ++it) {
      const Json& v = Field(out["parameters"], it.key().c_str());
      if (!it.value().contains("runtimeValue") || !v.is_string() ||
          v.get<std::string>().find("{{$") == std::string::npos) {
        continue;
      }
      PlaceholderContext pc = PipelinePlaceholders(c, task_id, StringAt(spec, "taskInfo.name"));
      pc.executor_input = Json{{"inputs", {{"parameterValues", out["parameters"]}}}};
      auto resolved = ResolveString(v.get<std::string>(), pc);
      if (!resolved.ok()) {
        return Status::Invalid("input " + it.key() + ": " + resolved.status().message());
      }
      out["parameters"][it.key()] = *resolved;
    }
  }
  const Json& arts = Field(Field(spec, "inputs"), "artifacts");
  if (arts.is_object()) {
    for (auto it = arts.begin(); it != arts.end(); ++it) {
      const Json& a = it.value();
      if (a.contains("componentInputArtifact")) {
        const std::string key = Str(a, "componentInputArtifact");
        if (dag_inputs["artifacts"].contains(key)) {
          out["artifacts"][it.key()] = dag_inputs["artifacts"][key];
        }
      } else if (a.contains("taskOutputArtifact")) {
        const TaskRun* u = producer(StringAt(a, "taskOutputArtifact.producerTask"));
        const std::string key = StringAt(a, "taskOutputArtifact.outputArtifactKey");
        if (u != nullptr && u->outputs["artifacts"].contains(key)) {
          out["artifacts"][it.key()] = u->outputs["artifacts"][key];
        }
      }
    }
  }
  // Defaults, types and required inputs, as the component declares them.
  const Json& defs = Field(comp, "inputDefinitions");
  const Json& pdefs = Field(defs, "parameters");
  if (pdefs.is_object()) {
    for (auto it = pdefs.begin(); it != pdefs.end(); ++it) {
      const std::string type = Str(it.value(), "parameterType");
      if (it.key() == item_input) continue;
      if (!out["parameters"].contains(it.key())) {
        if (it.value().contains("defaultValue")) {
          out["parameters"][it.key()] = it.value()["defaultValue"];
        } else if (type == "TASK_FINAL_STATUS" || (Field(it.value(), "isOptional").is_boolean() &&
                                                   it.value()["isOptional"].get<bool>())) {
          continue;
        } else {
          return Status::Invalid("input parameter \"" + it.key() +
                                 "\" has no value (its producer did not run or did not set it)");
        }
        continue;
      }
      auto coerced = Coerce(out["parameters"][it.key()], type, "input \"" + it.key() + "\"");
      if (!coerced.ok()) return coerced.status();
      out["parameters"][it.key()] = *coerced;
    }
  }
  const Json& adefs = Field(defs, "artifacts");
  if (adefs.is_object()) {
    for (auto it = adefs.begin(); it != adefs.end(); ++it) {
      if (out["artifacts"].contains(it.key()) || it.key() == item_input) continue;
      if (Field(it.value(), "isOptional").is_boolean() && it.value()["isOptional"].get<bool>()) {
        continue;
      }
      return Status::Invalid("input artifact \"" + it.key() +
                             "\" has no value (its producer did not run or did not produce it)");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Containers and importers

std::string RunReconciler::TaskDir(Ctx& c, const TaskRun& t) const {
  return LocalArtifactPath(options_.data_dir, ArtifactUri(c, t, ""));
}

std::string RunReconciler::ArtifactUri(Ctx& c, const TaskRun& t, const std::string& key) const {
  const RunModel& m = *c.model;
  std::string uri = m.pipeline_root + "/" + c.ns + "/" + DnsLabel(m.pipeline_name, 100) + "/" +
                    c.uid + "/" + t.id;
  if (!key.empty()) uri += "/" + key;
  return uri;
}

void RunReconciler::RunImporter(Ctx& c, TaskRun& t, const Json& importer) {
  std::string uri;
  const Json& src = Field(importer, "artifactUri");
  if (src.contains("constant")) {
    uri = src["constant"].is_string() ? src["constant"].get<std::string>() : "";
  } else if (src.contains("runtimeParameter")) {
    const Json& v = Field(t.inputs["parameters"], Str(src, "runtimeParameter").c_str());
    if (v.is_string()) uri = v.get<std::string>();
  } else if (src.contains("constantValue")) {
    uri = StringAt(src, "constantValue.stringValue");
  }
  if (uri.empty()) {
    Finish(c, t, "FAILED", "importer: no artifact URI (artifactUri is empty)");
    return;
  }
  Json metadata = Field(importer, "metadata");
  if (!metadata.is_object()) metadata = Json::object();
  Json artifact{{"name", "artifact"},
                {"uri", uri},
                {"type", {{"schemaTitle", StringAt(importer, "typeSchema.schemaTitle")}}},
                {"metadata", metadata}};
  t.outputs["artifacts"]["artifact"] = Json::array({artifact});
  Finish(c, t, "SUCCEEDED", "");
}

void RunReconciler::StartContainer(Ctx& c, TaskRun& t, const Json& comp, const Json& container,
                                   const std::string& exec_label) {
  t.exec_label = exec_label;
  const std::string dir = TaskDir(c, t);
  // The executor input: resolved inputs plus where outputs go.
  Json ei{{"inputs", {{"parameterValues", t.inputs["parameters"]}, {"artifacts", Json::object()}}},
          {"outputs",
           {{"parameters", Json::object()},
            {"artifacts", Json::object()},
            {"outputFile", dir + "/.outputs/executor_output.json"}}}};
  for (auto it = t.inputs["artifacts"].begin(); it != t.inputs["artifacts"].end(); ++it) {
    ei["inputs"]["artifacts"][it.key()] = Json{{"artifacts", it.value()}};
  }
  const Json& odefs = Field(comp, "outputDefinitions");
  const Json& oparams = Field(odefs, "parameters");
  if (oparams.is_object()) {
    for (auto it = oparams.begin(); it != oparams.end(); ++it) {
      ei["outputs"]["parameters"][it.key()] = Json{{"outputFile", dir + "/.outputs/" + it.key()}};
    }
  }
  const Json& oarts = Field(odefs, "artifacts");
  if (oarts.is_object()) {
    for (auto it = oarts.begin(); it != oarts.end(); ++it) {
      Json a{{"name", it.key()},
             {"uri", ArtifactUri(c, t, it.key())},
             {"type", {{"schemaTitle", StringAt(it.value(), "artifactType.schemaTitle")}}},
             {"metadata", Json::object()}};
      ei["outputs"]["artifacts"][it.key()] = Json{{"artifacts", Json::array({a})}};
    }
  }
  t.executor_input = ei;

  // The cache key: what the executor runs and on which inputs, as KFP computes it.
  if (t.cache_enabled && !c.cache_disabled && options_.lineage != nullptr) {
    Json key{{"image", Field(container, "image")}, {"command", Field(container, "command")},
             {"args", Field(container, "args")},   {"env", Field(container, "env")},
             {"inputs", t.inputs["parameters"]},   {"outputs", odefs},
             {"artifacts", Json::object()}};
    for (auto it = t.inputs["artifacts"].begin(); it != t.inputs["artifacts"].end(); ++it) {
      Json uris = Json::array();
      for (const Json& a : it.value()) uris.push_back(Field(a, "uri"));
      key["artifacts"][it.key()] = uris;
    }
    t.fingerprint = pki::Sha256Hex(key.dump());
    auto hit = options_.lineage->FindCached(c.ns, t.fingerprint);
    bool usable = hit.ok() && hit->has_value();
    if (usable) {
      // Reuse only when the artifacts are still there.
      for (const ArtifactRecord& a : (*hit)->outputs) {
        std::error_code ec;
        if (!fs::exists(LocalArtifactPath(options_.data_dir, a.uri), ec)) usable = false;
      }
    }
    if (options_.metrics) options_.metrics->CacheLookup(usable);
    if (usable) {
      const ExecutionRecord& rec = **hit;
      t.outputs["parameters"] = rec.output_parameters;
      for (const ArtifactRecord& a : rec.outputs) {
        t.outputs["artifacts"][a.key].push_back(Json{{"name", a.name},
                                                     {"uri", a.uri},
                                                     {"type", {{"schemaTitle", a.type}}},
                                                     {"metadata", a.metadata}});
      }
      t.cached = true;
      t.cached_from = rec.id;
      t.message = "outputs reused from execution " + std::to_string(rec.id) + " (run " +
                  rec.run_name + ", task " + rec.task + ")";
      Finish(c, t, "CACHED", t.message);
      return;
    }
  }
  if (Status s = CreatePod(c, t); !s.ok()) Finish(c, t, "FAILED", s.message());
}

PlaceholderContext RunReconciler::PipelinePlaceholders(Ctx& c, const std::string& task_id,
                                                       const std::string& task_name) const {
  PlaceholderContext pc;
  pc.pipeline_job_name = c.name;
  pc.pipeline_job_resource_name = c.name;
  pc.pipeline_job_uuid = c.uid;
  pc.pipeline_task_name = task_name;
  pc.pipeline_task_uuid = pki::Sha256Hex(c.uid + "/" + task_id).substr(0, 32);
  pc.pipeline_root = c.model->pipeline_root;
  pc.pipeline_job_create_time = StringAt(*c.run, "metadata.creationTimestamp");
  pc.pipeline_job_schedule_time = pc.pipeline_job_create_time;
  const std::string data_dir = options_.data_dir;
  pc.local_path = [data_dir](const std::string& uri) { return LocalArtifactPath(data_dir, uri); };
  return pc;
}

Status RunReconciler::CreatePod(Ctx& c, TaskRun& t) {
  RunModel& m = *c.model;
  const Json& executor = c.plan->ir["deploymentSpec"]["executors"][t.exec_label];
  const Json& container = executor["container"];
  const std::string dir = TaskDir(c, t);
  std::error_code ec;
  fs::create_directories(dir + "/.outputs", ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  // Output parameter files of an earlier attempt must not count for this one.
  for (auto it = t.executor_input["outputs"]["parameters"].begin();
       it != t.executor_input["outputs"]["parameters"].end(); ++it) {
    fs::remove(Str(it.value(), "outputFile"), ec);
  }
  fs::remove(Str(t.executor_input["outputs"], "outputFile"), ec);

  PlaceholderContext pc = PipelinePlaceholders(c, t.id, t.display);
  pc.executor_input = t.executor_input;
  auto command = ResolveArguments(
      Field(container, "command").is_array() ? container["command"] : Json::array(), pc);
  if (!command.ok()) return Status::Invalid("command: " + command.status().message());
  auto args =
      ResolveArguments(Field(container, "args").is_array() ? container["args"] : Json::array(), pc);
  if (!args.ok()) return Status::Invalid("args: " + args.status().message());
  t.command = *command;
  t.command.insert(t.command.end(), args->begin(), args->end());

  Json main{{"name", "main"}, {"image", Str(container, "image")}};
  if (!command->empty()) main["command"] = *command;
  if (!args->empty()) main["args"] = *args;
  Json env = Json::array();
  for (const Json& e : Field(container, "env")) {
    auto v = ResolveString(Str(e, "value"), pc);
    if (!v.ok()) return Status::Invalid("env " + Str(e, "name") + ": " + v.status().message());
    env.push_back(Json{{"name", Str(e, "name")}, {"value", *v}});
  }
  // Resources: the IR's numeric and string forms.
  const Json& res = Field(container, "resources");
  Json limits = Json::object(), requests = Json::object();
  auto num = [](const Json& v) -> std::string {
    std::ostringstream o;
    o << v.get<double>();
    return o.str();
  };
  if (res.is_object()) {
    if (res.contains("resourceCpuLimit"))
      limits["cpu"] = res["resourceCpuLimit"];
    else if (Field(res, "cpuLimit").is_number())
      limits["cpu"] = num(res["cpuLimit"]);
    if (res.contains("resourceMemoryLimit"))
      limits["memory"] = res["resourceMemoryLimit"];
    else if (Field(res, "memoryLimit").is_number())
      limits["memory"] = num(res["memoryLimit"]) + "G";
    if (res.contains("resourceCpuRequest"))
      requests["cpu"] = res["resourceCpuRequest"];
    else if (Field(res, "cpuRequest").is_number())
      requests["cpu"] = num(res["cpuRequest"]);
    if (res.contains("resourceMemoryRequest"))
      requests["memory"] = res["resourceMemoryRequest"];
    else if (Field(res, "memoryRequest").is_number())
      requests["memory"] = num(res["memoryRequest"]) + "G";
    const Json& acc = Field(res, "accelerator");
    std::string acc_type = Str(acc, "resourceType");
    if (acc_type.empty()) acc_type = Str(acc, "type");
    Json count = acc.contains("resourceCount") ? acc["resourceCount"] : Field(acc, "count");
    if (!acc_type.empty() && !count.is_null()) {
      std::string k = acc_type.find('/') == std::string::npos ? "nvidia.com/gpu" : acc_type;
      limits[k] = count.is_string() ? count.get<std::string>() : count.dump();
    }
  }
  Json resources = Json::object();
  if (!limits.empty()) resources["limits"] = limits;
  if (!requests.empty()) resources["requests"] = requests;
  if (!resources.empty()) main["resources"] = resources;

  // Volumes: the task's own directory read-write, input artifacts read-only, at their host paths.
  Json volumes = Json::array(), mounts = Json::array();
  std::set<std::string> mounted;
  auto mount = [&](const std::string& path, bool read_only, const std::string& at,
                   const std::string& type) {
    if (mounted.count(at)) return;
    mounted.insert(at);
    const std::string vname = "kfp-" + std::to_string(volumes.size());
    Json hp{{"path", path}};
    if (!type.empty()) hp["type"] = type;
    volumes.push_back(Json{{"name", vname}, {"hostPath", hp}});
    Json vm{{"name", vname}, {"mountPath", at}};
    if (read_only) vm["readOnly"] = true;
    mounts.push_back(vm);
  };
  mount(dir, false, dir, "DirectoryOrCreate");
  for (auto it = t.inputs["artifacts"].begin(); it != t.inputs["artifacts"].end(); ++it) {
    for (const Json& a : it.value()) {
      const std::string p = LocalArtifactPath(options_.data_dir, Str(a, "uri"));
      if (p.empty() || StartsWith(p, dir + "/")) continue;
      if (fs::exists(p, ec)) mount(p, true, p, "");
    }
  }
  // Seed-format outputs with a fixed path: the artifact's directory appears there.
  const Json& fixed = Field(container, "skiffArtifactPaths");
  if (fixed.is_object()) {
    for (auto it = fixed.begin(); it != fixed.end(); ++it) {
      const std::string p = LocalArtifactPath(options_.data_dir, ArtifactUri(c, t, it.key()));
      fs::create_directories(p, ec);
      if (it.value().is_string()) mount(p, false, it.value().get<std::string>(), "Directory");
    }
  }

  // ... and output parameters with a fixed path: their file, bound there.
  const Json& fixed_params = Field(container, "skiffParameterPaths");
  if (fixed_params.is_object()) {
    for (auto it = fixed_params.begin(); it != fixed_params.end(); ++it) {
      const std::string file = dir + "/.outputs/" + it.key();
      if (!it.value().is_string()) continue;
      if (Status s = WriteFileAtomic(file, "", 0644); !s.ok()) return s;
      mount(file, false, it.value().get<std::string>(), "File");
    }
  }

  Json pod_meta{
      {"name", ""},
      {"namespace", c.ns},
      {"labels",
       {{kRunLabel, DnsLabel(c.name, 63)},
        {kTaskLabel, DnsLabel(t.display, 63)},
        {"pipelines.kubeflow.org/v2_component", "true"}}},
      {"annotations",
       {{"pipelines.kubeflow.org/task-id", t.id}, {"pipelines.kubeflow.org/run-uid", c.uid}}},
      {"ownerReferences", Json::array({Json{{"apiVersion", "kubeflow.org/v2beta1"},
                                            {"kind", "PipelineRun"},
                                            {"name", c.name},
                                            {"uid", c.uid},
                                            {"controller", true},
                                            {"blockOwnerDeletion", true}}})}};
  Json pod_spec{{"restartPolicy", "Never"}, {"containers", Json::array()}};
  const std::string sa = StringAt(*c.run, "spec.serviceAccountName");
  if (!sa.empty()) pod_spec["serviceAccountName"] = sa;

  // kfp-kubernetes platform settings for this executor.
  const Json& ps =
      Field(Field(Field(c.plan->platform, "deploymentSpec"), "executors"), t.exec_label.c_str());
  if (ps.is_object()) {
    const Json& pm = Field(ps, "podMetadata");
    for (const char* k : {"labels", "annotations"}) {
      const Json& kv = Field(pm, k);
      if (kv.is_object()) {
        for (auto it = kv.begin(); it != kv.end(); ++it) pod_meta[k][it.key()] = it.value();
      }
    }
    for (const Json& s : Field(ps, "secretAsEnv")) {
      std::string secret = Str(s, "secretName");
      if (secret.empty()) secret = StringAt(s, "secretNameParameter.runtimeValue.constant");
      for (const Json& k : Field(s, "keyToEnv")) {
        env.push_back(Json{
            {"name", Str(k, "envVar")},
            {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", Str(k, "secretKey")}}}}}});
      }
    }
    for (const Json& s : Field(ps, "configMapAsEnv")) {
      std::string cm = Str(s, "configMapName");
      for (const Json& k : Field(s, "keyToEnv")) {
        env.push_back(Json{
            {"name", Str(k, "envVar")},
            {"valueFrom", {{"configMapKeyRef", {{"name", cm}, {"key", Str(k, "configMapKey")}}}}}});
      }
    }
    for (const Json& f : Field(ps, "fieldPathAsEnv")) {
      env.push_back(Json{{"name", Str(f, "name")},
                         {"valueFrom", {{"fieldRef", {{"fieldPath", Str(f, "fieldPath")}}}}}});
    }
    int n = 0;
    for (const Json& s : Field(ps, "secretAsVolume")) {
      std::string secret = Str(s, "secretName");
      if (secret.empty()) secret = StringAt(s, "secretNameParameter.runtimeValue.constant");
      const std::string vname = "secret-" + std::to_string(n++);
      Json sv{{"secretName", secret}};
      if (Field(s, "optional").is_boolean()) sv["optional"] = s["optional"];
      volumes.push_back(Json{{"name", vname}, {"secret", sv}});
      mounts.push_back(Json{{"name", vname}, {"mountPath", Str(s, "mountPath")}});
    }
    for (const Json& s : Field(ps, "configMapAsVolume")) {
      const std::string vname = "configmap-" + std::to_string(n++);
      Json cv{{"name", Str(s, "configMapName")}};
      if (Field(s, "optional").is_boolean()) cv["optional"] = s["optional"];
      volumes.push_back(Json{{"name", vname}, {"configMap", cv}});
      mounts.push_back(Json{{"name", vname}, {"mountPath", Str(s, "mountPath")}});
    }
    for (const Json& p : Field(ps, "pvcMount")) {
      std::string claim = Str(p, "constant");
      if (claim.empty()) claim = StringAt(p, "pvcNameParameter.runtimeValue.constant");
      if (claim.empty()) {
        const std::string in = StringAt(p, "pvcNameParameter.componentInputParameter");
        const Json& v = Field(t.inputs["parameters"], in.c_str());
        if (v.is_string()) claim = v.get<std::string>();
      }
      if (claim.empty()) continue;
      const std::string vname = "pvc-" + std::to_string(n++);
      volumes.push_back(Json{{"name", vname}, {"persistentVolumeClaim", {{"claimName", claim}}}});
      mounts.push_back(Json{{"name", vname}, {"mountPath", Str(p, "mountPath")}});
    }
    const Json& selector = Field(Field(ps, "nodeSelector"), "labels");
    if (selector.is_object() && !selector.empty()) pod_spec["nodeSelector"] = selector;
    if (Field(ps, "tolerations").is_array()) pod_spec["tolerations"] = ps["tolerations"];
    if (Field(ps, "activeDeadlineSeconds").is_number()) {
      pod_spec["activeDeadlineSeconds"] = ps["activeDeadlineSeconds"];
    }
    if (Field(ps, "imagePullPolicy").is_string()) main["imagePullPolicy"] = ps["imagePullPolicy"];
  }
  if (!env.empty()) main["env"] = env;
  main["volumeMounts"] = mounts;
  pod_spec["containers"].push_back(main);
  pod_spec["volumes"] = volumes;

  ++t.attempts;
  std::string pod_name = DnsLabel(c.name + "-" + t.id, 63);
  if (m.retry_count > 0 || t.attempts > 1) {
    pod_name = DnsLabel(c.name + "-" + t.id, 50) + "-r" + std::to_string(m.retry_count) + "-" +
               std::to_string(t.attempts);
  }
  pod_meta["name"] = pod_name;
  Json pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", pod_meta}, {"spec", pod_spec}};
  c.pods_to_create.emplace_back(&t, std::move(pod));
  t.pod = pod_name;
  t.pod_seen = false;
  t.pod_created_ms = c.now_ms;
  t.retry_at_ms = 0;
  return Status::Ok();
}

void RunReconciler::CreatePods(Ctx& c) {
  auto& list = c.pods_to_create;
  std::vector<Status> results(list.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < list.size();) {
      auto created = client_->Create(kPods, c.ns, list[i].second);
      if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
        results[i] = created.status();
      }
    }
  };
  // Each create waits on the store's group commit: a few in flight share one commit.
  const size_t helpers = std::min<size_t>(3, list.size() / 8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < helpers; ++i) threads.emplace_back(work);
  work();
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < list.size(); ++i) {
    if (results[i].ok()) continue;
    TaskRun& t = *list[i].first;
    Finish(c, t, "FAILED", "creating Pod " + t.pod + ": " + results[i].message());
  }
  list.clear();
}

void RunReconciler::CheckPod(Ctx& c, TaskRun& t) {
  if (t.retry_at_ms > 0) {
    if (c.canceling) {
      Finish(c, t, "CANCELED", c.model->cancel_reason);
      return;
    }
    if (c.now_ms < t.retry_at_ms) {
      c.WakeAt(t.retry_at_ms);
      return;
    }
    if (Status s = CreatePod(c, t); !s.ok()) Finish(c, t, "FAILED", s.message());
    return;
  }
  ObjectPtr pod = pods_->Get(c.ns, t.pod);
  if (pod == nullptr) {
    if (t.pod_seen || c.now_ms - t.pod_created_ms > 30000) {
      // Not in the cache after we saw it (or long after creating it): ask the server.
      auto live = client_->Get(kPods, c.ns, t.pod);
      if (!live.ok() && live.status().code() == Code::kNotFound) {
        Finish(c, t, c.canceling ? "CANCELED" : "FAILED",
               c.canceling ? c.model->cancel_reason : "Pod " + t.pod + " was deleted");
        return;
      }
    }
    c.WakeAt(c.now_ms + 1000);
    return;
  }
  t.pod_seen = true;
  const std::string phase = StringAt(*pod, "status.phase");
  if (c.canceling) {
    if (phase == "Succeeded" || phase == "Failed") {
      Finish(c, t, "CANCELED", c.model->cancel_reason);
      return;
    }
    if (StringAt(*pod, "metadata.deletionTimestamp").empty()) {
      auto deleted = client_->Delete(kPods, c.ns, t.pod, {});
      if (!deleted.ok() && deleted.status().code() == Code::kNotFound) {
        Finish(c, t, "CANCELED", c.model->cancel_reason);
        return;
      }
    }
    c.WakeAt(c.now_ms + 1000);
    return;
  }
  if (phase == "Succeeded") {
    CollectOutputs(c, t);
    return;
  }
  if (phase != "Failed") return;  // Pending or Running: the Pod's next update wakes us
  // Why it failed, as kubectl would say it.
  std::string why = StringAt(*pod, "status.message");
  const Json* statuses = FindPath(*pod, "status.containerStatuses");
  if (statuses && statuses->is_array() && !statuses->empty()) {
    const Json& term = Field(Field((*statuses)[0], "state"), "terminated");
    if (term.is_object()) {
      why = "exit code " + Field(term, "exitCode").dump();
      if (!Str(term, "reason").empty()) why += " (" + Str(term, "reason") + ")";
      if (!Str(term, "message").empty()) why += ": " + Str(term, "message");
    }
  }
  if (why.empty()) why = StringAt(*pod, "status.reason");
  why = "Pod " + t.pod + " failed: " + why;
  if (t.attempts <= t.max_retries) {
    const Json& spec = t.retry_policy;
    int64_t wait = DurationMs(Field(spec, "backoffDuration"), 0);
    double factor =
        Field(spec, "backoffFactor").is_number() ? spec["backoffFactor"].get<double>() : 2.0;
    int64_t max_wait = DurationMs(Field(spec, "backoffMaxDuration"), 3600000);
    for (int i = 1; i < t.attempts; ++i) wait = static_cast<int64_t>(wait * factor);
    wait = std::min(wait, max_wait);
    t.message = why + "; attempt " + std::to_string(t.attempts) + " of " +
                std::to_string(t.max_retries + 1) + ", retrying" +
                (wait > 0 ? " in " + std::to_string(wait) + "ms" : "");
    t.retry_at_ms = c.now_ms + std::max<int64_t>(wait, 1);
    c.WakeAt(t.retry_at_ms);
    return;
  }
  Finish(c, t, "FAILED", why);
}

void RunReconciler::CollectOutputs(Ctx& c, TaskRun& t) {
  const Json& outs = t.executor_input["outputs"];
  Json eo;  // executor_output.json, when the program wrote one
  {
    auto text = ReadFile(Str(outs, "outputFile"));
    if (text.ok() && !Trim(*text).empty()) {
      auto parsed = ParseJson(*text);
      if (!parsed.ok()) {
        Finish(c, t, "FAILED",
               "executor output " + Str(outs, "outputFile") +
                   " is not JSON: " + parsed.status().message());
        return;
      }
      eo = *parsed;
    }
  }
  const Json& types = t.output_types;
  for (auto it = outs["parameters"].begin(); it != outs["parameters"].end(); ++it) {
    const std::string file = Str(it.value(), "outputFile");
    const std::string type = Str(types, it.key().c_str());
    if (eo.is_object() &&
        Field(Field(eo, "parameterValues"), it.key().c_str()).is_null() == false) {
      t.outputs["parameters"][it.key()] = eo["parameterValues"][it.key()];
      continue;
    }
    auto text = ReadFile(file);
    if (!text.ok()) {
      Finish(c, t, "FAILED", "output parameter \"" + it.key() + "\" was not written to " + file);
      return;
    }
    auto v = Coerce(Json(*text), type.empty() ? "STRING" : type,
                    "output parameter \"" + it.key() + "\"");
    if (!v.ok()) {
      Finish(c, t, "FAILED", v.status().message());
      return;
    }
    t.outputs["parameters"][it.key()] = *v;
  }
  for (auto it = outs["artifacts"].begin(); it != outs["artifacts"].end(); ++it) {
    Json list = Field(it.value(), "artifacts");
    const Json& written = Field(Field(Field(eo, "artifacts"), it.key().c_str()), "artifacts");
    if (written.is_array()) {
      for (size_t i = 0; i < list.size() && i < written.size(); ++i) {
        if (Field(written[i], "metadata").is_object()) {
          list[i]["metadata"].update(written[i]["metadata"]);
        }
        if (!Str(written[i], "uri").empty()) list[i]["uri"] = written[i]["uri"];
      }
    }
    t.outputs["artifacts"][it.key()] = list;
  }
  Finish(c, t, "SUCCEEDED", "");
}

void RunReconciler::Finish(Ctx& c, TaskRun& t, const std::string& state,
                           const std::string& message) {
  t.state = state;
  if (!message.empty() || state == "SUCCEEDED") t.message = message;
  t.end_ms = c.now_ms;
  if (options_.metrics) options_.metrics->TaskFinished(state);
  if (t.kind == "container" || t.kind == "importer") Record(c, t);
}

void RunReconciler::Record(Ctx& c, const TaskRun& t) {
  if (options_.lineage == nullptr) return;
  if (t.state != "SUCCEEDED" && t.state != "FAILED" && t.state != "CACHED" &&
      t.state != "CANCELED") {
    return;
  }
  ExecutionRecord r;
  r.type = t.kind == "importer" ? "system.ImporterExecution" : "system.ContainerExecution";
  r.state = t.state == "SUCCEEDED" ? "COMPLETE" : t.state;
  r.namespace_name = c.ns;
  r.pipeline = c.model->pipeline_name;
  r.run_name = c.name;
  r.run_uid = c.uid;
  r.task = t.id;
  r.pod = t.pod;
  if (!t.exec_label.empty()) {
    r.image = StringAt(c.plan->ir["deploymentSpec"]["executors"][t.exec_label], "container.image");
  }
  r.command = t.command;
  r.fingerprint = t.state == "SUCCEEDED" ? t.fingerprint : "";
  r.input_parameters = t.inputs["parameters"];
  r.output_parameters = t.outputs["parameters"];
  auto add = [](std::vector<ArtifactRecord>* to, const Json& group) {
    for (auto it = group.begin(); it != group.end(); ++it) {
      for (const Json& a : it.value()) {
        ArtifactRecord ar;
        ar.key = it.key();
        ar.name = Str(a, "name");
        ar.type = StringAt(a, "type.schemaTitle");
        ar.uri = Str(a, "uri");
        if (Field(a, "metadata").is_object()) ar.metadata = a["metadata"];
        to->push_back(std::move(ar));
      }
    }
  };
  add(&r.inputs, t.inputs["artifacts"]);
  add(&r.outputs, t.outputs["artifacts"]);
  r.start_ms = t.start_ms;
  r.end_ms = t.end_ms;
  r.cached_from = t.cached_from;
  auto id = options_.lineage->RecordExecution(r);
  if (!id.ok()) {
    SKIFF_LOG(Warn) << "lineage: recording " << c.ns << "/" << c.name << " task " << t.id << ": "
                    << id.status().message();
  }
}

Json RunReconciler::GroupOutputs(Ctx& c, const std::string& group_id, const Json& comp) {
  RunModel& m = *c.model;
  Json out = EmptyIo();
  const Json& outputs = Field(Field(comp, "dag"), "outputs");
  auto sub = [&](const std::string& key) -> const TaskRun* {
    return m.Find(group_id.empty() ? key : group_id + "." + key);
  };
  const Json& params = Field(outputs, "parameters");
  if (params.is_object()) {
    for (auto it = params.begin(); it != params.end(); ++it) {
      std::vector<Json> selectors;
      if (it.value().contains("valueFromParameter")) {
        selectors.push_back(it.value()["valueFromParameter"]);
      }
      for (const Json& s : Field(Field(it.value(), "valueFromOneof"), "parameterSelectors")) {
        selectors.push_back(s);
      }
      for (const Json& s : selectors) {
        const TaskRun* t = sub(Str(s, "producerSubtask"));
        const std::string key = Str(s, "outputParameterKey");
        if (t != nullptr && t->outputs["parameters"].contains(key)) {
          out["parameters"][it.key()] = t->outputs["parameters"][key];
          break;
        }
      }
    }
  }
  const Json& arts = Field(outputs, "artifacts");
  if (arts.is_object()) {
    for (auto it = arts.begin(); it != arts.end(); ++it) {
      for (const Json& s : Field(it.value(), "artifactSelectors")) {
        const TaskRun* t = sub(Str(s, "producerSubtask"));
        const std::string key = Str(s, "outputArtifactKey");
        if (t != nullptr && t->outputs["artifacts"].contains(key)) {
          out["artifacts"][it.key()] = t->outputs["artifacts"][key];
          break;
        }
      }
    }
  }
  return out;
}

void RunReconciler::FinishGroup(Ctx& c, TaskRun& t, const std::string& comp_name, bool loop) {
  RunModel& m = *c.model;
  const Json& comp = c.plan->ir["components"][comp_name];
  std::string state = "SUCCEEDED";
  std::string message;
  std::vector<const TaskRun*> children;
  for (const auto& ch : m.tasks) {
    if (ch->parent == t.id) children.push_back(ch.get());
  }
  for (const TaskRun* ch : children) {
    if (ch->state == "FAILED") {
      state = "FAILED";
      message = (loop ? "iteration " : "task ") + ch->display + " failed";
      break;
    }
    if (ch->state == "CANCELED") state = "CANCELED";
  }
  if (state == "SUCCEEDED") {
    if (loop) {
      // Collected: each output becomes the list of the iterations' values.
      Json out = EmptyIo();
      const Json& odefs = Field(comp, "outputDefinitions");
      for (const char* kind : {"parameters", "artifacts"}) {
        const Json& defs = Field(odefs, kind);
        if (!defs.is_object()) continue;
        for (auto it = defs.begin(); it != defs.end(); ++it) out[kind][it.key()] = Json::array();
      }
      for (const TaskRun* ch : children) {
        for (auto it = ch->outputs["parameters"].begin(); it != ch->outputs["parameters"].end();
             ++it) {
          out["parameters"][it.key()].push_back(it.value());
        }
        for (auto it = ch->outputs["artifacts"].begin(); it != ch->outputs["artifacts"].end();
             ++it) {
          for (const Json& a : it.value()) out["artifacts"][it.key()].push_back(a);
        }
      }
      t.outputs = out;
    } else {
      t.outputs = GroupOutputs(c, t.id, comp);
    }
  }
  t.state = state;
  t.message = message;
  t.end_ms = c.now_ms;
}

}  // namespace

std::string LocalArtifactPath(const std::string& data_dir, const std::string& uri) {
  if (StartsWith(uri, "file://")) return uri.substr(7);
  const size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  const std::string name = uri.substr(0, scheme);
  return data_dir + "/buckets/" + name + "/" + uri.substr(scheme + 3);
}

Status StartPipelineEngine(controllers::Manager& mgr, client::Client* client,
                           EngineOptions options) {
  const int workers = std::max(1, options.workers);
  mgr.NewController("pipelinerun")
      .For(kPipelineRuns)
      .Owns(kPods)
      .WithWorkers(workers)
      .Complete(std::make_unique<RunReconciler>(&mgr, client, std::move(options)));
  return Status::Ok();
}

}  // namespace skiff::pipelines
