#include "common/log.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>

#include "common/clock.h"

namespace skiff::log {

namespace {
Level ConfiguredLevel() {
  const char* v = std::getenv("SKIFF_LOG");
  if (v == nullptr) return Level::kInfo;
  if (std::strcmp(v, "debug") == 0) return Level::kDebug;
  if (std::strcmp(v, "warn") == 0) return Level::kWarn;
  if (std::strcmp(v, "error") == 0) return Level::kError;
  return Level::kInfo;
}
}  // namespace

bool Enabled(Level level) {
  static const Level kLevel = ConfiguredLevel();
  return level >= kLevel;
}

void Write(Level level, const std::string& message) {
  static std::mutex mu;
  static const char* kNames[] = {"D", "I", "W", "E"};
  std::string line = FormatRfc3339Micro(std::chrono::system_clock::now()) + " " +
                     kNames[static_cast<int>(level)] + " " + message + "\n";
  std::lock_guard<std::mutex> lock(mu);
  std::cerr << line << std::flush;
}

}  // namespace skiff::log
