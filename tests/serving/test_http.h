// A deliberately small blocking HTTP/1.1 client over raw sockets for the serving tests: it sends
// exactly the bytes a test writes (bad framing, partial bodies, pipelined requests) and reads one
// response at a time.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace skiff::serving::testing {

struct HttpReply {
  int status = 0;                              // 0: no response (connection closed or timed out)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ok() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool SendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += n;
    }
    return true;
  }

  // Reads one response (Content-Length framed). status 0 when the server closed or the timeout hit.
  HttpReply Read(int timeout_ms = 10000) {
    HttpReply r;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      size_t head = buf_.find("\r\n\r\n");
      if (head != std::string::npos) {
        HttpReply parsed;
        size_t line_end = buf_.find("\r\n");
        parsed.status = std::atoi(buf_.c_str() + 9);
        size_t pos = line_end + 2;
        while (pos < head) {
          size_t e = buf_.find("\r\n", pos);
          std::string h = buf_.substr(pos, e - pos);
          size_t colon = h.find(':');
          std::string name = h.substr(0, colon);
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::string value = h.substr(colon + 1);
          while (!value.empty() && value[0] == ' ') value.erase(0, 1);
          parsed.headers[name] = value;
          pos = e + 2;
        }
        size_t len = std::strtoull(parsed.Header("content-length").c_str(), nullptr, 10);
        if (parsed.status == 100) {
          buf_.erase(0, head + 4);
          continue;
        }
        if (buf_.size() >= head + 4 + len) {
          parsed.body = buf_.substr(head + 4, len);
          buf_.erase(0, head + 4 + len);
          return parsed;
        }
      }
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) return r;
      char tmp[65536];
      ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) return r;
      buf_.append(tmp, n);
    }
  }

  // True when the server closes the connection within the timeout (EOF or reset).
  bool WaitClosed(int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char tmp[4096];
        ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
        if (n <= 0) return true;
      }
    }
    return false;
  }

  HttpReply Request(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& extra_headers = "") {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
    if (!body.empty() || method == "POST") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    if (!SendRaw(req)) return {};
    return Read();
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

// One request on a fresh connection.
inline HttpReply Fetch(uint16_t port, const std::string& method, const std::string& path,
                       const std::string& body = "", const std::string& extra_headers = "") {
  Connection c(port);
  if (!c.ok()) return {};
  return c.Request(method, path, body, extra_headers);
}

}  // namespace skiff::serving::testing
