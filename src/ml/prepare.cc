// Dataset preparation: read the source, split train/validation(/test), fit the normalisation on
// the train split, write the artifact.
#include "ml/prepare.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>

#include "common/log.h"
#include "ml/dataset.h"

namespace skiff::ml {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kFashionLabels = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};

// Splits `all` into (train, held-out) with the held-out part taking `fraction` of the rows.
std::pair<Split, Split> Holdout(const Split& all, double fraction) {
  int64_t held = static_cast<int64_t>(std::llround(all.count * fraction));
  if (fraction > 0 && held == 0 && all.count > 1) held = 1;
  return {Slice(all, 0, all.count - held), Slice(all, all.count - held, all.count)};
}

}  // namespace

StatusOr<std::string> FindFashionMnist(const std::string& flag_value) {
  std::vector<std::string> candidates;
  if (!flag_value.empty()) {
    candidates.push_back(flag_value);
  } else {
    if (const char* env = std::getenv("SKIFF_ML_FASHION_MNIST"); env && *env) {
      candidates.push_back(env);
    }
    candidates.push_back("/usr/share/datasets/fashion-mnist");
  }
  for (const auto& dir : candidates) {
    if (FindIdxFile(dir, "train-images-idx3-ubyte").ok()) return dir;
  }
  return Status::NotFound("Fashion-MNIST not found in " + candidates.front() +
                          " (install the Debian package dataset-fashion-mnist or pass --data-dir)");
}

StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name) {
  for (const auto& candidate : {name + ".gz", name}) {
    auto p = fs::path(dir) / candidate;
    if (fs::is_regular_file(p)) return p.string();
  }
  return Status::NotFound("no " + name + "[.gz] in " + dir);
}

Status GenerateCtrCsv(const std::string& path, int64_t rows, uint64_t seed) {
  std::ofstream out(path);
  if (!out) return Status::Internal("cannot write " + path);
  std::mt19937_64 rng(seed);
  // Hand-rolled draws (not std::*_distribution) so output is identical across standard libraries.
  auto uniform = [&rng] { return (rng() >> 11) * (1.0 / 9007199254740992.0); };
  auto pick = [&rng](int n) { return static_cast<int>(rng() % n); };
  out << "hour,device,ad_category,position,user_age,user_clicks_30d,ad_ctr_hist,banner_size,"
         "clicked\n";
  out << std::fixed << std::setprecision(4);
  for (int64_t i = 0; i < rows; ++i) {
    int hour = pick(24), device = pick(3), category = pick(10), position = 1 + pick(5);
    int age = 18 + pick(53), banner = pick(4);
    int clicks = static_cast<int>(-std::log(1 - uniform()) * 6);
    double hist_ctr = 0.2 * uniform() * uniform();
    // Clicks follow a logistic model with interactions a linear model misses: young users on
    // two categories, mobile at night.
    double z = -2.2 + 12.0 * hist_ctr - 0.35 * (position - 1) + (device == 0 ? 0.3 : 0.0) +
               ((category == 2 || category == 5) && age < 30 ? 1.3 : 0.0) +
               (device == 0 && (hour >= 20 || hour < 2) ? 0.8 : 0.0) + 0.25 * std::log1p(clicks) +
               (banner == 3 ? 0.4 : 0.0);
    int clicked = uniform() < 1.0 / (1.0 + std::exp(-z)) ? 1 : 0;
    out << hour << ',' << device << ',' << category << ',' << position << ',' << age << ','
        << clicks << ',' << hist_ctr << ',' << banner << ',' << clicked << '\n';
  }
  out.close();
  if (!out) return Status::Internal("cannot write " + path);
  return Status::Ok();
}

const std::vector<FlagSpec>& PrepareFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"out", "", "dataset directory to write (required)"},
      {"source", "fashion-mnist", "fashion-mnist | csv | ctr (generated click-through data)"},
      {"generate", "", "same as --source (e.g. --generate ctr)"},
      {"data-dir", "",
       "Fashion-MNIST IDX directory (default: $SKIFF_ML_FASHION_MNIST or "
       "/usr/share/datasets/fashion-mnist)"},
      {"csv", "", "training CSV with a header row (--source csv)"},
      {"test-csv", "", "test CSV (--source csv); else --test-fraction of --csv is held out"},
      {"label-column", "label", "CSV column holding the class"},
      {"limit", "0", "take only the first N rows of each source file (0: all)"},
      {"rows", "20000", "rows to generate (--source ctr)"},
      {"validation-fraction", "0.1", "fraction of the training rows held out for validation"},
      {"test-fraction", "0.2", "fraction held out for test when the source has no test set"},
      {"seed", "1", "shuffle/generation seed"},
  };
  return kFlags;
}

