// Time, behind a seam so tests can control it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace skiff {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  static Clock* Real();
};

// RFC 3339 with seconds precision in UTC ("2026-11-29T13:12:32Z"), as Kubernetes metadata uses.
std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// RFC 3339 with microseconds ("...T13:12:32.123456Z"), as MicroTime fields use.
std::string FormatRfc3339Micro(std::chrono::system_clock::time_point t);
// Parses RFC 3339 (fractional seconds and numeric offsets accepted); false on malformed input.
bool ParseRfc3339(const std::string& text, std::chrono::system_clock::time_point* out);
// A human duration as kubectl prints ages: 45s, 5m3s, 3h10m, 4d2h, 400d.
std::string HumanDuration(std::chrono::system_clock::duration d);

}  // namespace skiff
