// Dataset artifact I/O and the readers `prepare` uses (IDX via zlib, CSV); see dataset.h.
#include "ml/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "common/file.h"

namespace skiff::ml {
namespace {

constexpr char kMagic[8] = {'S', 'K', 'M', 'L', 'D', 'S', '0', '1'};

std::string JoinPath(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

// Reads a whole file through zlib, which passes uncompressed files through unchanged.
StatusOr<std::string> ReadMaybeGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  std::string reason = (n < 0 && msg != nullptr) ? msg : "";
  gzclose(f);
  if (n < 0) return Status::BadRequest("cannot read " + path + ": " + reason);
  return out;
}

uint32_t BigEndian32(const std::string& s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// Parses an IDX header: returns the dimensions and the offset of the data. Only ubyte (0x08).
StatusOr<std::vector<int64_t>> IdxDims(const std::string& data, const std::string& path,
                                       size_t* offset) {
  if (data.size() < 4 || data[0] != 0 || data[1] != 0) {
    return Status::BadRequest(path + " is not an IDX file");
  }
  if (static_cast<unsigned char>(data[2]) != 0x08) {
    return Status::BadRequest(path + ": only unsigned-byte IDX files are supported");
  }
  size_t ndim = static_cast<unsigned char>(data[3]);
  if (ndim == 0 || data.size() < 4 + 4 * ndim) return Status::BadRequest(path + ": short header");
  std::vector<int64_t> dims;
  size_t total = 1;
  for (size_t i = 0; i < ndim; ++i) {
    dims.push_back(BigEndian32(data, 4 + 4 * i));
    total *= dims.back();
  }
  *offset = 4 + 4 * ndim;
  if (data.size() < *offset + total) return Status::BadRequest(path + ": truncated data");
  return dims;
}

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool ParseFloat(const std::string& s, float* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = std::strtof(s.c_str(), &end);
  return *end == '\0' && std::isfinite(*out);
}

}  // namespace

Json Normalisation::ToJson() const {
  return Json{{"type", "standardise"}, {"mean", mean}, {"std", std}};
}

StatusOr<Normalisation> Normalisation::FromJson(const Json& j) {
  Normalisation n;
  try {
    n.mean = j.at("mean").get<std::vector<float>>();
    n.std = j.at("std").get<std::vector<float>>();
  } catch (const std::exception& e) {
    return Status::BadRequest(std::string("bad normalisation in metadata: ") + e.what());
  }
  if (n.mean.empty() || n.mean.size() != n.std.size()) {
    return Status::BadRequest("bad normalisation in metadata: mean and std sizes differ");
  }
  return n;
}

Normalisation Normalisation::Fit(const Split& split, bool per_feature) {
  Normalisation n;
  size_t groups = per_feature ? split.features : 1;
  std::vector<double> sum(groups), sq(groups);
  for (int64_t r = 0; r < split.count; ++r) {
    const float* row = &split.x[r * split.features];
    for (int64_t f = 0; f < split.features; ++f) {
      size_t g = per_feature ? f : 0;
      sum[g] += row[f];
      sq[g] += static_cast<double>(row[f]) * row[f];
    }
  }
  double per_group = per_feature ? split.count : static_cast<double>(split.count) * split.features;
  for (size_t g = 0; g < groups; ++g) {
    double m = per_group > 0 ? sum[g] / per_group : 0;
    double var = per_group > 0 ? sq[g] / per_group - m * m : 1;
    // A constant feature keeps std 1 so it maps to 0 rather than dividing by zero.
    double sd = var > 1e-12 ? std::sqrt(var) : 1.0;
    n.mean.push_back(static_cast<float>(m));
    n.std.push_back(static_cast<float>(sd));
  }
  return n;
}

void Normalisation::Apply(Split& split) const {
  bool per_feature = mean.size() > 1;
  for (int64_t r = 0; r < split.count; ++r) {
    float* row = &split.x[r * split.features];
    for (int64_t f = 0; f < split.features; ++f) {
      size_t g = per_feature ? f : 0;
      row[f] = (row[f] - mean[g]) / std[g];
    }
  }
}

int64_t DatasetMeta::Features() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

Json DatasetMeta::ToJson() const {
  Json j{{"format", "skiff-ml-dataset/v1"},
         {"kind", kind},
         {"shape", shape},
         {"labels", labels},
         {"numClasses", labels.size()},
         {"dtype", dtype == DType::kUint8 ? "uint8" : "float32"},
         {"normalisation", normalisation.ToJson()},
         {"splits", splits},
         {"source", source}};
  if (!feature_names.empty()) j["featureNames"] = feature_names;
  return j;
}

StatusOr<DatasetMeta> DatasetMeta::FromJson(const Json& j) {
  DatasetMeta m;
  try {
    if (j.at("format") != "skiff-ml-dataset/v1") {
      return Status::BadRequest("unsupported dataset format " + j.at("format").dump());
    }
    m.kind = j.at("kind").get<std::string>();
    m.shape = j.at("shape").get<std::vector<int64_t>>();
    m.labels = j.at("labels").get<std::vector<std::string>>();
    if (j.contains("featureNames")) {
      m.feature_names = j["featureNames"].get<std::vector<std::string>>();
    }
    m.dtype = j.at("dtype") == "uint8" ? DType::kUint8 : DType::kFloat32;
    m.splits = j.at("splits");
    m.source = j.value("source", "");
    auto norm = Normalisation::FromJson(j.at("normalisation"));
    if (!norm.ok()) return norm.status();
    m.normalisation = *norm;
  } catch (const std::exception& e) {
    return Status::BadRequest(std::string("bad dataset metadata: ") + e.what());
  }
  if (m.labels.size() < 2) return Status::BadRequest("bad dataset metadata: fewer than 2 labels");
  return m;
}

Status WriteSplit(const std::string& path, const Split& split, DType dtype) {
  std::string out(kMagic, sizeof(kMagic));
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  uint64_t count = split.count;
  uint32_t features = split.features, dt = static_cast<uint32_t>(dtype);
  put(&count, 8);
  put(&features, 4);
  put(&dt, 4);
  if (dtype == DType::kUint8) {
    std::string bytes(split.x.size(), '\0');
    for (size_t i = 0; i < split.x.size(); ++i) {
      bytes[i] = static_cast<char>(static_cast<uint8_t>(std::clamp(split.x[i], 0.f, 255.f)));
    }
    out += bytes;
  } else {
    put(split.x.data(), split.x.size() * sizeof(float));
  }
  put(split.y.data(), split.y.size() * sizeof(int32_t));
  return WriteFileAtomic(path, out, 0644);
}

StatusOr<Split> ReadSplitFile(const std::string& path) {
  auto data = ReadFile(path);
  if (!data.ok()) return Status::NotFound("cannot read " + path);
  const std::string& d = *data;
  if (d.size() < 24 || std::memcmp(d.data(), kMagic, 8) != 0) {
    return Status::BadRequest(path + " is not a skiff-ml split file");
  }
  uint64_t count;
  uint32_t features, dt;
  std::memcpy(&count, d.data() + 8, 8);
  std::memcpy(&features, d.data() + 16, 4);
  std::memcpy(&dt, d.data() + 20, 4);
  size_t elem = dt == static_cast<uint32_t>(DType::kUint8) ? 1 : 4;
  size_t want = 24 + count * features * elem + count * 4;
  if (d.size() != want) {
    return Status::BadRequest(path + " has " + std::to_string(d.size()) + " bytes, header says " +
                              std::to_string(want));
  }
  Split s;
  s.count = count;
  s.features = features;
  s.x.resize(count * features);
  const char* p = d.data() + 24;
  if (elem == 1) {
    for (size_t i = 0; i < s.x.size(); ++i) s.x[i] = static_cast<unsigned char>(p[i]);
  } else {
    std::memcpy(s.x.data(), p, s.x.size() * 4);
  }
  s.y.resize(count);
  std::memcpy(s.y.data(), p + s.x.size() * elem, count * 4);
  return s;
}

Status WriteDataset(const std::string& dir, DatasetMeta& meta,
                    const std::vector<std::pair<std::string, const Split*>>& splits) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir + ": " + ec.message());
  meta.splits = Json::object();
  for (const auto& [name, split] : splits) {
    std::string file = name + ".bin";
    SKIFF_RETURN_IF_ERROR(WriteSplit(JoinPath(dir, file), *split, meta.dtype));
    std::vector<int64_t> class_counts(meta.labels.size());
    for (int32_t y : split->y) class_counts.at(y)++;
    meta.splits[name] = {{"count", split->count}, {"file", file}, {"classCounts", class_counts}};
  }
  return WriteFileAtomic(JoinPath(dir, "metadata.json"), meta.ToJson().dump(2) + "\n", 0644);
}

