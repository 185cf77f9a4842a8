// The local Runtime: spawns one skiff-shim per container and watches the shims with pidfds on
// one epoll monitor thread (exits, Stop's SIGKILL deadlines). See README.md for the protocol.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "runtime/cgroups.h"
#include "runtime/runtime.h"
#include "runtime/sandbox.h"
#include "runtime/shim_protocol.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;

constexpr char kSupervisorDied[] = "container supervisor died; exit status lost";

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

Clock::time_point FromNs(int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

std::string StripSlash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool ValidId(const std::string& id) {
  if (id.empty() || id == "." || id == "..") return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string EnvValue(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& e : env) {
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=') {
      return e.substr(name.size() + 1);
    }
  }
  return "";
}

std::optional<ExitInfo> ReadExitRecord(const std::string& state_dir) {
  std::string data;
  if (!shim::ReadSmallFile(state_dir + "/" + shim::kExitFile, &data)) return std::nullopt;
  shim::Record r = shim::DecodeLines(data);
  ExitInfo info;
  info.exit_code = static_cast<int>(shim::GetInt(r, "exit_code"));
  info.signal = static_cast<int>(shim::GetInt(r, "signal"));
  info.oom_killed = shim::Get(r, "oom_killed") == "1";
  info.started_at = FromNs(shim::GetInt(r, "started_ns"));
  info.finished_at = FromNs(shim::GetInt(r, "finished_ns"));
  info.message = shim::Get(r, "message");
  return info;
}

ExitInfo SupervisorDied(Clock::time_point started) {
  ExitInfo info;
  info.exit_code = 128;
  info.started_at = started;
  info.finished_at = Clock::now();
  info.message = kSupervisorDied;
  return info;
}

// /proc/<pid>/stat fields after the command name: state is field 3, ppid 4, pgrp 5, utime 14,
// stime 15.
struct ProcStat {
  pid_t pid = 0, ppid = 0, pgrp = 0;
  int64_t ticks = 0;
};

bool ReadProcStat(pid_t pid, ProcStat* out) {
  std::string data;
  if (!shim::ReadSmallFile("/proc/" + std::to_string(pid) + "/stat", &data)) return false;
  size_t paren = data.rfind(')');
  if (paren == std::string::npos) return false;
  std::vector<std::string> f;
  size_t pos = paren + 2;
  while (pos < data.size() && f.size() < 14) {
    size_t sp = data.find(' ', pos);
    f.push_back(data.substr(pos, sp - pos));
    if (sp == std::string::npos) break;
    pos = sp + 1;
  }
  if (f.size() < 14) return false;
  out->pid = pid;
  out->ppid = std::atoi(f[1].c_str());
  out->pgrp = std::atoi(f[2].c_str());
  out->ticks = std::atoll(f[11].c_str()) + std::atoll(f[12].c_str());
  return true;
}

std::vector<ProcStat> GroupMembers(pid_t pgid) {
  std::vector<ProcStat> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    ProcStat st;
    if (pid > 0 && ReadProcStat(pid, &st) && st.pgrp == pgid) out.push_back(st);
  }
  ::closedir(d);
  return out;
}

struct Container {
  std::string id;
  std::string state_dir;
  pid_t pid = 0;  // container process (group leader)
  pid_t shim_pid = 0;
  int pidfd = -1;  // the shim's; -1 once handled
  bool sandboxed = false;
  CgroupPaths cgroups;
  Clock::time_point started_at;
  std::optional<ExitInfo> exit;
  std::optional<Steady::time_point> kill_at;  // Stop's grace deadline
  bool starting = true;                       // reserved by Start, not yet running
};

