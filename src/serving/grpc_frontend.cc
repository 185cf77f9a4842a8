// The V2 gRPC frontend on grpc's asynchronous API; see grpc_frontend.h.
#include "serving/grpc_frontend.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "serving/codec.h"
#include "serving/grpc_inference.grpc.pb.h"

namespace skiff::serving {
namespace {

namespace pb = ::inference;
using Service = pb::GRPCInferenceService::AsyncService;

// What the REST API's GET /v2 answers; tests check that the two agree.
constexpr const char* kServerName = "skiff-model-server";
constexpr const char* kServerVersion = "0.1.0";
constexpr const char* kExtensions[] = {"binary_tensor_data", "model_repository"};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The codes Triton and KServe's servers use for the same failures as REST's 400/404/503.
grpc::StatusCode GrpcCode(Code code) {
  switch (code) {
    case Code::kOk:
      return grpc::StatusCode::OK;
    case Code::kBadRequest:
    case Code::kInvalid:
    case Code::kRequestEntityTooLarge:
    case Code::kUnsupportedMediaType:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kNotFound:
    case Code::kGone:
      return grpc::StatusCode::NOT_FOUND;
    case Code::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Code::kTooManyRequests:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kTimeout:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Code::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case Code::kConflict:
      return grpc::StatusCode::ABORTED;
    case Code::kUnauthorized:
      return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kForbidden:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Code::kMethodNotAllowed:
    case Code::kNotAcceptable:
      return grpc::StatusCode::UNIMPLEMENTED;
    case Code::kInternal:
      return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status ToGrpc(const Status& st) {
  return st.ok() ? grpc::Status::OK : grpc::Status(GrpcCode(st.code()), st.message());
}

Status Bad(std::string message) { return Status::BadRequest(std::move(message)); }
std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Appends `src` to the tensor's bytes as `Dst`, refusing values `Dst` cannot hold.
template <typename Dst, typename Src>
Status AppendNarrowed(const google::protobuf::RepeatedField<Src>& src, Tensor* t) {
  t->data.resize(src.size() * sizeof(Dst));
  char* out = t->data.data();
  for (int i = 0; i < src.size(); ++i) {
    Src v = src.Get(i);
    if constexpr (std::is_integral_v<Src> && !std::is_same_v<Src, bool>) {
      if (!std::in_range<Dst>(v)) {
        return Bad("input " + Quote(t->name) + ": element " + std::to_string(i) + " (" +
                   std::to_string(v) + ") is out of range for " +
                   std::string(DataTypeName(t->datatype)));
      }
    }
    Dst d = static_cast<Dst>(v);
    std::memcpy(out + i * sizeof(Dst), &d, sizeof(Dst));
  }
  return Status::Ok();
}

// The name of the InferTensorContents field that carries `type`, for messages.
const char* ContentsField(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "bool_contents";
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      return "int_contents";
    case DataType::kInt64:
      return "int64_contents";
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      return "uint_contents";
    case DataType::kUint64:
      return "uint64_contents";
    case DataType::kFp32:
      return "fp32_contents";
    case DataType::kFp64:
      return "fp64_contents";
    case DataType::kBytes:
      return "bytes_contents";
    case DataType::kFp16:
    case DataType::kBf16:
      return nullptr;
  }
  return nullptr;
}

// Elements in each field of `c`, in field order, to find fields the datatype does not use.
std::vector<std::pair<const char*, int>> FieldSizes(const pb::InferTensorContents& c) {
  return {
      {"bool_contents", c.bool_contents_size()},     {"int_contents", c.int_contents_size()},
      {"int64_contents", c.int64_contents_size()},   {"uint_contents", c.uint_contents_size()},
      {"uint64_contents", c.uint64_contents_size()}, {"fp32_contents", c.fp32_contents_size()},
      {"fp64_contents", c.fp64_contents_size()},     {"bytes_contents", c.bytes_contents_size()}};
}

// Typed contents -> the tensor's bytes; `count` is the shape's element count.
Status FromContents(const pb::InferTensorContents& c, int64_t count, Tensor* t) {
  const char* field = ContentsField(t->datatype);
  if (field == nullptr) {
    return Bad("input " + Quote(t->name) + ": " + std::string(DataTypeName(t->datatype)) +
               " has no typed contents field; send it in raw_input_contents");
  }
  int64_t given = 0;
  for (const auto& [name, size] : FieldSizes(c)) {
    if (std::strcmp(name, field) == 0) {
      given = size;
    } else if (size > 0) {
      return Bad("input " + Quote(t->name) + " of " + std::string(DataTypeName(t->datatype)) +
                 " carries " + name + "; its elements belong in " + field);
    }
  }
  if (given != count) {
    return Bad("input " + Quote(t->name) + ": " + field + " holds " + std::to_string(given) +
               " elements, shape " + ShapeString(t->shape) + " needs " + std::to_string(count));
  }
  switch (t->datatype) {
    case DataType::kBool:
      return AppendNarrowed<uint8_t>(c.bool_contents(), t);
    case DataType::kInt8:
      return AppendNarrowed<int8_t>(c.int_contents(), t);
    case DataType::kInt16:
      return AppendNarrowed<int16_t>(c.int_contents(), t);
    case DataType::kInt32:
      return AppendNarrowed<int32_t>(c.int_contents(), t);
    case DataType::kInt64:
      return AppendNarrowed<int64_t>(c.int64_contents(), t);
    case DataType::kUint8:
      return AppendNarrowed<uint8_t>(c.uint_contents(), t);
    case DataType::kUint16:
      return AppendNarrowed<uint16_t>(c.uint_contents(), t);
    case DataType::kUint32:
      return AppendNarrowed<uint32_t>(c.uint_contents(), t);
    case DataType::kUint64:
      return AppendNarrowed<uint64_t>(c.uint64_contents(), t);
    case DataType::kFp32:
      return AppendNarrowed<float>(c.fp32_contents(), t);
    case DataType::kFp64:
      return AppendNarrowed<double>(c.fp64_contents(), t);
    case DataType::kBytes:
      for (const std::string& e : c.bytes_contents()) {
        uint32_t len = static_cast<uint32_t>(e.size());
        t->data.append(reinterpret_cast<const char*>(&len), 4);
        t->data.append(e);
      }
      return Status::Ok();
    case DataType::kFp16:
    case DataType::kBf16:
      break;
  }
  return Status::Internal("unhandled datatype");
}

// Raw contents were moved into t->data; check that they fit the shape.
Status CheckRaw(const Tensor& t, int64_t count) {
  if (t.datatype == DataType::kBytes) {
    int64_t n = CountBytesElements(t.data);
    if (n != count) {
      return Bad("input " + Quote(t.name) + ": raw BYTES contents hold " +
                 (n < 0 ? std::string("malformed lengths") : std::to_string(n) + " elements") +
                 ", shape " + ShapeString(t.shape) + " needs " + std::to_string(count));
    }
    return Status::Ok();
  }
  int64_t expected = count * static_cast<int64_t>(DataTypeSize(t.datatype));
  if (static_cast<int64_t>(t.data.size()) != expected) {
    return Bad("input " + Quote(t.name) + ": raw contents are " + std::to_string(t.data.size()) +
               " bytes, shape " + ShapeString(t.shape) + " of " +
               std::string(DataTypeName(t.datatype)) + " needs " + std::to_string(expected));
  }
  return Status::Ok();
}

// The request's tensors, taking the raw contents' bytes without copying them.
Status DecodeInputs(pb::ModelInferRequest* req, std::vector<Tensor>* out) {
  const int n = req->inputs_size();
  const bool raw = req->raw_input_contents_size() > 0;
  if (raw && req->raw_input_contents_size() != n) {
    return Bad("raw_input_contents has " + std::to_string(req->raw_input_contents_size()) +
               " entries for " + std::to_string(n) + " inputs; give one per input or none");
  }
  out->resize(n);
  for (int i = 0; i < n; ++i) {
    pb::ModelInferRequest::InferInputTensor* in = req->mutable_inputs(i);
    Tensor& t = (*out)[i];
    t.name = in->name();
    auto type = ParseDataType(in->datatype());
    if (!type) {
      return Bad("input " + Quote(t.name) + ": unknown datatype " + Quote(in->datatype()));
    }
    t.datatype = *type;
    t.shape.assign(in->shape().begin(), in->shape().end());
    int64_t count = ElementCount(t.shape);
    if (count < 0) {
      return Bad("input " + Quote(t.name) + ": shape " + ShapeString(t.shape) + " is invalid");
    }
    if (raw) {
      if (in->has_contents() && in->contents().ByteSizeLong() > 0) {
        return Bad("input " + Quote(t.name) +
                   " has typed contents although the request uses raw_input_contents");
      }
      t.data.swap(*req->mutable_raw_input_contents(i));
      SKIFF_RETURN_IF_ERROR(CheckRaw(t, count));
    } else {
      SKIFF_RETURN_IF_ERROR(FromContents(in->contents(), count, &t));
    }
  }
  return Status::Ok();
}

template <typename Src, typename Field>
void AddAll(const std::string& data, Field* field) {
  const size_t n = data.size() / sizeof(Src);
  field->Reserve(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, data.data() + i * sizeof(Src), sizeof(Src));
    field->Add(v);
  }
}

// The tensor's bytes -> typed contents (never called for FP16/BF16, which go raw).
void ToContents(const Tensor& t, pb::InferTensorContents* c) {
  switch (t.datatype) {
    case DataType::kBool:
      for (char b : t.data) c->add_bool_contents(b != 0);
      return;
    case DataType::kInt8:
      return AddAll<int8_t>(t.data, c->mutable_int_contents());
    case DataType::kInt16:
      return AddAll<int16_t>(t.data, c->mutable_int_contents());
    case DataType::kInt32:
      return AddAll<int32_t>(t.data, c->mutable_int_contents());
    case DataType::kInt64:
      return AddAll<int64_t>(t.data, c->mutable_int64_contents());
    case DataType::kUint8:
      return AddAll<uint8_t>(t.data, c->mutable_uint_contents());
    case DataType::kUint16:
      return AddAll<uint16_t>(t.data, c->mutable_uint_contents());
    case DataType::kUint32:
      return AddAll<uint32_t>(t.data, c->mutable_uint_contents());
    case DataType::kUint64:
      return AddAll<uint64_t>(t.data, c->mutable_uint64_contents());
    case DataType::kFp32: {
      auto* f = c->mutable_fp32_contents();
      f->Resize(static_cast<int>(t.data.size() / 4), 0.0f);
      std::memcpy(f->mutable_data(), t.data.data(), t.data.size());
      return;
    }
    case DataType::kFp64: {
      auto* f = c->mutable_fp64_contents();
      f->Resize(static_cast<int>(t.data.size() / 8), 0.0);
      std::memcpy(f->mutable_data(), t.data.data(), t.data.size());
      return;
    }
    case DataType::kBytes: {
      std::string_view rest = t.data;
      while (rest.size() >= 4) {
        uint32_t len;
        std::memcpy(&len, rest.data(), 4);
        rest.remove_prefix(4);
        c->add_bytes_contents(std::string(rest.substr(0, len)));
        rest.remove_prefix(std::min<size_t>(len, rest.size()));
      }
      return;
    }
    case DataType::kFp16:
    case DataType::kBf16:
      return;
  }
}

void FillSpec(const TensorSpec& s, pb::ModelMetadataResponse::TensorMetadata* out) {
  out->set_name(s.name);
  out->set_datatype(std::string(DataTypeName(s.datatype)));
  for (int64_t d : s.shape) out->add_shape(d);
}

// A pending call of the async API. The object is its own completion-queue tag: grpc holds it
// while an operation is outstanding, and it deletes itself when its last operation comes back.
class Call {
 public:
  virtual ~Call() = default;
  // `ok` is false when the server is shutting down (no call arrived) or the reply was not sent.
  virtual void Proceed(bool ok) = 0;
};

}  // namespace

class GrpcFrontend::Impl : public InferCompletion {
 public:
  Impl(ModelRepository* repo, Metrics* metrics)
      : repo_(repo), metrics_(metrics), unrouted_(metrics->Unrouted()) {}
  ~Impl() override { Stop(); }

