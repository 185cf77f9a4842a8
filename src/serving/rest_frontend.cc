// Routing and the REST handlers; see rest_frontend.h.
#include "serving/rest_frontend.h"

#include <charconv>

#include "common/json.h"
#include "serving/codec.h"

namespace skiff::serving {
namespace {

static_assert(kBodyPadding >= kJsonPadding, "request bodies must be padded for the parsers");

constexpr const char* kServerName = "skiff-model-server";
constexpr const char* kServerVersion = "0.1.0";

struct RestInferRequest : InferRequest {
  Responder responder;
  bool v1 = false;
  std::optional<std::string> id;
  std::vector<RequestedOutput> requested;
  bool binary_default = false;
  const ModelMetadata* meta = nullptr;  // owned by the runner, which outlives its requests
  ModelStats* stats = nullptr;
  Clock::time_point received;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse Error(int status, std::string_view message) {
  return Json(status, ErrorJson(message));
}

HttpResponse Empty(int status) {
  HttpResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

// Path segments are percent-decoded one by one, so an encoded '/' stays inside its segment.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int v = 0;
    auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (r.ec != std::errc() || r.ptr != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> parts;
  while (!s.empty()) {
    size_t slash = s.find('/');
    parts.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) break;
    s.remove_prefix(slash + 1);
  }
  return parts;
}

skiff::Json SpecJson(const TensorSpec& s) {
  return {
      {"name", s.name}, {"datatype", std::string(DataTypeName(s.datatype))}, {"shape", s.shape}};
}

std::string ModelMetadataJson(const ModelMetadata& m) {
  skiff::Json j = {{"name", m.name},
                   {"versions", {m.version}},
                   {"platform", m.platform},
                   {"inputs", skiff::Json::array()},
                   {"outputs", skiff::Json::array()}};
  for (const auto& s : m.inputs) j["inputs"].push_back(SpecJson(s));
  for (const auto& s : m.outputs) j["outputs"].push_back(SpecJson(s));
  return j.dump();
}

}  // namespace

RestFrontend::RestFrontend(ModelRepository* repo, Metrics* metrics)
    : repo_(repo), metrics_(metrics), unrouted_(metrics->Unrouted()) {
  control_ = std::thread([this] { ControlLoop(); });
}

RestFrontend::~RestFrontend() {
  {
    std::lock_guard lock(control_mu_);
    control_stop_ = true;
  }
  control_cv_.notify_all();
  control_.join();
}

void RestFrontend::ControlLoop() {
  std::unique_lock lock(control_mu_);
  while (true) {
    control_cv_.wait(lock, [&] { return control_stop_ || !control_tasks_.empty(); });
    if (control_stop_) break;
    auto task = std::move(control_tasks_.front());
    control_tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
  // Dropped tasks destroy their Responders, which answer 500; say why instead.
  control_tasks_.clear();
}

void RestFrontend::RunControl(std::function<void()> task, Responder* responder_if_refused) {
  {
    std::lock_guard lock(control_mu_);
    if (!control_stop_) {
      control_tasks_.push_back(std::move(task));
      control_cv_.notify_one();
      return;
    }
  }
  responder_if_refused->Send(Error(503, "server is shutting down"));
}

void RestFrontend::Handle(const HttpRequest& req, Responder responder) {
  std::string_view path = req.path;
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  auto reply = [&](HttpResponse r) { responder.Send(std::move(r)); };
  auto method_not_allowed = [&](const char* allowed) {
    HttpResponse r = Error(405, std::string(req.method) + " is not allowed on " +
                                    std::string(path) + " (allowed: " + allowed + ")");
    r.headers.emplace_back("Allow", allowed);
    reply(std::move(r));
  };

  if (path == "/v2/health/live") {
    return get ? reply(Empty(200)) : method_not_allowed("GET");
  }
  if (path == "/v2/health/ready") {
    if (!get) return method_not_allowed("GET");
    return reply(Empty(startup_done_.load() && repo_->Ready() ? 200 : 503));
  }
  if (path == "/v2" || path == "/v2/") {
    if (!get) return method_not_allowed("GET");
    skiff::Json j = {{"name", kServerName},
                     {"version", kServerVersion},
                     {"extensions", {"binary_tensor_data", "model_repository"}}};
    return reply(Json(200, j.dump()));
  }
  if (path == "/metrics") {
    if (!get) return method_not_allowed("GET");
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = MetricsText();
    return reply(std::move(r));
  }
  if (path.starts_with("/v2/models/")) {
    std::vector<std::string> parts;
    for (auto p : Split(path.substr(11))) {
      auto d = PercentDecode(p);
      if (!d) return reply(Error(400, "bad percent-encoding in " + std::string(path)));
      parts.push_back(std::move(*d));
    }
    if (parts.empty() || parts[0].empty()) return reply(Error(404, "no model name in the path"));
    std::string name = parts[0];
    std::string version;
    size_t i = 1;
    if (parts.size() >= 3 && parts[1] == "versions") {
      version = parts[2];
      i = 3;
    }
    std::string action = i < parts.size() ? parts[i] : "";
    if (i + 1 < parts.size() || (i < parts.size() && action != "ready" && action != "infer")) {
      return reply(Error(404, "no route for " + std::string(path)));
    }
    if (action == "infer") {
      if (!post) return method_not_allowed("POST");
      return Infer(req, name, version, false, std::move(responder));
    }
    if (!get) return method_not_allowed("GET");
    auto runner = repo_->Get(name, version);
    if (action == "ready") return reply(Empty(runner.ok() ? 200 : runner.status().HttpCode()));
    if (!runner.ok()) return reply(Error(runner.status().HttpCode(), runner.status().message()));
    return reply(Json(200, ModelMetadataJson((*runner)->metadata())));
  }
  if (path.starts_with("/v2/repository/")) {
    if (!post) return method_not_allowed("POST");
    return Repository(req, path.substr(15), std::move(responder));
  }
  if (path == "/v1/models" || path == "/v1/models/") {
    if (!get) return method_not_allowed("GET");
    skiff::Json names = skiff::Json::array();
    for (const auto& e : repo_->Index()) {
      if (e.state == ModelState::kReady) names.push_back(e.name);
    }
    return reply(Json(200, skiff::Json{{"models", names}}.dump()));
  }
  if (path.starts_with("/v1/models/")) {
    auto decoded = PercentDecode(path.substr(11));
    if (!decoded || decoded->empty() || decoded->find('/') != std::string::npos) {
      return reply(Error(404, "no route for " + std::string(path)));
    }
    std::string name = *decoded;
    size_t colon = name.rfind(':');
    std::string verb = colon == std::string::npos ? "" : name.substr(colon + 1);
    if (colon != std::string::npos) name.resize(colon);
    if (verb.empty()) {
      if (!get) return method_not_allowed("GET");
      auto runner = repo_->Get(name);
      if (runner.ok()) return reply(Json(200, skiff::Json{{"name", name}, {"ready", true}}.dump()));
      if (runner.status().code() == Code::kNotFound) {
        return reply(Error(404, runner.status().message()));
      }
      return reply(Json(200, skiff::Json{{"name", name}, {"ready", false}}.dump()));
    }
    if (!post) return method_not_allowed("POST");
    if (verb == "predict") return Infer(req, name, "", true, std::move(responder));
    if (verb == "explain") {
      if (auto runner = repo_->Get(name); !runner.ok()) {
        return reply(Error(runner.status().HttpCode(), runner.status().message()));
      }
      return reply(Error(501, "model " + name +
                                  " has no explainer: skiff's model server does not implement "
                                  ":explain yet; use :predict"));
    }
    return reply(Error(404, "unknown verb \":" + verb + "\" (use :predict or :explain)"));
  }
  reply(Error(404, "no route for " + std::string(req.method) + " " + std::string(path)));
}

void RestFrontend::Infer(const HttpRequest& req, std::string_view model, std::string_view version,
                         bool v1, Responder responder) {
  auto runner = repo_->Get(model, version);
  if (!runner.ok()) {
    int code = runner.status().HttpCode();
    unrouted_->failure.fetch_add(1, std::memory_order_relaxed);
    unrouted_->RecordResponse(code, Seconds(Clock::now() - req.received));
    return responder.Send(Error(code, runner.status().message()));
  }
  const ModelMetadata& meta = (*runner)->metadata();
  ModelStats* stats = (*runner)->stats();
  auto r = std::make_unique<RestInferRequest>();
  Status st;
  if (v1) {
    Tensor t;
    st = ParseV1Request(req.body, meta, &t, &r->rows);
    if (st.ok()) r->inputs.push_back(std::move(t));
  } else {
    std::optional<size_t> json_length;
    if (req.HasHeader("Inference-Header-Content-Length")) {
      std::string_view h = req.Header("Inference-Header-Content-Length");
      size_t n = 0;
      auto res = std::from_chars(h.data(), h.data() + h.size(), n);
      if (h.empty() || res.ec != std::errc() || res.ptr != h.data() + h.size()) {
        st = Status::BadRequest("Inference-Header-Content-Length must be a non-negative integer");
      }
      json_length = n;
    }
    V2Request v2;
    if (st.ok()) {
      st = json_length == size_t{0} ? ParseRawBinaryRequest(req.body, meta, &v2)
                                    : ParseV2Request(req.body, json_length, &v2);
    }
    if (st.ok()) st = CheckRequestedOutputs(meta, v2.outputs);
    if (st.ok()) st = BindInputs(meta, std::move(v2.inputs), &r->inputs, &r->rows);
    r->id = std::move(v2.id);
    r->requested = std::move(v2.outputs);
    r->binary_default = v2.binary_data_output;
  }
  if (!st.ok()) {
    stats->failure.fetch_add(1, std::memory_order_relaxed);
    stats->RecordResponse(st.HttpCode(), Seconds(Clock::now() - req.received));
    return responder.Send(Error(st.HttpCode(), st.message()));
  }
  r->v1 = v1;
  r->responder = std::move(responder);
  r->completion = this;
  r->meta = &meta;
  r->stats = stats;
  r->received = req.received;
  (*runner)->Submit(std::move(r));
}

void RestFrontend::Complete(std::unique_ptr<InferRequest> request) {
  auto* r = static_cast<RestInferRequest*>(request.get());
  HttpResponse resp;
  if (!r->status.ok()) {
    resp = Error(r->status.HttpCode(), r->status.message());
    r->stats->failure.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (r->v1) {
      resp.body = EncodeV1Response(r->outputs);
    } else {
      EncodedResponse enc;
      EncodeV2Response(*r->meta, r->id, r->outputs, r->requested, r->binary_default, &enc);
      resp.body = std::move(enc.body);
      if (enc.binary) {
        resp.content_type = "application/octet-stream";
        resp.headers.emplace_back("Inference-Header-Content-Length",
                                  std::to_string(enc.json_length));
      }
    }
    r->stats->success.fetch_add(1, std::memory_order_relaxed);
  }
  auto elapsed = Clock::now() - r->received;
  if (resp.status == 200) {
    r->stats->request_duration_us.fetch_add(
        std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count(),
        std::memory_order_relaxed);
  }
  r->stats->RecordResponse(resp.status, Seconds(elapsed));
  r->responder.Send(std::move(resp));
}

void RestFrontend::Repository(const HttpRequest& req, std::string_view rest, Responder responder) {
  skiff::Json body = skiff::Json::object();
  if (!req.body.empty()) {
    auto parsed = ParseJson(req.body);
    if (!parsed.ok() || !parsed->is_object()) {
      return responder.Send(Error(400, "the request body must be a JSON object"));
    }
    body = std::move(*parsed);
  }
  if (rest == "index") {
    bool ready_only = body.value("ready", false);
    skiff::Json out = skiff::Json::array();
    for (const auto& e : repo_->Index()) {
      if (ready_only && e.state != ModelState::kReady) continue;
      skiff::Json j = {{"name", e.name}, {"state", std::string(ModelStateName(e.state))}};
      if (!e.version.empty()) j["version"] = e.version;
      if (!e.reason.empty()) j["reason"] = e.reason;
      out.push_back(std::move(j));
    }
    return responder.Send(Json(200, out.dump()));
  }
  auto parts = Split(rest);
  if (parts.size() != 3 || parts[0] != "models" || (parts[2] != "load" && parts[2] != "unload")) {
    return responder.Send(Error(404, "no route for /v2/repository/" + std::string(rest)));
  }
  auto name = PercentDecode(parts[1]);
  if (!name || name->empty()) return responder.Send(Error(400, "bad model name"));
  skiff::Json params = body.value("parameters", skiff::Json::object());
  if (!params.is_object()) return responder.Send(Error(400, "\"parameters\" must be an object"));
  bool load = parts[2] == "load";
  // Shared so the refused path can still answer if the queue is closed.
  auto holder = std::make_shared<Responder>(std::move(responder));
  RunControl(
      [this, load, name = *name, params, holder] {
        Status st = load ? repo_->Load(name, params) : repo_->Unload(name);
        holder->Send(st.ok() ? Json(200, "{}") : Error(st.HttpCode(), st.message()));
      },
      holder.get());
}

std::string RestFrontend::MetricsText() const {
  std::string extra =
      "# HELP skiff_model_ready Whether a model is loaded and ready (1) or not (0)\n"
      "# TYPE skiff_model_ready gauge\n";
  for (const auto& e : repo_->Index()) {
    extra += "skiff_model_ready{model=\"" + EscapeLabel(e.name) + "\"} " +
             (e.state == ModelState::kReady ? "1" : "0") + "\n";
  }
  return metrics_->Render(extra);
}

}  // namespace skiff::serving
