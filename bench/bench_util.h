// Shared by the benchmarks: a real `skiff up` process on its own data dir (exec, ready line,
// admin token, HTTPS clients, SIGTERM), and small statistics and /proc helpers.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"

namespace skiff::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using skiff::http::ClientRequest;

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Quantile q of unsorted samples (rearranges them).
inline double Quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

inline std::string MakeTempDir(const char* tag) {
  std::string tmpl = (fs::temp_directory_path() / (std::string(tag) + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

// VmRSS and VmHWM of a process, in MiB.
struct Rss {
  double rss = 0, hwm = 0;
};
inline Rss ReadRss(pid_t pid) {
  Rss r;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.rss = std::atof(line.c_str() + 6) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) r.hwm = std::atof(line.c_str() + 6) / 1024;
  }
  return r;
}

// One `skiff up` process on its own data dir, serving HTTPS on a free port.
class Skiff {
 public:
  Skiff(std::string binary, std::string data_dir, std::vector<std::string> extra_args = {})
      : binary_(std::move(binary)), dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {}
  ~Skiff() { Stop(); }

  // Execs the binary and waits for its ready line. Returns false (with the log shown) on failure.
  bool Start() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    const std::string log = dir_ + "/skiff.log";
    std::vector<std::string> args = {binary_, "--data-dir", dir_, "up", "--port", "0"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    started_ = Clock::now();
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {                     // child: only async-signal-safe calls until exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed bench
      dup2(fds[1], 1);
      int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) dup2(err, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_fd_ = fds[0];
    // Read stdout up to the ready line.
    std::string out;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    auto has_ready_line = [&out] {
      size_t at = out.find("skiff is ready at ");
      return at != std::string::npos && out.find('\n', at) != std::string::npos;
    };
    while (!has_ready_line()) {
      pollfd p{out_fd_, POLLIN, 0};
      int left = static_cast<int>(Ms(deadline - Clock::now()));
      if (left <= 0 || poll(&p, 1, left) <= 0) return Fail("no ready line within 60 s");
      char buf[4096];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) return Fail("exited before its ready line");
      out.append(buf, n);
    }
    ready_line_ms_ = Ms(Clock::now() - started_);
    // "skiff is ready at https://127.0.0.1:PORT (N ms)"
    size_t at = out.find("skiff is ready at ");
    std::string line = out.substr(at, out.find('\n', at) - at);
    size_t colon = line.rfind(':');
    size_t paren = line.find(" (", colon);
    if (colon == std::string::npos || paren == std::string::npos) return Fail("bad ready line");
    port_ = static_cast<uint16_t>(std::atoi(line.c_str() + colon + 1));
    reported_ms_ = std::atof(line.c_str() + paren + 2);
    // Keep draining stdout so the server never blocks on a full pipe.
    drain_ = std::thread([fd = out_fd_] {
      char buf[4096];
      while (read(fd, buf, sizeof buf) > 0) {
      }
      close(fd);
    });
    token_ = Trim(ReadFile(dir_ + "/admin.token"));
    ca_file_ = dir_ + "/pki/ca.crt";
    if (port_ == 0 || token_.empty()) return Fail("no port or no admin token");
    return true;
  }

  // Polls GET /readyz until it answers 200; returns ms since exec, or -1.
  double WaitReadyz() {
    auto c = NewClient();
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      auto r = c->Do(Get("/readyz"));
      if (r.ok() && r->status == 200) return Ms(Clock::now() - started_);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return -1;
  }

  // SIGTERM, then SIGKILL after 10 s. Returns the exit status (or -1).
  int Stop() {
    int status = -1;
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          std::fprintf(stderr, "skiff did not stop on SIGTERM; killing it\n");
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      pid_ = -1;
    }
    if (drain_.joinable()) drain_.join();
    return status;
  }

  std::unique_ptr<skiff::http::Client> NewClient() const {
    skiff::http::ClientOptions o;
    o.port = port_;
    o.use_tls = true;
    o.ca_file = ca_file_;
    o.timeout = std::chrono::seconds(30);
    return skiff::http::NewClient(o);
  }

  ClientRequest Get(const std::string& target) const { return Req("GET", target, ""); }
  ClientRequest Req(const std::string& method, const std::string& target, std::string body) const {
    ClientRequest r;
    r.method = method;
    r.target = target;
    r.headers["Authorization"] = "Bearer " + token_;
    r.headers["Accept"] = "application/json";
    if (!body.empty()) r.headers["Content-Type"] = "application/json";
    r.body = std::move(body);
    return r;
  }

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& token() const { return token_; }
  double ready_line_ms() const { return ready_line_ms_; }
  double reported_ms() const { return reported_ms_; }

 private:
  bool Fail(const std::string& why) {
    std::fprintf(stderr, "skiff up (%s): %s\n", binary_.c_str(), why.c_str());
    std::string log = ReadFile(dir_ + "/skiff.log");
    if (log.size() > 4000) log = log.substr(log.size() - 4000);
    std::fprintf(stderr, "--- %s/skiff.log (tail) ---\n%s\n", dir_.c_str(), log.c_str());
    Stop();
    return false;
  }

  std::string binary_, dir_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::thread drain_;
  Clock::time_point started_;
  uint16_t port_ = 0;
  std::string token_, ca_file_;
  double ready_line_ms_ = 0, reported_ms_ = 0;
};

}  // namespace skiff::bench