  Status Start(const GrpcServerOptions& options);
  void Stop();
  void Complete(std::unique_ptr<InferRequest> request) override;

  template <typename Req, typename Resp>
  class UnaryCall;

  ModelRepository* repo_;
  Metrics* metrics_;
  ModelStats* unrouted_;
  std::atomic<bool> startup_done_{false};
  uint16_t port_ = 0;

 private:
  template <typename Req, typename Resp>
  using RequestMethod = void (Service::*)(grpc::ServerContext*, Req*,
                                          grpc::ServerAsyncResponseWriter<Resp>*,
                                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*,
                                          void*);

  // Requests one call of every rpc on `cq`; each answered call requests its successor.
  void ArmAll(grpc::ServerCompletionQueue* cq);
  void Poll(grpc::ServerCompletionQueue* cq);

  void ServerLive(UnaryCall<pb::ServerLiveRequest, pb::ServerLiveResponse>* call);
  void ServerReady(UnaryCall<pb::ServerReadyRequest, pb::ServerReadyResponse>* call);
  void ModelReady(UnaryCall<pb::ModelReadyRequest, pb::ModelReadyResponse>* call);
  void ServerMetadata(UnaryCall<pb::ServerMetadataRequest, pb::ServerMetadataResponse>* call);
  void ModelMetadata(UnaryCall<pb::ModelMetadataRequest, pb::ModelMetadataResponse>* call);
  void ModelInfer(UnaryCall<pb::ModelInferRequest, pb::ModelInferResponse>* call);
  void RepositoryIndex(UnaryCall<pb::RepositoryIndexRequest, pb::RepositoryIndexResponse>* call);
  void RepositoryModelLoad(
      UnaryCall<pb::RepositoryModelLoadRequest, pb::RepositoryModelLoadResponse>* call);
  void RepositoryModelUnload(
      UnaryCall<pb::RepositoryModelUnloadRequest, pb::RepositoryModelUnloadResponse>* call);

