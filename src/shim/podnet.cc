// libskiff-podnet.so, preloaded into every container by the node agent (LD_PRELOAD, with the Pod's
// address in SKIFF_POD_IP). Pods share the host's network, each with its own loopback address; a
// server that listens on every address (0.0.0.0 or ::) would hold that port for all Pods at once —
// two PyTorchJobs' rendezvous stores on 23456, two custom model servers on 8080 — and the second
// would fail, or worse, its clients would reach the first. So a bind() to the wildcard address
// becomes a bind to the Pod's own address: what the Pod's network namespace gives it on a kubelet.
// Everything else passes through. Plain C underneath: no C++ runtime in the preloaded library.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

namespace {

using BindFn = int (*)(int, const struct sockaddr*, socklen_t);

BindFn real_bind = nullptr;
bool have_pod_ip = false;
struct in_addr pod_ip;

// Runs when the library loads, before the program's main and before any thread exists.
__attribute__((constructor)) void Init() {
  real_bind = reinterpret_cast<BindFn>(dlsym(RTLD_NEXT, "bind"));
  const char* ip = getenv("SKIFF_POD_IP");
  have_pod_ip = ip != nullptr && inet_pton(AF_INET, ip, &pod_ip) == 1;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int bind(int fd, const struct sockaddr* addr,
                                                           socklen_t len) {
  if (real_bind == nullptr) Init();
  if (have_pod_ip && addr != nullptr) {
    if (addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
      struct sockaddr_in in;
      memcpy(&in, addr, sizeof in);
      if (in.sin_addr.s_addr == htonl(INADDR_ANY)) {
        in.sin_addr = pod_ip;
        return real_bind(fd, reinterpret_cast<const struct sockaddr*>(&in), sizeof in);
      }
    } else if (addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
      struct sockaddr_in6 in6;
      memcpy(&in6, addr, sizeof in6);
      int v6only = 0;
      socklen_t optlen = sizeof v6only;
      // A dual-stack socket on [::] takes the IPv4 wildcard too: it gets the Pod's address as an
      // IPv4-mapped one. A v6-only socket is left alone (IPv6 loopback is not per Pod).
      if (memcmp(&in6.sin6_addr, &in6addr_any, sizeof in6addr_any) == 0 &&
          getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &optlen) == 0 && !v6only) {
        unsigned char* b = in6.sin6_addr.s6_addr;
        memset(b, 0, 10);
        b[10] = 0xff;
        b[11] = 0xff;
        memcpy(b + 12, &pod_ip, 4);
        return real_bind(fd, reinterpret_cast<const struct sockaddr*>(&in6), sizeof in6);
      }
    }
  }
  return real_bind(fd, addr, len);
}
