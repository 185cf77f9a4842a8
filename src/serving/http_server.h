// A lean HTTP/1.1 server for the data plane: one epoll loop per thread, each with its own
// SO_REUSEPORT listener, so the kernel spreads connections and a connection never leaves its
// thread (no locks on its state). Keep-alive, pipelining (answered in order), chunked request
// bodies, `Expect: 100-continue`, a body limit answered with 413.
//
// src/http's Boost.Beast server moves every request to a worker pool and back through strands;
// that costs more than the whole inference of a small model (measured in bench/serving_bench), so
// the model server uses this one. Handlers run on the loop thread and must not block; slow work
// is handed off and answered later through the Responder from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace skiff::serving {

// Bytes readable after the end of HttpRequest::body (for SIMD JSON parsers that over-read).
inline constexpr size_t kBodyPadding = 64;

struct HttpRequest {
  std::string_view method;
  std::string_view path;   // raw (still percent-encoded), without the query
  std::string_view query;  // after '?', raw
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  // Valid only during the handler call; followed by kBodyPadding readable bytes.
  std::string_view body;
  std::chrono::steady_clock::time_point received;  // when the request head was complete

  // The first header named `name` (case-insensitive), or an empty view.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

class EventLoop;

// The way back to a request's connection. Move-only; Send() once, from any thread. A Responder
// dropped without Send() answers 500. If the client has gone, the response is discarded.
// Responders must be sent or dropped before the HttpServer is destroyed.
class Responder {
 public:
  Responder() = default;
  Responder(EventLoop* loop, uint64_t conn) : loop_(loop), conn_(conn) {}
  Responder(Responder&& o) noexcept : loop_(std::exchange(o.loop_, nullptr)), conn_(o.conn_) {}
  Responder& operator=(Responder&& o) noexcept;
  ~Responder();
  void Send(HttpResponse response);

 private:
  EventLoop* loop_ = nullptr;
  uint64_t conn_ = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, Responder)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks one (see port())
  int threads = 1;    // event loops
  size_t max_body_bytes = 64 << 20;
  size_t max_header_bytes = 64 << 10;
  int idle_timeout_s = 300;  // keep-alive connections with nothing in flight
  // Called with (status, body) to build the body of the server's own errors (400, 413, 431, 500).
  std::function<std::string(int, const std::string&)> error_body;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  // Binds and starts the loops.
  Status Start();
  // Stops accepting, closes every connection and joins the loops. Idempotent.
  void Stop();
  uint16_t port() const { return port_; }

 private:
  HttpServerOptions options_;
  HttpHandler handler_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

// "Not Found" for 404 etc.
std::string_view ReasonPhrase(int status);

}  // namespace skiff::serving
