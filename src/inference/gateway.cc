// The gateway's event loops: HTTP/1.1 parsing just deep enough to route and to frame bodies
// (Content-Length and chunked, passed through byte for byte), upstream keep-alive pools, the
// activator's parked requests and per-request deadlines.
#include "inference/gateway.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/encoding.h"
#include "common/json.h"
#include "common/log.h"
#include "common/net.h"

namespace skiff::inference {

namespace {

using SClock = std::chrono::steady_clock;

bool IContains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (EqualsIgnoreCase(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

struct HeaderLine {
  std::string_view name, value, raw;  // raw: the whole line without CRLF
};

// Splits a head (without the blank line) into its first line and header lines.
bool ParseHead(std::string_view head, std::string_view* first, std::vector<HeaderLine>* headers) {
  size_t eol = head.find('\n');
  *first = Trim(head.substr(0, eol));
  headers->clear();
  while (eol != std::string_view::npos) {
    const size_t start = eol + 1;
    eol = head.find('\n', start);
    std::string_view line = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    headers->push_back({Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)), line});
  }
  return !first->empty();
}

// Finds the end of a chunked body, byte by byte across reads.
class ChunkScanner {
 public:
  // Consumes bytes up to the end of the body; returns how many.
  size_t Feed(const char* p, size_t n) {
    size_t i = 0;
    while (i < n && !done_ && !error_) {
      const char ch = p[i];
      switch (st_) {
        case kSize:
          if (std::isxdigit(static_cast<unsigned char>(ch))) {
            size_ = size_ * 16 + (std::isdigit(static_cast<unsigned char>(ch))
                                      ? ch - '0'
                                      : std::tolower(static_cast<unsigned char>(ch)) - 'a' + 10);
            digits_ = true;
            if (size_ > (1ULL << 40)) error_ = true;
          } else if (ch == ';' || ch == ' ' || ch == '\t') {
            st_ = kExt;
          } else if (ch == '\r') {
            st_ = kSizeLf;
          } else if (ch == '\n') {
            EndSizeLine();
          } else {
            error_ = true;
          }
          ++i;
          break;
        case kExt:
          if (ch == '\r') st_ = kSizeLf;
          if (ch == '\n') EndSizeLine();
          ++i;
          break;
        case kSizeLf:
          if (ch != '\n') error_ = true;
          EndSizeLine();
          ++i;
          break;
        case kData: {
          const size_t take = static_cast<size_t>(std::min<uint64_t>(size_, n - i));
          size_ -= take;
          i += take;
          if (size_ == 0) st_ = kDataCr;
          break;
        }
        case kDataCr:
          st_ = ch == '\r' ? kDataLf : kSize;
          if (ch != '\r' && ch != '\n') error_ = true;
          ++i;
          break;
        case kDataLf:
          if (ch != '\n') error_ = true;
          st_ = kSize;
          ++i;
          break;
        case kTrailerStart:
          if (ch == '\r') {
            st_ = kFinalLf;
          } else if (ch == '\n') {
            done_ = true;
          } else {
            st_ = kTrailerLine;
          }
          ++i;
          break;
        case kTrailerLine:
          if (ch == '\n') st_ = kTrailerStart;
          ++i;
          break;
        case kFinalLf:
          if (ch != '\n') error_ = true;
          done_ = true;
          ++i;
          break;
      }
    }
    return i;
  }
  bool done() const { return done_; }
  bool error() const { return error_; }
  void Reset() { *this = ChunkScanner(); }

