// httpGet and tcpSocket probes.
#include "node/probes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http/client.h"

namespace skiff::node {
namespace {

std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

int ResolvePort(const Json& port, const Json& container) {
  if (port.is_number_integer()) return port.get<int>();
  if (!port.is_string()) return 0;
  const std::string p = port.get<std::string>();
  if (!p.empty() && p.find_first_not_of("0123456789") == std::string::npos) return std::stoi(p);
  if (container.is_object() && container.contains("ports") && container["ports"].is_array()) {
    for (const Json& cp : container["ports"]) {
      if (Str(cp, "name") == p && cp.contains("containerPort") &&
          cp["containerPort"].is_number_integer()) {
        return cp["containerPort"].get<int>();
      }
    }
  }
  return 0;
}

ProbeResult TcpSocketProbe(const Json& action, const Json& container, const std::string& pod_ip,
                           std::chrono::milliseconds timeout) {
  std::string host = Str(action, "host");
  if (host.empty()) host = pod_ip;
  int port = ResolvePort(action.value("port", Json()), container);
  const std::string target = host + ":" + std::to_string(port);
  if (port <= 0) return {false, "invalid port in tcpSocket probe"};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
      return {false, "dial tcp " + target + ": lookup " + host + ": no such host"};
    }
    addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    freeaddrinfo(res);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {false, std::string("socket: ") + std::strerror(errno)};
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc == 0) {
      ::close(fd);
      return {false, "dial tcp " + target + ": i/o timeout"};
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return {false, "dial tcp " + target + ": connect: " + std::strerror(err)};
    }
    rc = 0;
  }
  int saved = errno;
  ::close(fd);
  if (rc != 0) return {false, "dial tcp " + target + ": connect: " + std::strerror(saved)};
  return {true, ""};
}

ProbeResult HttpGetProbe(const Json& action, const Json& container, const std::string& pod_ip,
                         std::chrono::milliseconds timeout) {
  std::string host = Str(action, "host");
  if (host.empty()) host = pod_ip;
  int port = ResolvePort(action.value("port", Json()), container);
  std::string scheme = Str(action, "scheme");
  if (scheme.empty()) scheme = "HTTP";
  std::string path = Str(action, "path");
  if (path.empty() || path[0] != '/') path = "/" + path;
  const std::string url =
      (scheme == "HTTPS" ? "https://" : "http://") + host + ":" + std::to_string(port) + path;
  if (port <= 0) return {false, "Get \"" + url + "\": invalid port"};
  http::ClientOptions o;
  o.host = host;
  o.port = static_cast<uint16_t>(port);
  o.use_tls = scheme == "HTTPS";
  o.insecure_skip_verify = true;
  o.timeout = timeout;
  auto client = http::NewClient(o);
  http::ClientRequest req;
  req.target = path;
  req.headers["Host"] = host + ":" + std::to_string(port);
  req.headers["User-Agent"] = "kube-probe/1.32";
  req.headers["Accept"] = "*/*";
  req.headers["Connection"] = "close";
  if (action.contains("httpHeaders") && action["httpHeaders"].is_array()) {
    for (const Json& h : action["httpHeaders"]) req.headers[Str(h, "name")] = Str(h, "value");
  }
  auto resp = client->Do(req);
  if (!resp.ok()) return {false, "Get \"" + url + "\": " + resp.status().message()};
  if (resp->status >= 200 && resp->status < 400) return {true, ""};
  return {false, "HTTP probe failed with statuscode: " + std::to_string(resp->status)};
}

}  // namespace skiff::node
