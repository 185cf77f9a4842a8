// The gateway against real HTTP backends on loopback: routing by Host and path, 404s, the canary
// split, the activator (hold, wake the autoscaler, forward; 503 after the timeout), dead backends
// (502 without hurting other routes), chunked bodies both ways, keep-alive, and the added latency.
#include "inference/gateway.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <thread>

#include "http/client.h"
#include "http/server.h"

namespace skiff::inference {
namespace {

using std::chrono::milliseconds;

// A backend that answers with its name, the request target and body.
struct Backend {
  explicit Backend(std::string name) : name(std::move(name)) {
    http::ServerOptions o;
    o.address = "127.0.0.1";
    o.threads = 2;
    server = http::NewServer(o, [this](http::Request& r) -> http::Reply {
      if (r.path == "/slow") std::this_thread::sleep_for(milliseconds(400));
      if (r.path == "/stream") {
        http::StreamStart s;
        s.content_type = "text/plain";
        s.start = [](std::shared_ptr<http::Stream> out) {
          std::thread([out] {
            for (int i = 0; i < 3; ++i) out->Write("part" + std::to_string(i) + ";");
            out->Close();
          }).detach();
        };
        return s;
      }
      http::Response resp;
      resp.body = Json{{"backend", this->name},
                       {"target", r.target},
                       {"body", r.body},
                       {"host", r.Header("host")}}
                      .dump();
      return resp;
    });
    EXPECT_TRUE(server->Start().ok());
  }
  uint16_t port() const { return server->port(); }
  std::string name;
  std::unique_ptr<http::Server> server;
};

RevisionRoute Rev(const std::string& name, std::vector<const Backend*> backends, int percent,
                  std::shared_ptr<RevisionStats> stats = nullptr) {
  RevisionRoute r;
  r.name = name;
  r.key = "default/" + name;
  r.percent = percent;
  r.stats = std::move(stats);
  for (const Backend* b : backends) r.backends.push_back({"127.0.0.1", b->port(), b->name});
  return r;
}

ServiceRoute Svc(const std::string& name, std::vector<RevisionRoute> revs,
                 milliseconds timeout = milliseconds(5000)) {
  ServiceRoute s;
  s.ns = "default";
  s.name = name;
  ComponentRoute c;
  c.component = "predictor";
  c.revisions = std::move(revs);
  c.timeout = timeout;
  s.predictor = c;
  for (const auto& r : s.predictor->revisions) {
    s.signature += r.name + std::to_string(r.percent) + std::to_string(r.backends.size());
  }
  return s;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayOptions o;
    o.port = 0;
    o.threads = 2;
    gateway_ = std::make_unique<Gateway>(&table_, &autoscaler_, o);
    ASSERT_TRUE(gateway_->Listen().ok());
  }
  void TearDown() override { gateway_->Stop(); }

  std::unique_ptr<http::Client> Client() {
    http::ClientOptions o;
    o.port = gateway_->port();
    o.timeout = milliseconds(10000);
    return http::NewClient(o);
  }
  StatusOr<http::Response> Get(const std::string& host, const std::string& target,
                               const std::string& body = "") {
    auto c = Client();
    http::ClientRequest r;
    r.method = body.empty() ? "GET" : "POST";
    r.target = target;
    r.headers["Host"] = host;
    r.body = body;
    return c->Do(r);
  }