StatusOr<DatasetMeta> ReadMeta(const std::string& dir) {
  std::string path = JoinPath(dir, "metadata.json");
  auto text = ReadFile(path);
  if (!text.ok()) return Status::NotFound("no dataset at " + dir + " (cannot read " + path + ")");
  auto j = ParseJson(*text);
  if (!j.ok()) return Status::BadRequest(path + ": " + j.status().message());
  return DatasetMeta::FromJson(*j);
}

StatusOr<Split> LoadSplit(const std::string& dir, const DatasetMeta& meta, const std::string& name,
                          bool normalise) {
  if (!meta.splits.contains(name) || meta.splits[name].value("count", 0) == 0) {
    return Status::NotFound("dataset " + dir + " has no " + name + " split");
  }
  auto split = ReadSplitFile(JoinPath(dir, meta.splits[name].value("file", name + ".bin")));
  if (!split.ok()) return split.status();
  if (split->features != meta.Features()) {
    return Status::BadRequest(name + " split has " + std::to_string(split->features) +
                              " features, metadata says " + std::to_string(meta.Features()));
  }
  for (int32_t y : split->y) {
    if (y < 0 || y >= static_cast<int32_t>(meta.labels.size())) {
      return Status::BadRequest(name + " split has label " + std::to_string(y) + " out of range");
    }
  }
  if (normalise) {
    size_t groups = meta.normalisation.mean.size();
    if (groups != 1 && static_cast<int64_t>(groups) != split->features) {
      return Status::BadRequest("normalisation has " + std::to_string(groups) + " entries for " +
                                std::to_string(split->features) + " features");
    }
    meta.normalisation.Apply(*split);
  }
  return split;
}

