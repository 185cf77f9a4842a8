// The server and client against each other (and against curl): round trips, keep-alive, limits,
// streaming, shutdown and TLS with client certificates. Everything binds 127.0.0.1 port 0.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "common/file.h"
#include "common/json.h"
#include "common/pki.h"
#include "http/client.h"

namespace skiff::http {
namespace {

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-http-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Reflects what the server parsed, so tests can assert on it from the client side.
Reply Echo(Request& r) {
  Json query = Json::object();
  for (const auto& [k, v] : r.query) query[k].push_back(v);
  Json j = {{"method", r.method},          {"path", r.path},
            {"target", r.target},          {"query", query},
            {"body_size", r.body.size()},  {"body_sha", pki::Sha256Hex(r.body)},
            {"remote", r.remote_address},  {"tls", r.tls},
            {"cn", r.client_cert_cn},      {"orgs", r.client_cert_orgs},
            {"x_test", r.Header("x-test")}};
  Response resp;
  resp.body = j.dump();
  resp.headers["X-Echo"] = "yes";
  return resp;
}

std::unique_ptr<Server> MustStart(ServerOptions options, Handler handler) {
  auto server = NewServer(std::move(options), std::move(handler));
  Status st = server->Start();
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(server->port(), 0);
  return server;
}

ClientOptions PlainClient(uint16_t port) {
  ClientOptions o;
  o.port = port;
  o.timeout = 10s;
  return o;
}

Json MustDo(Client& client, ClientRequest req) {
  auto resp = client.Do(req);
  EXPECT_TRUE(resp.ok()) << resp.status().ToString();
  if (!resp.ok()) return Json();
  EXPECT_EQ(resp->status, 200) << resp->body;
  return Json::parse(resp->body);
}

TEST(ServerTest, GetAndPostRoundTrip) {
  auto server = MustStart({}, Echo);
  auto client = NewClient(PlainClient(server->port()));

  ClientRequest get;
  get.target = "/api/v1/namespaces/a%20b/pods?labelSelector=app%3Dweb+x&watch=1&watch=2";
  get.headers["X-Test"] = "hello";
  auto resp = client->Do(get);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->content_type, "application/json");
  EXPECT_EQ(resp->headers["x-echo"], "yes");
  Json j = Json::parse(resp->body);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/api/v1/namespaces/a b/pods");
  EXPECT_EQ(j["target"], get.target);
  EXPECT_EQ(j["query"]["labelSelector"][0], "app=web x");
  EXPECT_EQ(j["query"]["watch"], Json::array({"1", "2"}));
  EXPECT_EQ(j["x_test"], "hello");
  EXPECT_EQ(j["tls"], false);
  EXPECT_EQ(j["cn"], "");

  ClientRequest post;
  post.method = "POST";
  post.target = "/apis/kubeflow.org/v1/tfjobs";
  post.body = std::string(300 * 1024, 'x');
  post.headers["Content-Type"] = "application/json";
  j = MustDo(*client, post);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["body_size"], post.body.size());
  EXPECT_EQ(j["body_sha"], pki::Sha256Hex(post.body));

  ClientRequest patch;
  patch.method = "PATCH";
  patch.body = "{}";
  EXPECT_EQ(MustDo(*client, patch)["method"], "PATCH");
}

