// skiff-ml: the built-in ML workloads (image `skiff/ml`). One binary, one subcommand per step of a
// training pipeline; see src/ml/README.md.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "ml/dist_env.h"
#include "ml/evaluate.h"
#include "ml/flags.h"
#include "ml/prepare.h"
#include "ml/system.h"
#include "ml/train.h"
#include "ml/xgb.h"

namespace skiff::ml {
namespace {

// Exit codes follow the training operators' ExitCode restart policy: 1 is permanent (bad input,
// never retried), 128+ is retryable (a peer or the rendezvous failed).
constexpr int kPermanentFailure = 1;
constexpr int kRetryableFailure = 128;

struct Command {
  const char* name;
  const char* summary;
  const std::vector<FlagSpec>& (*flags)();
  std::function<Status(const Flags&)> run;
};

// `train --data fashion-mnist` (no such directory) prepares the Debian data set into a private
// temporary directory first, so a replica needs no volume: what a manifest written for another
// framework's image gets when that image is mapped to skiff-ml.
Status TrainOnBuiltinOrDir(TrainOptions o, const DistConfig& dist) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (o.data_dir != "fashion-mnist" || fs::exists(o.data_dir, ec)) return Train(o, dist);
  const char* tmp = std::getenv("TMPDIR");
  fs::path dir = fs::path(tmp && *tmp ? tmp : "/tmp") /
                 ("skiff-ml-fashion-mnist-" + std::to_string(::getpid()));
  std::vector<std::string> args = {"--out", dir.string(), "--limit", std::to_string(o.limit)};
  auto flags = Flags::Parse(args, PrepareFlags());
  if (!flags.ok()) return flags.status();
  Status st = RunPrepare(*flags);
  if (st.ok()) {
    o.data_dir = dir.string();
    st = Train(o, dist);
  }
  fs::remove_all(dir, ec);
  return st;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"prepare",
       "read Fashion-MNIST, CSV or generated CTR data; split, normalise, write a dataset",
       PrepareFlags, RunPrepare},
      {"gen-ctr", "write a deterministic synthetic click-through CSV", GenCtrFlags, RunGenCtr},
      {"train", "train an MLP or CNN (libtorch), data-parallel across replicas; TorchScript out",
       TrainFlags,
       [](const Flags& f) -> Status {
         auto o = TrainOptionsFromFlags(f);
         if (!o.ok()) return o.status();
         auto dist = DistConfigFromEnv();
         if (!dist.ok()) return dist.status();
         return TrainOnBuiltinOrDir(*o, *dist);
       }},
      {"evaluate", "score a TorchScript model: accuracy, precision/recall, confusion matrix",
       EvaluateFlags,
       [](const Flags& f) -> Status {
         auto o = EvaluateOptionsFromFlags(f);
         if (!o.ok()) return o.status();
         return Evaluate(*o);
       }},
      {"xgb-train", "train gradient-boosted trees (xgboost) on a tabular dataset", XgbTrainFlags,
       [](const Flags& f) -> Status {
         auto dist = DistConfigFromEnv();
         if (!dist.ok()) return dist.status();
         return RunXgbTrain(f, *dist);
       }},
      {"xgb-evaluate", "score an xgboost model: accuracy, AUC, confusion matrix", XgbEvaluateFlags,
       RunXgbEvaluate},
  };
  return kCommands;
}

void PrintHelp(const Command* only) {
  if (only == nullptr) {
    std::cout << "usage: skiff-ml <command> [--flag value ...]\n\ncommands:\n";
    for (const auto& c : Commands()) {
      std::string name = c.name;
      std::cout << "  " << name << std::string(14 - name.size(), ' ') << c.summary << "\n";
    }
    std::cout << "  help          this text; `skiff-ml help <command>` or `<command> --help`\n"
              << "\nDistributed training reads MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK "
                 "(PyTorchJob) or TF_CONFIG (TFJob).\n"
              << "Exit code 1: bad input (do not retry); 128: a peer or the rendezvous failed.\n";
  }
  for (const auto& c : Commands()) {
    if (only != nullptr && only != &c) continue;
    std::cout << "\nskiff-ml " << c.name << ": " << c.summary << "\n" << FlagHelp(c.flags());
  }
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    const Command* only = nullptr;
    if (args.size() > 1) {
      for (const auto& c : Commands()) {
        if (args[1] == c.name) only = &c;
      }
    }
    PrintHelp(only);
    return args.empty() ? kPermanentFailure : 0;
  }
  const Command* cmd = nullptr;
  for (const auto& c : Commands()) {
    if (args[0] == c.name) cmd = &c;
  }
  if (cmd == nullptr) {
    std::cerr << "skiff-ml: unknown command \"" << args[0] << "\" (see skiff-ml help)\n";
    return kPermanentFailure;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      PrintHelp(cmd);
      return 0;
    }
  }
  Status st;
  try {
    auto flags = Flags::Parse(rest, cmd->flags());
    st = flags.ok() ? cmd->run(*flags) : flags.status();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    st = Status::Internal(msg.substr(0, msg.find('\n')));
  }
  if (st.ok()) return 0;
  // One line, so the pod's termination message and the job condition carry the whole reason.
  std::string msg = st.message();
  for (auto& c : msg) {
    if (c == '\n') c = ' ';
  }
  std::cerr << "skiff-ml " << cmd->name << ": " << msg << std::endl;
  return st.code() == Code::kUnavailable ? kRetryableFailure : kPermanentFailure;
}

}  // namespace
}  // namespace skiff::ml

int main(int argc, char** argv) {
  skiff::ml::TuneAllocator();
  return skiff::ml::Main(argc, argv);
}
