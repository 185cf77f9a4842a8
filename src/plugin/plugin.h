// kubectl-kubeflow, the kubectl plugin: `kubectl kubeflow model register|promote|list|get|archive`,
// `kubectl kubeflow runs|pipelines|logs`. It reads the kubeconfig as kubectl does and talks to the
// Kubernetes API over HTTPS (the registry kinds through registry::Registry over that client).
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"

namespace skiff::plugin {

// `args` are the words after `kubectl kubeflow`. Returns the exit code: 0, 1 on failure (message
// on io.err), 2 on a usage error.
int RunPlugin(const std::vector<std::string>& args, cli::Streams io);

}  // namespace skiff::plugin