TEST(ServerTest, StatusCodesAndEmptyBodies) {
  auto server = MustStart({}, [](Request& r) -> Reply {
    Response resp;
    resp.status = r.path == "/missing" ? 404 : 204;
    resp.content_type = "";
    return resp;
  });
  auto client = NewClient(PlainClient(server->port()));
  auto missing = client->Do({.target = "/missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  auto none = client->Do({.method = "DELETE", .target = "/x"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 204);
  EXPECT_EQ(none->body, "");
}

TEST(ServerTest, HeadAndBodylessStatusesKeepTheConnectionUsable) {
  auto server = MustStart({}, [](Request& r) -> Reply {
    Response resp;
    resp.status = r.path == "/nocontent" ? 204 : 200;
    resp.body = "twelve bytes";  // dropped for 204 and HEAD
    return resp;
  });
  auto client = NewClient(PlainClient(server->port()));
  auto head = client->Do({.method = "HEAD", .target = "/"});
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->headers["Content-Length"], "12");
  EXPECT_EQ(head->body, "");
  auto none = client->Do({.target = "/nocontent"});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->status, 204);
  auto get = client->Do({.target = "/"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->body, "twelve bytes");
}

TEST(ServerTest, KeepAliveReusesTheConnection) {
  auto server = MustStart({}, Echo);
  auto client = NewClient(PlainClient(server->port()));
  std::string remote = MustDo(*client, {})["remote"];
  EXPECT_EQ(remote.rfind("127.0.0.1:", 0), 0u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(MustDo(*client, {})["remote"], remote);
  // Another client is another connection.
  auto other = NewClient(PlainClient(server->port()));
  EXPECT_NE(MustDo(*other, {})["remote"], remote);
}

// A minimal server that answers each request with keep-alive and then hangs up anyway: the client
// must notice and send the next request on a new connection.
TEST(ClientTest, ReconnectsWhenServerClosedKeptAliveConnection) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::atomic<int> served{0};
  std::thread raw([&] {
    for (int i = 0; i < 3; ++i) {
      int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      std::string in;
      char buf[1024];
      while (in.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        in.append(buf, n);
      }
      std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      EXPECT_EQ(write(fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
      ++served;
      close(fd);
    }
  });
  auto client = NewClient(PlainClient(ntohs(addr.sin_port)));
  auto first = client->Do({});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->body, "ok");
  // Immediately: the close may or may not have arrived yet; both paths must work.
  auto second = client->Do({});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  std::this_thread::sleep_for(50ms);
  auto third = client->Do({});
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  raw.join();
  close(listener);
  EXPECT_EQ(served.load(), 3);
}

TEST(ClientTest, UnreachableServerIsUnavailable) {
  // Bind a port and close it so nothing listens there.
  auto server = MustStart({}, Echo);
  uint16_t port = server->port();
  server->Stop();
  auto resp = NewClient(PlainClient(port))->Do({});
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);
}

TEST(ClientTest, SlowServerTimesOut) {
  auto server = MustStart({}, [](Request&) -> Reply {
    std::this_thread::sleep_for(1s);
    return Response{};
  });
  ClientOptions o = PlainClient(server->port());
  o.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto resp = NewClient(o)->Do({});
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), Code::kTimeout) << resp.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
}

TEST(ServerTest, OversizedBodyIs413WithoutCallingHandler) {
  std::atomic<int> calls{0};
  ServerOptions options;
  options.max_body_bytes = 1024 * 1024;
  auto server = MustStart(options, [&](Request& r) -> Reply {
    ++calls;
    return Echo(r);
  });
  auto client = NewClient(PlainClient(server->port()));
  ClientRequest big;
  big.method = "POST";
  big.body = std::string(5 * 1024 * 1024, 'y');  // well past the socket buffers
  auto resp = client->Do(big);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 413);
  Json status = Json::parse(resp->body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["apiVersion"], "v1");
  EXPECT_EQ(status["status"], "Failure");
  EXPECT_EQ(status["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(status["code"], 413);
  EXPECT_TRUE(status["metadata"].is_object());
  EXPECT_EQ(calls.load(), 0);

  // The client recovers on a new connection, and a body at the limit is fine.
  big.body.resize(options.max_body_bytes);
  EXPECT_EQ(MustDo(*client, big)["body_size"], options.max_body_bytes);
  EXPECT_EQ(calls.load(), 1);
}

TEST(ServerTest, SlowHandlerDoesNotStallOtherConnections) {
  ServerOptions options;
  options.threads = 1;
  auto server = MustStart(options, [](Request& r) -> Reply {
    if (r.path == "/slow") std::this_thread::sleep_for(1500ms);
    return Response{.body = "{}"};
  });
  auto slow = std::async(std::launch::async, [&] {
    return NewClient(PlainClient(server->port()))->Do({.target = "/slow"});
  });
  std::this_thread::sleep_for(100ms);
  auto client = NewClient(PlainClient(server->port()));
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client->Do({.target = "/fast"}).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms);
  EXPECT_TRUE(slow.get().ok());
}

