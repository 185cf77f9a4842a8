// Reads CRI-format container logs (see logs.h): tail by scanning backwards, since, partial-line
// joining, limitBytes and follow across rotation.
#include "runtime/logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

namespace skiff::runtime {
namespace {

using Clock = std::chrono::system_clock;
constexpr size_t kChunk = 64 * 1024;

struct Record {
  std::string_view time;
  std::string_view content;
  bool partial = false;
  bool ok = false;
};

Record ParseRecord(std::string_view line) {
  Record r;
  size_t a = line.find(' ');
  if (a == std::string_view::npos) return r;
  size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return r;
  size_t c = line.find(' ', b + 1);
  std::string_view tag =
      line.substr(b + 1, c == std::string_view::npos ? std::string_view::npos : c - b - 1);
  r.time = line.substr(0, a);
  r.content = c == std::string_view::npos ? std::string_view() : line.substr(c + 1);
  r.partial = !tag.empty() && tag[0] == 'P';
  r.ok = true;
  return r;
}

// "2026-11-29T15:48:18.123456789Z" (any number of fraction digits).
std::optional<Clock::time_point> ParseTime(std::string_view s) {
  tm t{};
  int frac_pos = 0;
  if (s.size() < 20) return std::nullopt;
  std::string str(s);
  if (sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &t.tm_year, &t.tm_mon, &t.tm_mday,
             &t.tm_hour, &t.tm_min, &t.tm_sec, &frac_pos) != 6) {
    return std::nullopt;
  }
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  int64_t nanos = 0;
  size_t i = static_cast<size_t>(frac_pos);
  if (i < str.size() && str[i] == '.') {
    int64_t scale = 100000000;
    for (++i; i < str.size() && isdigit(static_cast<unsigned char>(str[i])); ++i) {
      nanos += (str[i] - '0') * scale;
      scale /= 10;
    }
  }
  auto secs = std::chrono::seconds(timegm(&t));
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(secs + std::chrono::nanoseconds(nanos)));
}

// The log's files, oldest first: path.N .. path.1, path.
std::vector<std::string> LogFiles(const std::string& path) {
  std::vector<std::string> rotated;
  for (int i = 1; i < 1000; ++i) {
    std::string p = path + "." + std::to_string(i);
    if (::access(p.c_str(), F_OK) != 0) break;
    rotated.push_back(p);
  }
  std::vector<std::string> out(rotated.rbegin(), rotated.rend());
  out.push_back(path);
  return out;
}

// Calls `fn(offset, line)` for each '\n'-terminated line of `path`, last first; stops when fn
// returns false. Reads backwards in chunks, so the cost follows what is visited.
void ScanBackward(const std::string& path,
                  const std::function<bool(int64_t, std::string_view)>& fn) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return;
  }
  int64_t pos = st.st_size;
  std::string buf;  // holds [pos, pos + buf.size())
  auto read_more = [&]() -> bool {
    if (pos == 0) return false;
    size_t n = static_cast<size_t>(std::min<int64_t>(kChunk, pos));
    std::string chunk(n, '\0');
    ssize_t got = ::pread(fd, chunk.data(), n, pos - static_cast<int64_t>(n));
    if (got != static_cast<ssize_t>(n)) return false;
    pos -= static_cast<int64_t>(n);
    buf.insert(0, chunk);
    return true;
  };
  // Skip an unterminated last record (being written).
  for (;;) {
    size_t nl = buf.rfind('\n');
    if (nl != std::string::npos) {
      buf.resize(nl + 1);
      break;
    }
    if (!read_more()) {
      ::close(fd);
      return;
    }
  }
  while (!buf.empty()) {
    size_t prev = buf.size() >= 2 ? buf.rfind('\n', buf.size() - 2) : std::string::npos;
    if (prev == std::string::npos && pos > 0) {
      if (!read_more()) break;
      continue;
    }
    size_t start = prev == std::string::npos ? 0 : prev + 1;
    std::string_view line(buf.data() + start, buf.size() - 1 - start);
    if (!fn(pos + static_cast<int64_t>(start), line)) break;
    buf.resize(start);
  }
  ::close(fd);
}

// Joins records into lines and writes them to the sink, applying since/timestamps/limit.
class Emitter {
 public:
  Emitter(const LogReadOptions& o, const std::function<bool(const std::string&)>& sink)
      : o_(o), sink_(sink), remaining_(o.limit_bytes) {}

  bool stopped() const { return stopped_; }

  void Add(std::string_view raw_line) {
    Record r = ParseRecord(raw_line);
    if (!r.ok) return;
    if (!pending_) {
      pending_ = true;
      time_.assign(r.time);
      line_.clear();
    }
    line_.append(r.content);
    if (!r.partial) Flush();
  }

