// Resource limits through cgroups (v2 unified or v1 memory/cpu hierarchies), chosen once per
// runtime; the fallback is an RLIMIT_AS set by the shim. Private to the runtime.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::runtime {

// The cgroup directories of one container and where to read its accounting.
struct CgroupPaths {
  std::vector<std::string> dirs;       // the shim's child joins each (cgroup.procs)
  std::vector<std::string> oom_files;  // v1 memory.oom_control / v2 memory.events
  std::string cpu_usage_file;          // v1 cpuacct.usage (ns) / v2 cpu.stat (usage_usec)
  std::string memory_usage_file;       // v1 memory.usage_in_bytes / v2 memory.current
  bool v2 = false;
};

class Cgroups {
 public:
  // Probes what this process may use below each hierarchy (mkdir and rmdir of a test group).
  // `forced` = "rlimit" never uses cgroups; an empty `parent` disables them too.
  static Cgroups Detect(const std::string& parent, const std::string& forced);

  const std::string& mode() const { return mode_; }  // "cgroup-v2", "cgroup-v1" or "rlimit"
  const std::string& detail() const { return detail_; }
  bool enabled() const { return mode_ != "rlimit"; }

  // Creates the container's groups (fresh: stale ones of the same id are removed) with limits.
  StatusOr<CgroupPaths> Create(const std::string& id, int64_t memory_bytes,
                               int64_t cpu_millicores) const;

  // Removes the groups, retrying briefly while their last processes exit.
  static Status Remove(const std::vector<std::string>& dirs);

  // Kills every process still in the groups.
  static void KillAll(const std::vector<std::string>& dirs);

  static bool ReadUsage(const CgroupPaths& paths, double* cpu_seconds, int64_t* memory_bytes);

 private:
  std::string mode_ = "rlimit";
  std::string detail_;
  std::string v2_base_;       // <unified mount>/<own cgroup>/<parent>
  std::string mem_base_;      // v1 <memory mount>/<parent>
  std::string cpu_base_;      // v1 <cpu mount>/<parent> ("" when not writable)
  std::string cpuacct_base_;  // v1 cpuacct, when a separate hierarchy
};

}  // namespace skiff::runtime
