// The epoll HTTP/1.1 server; see http_server.h.
#include "serving/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <unordered_map>

#include "common/encoding.h"
#include "common/log.h"
#include "common/net.h"

namespace skiff::serving {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kListenId = 1;
constexpr uint64_t kWakeId = 2;
constexpr uint64_t kFirstConnId = 16;
constexpr size_t kMinRead = 16 << 10;
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr auto kPartialRequestTimeout = std::chrono::seconds(60);

thread_local EventLoop* tl_loop = nullptr;

// True when the comma-separated header value holds `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

struct HeadInfo {
  size_t content_length = 0;
  bool chunked = false;
  bool keep_alive = true;
  bool http10 = false;
  bool expect_continue = false;
};

// Parses the request line and headers (`head` ends with the blank line). Returns "" or an error.
std::string ParseHead(std::string_view head, HttpRequest* req, HeadInfo* info) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || sp1 == 0) return "malformed request line";
  req->method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") {
    info->http10 = false;
  } else if (version == "HTTP/1.0") {
    info->http10 = true;
    info->keep_alive = false;
  } else {
    return "unsupported HTTP version";
  }
  if (target.empty() || target[0] != '/') return "request target must be an absolute path";
  size_t q = target.find('?');
  req->path = target.substr(0, q);
  req->query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  req->headers.clear();
  bool have_length = false;
  size_t pos = eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == pos) break;  // the blank line
    std::string_view h = head.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos || h[0] == ' ' || h[0] == '\t') {
      return "malformed header line";
    }
    std::string_view name = h.substr(0, colon);
    if (name.back() == ' ' || name.back() == '\t') return "whitespace before ':' in a header";
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    req->headers.emplace_back(name, value);
    if (EqualsIgnoreCase(name, "content-length")) {
      if (value.empty() || value.size() > 18) return "bad Content-Length";
      size_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return "bad Content-Length";
        n = n * 10 + (c - '0');
      }
      if (have_length && n != info->content_length) return "conflicting Content-Length headers";
      have_length = true;
      info->content_length = n;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      if (!HasToken(value, "chunked")) return "unsupported Transfer-Encoding";
      info->chunked = true;
    } else if (EqualsIgnoreCase(name, "connection")) {
      if (HasToken(value, "close")) info->keep_alive = false;
      if (HasToken(value, "keep-alive")) info->keep_alive = true;
    } else if (EqualsIgnoreCase(name, "expect")) {
      if (EqualsIgnoreCase(value, "100-continue")) info->expect_continue = true;
    }
  }
  if (info->chunked && have_length) return "both Content-Length and Transfer-Encoding";
  return "";
}

// A resumable decoder of a chunked body: the raw bytes only grow between calls.
struct ChunkDecoder {
  enum Result { kNeedMore, kDone, kBad, kTooBig };
  size_t pos = 0;          // raw bytes consumed
  int64_t remaining = -1;  // -1: a size line is next
  bool need_crlf = false;  // after a chunk's data
  bool trailer = false;    // after the last chunk
  std::string out;

  Result Feed(const char* p, size_t n, size_t max) {
    while (true) {
      if (trailer || remaining < 0) {
        const char* start = p + pos;
        const void* cr = memmem(start, n - pos, "\r\n", 2);
        if (!cr) return n - pos > 1024 ? kBad : kNeedMore;
        std::string_view line(start, static_cast<const char*>(cr) - start);
        pos += line.size() + 2;
        if (trailer) {
          if (line.empty()) return kDone;
          continue;
        }
        line = line.substr(0, line.find(';'));
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        if (line.empty() || line.size() > 15) return kBad;
        int64_t size = 0;
        for (char c : line) {
          int d = (c >= '0' && c <= '9')   ? c - '0'
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                           : -1;
          if (d < 0) return kBad;
          size = size * 16 + d;
        }
        if (size == 0) {
          trailer = true;
          continue;
        }
        if (out.size() + size > max) return kTooBig;
        remaining = size;
        continue;
      }
      if (remaining > 0) {
        size_t take = std::min<size_t>(remaining, n - pos);
        out.append(p + pos, take);
        pos += take;
        remaining -= take;
        if (remaining > 0) return kNeedMore;
        need_crlf = true;
      }
      if (need_crlf) {
        if (n - pos < 2) return kNeedMore;
        if (p[pos] != '\r' || p[pos + 1] != '\n') return kBad;
        pos += 2;
        need_crlf = false;
        remaining = -1;
      }
    }
  }
};