TEST(ServerTest, ManyConcurrentClients) {
  ServerOptions options;
  options.threads = 4;
  auto server = MustStart(options, Echo);
  constexpr int kClients = 24;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = NewClient(PlainClient(server->port()));
      for (int i = 0; i < kRequests; ++i) {
        ClientRequest req;
        req.method = "PUT";
        req.target = "/c/" + std::to_string(c) + "?i=" + std::to_string(i);
        req.body = std::string(100 + i, 'a' + c % 26);
        auto resp = client->Do(req);
        if (!resp.ok() || resp->status != 200) continue;
        Json j = Json::parse(resp->body);
        if (j["path"] == "/c/" + std::to_string(c) && j["query"]["i"][0] == std::to_string(i) &&
            j["body_sha"] == pki::Sha256Hex(req.body)) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
}

// Handlers that stream hand their Stream to a producer thread, as a watch does.
class Producers {
 public:
  ~Producers() { JoinAll(); }
  void Spawn(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    threads_.emplace_back(std::move(fn));
  }
  void JoinAll() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

TEST(StreamTest, ChunksArriveAsTheyAreWritten) {
  Producers producers;
  std::promise<void> first_seen;
  auto first_seen_future = first_seen.get_future().share();
  auto server = MustStart({}, [&](Request&) -> Reply {
    StreamStart s;
    s.headers["X-Stream"] = "1";
    s.start = [&, first_seen_future](std::shared_ptr<Stream> stream) {
      producers.Spawn([stream, first_seen_future] {
        EXPECT_TRUE(stream->Write("{\"n\":1}\n"));
        // The second event waits until the client has the first: proves incremental delivery.
        if (first_seen_future.wait_for(5s) != std::future_status::ready) ADD_FAILURE();
        EXPECT_TRUE(stream->Write("{\"n\":2}\n"));
        EXPECT_TRUE(stream->Write(""));  // no-op, must not end the stream
        EXPECT_TRUE(stream->Write("{\"n\":3}\n"));
        stream->Close();
        EXPECT_FALSE(stream->Write("late"));
      });
    };
    return s;
  });
  auto client = NewClient(PlainClient(server->port()));
  std::string received;
  bool signalled = false;
  auto resp = client->Stream({.target = "/watch"}, [&](std::string_view piece) {
    received.append(piece);
    if (!signalled && received.find("\n") != std::string::npos) {
      signalled = true;
      first_seen.set_value();
    }
    return true;
  });
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->headers["X-Stream"], "1");
  EXPECT_EQ(resp->headers["Transfer-Encoding"], "chunked");
  EXPECT_EQ(received, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
  // Do() reads a whole streamed body too.
  first_seen = std::promise<void>();
  first_seen_future = first_seen.get_future().share();
  first_seen.set_value();
  auto whole = client->Do({.target = "/watch"});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->body, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
}

TEST(StreamTest, ErrorStatusBodyIsCollectedNotStreamed) {
  auto server = MustStart({}, [](Request&) -> Reply {
    return Response{.status = 410, .body = "{\"reason\":\"Expired\"}"};
  });
  auto client = NewClient(PlainClient(server->port()));
  bool called = false;
  auto resp = client->Stream({}, [&](std::string_view) { return called = true; });
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->status, 410);
  EXPECT_EQ(resp->body, "{\"reason\":\"Expired\"}");
  EXPECT_FALSE(called);
}

TEST(StreamTest, ClientGoingAwayClosesTheStream) {
  Producers producers;
  std::promise<void> closed;
  std::atomic<bool> write_failed{false};
  auto server = MustStart({}, [&](Request& r) -> Reply {
    if (r.path == "/plain") return Echo(r);
    StreamStart s;
    s.start = [&](std::shared_ptr<Stream> stream) {
      stream->OnClose([&] { closed.set_value(); });
      producers.Spawn([stream, &write_failed] {
        stream->Write("hello\n");
        // Keep producing until the server notices the reader left.
        for (int i = 0; i < 500 && !stream->Closed(); ++i) std::this_thread::sleep_for(10ms);
        write_failed = !stream->Write("after");
      });
    };
    return s;
  });
  auto client = NewClient(PlainClient(server->port()));
  std::string got;
  auto resp = client->Stream({}, [&](std::string_view piece) {
    got.append(piece);
    return false;  // the user pressed ^C on `kubectl get -w`
  });
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(got, "hello\n");
  EXPECT_EQ(closed.get_future().wait_for(5s), std::future_status::ready);
  producers.JoinAll();
  EXPECT_TRUE(write_failed.load());
  // The same client keeps working on a new connection.
  auto again = client->Do({.target = "/plain"});
  EXPECT_TRUE(again.ok());
}

TEST(StreamTest, CloseAndOnCloseContract) {
  std::promise<std::shared_ptr<Stream>> handed;
  auto server = MustStart({}, [&](Request&) -> Reply {
    StreamStart s;
    s.start = [&](std::shared_ptr<Stream> stream) { handed.set_value(stream); };
    return s;
  });
  std::string body;
  std::thread reader([&] {
    auto resp = NewClient(PlainClient(server->port()))->Stream({}, [&](std::string_view p) {
      body.append(p);
      return true;
    });
    EXPECT_TRUE(resp.ok());
  });
  auto stream = handed.get_future().get();
  int fired = 0;
  stream->OnClose([&] { ++fired; });
  EXPECT_TRUE(stream->Write("a"));
  EXPECT_FALSE(stream->Closed());
  stream->Close();
  stream->Close();
  EXPECT_TRUE(stream->Closed());
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(stream->Write("b"));
  bool immediate = false;
  stream->OnClose([&] { immediate = true; });
  EXPECT_TRUE(immediate);
  reader.join();
  EXPECT_EQ(body, "a");
}

TEST(StreamTest, StopClosesOpenStreams) {
  constexpr int kStreams = 4;
  std::atomic<int> started{0};
  std::atomic<int> closed{0};
  std::mutex mu;
  std::vector<std::shared_ptr<Stream>> streams;
  auto server = MustStart({}, [&](Request& r) -> Reply {
    if (r.path == "/block") std::this_thread::sleep_for(300ms);  // a handler in flight at Stop
    StreamStart s;
    s.start = [&](std::shared_ptr<Stream> stream) {
      stream->OnClose([&] { ++closed; });
      stream->Write("open\n");
      std::lock_guard lock(mu);
      streams.push_back(stream);
      ++started;
    };
    return s;
  });
  std::vector<std::thread> readers;
  for (int i = 0; i < kStreams; ++i) {
    readers.emplace_back([&] {
      // Ends with an error (the body is cut short) or, at worst, OK; it must end.
      NewClient(PlainClient(server->port()))->Stream({}, [](std::string_view) { return true; });
    });
  }
  while (started.load() < kStreams) std::this_thread::sleep_for(5ms);
  std::thread in_flight([&] { NewClient(PlainClient(server->port()))->Do({.target = "/block"}); });
  std::this_thread::sleep_for(50ms);
  server->Stop();
  EXPECT_EQ(closed.load(), kStreams);
  for (auto& s : streams) {
    EXPECT_TRUE(s->Closed());
    EXPECT_FALSE(s->Write("x"));
  }
  for (auto& t : readers) t.join();
  in_flight.join();
  server.reset();
  // Streams outlive the server harmlessly.
  for (auto& s : streams) {
    EXPECT_FALSE(s->Write("y"));
    s->Close();
  }
}

TEST(ServerTest, StopIsIdempotentAndListenerGoesAway) {
  auto server = MustStart({}, Echo);
  auto client = NewClient(PlainClient(server->port()));
  MustDo(*client, {});
  server->Stop();
  server->Stop();
  EXPECT_FALSE(client->Do({}).ok());
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = pki::EnsureServingCerts(dir_.path());
    ASSERT_TRUE(certs.ok()) << certs.status().ToString();
    certs_ = *certs;
    auto ca = pki::CertKey{certs_.ca_pem, *ReadFile(certs_.ca_key_file)};
    auto alice = pki::GenerateClientCert(ca, "alice", {"system:masters", "team-a"});
    ASSERT_TRUE(alice.ok());
    client_cert_ = dir_.path() + "/alice.crt";
    client_key_ = dir_.path() + "/alice.key";
    ASSERT_TRUE(WriteFileAtomic(client_cert_, alice->cert_pem, 0644).ok());
    ASSERT_TRUE(WriteFileAtomic(client_key_, alice->key_pem, 0600).ok());
  }

  ServerOptions TlsServer(bool client_ca) {
    ServerOptions o;
    o.use_tls = true;
    o.tls.cert_pem_file = certs_.cert_file;
    o.tls.key_pem_file = certs_.key_file;
    if (client_ca) o.tls.client_ca_file = certs_.ca_cert_file;
    return o;
  }

  ClientOptions TlsClient(uint16_t port) {
    ClientOptions o = PlainClient(port);
    o.use_tls = true;
    o.ca_file = certs_.ca_cert_file;
    return o;
  }

  TempDir dir_;
  pki::ServingCerts certs_;
  std::string client_cert_, client_key_;
};