  // Emits a trailing partial line (the log ends in the middle of one).
  void Flush() {
    if (!pending_ || stopped_) return;
    pending_ = false;
    if (o_.since) {
      auto t = ParseTime(time_);
      if (t && *t < *o_.since) return;
    }
    std::string out;
    if (o_.timestamps) out.append(time_).push_back(' ');
    out.append(line_).push_back('\n');
    if (o_.limit_bytes >= 0) {
      if (remaining_ <= 0) {
        stopped_ = true;
        return;
      }
      if (static_cast<int64_t>(out.size()) >= remaining_) {
        out.resize(static_cast<size_t>(remaining_));
        stopped_ = true;
      }
      remaining_ -= static_cast<int64_t>(out.size());
    }
    if (!sink_(out)) stopped_ = true;
  }

 private:
  const LogReadOptions& o_;
  const std::function<bool(const std::string&)>& sink_;
  int64_t remaining_;
  bool pending_ = false;
  bool stopped_ = false;
  std::string time_;
  std::string line_;
};

// Reads complete lines from `fd` at its current offset into the emitter; keeps an unterminated
// tail in `carry`. Returns bytes read.
int64_t ReadForward(int fd, std::string& carry, Emitter& em) {
  int64_t total = 0;
  char buf[kChunk];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += n;
    carry.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (;;) {
      size_t nl = carry.find('\n', start);
      if (nl == std::string::npos) break;
      em.Add(std::string_view(carry.data() + start, nl - start));
      start = nl + 1;
      if (em.stopped()) return total;
    }
    carry.erase(0, start);
  }
  return total;
}

bool Sleep(const LogReadOptions& o) {
  if (o.cancelled && o.cancelled()) return false;
  std::this_thread::sleep_for(o.poll_interval);
  return !(o.cancelled && o.cancelled());
}

}  // namespace

std::string FormatLogTime(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ns / 1000000000);
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  tm tmv;
  gmtime_r(&secs, &tmv);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tmv.tm_year + 1900,
           tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec,
           static_cast<long long>(frac));
  return buf;
}

Status ReadLog(const std::string& path, const LogReadOptions& options,
               const std::function<bool(const std::string& chunk)>& sink) {
  const LogReadOptions& o = options;
  // A follower waits for the log to appear (the container may not have started yet).
  while (::access(path.c_str(), F_OK) != 0) {
    if (!o.follow) return Status::NotFound("log " + path + " not found");
    if (o.finished && o.finished() && ::access(path.c_str(), F_OK) != 0) return Status::Ok();
    if (!Sleep(o)) return Status::Ok();
  }
  std::vector<std::string> files = LogFiles(path);
  size_t first_file = 0;
  int64_t first_offset = 0;
  if (o.tail_lines >= 0) {
    // Walk records from the end; a line ends at an F record or at the log's final P record.
    int64_t count = 0;
    bool found = false, last = true;
    for (size_t i = files.size(); i-- > 0 && !found;) {
      ScanBackward(files[i], [&](int64_t off, std::string_view line) {
        Record r = ParseRecord(line);
        if (!r.ok) return true;
        bool ends_line = !r.partial || last;
        last = false;
        if (!ends_line) return true;
        if (count == o.tail_lines) {
          first_file = i;
          first_offset = off + static_cast<int64_t>(line.size()) + 1;
          found = true;
          return false;
        }
        ++count;
        return true;
      });
    }
  }

  Emitter em(o, sink);
  std::string carry;
  for (size_t i = first_file; i + 1 < files.size() && !em.stopped(); ++i) {
    int fd = ::open(files[i].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (i == first_file) ::lseek(fd, first_offset, SEEK_SET);
    carry.clear();
    ReadForward(fd, carry, em);
    ::close(fd);
  }
  if (em.stopped()) return Status::Ok();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && !o.follow) return Status::NotFound("log " + path + ": " + std::strerror(errno));
  if (fd >= 0 && first_file + 1 == files.size()) ::lseek(fd, first_offset, SEEK_SET);
  carry.clear();
  if (fd >= 0) ReadForward(fd, carry, em);
  if (!o.follow || em.stopped()) {
    if (fd >= 0) ::close(fd);
    em.Flush();
    return Status::Ok();
  }

  // Follow: poll for appended data; a new inode at `path` means the file was rotated.
  for (;;) {
    if (o.cancelled && o.cancelled()) break;
    bool finished = o.finished && o.finished();
    // Read to the end (again, after `finished` flipped, so nothing written before is lost).
    if (fd >= 0) ReadForward(fd, carry, em);
    if (em.stopped()) break;
    struct stat now_st, fd_st;
    bool rotated = ::stat(path.c_str(), &now_st) == 0 &&
                   (fd < 0 || (::fstat(fd, &fd_st) == 0 &&
                               (now_st.st_ino != fd_st.st_ino || now_st.st_dev != fd_st.st_dev)));
    if (rotated) {
      if (fd >= 0) {
        ReadForward(fd, carry, em);
        ::close(fd);
      }
      carry.clear();
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      continue;  // read the new file before deciding anything
    }
    if (finished) break;
    if (!Sleep(o)) break;
  }
  if (fd >= 0) ::close(fd);
  if (!(o.cancelled && o.cancelled())) em.Flush();
  return Status::Ok();
}

}  // namespace skiff::runtime