class LocalRuntime final : public Runtime {
 public:
  LocalRuntime(RuntimeOptions options, Capabilities caps, std::string bwrap, Cgroups cgroups)
      : options_(std::move(options)),
        caps_(std::move(caps)),
        bwrap_(std::move(bwrap)),
        cgroups_(std::move(cgroups)) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    monitor_ = std::thread([this] { MonitorLoop(); });
  }

  // Containers keep running: their shims are in their own sessions and a later Recover
  // re-adopts them.
  ~LocalRuntime() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    Wake();
    monitor_.join();
    for (auto& [id, c] : containers_) {
      if (c->pidfd >= 0) ::close(c->pidfd);
    }
    ::close(wake_fd_);
    ::close(epfd_);
  }

  const Capabilities& capabilities() const override { return caps_; }

  void SetExitCallback(ExitCallback callback) override {
    std::lock_guard lock(mu_);
    callback_ = std::move(callback);
  }

  StatusOr<ContainerState> Start(const ContainerSpec& spec) override;
  Status Signal(const std::string& id, int sig) override;
  Status Stop(const std::string& id, std::chrono::milliseconds grace) override;
  StatusOr<ContainerState> Inspect(const std::string& id) const override;
  StatusOr<std::vector<ContainerState>> Recover(const std::string& root) override;
  Status Remove(const std::string& id) override;
  StatusOr<Usage> GetUsage(const std::string& id) const override;

 private:
  void Wake() {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  void Watch(int pidfd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = pidfd;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, pidfd, &ev);
  }
  void MonitorLoop();
  void HandleExit(const std::string& id);
  static void SignalGroup(const Container& c, int sig);
  static ContainerState StateOf(const Container& c);
  StatusOr<ContainerState> StartLocked(const ContainerSpec& spec, Container* c);

  const RuntimeOptions options_;
  const Capabilities caps_;
  const std::string bwrap_;
  const Cgroups cgroups_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  std::thread monitor_;

  mutable std::mutex mu_;
  std::condition_variable exited_cv_;
  std::map<std::string, std::unique_ptr<Container>> containers_;
  ExitCallback callback_;
  bool stopping_ = false;
};

ContainerState LocalRuntime::StateOf(const Container& c) {
  ContainerState s;
  s.id = c.id;
  s.state_dir = c.state_dir;
  s.pid = c.exit ? 0 : c.pid;
  s.started_at = c.started_at;
  s.exit = c.exit;
  return s;
}

// Signals the container's process group. In the sandbox the group also holds bwrap itself (the
// leader and the pid namespace's init below it); a catchable signal must reach only the
// container's processes, or bwrap would die at once and take a SIGTERM-trapping container with it.
void LocalRuntime::SignalGroup(const Container& c, int sig) {
  if (c.pid <= 0) return;
  if (!c.sandboxed || sig == SIGKILL) {
    ::kill(-c.pid, sig);
    return;
  }
  int sent = 0;
  for (const ProcStat& p : GroupMembers(c.pid)) {
    if (p.pid == c.pid || p.ppid == c.pid) continue;
    sent += ::kill(p.pid, sig) == 0;
  }
  // Still setting up (no container process yet): then bwrap itself is the container.
  if (sent == 0) ::kill(c.pid, sig);
}

StatusOr<ContainerState> LocalRuntime::Start(const ContainerSpec& spec) {
  if (!ValidId(spec.id)) {
    return Status::Invalid("container id \"" + spec.id + "\" must be [A-Za-z0-9._-]+");
  }
  if (spec.state_dir.empty() || spec.log_path.empty() || spec.argv.empty()) {
    return Status::Invalid(spec.argv.empty() ? "no command specified"
                                             : "state_dir and log_path are required");
  }
  Container* c;
  {
    std::lock_guard lock(mu_);
    if (containers_.count(spec.id)) {
      return Status::AlreadyExists("container " + spec.id + " already exists");
    }
    auto owned = std::make_unique<Container>();
    c = owned.get();
    c->id = spec.id;
    c->state_dir = spec.state_dir;
    containers_[spec.id] = std::move(owned);
  }
  auto result = StartLocked(spec, c);
  std::lock_guard lock(mu_);
  if (!result.ok()) {
    containers_.erase(spec.id);
    return result;
  }
  c->starting = false;
  if (c->pidfd >= 0) Watch(c->pidfd);
  return result;
}