 private:
  void EndSizeLine() {
    if (!digits_) {
      error_ = true;
      return;
    }
    st_ = size_ == 0 ? kTrailerStart : kData;
    digits_ = false;
  }
  enum State {
    kSize,
    kExt,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailerLine,
    kFinalLf
  };
  State st_ = kSize;
  uint64_t size_ = 0;
  bool digits_ = false, done_ = false, error_ = false;
};

const char* Reason(int code) {
  switch (code) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
  }
  return "Error";
}

enum class Kind { kListen, kWake, kClient, kUpstream };

struct Handle {
  explicit Handle(Kind k) : kind(k) {}
  virtual ~Handle() {
    if (fd >= 0) ::close(fd);
  }
  Kind kind;
  int fd = -1;
  bool dead = false;
  uint32_t events = 0;  // what epoll watches now
};

struct Upstream;

struct Client : Handle {
  Client() : Handle(Kind::kClient) {}
  enum class State { kHead, kBody, kParked, kProxy };
  State state = State::kHead;
  std::string in;
  size_t scanned = 0, head_end = 0, body_end = 0, content_length = 0;
  bool chunked = false, keep_alive = true, expect_continue = false, sent_continue = false;
  bool head_request = false;
  std::string method, target, host, fwd_headers;
  ChunkScanner chunks;
  // Routing.
  std::string svc_key, component, revision;
  std::shared_ptr<RevisionStats> stats;
  std::string fwd;  // the request as forwarded
  SClock::time_point deadline;
  std::multimap<SClock::time_point, Client*>::iterator timer;
  bool has_timer = false;
  Upstream* up = nullptr;
  bool response_started = false;
  int attempts = 0;
  // Output.
  std::string out;
  size_t out_off = 0;
  bool close_after_write = false;
};

struct Upstream : Handle {
  Upstream() : Handle(Kind::kUpstream) {}
  enum class State { kConnecting, kSending, kHead, kBody, kIdle };
  enum class Framing { kNone, kLength, kChunked, kClose };
  State state = State::kConnecting;
  std::string addr;
  Client* client = nullptr;
  std::string out;
  size_t out_off = 0;
  std::string in;
  bool reused = false, reusable = true, paused = false;
  Framing framing = Framing::kNone;
  uint64_t remaining = 0;
  ChunkScanner chunks;
};

std::string ErrorBody(const std::string& message) { return Json{{"error", message}}.dump(); }

}  // namespace

class Gateway::Impl {
 public:
  Impl(RoutingTable* table, Autoscaler* autoscaler, GatewayOptions options)
      : table_(table), autoscaler_(autoscaler), options_(std::move(options)) {}
  ~Impl() { Stop(); }

  Status Listen();
  void Stop();
  uint16_t port() const { return port_.load(); }
  const GatewayOptions& options() const { return options_; }

  class Loop;

 private:
  RoutingTable* const table_;
  Autoscaler* const autoscaler_;
  const GatewayOptions options_;
  std::atomic<uint16_t> port_{0};
  std::vector<std::unique_ptr<Loop>> loops_;
  // The loops' wake-up eventfds, shared with the routing table's listener, which may outlive us.
  struct Wakers {
    std::mutex mu;
    std::vector<int> fds;  // GUARDED_BY(mu)
  };
  std::shared_ptr<Wakers> wakers_ = std::make_shared<Wakers>();
  bool listening_ = false;
  friend class Loop;
};

