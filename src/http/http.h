// HTTP/1.1 types shared by the server and the client. Beast stays inside server.cc and client.cc.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skiff::http {

// Header names compare case-insensitively.
struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

struct Request {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // raw request target: path and query
  std::string path;                               // percent-decoded path
  std::multimap<std::string, std::string> query;  // percent-decoded
  Headers headers;
  std::string body;
  std::string remote_address;  // "127.0.0.1:53412"
  bool tls = false;
  // Subject CN of a verified client certificate, if the client presented one.
  std::string client_cert_cn;
  std::vector<std::string> client_cert_orgs;

  // First value of a query parameter, or `fallback`.
  std::string Query(std::string_view name, std::string fallback = "") const;
  bool HasQuery(std::string_view name) const;
  std::string Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

// A response streamed with chunked transfer encoding (watch, logs -f). Write and Close may be
// called from any thread; Write returns false once the peer is gone or Close was called.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual bool Write(std::string chunk) = 0;
  virtual void Close() = 0;
  virtual bool Closed() const = 0;
  // Runs `fn` once when the peer disconnects or the stream is closed (immediately if already).
  virtual void OnClose(std::function<void()> fn) = 0;
};

// What a handler produces: a whole response, or the head of a stream and a function that starts
// producing it. `start` runs after the head is sent and owns the Stream it is given.
struct StreamStart {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;
  std::function<void(std::shared_ptr<Stream>)> start;
};

// Handlers run on a server worker thread and may block briefly (store reads and writes); streaming
// work must move off the thread inside `start`.
class Reply {
 public:
  Reply(Response r) : response_(std::move(r)) {}                     // NOLINT: implicit by design
  Reply(StreamStart s) : stream_(std::move(s)), is_stream_(true) {}  // NOLINT
  bool is_stream() const { return is_stream_; }
  Response& response() { return response_; }
  StreamStart& stream() { return stream_; }

 private:
  Response response_;
  StreamStart stream_;
  bool is_stream_ = false;
};

using Handler = std::function<Reply(Request&)>;

std::string PercentDecode(std::string_view s);
std::string PercentEncode(std::string_view s);
// Splits "a=1&b=2" into decoded pairs.
std::multimap<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace skiff::http
