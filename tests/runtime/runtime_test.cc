// The local runtime with the real skiff-shim: exit codes, logs, start errors, Stop, memory limits,
// the bubblewrap sandbox and Recover after the Runtime object went away.
#include "runtime/runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "runtime/logs.h"
#include "runtime/shim_protocol.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Collects exit callbacks so tests can wait for them.
class Exits {
 public:
  ExitCallback Callback() {
    return [this](const std::string& id, const ExitInfo& info) {
      std::lock_guard lock(mu_);
      exits_[id] = info;
      ++calls_[id];
      cv_.notify_all();
    };
  }
  std::optional<ExitInfo> Wait(const std::string& id, std::chrono::seconds timeout = 20s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return exits_.count(id) > 0; })) return std::nullopt;
    return exits_[id];
  }
  int Calls(const std::string& id) {
    std::lock_guard lock(mu_);
    return calls_[id];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, ExitInfo> exits_;
  std::map<std::string, int> calls_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-rt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    root_ = tmp_ + "/containers";
    cgroup_parent_ = "skiff-test-" + std::to_string(getpid());
    rt_ = NewRuntime();
    ASSERT_NE(rt_, nullptr);
  }

  void TearDown() override {
    if (rt_) {
      for (const auto& id : started_) rt_->Remove(id);
    }
    rt_.reset();
    fs::remove_all(tmp_);
    for (const char* h : {"memory", "cpu", "cpuacct"}) {
      rmdir(("/sys/fs/cgroup/" + std::string(h) + "/" + cgroup_parent_).c_str());
    }
    rmdir(("/sys/fs/cgroup/" + cgroup_parent_).c_str());
  }

  std::unique_ptr<Runtime> NewRuntime(RuntimeOptions o = {}) {
    o.shim_path = SKIFF_SHIM;
    o.cgroup_parent = cgroup_parent_;
    auto rt = NewLocalRuntime(o);
    EXPECT_TRUE(rt.ok()) << rt.status().message();
    if (!rt.ok()) return nullptr;
    (*rt)->SetExitCallback(exits_.Callback());
    return std::move(*rt);
  }

  ContainerSpec Spec(const std::string& name, std::vector<std::string> argv, bool sandbox) {
    ContainerSpec s;
    s.id = "t" + std::to_string(getpid()) + "." + name + (sandbox ? ".sb" : ".plain");
    s.state_dir = root_ + "/" + s.id;
    s.argv = std::move(argv);
    s.env = {kPath, "HOME=/"};
    s.log_path = tmp_ + "/logs/" + s.id + ".log";
    s.sandbox = sandbox;
    return s;
  }

  StatusOr<ContainerState> Start(const ContainerSpec& s) {
    started_.push_back(s.id);
    return rt_->Start(s);
  }

  std::string Log(const ContainerSpec& s) {
    std::string out;
    Status st = ReadLog(s.log_path, {}, [&](const std::string& c) {
      out += c;
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  // Waits until the container's log has `text` (the container reached that point).
  bool WaitLog(const ContainerSpec& s, const std::string& text) {
    for (int i = 0; i < 2000; ++i) {
      if (ReadAll(s.log_path).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  std::vector<bool> Modes() {
    std::vector<bool> m = {false};
    if (rt_->capabilities().bubblewrap) m.push_back(true);
    return m;
  }

  std::string tmp_, root_, cgroup_parent_;
  Exits exits_;
  std::unique_ptr<Runtime> rt_;
  std::vector<std::string> started_;
};

TEST_F(RuntimeTest, ExitCodeAndBothStreamsInLog) {
  for (bool sandbox : Modes()) {
    SCOPED_TRACE(sandbox ? "sandbox" : "plain");
    auto s = Spec("exit3", {"sh", "-c", "echo out; echo err >&2; exit 3"}, sandbox);
    auto st = Start(s);
    ASSERT_TRUE(st.ok()) << st.status().message();
    EXPECT_GT(st->pid, 0);
    auto exit = exits_.Wait(s.id);
    ASSERT_TRUE(exit);
    EXPECT_EQ(exit->exit_code, 3);
    EXPECT_EQ(exit->signal, 0);
    EXPECT_FALSE(exit->oom_killed);
    EXPECT_EQ(exit->message, "");
    EXPECT_LE(exit->started_at, exit->finished_at);
    std::string raw = ReadAll(s.log_path);
    EXPECT_NE(raw.find(" stdout F out\n"), std::string::npos) << raw;
    EXPECT_NE(raw.find(" stderr F err\n"), std::string::npos) << raw;
    std::string log = Log(s);
    EXPECT_NE(log.find("out\n"), std::string::npos);
    EXPECT_NE(log.find("err\n"), std::string::npos);
    auto inspected = rt_->Inspect(s.id);
    ASSERT_TRUE(inspected.ok());
    ASSERT_TRUE(inspected->exit);
    EXPECT_EQ(inspected->exit->exit_code, 3);
    EXPECT_EQ(inspected->pid, 0);
    EXPECT_EQ(exits_.Calls(s.id), 1);
  }
}

TEST_F(RuntimeTest, LongLinesSplitAndLogRotates) {
  // One 40000-byte line (three records) then enough short lines to rotate a 4 KiB log twice.
  auto s = Spec("rotate",
                {"sh", "-c",
                 "head -c 40000 /dev/zero | tr '\\0' x; echo; "
                 "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done"},
                false);
  s.log_max_bytes = 4096;
  s.log_max_files = 3;
  ASSERT_TRUE(Start(s).ok());
  auto exit = exits_.Wait(s.id);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_TRUE(fs::exists(s.log_path + ".1"));
  EXPECT_TRUE(fs::exists(s.log_path + ".2"));
  EXPECT_FALSE(fs::exists(s.log_path + ".3"));
  for (const auto& f : {s.log_path, s.log_path + ".1"}) EXPECT_LE(fs::file_size(f), 4096u);
  std::string log = Log(s);
  EXPECT_EQ(log.substr(log.size() - 9), "line-399\n");
  EXPECT_EQ(log.find("line-0\n"), std::string::npos) << "rotated away";
  // Without rotation the long line comes back whole from its P records.
  auto whole = Spec("long", {"sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo"}, false);
  ASSERT_TRUE(Start(whole).ok());
  ASSERT_TRUE(exits_.Wait(whole.id));
  std::string raw = ReadAll(whole.log_path);
  EXPECT_NE(raw.find(" stdout P "), std::string::npos);
  EXPECT_EQ(Log(whole), std::string(40000, 'x') + "\n");
}

TEST_F(RuntimeTest, MissingExecutableIsAStartError) {
  for (bool sandbox : Modes()) {
    SCOPED_TRACE(sandbox ? "sandbox" : "plain");
    auto s = Spec("missing", {"no-such-program-skiff"}, sandbox);
    auto st = Start(s);
    ASSERT_TRUE(st.ok()) << st.status().message();
    auto exit = exits_.Wait(s.id);
    ASSERT_TRUE(exit);
    EXPECT_EQ(exit->exit_code, 128);
    EXPECT_EQ(exit->message, "exec: \"no-such-program-skiff\": executable file not found in $PATH");
  }
}

TEST_F(RuntimeTest, NonExecutableFileIsPermissionDenied) {
  std::string file = tmp_ + "/not-exec";
  std::ofstream(file) << "#!/bin/sh\n";
  auto s = Spec("noexec", {file}, false);
  ASSERT_TRUE(Start(s).ok());
  auto exit = exits_.Wait(s.id);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 128);
  EXPECT_EQ(exit->message, "exec: \"" + file + "\": permission denied");
}

TEST_F(RuntimeTest, StopTerminatesWithSigterm) {
  for (bool sandbox : Modes()) {
    SCOPED_TRACE(sandbox ? "sandbox" : "plain");
    auto s = Spec("sleep", {"sleep", "100"}, sandbox);
    ASSERT_TRUE(Start(s).ok());
    ASSERT_TRUE(rt_->Stop(s.id, 30s).ok());
    auto exit = exits_.Wait(s.id, 10s);  // well before the 30 s grace: SIGTERM did it
    ASSERT_TRUE(exit);
    EXPECT_EQ(exit->exit_code, 128 + SIGTERM);
    EXPECT_EQ(exit->signal, SIGTERM);
  }
}

TEST_F(RuntimeTest, StopKillsAfterGraceWhenSigtermIsIgnored) {
  for (bool sandbox : Modes()) {
    SCOPED_TRACE(sandbox ? "sandbox" : "plain");
    auto s = Spec(
        "trap", {"sh", "-c", "trap 'echo got-term' TERM; echo ready; while :; do sleep 0.05; done"},
        sandbox);
    ASSERT_TRUE(Start(s).ok());
    ASSERT_TRUE(WaitLog(s, "ready"));
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(rt_->Stop(s.id, 300ms).ok());
    auto exit = exits_.Wait(s.id, 10s);
    ASSERT_TRUE(exit);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);  // it survived SIGTERM
    EXPECT_EQ(exit->exit_code, 137);
    EXPECT_EQ(exit->signal, SIGKILL);
    EXPECT_NE(Log(s).find("got-term"), std::string::npos) << "SIGTERM reached the container";
  }
}

TEST_F(RuntimeTest, SignalAfterExitIsANoOpAndUnknownIsNotFound) {
  auto s = Spec("true", {"true"}, false);
  ASSERT_TRUE(Start(s).ok());
  ASSERT_TRUE(exits_.Wait(s.id));
  EXPECT_TRUE(rt_->Signal(s.id, SIGTERM).ok());
  EXPECT_EQ(rt_->Signal("nope", SIGTERM).code(), Code::kNotFound);
  EXPECT_EQ(rt_->Inspect("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(Start(s).status().code(), Code::kAlreadyExists);
}

TEST_F(RuntimeTest, MemoryLimitEndsInOomKill) {
  if (rt_->capabilities().limits == "rlimit") GTEST_SKIP() << "no cgroups here";
  for (bool sandbox : Modes()) {
    SCOPED_TRACE(sandbox ? "sandbox" : "plain");
    auto s =
        Spec("oom", {"/usr/bin/python3", "-c", "x = b'x' * (200 << 20); print(len(x))"}, sandbox);
    s.memory_limit_bytes = 50 << 20;
    ASSERT_TRUE(Start(s).ok());
    auto exit = exits_.Wait(s.id, 30s);
    ASSERT_TRUE(exit);
    EXPECT_TRUE(exit->oom_killed);
    EXPECT_EQ(exit->exit_code, 137);
  }
}

TEST_F(RuntimeTest, LimitsAreWrittenToTheContainersCgroups) {
  const std::string mode = rt_->capabilities().limits;
  if (mode == "rlimit") GTEST_SKIP() << "no cgroups here";
  auto s = Spec("limits", {"sh", "-c", "echo ready; sleep 100"}, false);
  s.memory_limit_bytes = 64 << 20;
  s.cpu_limit_millicores = 500;
  ASSERT_TRUE(Start(s).ok());
  ASSERT_TRUE(WaitLog(s, "ready"));
  auto trim = [](std::string v) {
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  };
  if (mode == "cgroup-v1") {
    std::string mem = "/sys/fs/cgroup/memory/" + cgroup_parent_ + "/" + s.id;
    EXPECT_EQ(trim(ReadAll(mem + "/memory.limit_in_bytes")), std::to_string(64 << 20));
    EXPECT_NE(ReadAll(mem + "/cgroup.procs"), "");
    std::string cpu = "/sys/fs/cgroup/cpu/" + cgroup_parent_ + "/" + s.id;
    if (fs::exists(cpu)) {
      EXPECT_EQ(trim(ReadAll(cpu + "/cpu.cfs_quota_us")), "50000");
      EXPECT_EQ(trim(ReadAll(cpu + "/cpu.cfs_period_us")), "100000");
    }
  }
  auto u = rt_->GetUsage(s.id);
  ASSERT_TRUE(u.ok());
  EXPECT_GT(u->memory_bytes, 0);
  EXPECT_GE(u->cpu_seconds, 0);
  ASSERT_TRUE(rt_->Stop(s.id, 0ms).ok());
  auto exit = exits_.Wait(s.id);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 137);
  EXPECT_FALSE(exit->oom_killed);
}

TEST_F(RuntimeTest, RlimitModeLimitsAddressSpace) {
  RuntimeOptions o;
  o.limits = "rlimit";
  rt_ = NewRuntime(o);
  EXPECT_EQ(rt_->capabilities().limits, "rlimit");
  EXPECT_NE(rt_->capabilities().detail.find("cpu"), std::string::npos);
  auto s = Spec("rlimit", {"/usr/bin/python3", "-c", "x = b'x' * (200 << 20)"}, false);
  s.memory_limit_bytes = 100 << 20;
  ASSERT_TRUE(Start(s).ok());
  auto exit = exits_.Wait(s.id, 30s);
  ASSERT_TRUE(exit);
  EXPECT_NE(exit->exit_code, 0);  // MemoryError, not an OOM kill
  EXPECT_FALSE(exit->oom_killed);
  EXPECT_NE(Log(s).find("MemoryError"), std::string::npos);
}

TEST_F(RuntimeTest, UsageAndRemove) {
  auto s = Spec("usage", {"sh", "-c", "echo ready; sleep 100"}, false);
  ASSERT_TRUE(Start(s).ok());
  ASSERT_TRUE(WaitLog(s, "ready"));
  auto u = rt_->GetUsage(s.id);
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_GT(u->memory_bytes, 0);
  ASSERT_TRUE(rt_->Remove(s.id).ok());  // kills it first
  EXPECT_FALSE(fs::exists(s.state_dir));
  EXPECT_TRUE(fs::exists(s.log_path));
  if (rt_->capabilities().limits == "cgroup-v1") {
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + cgroup_parent_ + "/" + s.id));
  }
  auto exit = exits_.Wait(s.id);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 137);
  EXPECT_EQ(rt_->Inspect(s.id).status().code(), Code::kNotFound);
}

TEST_F(RuntimeTest, SandboxViewHidesMountsAndProtects) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << rt_->capabilities().detail;
  // A hidden path outside /tmp (the sandbox's /tmp is private anyway).
  std::string secret_dir = "/var/tmp/skiff-hidden-" + std::to_string(getpid());
  fs::create_directories(secret_dir);
  std::ofstream(secret_dir + "/secret") << "s3cret";
  std::ofstream(tmp_ + "/hosts") << "10.1.2.3 skiff-test-host\n";
  fs::create_directories(tmp_ + "/data");
  std::ofstream(tmp_ + "/data/in") << "input";

  auto s = Spec("view",
                {"sh", "-c",
                 "test -e " + secret_dir +
                     "/secret && echo SECRET-VISIBLE;"
                     "cat /data/in && echo written > /data/out && echo DATA-RW;"
                     "grep -q skiff-test-host /etc/hosts && echo HOSTS-OK;"
                     "[ -z \"$(ls -A /tmp)\" ] && echo TMP-EMPTY;"
                     "touch /usr/skiff-should-fail 2>/dev/null || echo USR-RO;"
                     "touch /tmp/x && echo TMP-RW;"
                     "echo host=$(hostname)"},
                true);
  s.hidden_paths = {secret_dir, "/tmp/already-hidden"};
  s.mounts = {{tmp_ + "/data", "/data", false}};
  s.hosts_file = tmp_ + "/hosts";
  s.hostname = "pod-a";
  ASSERT_TRUE(Start(s).ok());
  auto exit = exits_.Wait(s.id);
  fs::remove_all(secret_dir);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  std::string log = Log(s);
  EXPECT_EQ(log.find("SECRET-VISIBLE"), std::string::npos) << log;
  EXPECT_NE(log.find("input"), std::string::npos) << log;
  EXPECT_NE(log.find("DATA-RW"), std::string::npos) << log;
  EXPECT_EQ(ReadAll(tmp_ + "/data/out"), "written\n");
  EXPECT_NE(log.find("HOSTS-OK"), std::string::npos) << log;
  EXPECT_NE(log.find("TMP-EMPTY"), std::string::npos) << log;
  EXPECT_NE(log.find("USR-RO"), std::string::npos) << log;
  EXPECT_NE(log.find("TMP-RW"), std::string::npos) << log;
  EXPECT_NE(log.find("host=pod-a"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists("/usr/skiff-should-fail"));
}

TEST_F(RuntimeTest, SandboxMountsAtPathsTheHostLacks) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << rt_->capabilities().detail;
  fs::create_directories(tmp_ + "/data");
  std::ofstream(tmp_ + "/data/in") << "x";
  // Manifests mount config at /etc/config and data below /usr or /opt: the directories on the
  // way are rebuilt so the mount point can be made, and the rest of /etc stays visible.
  auto s = Spec("deepmount",
                {"sh", "-c",
                 "test -f /etc/skiff-cfg/in && test -f /usr/share/skiff-no-such/data/in && "
                 "test -f /mnt-skiff/new/in && test -f /etc/passwd && echo MOUNTS-OK;"
                 "touch /etc/skiff-should-fail 2>/dev/null || echo ETC-RO"},
                true);
  s.mounts = {{tmp_ + "/data", "/etc/skiff-cfg", true},
              {tmp_ + "/data", "/usr/share/skiff-no-such/data", true},
              {tmp_ + "/data", "/mnt-skiff/new", true}};
  ASSERT_TRUE(Start(s).ok());
  auto exit = exits_.Wait(s.id);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0) << Log(s);
  EXPECT_NE(Log(s).find("MOUNTS-OK"), std::string::npos) << Log(s);
  EXPECT_NE(Log(s).find("ETC-RO"), std::string::npos) << Log(s);
  EXPECT_FALSE(fs::exists("/etc/skiff-cfg"));
  EXPECT_FALSE(fs::exists("/etc/skiff-should-fail"));
}

