// The HTTP/1.1 server behind server.h, on Boost.Beast. Threads: `options.threads` io threads run
// every socket operation, each connection on its own strand; handlers run on a separate worker
// pool so a handler that blocks on the store stalls neither the io threads nor other connections.
#include "http/server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/json.h"
#include "common/log.h"

namespace skiff::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr auto kHandshakeTimeout = std::chrono::seconds(30);
// How long a kept-alive connection may sit between requests, and how long one request may take
// to arrive or one response to leave.
constexpr auto kIoTimeout = std::chrono::seconds(120);
// After a response that closes the connection we keep reading (and discarding) for a while:
// closing a socket with unread input makes the kernel send RST, which can destroy the response
// (e.g. a 413) before the client has read it.
constexpr auto kLingerTimeout = std::chrono::seconds(5);
constexpr size_t kLingerMaxBytes = 64u << 20;
constexpr uint32_t kMaxHeaderBytes = 1u << 20;  // Go's http.DefaultMaxHeaderBytes
// A stream whose reader is this far behind is cut off rather than buffered without bound (the
// apiserver drops slow watchers the same way); the client re-establishes it.
constexpr size_t kMaxQueuedStreamBytes = 64u << 20;

Response StatusResponse(int code, const std::string& reason, const std::string& message) {
  Json status = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
                 {"status", "Failure"}, {"message", message}, {"reason", reason},
                 {"code", code}};
  Response r;
  r.status = code;
  r.body = status.dump();
  return r;
}

std::string Asn1ToString(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::vector<std::string> NameEntries(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    out.push_back(Asn1ToString(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))));
  }
  return out;
}

class ServerImpl;

// The part of a connection that a Stream and the server talk to, independent of TLS.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  // Starts the TLS handshake or the first read; called once, after the server registered it.
  virtual void Begin() = 0;
  // Any thread. Each posts onto the connection's strand.
  virtual void PostChunk(std::string chunk) = 0;
  virtual void PostFinish() = 0;
  virtual void PostShutdown() = 0;
  // Only once no io thread runs any more (end of Server::Stop).
  virtual void ShutdownNow() = 0;

  // Bytes handed to PostChunk and not yet written; read by writers to bound the queue.
  std::atomic<size_t> queued_bytes{0};
};

// The Stream a StreamStart receives. Its mutex orders Write/Close posts, so chunks reach the
// strand in the order the caller wrote them and the final chunk comes last.
class StreamImpl : public Stream {
 public:
  explicit StreamImpl(std::weak_ptr<ConnectionBase> conn) : conn_(std::move(conn)) {}

  bool Write(std::string chunk) override {
    std::shared_ptr<ConnectionBase> conn;  // declared first: may be released after the unlock
    {
      std::lock_guard lock(mu_);
      if (closed_) return false;
      // An empty chunk would be the terminating chunk of the encoding; there is nothing to send.
      if (chunk.empty()) return true;
      conn = conn_.lock();
      if (conn && conn->queued_bytes.load() + chunk.size() <= kMaxQueuedStreamBytes) {
        conn->PostChunk(std::move(chunk));
        return true;
      }
    }
    if (conn) {
      SKIFF_LOG(Warn) << "http: closing a stream whose reader fell too far behind";
    }
    Close();
    return false;
  }

  void Close() override {
    std::vector<std::function<void()>> callbacks;
    std::shared_ptr<ConnectionBase> conn;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      callbacks.swap(on_close_);
      conn = conn_.lock();
      if (conn) conn->PostFinish();
    }
    RunCallbacks(callbacks);
  }

  bool Closed() const override {
    std::lock_guard lock(mu_);
    return closed_;
  }

  void OnClose(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        on_close_.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

  // The connection is gone (peer left, write failed, server stopping): no final chunk to send.
  void MarkClosed() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      callbacks.swap(on_close_);
    }
    RunCallbacks(callbacks);
  }

 private:
  // A throwing callback must not skip the others or unwind through the connection's teardown.
  static void RunCallbacks(std::vector<std::function<void()>>& callbacks) {
    for (auto& fn : callbacks) {
      try {
        fn();
      } catch (const std::exception& e) {
        SKIFF_LOG(Error) << "http: stream OnClose callback threw: " << e.what();
      }
    }
  }

  mutable std::mutex mu_;
  bool closed_ = false;
  std::weak_ptr<ConnectionBase> conn_;
  // Cleared when they run, which also breaks cycles of callbacks that capture the stream.
  std::vector<std::function<void()>> on_close_;
};