// Runs without mu_ held: the id is reserved, nobody else touches *c until `starting` clears.
StatusOr<ContainerState> LocalRuntime::StartLocked(const ContainerSpec& spec, Container* c) {
  std::error_code ec;
  fs::create_directories(spec.state_dir, ec);
  if (ec) return Status::Internal("creating " + spec.state_dir + ": " + ec.message());
  for (const char* f : {shim::kPidFile, shim::kExitFile}) {
    ::unlink((spec.state_dir + "/" + f).c_str());
  }
  fs::path log_dir = fs::path(spec.log_path).parent_path();
  if (!log_dir.empty()) fs::create_directories(log_dir, ec);

  c->sandboxed = spec.sandbox && caps_.bubblewrap;
  std::string working_dir = spec.working_dir;
  if (!c->sandboxed && working_dir.empty()) {
    working_dir = fs::path(StripSlash(spec.state_dir)).parent_path().string();
  }
  Lookup lookup =
      LookupExecutable(spec.argv[0], EnvValue(spec.env, "PATH"), working_dir, spec, c->sandboxed);

  shim::Record rec;
  rec.emplace_back("id", spec.id);
  rec.emplace_back("sandbox", c->sandboxed ? "1" : "0");
  rec.emplace_back("name", spec.argv[0]);
  if (lookup.error != 0) rec.emplace_back("exec_errno", std::to_string(lookup.error));
  if (c->sandboxed) {
    auto args = BwrapArgs(bwrap_, spec);
    if (!args.ok()) return args.status();
    for (auto& a : *args) rec.emplace_back("exec", a);
    rec.emplace_back("exec", "--");
    // bwrap runs execvp with the same PATH, so argv[0] stays what the user wrote.
    for (const auto& a : spec.argv) rec.emplace_back("exec", a);
  } else {
    rec.emplace_back("workdir", working_dir);
    rec.emplace_back("exec_file", lookup.error == 0 ? lookup.path : spec.argv[0]);
    for (const auto& a : spec.argv) rec.emplace_back("exec", a);
  }
  for (const auto& e : spec.env) rec.emplace_back("env", e);

  // Only containers with limits get cgroups: moving a process into a cgroup waits for an RCU
  // grace period in the kernel (~10 ms measured here, most of a sandboxed start); unlimited
  // containers are accounted and cleaned up through their process group instead.
  if (spec.memory_limit_bytes > 0 || spec.cpu_limit_millicores > 0) {
    auto paths = cgroups_.Create(spec.id, spec.memory_limit_bytes, spec.cpu_limit_millicores);
    if (!paths.ok()) return paths.status();
    c->cgroups = *paths;
  }
  for (const auto& d : c->cgroups.dirs) rec.emplace_back("cgroup", d);
  for (const auto& f : c->cgroups.oom_files) rec.emplace_back("oom_file", f);
  if (!cgroups_.enabled() && spec.memory_limit_bytes > 0) {
    rec.emplace_back("rlimit_as", std::to_string(spec.memory_limit_bytes));
  }
  rec.emplace_back("log_path", spec.log_path);
  rec.emplace_back("log_max_bytes", std::to_string(spec.log_max_bytes));
  rec.emplace_back("log_max_files", std::to_string(spec.log_max_files));
  auto cleanup = [&](Status s) -> StatusOr<ContainerState> {
    Cgroups::Remove(c->cgroups.dirs);
    return s;
  };
  if (!shim::WriteFileReplace(spec.state_dir + "/" + shim::kSpecFile, shim::EncodeSpec(rec))) {
    return cleanup(Status::Internal("writing " + spec.state_dir + "/spec: " + strerror(errno)));
  }

  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return cleanup(Status::Internal("pipe failed"));
  // dup2 onto the same fd would keep FD_CLOEXEC; make sure the source is elsewhere.
  int ready_w = ::fcntl(ready[1], F_DUPFD_CLOEXEC, 10);
  ::close(ready[1]);
  std::string shim_log = spec.state_dir + "/" + shim::kShimLogFile;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, shim_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_adddup2(&fa, ready_w, shim::kReadyFd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string shim_path = options_.shim_path;
  std::string dir = spec.state_dir;
  char* argv[] = {shim_path.data(), dir.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t shim_pid = 0;
  int rc = posix_spawn(&shim_pid, shim_path.c_str(), &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(ready_w);
  if (rc != 0) {
    ::close(ready[0]);
    return cleanup(Status::Internal("starting " + shim_path + ": " + strerror(rc)));
  }
  c->shim_pid = shim_pid;
  c->pidfd = PidfdOpen(shim_pid);
  // One byte once the pid or exit record exists; EOF if the shim died first.
  pollfd pfd{ready[0], POLLIN, 0};
  int pr;
  do pr = ::poll(&pfd, 1, 30000);
  while (pr < 0 && errno == EINTR);
  ::close(ready[0]);

  std::string data;
  if (shim::ReadSmallFile(spec.state_dir + "/" + shim::kPidFile, &data)) {
    shim::Record pid = shim::DecodeLines(data);
    c->pid = static_cast<pid_t>(shim::GetInt(pid, "pid"));
    c->started_at = FromNs(shim::GetInt(pid, "started_ns"));
  } else if (auto exit = ReadExitRecord(spec.state_dir)) {
    // Exec failed: running as far as the caller is concerned; the monitor reports the end.
    c->started_at = exit->started_at;
  } else {
    std::string log;
    shim::ReadSmallFile(shim_log, &log);
    while (!log.empty() && log.back() == '\n') log.pop_back();
    if (pr == 0) ::kill(shim_pid, SIGKILL);
    ::waitpid(shim_pid, nullptr, 0);
    if (c->pidfd >= 0) ::close(c->pidfd);
    c->pidfd = -1;
    return cleanup(Status::Internal("skiff-shim failed to start the container" +
                                    (log.empty() ? std::string() : ": " + log)));
  }
  return StateOf(*c);
}

void LocalRuntime::MonitorLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    int timeout = -1;
    auto now = Steady::now();
    for (auto& [id, c] : containers_) {
      if (!c->kill_at || c->exit) continue;
      if (*c->kill_at <= now) {
        SignalGroup(*c, SIGKILL);
        c->kill_at.reset();
        continue;
      }
      int ms =
          static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*c->kill_at - now).count());
      if (timeout < 0 || ms < timeout) timeout = ms;
    }
    lock.unlock();
    epoll_event events[16];
    int n = ::epoll_wait(epfd_, events, 16, timeout);
    std::vector<int> ready;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof v);
      } else {
        ready.push_back(events[i].data.fd);
      }
    }
    for (int fd : ready) {
      std::string id;
      {
        std::lock_guard l(mu_);
        for (auto& [cid, c] : containers_) {
          if (c->pidfd == fd) id = cid;
        }
      }
      if (!id.empty()) HandleExit(id);
    }
    lock.lock();
  }
}