class Gateway::Impl::Loop {
 public:
  Loop(Impl* gw, int listen_fd) : gw_(gw) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    listen_ = std::make_unique<Handle>(Kind::kListen);
    listen_->fd = listen_fd;
    wake_ = std::make_unique<Handle>(Kind::kWake);
    wake_->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    Watch(listen_.get(), EPOLLIN, EPOLL_CTL_ADD);
    Watch(wake_.get(), EPOLLIN, EPOLL_CTL_ADD);
  }
  ~Loop() {
    Stop();
    for (Handle* h : live_) delete h;
    for (Handle* h : graveyard_) delete h;
    if (epfd_ >= 0) ::close(epfd_);
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    Wake();
    thread_.join();
  }
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_->fd, &one, sizeof one);
  }
  int wake_fd() const { return wake_->fd; }

 private:
  void Watch(Handle* h, uint32_t events, int op = EPOLL_CTL_MOD) {
    if (op == EPOLL_CTL_MOD && h->events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    if (epoll_ctl(epfd_, op, h->fd, &ev) == 0) h->events = events;
  }

  void Run() {
    std::vector<epoll_event> events(256);
    while (!stop_.load()) {
      int timeout = -1;
      if (!timers_.empty()) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first -
                                                                        SClock::now())
                      .count();
        timeout = static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 1000));
      }
      if (!parked_.empty()) timeout = timeout < 0 ? 100 : std::min(timeout, 100);
      const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout);
      for (int i = 0; i < n; ++i) {
        auto* h = static_cast<Handle*>(events[i].data.ptr);
        if (h->dead) continue;
        const uint32_t ev = events[i].events;
        switch (h->kind) {
          case Kind::kListen:
            Accept();
            break;
          case Kind::kWake: {
            uint64_t v;
            while (::read(wake_->fd, &v, sizeof v) > 0) {
            }
            break;
          }
          case Kind::kClient:
            OnClient(static_cast<Client*>(h), ev);
            break;
          case Kind::kUpstream:
            OnUpstream(static_cast<Upstream*>(h), ev);
            break;
        }
      }
      if (!parked_.empty()) RetryParked();
      FireTimers();
      for (Handle* h : graveyard_) delete h;
      graveyard_.clear();
    }
  }

  void Close(Handle* h) {
    if (h->dead) return;
    h->dead = true;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, h->fd, nullptr);
    live_.erase(h);
    graveyard_.push_back(h);
  }

  const RoutingSnapshot& Snapshot() {
    const uint64_t v = gw_->table_->version();
    if (v != snap_version_ || !snap_) {
      snap_ = gw_->table_->Current();
      snap_version_ = v;
    }
    return *snap_;
  }

  // ---- clients ----

  void Accept() {
    while (true) {
      const int fd = accept4(listen_->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new Client();
      c->fd = fd;
      live_.insert(c);
      Watch(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
    }
  }

  void OnClient(Client* c, uint32_t ev) {
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      char buf[65536];
      bool eof = false;
      while (true) {
        const ssize_t n = ::read(c->fd, buf, sizeof buf);
        if (n > 0) {
          c->in.append(buf, static_cast<size_t>(n));
          if (static_cast<size_t>(n) < sizeof buf) break;
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = true;
        if (n < 0 && errno == EINTR) continue;
        break;
      }
      if (eof) {
        ClientGone(c);
        return;
      }
      if (c->in.size() > gw_->options_.max_header_bytes + gw_->options_.max_body_bytes + 65536) {
        ClientGone(c);
        return;
      }
      if (c->state == Client::State::kHead || c->state == Client::State::kBody) Process(c);
    }
    if (!c->dead && (ev & EPOLLOUT)) Flush(c);
  }

  void ClientGone(Client* c) {
    if (c->up) {
      c->up->client = nullptr;
      Close(c->up);
      c->up = nullptr;
    }
    EndRequest(c);
    Close(c);
  }

  // Stops the request's accounting: counters, deadline, parking.
  void EndRequest(Client* c) {
    if (c->stats) {
      c->stats->End();
      c->stats.reset();
    }
    if (c->has_timer) {
      timers_.erase(c->timer);
      c->has_timer = false;
    }
    if (c->state == Client::State::kParked) {
      parked_.erase(std::remove(parked_.begin(), parked_.end(), c), parked_.end());
    }
  }

  void Process(Client* c) {
    const GatewayOptions& o = gw_->options_;
    if (c->state == Client::State::kHead) {
      const size_t from = c->scanned > 3 ? c->scanned - 3 : 0;
      const size_t pos = c->in.find("\r\n\r\n", from);
      if (pos == std::string::npos) {
        c->scanned = c->in.size();
        if (c->in.size() > o.max_header_bytes) Fail(c, 431, "request headers too large", true);
        return;
      }
      c->head_end = pos + 4;
      if (!ParseRequest(c, std::string_view(c->in).substr(0, pos))) {
        Fail(c, 400, "malformed HTTP request", true);
        return;
      }
      if (c->content_length > o.max_body_bytes) {
        Fail(c, 413, "request body larger than " + std::to_string(o.max_body_bytes) + " bytes",
             true);
        return;
      }
      c->state = Client::State::kBody;
      c->body_end = c->head_end;
    }
    if (c->state == Client::State::kBody) {
      bool complete;
      if (c->chunked) {
        c->body_end += c->chunks.Feed(c->in.data() + c->body_end, c->in.size() - c->body_end);
        if (c->chunks.error()) {
          Fail(c, 400, "malformed chunked body", true);
          return;
        }
        complete = c->chunks.done();
        if (!complete && c->body_end - c->head_end > o.max_body_bytes) {
          Fail(c, 413, "request body larger than " + std::to_string(o.max_body_bytes) + " bytes",
               true);
          return;
        }
      } else {
        complete = c->in.size() >= c->head_end + c->content_length;
        if (complete) c->body_end = c->head_end + c->content_length;
      }
      if (!complete) {
        if (c->expect_continue && !c->sent_continue) {
          c->sent_continue = true;
          Queue(c, "HTTP/1.1 100 Continue\r\n\r\n");
        }
        return;
      }
      Dispatch(c);
    }
  }

  bool ParseRequest(Client* c, std::string_view head) {
    std::string_view first;
    std::vector<HeaderLine> headers;
    if (!ParseHead(head, &first, &headers)) return false;
    const size_t s1 = first.find(' '), s2 = first.rfind(' ');
    if (s1 == std::string_view::npos || s2 == s1) return false;
    c->method = std::string(first.substr(0, s1));
    c->target = std::string(Trim(first.substr(s1 + 1, s2 - s1 - 1)));
    const std::string_view version = first.substr(s2 + 1);
    if (version.substr(0, 5) != "HTTP/" || c->target.empty()) return false;
    const bool http10 = version == "HTTP/1.0";
    bool conn_close = false, conn_keep = false;
    c->host.clear();
    c->fwd_headers.clear();
    c->chunked = c->expect_continue = c->sent_continue = false;
    c->content_length = 0;
    c->chunks.Reset();
    c->head_request = c->method == "HEAD";
    for (const HeaderLine& h : headers) {
      if (EqualsIgnoreCase(h.name, "host")) {
        c->host = std::string(h.value);
      } else if (EqualsIgnoreCase(h.name, "content-length")) {
        size_t v = 0;
        for (char ch : h.value) {
          if (ch < '0' || ch > '9') return false;
          v = v * 10 + (ch - '0');
          if (v > (1ULL << 40)) return false;
        }
        c->content_length = v;
      } else if (EqualsIgnoreCase(h.name, "transfer-encoding")) {
        if (IContains(h.value, "chunked")) c->chunked = true;
      } else if (EqualsIgnoreCase(h.name, "connection")) {
        if (IContains(h.value, "close")) conn_close = true;
        if (IContains(h.value, "keep-alive")) conn_keep = true;
        continue;  // hop-by-hop
      } else if (EqualsIgnoreCase(h.name, "expect")) {
        if (IContains(h.value, "100-continue")) c->expect_continue = true;
        continue;
      } else if (EqualsIgnoreCase(h.name, "keep-alive") ||
                 EqualsIgnoreCase(h.name, "proxy-connection")) {
        continue;
      }
      c->fwd_headers.append(h.raw).append("\r\n");
    }
    if (c->chunked) c->content_length = 0;
    c->keep_alive = http10 ? conn_keep : !conn_close;
    return true;
  }

  void Dispatch(Client* c) {
    const RoutingSnapshot& snap = Snapshot();
    auto route = ResolveRoute(snap, c->host, c->target);
    if (!route) {
      std::string msg = "no InferenceService serves ";
      msg += c->target.rfind(kPathPrefix, 0) == 0 ? "path " + c->target.substr(0, 128)
                                                  : "host \"" + c->host.substr(0, 128) + "\"";
      msg += "; route by Host: {isvc}.{namespace}." + snap.domain +
             " or by path: /serving/{namespace}/{isvc}/...";
      Fail(c, 404, msg, false);
      return;
    }
    c->svc_key = route->service->ns + "/" + route->service->name;
    c->component = route->component->component;
    c->attempts = 0;
    c->response_started = false;
    const RevisionRoute* rev = route->component->Pick();
    if (!rev) {
      Fail(c, 503,
           "InferenceService " + c->svc_key + " has no revision of its " + c->component +
               " to route to yet",
           false);
      return;
    }
    c->revision = rev->name;
    c->stats = rev->stats;
    if (c->stats) c->stats->Begin();
    c->deadline = SClock::now() + route->component->timeout;
    c->timer = timers_.emplace(c->deadline, c);
    c->has_timer = true;
    c->fwd.clear();
    c->fwd.reserve(c->method.size() + route->path.size() + c->fwd_headers.size() + 32 +
                   (c->body_end - c->head_end));
    c->fwd.append(c->method).append(" ").append(route->path).append(" HTTP/1.1\r\n");
    c->fwd.append(c->fwd_headers).append("\r\n");
    c->fwd.append(c->in, c->head_end, c->body_end - c->head_end);
    Send(c, *rev);
  }

  // Sends the request to a ready Pod of `rev`, or parks it (activator) when there is none.
  void Send(Client* c, const RevisionRoute& rev) {
    if (rev.backends.empty()) {
      if (c->state != Client::State::kParked) {
        c->state = Client::State::kParked;
        parked_.push_back(c);
      }
      if (gw_->autoscaler_) gw_->autoscaler_->Activate(rev.key);
      return;
    }
    if (c->state == Client::State::kParked) {
      parked_.erase(std::remove(parked_.begin(), parked_.end(), c), parked_.end());
    }
    c->state = Client::State::kProxy;
    const Backend& b = rev.backends[rr_++ % rev.backends.size()];
    std::string error;
    Upstream* u = Acquire(b.ip, b.port, &error);
    if (!u) {
      UpstreamError(c, "connecting to " + b.ip + ":" + std::to_string(b.port) + ": " + error);
      return;
    }
    u->client = c;
    c->up = u;
    u->out = c->fwd;
    u->out_off = 0;
    u->in.clear();
    u->reusable = true;
    u->framing = Upstream::Framing::kNone;
    u->chunks.Reset();
    if (u->state != Upstream::State::kConnecting) {
      u->state = Upstream::State::kSending;
      SendUpstream(u);
    }
  }

  // The revision route `c` was sent to, in the current snapshot (nullptr when gone).
  const RevisionRoute* CurrentRevision(Client* c, const ComponentRoute** component) {
    const RoutingSnapshot& snap = Snapshot();
    auto svc = snap.services.find(c->svc_key);
    if (svc == snap.services.end()) return nullptr;
    *component = svc->second->Component(c->component);
    if (!*component) return nullptr;
    for (const RevisionRoute& r : (*component)->revisions) {
      if (r.name == c->revision) return &r;
    }
    return nullptr;
  }

  void RetryParked() {
    std::vector<Client*> parked = parked_;
    for (Client* c : parked) {
      if (c->dead || c->state != Client::State::kParked) continue;
      const ComponentRoute* component = nullptr;
      const RevisionRoute* rev = CurrentRevision(c, &component);
      if (!rev && component) {
        // The revision left the split (rolled back or replaced): pick again.
        rev = component->Pick();
        if (rev) {
          if (c->stats) c->stats->End();
          c->revision = rev->name;
          c->stats = rev->stats;
          if (c->stats) c->stats->Begin();
        }
      }
      if (!rev) {
        parked_.erase(std::remove(parked_.begin(), parked_.end(), c), parked_.end());
        c->state = Client::State::kProxy;
        Fail(c, 404, "InferenceService " + c->svc_key + " is gone", false);
        continue;
      }
      if (!rev->backends.empty()) Send(c, *rev);
    }
  }

  void FireTimers() {
    const auto now = SClock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      Client* c = timers_.begin()->second;
      timers_.erase(timers_.begin());
      c->has_timer = false;
      if (c->dead) continue;
      if (c->state == Client::State::kParked) {
        parked_.erase(std::remove(parked_.begin(), parked_.end(), c), parked_.end());
        c->state = Client::State::kProxy;
        Fail(c, 503,
             "timed out waiting for revision " + c->revision + " of InferenceService " +
                 c->svc_key + " to have a ready replica",
             false);
      } else if (c->state == Client::State::kProxy) {
        if (c->up) {
          c->up->client = nullptr;
          Close(c->up);
          c->up = nullptr;
        }
        if (c->response_started) {
          ClientGone(c);
        } else {
          Fail(c, 504, "upstream request timeout (revision " + c->revision + ")", false);
        }
      }
    }
  }

  // Answers the current request with an error. `fatal`: the request could not be read whole,
  // so the connection closes after the answer.
  void Fail(Client* c, int code, const std::string& message, bool fatal) {
    const std::string body = ErrorBody(message);
    std::string resp =
        "HTTP/1.1 " + std::to_string(code) + " " + Reason(code) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n";
    if (!c->revision.empty()) resp += "X-Skiff-Revision: " + c->revision + "\r\n";
    if (fatal || !c->keep_alive) resp += "Connection: close\r\n";
    resp += "\r\n" + body;
    if (fatal) {
      c->keep_alive = false;
      c->body_end = c->in.size();
    }
    Queue(c, resp);
    Finish(c);
  }

  // The request is answered: reset for the next one (or close after writing).
  void Finish(Client* c) {
    if (c->dead) return;
    EndRequest(c);
    c->in.erase(0, std::min(c->body_end, c->in.size()));
    c->state = Client::State::kHead;
    c->scanned = c->head_end = c->body_end = 0;
    c->revision.clear();
    c->up = nullptr;
    c->response_started = false;
    if (!c->keep_alive) {
      c->close_after_write = true;
      if (c->out_off >= c->out.size()) Close(c);
      return;
    }
    if (!c->in.empty()) Process(c);
  }

  void Queue(Client* c, std::string_view data) {
    if (c->dead) return;
    if (c->out_off >= c->out.size()) {
      c->out.clear();
      c->out_off = 0;
      ssize_t n = ::send(c->fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        ClientGone(c);
        return;
      }
      if (n < 0) n = 0;
      if (static_cast<size_t>(n) == data.size()) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
    c->out.append(data);
    Watch(c, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
    // Back-pressure: stop reading the upstream while the client lags.
    if (c->up && c->out.size() - c->out_off > (1u << 20) && !c->up->paused) {
      c->up->paused = true;
      Watch(c->up, 0);
    }
  }

  void Flush(Client* c) {
    while (c->out_off < c->out.size()) {
      const ssize_t n =
          ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) return;
        if (errno == EINTR) continue;
        ClientGone(c);
        return;
      }
      c->out_off += static_cast<size_t>(n);
    }
    c->out.clear();
    c->out_off = 0;
    Watch(c, EPOLLIN | EPOLLRDHUP);
    if (c->up && c->up->paused) {
      c->up->paused = false;
      Watch(c->up, EPOLLIN | EPOLLRDHUP);
    }
    if (c->close_after_write) Close(c);
  }

  // ---- upstreams ----

  Upstream* Acquire(const std::string& ip, uint16_t port, std::string* error) {
    const std::string key = ip + ":" + std::to_string(port);
    auto pool = pool_.find(key);
    if (pool != pool_.end()) {
      while (!pool->second.empty()) {
        Upstream* u = pool->second.back();
        pool->second.pop_back();
        if (u->dead) continue;
        u->reused = true;
        u->state = Upstream::State::kSending;
        return u;
      }
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = std::strerror(errno);
      return nullptr;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
      ::close(fd);
      *error = "not an IPv4 address";
      return nullptr;
    }
    auto* u = new Upstream();
    u->fd = fd;
    u->addr = key;
    live_.insert(u);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      u->state = Upstream::State::kSending;
      Watch(u, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
    } else if (errno == EINPROGRESS) {
      u->state = Upstream::State::kConnecting;
      Watch(u, EPOLLOUT, EPOLL_CTL_ADD);
    } else {
      *error = std::strerror(errno);
      Close(u);
      return nullptr;
    }
    return u;
  }

  void Release(Upstream* u) {
    u->client = nullptr;
    u->state = Upstream::State::kIdle;
    u->in.clear();
    u->out.clear();
    u->paused = false;
    Watch(u, EPOLLIN | EPOLLRDHUP);
    pool_[u->addr].push_back(u);
  }

  void SendUpstream(Upstream* u) {
    while (u->out_off < u->out.size()) {
      const ssize_t n =
          ::send(u->fd, u->out.data() + u->out_off, u->out.size() - u->out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) {
          Watch(u, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
          return;
        }
        if (errno == EINTR) continue;
        UpstreamFailed(u, std::strerror(errno));
        return;
      }
      u->out_off += static_cast<size_t>(n);
    }
    u->out.clear();
    u->out_off = 0;
    u->state = Upstream::State::kHead;
    Watch(u, EPOLLIN | EPOLLRDHUP);
  }

  void OnUpstream(Upstream* u, uint32_t ev) {
    if (u->state == Upstream::State::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
        UpstreamFailed(u, std::strerror(err ? err : ECONNREFUSED));
        return;
      }
      if (!(ev & EPOLLOUT)) return;
      u->state = Upstream::State::kSending;
      SendUpstream(u);
      return;
    }
    if (u->state == Upstream::State::kSending && (ev & EPOLLOUT)) {
      SendUpstream(u);
      if (u->dead) return;
    }
    if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
    char buf[65536];
    bool eof = false;
    size_t got = 0;
    while (true) {
      const ssize_t n = ::read(u->fd, buf, sizeof buf);
      if (n > 0) {
        u->in.append(buf, static_cast<size_t>(n));
        got += static_cast<size_t>(n);
        if (static_cast<size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || errno != EAGAIN) eof = true;
      break;
    }
    if (u->state == Upstream::State::kIdle) {
      // A pooled connection spoke or closed: it cannot be reused.
      auto& list = pool_[u->addr];
      list.erase(std::remove(list.begin(), list.end(), u), list.end());
      Close(u);
      return;
    }
    if (u->state == Upstream::State::kSending && got > 0) {
      u->state = Upstream::State::kHead;  // an early answer (e.g. 413) ends the upload
      u->reusable = false;
    }
    OnUpstreamData(u, eof);
  }

  void OnUpstreamData(Upstream* u, bool eof) {
    Client* c = u->client;
    if (!c) {
      Close(u);
      return;
    }
    if (u->state == Upstream::State::kHead || u->state == Upstream::State::kSending) {
      const size_t pos = u->in.find("\r\n\r\n");
      if (pos == std::string::npos) {
        if (eof) {
          UpstreamFailed(u, "connection closed before a response");
        } else if (u->in.size() > gw_->options_.max_header_bytes) {
          UpstreamFailed(u, "response headers too large");
        }
        return;
      }
      std::string_view first;
      std::vector<HeaderLine> headers;
      if (!ParseHead(std::string_view(u->in).substr(0, pos), &first, &headers) ||
          first.size() < 12 || first.substr(0, 5) != "HTTP/") {
        UpstreamFailed(u, "malformed response");
        return;
      }
      const int code = std::atoi(std::string(first.substr(9, 3)).c_str());
      if (code >= 100 && code < 200 && code != 101) {
        u->in.erase(0, pos + 4);  // interim response: wait for the final one
        OnUpstreamData(u, eof);
        return;
      }
      bool has_length = false, chunked = false;
      std::string head;
      head.reserve(pos + 64);
      head.append(first).append("\r\n");
      for (const HeaderLine& h : headers) {
        if (EqualsIgnoreCase(h.name, "connection")) {
          if (IContains(h.value, "close")) u->reusable = false;
          continue;
        }
        if (EqualsIgnoreCase(h.name, "keep-alive")) continue;
        if (EqualsIgnoreCase(h.name, "content-length")) {
          has_length = true;
          u->remaining = std::strtoull(std::string(h.value).c_str(), nullptr, 10);
        } else if (EqualsIgnoreCase(h.name, "transfer-encoding") && IContains(h.value, "chunked")) {
          chunked = true;
        }
        head.append(h.raw).append("\r\n");
      }
      if (first.substr(0, 8) == "HTTP/1.0") u->reusable = false;
      if (c->head_request || code == 204 || code == 304) {
        u->framing = Upstream::Framing::kNone;
      } else if (chunked) {
        u->framing = Upstream::Framing::kChunked;
      } else if (has_length) {
        u->framing = Upstream::Framing::kLength;
      } else {
        u->framing = Upstream::Framing::kClose;
        u->reusable = false;
      }
      head.append("X-Skiff-Revision: ").append(c->revision).append("\r\n");
      if (!c->keep_alive || u->framing == Upstream::Framing::kClose) {
        head.append("Connection: close\r\n");
        c->keep_alive = false;
      }
      head.append("\r\n");
      c->response_started = true;
      u->state = Upstream::State::kBody;
      u->in.erase(0, pos + 4);
      // Small responses leave in one write: head and body together.
      if (u->framing == Upstream::Framing::kLength && u->in.size() >= u->remaining) {
        head.append(u->in, 0, u->remaining);
        if (u->in.size() > u->remaining) u->reusable = false;
        u->in.clear();
        u->remaining = 0;
        Queue(c, head);
        Complete(u, c, eof);
        return;
      }
      Queue(c, head);
      if (c->dead) return;
    }
    // Body bytes.
    bool done = false;
    switch (u->framing) {
      case Upstream::Framing::kNone:
        done = true;
        if (!u->in.empty()) u->reusable = false;
        break;
      case Upstream::Framing::kLength: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(u->remaining, u->in.size()));
        Queue(c, std::string_view(u->in).substr(0, take));
        if (take < u->in.size()) u->reusable = false;
        u->remaining -= take;
        done = u->remaining == 0;
        break;
      }
      case Upstream::Framing::kChunked: {
        const size_t used = u->chunks.Feed(u->in.data(), u->in.size());
        Queue(c, std::string_view(u->in).substr(0, used));
        if (u->chunks.error()) {
          u->in.clear();
          u->client = nullptr;
          c->up = nullptr;
          Close(u);
          ClientGone(c);
          return;
        }
        if (used < u->in.size()) u->reusable = false;
        done = u->chunks.done();
        break;
      }
      case Upstream::Framing::kClose:
        Queue(c, u->in);
        done = eof;
        break;
    }
    u->in.clear();
    if (c->dead) return;
    if (done) {
      Complete(u, c, eof);
    } else if (eof) {
      // Truncated: the client cannot get a whole response any more.
      u->client = nullptr;
      c->up = nullptr;
      Close(u);
      c->keep_alive = false;
      c->close_after_write = true;
      EndRequest(c);
      if (c->out_off >= c->out.size()) Close(c);
    }
  }

  void Complete(Upstream* u, Client* c, bool eof) {
    c->up = nullptr;
    if (u->reusable && !eof && !u->dead) {
      Release(u);
    } else {
      u->client = nullptr;
      Close(u);
    }
    Finish(c);
  }

  // The upstream failed before the response began: retry once elsewhere (a pooled connection
  // that went stale, a Pod that just died), else answer 502.
  void UpstreamFailed(Upstream* u, const std::string& why) {
    Client* c = u->client;
    const bool reused = u->reused;
    const std::string addr = u->addr;
    u->client = nullptr;
    Close(u);
    if (!c || c->dead) return;
    c->up = nullptr;
    if (c->response_started) {
      ClientGone(c);
      return;
    }
    if (reused && c->attempts < 3) {
      ++c->attempts;
      RetrySend(c);
      return;
    }
    UpstreamError(c, addr + ": " + why);
  }

  void UpstreamError(Client* c, const std::string& why) {
    if (c->attempts < 1) {
      ++c->attempts;
      RetrySend(c);
      return;
    }
    Fail(c, 502,
         "revision " + c->revision + " of InferenceService " + c->svc_key +
             " did not answer: " + why,
         false);
  }

  void RetrySend(Client* c) {
    const ComponentRoute* component = nullptr;
    const RevisionRoute* rev = CurrentRevision(c, &component);
    if (!rev) {
      Fail(c, 503,
           "revision " + c->revision + " of InferenceService " + c->svc_key +
               " is no longer routable",
           false);
      return;
    }
    Send(c, *rev);
  }

  Impl* const gw_;
  int epfd_ = -1;
  std::unique_ptr<Handle> listen_, wake_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::unordered_set<Handle*> live_;
  std::vector<Handle*> graveyard_;
  std::unordered_map<std::string, std::vector<Upstream*>> pool_;
  std::vector<Client*> parked_;
  std::multimap<SClock::time_point, Client*> timers_;
  std::shared_ptr<const RoutingSnapshot> snap_;
  uint64_t snap_version_ = 0;
  uint64_t rr_ = 0;
};