  // Runs `task` on the control thread; false when stopping (the caller answers UNAVAILABLE).
  bool RunControl(std::function<void()> task);
  void ControlLoop();
  void BeginWork() { pending_.fetch_add(1, std::memory_order_relaxed); }
  void EndWork();

  Service service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;

  // Inferences in a runner and repository tasks not yet answered: Stop waits for them before it
  // shuts the completion queues, since Finish on a shut queue is not allowed.
  std::atomic<int64_t> pending_{0};
  std::mutex pending_mu_;
  std::condition_variable pending_cv_;

  std::mutex control_mu_;
  std::condition_variable control_cv_;
  std::deque<std::function<void()>> control_tasks_;  // guarded by control_mu_
  bool control_stop_ = false;                        // guarded by control_mu_
  std::thread control_;
};

template <typename Req, typename Resp>
class GrpcFrontend::Impl::UnaryCall final : public Call {
 public:
  using Handler = void (Impl::*)(UnaryCall*);

  // Asks grpc for the next call of this rpc on `cq`; the new object belongs to grpc until then.
  static void Arm(Impl* impl, grpc::ServerCompletionQueue* cq, RequestMethod<Req, Resp> request,
                  Handler handler) {
    auto* call = new UnaryCall(impl, cq, request, handler);
    (impl->service_.*request)(&call->ctx, &call->request, &call->writer_, cq, cq, call);
  }

