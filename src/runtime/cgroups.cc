// Cgroup detection, creation, limits and accounting for containers (see cgroups.h).
#include "runtime/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "runtime/shim_protocol.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

Status WriteValue(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Internal("opening " + path + ": " + std::strerror(errno));
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return Status::Internal("writing \"" + value + "\" to " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// mkdir -p; true if the directory exists afterwards.
bool MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  return fs::is_directory(path, ec);
}

// Can we create (and remove) a group below `base`?
bool ProbeMkdir(const std::string& base, std::string* why) {
  if (!MakeDirs(base)) {
    *why = "cannot create " + base + ": " + std::strerror(errno);
    return false;
  }
  std::string probe = base + "/probe-" + std::to_string(::getpid());
  if (::mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) {
    *why = "cannot create a cgroup below " + base + ": " + std::strerror(errno);
    return false;
  }
  ::rmdir(probe.c_str());
  return true;
}

// This process's cgroup v2 path ("0::/x/y" in /proc/self/cgroup).
std::string OwnV2Path() {
  std::string data;
  if (!shim::ReadSmallFile("/proc/self/cgroup", &data)) return "/";
  size_t pos = data.find("0::");
  if (pos == std::string::npos || (pos > 0 && data[pos - 1] != '\n')) return "/";
  size_t end = data.find('\n', pos);
  return data.substr(pos + 3, end == std::string::npos ? std::string::npos : end - pos - 3);
}

bool HasWord(const std::string& text, const std::string& word) {
  size_t pos = 0;
  while ((pos = text.find(word, pos)) != std::string::npos) {
    bool start = pos == 0 || text[pos - 1] == ' ' || text[pos - 1] == '\n';
    size_t e = pos + word.size();
    bool end = e == text.size() || text[e] == ' ' || text[e] == '\n';
    if (start && end) return true;
    pos = e;
  }
  return false;
}

int64_t ReadKey(const std::string& text, const std::string& key) {
  size_t pos = 0;
  while ((pos = text.find(key + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n')
      return std::strtoll(text.c_str() + pos + key.size() + 1, nullptr, 10);
    pos += key.size();
  }
  return -1;
}

}  // namespace

Cgroups Cgroups::Detect(const std::string& parent, const std::string& forced) {
  Cgroups cg;
  if (forced == "rlimit" || parent.empty()) {
    cg.detail_ = forced == "rlimit" ? "limits forced to rlimit" : "cgroups disabled";
    cg.detail_ += "; memory limit is RLIMIT_AS, cpu limit not enforced";
    return cg;
  }
  std::string why;
  // v2 unified: the controllers must be enabled for our groups' parent.
  std::string controllers;
  if (shim::ReadSmallFile(std::string(kCgroupRoot) + "/cgroup.controllers", &controllers)) {
    if (HasWord(controllers, "memory") && HasWord(controllers, "cpu")) {
      std::string own = OwnV2Path();
      std::string own_dir = std::string(kCgroupRoot) + (own == "/" ? "" : own);
      std::string base = own_dir + "/" + parent;
      if (ProbeMkdir(base, &why)) {
        // Our own group may hold processes (then it cannot delegate: "no internal processes").
        Status s1 = WriteValue(own_dir + "/cgroup.subtree_control", "+memory +cpu");
        Status s2 = WriteValue(base + "/cgroup.subtree_control", "+memory +cpu");
        if (s2.ok() && Exists(base + "/memory.max") && Exists(base + "/cpu.max")) {
          cg.mode_ = "cgroup-v2";
          cg.v2_base_ = base;
          return cg;
        }
        why = !s1.ok() ? s1.message() : s2.message();
      }
    } else {
      why = "cgroup v2 without the memory and cpu controllers";
    }
  }
  // v1: separate memory, cpu (and maybe cpuacct) hierarchies.
  std::string mem = std::string(kCgroupRoot) + "/memory";
  if (Exists(mem + "/memory.limit_in_bytes") && ProbeMkdir(mem + "/" + parent, &why)) {
    cg.mode_ = "cgroup-v1";
    cg.mem_base_ = mem + "/" + parent;
    std::string cpu = std::string(kCgroupRoot) + "/cpu";
    std::string cpu_why;
    if (Exists(cpu + "/cpu.cfs_quota_us") && ProbeMkdir(cpu + "/" + parent, &cpu_why)) {
      cg.cpu_base_ = cpu + "/" + parent;
    } else {
      cg.detail_ = "cpu limits not enforced (no writable cgroup v1 cpu hierarchy)";
    }
    std::string acct = std::string(kCgroupRoot) + "/cpuacct";
    std::error_code ec;
    bool same = fs::exists(acct, ec) && fs::exists(cpu, ec) && fs::equivalent(acct, cpu, ec);
    if (!same && Exists(acct + "/cpuacct.usage") && ProbeMkdir(acct + "/" + parent, &cpu_why)) {
      cg.cpuacct_base_ = acct + "/" + parent;
    }
    return cg;
  }
  cg.detail_ = "no writable cgroups" + (why.empty() ? "" : " (" + why + ")") +
               "; memory limit is RLIMIT_AS, cpu limit not enforced";
  return cg;
}

StatusOr<CgroupPaths> Cgroups::Create(const std::string& id, int64_t memory_bytes,
                                      int64_t cpu_millicores) const {
  CgroupPaths p;
  if (!enabled()) return p;
  auto make = [&](const std::string& base) -> StatusOr<std::string> {
    std::string dir = base + "/" + id;
    if (Exists(dir)) {
      KillAll({dir});
      SKIFF_RETURN_IF_ERROR(Remove({dir}));
    }
    if (::mkdir(dir.c_str(), 0755) != 0) {
      return Status::Internal("creating cgroup " + dir + ": " + std::strerror(errno));
    }
    p.dirs.push_back(dir);
    return dir;
  };
  auto fail = [&](const Status& s) -> StatusOr<CgroupPaths> {
    Remove(p.dirs);
    return s;
  };
  const int64_t period = 100000;
  if (mode_ == "cgroup-v2") {
    p.v2 = true;
    auto dir = make(v2_base_);
    if (!dir.ok()) return fail(dir.status());
    p.oom_files.push_back(*dir + "/memory.events");
    p.cpu_usage_file = *dir + "/cpu.stat";
    p.memory_usage_file = *dir + "/memory.current";
    if (memory_bytes > 0) {
      Status s = WriteValue(*dir + "/memory.max", std::to_string(memory_bytes));
      if (!s.ok()) return fail(s);
      if (Exists(*dir + "/memory.swap.max")) WriteValue(*dir + "/memory.swap.max", "0");
    }
    if (cpu_millicores > 0) {
      Status s = WriteValue(*dir + "/cpu.max",
                            std::to_string(cpu_millicores * 100) + " " + std::to_string(period));
      if (!s.ok()) return fail(s);
    }
    return p;
  }
  auto mem = make(mem_base_);
  if (!mem.ok()) return fail(mem.status());
  p.oom_files.push_back(*mem + "/memory.oom_control");
  p.memory_usage_file = *mem + "/memory.usage_in_bytes";
  if (memory_bytes > 0) {
    Status s = WriteValue(*mem + "/memory.limit_in_bytes", std::to_string(memory_bytes));
    if (!s.ok()) return fail(s);
    // With swap accounting, memory+swap gets the same limit so the container cannot swap.
    if (Exists(*mem + "/memory.memsw.limit_in_bytes")) {
      WriteValue(*mem + "/memory.memsw.limit_in_bytes", std::to_string(memory_bytes));
    }
  }
  if (!cpu_base_.empty()) {
    auto cpu = make(cpu_base_);
    if (!cpu.ok()) return fail(cpu.status());
    if (Exists(*cpu + "/cpuacct.usage")) p.cpu_usage_file = *cpu + "/cpuacct.usage";
    if (cpu_millicores > 0) {
      Status s = WriteValue(*cpu + "/cpu.cfs_period_us", std::to_string(period));
      if (s.ok()) s = WriteValue(*cpu + "/cpu.cfs_quota_us", std::to_string(cpu_millicores * 100));
      if (!s.ok()) return fail(s);
    }
  }
  if (!cpuacct_base_.empty()) {
    auto acct = make(cpuacct_base_);
    if (!acct.ok()) return fail(acct.status());
    p.cpu_usage_file = *acct + "/cpuacct.usage";
  }
  return p;
}

void Cgroups::KillAll(const std::vector<std::string>& dirs) {
  for (const auto& dir : dirs) {
    std::string procs;
    if (!shim::ReadSmallFile(dir + "/cgroup.procs", &procs)) continue;
    const char* s = procs.c_str();
    while (*s) {
      char* end;
      long pid = std::strtol(s, &end, 10);
      if (end == s) break;
      if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
      s = end;
      while (*s == '\n') ++s;
    }
  }
}

Status Cgroups::Remove(const std::vector<std::string>& dirs) {
  using std::chrono::steady_clock;
  auto deadline = steady_clock::now() + std::chrono::seconds(2);
  for (const auto& dir : dirs) {
    for (;;) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      // EBUSY: processes are still exiting (or being reaped); they go within milliseconds.
      if (errno != EBUSY || steady_clock::now() > deadline) {
        return Status::Internal("removing cgroup " + dir + ": " + std::strerror(errno));
      }
      KillAll({dir});
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return Status::Ok();
}

bool Cgroups::ReadUsage(const CgroupPaths& p, double* cpu_seconds, int64_t* memory_bytes) {
  if (p.dirs.empty()) return false;
  std::string data;
  if (!p.cpu_usage_file.empty() && shim::ReadSmallFile(p.cpu_usage_file, &data)) {
    if (p.v2) {
      int64_t usec = ReadKey(data, "usage_usec");
      *cpu_seconds = usec < 0 ? 0 : static_cast<double>(usec) / 1e6;
    } else {
      *cpu_seconds = static_cast<double>(std::strtoll(data.c_str(), nullptr, 10)) / 1e9;
    }
  }
  if (!p.memory_usage_file.empty() && shim::ReadSmallFile(p.memory_usage_file, &data)) {
    *memory_bytes = std::strtoll(data.c_str(), nullptr, 10);
  }
  return true;
}

}  // namespace skiff::runtime