class ServerImpl : public Server {
 public:
  ServerImpl(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  ~ServerImpl() override { Stop(); }

  Status Start() override;
  void Stop() override;
  uint16_t port() const override { return port_; }

  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  void RunOnWorker(std::function<void()> fn) { net::post(*workers_, std::move(fn)); }

  // Returns false once Stop has begun; the caller then drops the connection.
  bool Register(const std::shared_ptr<ConnectionBase>& conn) {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    connections_[conn.get()] = conn;
    return true;
  }
  void Unregister(ConnectionBase* conn) {
    std::lock_guard lock(mu_);
    connections_.erase(conn);
  }

 private:
  Status SetUpTls();
  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);
  std::vector<std::shared_ptr<ConnectionBase>> LiveConnections();

  const ServerOptions options_;
  const Handler handler_;

  std::mutex mu_;
  bool stopping_ = false;  // guarded by mu_
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> connections_;  // by mu_

  // Declaration order is destruction order in reverse: connections still referenced by queued
  // handlers die with the io_context / worker pool and need the TLS context and the io_context
  // alive until then.
  std::optional<ssl::context> ssl_ctx_;
  net::io_context ioc_;
  std::optional<net::strand<net::io_context::executor_type>> accept_strand_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<net::steady_timer> accept_retry_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::unique_ptr<net::thread_pool> workers_;
  std::vector<std::thread> io_threads_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

// One accepted connection. Every member below is touched only on the connection's strand, except
// where noted.
template <bool kTls>
class Connection : public ConnectionBase {
  using StreamType =
      std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  template <typename... Args>
  Connection(ServerImpl* server, Args&&... args)
      : server_(server), stream_(std::forward<Args>(args)...) {
    error_code ec;
    auto ep = Lowest().socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void Begin() override {
    net::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(kHandshakeTimeout);
        self->stream_.async_handshake(ssl::stream_base::server,
                                      [self](error_code ec) { self->OnHandshake(ec); });
      } else {
        self->ReadRequest();
      }
    });
  }

  void PostChunk(std::string chunk) override {
    queued_bytes += chunk.size();
    net::post(stream_.get_executor(), [self = Self(), chunk = std::move(chunk)]() mutable {
      self->pending_.push_back(std::move(chunk));
      self->WriteChunks();
    });
  }

  void PostFinish() override {
    net::post(stream_.get_executor(), [self = Self()] {
      self->finishing_ = true;
      self->WriteChunks();
    });
  }

  void PostShutdown() override {
    net::post(stream_.get_executor(), [self = Self()] { self->Close(); });
  }

  void ShutdownNow() override { Close(); }

 private:
  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(error_code ec) {
    if (ec) {
      SKIFF_LOG(Debug) << "http: TLS handshake with " << remote_ << " failed: " << ec.message();
      return Close();
    }
    // Client certificates are requested, not required; one that was presented and failed
    // verification already failed the handshake, so a certificate here is a verified one.
    SSL* ssl = stream_.native_handle();
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert != nullptr && SSL_get_verify_result(ssl) == X509_V_OK) {
      X509_NAME* subject = X509_get_subject_name(cert);
      auto cns = NameEntries(subject, NID_commonName);
      if (!cns.empty()) client_cn_ = cns.front();
      client_orgs_ = NameEntries(subject, NID_organizationName);
    }
    ReadRequest();
  }

  void ReadRequest() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(server_->options().max_body_bytes);
    Lowest().expires_after(kIoTimeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = Self()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    if (ec) return OnReadError(ec);
    auto& msg = parser_->get();
    auto expect = msg[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      // curl asks before sending large bodies; without this answer it waits a second.
      auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                      msg.version());
      bhttp::async_write(stream_, *res, [self = Self(), res](error_code ec, size_t) {
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_after(kIoTimeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = Self()](error_code ec, size_t) { self->OnRequest(ec); });
  }

  void OnReadError(error_code ec) {
    if (closed_) return;
    if (ec == bhttp::error::body_limit) {
      return Reject(StatusResponse(413, "RequestEntityTooLarge",
                                   "the request body is larger than the limit of " +
                                       std::to_string(server_->options().max_body_bytes) +
                                       " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return Reject(
          StatusResponse(431, "RequestHeaderFieldsTooLarge", "the request headers are too large"));
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return Reject(StatusResponse(400, "BadRequest", "malformed HTTP request: " + ec.message()));
    }
    Close();  // peer closed, timeout, reset
  }

  // Answers a request whose rest cannot be read and closes the connection without calling the
  // handler.
  void Reject(Response response) {
    keep_alive_ = false;
    version_ = parser_ && parser_->get().version() != 0 ? parser_->get().version() : 11;
    WriteResponse(std::move(response));
  }

  void OnRequest(error_code ec) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_request_ = msg.method() == bhttp::verb::head;

    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    std::string_view target = req.target;
    size_t q = target.find('?');
    req.path = PercentDecode(target.substr(0, q));
    if (q != std::string_view::npos) req.query = ParseQuery(target.substr(q + 1));
    for (const auto& field : msg) {
      auto [it, inserted] =
          req.headers.emplace(std::string(field.name_string()), std::string(field.value()));
      // Repeated fields fold into one comma-separated value, as RFC 9110 allows.
      if (!inserted) it->second.append(", ").append(field.value().data(), field.value().size());
    }
    req.body = std::move(msg.body());
    req.remote_address = remote_;
    req.tls = kTls;
    req.client_cert_cn = client_cn_;
    req.client_cert_orgs = client_orgs_;
    parser_.reset();

    // No timer while the handler runs: the client is waiting for us, not we for it.
    Lowest().expires_never();
    server_->RunOnWorker([self = Self(), req = std::move(req)]() mutable {
      std::optional<Reply> reply;
      try {
        reply.emplace(self->server_->handler()(req));
      } catch (const std::exception& e) {
        SKIFF_LOG(Error) << "http: handler for " << req.method << " " << req.target
                         << " threw: " << e.what();
        reply.emplace(StatusResponse(500, "InternalError", e.what()));
      } catch (...) {
        reply.emplace(StatusResponse(500, "InternalError", "handler failed"));
      }
      net::post(self->stream_.get_executor(), [self, reply = std::move(*reply)]() mutable {
        if (self->closed_) return;
        if (reply.is_stream()) {
          self->StartStream(std::move(reply.stream()));
        } else {
          self->WriteResponse(std::move(reply.response()));
        }
      });
    });
  }

  void WriteResponse(Response r) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(version_);
    res->result(static_cast<unsigned>(r.status));
    if (!r.content_type.empty()) res->set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(keep_alive_);
    int status = r.status;
    if (status < 200 || status == 204 || status == 304) {
      // These carry no body by definition (and Beast throws when asked to frame one).
      res->prepare_payload();
    } else if (head_request_) {
      // HEAD reports the length of the body it does not send.
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    Lowest().expires_after(kIoTimeout);
    bhttp::async_write(stream_, *res, [self = Self(), res](error_code ec, size_t) {
      if (ec) return self->Close();
      if (res->keep_alive()) return self->ReadRequest();
      self->LingeringClose();
    });
  }

  void LingeringClose() {
    if (closed_) return;
    if constexpr (!kTls) {
      // Tells the client we are done; TLS has no such half-close without close_notify, so there we
      // wait for the client to close (it must, after "Connection: close").
      error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    Lowest().expires_after(kLingerTimeout);
    Drain(0);
  }

  void Drain(size_t drained) {
    stream_.async_read_some(net::buffer(scratch_),
                            [self = Self(), drained](error_code ec, size_t n) {
                              if (ec || drained + n > kLingerMaxBytes) return self->Close();
                              self->Drain(drained + n);
                            });
  }

  void StartStream(StreamStart start) {
    auto res = std::make_shared<bhttp::response<bhttp::empty_body>>();
    res->version(version_);
    res->result(static_cast<unsigned>(start.status));
    if (!start.content_type.empty()) res->set(bhttp::field::content_type, start.content_type);
    for (const auto& [name, value] : start.headers) res->set(name, value);
    res->chunked(true);
    // The connection ends with the stream: reusing it would need the pending read that detects
    // a departed peer to hand its bytes to the next request's parser.
    res->keep_alive(false);
    auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    Lowest().expires_never();
    stream_obj_ = std::make_shared<StreamImpl>(weak_from_this());
    bhttp::async_write_header(
        stream_, *sr,
        [self = Self(), res, sr, fn = std::move(start.start)](error_code ec, size_t) mutable {
          if (ec) return self->Close();
          if (self->closed_) return;
          self->head_sent_ = true;
          self->WatchPeer();
          self->WriteChunks();
          auto stream = self->stream_obj_;
          if (!fn) return stream->Close();
          self->server_->RunOnWorker([fn = std::move(fn), stream] {
            try {
              fn(stream);
            } catch (const std::exception& e) {
              SKIFF_LOG(Error) << "http: stream start threw: " << e.what();
              stream->Close();
            }
          });
        });
  }

  // Keeps a read pending while streaming: it completes only when the peer closes or resets,
  // which is how a watch learns that kubectl went away. Anything the client sends is dropped.
  void WatchPeer() {
    stream_.async_read_some(net::buffer(scratch_), [self = Self()](error_code ec, size_t) {
      if (ec) return self->Close();
      self->WatchPeer();
    });
  }

  void WriteChunks() {
    if (writing_ || closed_ || !head_sent_) return;
    if (pending_.empty()) {
      if (!finishing_) return;
      writing_ = true;
      net::async_write(stream_, bhttp::make_chunk_last(),
                       [self = Self()](error_code, size_t) { self->Close(); });
      return;
    }
    // Everything queued goes out as one chunk: fewer syscalls (and TLS records) for bursts of
    // small watch events, and chunk boundaries carry no meaning in HTTP.
    current_.clear();
    for (auto& c : pending_) current_.append(c);
    pending_.clear();
    writing_ = true;
    net::async_write(stream_, bhttp::make_chunk(net::buffer(current_)),
                     [self = Self()](error_code ec, size_t) {
                       self->writing_ = false;
                       self->queued_bytes -= self->current_.size();
                       if (ec) return self->Close();
                       self->WriteChunks();
                     });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (stream_obj_) stream_obj_->MarkClosed();
    error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
    pending_.clear();
    server_->Unregister(this);
  }

  ServerImpl* const server_;
  StreamType stream_;
  std::string remote_;
  std::string client_cn_;
  std::vector<std::string> client_orgs_;

  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool closed_ = false;
  std::array<char, 4096> scratch_;

  // Streaming state.
  std::shared_ptr<StreamImpl> stream_obj_;
  bool head_sent_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  std::deque<std::string> pending_;
  std::string current_;  // the chunk being written; must outlive the write
};

Status ServerImpl::SetUpTls() {
  ssl_ctx_.emplace(ssl::context::tls_server);
  SSL_CTX* ctx = ssl_ctx_->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  error_code ec;
  ssl_ctx_->use_certificate_chain_file(options_.tls.cert_pem_file, ec);
  if (ec) {
    return Status::Internal("loading TLS certificate " + options_.tls.cert_pem_file + ": " +
                            ec.message());
  }
  ssl_ctx_->use_private_key_file(options_.tls.key_pem_file, ssl::context::pem, ec);
  if (ec) {
    return Status::Internal("loading TLS key " + options_.tls.key_pem_file + ": " + ec.message());
  }
  if (!options_.tls.client_ca_file.empty()) {
    ssl_ctx_->load_verify_file(options_.tls.client_ca_file, ec);
    if (ec) {
      return Status::Internal("loading client CA " + options_.tls.client_ca_file + ": " +
                              ec.message());
    }
    // verify_peer without fail_if_no_peer_cert: like Go's VerifyClientCertIfGiven, so token and
    // anonymous clients still connect.
    ssl_ctx_->set_verify_mode(ssl::verify_peer);
    // Tells clients which CA to pick a certificate for.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.tls.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
    // OpenSSL refuses session resumption with client verification unless this is set.
    static constexpr unsigned char kSessionContext[] = "skiff";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  }
  return Status::Ok();
}

Status ServerImpl::Start() {
  if (started_) return Status::Internal("http server already started");
  if (options_.use_tls) SKIFF_RETURN_IF_ERROR(SetUpTls());

  error_code ec;
  net::ip::address address = net::ip::make_address(options_.address, ec);
  if (ec) {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(options_.address, "", ec);
    if (ec || results.empty()) {
      return Status::BadRequest("cannot resolve listen address " + options_.address);
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, options_.port);
  accept_strand_.emplace(net::make_strand(ioc_));
  acceptor_.emplace(*accept_strand_);
  accept_retry_.emplace(*accept_strand_);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("listen on " + options_.address + ":" +
                               std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();

  started_ = true;
  work_.emplace(ioc_.get_executor());
  int threads = std::max(1, options_.threads);
  workers_ = std::make_unique<net::thread_pool>(std::max(2, threads * 2));
  for (int i = 0; i < threads; ++i) {
    io_threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          SKIFF_LOG(Error) << "http: io thread: " << e.what();
        }
      }
    });
  }
  net::post(*accept_strand_, [this] { Accept(); });
  return Status::Ok();
}