  void Proceed(bool ok) override {
    if (finishing_ || !ok) {
      delete this;
      return;
    }
    Arm(impl_, cq_, request_method_, handler_);
    (impl_->*handler_)(this);
  }

  // Sends `response` (when `st` is OK) or the error. Once per call, from any thread.
  void Finish(const grpc::Status& st) {
    finishing_ = true;
    if (st.ok()) {
      writer_.Finish(response, st, this);
    } else {
      writer_.FinishWithError(st, this);
    }
  }

  grpc::ServerContext ctx;
  Req request;
  Resp response;

 private:
  UnaryCall(Impl* impl, grpc::ServerCompletionQueue* cq, RequestMethod<Req, Resp> request,
            Handler handler)
      : impl_(impl), cq_(cq), request_method_(request), handler_(handler), writer_(&ctx) {}

  Impl* impl_;
  grpc::ServerCompletionQueue* cq_;
  RequestMethod<Req, Resp> request_method_;
  Handler handler_;
  grpc::ServerAsyncResponseWriter<Resp> writer_;
  bool finishing_ = false;
};

namespace {

using InferCall = GrpcFrontend::Impl::UnaryCall<pb::ModelInferRequest, pb::ModelInferResponse>;

struct GrpcInferRequest : InferRequest {
  InferCall* call = nullptr;  // answered exactly once, by Complete
  std::vector<RequestedOutput> requested;
  bool raw_output = false;
  const ModelMetadata* meta = nullptr;  // owned by the runner, which outlives its requests
  ModelStats* stats = nullptr;
  Clock::time_point received;
};

}  // namespace

Status GrpcFrontend::Impl::Start(const GrpcServerOptions& options) {
  std::string host = options.address.find(':') != std::string::npos ? "[" + options.address + "]"
                                                                    : options.address;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(host + ":" + std::to_string(options.port),
                           grpc::InsecureServerCredentials(), &bound);
  // grpc sets SO_REUSEPORT by default: a second server on the same port would then share the
  // connections of the first instead of failing to bind.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<size_t>(options.max_message_bytes, std::numeric_limits<int>::max())));
  builder.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  builder.RegisterService(&service_);
  const int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) cqs_.push_back(builder.AddCompletionQueue());
  server_ = builder.BuildAndStart();
  if (!server_ || bound == 0) {
    // Nothing was requested on the queues; destroying them shuts them down.
    server_.reset();
    cqs_.clear();
    return Status::Unavailable("gRPC cannot listen on " + host + ":" +
                               std::to_string(options.port));
  }
  port_ = static_cast<uint16_t>(bound);
  control_ = std::thread([this] { ControlLoop(); });
  for (auto& cq : cqs_) {
    ArmAll(cq.get());
    threads_.emplace_back([this, q = cq.get()] { Poll(q); });
  }
  return Status::Ok();
}

