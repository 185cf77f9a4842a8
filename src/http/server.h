// An HTTP/1.1 server (optionally TLS) on a fixed pool of threads. Keep-alive, chunked streaming
// responses, a request body limit answered with 413.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/http.h"

namespace skiff::http {

struct TlsConfig {
  std::string cert_pem_file;  // server certificate chain
  std::string key_pem_file;
  std::string client_ca_file;  // optional: verify client certificates signed by this CA
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port (see Server::port())
  int threads = 2;
  size_t max_body_bytes = 3 * 1024 * 1024;  // Kubernetes' default request limit
  bool use_tls = false;
  TlsConfig tls;
};

class Server {
 public:
  virtual ~Server() = default;
  // Binds and starts serving on background threads.
  virtual Status Start() = 0;
  // Stops accepting, closes connections (streams see Closed()), joins threads.
  virtual void Stop() = 0;
  virtual uint16_t port() const = 0;
};

std::unique_ptr<Server> NewServer(ServerOptions options, Handler handler);

}  // namespace skiff::http
