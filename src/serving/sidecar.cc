// The transformer and explainer of sidecar.h.
#include "serving/sidecar.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "common/encoding.h"
#include "common/log.h"
#include "http/client.h"
#include "serving/codec.h"
#include "serving/image.h"

namespace skiff::serving {
namespace {

HttpResponse Error(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = ErrorJson(message);
  return r;
}

HttpResponse JsonResponse(const Json& j) {
  HttpResponse r;
  r.body = j.dump();
  return r;
}

// One keep-alive connection to the predictor per worker thread.
http::Client& PredictorClient(const SidecarOptions& o) {
  thread_local std::unique_ptr<http::Client> client;
  if (!client) {
    http::ClientOptions c;
    c.host = o.predictor_host;
    c.port = o.predictor_port;
    c.timeout = std::chrono::seconds(60);
    client = http::NewClient(c);
  }
  return *client;
}

StatusOr<http::Response> Call(const SidecarOptions& o, const std::string& method,
                              const std::string& target, std::string body) {
  http::ClientRequest req;
  req.method = method;
  req.target = o.predictor_prefix + target;
  req.body = std::move(body);
  if (!req.body.empty()) req.headers["Content-Type"] = "application/json";
  auto r = PredictorClient(o).Do(req);
  if (!r.ok()) {
    return Status::Unavailable("predictor " + o.predictor_host + ":" +
                               std::to_string(o.predictor_port) +
                               " unreachable: " + r.status().message());
  }
  return r;
}

// "/v1/models/NAME:verb" -> NAME and verb; "/v2/models/NAME/..." -> NAME.
bool ModelFromPath(const std::string& path, std::string* model, std::string* rest) {
  for (const char* prefix : {"/v1/models/", "/v2/models/"}) {
    if (path.rfind(prefix, 0) != 0) continue;
    std::string tail = path.substr(std::string(prefix).size());
    size_t end = tail.find_first_of(":/");
    *model = tail.substr(0, end);
    *rest = end == std::string::npos ? "" : tail.substr(end);
    return !model->empty();
  }
  return false;
}

void Flatten(const Json& j, std::vector<float>* out, bool* ok) {
  if (j.is_array()) {
    for (const auto& v : j) Flatten(v, out, ok);
  } else if (j.is_number()) {
    out->push_back(j.get<float>());
  } else {
    *ok = false;
  }
}

int64_t Elements(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

// Probabilities from a model's outputs: softmax unless they already are probabilities.
std::vector<double> Probabilities(const float* v, int64_t k) {
  std::vector<double> p(v, v + k);
  double sum = 0;
  bool probs = true;
  for (double x : p) {
    probs = probs && x >= 0 && x <= 1;
    sum += x;
  }
  if (probs && std::abs(sum - 1) < 1e-3) return p;
  if (k == 1) return {1 / (1 + std::exp(-p[0]))};  // one logit: a binary classifier
  double m = *std::max_element(p.begin(), p.end()), z = 0;
  for (double& x : p) z += (x = std::exp(x - m));
  for (double& x : p) x /= z;
  return p;
}

}  // namespace

Sidecar::Sidecar(SidecarOptions options) : options_(std::move(options)) {
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { Work(); });
}

Sidecar::~Sidecar() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Sidecar::Handle(const HttpRequest& request, Responder responder) {
  Job job{std::string(request.method), std::string(request.path), std::string(request.body),
          std::move(responder)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Sidecar::Work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    HttpResponse r;
    try {
      r = Serve(job);
    } catch (const std::exception& e) {
      r = Error(500, std::string("internal error: ") + e.what());
    }
    job.responder.Send(std::move(r));
  }
}

StatusOr<PredictorInput> Sidecar::Input(const std::string& model) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = inputs_.find(model); it != inputs_.end()) return it->second;
  }
  auto r = Call(options_, "GET", "/v2/models/" + model, "");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return Status::NotFound("predictor has no model \"" + model + "\" (HTTP " +
                            std::to_string(r->status) + ")");
  }
  auto meta = ParseJson(r->body);
  if (!meta.ok() || !meta->contains("inputs") || !(*meta)["inputs"].is_array() ||
      (*meta)["inputs"].empty()) {
    return Status::Unavailable("predictor's metadata for \"" + model + "\" lists no inputs");
  }
  const Json& in = (*meta)["inputs"][0];
  PredictorInput p;
  p.model = model;
  p.input_name = in.value("name", "input-0");
  p.datatype = in.value("datatype", "FP32");
  for (const auto& d : in.value("shape", Json::array())) p.shape.push_back(d.get<int64_t>());
  if (!p.shape.empty() && p.shape[0] == -1) p.shape.erase(p.shape.begin());
  for (int64_t d : p.shape) {
    if (d <= 0) return Status::Unavailable("predictor input has a variable non-batch dimension");
  }
  if (meta->contains("outputs") && (*meta)["outputs"].is_array() && !(*meta)["outputs"].empty()) {
    p.output_name = (*meta)["outputs"][0].value("name", "");
  }
  std::lock_guard<std::mutex> lock(mu_);
  inputs_[model] = p;
  return p;
}