void GrpcFrontend::Impl::ArmAll(grpc::ServerCompletionQueue* cq) {
  using S = Service;
  UnaryCall<pb::ServerLiveRequest, pb::ServerLiveResponse>::Arm(this, cq, &S::RequestServerLive,
                                                                &Impl::ServerLive);
  UnaryCall<pb::ServerReadyRequest, pb::ServerReadyResponse>::Arm(this, cq, &S::RequestServerReady,
                                                                  &Impl::ServerReady);
  UnaryCall<pb::ModelReadyRequest, pb::ModelReadyResponse>::Arm(this, cq, &S::RequestModelReady,
                                                                &Impl::ModelReady);
  UnaryCall<pb::ServerMetadataRequest, pb::ServerMetadataResponse>::Arm(
      this, cq, &S::RequestServerMetadata, &Impl::ServerMetadata);
  UnaryCall<pb::ModelMetadataRequest, pb::ModelMetadataResponse>::Arm(
      this, cq, &S::RequestModelMetadata, &Impl::ModelMetadata);
  // Several ModelInfer calls wait at once so bursts are not serialised on one re-arm.
  for (int i = 0; i < 4; ++i) {
    UnaryCall<pb::ModelInferRequest, pb::ModelInferResponse>::Arm(this, cq, &S::RequestModelInfer,
                                                                  &Impl::ModelInfer);
  }
  UnaryCall<pb::RepositoryIndexRequest, pb::RepositoryIndexResponse>::Arm(
      this, cq, &S::RequestRepositoryIndex, &Impl::RepositoryIndex);
  UnaryCall<pb::RepositoryModelLoadRequest, pb::RepositoryModelLoadResponse>::Arm(
      this, cq, &S::RequestRepositoryModelLoad, &Impl::RepositoryModelLoad);
  UnaryCall<pb::RepositoryModelUnloadRequest, pb::RepositoryModelUnloadResponse>::Arm(
      this, cq, &S::RequestRepositoryModelUnload, &Impl::RepositoryModelUnload);
}

void GrpcFrontend::Impl::Poll(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
}

void GrpcFrontend::Impl::Stop() {
  if (stopped_ || !server_) return;
  stopped_ = true;
  // New calls are refused and waiting requests come back !ok; calls in progress get two seconds
  // before grpc cancels them (their replies then go nowhere, but still come back as tags).
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  {
    std::lock_guard lock(control_mu_);
    control_stop_ = true;
  }
  control_cv_.notify_all();
  control_.join();
  {
    std::unique_lock lock(pending_mu_);
    pending_cv_.wait(lock, [&] { return pending_.load() == 0; });
  }
  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& t : threads_) t.join();
  threads_.clear();
  cqs_.clear();
}

void GrpcFrontend::Impl::EndWork() {
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard lock(pending_mu_);
    pending_cv_.notify_all();
  }
}

bool GrpcFrontend::Impl::RunControl(std::function<void()> task) {
  std::lock_guard lock(control_mu_);
  if (control_stop_) return false;
  control_tasks_.push_back(std::move(task));
  control_cv_.notify_one();
  return true;
}

