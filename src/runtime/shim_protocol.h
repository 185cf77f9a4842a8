// The files skiff and skiff-shim exchange in a container's state directory. Header-only and
// libc/libstdc++-only so the shim links nothing else and starts fast.
//
// All three records are lists of (key, value) pairs; keys may repeat (lists keep their order).
//   spec   written by the runtime before it spawns the shim: "key\0value\0" pairs (values may
//          hold any byte but NUL, so argv and env need no quoting).
//   pid    written by the shim once the container's process exists: "key value\n" lines.
//   exit   written by the shim when the container ended: "key value\n" lines; `message` last,
//          its value is the rest of the file.
#pragma once

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skiff::runtime::shim {

inline constexpr char kSpecFile[] = "spec";
inline constexpr char kPidFile[] = "pid";
inline constexpr char kExitFile[] = "exit";
inline constexpr char kShimLogFile[] = "shim.log";
// The shim writes one byte to this fd (inherited from the runtime) once the `pid` or `exit`
// record exists, so Start returns without polling.
inline constexpr int kReadyFd = 3;

using Record = std::vector<std::pair<std::string, std::string>>;

inline std::string EncodeSpec(const Record& r) {
  std::string out;
  for (const auto& [k, v] : r) {
    out.append(k).push_back('\0');
    out.append(v).push_back('\0');
  }
  return out;
}

inline Record DecodeSpec(std::string_view data) {
  Record r;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t k_end = data.find('\0', pos);
    if (k_end == std::string_view::npos) break;
    size_t v_end = data.find('\0', k_end + 1);
    if (v_end == std::string_view::npos) break;
    r.emplace_back(std::string(data.substr(pos, k_end - pos)),
                   std::string(data.substr(k_end + 1, v_end - k_end - 1)));
    pos = v_end + 1;
  }
  return r;
}

// Line records: values are single-line except a final `message`, which runs to the end.
inline std::string EncodeLines(const Record& r) {
  std::string out;
  for (const auto& [k, v] : r) out.append(k).append(" ").append(v).append("\n");
  return out;
}

inline Record DecodeLines(std::string_view data) {
  Record r;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t sp = data.find(' ', pos);
    size_t nl = data.find('\n', pos);
    if (sp == std::string_view::npos || (nl != std::string_view::npos && nl < sp)) {
      pos = nl == std::string_view::npos ? data.size() : nl + 1;
      continue;
    }
    std::string key(data.substr(pos, sp - pos));
    if (key == "message") {
      std::string_view v = data.substr(sp + 1);
      if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
      r.emplace_back(key, std::string(v));
      break;
    }
    size_t end = nl == std::string_view::npos ? data.size() : nl;
    r.emplace_back(key, std::string(data.substr(sp + 1, end - sp - 1)));
    pos = end + 1;
  }
  return r;
}

inline std::string Get(const Record& r, std::string_view key, std::string def = "") {
  for (const auto& [k, v] : r)
    if (k == key) return v;
  return def;
}

inline int64_t GetInt(const Record& r, std::string_view key, int64_t def = 0) {
  std::string v = Get(r, key);
  if (v.empty()) return def;
  char* end = nullptr;
  long long n = strtoll(v.c_str(), &end, 10);
  return end && *end == '\0' ? n : def;
}

inline std::vector<std::string> GetAll(const Record& r, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : r)
    if (k == key) out.push_back(v);
  return out;
}

// Reads a whole small file; false if it cannot be opened.
inline bool ReadSmallFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

// tmp + rename without fsync: readers never see a partial record; a crash of skiff or the shim
// (not of the machine) is what these records must survive.
inline bool WriteFileReplace(const std::string& path, std::string_view content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = ::close(fd) == 0 && done == content.size();
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

}  // namespace skiff::runtime::shim
