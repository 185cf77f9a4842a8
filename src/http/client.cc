// The blocking HTTP/1.1 client behind client.h, on Boost.Beast. Each call runs Beast's async
// operations on a private io_context until they complete, because Beast's tcp_stream timeouts
// only apply to async operations.
#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <limits>
#include <optional>

namespace skiff::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using OnData = std::function<bool(std::string_view)>;

constexpr uint32_t kMaxHeaderBytes = 1u << 20;
constexpr size_t kReadChunk = 64 * 1024;

// Errors that mean the server closed a kept-alive connection before reading our request; the
// request had no effect and may be sent again on a new connection.
bool IsStaleConnection(error_code ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted || ec == ssl::error::stream_truncated;
}

template <typename Fields>
Response ResponseHead(const bhttp::response_header<Fields>& head) {
  Response out;
  out.status = static_cast<int>(head.result_int());
  out.content_type = std::string(head[bhttp::field::content_type]);
  for (const auto& field : head) {
    auto [it, inserted] =
        out.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    if (!inserted) it->second.append(", ").append(field.value().data(), field.value().size());
  }
  return out;
}

class ClientImpl : public Client {
 public:
  explicit ClientImpl(ClientOptions options) : options_(std::move(options)) {
    if (options_.use_tls) setup_ = SetUpTls();
  }
  ~ClientImpl() override { Disconnect(); }

  StatusOr<Response> Do(const ClientRequest& request) override { return Perform(request, nullptr); }

  StatusOr<Response> Stream(const ClientRequest& request, const OnData& on_data) override {
    return Perform(request, &on_data);
  }

 private:
  Status SetUpTls();
  StatusOr<Response> Perform(const ClientRequest& request, const OnData* on_data);
  StatusOr<Response> Attempt(const ClientRequest& request, const OnData* on_data, bool* stale);
  template <typename S>
  StatusOr<Response> Exchange(S& stream, const ClientRequest& request, const OnData* on_data,
                              bool* stale);
  Status Connect(Clock::time_point deadline);
  bool Connected() const { return plain_.has_value() || tls_.has_value(); }
  bool PeerClosed();
  void Disconnect();
  beast::tcp_stream& Lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  Status TransportError(const std::string& what, error_code ec) const;

  // Runs one async operation to completion (or its tcp_stream deadline) on this thread.
  template <typename Initiate>
  error_code Run(Initiate&& initiate) {
    std::optional<error_code> result;
    initiate([&result](error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    while (!result && ioc_.run_one() > 0) {
    }
    return result.value_or(net::error::operation_aborted);
  }

  const ClientOptions options_;
  Status setup_;
  // The io_context and TLS context outlive the connection that uses them.
  net::io_context ioc_;
  std::optional<ssl::context> ssl_ctx_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
};

Status ClientImpl::SetUpTls() {
  ssl_ctx_.emplace(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ssl_ctx_->native_handle(), TLS1_2_VERSION);
  error_code ec;
  if (!options_.ca_pem.empty()) {
    ssl_ctx_->add_certificate_authority(net::buffer(options_.ca_pem), ec);
    if (ec) return Status::BadRequest("loading CA certificate: " + ec.message());
  }
  if (!options_.ca_file.empty()) {
    ssl_ctx_->load_verify_file(options_.ca_file, ec);
    if (ec) return Status::BadRequest("loading CA file " + options_.ca_file + ": " + ec.message());
  }
  if (options_.ca_pem.empty() && options_.ca_file.empty()) {
    ssl_ctx_->set_default_verify_paths(ec);
    if (ec) return Status::BadRequest("loading system CA roots: " + ec.message());
  }
  ssl_ctx_->set_verify_mode(options_.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
  if (!options_.client_cert_file.empty()) {
    ssl_ctx_->use_certificate_chain_file(options_.client_cert_file, ec);
    if (ec) {
      return Status::BadRequest("loading client certificate " + options_.client_cert_file + ": " +
                                ec.message());
    }
    ssl_ctx_->use_private_key_file(
        options_.client_key_file.empty() ? options_.client_cert_file : options_.client_key_file,
        ssl::context::pem, ec);
    if (ec) {
      return Status::BadRequest("loading client key " + options_.client_key_file + ": " +
                                ec.message());
    }
  }
  return Status::Ok();
}

Status ClientImpl::TransportError(const std::string& what, error_code ec) const {
  std::string message =
      what + " " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message();
  if (ec == beast::error::timeout) return Status(Code::kTimeout, message);
  return Status::Unavailable(message);
}

void ClientImpl::Disconnect() {
  if (Connected()) {
    error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }
  tls_.reset();
  plain_.reset();
  buffer_.clear();
}

// A kept-alive connection the server has since closed shows as readable with EOF. Checking first
// avoids sending a request into a dead socket, which is the common case of reconnecting.
bool ClientImpl::PeerClosed() {
  if (buffer_.size() > 0) return true;  // leftover bytes: the connection is out of step
  int fd = Lowest().socket().native_handle();
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP)) return true;
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  // Unsolicited bytes: on plain HTTP the server is out of step (e.g. sent a 408 and left); under
  // TLS they may be session tickets, which the next read consumes.
  return !tls_.has_value();
}

Status ClientImpl::Connect(Clock::time_point deadline) {
  tcp::resolver resolver(ioc_);
  error_code ec;
  auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port), ec);
  if (ec) return TransportError("resolving", ec);
  if (ssl_ctx_) {
    tls_.emplace(ioc_, *ssl_ctx_);
  } else {
    plain_.emplace(ioc_);
  }
  Lowest().expires_at(deadline);
  ec = Run([&](auto handler) { Lowest().async_connect(endpoints, std::move(handler)); });
  if (ec) {
    Disconnect();
    return TransportError("connecting to", ec);
  }
  Lowest().socket().set_option(tcp::no_delay(true), ec);
  if (!tls_) return Status::Ok();

  SSL* ssl = tls_->native_handle();
  error_code not_ip;
  net::ip::make_address(options_.host, not_ip);
  if (not_ip) {
    // SNI carries names only (RFC 6066), and the certificate must name the host we dialled.
    SSL_set_tlsext_host_name(ssl, options_.host.c_str());
    if (!options_.insecure_skip_verify) SSL_set1_host(ssl, options_.host.c_str());
  } else if (!options_.insecure_skip_verify) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options_.host.c_str());
  }
  ec = Run(
      [&](auto handler) { tls_->async_handshake(ssl::stream_base::client, std::move(handler)); });
  if (ec) {
    Disconnect();
    return TransportError("TLS handshake with", ec);
  }
  return Status::Ok();
}

