// Start-up chores shared by skiff-model-server and skiff-model-sidecar: KServe's flag spelling,
// and the signal mask that lets the main thread sigwait for SIGTERM/SIGINT.
#pragma once

#include <signal.h>

#include <string>

namespace skiff::serving {

// KServe's servers take --model_name, --http_port, --predictor_host: "--snake_case[=v]" becomes
// "--snake-case[=v]"; anything else is returned as it is.
std::string KebabFlag(std::string arg);

// Blocks SIGTERM and SIGINT in this thread (and every thread created after) and ignores SIGPIPE;
// returns the set to sigwait on.
sigset_t BlockTerminationSignals();

}  // namespace skiff::serving