Status RunPrepare(const Flags& flags) {
  std::string out = flags.Str("out");
  if (out.empty()) return Status::BadRequest("--out is required");
  std::string source = flags.Has("generate") ? flags.Str("generate") : flags.Str("source");
  auto limit = flags.Int("limit", 0, 1LL << 40);
  if (!limit.ok()) return limit.status();
  auto val_frac = flags.Double("validation-fraction", 0, 0.9);
  if (!val_frac.ok()) return val_frac.status();
  auto test_frac = flags.Double("test-fraction", 0, 0.9);
  if (!test_frac.ok()) return test_frac.status();
  auto seed = flags.Int("seed", 0, 1LL << 62);
  if (!seed.ok()) return seed.status();

  DatasetMeta meta;
  Split train_all, test;
  if (source == "fashion-mnist") {
    auto dir = FindFashionMnist(flags.Str("data-dir"));
    if (!dir.ok()) return dir.status();
    auto path = [&](const std::string& name) { return FindIdxFile(*dir, name); };
    auto tri = path("train-images-idx3-ubyte"), trl = path("train-labels-idx1-ubyte");
    auto tei = path("t10k-images-idx3-ubyte"), tel = path("t10k-labels-idx1-ubyte");
    for (const auto* p : {&tri, &trl, &tei, &tel}) {
      if (!p->ok()) return p->status();
    }
    auto train = ReadIdxPair(*tri, *trl, *limit, &meta.shape);
    if (!train.ok()) return train.status();
    std::vector<int64_t> test_shape;
    auto t = ReadIdxPair(*tei, *tel, *limit, &test_shape);
    if (!t.ok()) return t.status();
    if (test_shape != meta.shape) return Status::BadRequest("train and test image shapes differ");
    train_all = std::move(*train);
    test = std::move(*t);
    meta.kind = "image";
    meta.labels = kFashionLabels;
    meta.dtype = DType::kUint8;
    meta.source = "fashion-mnist:" + *dir;
  } else if (source == "csv" || source == "ctr") {
    std::string csv = flags.Str("csv");
    if (source == "ctr") {
      auto rows = flags.Int("rows", 10, 100'000'000);
      if (!rows.ok()) return rows.status();
      std::error_code ec;
      fs::create_directories(out, ec);
      csv = (fs::path(out) / "generated-ctr.csv").string();
      SKIFF_RETURN_IF_ERROR(GenerateCtrCsv(csv, *rows, *seed));
      meta.source =
          "generated-ctr:rows=" + std::to_string(*rows) + ",seed=" + std::to_string(*seed);
    } else {
      if (csv.empty()) return Status::BadRequest("--source csv needs --csv PATH");
      meta.source = "csv:" + csv;
    }
    std::string label = source == "ctr" ? "clicked" : flags.Str("label-column");
    auto all = ReadCsv(csv, label, *limit, &meta.feature_names, &meta.labels);
    if (!all.ok()) return all.status();
    if (meta.labels.size() < 2) return Status::BadRequest(csv + ": fewer than 2 distinct labels");
    Shuffle(*all, *seed);
    if (flags.Has("test-csv")) {
      std::vector<std::string> names;
      auto t = ReadCsv(flags.Str("test-csv"), label, *limit, &names, &meta.labels);
      if (!t.ok()) return t.status();
      if (names != meta.feature_names) {
        return Status::BadRequest("--test-csv columns differ from --csv columns");
      }
      train_all = std::move(*all);
      test = std::move(*t);
    } else {
      auto [tr, te] = Holdout(*all, *test_frac);
      train_all = std::move(tr);
      test = std::move(te);
    }
    meta.kind = "tabular";
    meta.shape = {train_all.features};
    meta.dtype = DType::kFloat32;
  } else {
    return Status::BadRequest("unknown --source \"" + source + "\" (fashion-mnist, csv or ctr)");
  }

  if (source == "fashion-mnist") Shuffle(train_all, *seed);
  auto [train, validation] = Holdout(train_all, *val_frac);
  if (train.count == 0) return Status::BadRequest("no training rows left after the split");
  meta.normalisation = Normalisation::Fit(train, meta.kind == "tabular");
  SKIFF_RETURN_IF_ERROR(
      WriteDataset(out, meta, {{"train", &train}, {"validation", &validation}, {"test", &test}}));
  std::cout << "prepared " << out << ": train=" << train.count << " validation=" << validation.count
            << " test=" << test.count << " features=" << train.features
            << " classes=" << meta.labels.size() << std::endl;
  return Status::Ok();
}

const std::vector<FlagSpec>& GenCtrFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"out", "", "CSV file to write (required)"},
      {"rows", "20000", "number of rows"},
      {"seed", "1", "generator seed"},
  };
  return kFlags;
}

Status RunGenCtr(const Flags& flags) {
  if (!flags.Has("out")) return Status::BadRequest("--out is required");
  auto rows = flags.Int("rows", 1, 100'000'000);
  if (!rows.ok()) return rows.status();
  auto seed = flags.Int("seed", 0, 1LL << 62);
  if (!seed.ok()) return seed.status();
  SKIFF_RETURN_IF_ERROR(GenerateCtrCsv(flags.Str("out"), *rows, *seed));
  std::cout << "wrote " << *rows << " rows to " << flags.Str("out") << std::endl;
  return Status::Ok();
}

}  // namespace skiff::ml