TEST_F(TlsTest, RoundTripAndKeepAlive) {
  auto server = MustStart(TlsServer(false), Echo);
  auto client = NewClient(TlsClient(server->port()));
  Json j = MustDo(*client, {.target = "/x?a=1"});
  EXPECT_EQ(j["tls"], true);
  EXPECT_EQ(j["cn"], "");
  EXPECT_EQ(MustDo(*client, {.method = "POST", .body = std::string(200000, 'z')})["remote"],
            j["remote"]);

  // The CA as PEM text and the DNS name in the certificate work as well.
  ClientOptions by_pem = TlsClient(server->port());
  by_pem.ca_file.clear();
  by_pem.ca_pem = certs_.ca_pem;
  by_pem.host = "localhost";
  auto resp = NewClient(by_pem)->Do({});
  EXPECT_TRUE(resp.ok()) << resp.status().ToString();
}

TEST_F(TlsTest, PlainClientOnTlsPortFails) {
  auto server = MustStart(TlsServer(false), Echo);
  ClientOptions o = PlainClient(server->port());
  o.timeout = 2s;
  auto resp = NewClient(o)->Do({});
  EXPECT_TRUE(!resp.ok() || resp->status == 400);
}

TEST_F(TlsTest, ClientCertificateIdentityReachesHandler) {
  auto server = MustStart(TlsServer(true), Echo);
  ClientOptions o = TlsClient(server->port());
  o.client_cert_file = client_cert_;
  o.client_key_file = client_key_;
  Json j = MustDo(*NewClient(o), {});
  EXPECT_EQ(j["cn"], "alice");
  EXPECT_EQ(j["orgs"], Json::array({"system:masters", "team-a"}));

  // A client without a certificate is still served (it may authenticate with a token).
  Json anon = MustDo(*NewClient(TlsClient(server->port())), {});
  EXPECT_EQ(anon["cn"], "");
  EXPECT_TRUE(anon["orgs"].empty());
}

