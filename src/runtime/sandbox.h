// The bubblewrap sandbox: probing for it and building the `bwrap` command line for a container,
// plus the PATH lookup of a container's executable in the view it will have. Private to the
// runtime.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/runtime.h"

namespace skiff::runtime {

// Finds bwrap on PATH and runs `bwrap --ro-bind / / --dev /dev --proc /proc --unshare-pid true`.
// Returns the bwrap path, or an error saying why the sandbox is unavailable.
StatusOr<std::string> ProbeBubblewrap();

// The bwrap arguments (without the trailing "--" and argv) for `spec`; an error for a mount that
// cannot be placed (its mount point would have to be created inside a read-only bind).
StatusOr<std::vector<std::string>> BwrapArgs(const std::string& bwrap, const ContainerSpec& spec);

// Where `argv0` resolves, as execvp would with `path_env` (the container's PATH): the executable
// in the container's view, or an errno (ENOENT, EACCES). `sandboxed` maps container paths to host
// paths through the mounts BwrapArgs makes; otherwise paths are host paths.
struct Lookup {
  std::string path;
  int error = 0;
};
Lookup LookupExecutable(const std::string& argv0, const std::string& path_env,
                        const std::string& working_dir, const ContainerSpec& spec, bool sandboxed);

}  // namespace skiff::runtime
