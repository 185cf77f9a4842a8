// Flag definitions of the thin clients, kept to kubectl's names so muscle memory carries over.
#include "cli/client_commands.h"

#include <CLI/CLI.hpp>
#include <iostream>

namespace skiff::cli {
namespace {

// kubectl's global flags, on each client subcommand (`up` has no use for them).
void AddConnectionFlags(CLI::App* cmd, ConnectionFlags* flags) {
  cmd->add_option("--kubeconfig", flags->kubeconfig,
                  "Path to the kubeconfig file (default $KUBECONFIG, ~/.kube/config, then "
                  "$SKIFF_HOME/kubeconfig)");
  cmd->add_option("--context", flags->context, "The kubeconfig context to use");
  cmd->add_option("-n,--namespace", flags->namespace_, "The namespace (default: the context's)");
}

}  // namespace

ClientCommands::ClientCommands(CLI::App* app) {
  apply_cmd_ = app->add_subcommand("apply", "Apply a configuration to resources by file or stdin");
  AddConnectionFlags(apply_cmd_, &flags_);
  apply_cmd_->add_option("-f,--filename", apply_.files, "Files, directories, or - for stdin")
      ->required();
  apply_cmd_->add_flag("--server-side", apply_.server_side,
                       "Apply on the server (field ownership in managedFields)");
  apply_cmd_->add_flag("--force-conflicts", apply_.force_conflicts,
                       "Server-side apply: take over fields other managers own");
  apply_cmd_->add_option("--field-manager", apply_.field_manager, "The manager name to record");
  apply_cmd_->add_option("--dry-run", server_side_dry_run_, "none or server")
      ->check(CLI::IsMember({"none", "server"}));

  get_cmd_ = app->add_subcommand("get", "Display one or many resources");
  AddConnectionFlags(get_cmd_, &flags_);
  get_cmd_->add_option("args", get_.args, "TYPE[,TYPE...] [NAME...] or TYPE/NAME...")->required();
  get_cmd_->add_flag("-A,--all-namespaces", get_.all_namespaces, "List across all namespaces");
  get_cmd_->add_option("-l,--selector", get_.label_selector, "Label selector");
  get_cmd_->add_option("--field-selector", get_.field_selector, "Field selector");
  get_cmd_->add_option("-o,--output", get_.output, "yaml, json, name or wide");
  get_cmd_->add_flag("--no-headers", get_.no_headers, "Leave out the header row");

  describe_cmd_ = app->add_subcommand("describe", "Show details of a resource and its events");
  AddConnectionFlags(describe_cmd_, &flags_);
  describe_cmd_->add_option("args", describe_.args, "TYPE [NAME...] or TYPE/NAME")->required();
  describe_cmd_->add_flag("-A,--all-namespaces", describe_.all_namespaces,
                          "Describe across all namespaces");
  describe_cmd_->add_option("-l,--selector", describe_.label_selector, "Label selector");

  delete_cmd_ = app->add_subcommand("delete", "Delete resources by file, name or selector");
  AddConnectionFlags(delete_cmd_, &flags_);
  delete_cmd_->add_option("args", delete_.args, "TYPE NAME... or TYPE/NAME...");
  delete_cmd_->add_option("-f,--filename", delete_.files, "Files, directories, or - for stdin");
  delete_cmd_->add_option("-l,--selector", delete_.label_selector, "Label selector");
  delete_cmd_->add_flag("--all", delete_.all, "Delete every object of the type in the namespace");
  delete_cmd_->add_flag("--ignore-not-found", delete_.ignore_not_found,
                        "Treat a missing object as deleted");
  delete_cmd_->add_flag("--wait,!--no-wait", delete_.wait,
                        "Wait until the objects are gone (default true; --wait=false to return)");
  delete_cmd_->add_option("--timeout", delete_.timeout_seconds,
                          "Seconds to wait for deletion (0: no limit)");

  logs_cmd_ = app->add_subcommand("logs", "Print the logs of a container in a Pod");
  AddConnectionFlags(logs_cmd_, &flags_);
  logs_cmd_->add_option("pod", logs_.pod, "POD or pod/NAME")->required();
  logs_cmd_->add_option("-c,--container", logs_.container, "Container name");
  logs_cmd_->add_flag("-f,--follow", logs_.follow, "Stream the logs");
  logs_cmd_->add_option("--tail", logs_.tail, "Lines of recent log to show (-1: all)");
  logs_cmd_->add_flag("-p,--previous", logs_.previous, "The previous terminated container's logs");
  logs_cmd_->add_flag("--timestamps", logs_.timestamps, "Prefix each line with its timestamp");

  lineage_cmd_ =
      app->add_subcommand("lineage", "Show how an artifact was made (run, task, inputs)");
  AddConnectionFlags(lineage_cmd_, &flags_);
  lineage_cmd_->add_option("uri", lineage_.uri, "The artifact's URI")->required();
  lineage_cmd_->add_option("-o,--output", lineage_.output, "json or yaml (default: a tree)")
      ->check(CLI::IsMember({"json", "yaml"}));
}

std::optional<int> ClientCommands::Run(const std::string& data_dir) {
  flags_.data_dir = data_dir;
  Streams io{std::cin, std::cout, std::cerr};
  if (*apply_cmd_) {
    apply_.dry_run = server_side_dry_run_ == "server";
    return RunApply(flags_, apply_, io);
  }
  if (*get_cmd_) return RunGet(flags_, get_, io);
  if (*describe_cmd_) return RunDescribe(flags_, describe_, io);
  if (*delete_cmd_) return RunDelete(flags_, delete_, io);
  if (*logs_cmd_) return RunLogs(flags_, logs_, io);
  if (*lineage_cmd_) return RunLineage(flags_, lineage_, io);
  return std::nullopt;
}

}  // namespace skiff::cli
