// skiff-model-server throughput and latency on loopback: a closed-loop load generator (N keep-alive
// connections, epoll) drives V2 JSON (~8 KB body) and V2 binary inference of a Fashion-MNIST MLP
// (784-256-10, trained here by skiff-ml on a small slice), prints req/s and p50/p99 next to the
// issue's targets; then the HTTP ceiling (a fixed 200 body) of the data plane's epoll server vs
// src/http's Boost.Beast server, and the model's in-process forward throughput at batch 1 and 32.
// With gRPC built in, the same image over V2 gRPC ModelInfer (typed fp32_contents and
// raw_input_contents), one call in flight on each of N channels, printed beside the REST figures.
// Usage: serving_bench [--server BIN] [--ml BIN] [--connections 32] [--seconds 5]
//                      [--client-threads 1] [--model-dir DIR] [-- extra server flags]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/json.h"
#include "common/net.h"
#include "http/server.h"
#include "serving/http_server.h"
#include "serving/model.h"
#include "serving/torch_model.h"
#ifdef SKIFF_SERVING_GRPC
#include <grpcpp/grpcpp.h>

#include "serving/grpc_inference.grpc.pb.h"
#endif

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs argv, stdout and stderr to `log`; returns the pid (the child dies with the bench).
pid_t Spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);  // its own group, so a peer's workers stop with it
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

bool RunToEnd(const std::vector<std::string>& args, const fs::path& log) {
  int status = 0;
  pid_t pid = Spawn(args, log);
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
    std::fprintf(stderr, "serving_bench: %s failed:\n%s\n", args[0].c_str(), Slurp(log).c_str());
    return false;
  }
  return true;
}

struct LoadResult {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  uint64_t ok = 0, errors = 0;
};

// Requests/s and latency percentiles over every client thread's samples (µs each).
LoadResult Summarize(const std::vector<std::vector<float>>& lat,
                     const std::vector<uint64_t>& errors, double seconds) {
  std::vector<float> all;
  LoadResult r;
  for (size_t t = 0; t < lat.size(); ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    r.errors += errors[t];
  }
  r.ok = all.size();
  r.rps = all.size() / seconds;
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    r.p50_ms = all[all.size() / 2] / 1000.0;
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)] / 1000.0;
  }
  return r;
}

// Closed loop: every connection sends `request`, waits for the whole response, sends again.
// Latencies after `warmup` count.
class LoadGenerator {
 public:
  LoadGenerator(uint16_t port, std::string request, int connections, int threads)
      : port_(port), request_(std::move(request)), connections_(connections), threads_(threads) {}

  LoadResult Run(double seconds, double warmup) {
    std::vector<std::thread> ts;
    std::vector<std::vector<float>> lat(threads_);
    std::vector<uint64_t> errors(threads_, 0);
    auto start = Clock::now();
    auto measure_from =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
    auto stop = measure_from +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (int t = 0; t < threads_; ++t) {
      int n = connections_ / threads_ + (t < connections_ % threads_ ? 1 : 0);
      ts.emplace_back([&, t, n] { Worker(n, measure_from, stop, &lat[t], &errors[t]); });
    }
    for (auto& t : ts) t.join();
    return Summarize(lat, errors, seconds);
  }

 private:
  struct Conn {
    int fd = -1;
    size_t sent = 0;
    std::string in;
    Clock::time_point start;
  };

