// `skiff-ml prepare` and `skiff-ml gen-ctr`: turn Fashion-MNIST, a CSV file or generated
// click-through data into a dataset artifact (dataset.h).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "ml/flags.h"

namespace skiff::ml {

// Where Fashion-MNIST lives: `flag_value` if set, else $SKIFF_ML_FASHION_MNIST, else the Debian
// package's /usr/share/datasets/fashion-mnist. NotFound names the package to install.
StatusOr<std::string> FindFashionMnist(const std::string& flag_value);

// The IDX file `name` (e.g. "train-images-idx3-ubyte") in `dir`, gzipped or not.
StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name);

// Writes `rows` rows of synthetic ad-click data as CSV (label column "clicked"). The same seed
// gives the same bytes.
Status GenerateCtrCsv(const std::string& path, int64_t rows, uint64_t seed);

const std::vector<FlagSpec>& PrepareFlags();
Status RunPrepare(const Flags& flags);
const std::vector<FlagSpec>& GenCtrFlags();
Status RunGenCtr(const Flags& flags);

}  // namespace skiff::ml
