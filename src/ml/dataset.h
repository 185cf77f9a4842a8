// The dataset artifact `prepare` writes and every other subcommand reads: a directory holding
// `metadata.json` and one `<split>.bin` per split (train, validation, test).
//
// A split file is a 24-byte header ("SKMLDS01", u64 count, u32 features, u32 dtype) then the
// feature matrix (row-major, uint8 or float32) then `count` int32 labels, little-endian. Features
// are stored raw; the normalisation computed on the train split is in metadata.json and applied
// by LoadSplit, so image data stays one byte a pixel and the exported model can normalise itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::ml {

enum class DType : uint32_t { kUint8 = 1, kFloat32 = 2 };

// One split in memory: raw features as floats, row-major, count x features.
struct Split {
  int64_t count = 0;
  int64_t features = 0;
  std::vector<float> x;
  std::vector<int32_t> y;
};

// Per-feature (tabular) or single (image) standardisation: x' = (x - mean) / std.
struct Normalisation {
  std::vector<float> mean, std;  // size 1 (applies to all features) or `features`
  Json ToJson() const;
  static StatusOr<Normalisation> FromJson(const Json& j);
  // Computes mean and standard deviation over the split; `per_feature` false pools all values.
  static Normalisation Fit(const Split& split, bool per_feature);
  void Apply(Split& split) const;
};

struct DatasetMeta {
  std::string kind;            // "image" or "tabular"
  std::vector<int64_t> shape;  // one sample: {1, 28, 28} or {features}
  std::vector<std::string> labels;
  std::vector<std::string> feature_names;  // tabular only
  Normalisation normalisation;
  Json splits = Json::object();  // name -> {count, file, classCounts}
  std::string source;
  DType dtype = DType::kFloat32;

  int64_t Features() const;
  Json ToJson() const;
  static StatusOr<DatasetMeta> FromJson(const Json& j);
};

Status WriteSplit(const std::string& path, const Split& split, DType dtype);
// Reads a split file as written by WriteSplit; checks sizes against the header.
StatusOr<Split> ReadSplitFile(const std::string& path);

// Writes metadata.json and the split files into `dir` (created if needed). Fills meta.splits.
Status WriteDataset(const std::string& dir, DatasetMeta& meta,
                    const std::vector<std::pair<std::string, const Split*>>& splits);
StatusOr<DatasetMeta> ReadMeta(const std::string& dir);
// Loads one split; `normalise` applies the metadata's normalisation. A missing split is NotFound.
StatusOr<Split> LoadSplit(const std::string& dir, const DatasetMeta& meta, const std::string& name,
                          bool normalise);

// Takes rows [begin, end) of a split.
Split Slice(const Split& split, int64_t begin, int64_t end);
// Rows whose index i satisfies i % world == rank, with the count rounded down to a multiple of
// world so every rank runs the same number of steps.
Split Shard(const Split& split, int rank, int world);
// A permutation of [0, n) from a fixed generator, so every machine and every restart agrees.
std::vector<int64_t> Permutation(int64_t n, uint64_t seed);
// Reorders the rows by Permutation(count, seed).
void Shuffle(Split& split, uint64_t seed);

// IDX files (the MNIST family), gzipped or not.
StatusOr<Split> ReadIdxPair(const std::string& images_path, const std::string& labels_path,
                            int64_t limit, std::vector<int64_t>* shape);

// CSV with a header row; `label_column` holds class names or numbers, every other column must be
// numeric. `classes` is filled (sorted) when empty, otherwise used as the mapping.
StatusOr<Split> ReadCsv(const std::string& path, const std::string& label_column, int64_t limit,
                        std::vector<std::string>* feature_names, std::vector<std::string>* classes);

}  // namespace skiff::ml