StatusOr<std::vector<float>> Sidecar::InstanceToTensor(const PredictorInput& in,
                                                       const Json& instance) {
  const int64_t n = Elements(in.shape);
  std::optional<std::string> bytes;
  const Json* b64 = nullptr;
  if (instance.is_string()) {
    b64 = &instance;
  } else if (instance.is_object()) {
    if (instance.contains("image_bytes") && instance["image_bytes"].is_object()) {
      b64 = instance["image_bytes"].contains("b64") ? &instance["image_bytes"]["b64"] : nullptr;
    } else if (instance.contains("b64")) {
      b64 = &instance["b64"];
    } else if (instance.contains("data")) {
      return InstanceToTensor(in, instance["data"]);
    }
    if (b64 == nullptr) {
      return Status::BadRequest(
          "an instance object needs image_bytes.b64, b64 or data (a numeric array)");
    }
  }
  if (b64 != nullptr) {
    if (!b64->is_string() || !(bytes = Base64Decode(b64->get<std::string>()))) {
      return Status::BadRequest("image bytes are not valid base64");
    }
    std::vector<int64_t> chw = in.shape;
    if (chw.size() == 2) chw.insert(chw.begin(), 1);
    if (chw.size() != 3 || (chw[0] != 1 && chw[0] != 3)) {
      return Status::BadRequest("the model's input is not an image ([C, H, W] with C 1 or 3)");
    }
    if (LooksLikePng(*bytes)) {
      auto image = DecodePng(*bytes);
      if (!image.ok()) return image.status();
      return ToPlanarFloats(*image, static_cast<int>(chw[0]), static_cast<int>(chw[1]),
                            static_cast<int>(chw[2]));
    }
    if (static_cast<int64_t>(bytes->size()) != n) {
      return Status::BadRequest("image is neither a PNG nor " + std::to_string(n) +
                                " raw 8-bit pixels (got " + std::to_string(bytes->size()) +
                                " bytes)");
    }
    std::vector<float> out(n);
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>((*bytes)[i]);
    return out;
  }
  std::vector<float> out;
  bool ok = true;
  Flatten(instance, &out, &ok);
  if (!ok) return Status::BadRequest("an instance must be numbers, a base64 image or an object");
  if (static_cast<int64_t>(out.size()) != n) {
    return Status::BadRequest("instance has " + std::to_string(out.size()) +
                              " values; the model wants " + std::to_string(n));
  }
  return out;
}