struct Conn {
  int fd = -1;
  uint64_t id = 0;
  std::unique_ptr<char[]> buf;
  size_t cap = 0, len = 0;
  size_t scan = 0;      // where the search for the end of the head resumes
  size_t head_len = 0;  // 0 until the head of the current request is complete
  HeadInfo info;
  std::unique_ptr<ChunkDecoder> chunks;
  Clock::time_point head_time;
  bool continue_sent = false;
  bool in_flight = false;  // a request is with the handler; later ones wait (pipelining order)
  bool keep_alive = true;
  bool close_after_write = false;
  bool draining = false;  // response sent, write side shut; discarding input until EOF
  Clock::time_point drain_deadline;
  std::string out;
  size_t out_off = 0;
  bool want_write = false;  // EPOLLOUT registered
  Clock::time_point last_active;
};

}  // namespace

class EventLoop {
 public:
  EventLoop(const HttpServerOptions& options, const HttpHandler& handler)
      : options_(options), handler_(handler) {}
  ~EventLoop() {
    for (auto& [id, c] : conns_) ::close(c->fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (epfd_ >= 0) ::close(epfd_);
  }

  Status Init(int listen_fd) {
    listen_fd_ = listen_fd;
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wake_fd_ < 0)
      return Status::Internal(std::string("epoll: ") + strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenId;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.data.u64 = kWakeId;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    return Status::Ok();
  }

  void Run() {
    tl_loop = this;
    epoll_event events[256];
    auto last_sweep = Clock::now();
    while (!stop_.load(std::memory_order_relaxed)) {
      int n = epoll_wait(epfd_, events, 256, 1000);
      if (n < 0 && errno != EINTR) {
        SKIFF_LOG(Error) << "epoll_wait: " << strerror(errno);
        break;
      }
      now_ = Clock::now();
      for (int i = 0; i < n; ++i) {
        uint64_t id = events[i].data.u64;
        if (id == kListenId) {
          Accept();
        } else if (id == kWakeId) {
          DrainMailbox();
        } else {
          auto it = conns_.find(id);
          if (it == conns_.end()) continue;
          Conn* c = it->second.get();
          uint32_t ev = events[i].events;
          if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            if (!OnReadable(c)) continue;  // closed
          }
          if (ev & EPOLLOUT) Flush(c);
        }
      }
      if (now_ - last_sweep >= std::chrono::seconds(1)) {
        last_sweep = now_;
        Sweep();
      }
    }
    tl_loop = nullptr;
  }