  RoutingTable table_{"example.com"};
  Autoscaler autoscaler_;
  std::unique_ptr<Gateway> gateway_;
};

// A second gateway asked for a taken port (a second skiff on the default 8081) falls back to a
// free one instead of sharing the port through SO_REUSEPORT; without the fallback it is an error.
TEST_F(GatewayTest, ATakenPortFallsBackOrFails) {
  GatewayOptions o;
  o.port = gateway_->port();
  o.threads = 2;
  o.fallback_to_free_port = true;
  Gateway second(&table_, &autoscaler_, o);
  ASSERT_TRUE(second.Listen().ok());
  EXPECT_NE(second.port(), gateway_->port());
  second.Stop();
  o.fallback_to_free_port = false;
  Gateway third(&table_, &autoscaler_, o);
  EXPECT_FALSE(third.Listen().ok());
}

TEST_F(GatewayTest, RoutesByHostAndByPath) {
  Backend a("a");
  table_.Publish(Svc("mnist", {Rev("mnist-predictor-1", {&a}, 100)}));
  auto r = Get("mnist.default.example.com", "/v2/models/mnist/infer", R"({"inputs":[]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  Json body = Json::parse(r->body);
  EXPECT_EQ(body["target"], "/v2/models/mnist/infer");
  EXPECT_EQ(body["body"], R"({"inputs":[]})");
  EXPECT_EQ(r->headers["X-Skiff-Revision"], "mnist-predictor-1");
  r = Get("127.0.0.1", "/serving/default/mnist/v1/models/mnist:predict?x=1", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Json::parse(r->body)["target"], "/v1/models/mnist:predict?x=1");
}

TEST_F(GatewayTest, UnknownServicesGetJson404) {
  auto r = Get("nope.default.example.com", "/v2/models/nope/infer", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  auto body = Json::parse(r->body);
  EXPECT_NE(body["error"].get<std::string>().find("nope.default.example.com"), std::string::npos);
}

TEST_F(GatewayTest, CanarySplitsTrafficByPercent) {
  Backend old_rev("old"), new_rev("new");
  table_.Publish(
      Svc("m", {Rev("m-predictor-new", {&new_rev}, 20), Rev("m-predictor-old", {&old_rev}, 80)}));
  auto c = Client();
  int to_new = 0;
  for (int i = 0; i < 1000; ++i) {
    http::ClientRequest req;
    req.target = "/v2/health/ready";
    req.headers["Host"] = "m.default.example.com";
    auto r = c->Do(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200);
    const bool is_new = Json::parse(r->body)["backend"] == "new";
    EXPECT_EQ(r->headers["X-Skiff-Revision"], is_new ? "m-predictor-new" : "m-predictor-old");
    to_new += is_new ? 1 : 0;
  }
  EXPECT_NEAR(to_new, 200, 40);
}

TEST_F(GatewayTest, ActivatorHoldsUntilAReplicaIsReady) {
  Backend a("a");
  auto stats = autoscaler_.Stats("default/z-predictor-1");
  table_.Publish(Svc("z", {Rev("z-predictor-1", {}, 100, stats)}));
  auto fut = std::async(std::launch::async,
                        [&] { return Get("z.default.example.com", "/v2/health/ready"); });
  // The request waits; publishing a ready backend releases it.
  EXPECT_EQ(fut.wait_for(milliseconds(300)), std::future_status::timeout);
  EXPECT_EQ(stats->in_flight(), 1);  // held requests count as concurrency
  table_.Publish(Svc("z", {Rev("z-predictor-1", {&a}, 100, stats)}));
  auto r = fut.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["X-Skiff-Revision"], "z-predictor-1");
  EXPECT_EQ(stats->in_flight(), 0);
}

TEST_F(GatewayTest, ActivatorTellsTheAutoscaler) {
  ScaleSpec spec;
  spec.min_replicas = 0;
  AutoscalerOptions o;
  o.stable_window = milliseconds(100);
  o.scale_to_zero_grace = milliseconds(0);
  Autoscaler scaler(o);
  GatewayOptions go;
  go.port = 0;
  RoutingTable table;
  Gateway gw(&table, &scaler, go);
  ASSERT_TRUE(gw.Listen().ok());
  std::atomic<int> woken{0};
  scaler.Configure("default/s-predictor-1", spec, 1, 1, [&] { ++woken; });
  // Idle past the window: the decision drops to zero.
  for (int i = 0; i < 40 && scaler.Desired("default/s-predictor-1").value_or(-1) != 0; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    scaler.Tick(std::chrono::steady_clock::now());
  }
  ASSERT_EQ(scaler.Desired("default/s-predictor-1").value_or(-1), 0);
  scaler.Configure("default/s-predictor-1", spec, 0, 0, [&] { ++woken; });
  const int before = woken.load();
  table.Publish(Svc("s", {Rev("s-predictor-1", {}, 100, scaler.Stats("default/s-predictor-1"))},
                    milliseconds(300)));
  http::ClientOptions co;
  co.port = gw.port();
  auto c = http::NewClient(co);
  http::ClientRequest req;
  req.target = "/v2/health/ready";
  req.headers["Host"] = "s.default.example.com";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c->Do(req);
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok());
  // No replica came: 503 after the component's timeout, and the autoscaler was asked for one.
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(Json::parse(r->body)["error"].get<std::string>().find("ready replica"),
            std::string::npos);
  EXPECT_GE(waited, milliseconds(250));
  EXPECT_GT(woken.load(), before);
  EXPECT_EQ(scaler.Desired("default/s-predictor-1").value_or(-1), 1);
  gw.Stop();
}

TEST_F(GatewayTest, DeadBackendGets502OthersKeepServing) {
  auto dying = std::make_unique<Backend>("dying");
  Backend healthy("healthy");
  table_.Publish(Svc("d", {Rev("d-predictor-1", {dying.get()}, 100)}));
  table_.Publish(Svc("h", {Rev("h-predictor-1", {&healthy}, 100)}));
  auto c = Client();
  http::ClientRequest req;
  req.target = "/v2/health/ready";
  req.headers["Host"] = "d.default.example.com";
  auto r = c->Do(req);  // leaves a pooled upstream connection to the backend
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  dying->server->Stop();
  r = c->Do(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(Json::parse(r->body)["error"].get<std::string>().find("d-predictor-1"),
            std::string::npos);
  req.headers["Host"] = "h.default.example.com";
  r = c->Do(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body)["backend"], "healthy");
}

TEST_F(GatewayTest, RequestTimeoutAnswers504) {
  Backend a("a");
  table_.Publish(Svc("t", {Rev("t-predictor-1", {&a}, 100)}, milliseconds(150)));
  auto r = Get("t.default.example.com", "/slow");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 504);
  r = Get("t.default.example.com", "/fast");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

// A raw HTTP/1.1 exchange over one socket (chunked request, pipelining).
std::string RawExchange(uint16_t port, const std::string& request, size_t expect_responses) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t seen = 0;
  while (true) {
    size_t count = 0, pos = 0;
    while ((pos = out.find("HTTP/1.1 200", pos)) != std::string::npos) {
      ++count;
      ++pos;
    }
    seen = count;
    if (seen >= expect_responses && out.rfind("}") != std::string::npos &&
        out.size() > out.rfind("}") && out.back() == '}') {
      break;
    }
    if (out.find("0\r\n\r\n") != std::string::npos && expect_responses == 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

TEST_F(GatewayTest, ChunkedBodiesAndPipelining) {
  Backend a("a");
  table_.Publish(Svc("c", {Rev("c-predictor-1", {&a}, 100)}));
  const std::string chunked =
      "POST /v2/models/c/infer HTTP/1.1\r\nHost: c.default.example.com\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  const std::string plain =
      "GET /second HTTP/1.1\r\nHost: c.default.example.com\r\nConnection: close\r\n\r\n";
  std::string out = RawExchange(gateway_->port(), chunked + plain, 2);
  EXPECT_NE(out.find(R"("body":"hello world")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("target":"/second")"), std::string::npos) << out;
  // A streamed (chunked) response passes through whole.
  auto r = Get("c.default.example.com", "/stream");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "part0;part1;part2;");
}

TEST_F(GatewayTest, AddedLatencyIsSmall) {
  Backend a("a");
  table_.Publish(Svc("l", {Rev("l-predictor-1", {&a}, 100)}));
  auto measure = [](http::Client* c, const std::string& host) {
    http::ClientRequest req;
    req.target = "/v2/health/ready";
    req.headers["Host"] = host;
    std::vector<double> us;
    for (int i = 0; i < 2000; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = c->Do(req);
      const auto t1 = std::chrono::steady_clock::now();
      if (!r.ok() || r->status != 200) return -1.0;
      if (i >= 200) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  };
  http::ClientOptions direct_opts;
  direct_opts.port = a.port();
  auto direct = http::NewClient(direct_opts);
  auto via = Client();
  const double p50_direct = measure(direct.get(), "127.0.0.1");
  const double p50_gateway = measure(via.get(), "l.default.example.com");
  ASSERT_GT(p50_direct, 0);
  ASSERT_GT(p50_gateway, 0);
  std::printf("p50 direct %.1f us, through the gateway %.1f us: +%.1f us\n", p50_direct,
              p50_gateway, p50_gateway - p50_direct);
  // Generous on shared CI machines; the figure printed above is what matters.
  EXPECT_LT(p50_gateway - p50_direct, 1000);
}

}  // namespace
}  // namespace skiff::inference