StatusOr<Json> Sidecar::PredictorInfer(const PredictorInput& in, const std::vector<float>& rows,
                                       int64_t count) {
  std::vector<int64_t> shape = {count};
  shape.insert(shape.end(), in.shape.begin(), in.shape.end());
  Json body = {
      {"inputs",
       Json::array(
           {{{"name", in.input_name}, {"datatype", "FP32"}, {"shape", shape}, {"data", rows}}})}};
  auto r = Call(options_, "POST", "/v2/models/" + in.model + "/infer", body.dump());
  if (!r.ok()) return r.status();
  auto j = ParseJson(r->body);
  if (r->status != 200) {
    std::string msg = j.ok() ? j->value("error", r->body) : r->body;
    return Status::Unavailable("predictor answered " + std::to_string(r->status) + ": " + msg);
  }
  if (!j.ok() || !j->contains("outputs") || !(*j)["outputs"].is_array() ||
      (*j)["outputs"].empty()) {
    return Status::Unavailable("predictor's answer has no outputs");
  }
  return *j;
}

HttpResponse Sidecar::Forward(const Job& job) {
  auto r = Call(options_, job.method, job.path, job.body);
  if (!r.ok()) return Error(503, r.status().message());
  HttpResponse out;
  out.status = r->status;
  out.body = r->body;
  return out;
}

HttpResponse Sidecar::Transform(const std::string& model, const Job& job, bool v2) {
  auto in = Input(model);
  if (!in.ok())
    return Error(in.status().code() == Code::kNotFound ? 404 : 503, in.status().message());
  auto req = ParseJson(job.body);
  if (!req.ok() || !req->is_object()) return Error(400, "request body is not a JSON object");
  std::vector<float> rows;
  int64_t count = 0;
  if (!v2) {
    if (!req->contains("instances") || !(*req)["instances"].is_array()) {
      return Error(400, "a V1 request needs an \"instances\" array");
    }
    for (const auto& inst : (*req)["instances"]) {
      auto t = InstanceToTensor(*in, inst);
      if (!t.ok())
        return Error(400, "instance " + std::to_string(count) + ": " + t.status().message());
      rows.insert(rows.end(), t->begin(), t->end());
      ++count;
    }
    if (count == 0) return Error(400, "\"instances\" is empty");
    auto out = PredictorInfer(*in, rows, count);
    if (!out.ok()) return Error(503, out.status().message());
    const Json& o = (*out)["outputs"][0];
    std::vector<float> data;
    bool ok = true;
    Flatten(o["data"], &data, &ok);
    const int64_t per_row = count ? static_cast<int64_t>(data.size()) / count : 0;
    Json predictions = Json::array();
    for (int64_t i = 0; i < count; ++i) {
      predictions.push_back(
          std::vector<float>(data.begin() + i * per_row, data.begin() + (i + 1) * per_row));
    }
    return JsonResponse({{"predictions", predictions}});
  }
  // V2: BYTES inputs holding images become the predictor's FP32 input; the rest pass through.
  if (!req->contains("inputs") || !(*req)["inputs"].is_array()) {
    return Error(400, "a V2 request needs an \"inputs\" array");
  }
  for (auto& input : (*req)["inputs"]) {
    if (input.value("datatype", "") != "BYTES") continue;
    std::vector<float> converted;
    int64_t n = 0;
    for (const auto& element : input.value("data", Json::array())) {
      auto t = InstanceToTensor(*in, element);
      if (!t.ok()) {
        return Error(400, "input " + input.value("name", "") + " element " + std::to_string(n) +
                              ": " + t.status().message());
      }
      converted.insert(converted.end(), t->begin(), t->end());
      ++n;
    }
    std::vector<int64_t> shape = {n};
    shape.insert(shape.end(), in->shape.begin(), in->shape.end());
    input = {{"name", in->input_name}, {"datatype", "FP32"}, {"shape", shape}, {"data", converted}};
  }
  auto r = Call(options_, "POST", "/v2/models/" + model + "/infer", req->dump());
  if (!r.ok()) return Error(503, r.status().message());
  HttpResponse out;
  out.status = r->status;
  out.body = r->body;
  return out;
}