// The shim is gone: reap it if it is our child, read its exit record and report. Idempotent.
void LocalRuntime::HandleExit(const std::string& id) {
  ExitCallback cb;
  ExitInfo info;
  {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second->pidfd < 0 || it->second->starting) return;
    Container& c = *it->second;
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.pidfd, nullptr);
    // Reaps only our own children (ECHILD for shims adopted by Recover).
    siginfo_t si;
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(c.pidfd), &si, WEXITED | WNOHANG);
    ::close(c.pidfd);
    c.pidfd = -1;
    auto rec = ReadExitRecord(c.state_dir);
    info = rec ? *rec : SupervisorDied(c.started_at);
    if (!rec) Cgroups::KillAll(c.cgroups.dirs);
    c.exit = info;
    c.kill_at.reset();
    cb = callback_;
  }
  exited_cv_.notify_all();
  if (cb) cb(id, info);
}

Status LocalRuntime::Signal(const std::string& id, int sig) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return Status::NotFound("container " + id + " not found");
  if (it->second->exit || it->second->starting) return Status::Ok();
  SignalGroup(*it->second, sig);
  return Status::Ok();
}

Status LocalRuntime::Stop(const std::string& id, std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return Status::NotFound("container " + id + " not found");
    Container& c = *it->second;
    if (c.exit || c.starting) return Status::Ok();
    if (grace.count() <= 0) {
      SignalGroup(c, SIGKILL);
      return Status::Ok();
    }
    SignalGroup(c, SIGTERM);
    auto at = Steady::now() + grace;
    if (!c.kill_at || at < *c.kill_at) c.kill_at = at;
  }
  Wake();
  return Status::Ok();
}