TEST_F(RuntimeTest, RecoverReadoptsRunningAndReportsEnded) {
  // An ended-while-away container, one still running, and one that never got a pid.
  auto ended = Spec("ended", {"sh", "-c", "exit 7"}, false);
  auto running = Spec("running", {"sh", "-c", "echo ready; sleep 1"}, false);
  ASSERT_TRUE(Start(running).ok());
  ASSERT_TRUE(WaitLog(running, "ready"));
  {
    // Another runtime starts `ended` and goes away before it ends... or not: the record is
    // what matters.
    auto other = NewRuntime();
    ASSERT_TRUE(other->Start(ended).ok());
    for (int i = 0; i < 2000 && !fs::exists(ended.state_dir + "/exit"); ++i) {
      std::this_thread::sleep_for(5ms);
    }
    other->SetExitCallback(nullptr);
  }
  fs::create_directories(root_ + "/never");
  std::ofstream(root_ + "/never/spec") << std::string("id\0never\0", 9);
  std::string shim_pid_text = ReadAll(running.state_dir + "/pid");
  pid_t shim_pid = static_cast<pid_t>(shim::GetInt(shim::DecodeLines(shim_pid_text), "shim_pid"));
  ASSERT_GT(shim_pid, 0);

  rt_.reset();  // must not stop the container
  Exits fresh;
  auto o = RuntimeOptions{};
  o.shim_path = SKIFF_SHIM;
  o.cgroup_parent = cgroup_parent_;
  auto rt = NewLocalRuntime(o);
  ASSERT_TRUE(rt.ok());
  rt_ = std::move(*rt);
  rt_->SetExitCallback(fresh.Callback());
  auto found = rt_->Recover(root_);
  ASSERT_TRUE(found.ok()) << found.status().message();
  std::map<std::string, ContainerState> by_id;
  for (auto& c : *found) by_id[c.id] = c;
  ASSERT_EQ(by_id.count(running.id), 1u);
  ASSERT_EQ(by_id.count(ended.id), 1u);
  ASSERT_EQ(by_id.count("never"), 1u);
  started_.push_back(ended.id);
  started_.push_back("never");

  EXPECT_FALSE(by_id[running.id].exit) << "still running";
  EXPECT_GT(by_id[running.id].pid, 0);
  ASSERT_TRUE(by_id[ended.id].exit);
  EXPECT_EQ(by_id[ended.id].exit->exit_code, 7);
  ASSERT_TRUE(by_id["never"].exit);
  EXPECT_EQ(by_id["never"].exit->message, "container supervisor died; exit status lost");

  auto exit = fresh.Wait(running.id);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(fresh.Calls(ended.id), 0) << "ended containers come back from Recover only";
  // The re-adopted shim was our child: it is reaped, not left a zombie.
  EXPECT_EQ(waitpid(shim_pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace skiff::runtime
