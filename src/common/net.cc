// See net.h.
#include "common/net.h"

#include <unistd.h>

namespace skiff {

bool TcpPortFree(const sockaddr* addr, socklen_t len) {
  const int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool free = bind(fd, addr, len) == 0;
  close(fd);
  return free;
}

}  // namespace skiff
