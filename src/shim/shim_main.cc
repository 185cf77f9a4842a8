// skiff-shim <state_dir>: supervises one container. Forks it into its cgroups and process group,
// pumps its stdout/stderr into the CRI log, and writes the pid and exit records (shim_protocol.h).
// Runs in its own session so it outlives skiff; links only libc/libstdc++ to start fast.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/shim_protocol.h"

namespace {

namespace shim = skiff::runtime::shim;

constexpr size_t kMaxRecord = 16 * 1024;  // longer lines are split into P records, as CRI does
constexpr int kDrainIdleMs = 100;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::string FormatTime(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  tm t;
  gmtime_r(&secs, &t);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", t.tm_year + 1900, t.tm_mon + 1,
           t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<long long>(ns % 1000000000));
  return buf;
}

bool WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// The CRI log file with size-based rotation: path -> path.1 -> ... -> path.<max_files-1>.
class LogWriter {
 public:
  LogWriter(std::string path, int64_t max_bytes, int max_files)
      : path_(std::move(path)), max_bytes_(max_bytes), max_files_(max_files) {
    Open();
  }

  void Record(const char* stream, bool partial, const char* data, size_t len) {
    std::string rec = FormatTime(NowNs());
    rec.append(" ").append(stream).append(partial ? " P " : " F ");
    rec.append(data, len).push_back('\n');
    if (fd_ < 0) return;
    if (max_bytes_ > 0 && size_ > 0 && size_ + static_cast<int64_t>(rec.size()) > max_bytes_) {
      Rotate();
    }
    if (WriteAll(fd_, rec.data(), rec.size())) size_ += static_cast<int64_t>(rec.size());
  }

 private:
  void Open() {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    size_ = fd_ >= 0 && fstat(fd_, &st) == 0 ? st.st_size : 0;
  }

  void Rotate() {
    close(fd_);
    if (max_files_ <= 1) {
      unlink(path_.c_str());
    } else {
      for (int i = max_files_ - 1; i >= 1; --i) {
        std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
        rename(from.c_str(), (path_ + "." + std::to_string(i)).c_str());
      }
    }
    Open();
  }

  std::string path_;
  int64_t max_bytes_;
  int max_files_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// Splits one stream into records: complete lines as F, over-long pieces as P.
struct Stream {
  const char* name;
  int fd;
  std::string pending;

  void Feed(LogWriter& log, const char* data, size_t len) {
    pending.append(data, len);
    size_t start = 0;
    for (;;) {
      size_t nl = pending.find('\n', start);
      if (nl == std::string::npos) break;
      // An over-long line goes out as P pieces followed by an F remainder.
      while (nl - start > kMaxRecord) {
        log.Record(name, true, pending.data() + start, kMaxRecord);
        start += kMaxRecord;
      }
      log.Record(name, false, pending.data() + start, nl - start);
      start = nl + 1;
    }
    while (pending.size() - start > kMaxRecord) {
      log.Record(name, true, pending.data() + start, kMaxRecord);
      start += kMaxRecord;
    }
    pending.erase(0, start);
  }