TEST_F(TlsTest, CertificateFromAnotherCaIsRejected) {
  auto server = MustStart(TlsServer(true), Echo);
  auto other = pki::GenerateCa("intruder");
  ASSERT_TRUE(other.ok());

  // The client does not trust the server.
  ClientOptions wrong_ca = TlsClient(server->port());
  wrong_ca.ca_file.clear();
  wrong_ca.ca_pem = other->cert_pem;
  auto resp = NewClient(wrong_ca)->Do({});
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);

  // Unless told not to check.
  ClientOptions insecure = wrong_ca;
  insecure.insecure_skip_verify = true;
  EXPECT_TRUE(NewClient(insecure)->Do({}).ok());

  // The server does not trust a client certificate from another CA.
  auto mallory = pki::GenerateClientCert(*other, "mallory", {"system:masters"});
  ASSERT_TRUE(mallory.ok());
  ASSERT_TRUE(WriteFileAtomic(dir_.path() + "/m.crt", mallory->cert_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_.path() + "/m.key", mallory->key_pem, 0600).ok());
  ClientOptions forged = TlsClient(server->port());
  forged.client_cert_file = dir_.path() + "/m.crt";
  forged.client_key_file = dir_.path() + "/m.key";
  auto forged_resp = NewClient(forged)->Do({});
  EXPECT_FALSE(forged_resp.ok());
}