  int Connect() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      std::perror("connect");
      std::exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
  }

  // Returns the length of a complete response at the front of `in` (0: incomplete), and whether
  // it was a 200.
  static size_t Complete(const std::string& in, bool* ok) {
    size_t head = in.find("\r\n\r\n");
    if (head == std::string::npos) return 0;
    size_t cl = in.find("Content-Length: ");
    if (cl == std::string::npos || cl > head) cl = in.find("content-length: ");
    size_t len = cl < head ? std::strtoull(in.c_str() + cl + 16, nullptr, 10) : 0;
    if (in.size() < head + 4 + len) return 0;
    *ok = in.compare(9, 3, "200") == 0;
    return head + 4 + len;
  }

  void Send(Conn& c) {
    while (c.sent < request_.size()) {
      ssize_t n = ::send(c.fd, request_.data() + c.sent, request_.size() - c.sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the socket buffer is full: loopback drains it at once in practice
      c.sent += n;
    }
  }

  void Worker(int n, Clock::time_point measure_from, Clock::time_point stop,
              std::vector<float>* lat, uint64_t* errors) {
    int ep = epoll_create1(0);
    std::vector<Conn> conns(n);
    for (int i = 0; i < n; ++i) {
      conns[i].fd = Connect();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
      conns[i].start = Clock::now();
      Send(conns[i]);
    }
    lat->reserve(1 << 20);
    epoll_event events[256];
    char buf[65536];
    while (true) {
      int k = epoll_wait(ep, events, 256, 100);
      auto now = Clock::now();
      if (now >= stop) break;
      for (int e = 0; e < k; ++e) {
        Conn& c = conns[events[e].data.u32];
        ssize_t r = ::read(c.fd, buf, sizeof(buf));
        if (r <= 0) {
          std::fprintf(stderr, "serving_bench: server closed a connection\n");
          std::exit(1);
        }
        c.in.append(buf, r);
        if (c.sent < request_.size()) Send(c);
        bool ok = false;
        size_t len = Complete(c.in, &ok);
        if (len == 0) continue;
        c.in.erase(0, len);
        if (c.start >= measure_from) {
          if (ok) {
            lat->push_back(std::chrono::duration<float, std::micro>(now - c.start).count());
          } else {
            ++*errors;
          }
        }
        c.start = now;
        c.sent = 0;
        Send(c);
      }
    }
    for (auto& c : conns) close(c.fd);
    close(ep);
  }

  uint16_t port_;
  std::string request_;
  int connections_, threads_;
};