StatusOr<Response> ClientImpl::Perform(const ClientRequest& request, const OnData* on_data) {
  if (!setup_.ok()) return setup_;
  bool reused = Connected();
  if (reused && PeerClosed()) {
    Disconnect();
    reused = false;
  }
  bool stale = false;
  StatusOr<Response> result = Attempt(request, on_data, &stale);
  if (!result.ok() && reused && stale) {
    // The server closed the kept-alive connection as we sent; it never saw the request.
    Disconnect();
    result = Attempt(request, on_data, &stale);
  }
  return result;
}

StatusOr<Response> ClientImpl::Attempt(const ClientRequest& request, const OnData* on_data,
                                       bool* stale) {
  *stale = false;
  auto deadline = Clock::now() + options_.timeout;
  if (!Connected()) SKIFF_RETURN_IF_ERROR(Connect(deadline));
  Lowest().expires_at(deadline);
  if (tls_) return Exchange(*tls_, request, on_data, stale);
  return Exchange(*plain_, request, on_data, stale);
}

template <typename S>
StatusOr<Response> ClientImpl::Exchange(S& stream, const ClientRequest& request,
                                        const OnData* on_data, bool* stale) {
  bhttp::request<bhttp::string_body> msg;
  msg.version(11);
  bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    msg.method_string(request.method);
  } else {
    msg.method(verb);
  }
  msg.target(request.target);
  msg.set(bhttp::field::host, options_.host + ":" + std::to_string(options_.port));
  msg.set(bhttp::field::user_agent, "skiff");
  for (const auto& [name, value] : request.headers) msg.set(name, value);
  msg.body() = request.body;
  msg.keep_alive(true);
  msg.prepare_payload();

  error_code ec = Run([&](auto handler) { bhttp::async_write(stream, msg, std::move(handler)); });
  if (ec) {
    *stale = IsStaleConnection(ec);
    Disconnect();
    return TransportError("sending to", ec);
  }

  // The head is read the same way for both calls; only the body's destination differs.
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  // Not boost::none: Boost 1.74 compares Content-Length against a disengaged optional as if the
  // limit were zero.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (verb == bhttp::verb::head) parser.skip(true);
  ec = Run(
      [&](auto handler) { bhttp::async_read_header(stream, buffer_, parser, std::move(handler)); });
  if (ec) {
    *stale = IsStaleConnection(ec);
    Disconnect();
    return TransportError("reading response from", ec);
  }
  Response out = ResponseHead(parser.get());
  // A successful stream (watch, logs -f) may stay silent for as long as the server likes; the
  // caller bounds it with the API's own timeoutSeconds. Error bodies are short and collected.
  bool deliver = on_data != nullptr && out.status >= 200 && out.status < 300;
  if (deliver) Lowest().expires_never();

  std::string chunk(kReadChunk, '\0');
  bool stopped = false;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    ec = Run(
        [&](auto handler) { bhttp::async_read_some(stream, buffer_, parser, std::move(handler)); });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      Disconnect();
      return TransportError("reading response from", ec);
    }
    size_t n = chunk.size() - parser.get().body().size;
    if (n == 0) continue;
    if (!deliver) {
      out.body.append(chunk.data(), n);
    } else if (!(*on_data)(std::string_view(chunk.data(), n))) {
      stopped = true;
      break;
    }
  }
  // A stream abandoned midway leaves unread bytes in flight; the connection cannot be reused.
  if (stopped || !parser.keep_alive()) Disconnect();
  return out;
}

}  // namespace

std::unique_ptr<Client> NewClient(ClientOptions options) {
  return std::make_unique<ClientImpl>(std::move(options));
}

}  // namespace skiff::http
