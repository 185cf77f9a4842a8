// Socket helpers shared by skiff's listeners.
#pragma once

#include <sys/socket.h>

#include <cstdint>

namespace skiff {

// Whether a plain listener (SO_REUSEADDR, no SO_REUSEPORT) could bind `addr` now. Servers that
// spread one port over several SO_REUSEPORT listeners ask this first: otherwise a second process
// would bind the same port too and silently take half of the first one's connections.
bool TcpPortFree(const sockaddr* addr, socklen_t len);

// A TCP port on 127.0.0.1 that nobody listens on right now (bound to 0 and released), for a child
// process that must be told its port up front; another process may take it meanwhile.
uint16_t FreeLoopbackPort();

}  // namespace skiff