std::string HttpPost(const std::string& path, const std::string& body,
                     const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// True once GET `path` on 127.0.0.1:port answers 200 (polled for up to `timeout_s`).
bool WaitHttp200(uint16_t port, const std::string& path, double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  while (Clock::now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[64] = {};
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
              write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()) &&
              read(fd, buf, sizeof(buf) - 1) > 12 && std::strncmp(buf + 9, "200", 3) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// Stops a peer process started with Spawn: SIGTERM to its process group, then SIGKILL.
void StopPeer(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGTERM);
  kill(pid, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

void Print(const char* name, const LoadResult& r, const char* note) {
  std::printf("  %-34s %9.0f req/s   p50 %6.3f ms   p99 %6.3f ms   errors %llu%s\n", name, r.rps,
              r.p50_ms, r.p99_ms, static_cast<unsigned long long>(r.errors), note);
  std::fflush(stdout);
}

// One 28x28 image as the V2 JSON request users send (pixels as floats, ~8 KB) and as binary.
struct Bodies {
  std::string json, binary;
  size_t binary_header = 0;
  std::vector<float> pixels;
};

Bodies MakeBodies() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> pixel(0, 255);
  std::vector<float> x(784);
  for (auto& v : x) v = pixel(rng);
  Bodies b;
  std::string data;
  char num[32];
  for (size_t i = 0; i < x.size(); ++i) {
    std::snprintf(num, sizeof(num), "%s%.5f", i ? "," : "", x[i]);
    data += num;
  }
  b.json =
      "{\"id\":\"bench\",\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],"
      "\"datatype\":\"FP32\",\"data\":[" +
      data + "]}]}";
  std::string header =
      "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":\"FP32\","
      "\"parameters\":{\"binary_data_size\":3136}}],\"outputs\":[{\"name\":\"output\","
      "\"parameters\":{\"binary_data\":true}}]}";
  b.binary_header = header.size();
  b.binary = header + std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4);
  b.pixels = x;
  return b;
}

// Inferences per second of one model instance at `batch` rows, for about a second.
double ForwardThroughput(skiff::serving::Model& model, int64_t batch) {
  using skiff::serving::Tensor;
  const auto& spec = model.metadata().inputs[0];
  Tensor t;
  t.name = spec.name;
  t.datatype = spec.datatype;
  t.shape = spec.shape;
  t.shape[0] = batch;
  for (auto& d : t.shape) d = d < 0 ? 1 : d;
  std::vector<float> x(skiff::serving::ElementCount(t.shape), 100.0f);
  t.data.assign(reinterpret_cast<const char*>(x.data()), x.size() * 4);
  std::vector<Tensor> out;
  for (int i = 0; i < 20; ++i) (void)model.Infer(std::span<const Tensor>(&t, 1), &out);
  int64_t n = 0;
  auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(1)) {
    for (int i = 0; i < 20; ++i) (void)model.Infer(std::span<const Tensor>(&t, 1), &out);
    n += 20 * batch;
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

#ifdef SKIFF_SERVING_GRPC
// Closed loop over gRPC: `channels` channels (each its own TCP connection), one ModelInfer in
// flight on each, driven from `threads` completion queues. Latencies after `warmup` count.
LoadResult GrpcLoad(uint16_t port, const inference::ModelInferRequest& request, int channels,
                    int threads, double seconds, double warmup) {
  using Stub = inference::GRPCInferenceService::Stub;
  struct Slot {
    std::unique_ptr<Stub> stub;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncResponseReader<inference::ModelInferResponse>> reader;
    inference::ModelInferResponse response;
    grpc::Status status;
    Clock::time_point start;
  };
  auto begin = Clock::now();
  auto measure_from =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  auto stop = measure_from +
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::vector<float>> lat(threads);
  std::vector<uint64_t> errors(threads, 0);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    int n = channels / threads + (t < channels % threads ? 1 : 0);
    ts.emplace_back([&, t, n] {
      grpc::CompletionQueue cq;
      std::vector<Slot> slots(n);
      auto issue = [&](Slot& s) {
        s.ctx = std::make_unique<grpc::ClientContext>();
        s.response.Clear();
        s.start = Clock::now();
        s.reader = s.stub->AsyncModelInfer(s.ctx.get(), request, &cq);
        s.reader->Finish(&s.response, &s.status, &s);
      };
      for (auto& s : slots) {
        grpc::ChannelArguments args;
        // A channel of its own per slot: otherwise grpc shares one connection between them.
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        s.stub = inference::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
            "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args));
        issue(s);
      }
      int in_flight = n;
      lat[t].reserve(1 << 20);
      while (in_flight > 0) {
        void* tag;
        bool ok;
        if (cq.Next(&tag, &ok) != true) break;
        auto now = Clock::now();
        Slot& s = *static_cast<Slot*>(tag);
        if (s.start >= measure_from && now < stop) {
          if (ok && s.status.ok()) {
            lat[t].push_back(std::chrono::duration<float, std::micro>(now - s.start).count());
          } else {
            ++errors[t];
          }
        }
        if (now >= stop) {
          --in_flight;
        } else {
          issue(s);
        }
      }
      cq.Shutdown();
      void* tag;
      bool ok;
      while (cq.Next(&tag, &ok)) {
      }
    });
  }
  for (auto& t : ts) t.join();
  return Summarize(lat, errors, seconds);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  fs::path self = fs::absolute(argv[0]).parent_path();
  std::string server_bin = (self / "../bin/skiff-model-server").lexically_normal().string();
  std::string ml_bin = (self / "../bin/skiff-ml").lexically_normal().string();
  std::string model_dir;
  int connections = 32, client_threads = 1;
  double seconds = 5;
  std::vector<std::string> server_extra = {"--max-batch-size", "32", "--max-latency-us", "0"};
  bool custom_extra = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--server")
      server_bin = next();
    else if (a == "--ml")
      ml_bin = next();
    else if (a == "--model-dir")
      model_dir = next();
    else if (a == "--connections")
      connections = std::atoi(next().c_str());
    else if (a == "--seconds")
      seconds = std::atof(next().c_str());
    else if (a == "--client-threads")
      client_threads = std::atoi(next().c_str());
    else if (a == "--") {
      if (!custom_extra) server_extra.clear();
      custom_extra = true;
      while (i + 1 < argc) server_extra.push_back(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: serving_bench [--server BIN] [--ml BIN] [--connections N] "
                   "[--seconds S] [--client-threads N] [--model-dir DIR] [-- flags]\n");
      return 2;
    }
  }
  connections = std::max(1, connections);
  client_threads = std::clamp(client_threads, 1, connections);
  signal(SIGPIPE, SIG_IGN);
  std::string tmpl = (fs::temp_directory_path() / "serving-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  fs::path dir = tmpl;

  if (model_dir.empty()) {
    // Fashion-MNIST MLP, 1 epoch on 2 000 images: accuracy is irrelevant, the shapes are real.
    if (!RunToEnd({ml_bin, "prepare", "--out", (dir / "data").string(), "--limit", "2000"},
                  dir / "prepare.log") ||
        !RunToEnd({ml_bin, "train", "--data", (dir / "data").string(), "--out",
                   (dir / "mlp").string(), "--model", "mlp", "--epochs", "1", "--threads", "1"},
                  dir / "train.log")) {
      fs::remove_all(dir);
      return 1;
    }
    model_dir = (dir / "mlp").string();
  }

  std::printf(
      "Fashion-MNIST MLP 784-256-10, %d connections, %d client thread(s), %.0f s per "
      "run, %u CPUs\n",
      connections, client_threads, seconds, std::thread::hardware_concurrency());
  std::printf(
      "targets: >= 35 000 req/s (10x FastAPI's 3 100-3 900), >= 57 000-70 000 (50%% of "
      "nginx's 114 000-141 000), p99 < 5 ms\n");

  // (b) skiff's model server, direct.
  std::vector<std::string> args = {server_bin, "--model-dir", model_dir,   "--model-name",
                                   "mnist",    "--address",   "127.0.0.1", "--http-port",
                                   "0",        "--grpc-port", "0"};
  args.insert(args.end(), server_extra.begin(), server_extra.end());
  std::string extra_text;
  for (const auto& s : server_extra) extra_text += " " + s;
  std::printf("\nskiff-model-server%s\n", extra_text.c_str());
  pid_t server = Spawn(args, dir / "server.log");
  uint16_t port = 0;
  for (int i = 0; i < 600 && port == 0; ++i) {
    std::string log = Slurp(dir / "server.log");
    size_t ready = log.find("skiff-model-server ready");
    size_t at = log.find("listening on 127.0.0.1:");
    if (ready != std::string::npos && at != std::string::npos) {
      port = static_cast<uint16_t>(std::atoi(log.c_str() + at + 23));
    }
    int status;
    if (waitpid(server, &status, WNOHANG) == server) break;
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (port == 0) {
    std::fprintf(stderr, "serving_bench: the server did not start:\n%s\n",
                 Slurp(dir / "server.log").c_str());
    kill(server, SIGKILL);
    fs::remove_all(dir);
    return 1;
  }
  Bodies bodies = MakeBodies();
  int rc = 0;
  {
    LoadGenerator json(port, HttpPost("/v2/models/mnist/infer", bodies.json), connections,
                       client_threads);
    auto r = json.Run(seconds, 1.0);
    char note[64];
    std::snprintf(note, sizeof(note), "   (body %zu B)", bodies.json.size());
    Print("V2 JSON infer", r, note);
    if (r.errors || r.ok == 0) rc = 1;
    LoadGenerator bin(port,
                      HttpPost("/v2/models/mnist/infer", bodies.binary,
                               "Inference-Header-Content-Length: " +
                                   std::to_string(bodies.binary_header) + "\r\n"),
                      connections, client_threads);
    r = bin.Run(seconds, 1.0);
    std::snprintf(note, sizeof(note), "   (body %zu B)", bodies.binary.size());
    Print("V2 binary infer", r, note);
    if (r.errors || r.ok == 0) rc = 1;
#ifdef SKIFF_SERVING_GRPC
    std::string log = Slurp(dir / "server.log");
    size_t at = log.find("grpc listening on 127.0.0.1:");
    if (at != std::string::npos) {
      auto grpc_port = static_cast<uint16_t>(std::atoi(log.c_str() + at + 28));
      inference::ModelInferRequest typed;
      typed.set_model_name("mnist");
      typed.set_id("bench");
      auto* in = typed.add_inputs();
      in->set_name("input");
      in->set_datatype("FP32");
      for (int64_t d : {1, 1, 28, 28}) in->add_shape(d);
      inference::ModelInferRequest raw = typed;
      in->mutable_contents()->mutable_fp32_contents()->Add(bodies.pixels.begin(),
                                                           bodies.pixels.end());
      raw.add_raw_input_contents(std::string(reinterpret_cast<const char*>(bodies.pixels.data()),
                                             bodies.pixels.size() * sizeof(float)));
      r = GrpcLoad(grpc_port, typed, connections, client_threads, seconds, 1.0);
      std::snprintf(note, sizeof(note), "   (message %zu B)", typed.ByteSizeLong());
      Print("V2 gRPC infer, fp32_contents", r, note);
      if (r.errors || r.ok == 0) rc = 1;
      r = GrpcLoad(grpc_port, raw, connections, client_threads, seconds, 1.0);
      std::snprintf(note, sizeof(note), "   (message %zu B)", raw.ByteSizeLong());
      Print("V2 gRPC infer, raw_input_contents", r, note);
      if (r.errors || r.ok == 0) rc = 1;
    } else {
      std::printf("  V2 gRPC: the server did not say its gRPC port\n");
    }
#endif
  }
  std::string metrics;
  {
    // Batch sizes the server formed, from its own metrics.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      (void)!write(fd, req.data(), req.size());
      char buf[65536];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) metrics.append(buf, n);
    }
    close(fd);
    auto value = [&](const std::string& key) {
      size_t at = metrics.find(key);
      return at == std::string::npos ? 0.0 : std::atof(metrics.c_str() + at + key.size());
    };
    double rows = value("nv_inference_count{model=\"mnist\",version=\"1\"} ");
    double execs = value("nv_inference_exec_count{model=\"mnist\",version=\"1\"} ");
    if (execs > 0) std::printf("  mean rows per forward (server metrics): %.1f\n", rows / execs);
  }
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);

  // (a) the same model as an InferenceService of a real `skiff up`, through its gateway: the
  // controller runs the model server as a Pod (built-in skiff-torchscript runtime, same batcher
  // settings), the gateway routes by Host.
  if (std::string skiff_bin = (self / "../bin/skiff").lexically_normal().string();
      fs::exists(skiff_bin)) {
    const uint16_t gw_port = skiff::FreeLoopbackPort();
    skiff::bench::Skiff up(skiff_bin, (dir / "skiff").string(),
                           {"--gateway-port", std::to_string(gw_port)});
    fs::create_directories(dir / "skiff");
    std::printf(
        "\n(a) InferenceService through skiff's gateway (Host: mnist.default.example.com)\n");
    if (up.Start()) {
      auto client = up.NewClient();
      skiff::Json isvc = {{"apiVersion", "serving.kserve.io/v1beta1"},
                          {"kind", "InferenceService"},
                          {"metadata", {{"name", "mnist"}, {"namespace", "default"}}},
                          {"spec",
                           {{"predictor",
                             {{"model",
                               {{"modelFormat", {{"name", "pytorch"}}},
                                {"storageUri", "file://" + fs::absolute(model_dir).string()}}},
                              {"batcher", {{"maxBatchSize", 32}, {"maxLatency", 0}}}}}}}};
      auto created = client->Do(
          up.Req("POST", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices",
                 isvc.dump()));
      bool ready = false;
      for (int i = 0; i < 600 && created.ok() && created->status < 300 && !ready; ++i) {
        auto got = client->Do(
            up.Get("/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/mnist"));
        if (got.ok() && got->status == 200) {
          auto j = skiff::ParseJson(got->body);
          for (const auto& c : j.ok() ? j->value("status", skiff::Json::object())
                                            .value("conditions", skiff::Json::array())
                                      : skiff::Json::array()) {
            ready = ready || (c.value("type", "") == "Ready" && c.value("status", "") == "True");
          }
        }
        if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (ready) {
        const std::string host = "mnist.default.example.com";
        auto request = [&](const std::string& body) {
          return "POST /v2/models/mnist/infer HTTP/1.1\r\nHost: " + host +
                 "\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
        };
        char note[64];
        std::snprintf(note, sizeof(note), "   (body %zu B)", bodies.json.size());
        Print("V2 JSON infer",
              LoadGenerator(gw_port, request(bodies.json), connections, client_threads)
                  .Run(seconds, 1.0),
              note);
      } else {
        std::printf("  the InferenceService did not become Ready (%s)\n",
                    created.ok() ? created->body.substr(0, 300).c_str()
                                 : created.status().message().c_str());
        rc = 1;
      }
      up.Stop();
    } else {
      rc = 1;
    }
  }

  // (c) what users write by hand: FastAPI + uvicorn + PyTorch, 2 workers (Debian's packages).
  if (fs::exists("/usr/bin/python3") && fs::exists(SKIFF_FASTAPI_REF)) {
    uint16_t ref_port = skiff::FreeLoopbackPort();
    pid_t ref = Spawn({"/usr/bin/python3", SKIFF_FASTAPI_REF, model_dir + "/model.pt",
                       std::to_string(ref_port), "2"},
                      dir / "fastapi.log");
    if (WaitHttp200(ref_port, "/v2/health/ready", 60)) {
      std::printf("\n(c) FastAPI + uvicorn + PyTorch, 2 workers (bench/serving_fastapi_ref.py)\n");
      LoadGenerator json(ref_port, HttpPost("/v2/models/mnist/infer", bodies.json), connections,
                         client_threads);
      char note[64];
      std::snprintf(note, sizeof(note), "   (body %zu B)", bodies.json.size());
      Print("V2 JSON", json.Run(seconds, 1.0), note);
    } else {
      std::printf(
          "\n(c) FastAPI reference did not start (python3-fastapi, python3-uvicorn, "
          "python3-torch):\n%s\n",
          Slurp(dir / "fastapi.log").c_str());
    }
    StopPeer(ref);
  }

  // (d) the HTTP ceiling on this machine: a fixed 200 body from each server, same generator.
  std::printf("\nHTTP ceiling, fixed 17-byte 200 response, %d threads:\n",
              std::max(2u, std::thread::hardware_concurrency()));
  const std::string fixed = "{\"ready\": true}\n";
  const std::string get = "GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  {
    skiff::serving::HttpServerOptions o;
    o.threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
    skiff::serving::HttpServer s(
        o, [&](const skiff::serving::HttpRequest&, skiff::serving::Responder r) {
          r.Send(skiff::serving::HttpResponse{200, "application/json", fixed, {}});
        });
    if (s.Start().ok()) {
      Print("serving/http_server (epoll)",
            LoadGenerator(s.port(), get, connections, client_threads).Run(seconds, 0.5), "");
    }
  }
  {
    skiff::http::ServerOptions o;
    o.threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
    auto s = skiff::http::NewServer(o, [&](skiff::http::Request&) -> skiff::http::Reply {
      skiff::http::Response r;
      r.body = fixed;
      return r;
    });
    if (s->Start().ok()) {
      Print("http/server (Boost.Beast)",
            LoadGenerator(s->port(), get, connections, client_threads).Run(seconds, 0.5), "");
      s->Stop();
    }
  }

  {
    // nginx, 2 workers, returning the body from its config: the HTTP ceiling users know.
    uint16_t nginx_port = skiff::FreeLoopbackPort();
    fs::path conf = dir / "nginx.conf";
    std::ofstream(conf) << "worker_processes 2;\npid " << (dir / "nginx.pid").string()
                        << ";\nerror_log " << (dir / "nginx.err").string()
                        << ";\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n  "
                           "keepalive_requests 100000000;\n"
                        << "  server {\n    listen 127.0.0.1:" << nginx_port
                        << ";\n    location / { default_type application/json; return 200 "
                           "'{\"ready\": true}\\n'; }\n  }\n}\n";
    std::string nginx_bin = fs::exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "";
    if (!nginx_bin.empty()) {
      pid_t ng = Spawn({nginx_bin, "-c", conf.string(), "-p", dir.string(), "-g", "daemon off;"},
                       dir / "nginx.log");
      if (WaitHttp200(nginx_port, "/v2/health/ready", 10)) {
        Print("nginx 2 workers (the issue's (d))",
              LoadGenerator(nginx_port, get, connections, client_threads).Run(seconds, 0.5), "");
      } else {
        std::printf("  nginx did not start: %s\n", Slurp(dir / "nginx.err").c_str());
      }
      StopPeer(ng);
    } else {
      std::printf("  nginx: not installed (scripts/bootstrap installs nginx-light)\n");
    }
  }

  // (e) the compute ceiling: one instance, one thread, in process.
  skiff::serving::RegisterTorchScriptBackend();
  auto model = skiff::serving::LoadModel("mnist", model_dir, {});
  if (model.ok()) {
    std::printf(
        "\nin-process forward, 1 thread (issue's reference: 19 092 /s at batch 1, "
        "231 683 /s at batch 32):\n");
    std::printf("  batch  1: %9.0f inferences/s\n", ForwardThroughput(**model, 1));
    std::printf("  batch 32: %9.0f inferences/s\n", ForwardThroughput(**model, 32));
  } else {
    std::fprintf(stderr, "serving_bench: %s\n", model.status().message().c_str());
    rc = 1;
  }
  fs::remove_all(dir);
  return rc;
}