Status Gateway::Impl::Listen() {
  if (listening_) return Status::Ok();
  const int threads = std::max(1, options_.threads);
  std::vector<int> fds;
  auto fail = [&](const std::string& what) {
    for (int fd : fds) ::close(fd);
    return Status::Unavailable("gateway: " + what);
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, options_.address.c_str(), &addr.sin_addr) != 1) {
    return fail("listen address " + options_.address + " is not an IPv4 address");
  }
  uint16_t port = static_cast<uint16_t>(options_.port);
  for (int i = 0; i < threads; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
    fds.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    addr.sin_port = htons(port);
    // The loops share the port through SO_REUSEPORT, which would let another gateway (a second
    // skiff) bind it as well: the first listener makes sure nobody holds it yet.
    const bool taken =
        i == 0 && port != 0 && !TcpPortFree(reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (taken) errno = EADDRINUSE;
    if (taken || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (i == 0 && errno == EADDRINUSE && options_.fallback_to_free_port && port != 0) {
        SKIFF_LOG(Warn) << "gateway: " << options_.address << ":" << port
                        << " is in use; listening on a free port instead";
        addr.sin_port = 0;
        if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          return fail(std::string("bind: ") + std::strerror(errno));
        }
      } else {
        return fail("bind " + options_.address + ":" + std::to_string(port) + ": " +
                    std::strerror(errno));
      }
    }
    if (i == 0) {
      socklen_t len = sizeof addr;
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      port = ntohs(addr.sin_port);
    }
    if (listen(fd, 1024) != 0) return fail(std::string("listen: ") + std::strerror(errno));
  }
  port_.store(port);
  for (int fd : fds) loops_.push_back(std::make_unique<Loop>(this, fd));
  for (auto& l : loops_) l->Start();
  {
    std::lock_guard<std::mutex> lock(wakers_->mu);
    for (auto& l : loops_) wakers_->fds.push_back(l->wake_fd());
  }
  table_->AddListener([w = wakers_] {
    std::lock_guard<std::mutex> lock(w->mu);
    const uint64_t one = 1;
    for (int fd : w->fds) [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
  });
  listening_ = true;
  return Status::Ok();
}

void Gateway::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(wakers_->mu);
    wakers_->fds.clear();
  }
  for (auto& l : loops_) l->Stop();
}

Gateway::Gateway(RoutingTable* table, Autoscaler* autoscaler, GatewayOptions options)
    : impl_(std::make_unique<Impl>(table, autoscaler, std::move(options))) {}

Gateway::~Gateway() { Stop(); }

Status Gateway::Listen() { return impl_->Listen(); }

void Gateway::Start() {
  Status s = impl_->Listen();
  if (!s.ok()) {
    SKIFF_LOG(Error) << s.message();
  }
}

void Gateway::Stop() { impl_->Stop(); }

uint16_t Gateway::port() const { return impl_->port(); }

std::string Gateway::url() const {
  return "http://" + impl_->options().address + ":" + std::to_string(port());
}

}  // namespace skiff::inference