StatusOr<ContainerState> LocalRuntime::Inspect(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second->starting) {
    return Status::NotFound("container " + id + " not found");
  }
  return StateOf(*it->second);
}

StatusOr<std::vector<ContainerState>> LocalRuntime::Recover(const std::string& root) {
  std::vector<ContainerState> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec)) continue;
    std::string dir = entry.path().string();
    std::string raw;
    if (!shim::ReadSmallFile(dir + "/" + shim::kSpecFile, &raw)) continue;
    shim::Record spec = shim::DecodeSpec(raw);
    auto c = std::make_unique<Container>();
    c->id = shim::Get(spec, "id", entry.path().filename().string());
    c->state_dir = dir;
    c->starting = false;
    c->sandboxed = shim::Get(spec, "sandbox") == "1";
    c->cgroups.dirs = shim::GetAll(spec, "cgroup");
    c->cgroups.oom_files = shim::GetAll(spec, "oom_file");
    for (const auto& d : c->cgroups.dirs) {
      // Accounting files as Create names them.
      if (::access((d + "/memory.current").c_str(), F_OK) == 0) {
        c->cgroups.v2 = true;
        c->cgroups.memory_usage_file = d + "/memory.current";
        c->cgroups.cpu_usage_file = d + "/cpu.stat";
      } else if (::access((d + "/memory.usage_in_bytes").c_str(), F_OK) == 0) {
        c->cgroups.memory_usage_file = d + "/memory.usage_in_bytes";
      } else if (::access((d + "/cpuacct.usage").c_str(), F_OK) == 0) {
        c->cgroups.cpu_usage_file = d + "/cpuacct.usage";
      }
    }
    {
      std::lock_guard lock(mu_);
      if (containers_.count(c->id)) continue;
    }
    std::string data;
    shim::Record pid;
    if (shim::ReadSmallFile(dir + "/" + shim::kPidFile, &data)) pid = shim::DecodeLines(data);
    c->pid = static_cast<pid_t>(shim::GetInt(pid, "pid"));
    c->shim_pid = static_cast<pid_t>(shim::GetInt(pid, "shim_pid"));
    c->started_at = FromNs(shim::GetInt(pid, "started_ns"));
    if (auto exit = ReadExitRecord(dir)) {
      c->exit = exit;
      if (pid.empty()) c->started_at = exit->started_at;
    } else if (c->shim_pid > 0) {
      // Open first, then check it is our shim: the pidfd pins that very process.
      int fd = PidfdOpen(c->shim_pid);
      std::string cmdline;
      bool ours = fd >= 0 && shim::ReadSmallFile(
                                 "/proc/" + std::to_string(c->shim_pid) + "/cmdline", &cmdline);
      if (ours) {
        size_t nul = cmdline.find('\0');
        std::string arg0 = cmdline.substr(0, nul);
        std::string arg1 = nul == std::string::npos
                               ? ""
                               : cmdline.substr(nul + 1, cmdline.find('\0', nul + 1) - nul - 1);
        ours = fs::path(arg0).filename() == "skiff-shim" && fs::equivalent(arg1, dir, ec);
      }
      if (ours) {
        c->pidfd = fd;
      } else {
        if (fd >= 0) ::close(fd);
        if (auto exit = ReadExitRecord(dir)) {
          c->exit = exit;  // finished while we looked
        } else {
          c->exit = SupervisorDied(c->started_at);
          Cgroups::KillAll(c->cgroups.dirs);
        }
      }
    } else {
      c->exit = SupervisorDied(c->started_at);
      Cgroups::KillAll(c->cgroups.dirs);
    }
    out.push_back(StateOf(*c));
    std::lock_guard lock(mu_);
    if (c->pidfd >= 0) Watch(c->pidfd);
    containers_[c->id] = std::move(c);
  }
  return out;
}