Split Slice(const Split& split, int64_t begin, int64_t end) {
  Split s;
  s.features = split.features;
  s.count = std::max<int64_t>(0, end - begin);
  s.x.assign(split.x.begin() + begin * split.features, split.x.begin() + end * split.features);
  s.y.assign(split.y.begin() + begin, split.y.begin() + end);
  return s;
}

Split Shard(const Split& split, int rank, int world) {
  Split s;
  s.features = split.features;
  int64_t per_rank = split.count / world;
  s.count = per_rank;
  s.x.reserve(per_rank * split.features);
  for (int64_t i = 0; i < per_rank; ++i) {
    int64_t r = i * world + rank;
    s.x.insert(s.x.end(), split.x.begin() + r * split.features,
               split.x.begin() + (r + 1) * split.features);
    s.y.push_back(split.y[r]);
  }
  return s;
}

std::vector<int64_t> Permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  // Our own Fisher-Yates over mt19937_64: std::shuffle's output is implementation-defined.
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng() % static_cast<uint64_t>(i + 1)]);
  return p;
}

void Shuffle(Split& split, uint64_t seed) {
  auto perm = Permutation(split.count, seed);
  Split out;
  out.count = split.count;
  out.features = split.features;
  out.x.resize(split.x.size());
  out.y.resize(split.y.size());
  for (int64_t i = 0; i < split.count; ++i) {
    std::copy_n(split.x.begin() + perm[i] * split.features, split.features,
                out.x.begin() + i * split.features);
    out.y[i] = split.y[perm[i]];
  }
  split = std::move(out);
}

