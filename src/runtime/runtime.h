// The container runtime: runs one container (a process group) in a sandbox with resource limits,
// captures its output into a CRI-format log file, and reports how it ended. It knows nothing of
// Pods or the API; the node agent (src/node) turns Pod specs into ContainerSpecs.
//
// Every container is supervised by a small separate executable, `skiff-shim` (containerd's shim /
// conmon in spirit): the shim forks the container, pumps its stdout/stderr into the log, waits for
// it and writes the exit record into the container's state directory. The shim outlives skiff, so
// a `kill -9` of skiff loses nothing: on restart Recover() re-adopts running containers and
// reports those that ended meanwhile with their real exit codes.
//
// Thread-safety: all methods may be called from any thread. The exit callback runs on the
// runtime's monitor thread, one call at a time; it must not block for long.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

struct Mount {
  std::string host_path;       // an existing file or directory on the host
  std::string container_path;  // where it appears in the sandbox (same path in plain mode: ignored)
  bool read_only = false;
};

struct ContainerSpec {
  // Unique among live containers, stable across restarts of skiff: "<pod-uid>.<container>.<n>"
  // where n is the restart count. Only [A-Za-z0-9._-].
  std::string id;
  // Owned by the runtime for this container: spec, pid and exit records, the shim's own log. The
  // runtime creates it; Remove() deletes it.
  std::string state_dir;
  // What to exec: argv[0] is an absolute path or a name looked up in `env`'s PATH.
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value", the whole environment
  std::string working_dir;       // "" = "/" in the sandbox, the state dir's parent in plain mode
  // Sandbox only: bind mounts (applied in order), a file bound over /etc/hosts, the UTS host
  // name, and host paths hidden behind an empty tmpfs (e.g. $SKIFF_HOME) before `mounts` apply.
  std::vector<Mount> mounts;
  std::string hosts_file;
  std::string hostname;
  std::vector<std::string> hidden_paths;
  bool sandbox = true;  // false: plain fork/exec even where bubblewrap is available
  // Limits; 0 = none. Only a container with a limit gets cgroups (joining one costs an RCU grace
  // period, ~10 ms); GetUsage of one without reads /proc of its process group.
  int64_t memory_limit_bytes = 0;
  int64_t cpu_limit_millicores = 0;
  // The CRI-format log this run appends to (its directory is created if missing) ("<RFC3339Nano>
  // stdout|stderr F|P <text>"), rotated to
  // "<log_path>.1" .. "<log_path>.<max_files-1>" when it exceeds `log_max_bytes`.
  std::string log_path;
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int log_max_files = 3;
};

// How the runtime isolates and limits containers on this machine (said in every Pod's status).
struct Capabilities {
  bool bubblewrap = false;  // bwrap found and working
  std::string sandbox;      // "bubblewrap" or "none"
  std::string limits;       // "cgroup-v2", "cgroup-v1" or "rlimit"
  std::string detail;       // one line: why a weaker mode was chosen, or ""
};

struct ExitInfo {
  int exit_code = 0;  // the process's exit status; 128+signal when killed by a signal
  int signal = 0;     // the terminating signal, 0 if it exited
  bool oom_killed = false;
  std::chrono::system_clock::time_point started_at;
  std::chrono::system_clock::time_point finished_at;
  // Why it ended when it never really ran (exec failed: "exec: \"foo\": executable file not found
  // in $PATH"), or when its supervisor vanished ("container supervisor died; exit status lost").
  std::string message;
};

struct ContainerState {
  std::string id;
  std::string state_dir;
  pid_t pid = 0;  // the container's process (group leader); 0 once ended
  std::chrono::system_clock::time_point started_at;
  std::optional<ExitInfo> exit;  // set once it ended
};

using ExitCallback = std::function<void(const std::string& id, const ExitInfo& info)>;

class Runtime {
 public:
  virtual ~Runtime() = default;

  virtual const Capabilities& capabilities() const = 0;

  // Called once for every container that ends (including containers re-adopted by Recover).
  virtual void SetExitCallback(ExitCallback callback) = 0;

  // Starts the container and returns once its process exists (or failed to exec: then the
  // container is reported through the exit callback with exit code 128 and `message`, as a
  // runtime's "StartError"). An id already in use is an error.
  virtual StatusOr<ContainerState> Start(const ContainerSpec& spec) = 0;

  // Sends `sig` to the container's process group. No-op for an ended container.
  virtual Status Signal(const std::string& id, int sig) = 0;

  // SIGTERM, then SIGKILL after `grace`; returns at once (the exit callback reports the end).
  virtual Status Stop(const std::string& id, std::chrono::milliseconds grace) = 0;

  // The state of one container: running or ended (exit set). NotFound for unknown ids.
  virtual StatusOr<ContainerState> Inspect(const std::string& id) const = 0;

  // Scans `root` (the parent of every state_dir, e.g. $SKIFF_HOME/containers) for containers of
  // an earlier skiff process: running ones are monitored again (their end is reported through the
  // exit callback), ended ones are returned with `exit` set. Call once, before Start.
  virtual StatusOr<std::vector<ContainerState>> Recover(const std::string& root) = 0;

  // Forgets an ended container: deletes its state dir and cgroup (not its log). Stops it with
  // SIGKILL first if it still runs.
  virtual Status Remove(const std::string& id) = 0;

  // CPU seconds and resident bytes used so far (cgroup accounting where available, else /proc of
  // the process group leader). For metrics and the autoscaler.
  struct Usage {
    double cpu_seconds = 0;
    int64_t memory_bytes = 0;
  };
  virtual StatusOr<Usage> GetUsage(const std::string& id) const = 0;
};

struct RuntimeOptions {
  // The skiff-shim executable; "" = next to /proc/self/exe.
  std::string shim_path;
  // Where cgroups for containers go, below each hierarchy's root we may write to (e.g.
  // /sys/fs/cgroup/memory/<cgroup_parent>/<id>). "" disables cgroups.
  std::string cgroup_parent = "skiff";
  // Force a mode (tests): "" = detect, "none" = never use bubblewrap.
  std::string sandbox;
  // Force the limits mode (tests): "" = detect, "rlimit" = never use cgroups.
  std::string limits;
};

// The runtime for this machine: probes bubblewrap (runs `bwrap ... true` once) and cgroups
// (creates and removes a test group) and says what it found in capabilities().
StatusOr<std::unique_ptr<Runtime>> NewLocalRuntime(RuntimeOptions options = {});

}  // namespace skiff::runtime