Status LocalRuntime::Remove(const std::string& id) {
  int pidfd = -1;
  std::vector<std::string> cgroup_dirs;
  std::string state_dir;
  {
    std::unique_lock lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second->starting) {
      return Status::NotFound("container " + id + " not found");
    }
    Container& c = *it->second;
    if (!c.exit) {
      SignalGroup(c, SIGKILL);
      Cgroups::KillAll(c.cgroups.dirs);
      if (c.pidfd >= 0) pidfd = ::fcntl(c.pidfd, F_DUPFD_CLOEXEC, 0);
    }
  }
  if (pidfd >= 0) {
    // Wait for the shim to write the exit record; report the end like any other.
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, 5000);
    ::close(pidfd);
    if (std::this_thread::get_id() == monitor_.get_id()) {
      HandleExit(id);
    } else {
      std::unique_lock lock(mu_);
      exited_cv_.wait_for(lock, std::chrono::seconds(5), [&] {
        auto it = containers_.find(id);
        return it == containers_.end() || it->second->exit.has_value();
      });
    }
  }
  {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return Status::Ok();
    if (!it->second->exit) return Status::Unavailable("container " + id + " is still stopping");
    cgroup_dirs = it->second->cgroups.dirs;
    state_dir = it->second->state_dir;
    containers_.erase(it);
  }
  Status s = Cgroups::Remove(cgroup_dirs);
  std::error_code ec;
  fs::remove_all(state_dir, ec);
  if (ec && s.ok()) s = Status::Internal("removing " + state_dir + ": " + ec.message());
  return s;
}

StatusOr<Runtime::Usage> LocalRuntime::GetUsage(const std::string& id) const {
  CgroupPaths paths;
  pid_t pid = 0;
  {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second->starting) {
      return Status::NotFound("container " + id + " not found");
    }
    paths = it->second->cgroups;
    pid = it->second->exit ? 0 : it->second->pid;
  }
  Usage u;
  if (Cgroups::ReadUsage(paths, &u.cpu_seconds, &u.memory_bytes)) return u;
  if (pid <= 0) return u;
  // No cgroups: the sum over the container's process group.
  static const long kTicks = ::sysconf(_SC_CLK_TCK);
  static const long kPage = ::sysconf(_SC_PAGESIZE);
  for (const ProcStat& p : GroupMembers(pid)) {
    u.cpu_seconds += static_cast<double>(p.ticks) / static_cast<double>(kTicks);
    std::string statm;
    if (shim::ReadSmallFile("/proc/" + std::to_string(p.pid) + "/statm", &statm)) {
      size_t sp = statm.find(' ');
      if (sp != std::string::npos) u.memory_bytes += std::atoll(statm.c_str() + sp + 1) * kPage;
    }
  }
  return u;
}

std::string SelfDir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

}  // namespace

StatusOr<std::unique_ptr<Runtime>> NewLocalRuntime(RuntimeOptions options) {
  if (options.shim_path.empty()) options.shim_path = SelfDir() + "/skiff-shim";
  if (::access(options.shim_path.c_str(), X_OK) != 0) {
    return Status::NotFound("skiff-shim not found at " + options.shim_path + ": " +
                            std::strerror(errno));
  }
  Capabilities caps;
  std::string bwrap;
  std::string sandbox_why;
  if (options.sandbox == "none") {
    sandbox_why = "sandbox disabled";
  } else {
    auto probe = ProbeBubblewrap();
    if (probe.ok()) {
      bwrap = *probe;
      caps.bubblewrap = true;
    } else {
      sandbox_why = probe.status().message();
    }
  }
  caps.sandbox = caps.bubblewrap ? "bubblewrap" : "none";
  Cgroups cgroups = Cgroups::Detect(options.cgroup_parent, options.limits);
  caps.limits = cgroups.mode();
  std::string detail = sandbox_why;
  if (!cgroups.detail().empty()) detail += (detail.empty() ? "" : "; ") + cgroups.detail();
  caps.detail = detail;
  SKIFF_LOG(Info) << "runtime: sandbox=" << caps.sandbox << " limits=" << caps.limits
                  << (detail.empty() ? "" : " (" + detail + ")");
  return std::unique_ptr<Runtime>(
      new LocalRuntime(std::move(options), std::move(caps), std::move(bwrap), std::move(cgroups)));
}

}  // namespace skiff::runtime