StatusOr<Split> ReadIdxPair(const std::string& images_path, const std::string& labels_path,
                            int64_t limit, std::vector<int64_t>* shape) {
  auto images = ReadMaybeGzip(images_path);
  if (!images.ok()) return images.status();
  auto labels = ReadMaybeGzip(labels_path);
  if (!labels.ok()) return labels.status();
  size_t img_off = 0, lab_off = 0;
  auto img_dims = IdxDims(*images, images_path, &img_off);
  if (!img_dims.ok()) return img_dims.status();
  auto lab_dims = IdxDims(*labels, labels_path, &lab_off);
  if (!lab_dims.ok()) return lab_dims.status();
  if (lab_dims->size() != 1 || (*lab_dims)[0] != (*img_dims)[0]) {
    return Status::BadRequest(labels_path + " does not match " + images_path);
  }
  Split s;
  s.count = (*img_dims)[0];
  if (limit > 0) s.count = std::min(s.count, limit);
  s.features = 1;
  shape->assign({1});
  for (size_t i = 1; i < img_dims->size(); ++i) {
    s.features *= (*img_dims)[i];
    shape->push_back((*img_dims)[i]);
  }
  s.x.resize(s.count * s.features);
  for (size_t i = 0; i < s.x.size(); ++i) {
    s.x[i] = static_cast<unsigned char>((*images)[img_off + i]);
  }
  s.y.resize(s.count);
  for (int64_t i = 0; i < s.count; ++i) s.y[i] = static_cast<unsigned char>((*labels)[lab_off + i]);
  return s;
}

StatusOr<Split> ReadCsv(const std::string& path, const std::string& label_column, int64_t limit,
                        std::vector<std::string>* feature_names,
                        std::vector<std::string>* classes) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path);
  std::string line;
  if (!std::getline(in, line)) return Status::BadRequest(path + " is empty");
  auto header = SplitCsvLine(line);
  int label_index = -1;
  feature_names->clear();
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == label_column) {
      label_index = i;
    } else {
      feature_names->push_back(header[i]);
    }
  }
  if (label_index < 0) {
    return Status::BadRequest(path + " has no column \"" + label_column + "\" (--label-column)");
  }
  if (feature_names->empty()) return Status::BadRequest(path + " has no feature columns");
  Split s;
  s.features = feature_names->size();
  std::vector<std::string> raw_labels;
  int64_t line_no = 1;
  while (std::getline(in, line) && (limit <= 0 || s.count < limit)) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    auto cells = SplitCsvLine(line);
    if (cells.size() != header.size()) {
      return Status::BadRequest(path + ":" + std::to_string(line_no) + ": expected " +
                                std::to_string(header.size()) + " columns, got " +
                                std::to_string(cells.size()));
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      if (static_cast<int>(i) == label_index) {
        raw_labels.push_back(cells[i]);
        continue;
      }
      float v;
      if (!ParseFloat(cells[i], &v)) {
        return Status::BadRequest(path + ":" + std::to_string(line_no) + ": column \"" + header[i] +
                                  "\" is not a number: \"" + cells[i] + "\"");
      }
      s.x.push_back(v);
    }
    ++s.count;
  }
  if (s.count == 0) return Status::BadRequest(path + " has no data rows");
  if (classes->empty()) {
    std::set<std::string> uniq(raw_labels.begin(), raw_labels.end());
    classes->assign(uniq.begin(), uniq.end());
    // Numeric labels sort numerically so "10" follows "9" and class i is label i.
    bool numeric = std::all_of(classes->begin(), classes->end(), [](const std::string& c) {
      float v;
      return ParseFloat(c, &v);
    });
    if (numeric) {
      std::sort(classes->begin(), classes->end(), [](const std::string& a, const std::string& b) {
        return std::stod(a) < std::stod(b);
      });
    }
  }
  std::map<std::string, int32_t> index;
  for (size_t i = 0; i < classes->size(); ++i) index[(*classes)[i]] = i;
  for (const auto& l : raw_labels) {
    auto it = index.find(l);
    if (it == index.end()) return Status::BadRequest(path + ": unknown label \"" + l + "\"");
    s.y.push_back(it->second);
  }
  return s;
}

}  // namespace skiff::ml
