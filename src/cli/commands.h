// The kubectl-like thin clients (`apply`, `get`, `describe`, `delete`, `logs`). Each command is a
// function of its options and three streams, so tests run it in-process against a real API server
// and the binary only parses flags and forwards std::cin/std::cout/std::cerr.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace skiff::cli {

// kubectl's global flags: which cluster, as whom, in which namespace.
struct ConnectionFlags {
  std::string kubeconfig;  // --kubeconfig; empty: $KUBECONFIG, ~/.kube/config, then skiff's own
  std::string context;     // --context; empty: current-context
  std::string namespace_;  // -n; empty: the context's namespace
  std::string data_dir;    // where `skiff up` wrote its kubeconfig (the last fallback)
};

// Where a command reads (`apply -f -`) and writes. Not owned.
struct Streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

struct ApplyOptions {
  std::vector<std::string> files;  // files, directories, or "-" for stdin
  bool server_side = false;
  bool force_conflicts = false;  // server-side apply: take ownership of conflicting fields
  std::string field_manager;     // empty: skiff-client-side-apply or skiff (server-side)
  bool dry_run = false;          // --dry-run=server
};

struct GetOptions {
  std::vector<std::string> args;  // KIND[,KIND][/NAME] [NAME...] or KIND/NAME...
  bool all_namespaces = false;
  std::string label_selector;
  std::string field_selector;
  std::string output;  // "" (table), wide, yaml, json, name
  bool no_headers = false;
};

struct DescribeOptions {
  std::vector<std::string> args;  // KIND [NAME...] or KIND/NAME
  bool all_namespaces = false;
  std::string label_selector;
};

struct DeleteOptions {
  std::vector<std::string> files;
  std::vector<std::string> args;  // KIND NAME... or KIND/NAME...
  std::string label_selector;
  bool all = false;
  bool ignore_not_found = false;
  bool wait = true;             // like kubectl: return once the objects are gone
  int64_t timeout_seconds = 0;  // 0: wait as long as it takes
};

struct LogsOptions {
  std::string pod;  // NAME or pod/NAME
  std::string container;
  bool follow = false;
  int64_t tail = -1;  // -1: all lines
  bool previous = false;
  bool timestamps = false;
};

// Each returns the process exit code: 0 on success, 1 when anything failed (after printing the
// server's message to `io.err` the way kubectl does).
int RunApply(const ConnectionFlags& flags, const ApplyOptions& options, Streams io);
int RunGet(const ConnectionFlags& flags, const GetOptions& options, Streams io);
int RunDescribe(const ConnectionFlags& flags, const DescribeOptions& options, Streams io);
int RunDelete(const ConnectionFlags& flags, const DeleteOptions& options, Streams io);
int RunLogs(const ConnectionFlags& flags, const LogsOptions& options, Streams io);

}  // namespace skiff::cli