HttpResponse Sidecar::Explain(const std::string& model, const Job& job) {
  auto in = Input(model);
  if (!in.ok())
    return Error(in.status().code() == Code::kNotFound ? 404 : 503, in.status().message());
  auto req = ParseJson(job.body);
  if (!req.ok() || !req->is_object() || !req->contains("instances") ||
      !(*req)["instances"].is_array() || (*req)["instances"].empty()) {
    return Error(400, "an explain request needs a non-empty \"instances\" array");
  }
  const bool image = in->shape.size() >= 2;
  const int64_t n = Elements(in->shape);
  const int64_t h = image ? in->shape[in->shape.size() - 2] : 1;
  const int64_t w = image ? in->shape.back() : n;
  const int64_t c = n / (h * w);
  const int64_t patch =
      image ? (options_.explain_patch > 0 ? options_.explain_patch : std::max<int64_t>(1, h / 7))
            : 1;
  const int64_t gy = (h + patch - 1) / patch, gx = (w + patch - 1) / patch;
  Json explanations = Json::array();
  int64_t index = 0;
  for (const auto& inst : (*req)["instances"]) {
    auto x = InstanceToTensor(*in, inst);
    if (!x.ok())
      return Error(400, "instance " + std::to_string(index) + ": " + x.status().message());
    // Row 0 is the instance; row 1 + k has patch (or feature) k set to 0.
    const int64_t rows_n = 1 + gy * gx;
    std::vector<float> rows(static_cast<size_t>(rows_n) * n);
    for (int64_t r = 0; r < rows_n; ++r) std::copy(x->begin(), x->end(), rows.begin() + r * n);
    for (int64_t k = 0; k < gy * gx; ++k) {
      const int64_t py = k / gx, px = k % gx;
      float* row = rows.data() + (1 + k) * n;
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t y = py * patch; y < std::min(h, (py + 1) * patch); ++y) {
          for (int64_t xx = px * patch; xx < std::min(w, (px + 1) * patch); ++xx) {
            row[(ch * h + y) * w + xx] = 0;
          }
        }
      }
    }
    auto out = PredictorInfer(*in, rows, rows_n);
    if (!out.ok()) return Error(503, out.status().message());
    std::vector<float> data;
    bool ok = true;
    Flatten((*out)["outputs"][0]["data"], &data, &ok);
    const int64_t k_out = static_cast<int64_t>(data.size()) / rows_n;
    if (!ok || k_out < 1) return Error(503, "predictor's output is not numeric");
    auto base = Probabilities(data.data(), k_out);
    const int64_t target = std::max_element(base.begin(), base.end()) - base.begin();
    std::vector<double> drop(gy * gx);
    for (int64_t k = 0; k < gy * gx; ++k) {
      drop[k] = base[target] - Probabilities(data.data() + (1 + k) * k_out, k_out)[target];
    }
    Json e = {{"target", target},
              {"probability", base[target]},
              {"method", "occlusion"},
              {"baseline", 0}};
    if (image) {
      Json map = Json::array();
      for (int64_t y = 0; y < h; ++y) {
        std::vector<double> line(w);
        for (int64_t xx = 0; xx < w; ++xx) line[xx] = drop[(y / patch) * gx + xx / patch];
        map.push_back(line);
      }
      e["patchSize"] = patch;
      e["saliency"] = map;
    } else {
      e["attributions"] = drop;
    }
    explanations.push_back(e);
    ++index;
  }
  return JsonResponse({{"explanations", explanations}});
}

HttpResponse Sidecar::Serve(const Job& job) {
  if (job.path == "/v2/health/live" || job.path == "/") return JsonResponse({{"live", true}});
  std::string model, rest;
  if (job.path == "/v2/health/ready") return Forward(job);
  if (!ModelFromPath(job.path, &model, &rest)) return Error(404, "no route for " + job.path);
  if (job.method == "POST") {
    if (options_.mode == "transformer") {
      if (rest == ":predict") return Transform(model, job, /*v2=*/false);
      if (rest == "/infer") return Transform(model, job, /*v2=*/true);
    } else {
      if (rest == ":explain") return Explain(model, job);
      if (rest == ":predict" || rest == "/infer") return Forward(job);
    }
    return Error(404, "no route for POST " + job.path);
  }
  return Forward(job);  // metadata and readiness are the predictor's
}

}  // namespace skiff::serving