void ServerImpl::Accept() {
  acceptor_->async_accept(net::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void ServerImpl::OnAccept(error_code ec, tcp::socket socket) {
  if (!acceptor_->is_open()) return;
  if (ec) {
    // Typically EMFILE: back off instead of spinning on the accept queue.
    SKIFF_LOG(Warn) << "http: accept: " << ec.message();
    accept_retry_->expires_after(std::chrono::milliseconds(100));
    accept_retry_->async_wait([this](error_code ec) {
      if (!ec && acceptor_->is_open()) Accept();
    });
    return;
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::shared_ptr<ConnectionBase> conn;
  if (options_.use_tls) {
    conn = std::make_shared<Connection<true>>(this, std::move(socket), *ssl_ctx_);
  } else {
    conn = std::make_shared<Connection<false>>(this, std::move(socket));
  }
  if (Register(conn)) conn->Begin();
  Accept();
}

std::vector<std::shared_ptr<ConnectionBase>> ServerImpl::LiveConnections() {
  std::vector<std::shared_ptr<ConnectionBase>> out;
  std::lock_guard lock(mu_);
  for (auto& [ptr, weak] : connections_) {
    if (auto conn = weak.lock()) out.push_back(std::move(conn));
  }
  return out;
}

void ServerImpl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  net::post(*accept_strand_, [this] {
    error_code ec;
    acceptor_->close(ec);
    accept_retry_->cancel();
  });
  for (auto& conn : LiveConnections()) conn->PostShutdown();
  // Handlers in flight finish; their replies reach closed connections and are dropped.
  workers_->join();
  work_.reset();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  // A connection whose shutdown could not run (its strand's work was still queued when the io
  // threads left) is closed here, so every stream has seen OnClose when Stop returns.
  for (auto& conn : LiveConnections()) conn->ShutdownNow();
}

}  // namespace

std::unique_ptr<Server> NewServer(ServerOptions options, Handler handler) {
  return std::make_unique<ServerImpl>(std::move(options), std::move(handler));
}

}  // namespace skiff::http
