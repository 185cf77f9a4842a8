// `skiff-ml train`: an MLP or CNN classifier trained with SGD momentum, data-parallel across
// replicas, checkpointed every epoch, exported as TorchScript plus a model card. The interface is
// torch-free; the implementation lives in trainer.cc.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "ml/dist_env.h"
#include "ml/flags.h"

namespace skiff::ml {

struct TrainOptions {
  std::string data_dir;        // dataset artifact from `prepare`
  std::string out_dir;         // model.pt and model_card.json (rank 0 writes)
  std::string checkpoint_dir;  // checkpoint.pt each epoch; resumed from when present
  std::string metrics_file;    // per-epoch metrics JSON (every rank writes its own)
  std::string model = "cnn";   // "mlp" or "cnn"
  bool batch_norm = true;      // CNN only
  int epochs = 5;
  int batch_size = 64;
  double lr = 0.01;
  double momentum = 0.9;
  bool cosine = true;  // lr follows a half cosine from --lr down over the epochs
  int threads = 1;
  uint64_t seed = 1;
  int64_t limit = 0;  // use only the first N training rows (0: all)
};

const std::vector<FlagSpec>& TrainFlags();
// Validates flags into options; every bad value is a one-line BadRequest.
StatusOr<TrainOptions> TrainOptionsFromFlags(const Flags& flags);
Status Train(const TrainOptions& options, const DistConfig& dist);

}  // namespace skiff::ml
