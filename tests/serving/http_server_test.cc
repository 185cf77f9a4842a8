// The data plane's epoll HTTP server: keep-alive, pipelining in order, chunked bodies,
// 100-continue, limits, answers from other threads, and clients that vanish mid-request.
#include "serving/http_server.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "test_http.h"

namespace skiff::serving {
namespace {

using testing::Connection;
using testing::Fetch;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions o = {}) {
    o.threads = 2;
    o.error_body = [](int status, const std::string& m) {
      return "E" + std::to_string(status) + ":" + m;
    };
    server_ = std::make_unique<HttpServer>(
        o, [this](const HttpRequest& r, Responder resp) { Handle(r, std::move(resp)); });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    // Stop first: a request read late (its client already gone) may still start a thread. The
    // stopped server's loops stay allocated, so the late answers have somewhere to go.
    if (server_) server_->Stop();
    std::lock_guard lock(mu_);
    for (auto& t : async_) t.join();
  }

  void Handle(const HttpRequest& r, Responder resp) {
    HttpResponse out;
    out.content_type = "text/plain";
    if (r.path == "/echo") {
      out.body = std::string(r.method) + " " + std::string(r.body);
      out.headers.emplace_back("X-Query", std::string(r.query));
      out.headers.emplace_back("X-Custom", std::string(r.Header("x-custom")));
      // The padding promised after the body is readable (AddressSanitizer builds check it).
      volatile char last_pad = r.body.data()[r.body.size() + kBodyPadding - 1];
      (void)last_pad;
      return resp.Send(std::move(out));
    }
    if (r.path == "/slow") {
      // Answered later from another thread, as the model runners do.
      std::string body(r.body);
      std::lock_guard lock(mu_);
      async_.emplace_back([resp = std::move(resp), body]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        resp.Send(HttpResponse{200, "text/plain", "slow " + body, {}});
      });
      return;
    }
    if (r.path == "/drop") return;  // the Responder answers 500 when destroyed
    if (r.path == "/throw") throw std::runtime_error("boom");
    out.status = 404;
    resp.Send(std::move(out));
  }

  uint16_t port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<std::thread> async_;  // guarded by mu_
};

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Start();
  Connection c(port());
  for (int i = 0; i < 50; ++i) {
    auto r = c.Request("POST", "/echo?i=" + std::to_string(i), "body" + std::to_string(i),
                       "X-Custom: v\r\n");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "POST body" + std::to_string(i));
    EXPECT_EQ(r.Header("x-query"), "i=" + std::to_string(i));
    EXPECT_EQ(r.Header("x-custom"), "v");
    EXPECT_FALSE(r.Header("date").empty());
  }
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderEvenWhenTheFirstIsSlow) {
  Start();
  Connection c(port());
  std::string reqs;
  reqs += "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA";
  reqs += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nB";
  reqs += "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.SendRaw(reqs));
  EXPECT_EQ(c.Read().body, "slow A");
  EXPECT_EQ(c.Read().body, "POST B");
  EXPECT_EQ(c.Read().body, "GET ");
}

TEST_F(HttpServerTest, ChunkedBodiesAreDecoded) {
  Start();
  Connection c(port());
  ASSERT_TRUE(
      c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // arrives in two pieces
  ASSERT_TRUE(c.SendRaw("1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST hello world!");
  EXPECT_EQ(c.Request("GET", "/echo").status, 200);  // the connection is still usable
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimResponse) {
  Start();
  Connection c(port());
  ASSERT_TRUE(
      c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                "Content-Length: 3\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(c.SendRaw("abc"));
  auto r = c.Read();  // Read() skips the 100 Continue
  EXPECT_EQ(r.body, "POST abc");
}

TEST_F(HttpServerTest, OversizedBodyIs413AndTheServerKeepsServing) {
  HttpServerOptions o;
  o.max_body_bytes = 1000;
  Start(o);
  Connection c(port());
  ASSERT_TRUE(c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
                        std::string(2000, 'a')));
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body.rfind("E413:", 0), 0u);
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
  // Chunked bodies count too.
  Connection c2(port());
  ASSERT_TRUE(
      c2.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "7d0\r\n" +
                 std::string(2000, 'b') + "\r\n"));
  EXPECT_EQ(c2.Read().status, 413);
  EXPECT_EQ(Fetch(port(), "GET", "/echo").status, 200);
}

TEST_F(HttpServerTest, MalformedRequestsAre400) {
  Start();
  for (std::string bad :
       {"GARBAGE\r\n\r\n", "GET /x HTTP/2.0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    Connection c(port());
    ASSERT_TRUE(c.SendRaw(bad));
    auto r = c.Read();
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(c.WaitClosed()) << bad;
  }
  Connection big(port());
  ASSERT_TRUE(big.SendRaw("GET /x HTTP/1.1\r\nX: " + std::string(100 << 10, 'h')));
  EXPECT_EQ(big.Read().status, 431);
  EXPECT_EQ(Fetch(port(), "GET", "/echo").status, 200);
}

TEST_F(HttpServerTest, ClientDisconnectMidRequestLeavesTheServerServing) {
  Start();
  for (int i = 0; i < 20; ++i) {
    {
      Connection c(port());
      ASSERT_TRUE(c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf"));
    }
    {
      // Gone while its answer is being computed on another thread.
      Connection c(port());
      ASSERT_TRUE(c.SendRaw("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"));
    }
  }
  EXPECT_EQ(Fetch(port(), "POST", "/echo", "still").body, "POST still");
}

TEST_F(HttpServerTest, HandlersThatDropOrThrowAnswer500) {
  Start();
  Connection c(port());
  EXPECT_EQ(c.Request("GET", "/drop").status, 500);
  EXPECT_EQ(c.Request("GET", "/throw").status, 500);
  EXPECT_EQ(c.Request("GET", "/echo").status, 200);
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10) {
  Start();
  Connection c(port());
  auto r = c.Request("GET", "/echo", "", "Connection: close\r\n");
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
  Connection old(port());
  ASSERT_TRUE(old.SendRaw("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(old.Read().Header("connection"), "keep-alive");
  ASSERT_TRUE(old.SendRaw("GET /echo HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(old.Read().status, 200);
  EXPECT_TRUE(old.WaitClosed());
}

TEST_F(HttpServerTest, ManyConcurrentConnections) {
  Start();
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      Connection c(port());
      for (int i = 0; i < 100; ++i) {
        auto r = c.Request("POST", i % 10 ? "/echo" : "/slow", std::to_string(t));
        ok += r.status == 200;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 800);
}

}  // namespace
}  // namespace skiff::serving

namespace skiff::serving {
namespace {

// The loops share their port through SO_REUSEPORT; a second server asking for that port must be
// refused rather than silently take part of the first one's connections.
TEST(HttpServerPortTest, ASecondServerOnATakenPortIsRefused) {
  HttpServerOptions o;
  o.threads = 2;
  HttpServer first(o, [](const HttpRequest&, Responder r) { r.Send({}); });
  ASSERT_TRUE(first.Start().ok());
  o.port = first.port();
  HttpServer second(o, [](const HttpRequest&, Responder r) { r.Send({}); });
  Status st = second.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("already in use"), std::string::npos) << st.message();
  first.Stop();
}

}  // namespace
}  // namespace skiff::serving
