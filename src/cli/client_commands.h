// Registers the thin-client subcommands (apply, get, describe, delete, logs) on the skiff CLI and
// runs whichever one was parsed.
#pragma once

#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/lineage_command.h"

namespace CLI {
class App;
}  // namespace CLI

namespace skiff::cli {

// Holds the parsed options, so it must outlive parsing. Not thread-safe.
class ClientCommands {
 public:
  explicit ClientCommands(CLI::App* app);

  // Runs the parsed client subcommand with std::cin/cout/cerr; nullopt when none was chosen.
  // `data_dir` is the global --data-dir (where `skiff up` wrote its kubeconfig), "" for the
  // default.
  std::optional<int> Run(const std::string& data_dir);

 private:
  ConnectionFlags flags_;
  ApplyOptions apply_;
  GetOptions get_;
  DescribeOptions describe_;
  DeleteOptions delete_;
  LogsOptions logs_;
  LineageOptions lineage_;
  CLI::App* apply_cmd_ = nullptr;
  CLI::App* get_cmd_ = nullptr;
  CLI::App* describe_cmd_ = nullptr;
  CLI::App* delete_cmd_ = nullptr;
  CLI::App* logs_cmd_ = nullptr;
  CLI::App* lineage_cmd_ = nullptr;
  std::string server_side_dry_run_;
};

}  // namespace skiff::cli
