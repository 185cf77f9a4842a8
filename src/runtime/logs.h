// Reading container logs written by skiff-shim in the CRI format the kubelet uses:
//   2026-11-29T15:48:18.123456789Z stdout F the whole line
//   2026-11-29T15:48:18.123456789Z stderr P a partial line (continued by the next record)
// A log is a file plus its rotated predecessors ("<path>.1" is the newest rotated one). What
// `kubectl logs` asks for (tail, since, timestamps, limitBytes, follow) is answered here.
//
// Thread-safety: functions are reentrant; a follow reader only reads the files.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"

namespace skiff::runtime {

struct LogReadOptions {
  int64_t tail_lines = -1;  // -1: all
  std::optional<std::chrono::system_clock::time_point> since;
  bool timestamps = false;   // prefix each line with its RFC3339Nano time and a space
  int64_t limit_bytes = -1;  // -1: no limit
  bool follow = false;
  // For follow: polled when the reader reaches the end; once it returns true (the container
  // ended) the reader drains what is left and returns.
  std::function<bool()> finished;
  // For follow: polled between reads; once it returns true the reader returns at once (client
  // went away, server stopping).
  std::function<bool()> cancelled;
  std::chrono::milliseconds poll_interval{100};
};

// Streams the log at `path` (with its rotated files, oldest first) as the user sees it: records
// joined back into lines, each ending in '\n'. `sink` returns false to stop. A missing log is
// NotFound unless `follow` (then the reader waits for it to appear).
Status ReadLog(const std::string& path, const LogReadOptions& options,
               const std::function<bool(const std::string& chunk)>& sink);

// Formats `t` as the CRI log timestamp (RFC3339 with nanoseconds, UTC, trailing Z).
std::string FormatLogTime(std::chrono::system_clock::time_point t);

}  // namespace skiff::runtime
