// A blocking HTTP/1.1 client (optionally TLS) with keep-alive, used by the CLI, the HTTP
// implementation of the API Client and tests. One Client holds one connection and is not
// thread-safe; create one per thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/http.h"

namespace skiff::http {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  bool use_tls = false;
  std::string ca_file;  // verify the server against this CA (PEM); empty = system roots
  std::string ca_pem;   // or the CA's PEM text
  bool insecure_skip_verify = false;
  std::string client_cert_file;  // optional client certificate (PEM) and key
  std::string client_key_file;
  std::chrono::milliseconds timeout{30000};
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  Headers headers;
  std::string body;
};

class Client {
 public:
  virtual ~Client() = default;
  // Sends a request and reads the whole response. Transport errors are kUnavailable.
  virtual StatusOr<Response> Do(const ClientRequest& request) = 0;
  // Sends a request and feeds the body to `on_data` as it arrives (chunked responses). Returns the
  // status and headers once the body ends or `on_data` returns false.
  virtual StatusOr<Response> Stream(const ClientRequest& request,
                                    const std::function<bool(std::string_view)>& on_data) = 0;
};

std::unique_ptr<Client> NewClient(ClientOptions options);

}  // namespace skiff::http
