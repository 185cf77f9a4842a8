// Running child processes for end-to-end tests: kubectl, python, sqlite3 and skiff itself. Output
// goes to files (no pipes to drain, so no deadlocks), and every wait has a deadline after which the
// child's whole process group is killed. Nothing here is thread-safe; one test drives its children.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace skiff::e2e {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// What a finished (or killed) child left behind.
struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal when killed by one
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Quotes argv for messages so a failing step can be pasted into a shell.
inline std::string ShellQuote(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    if (!a.empty() && a.find_first_of(" \t\n'\"$\\*?[]{}()<>|&;#~") == std::string::npos) {
      s += a;
      continue;
    }
    s += '\'';
    for (char c : a) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
    s += '\'';
  }
  return s;
}

// A child process in its own process group, with stdin read from a file and stdout/stderr written
// to files in `io_dir`. The destructor kills it if it is still running.
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& o) noexcept { *this = std::move(o); }
  Process& operator=(Process&& o) noexcept {
    std::swap(pid_, o.pid_);
    std::swap(out_path_, o.out_path_);
    std::swap(err_path_, o.err_path_);
    std::swap(status_, o.status_);
    return *this;
  }
  ~Process() {
    if (running()) Kill(SIGKILL);
  }

  // Starts argv[0] (looked up on PATH). `env` entries ("K=V") are added to this process's env.
  static Process Start(const std::vector<std::string>& argv, const std::filesystem::path& io_dir,
                       const std::string& stdin_text = "",
                       const std::vector<std::string>& env = {}) {
    static int counter = 0;
    const std::string stem = std::to_string(getpid()) + "-" + std::to_string(++counter);
    Process p;
    p.out_path_ = io_dir / (stem + ".out");
    p.err_path_ = io_dir / (stem + ".err");
    const auto in_path = io_dir / (stem + ".in");
    WriteFile(in_path, stdin_text);
    // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    std::vector<char*> cenv;
    for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
    for (char** e = environ; *e; ++e) {
      const std::string_view entry(*e);
      bool overridden = false;
      for (const auto& o : env) {
        overridden = overridden || o.substr(0, o.find('=') + 1) == entry.substr(0, o.find('=') + 1);
      }
      if (!overridden) cenv.push_back(*e);
    }
    cenv.push_back(nullptr);
    const std::string in_s = in_path, out_s = p.out_path_, err_s = p.err_path_;
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      int in = open(in_s.c_str(), O_RDONLY);
      int out = open(out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || err < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      execvpe(cargv[0], cargv.data(), cenv.data());
      _exit(127);
    }
    setpgid(pid, pid);  // also from the parent, so a Kill right after Start reaches the group
    p.pid_ = pid;
    return p;
  }

  pid_t pid() const { return pid_; }
  bool running() {
    Poll();
    return pid_ > 0 && status_ < 0;
  }
  std::string out() const { return ReadFile(out_path_); }
  std::string err() const { return ReadFile(err_path_); }

  // Sends `sig` to the whole process group (kubectl's dispatcher runs a second binary).
  void Kill(int sig) {
    if (pid_ > 0 && status_ < 0) kill(-pid_, sig);
    if (sig == SIGKILL) Wait(milliseconds(5000));
  }

  // Waits until the child exits or `timeout` passes; true when it exited.
  bool Wait(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (running()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }

  // Waits up to `timeout`; then SIGTERM, then SIGKILL after `grace`. Collects the output.
  ProcessResult Finish(milliseconds timeout, milliseconds grace = milliseconds(2000)) {
    ProcessResult r;
    if (!Wait(timeout)) {
      r.timed_out = true;
      Kill(SIGTERM);
      if (!Wait(grace)) Kill(SIGKILL);
    }
    r.exit_code = exit_code();
    r.out = out();
    r.err = err();
    return r;
  }

  int exit_code() const {
    if (status_ < 0) return -1;
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
    return -1;
  }

 private:
  void Poll() {
    if (pid_ <= 0 || status_ >= 0) return;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
  }

  pid_t pid_ = -1;
  int status_ = -1;  // waitpid status once reaped
  std::filesystem::path out_path_, err_path_;
};

// Runs argv to completion (killed after `timeout`).
inline ProcessResult RunProcess(const std::vector<std::string>& argv,
                                const std::filesystem::path& io_dir, milliseconds timeout,
                                const std::string& stdin_text = "",
                                const std::vector<std::string>& env = {}) {
  return Process::Start(argv, io_dir, stdin_text, env).Finish(timeout);
}

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "skiff-e2e-") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (std::getenv("SKIFF_E2E_KEEP")) return;  // keep data dirs for a post-mortem
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace skiff::e2e