  void Flush(LogWriter& log) {
    if (!pending.empty()) log.Record(name, false, pending.data(), pending.size());
    pending.clear();
  }
};

// Returns false at EOF or error.
bool Pump(Stream& s, LogWriter& log) {
  char buf[65536];
  ssize_t n = read(s.fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  s.Feed(log, buf, static_cast<size_t>(n));
  return true;
}

std::string ExecMessage(const std::string& name, int err) {
  bool has_slash = name.find('/') != std::string::npos;
  if (err == ENOENT && !has_slash) {
    return "exec: \"" + name + "\": executable file not found in $PATH";
  }
  if (err == ENOENT) return "exec: \"" + name + "\": no such file or directory";
  if (err == EACCES) return "exec: \"" + name + "\": permission denied";
  if (err == -1) return "joining the container's cgroup failed";
  return "exec: \"" + name + "\": " + strerror(err);
}

int64_t ReadOomKills(const std::vector<std::string>& files) {
  int64_t total = 0;
  for (const auto& f : files) {
    std::string data;
    if (!shim::ReadSmallFile(f, &data)) continue;
    size_t pos = data.find("oom_kill ");
    while (pos != std::string::npos && pos > 0 && data[pos - 1] != '\n') {
      pos = data.find("oom_kill ", pos + 1);
    }
    if (pos != std::string::npos) total += strtoll(data.c_str() + pos + 9, nullptr, 10);
  }
  return total;
}

void KillCgroups(const std::vector<std::string>& cgroups) {
  for (const auto& dir : cgroups) {
    std::string procs;
    if (!shim::ReadSmallFile(dir + "/cgroup.procs", &procs)) continue;
    size_t pos = 0;
    while (pos < procs.size()) {
      pid_t p = static_cast<pid_t>(strtol(procs.c_str() + pos, nullptr, 10));
      if (p > 0) kill(p, SIGKILL);
      size_t nl = procs.find('\n', pos);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
}

// Fills `fds` with the still-open output pipes (stdout, stderr); idx[i] is stream i's slot or -1.
nfds_t OpenStreamFds(const Stream* streams, const bool* open_fds, pollfd* fds, int* idx) {
  nfds_t n = 0;
  for (int i = 0; i < 2; ++i) {
    idx[i] = -1;
    if (open_fds[i]) {
      idx[i] = static_cast<int>(n);
      fds[n++] = {streams[i].fd, POLLIN, 0};
    }
  }
  return n;
}

// Pumps every stream poll found ready; a stream at EOF is marked closed.
void PumpReady(Stream* streams, const pollfd* fds, const int* idx, bool* open_fds, LogWriter& log) {
  for (int i = 0; i < 2; ++i) {
    if (idx[i] >= 0 && fds[idx[i]].revents) open_fds[i] = Pump(streams[i], log);
  }
}

// Removes the container's cgroups once it is gone, so no empty group outlives it even when skiff
// never gets to Remove the container (a data dir deleted after a crash). Killed processes can
// take a moment to leave a group: retry for up to a second.
void RemoveCgroups(const std::vector<std::string>& cgroups) {
  for (const auto& dir : cgroups) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) break;
      KillCgroups({dir});
      usleep(5000);
    }
  }
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs in the forked child until exec; reports failures as an int on `err_fd`.
[[noreturn]] void RunChild(const shim::Record& spec, int out_w, int err_w, int err_fd) {
  auto fail = [&](int err) {
    WriteAll(err_fd, reinterpret_cast<const char*>(&err), sizeof err);
    _exit(127);
  };
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  std::string pid = std::to_string(getpid());
  for (const auto& dir : shim::GetAll(spec, "cgroup")) {
    int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || !WriteAll(fd, pid.data(), pid.size())) fail(-1);
    close(fd);
  }
  if (int64_t as = shim::GetInt(spec, "rlimit_as"); as > 0) {
    rlimit rl{static_cast<rlim_t>(as), static_cast<rlim_t>(as)};
    setrlimit(RLIMIT_AS, &rl);
  }
  setpgid(0, 0);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0 && devnull != 0) {
    dup2(devnull, 0);
    close(devnull);
  }
  dup2(out_w, 1);
  dup2(err_w, 2);
  std::string wd = shim::Get(spec, "workdir");
  if (!wd.empty() && chdir(wd.c_str()) != 0) fail(errno);
  if (int64_t e = shim::GetInt(spec, "exec_errno"); e != 0) fail(static_cast<int>(e));
  std::vector<std::string> argv = shim::GetAll(spec, "exec");
  std::vector<std::string> env = shim::GetAll(spec, "env");
  if (argv.empty()) fail(ENOENT);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  std::string file = shim::Get(spec, "exec_file", argv[0]);
  execve(file.c_str(), cargv.data(), cenv.data());
  fail(errno);
  _exit(127);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: skiff-shim <state_dir>\n");
    return 2;
  }
  // Only stdio and the ready fd are ours; anything else leaked from skiff must not reach the
  // container (it would keep sockets and pipes open).
  syscall(SYS_close_range, shim::kReadyFd + 1, ~0U, 0);
  fcntl(shim::kReadyFd, F_SETFD, FD_CLOEXEC);  // the container must not hold it
  setsid();
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  const std::string dir = argv[1];
  std::string raw;
  if (!shim::ReadSmallFile(dir + "/" + shim::kSpecFile, &raw)) {
    fprintf(stderr, "skiff-shim: cannot read %s/spec: %s\n", dir.c_str(), strerror(errno));
    return 1;
  }
  const shim::Record spec = shim::DecodeSpec(raw);
  const bool sandboxed = shim::Get(spec, "sandbox") == "1";
  const std::vector<std::string> cgroups = shim::GetAll(spec, "cgroup");
  LogWriter log(shim::Get(spec, "log_path"), shim::GetInt(spec, "log_max_bytes"),
                static_cast<int>(shim::GetInt(spec, "log_max_files", 1)));

  int out_p[2], err_p[2], exec_p[2];
  if (pipe2(out_p, O_CLOEXEC) != 0 || pipe2(err_p, O_CLOEXEC) != 0 ||
      pipe2(exec_p, O_CLOEXEC) != 0) {
    perror("skiff-shim: pipe");
    return 1;
  }
  const int64_t started = NowNs();
  pid_t child = fork();
  if (child < 0) {
    perror("skiff-shim: fork");
    return 1;
  }
  if (child == 0) RunChild(spec, out_p[1], err_p[1], exec_p[1]);
  setpgid(child, child);  // also here, so a Signal right after Start finds the group
  close(out_p[1]);
  close(err_p[1]);
  close(exec_p[1]);

  int exec_err = 0;
  ssize_t got;
  do got = read(exec_p[0], &exec_err, sizeof exec_err);
  while (got < 0 && errno == EINTR);
  close(exec_p[0]);

  shim::Record exit_rec;
  if (got == static_cast<ssize_t>(sizeof exec_err)) {
    // Never ran: a start error, reported with exit code 128 like container runtimes do.
    waitpid(child, nullptr, 0);
    KillCgroups(cgroups);
    RemoveCgroups(cgroups);
    exit_rec = {{"exit_code", "128"},
                {"signal", "0"},
                {"oom_killed", "0"},
                {"started_ns", std::to_string(started)},
                {"finished_ns", std::to_string(NowNs())},
                {"start_error", "1"},
                {"message", ExecMessage(shim::Get(spec, "name"), exec_err)}};
    shim::WriteFileReplace(dir + "/" + shim::kExitFile, shim::EncodeLines(exit_rec));
    WriteAll(shim::kReadyFd, "x", 1);
    return 0;
  }

  shim::WriteFileReplace(dir + "/" + shim::kPidFile,
                         shim::EncodeLines({{"pid", std::to_string(child)},
                                            {"shim_pid", std::to_string(getpid())},
                                            {"started_ns", std::to_string(started)}}));
  WriteAll(shim::kReadyFd, "x", 1);
  close(shim::kReadyFd);

  int child_fd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
  Stream streams[2] = {{"stdout", out_p[0], {}}, {"stderr", err_p[0], {}}};
  bool open_fds[2] = {true, true};
  int status = 0;
  bool exited = false;
  while (!exited) {
    pollfd fds[3];
    int idx[2];
    nfds_t n = OpenStreamFds(streams, open_fds, fds, idx);
    int child_idx = static_cast<int>(n);
    fds[n++] = {child_fd, POLLIN, 0};
    // Without a pidfd (very old kernels) poll with a timeout and try waitpid.
    int r = poll(fds, n, child_fd >= 0 ? -1 : 50);
    if (r < 0 && errno != EINTR) break;
    PumpReady(streams, fds, idx, open_fds, log);
    if (child_fd < 0 || fds[child_idx].revents) {
      if (waitpid(child, &status, child_fd < 0 ? WNOHANG : 0) == child) exited = true;
    }
  }
  const int64_t finished = NowNs();
  // The container is its main process: when it ends, what it left behind in its group and
  // cgroups goes too (as when a pid namespace's init exits).
  kill(-child, SIGKILL);
  KillCgroups(cgroups);
  // Drain what is left; a grandchild that escaped may hold the pipes, so stop once idle.
  while (open_fds[0] || open_fds[1]) {
    pollfd fds[2];
    int idx[2];
    nfds_t n = OpenStreamFds(streams, open_fds, fds, idx);
    int r = poll(fds, n, kDrainIdleMs);
    if (r == 0 || (r < 0 && errno != EINTR)) break;
    PumpReady(streams, fds, idx, open_fds, log);
  }
  streams[0].Flush(log);
  streams[1].Flush(log);

  int code = 0, sig = 0;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
    // bubblewrap reports its child's death by signal N as exit code 128+N.
    if (sandboxed && code > 128 && code < 128 + NSIG) sig = code - 128;
  } else if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    code = 128 + sig;
  }
  bool oom = ReadOomKills(shim::GetAll(spec, "oom_file")) > 0;
  RemoveCgroups(cgroups);
  exit_rec = {{"exit_code", std::to_string(code)},       {"signal", std::to_string(sig)},
              {"oom_killed", oom ? "1" : "0"},           {"started_ns", std::to_string(started)},
              {"finished_ns", std::to_string(finished)}, {"message", ""}};
  shim::WriteFileReplace(dir + "/" + shim::kExitFile, shim::EncodeLines(exit_rec));
  return 0;
}