TEST_F(TlsTest, HostnameMustMatchCertificate) {
  auto server = MustStart(TlsServer(false), Echo);
  ClientOptions o = TlsClient(server->port());
  o.host = "127.0.0.2";  // loopback too, but not a SAN of the certificate
  auto resp = NewClient(o)->Do({});
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);
}

TEST_F(TlsTest, StreamOverTls) {
  Producers producers;
  auto server = MustStart(TlsServer(false), [&](Request&) -> Reply {
    StreamStart s;
    s.start = [&](std::shared_ptr<Stream> stream) {
      producers.Spawn([stream] {
        for (int i = 0; i < 100; ++i) stream->Write(std::to_string(i) + "\n");
        stream->Close();
      });
    };
    return s;
  });
  std::string got;
  auto resp = NewClient(TlsClient(server->port()))->Stream({}, [&](std::string_view p) {
    got.append(p);
    return true;
  });
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  std::string want;
  for (int i = 0; i < 100; ++i) want += std::to_string(i) + "\n";
  EXPECT_EQ(got, want);
}

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

TEST_F(TlsTest, RealCurlTalksToTheServer) {
  if (!std::filesystem::exists("/usr/bin/curl")) GTEST_SKIP() << "curl is not installed";
  auto server = MustStart(TlsServer(true), Echo);
  std::string base = "https://127.0.0.1:" + std::to_string(server->port());
  std::string out = RunCommand("/usr/bin/curl -sS --max-time 10 --cacert " + certs_.ca_cert_file +
                               " --cert " + client_cert_ + " --key " + client_key_ + " '" + base +
                               "/api/v1/namespaces?limit=5' 2>&1");
  Json j = Json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["path"], "/api/v1/namespaces");
  EXPECT_EQ(j["cn"], "alice");
  EXPECT_EQ(j["tls"], true);

  // A large upload makes curl send "Expect: 100-continue"; it must not wait for a timeout.
  std::string body_file = dir_.path() + "/body.json";
  ASSERT_TRUE(WriteFileAtomic(body_file, std::string(2 * 1024 * 1024, 'q'), 0644).ok());
  auto start = std::chrono::steady_clock::now();
  out = RunCommand("/usr/bin/curl -sS --max-time 10 --cacert " + certs_.ca_cert_file +
                   " -H 'Expect: 100-continue' --data-binary @" + body_file + " '" + base +
                   "/upload' 2>&1");
  j = Json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["body_size"], 2 * 1024 * 1024);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);

  // curl without the CA refuses the server.
  out = RunCommand("/usr/bin/curl -sS --max-time 10 -o /dev/null -w '%{http_code}' '" + base +
                   "/' 2>/dev/null");
  EXPECT_EQ(out, "000");
}

}  // namespace
}  // namespace skiff::http
