// Minimal leveled logging to stderr. SKIFF_LOG=debug|info|warn|error sets the level.
#pragma once

#include <sstream>
#include <string>

namespace skiff::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

bool Enabled(Level level);
void Write(Level level, const std::string& message);

class Line {
 public:
  explicit Line(Level level) : level_(level) {}
  ~Line() { Write(level_, out_.str()); }
  template <typename T>
  Line& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  Level level_;
  std::ostringstream out_;
};

}  // namespace skiff::log

#define SKIFF_LOG(level)                                       \
  if (!::skiff::log::Enabled(::skiff::log::Level::k##level)) { \
  } else                                                       \
    ::skiff::log::Line(::skiff::log::Level::k##level)