void GrpcFrontend::Impl::ControlLoop() {
  std::unique_lock lock(control_mu_);
  while (true) {
    control_cv_.wait(lock, [&] { return control_stop_ || !control_tasks_.empty(); });
    if (control_tasks_.empty()) break;  // stopping and drained
    auto task = std::move(control_tasks_.front());
    control_tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

void GrpcFrontend::Impl::ServerLive(
    UnaryCall<pb::ServerLiveRequest, pb::ServerLiveResponse>* call) {
  call->response.set_live(true);
  call->Finish(grpc::Status::OK);
}

void GrpcFrontend::Impl::ServerReady(
    UnaryCall<pb::ServerReadyRequest, pb::ServerReadyResponse>* call) {
  call->response.set_ready(startup_done_.load() && repo_->Ready());
  call->Finish(grpc::Status::OK);
}

void GrpcFrontend::Impl::ModelReady(
    UnaryCall<pb::ModelReadyRequest, pb::ModelReadyResponse>* call) {
  auto runner = repo_->Get(call->request.name(), call->request.version());
  if (!runner.ok() && runner.status().code() == Code::kNotFound) {
    return call->Finish(ToGrpc(runner.status()));
  }
  call->response.set_ready(runner.ok());
  call->Finish(grpc::Status::OK);
}

void GrpcFrontend::Impl::ServerMetadata(
    UnaryCall<pb::ServerMetadataRequest, pb::ServerMetadataResponse>* call) {
  call->response.set_name(kServerName);
  call->response.set_version(kServerVersion);
  for (const char* e : kExtensions) call->response.add_extensions(e);
  call->Finish(grpc::Status::OK);
}

void GrpcFrontend::Impl::ModelMetadata(
    UnaryCall<pb::ModelMetadataRequest, pb::ModelMetadataResponse>* call) {
  auto runner = repo_->Get(call->request.name(), call->request.version());
  if (!runner.ok()) return call->Finish(ToGrpc(runner.status()));
  const serving::ModelMetadata& m = (*runner)->metadata();
  auto& r = call->response;
  r.set_name(m.name);
  r.add_versions(m.version);
  r.set_platform(m.platform);
  for (const auto& s : m.inputs) FillSpec(s, r.add_inputs());
  for (const auto& s : m.outputs) FillSpec(s, r.add_outputs());
  call->Finish(grpc::Status::OK);
}

void GrpcFrontend::Impl::ModelInfer(InferCall* call) {
  const auto received = Clock::now();
  pb::ModelInferRequest& req = call->request;
  auto runner = repo_->Get(req.model_name(), req.model_version());
  if (!runner.ok()) {
    grpc::Status st = ToGrpc(runner.status());
    unrouted_->failure.fetch_add(1, std::memory_order_relaxed);
    unrouted_->RecordGrpcResponse(st.error_code(), Seconds(Clock::now() - received));
    return call->Finish(st);
  }
  const serving::ModelMetadata& meta = (*runner)->metadata();
  ModelStats* stats = (*runner)->stats();
  auto r = std::make_unique<GrpcInferRequest>();
  std::vector<Tensor> given;
  Status st = DecodeInputs(&req, &given);
  for (const auto& o : req.outputs()) r->requested.push_back({o.name(), std::nullopt});
  if (st.ok()) st = CheckRequestedOutputs(meta, r->requested);
  if (st.ok()) st = BindInputs(meta, std::move(given), &r->inputs, &r->rows);
  if (!st.ok()) {
    grpc::Status gst = ToGrpc(st);
    stats->failure.fetch_add(1, std::memory_order_relaxed);
    stats->RecordGrpcResponse(gst.error_code(), Seconds(Clock::now() - received));
    return call->Finish(gst);
  }
  // Raw in, raw out (as KServe answers); FP16 and BF16 have no typed field, so they force raw.
  r->raw_output = req.raw_input_contents_size() > 0;
  for (const auto& o : meta.outputs) {
    r->raw_output = r->raw_output || o.datatype == DataType::kFp16 || o.datatype == DataType::kBf16;
  }
  r->call = call;
  r->completion = this;
  r->meta = &meta;
  r->stats = stats;
  r->received = received;
  BeginWork();
  (*runner)->Submit(std::move(r));
}

void GrpcFrontend::Impl::Complete(std::unique_ptr<InferRequest> request) {
  auto* r = static_cast<GrpcInferRequest*>(request.get());
  InferCall* call = r->call;
  grpc::Status st = ToGrpc(r->status);
  if (st.ok()) {
    pb::ModelInferResponse& resp = call->response;
    resp.set_model_name(r->meta->name);
    resp.set_model_version(r->meta->version);
    resp.set_id(call->request.id());
    auto emit = [&](Tensor& t) {
      auto* out = resp.add_outputs();
      out->set_name(t.name);
      out->set_datatype(std::string(DataTypeName(t.datatype)));
      for (int64_t d : t.shape) out->add_shape(d);
      if (r->raw_output) {
        resp.add_raw_output_contents(std::move(t.data));
      } else {
        ToContents(t, out->mutable_contents());
      }
    };
    if (r->requested.empty()) {
      for (auto& t : r->outputs) emit(t);
    } else {
      for (const auto& want : r->requested) {
        for (auto& t : r->outputs) {
          if (t.name == want.name) emit(t);
        }
      }
    }
    r->stats->success.fetch_add(1, std::memory_order_relaxed);
  } else {
    r->stats->failure.fetch_add(1, std::memory_order_relaxed);
  }
  auto elapsed = Clock::now() - r->received;
  if (st.ok()) {
    r->stats->request_duration_us.fetch_add(
        std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count(),
        std::memory_order_relaxed);
  }
  r->stats->RecordGrpcResponse(st.error_code(), Seconds(elapsed));
  request.reset();  // the tensors, before the reply leaves
  call->Finish(st);
  EndWork();
}

void GrpcFrontend::Impl::RepositoryIndex(
    UnaryCall<pb::RepositoryIndexRequest, pb::RepositoryIndexResponse>* call) {
  for (const auto& e : repo_->Index()) {
    if (call->request.ready() && e.state != ModelState::kReady) continue;
    auto* m = call->response.add_models();
    m->set_name(e.name);
    m->set_version(e.version);
    m->set_state(std::string(ModelStateName(e.state)));
    m->set_reason(e.reason);
  }
  call->Finish(grpc::Status::OK);
}

namespace {

// Load parameters as the JSON object ModelRepository::Load takes (serving.json's keys).
Status ParametersJson(
    const google::protobuf::Map<std::string, pb::ModelRepositoryParameter>& params,
    skiff::Json* out) {
  *out = skiff::Json::object();
  for (const auto& [key, p] : params) {
    switch (p.parameter_choice_case()) {
      case pb::ModelRepositoryParameter::kBoolParam:
        (*out)[key] = p.bool_param();
        break;
      case pb::ModelRepositoryParameter::kInt64Param:
        (*out)[key] = p.int64_param();
        break;
      case pb::ModelRepositoryParameter::kStringParam:
        (*out)[key] = p.string_param();
        break;
      default:
        return Bad("load parameter " + Quote(key) + " must be a bool, int64 or string");
    }
  }
  return Status::Ok();
}

}  // namespace

void GrpcFrontend::Impl::RepositoryModelLoad(
    UnaryCall<pb::RepositoryModelLoadRequest, pb::RepositoryModelLoadResponse>* call) {
  skiff::Json params;
  Status st = ParametersJson(call->request.parameters(), &params);
  if (st.ok() && call->request.model_name().empty()) st = Bad("model_name is empty");
  if (!st.ok()) return call->Finish(ToGrpc(st));
  BeginWork();
  bool queued = RunControl([this, call, params = std::move(params)] {
    call->Finish(ToGrpc(repo_->Load(call->request.model_name(), params)));
    EndWork();
  });
  if (!queued) {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
    EndWork();
  }
}

void GrpcFrontend::Impl::RepositoryModelUnload(
    UnaryCall<pb::RepositoryModelUnloadRequest, pb::RepositoryModelUnloadResponse>* call) {
  if (call->request.model_name().empty()) {
    return call->Finish(ToGrpc(Bad("model_name is empty")));
  }
  BeginWork();
  bool queued = RunControl([this, call] {
    call->Finish(ToGrpc(repo_->Unload(call->request.model_name())));
    EndWork();
  });
  if (!queued) {
    call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
    EndWork();
  }
}

GrpcFrontend::GrpcFrontend(ModelRepository* repo, Metrics* metrics)
    : impl_(std::make_unique<Impl>(repo, metrics)) {}

GrpcFrontend::~GrpcFrontend() = default;

Status GrpcFrontend::Start(const GrpcServerOptions& options) { return impl_->Start(options); }

uint16_t GrpcFrontend::port() const { return impl_->port_; }

void GrpcFrontend::SetStartupDone() { impl_->startup_done_.store(true); }

void GrpcFrontend::Stop() { impl_->Stop(); }

}  // namespace skiff::serving