  void Stop() {
    stop_.store(true);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof(one));
  }

  // From any thread: hands `response` to connection `conn` on this loop.
  void Post(uint64_t conn, HttpResponse response) {
    if (tl_loop == this) {
      Deliver(conn, std::move(response), /*from_handler=*/true);
      return;
    }
    bool wake;
    {
      std::lock_guard lock(mu_);
      wake = mailbox_.empty();
      mailbox_.emplace_back(conn, std::move(response));
    }
    if (wake) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof(one));
    }
  }

 private:
  void Accept() {
    while (true) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          SKIFF_LOG(Warn) << "accept: " << strerror(errno);
        }
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->id = next_id_++;
      c->cap = kMinRead + kBodyPadding;
      c->buf = std::make_unique<char[]>(c->cap);
      c->last_active = now_;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = c->id;
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      conns_.emplace(c->id, std::move(c));
    }
  }

  void Close(Conn* c) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    conns_.erase(c->id);  // a response still in flight finds no connection and is dropped
  }

  // Makes room for `need` more bytes plus the padding.
  void Reserve(Conn* c, size_t need) {
    if (c->cap - c->len >= need + kBodyPadding) return;
    size_t cap = std::max(c->cap * 2, c->len + need + kBodyPadding);
    auto buf = std::make_unique<char[]>(cap);
    std::memcpy(buf.get(), c->buf.get(), c->len);
    c->buf = std::move(buf);
    c->cap = cap;
  }

  // Returns false when the connection was closed.
  bool OnReadable(Conn* c) {
    while (true) {
      if (c->draining) {
        char scratch[16 << 10];
        ssize_t n = ::read(c->fd, scratch, sizeof(scratch));
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        Close(c);
        return false;
      }
      // A client streaming pipelined requests while one is in flight is bounded.
      if (c->len > options_.max_body_bytes + options_.max_header_bytes + kMinRead) {
        Close(c);
        return false;
      }
      Reserve(c, kMinRead);
      size_t room = c->cap - c->len - kBodyPadding;
      ssize_t n = ::read(c->fd, c->buf.get() + c->len, room);
      if (n > 0) {
        c->len += n;
        c->last_active = now_;
        if (static_cast<size_t>(n) == room) continue;  // there may be more
        break;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // EOF or error: the client is gone; whatever is in flight for it is dropped on arrival.
      Close(c);
      return false;
    }
    ProcessInput(c);
    return Flush(c);
  }

  // Error responses generated by the server itself; the connection closes after them.
  void Fail(Conn* c, int status, const std::string& message) {
    HttpResponse r;
    r.status = status;
    r.body = options_.error_body ? options_.error_body(status, message) : message;
    c->keep_alive = false;
    AppendResponse(c, r);
  }

  void ProcessInput(Conn* c) {
    while (!c->in_flight && !c->close_after_write && c->len > 0) {
      char* buf = c->buf.get();
      if (c->head_len == 0) {
        size_t from = c->scan >= 3 ? c->scan - 3 : 0;
        const void* end = memmem(buf + from, c->len - from, "\r\n\r\n", 4);
        if (!end) {
          if (c->len > options_.max_header_bytes) {
            Fail(c, 431,
                 "request header larger than " + std::to_string(options_.max_header_bytes) +
                     " bytes");
          }
          c->scan = c->len;
          return;
        }
        c->head_len = static_cast<const char*>(end) - buf + 4;
        c->head_time = now_;
        c->info = HeadInfo();
        std::string err = ParseHead(std::string_view(buf, c->head_len), &req_, &c->info);
        if (!err.empty()) return Fail(c, 400, err);
        if (c->info.content_length > options_.max_body_bytes) {
          return Fail(c, 413,
                      "request body of " + std::to_string(c->info.content_length) +
                          " bytes exceeds the limit of " + std::to_string(options_.max_body_bytes));
        }
        c->keep_alive = c->info.keep_alive;
        if (c->info.chunked) c->chunks = std::make_unique<ChunkDecoder>();
      }
      std::string_view body;
      size_t total;
      if (c->chunks) {
        auto r = c->chunks->Feed(buf + c->head_len, c->len - c->head_len, options_.max_body_bytes);
        if (r == ChunkDecoder::kBad) return Fail(c, 400, "malformed chunked body");
        if (r == ChunkDecoder::kTooBig) {
          return Fail(c, 413,
                      "request body exceeds the limit of " +
                          std::to_string(options_.max_body_bytes) + " bytes");
        }
        if (r == ChunkDecoder::kNeedMore) return MaybeContinue(c);
        size_t size = c->chunks->out.size();
        c->chunks->out.append(kBodyPadding, ' ');
        body = std::string_view(c->chunks->out.data(), size);
        total = c->head_len + c->chunks->pos;
      } else {
        total = c->head_len + c->info.content_length;
        if (c->len < total) {
          Reserve(c, total - c->len);
          return MaybeContinue(c);
        }
        body = std::string_view(buf + c->head_len, c->info.content_length);
      }
      // Views into the buffer: re-parse now that it no longer moves during this request.
      HeadInfo info;
      ParseHead(std::string_view(buf, c->head_len), &req_, &info);
      req_.body = body;
      req_.received = c->head_time;
      c->in_flight = true;
      try {
        handler_(req_, Responder(this, c->id));
      } catch (const std::exception& e) {
        // The Responder was moved into the handler and answered 500 when it was destroyed.
        SKIFF_LOG(Error) << "handler threw: " << e.what();
      }
      // The handler has copied what it needs from the body.
      std::memmove(buf, buf + total, c->len - total);
      c->len -= total;
      c->scan = 0;
      c->head_len = 0;
      c->continue_sent = false;
      c->chunks.reset();
    }
  }

  void MaybeContinue(Conn* c) {
    if (c->info.expect_continue && !c->continue_sent && !c->info.http10) {
      c->continue_sent = true;
      c->out += "HTTP/1.1 100 Continue\r\n\r\n";
    }
  }

  void Deliver(uint64_t id, HttpResponse response, bool from_handler) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;  // the client left
    Conn* c = it->second.get();
    if (!c->in_flight) return;
    c->in_flight = false;
    AppendResponse(c, response);
    if (from_handler) return;  // ProcessInput continues with pipelined requests and flushes
    ProcessInput(c);
    Flush(c);
  }

  void AppendResponse(Conn* c, const HttpResponse& r) {
    UpdateDate();
    std::string& o = c->out;
    char num[32];
    o += "HTTP/1.1 ";
    o.append(num, std::snprintf(num, sizeof(num), "%d ", r.status));
    o += ReasonPhrase(r.status);
    o += "\r\nServer: skiff-model-server\r\nDate: ";
    o += date_;
    if (!r.content_type.empty()) {
      o += "\r\nContent-Type: ";
      o += r.content_type;
    }
    o += "\r\nContent-Length: ";
    o.append(num, std::snprintf(num, sizeof(num), "%zu", r.body.size()));
    o += "\r\n";
    for (const auto& [k, v] : r.headers) {
      o += k;
      o += ": ";
      o += v;
      o += "\r\n";
    }
    if (!c->keep_alive) {
      o += "Connection: close\r\n";
      c->close_after_write = true;
    } else if (c->info.http10) {
      o += "Connection: keep-alive\r\n";
    }
    o += "\r\n";
    o += r.body;
  }

  // Writes what is pending. Returns false when the connection was closed.
  bool Flush(Conn* c) {
    while (c->out_off < c->out.size()) {
      ssize_t n =
          ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += n;
        c->last_active = now_;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c->want_write) SetWrite(c, true);
        return true;
      }
      Close(c);
      return false;
    }
    c->out.clear();
    c->out_off = 0;
    if (c->want_write) SetWrite(c, false);
    if (c->close_after_write && !c->draining) {
      // Half-close and read what the client still sends, so the kernel does not answer unread
      // input with a reset that could destroy the response in flight.
      ::shutdown(c->fd, SHUT_WR);
      c->draining = true;
      c->drain_deadline = now_ + kDrainTime;
    }
    return true;
  }

  void SetWrite(Conn* c, bool on) {
    c->want_write = on;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (on ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.u64 = c->id;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  void DrainMailbox() {
    uint64_t v;
    [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof(v));
    {
      std::lock_guard lock(mu_);
      std::swap(mailbox_, drained_);
    }
    for (auto& [id, response] : drained_) Deliver(id, std::move(response), false);
    drained_.clear();
  }

  void Sweep() {
    std::vector<Conn*> dead;
    for (auto& [id, c] : conns_) {
      if (c->draining) {
        if (now_ > c->drain_deadline) dead.push_back(c.get());
      } else if (!c->in_flight && c->out.empty()) {
        auto idle = now_ - c->last_active;
        if ((c->len == 0 && idle > std::chrono::seconds(options_.idle_timeout_s)) ||
            (c->len > 0 && idle > kPartialRequestTimeout)) {
          dead.push_back(c.get());
        }
      }
    }
    for (Conn* c : dead) Close(c);
  }

  void UpdateDate() {
    time_t t = time(nullptr);
    if (t == date_time_) return;
    date_time_ = t;
    struct tm tm;
    gmtime_r(&t, &tm);
    date_len_ = strftime(date_, sizeof(date_), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date_[date_len_] = '\0';
  }

  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  int epfd_ = -1, listen_fd_ = -1, wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = kFirstConnId;
  Clock::time_point now_ = Clock::now();
  HttpRequest req_;  // reused: handlers run on this thread, one at a time
  char date_[64] = {};
  size_t date_len_ = 0;
  time_t date_time_ = 0;
  std::mutex mu_;
  std::vector<std::pair<uint64_t, HttpResponse>> mailbox_;  // guarded by mu_
  std::vector<std::pair<uint64_t, HttpResponse>> drained_;
};

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

bool HttpRequest::HasHeader(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return true;
  }
  return false;
}

Responder& Responder::operator=(Responder&& o) noexcept {
  if (this != &o) {
    if (loop_) Send(HttpResponse{500, "application/json", "{\"error\":\"no response\"}", {}});
    loop_ = std::exchange(o.loop_, nullptr);
    conn_ = o.conn_;
  }
  return *this;
}

Responder::~Responder() {
  if (loop_)
    Send(HttpResponse{500, "application/json", "{\"error\":\"internal error: no response\"}", {}});
}

void Responder::Send(HttpResponse response) {
  EventLoop* loop = std::exchange(loop_, nullptr);
  if (loop) loop->Post(conn_, std::move(response));
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

namespace {

// `exclusive`: fail when another process listens on the port already (see TcpPortFree).
StatusOr<int> Listen(const std::string& address, uint16_t port, bool exclusive) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
      inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
             inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    return Status::BadRequest("bad listen address \"" + address + "\" (want an IP literal)");
  }
  if (exclusive && port != 0 && !TcpPortFree(reinterpret_cast<sockaddr*>(&ss), len)) {
    return Status::Unavailable("cannot listen on " + address + ":" + std::to_string(port) +
                               ": Address already in use");
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 4096) != 0) {
    std::string err = strerror(errno);
    ::close(fd);
    return Status::Unavailable("cannot listen on " + address + ":" + std::to_string(port) + ": " +
                               err);
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

Status HttpServer::Start() {
  int threads = std::max(1, options_.threads);
  uint16_t port = options_.port;
  for (int i = 0; i < threads; ++i) {
    auto fd = Listen(options_.address, port, /*exclusive=*/i == 0);
    if (!fd.ok()) {
      loops_.clear();
      return fd.status();
    }
    if (i == 0) port = BoundPort(*fd);
    auto loop = std::make_unique<EventLoop>(options_, handler_);
    SKIFF_RETURN_IF_ERROR(loop->Init(*fd));
    loops_.push_back(std::move(loop));
  }
  port_ = port;
  for (auto& loop : loops_) threads_.emplace_back([l = loop.get()] { l->Run(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : loops_) l->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace skiff::serving
