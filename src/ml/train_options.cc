// Flag handling for `skiff-ml train` (kept apart from trainer.cc so it compiles without torch).
#include <algorithm>

#include "ml/system.h"
#include "ml/train.h"

namespace skiff::ml {

const std::vector<FlagSpec>& TrainFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"data", "",
       "dataset directory from `prepare` (required); `fashion-mnist` prepares the Debian data "
       "set in-process (honouring --limit)"},
      {"out", "", "directory for model.pt (TorchScript) and model_card.json"},
      {"checkpoint-dir", "", "checkpoint every epoch here; resume from it after a restart"},
      {"metrics-file", "", "write per-epoch metrics JSON here"},
      {"model", "cnn", "mlp (784-256-10) or cnn (2 conv + pool, fc 128)"},
      {"batch-norm", "true", "batch norm after each conv (cnn); --batch-norm=false to drop it"},
      {"epochs", "5", "total epochs (a resumed run continues up to this many)"},
      {"batch-size", "64", "per-replica mini-batch size"},
      {"lr", "0.01", "SGD learning rate"},
      {"momentum", "0.9", "SGD momentum"},
      {"lr-schedule", "cosine", "cosine (decay per epoch towards 0) or constant"},
      {"threads", "", "intra-op threads (default: CPUs available to this container)"},
      {"seed", "1", "initialisation and shuffling seed"},
      {"limit", "0", "train on the first N rows only (0: all)"},
  };
  return kFlags;
}

StatusOr<TrainOptions> TrainOptionsFromFlags(const Flags& flags) {
  TrainOptions o;
  o.data_dir = flags.Str("data");
  if (o.data_dir.empty()) return Status::BadRequest("--data is required");
  o.out_dir = flags.Str("out");
  o.checkpoint_dir = flags.Str("checkpoint-dir");
  o.metrics_file = flags.Str("metrics-file");
  o.model = flags.Str("model");
  if (o.model != "mlp" && o.model != "cnn") {
    return Status::BadRequest("--model must be mlp or cnn, got \"" + o.model + "\"");
  }
  std::string bn = flags.Str("batch-norm");
  if (bn != "true" && bn != "false") {
    return Status::BadRequest("--batch-norm takes true or false, got \"" + bn + "\"");
  }
  o.batch_norm = bn == "true";
  auto epochs = flags.Int("epochs", 1, 100000);
  if (!epochs.ok()) return epochs.status();
  o.epochs = *epochs;
  auto batch = flags.Int("batch-size", 1, 1 << 20);
  if (!batch.ok()) return batch.status();
  o.batch_size = *batch;
  // lr 0 would "train" without learning; above 10 it only diverges.
  auto lr = flags.Double("lr", 1e-9, 10);
  if (!lr.ok()) return lr.status();
  o.lr = *lr;
  auto momentum = flags.Double("momentum", 0, 0.999);
  if (!momentum.ok()) return momentum.status();
  o.momentum = *momentum;
  std::string schedule = flags.Str("lr-schedule");
  if (schedule != "cosine" && schedule != "constant") {
    return Status::BadRequest("--lr-schedule must be cosine or constant, got \"" + schedule + "\"");
  }
  o.cosine = schedule == "cosine";
  if (flags.Has("threads")) {
    auto threads = flags.Int("threads", 1, 1024);
    if (!threads.ok()) return threads.status();
    o.threads = *threads;
  } else {
    o.threads = AvailableCpus();
  }
  auto seed = flags.Int("seed", 0, 1LL << 62);
  if (!seed.ok()) return seed.status();
  o.seed = *seed;
  auto limit = flags.Int("limit", 0, 1LL << 40);
  if (!limit.ok()) return limit.status();
  o.limit = *limit;
  return o;
}

}  // namespace skiff::ml
