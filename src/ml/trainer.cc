// The training loop behind `skiff-ml train` (see train.h). Parameters and gradients live in two
// flat buffers the layers view into, so one all-reduce, one SGD update, one broadcast and one
// checksum each touch a single tensor.
#include <torch/script.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "ml/collective.h"
#include "ml/dataset.h"
#include "ml/system.h"
#include "ml/train.h"

namespace skiff::ml {
namespace {

namespace fs = std::filesystem;

// A classifier that can also describe itself as TorchScript over its own parameter names (dots
// become underscores: "fc1.weight" -> self.fc1_weight).
struct Net : torch::nn::Module {
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual std::string ScriptBody() const = 0;
};

struct Mlp : Net {
  Mlp(int64_t in, int64_t classes)
      : fc1(register_module("fc1", torch::nn::Linear(in, 256))),
        fc2(register_module("fc2", torch::nn::Linear(256, classes))) {}
  torch::Tensor forward(torch::Tensor x) override { return fc2(torch::relu(fc1(x.flatten(1)))); }
  std::string ScriptBody() const override {
    return "    x = torch.flatten(x, 1)\n"
           "    x = torch.relu(torch.addmm(self.fc1_bias, x, self.fc1_weight.t()))\n"
           "    return torch.addmm(self.fc2_bias, x, self.fc2_weight.t())\n";
  }
  torch::nn::Linear fc1, fc2;
};

// conv(3x3, 32) [bn] relu pool2 -> conv(3x3, 64) [bn] relu pool2 -> fc 128 relu -> fc classes.
struct Cnn : Net {
  Cnn(int64_t channels, int64_t h, int64_t w, int64_t classes, bool bn) : bn_(bn) {
    auto conv = [bn](int64_t in, int64_t out) {
      // A bias before batch norm is cancelled by its mean subtraction.
      return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(!bn));
    };
    conv1 = register_module("conv1", conv(channels, 32));
    conv2 = register_module("conv2", conv(32, 64));
    if (bn) {
      bn1 = register_module("bn1", torch::nn::BatchNorm2d(32));
      bn2 = register_module("bn2", torch::nn::BatchNorm2d(64));
    }
    fc1 = register_module("fc1", torch::nn::Linear(64 * (h / 4) * (w / 4), 128));
    fc2 = register_module("fc2", torch::nn::Linear(128, classes));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = conv1(x.contiguous(torch::MemoryFormat::ChannelsLast));
    if (bn_) x = bn1(x);
    x = torch::max_pool2d(torch::relu(x), 2);
    x = conv2(x);
    if (bn_) x = bn2(x);
    x = torch::max_pool2d(torch::relu(x), 2);
    return fc2(torch::relu(fc1(x.flatten(1))));
  }
  std::string ScriptBody() const override {
    std::string s;
    for (const char* i : {"1", "2"}) {
      std::string conv = std::string("conv") + i, bn = std::string("bn") + i;
      s += "    x = torch.conv2d(x, self." + conv + "_weight, " +
           (bn_ ? "None" : "self." + conv + "_bias") + ", [1, 1], [1, 1])\n";
      if (bn_) {
        s += "    x = torch.batch_norm(x, self." + bn + "_weight, self." + bn + "_bias, self." +
             bn + "_running_mean, self." + bn + "_running_var, False, 0.1, 1e-05, False)\n";
      }
      s += "    x = torch.max_pool2d(torch.relu(x), [2, 2])\n";
    }
    s += "    x = torch.flatten(x, 1)\n"
         "    x = torch.relu(torch.addmm(self.fc1_bias, x, self.fc1_weight.t()))\n"
         "    return torch.addmm(self.fc2_bias, x, self.fc2_weight.t())\n";
    return s;
  }
  bool bn_;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

std::string ScriptName(const std::string& name) {
  std::string s = name;
  for (auto& c : s) {
    if (c == '.') c = '_';
  }
  return s;
}

// Parameters and float buffers (BN running stats) gathered into flat tensors the modules view.
struct FlatState {
  std::vector<torch::Tensor> params, buffers;
  torch::Tensor params_flat, grads_flat, momentum_flat, buffers_flat;

  explicit FlatState(Net& net) {
    torch::NoGradGuard no_grad;
    for (auto& p : net.parameters()) params.push_back(p);
    for (auto& b : net.named_buffers()) {
      if (b.value().scalar_type() == torch::kFloat32) buffers.push_back(b.value());
    }
    params_flat = Flatten(params);
    grads_flat = torch::zeros_like(params_flat);
    momentum_flat = torch::zeros_like(params_flat);
    buffers_flat = Flatten(buffers);
    int64_t off = 0;
    for (auto& p : params) {
      p.mutable_grad() = SliceLike(grads_flat, off, p);
      off += p.numel();
    }
  }

  // A view of flat[off, off + numel) shaped like `like`; 4-D (conv) weights are laid out
  // channels-last, the format the convolutions run in.
  static torch::Tensor SliceLike(const torch::Tensor& flat, int64_t off,
                                 const torch::Tensor& like) {
    auto slice = flat.narrow(0, off, like.numel());
    if (like.dim() != 4) return slice.view(like.sizes());
    auto s = like.sizes();
    return slice.view({s[0], s[2], s[3], s[1]}).permute({0, 3, 1, 2});
  }

  // Copies `ts` into one buffer and re-points each tensor at its slice.
  static torch::Tensor Flatten(std::vector<torch::Tensor>& ts) {
    int64_t n = 0;
    for (auto& t : ts) n += t.numel();
    auto flat = torch::empty({n}, torch::kFloat32);
    int64_t off = 0;
    for (auto& t : ts) {
      auto view = SliceLike(flat, off, t);
      view.copy_(t);
      t.set_data(view);
      off += t.numel();
    }
    return flat;
  }

  // FNV-1a over the bytes of parameters and buffers: equal iff the replicas agree exactly.
  std::string Checksum() const {
    uint64_t h = 1469598103934665603ULL;
    for (const auto* t : {&params_flat, &buffers_flat}) {
      auto bytes = static_cast<const unsigned char*>(t->data_ptr());
      for (int64_t i = 0; i < t->numel() * 4; ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
    }
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

std::unique_ptr<Net> MakeNet(const TrainOptions& o, const DatasetMeta& meta) {
  int64_t classes = meta.labels.size();
  if (o.model == "mlp") return std::make_unique<Mlp>(meta.Features(), classes);
  return std::make_unique<Cnn>(meta.shape[0], meta.shape[1], meta.shape[2], classes, o.batch_norm);
}

std::string ConfigTag(const TrainOptions& o) {
  return "model=" + o.model + (o.model == "cnn" ? (o.batch_norm ? ",bn" : ",nobn") : "");
}

struct Checkpoint {
  int64_t epoch = 0;
  Json history = Json::array();
};

std::string CheckpointPath(const TrainOptions& o) {
  return (fs::path(o.checkpoint_dir) / "checkpoint.pt").string();
}

Status SaveCheckpoint(const TrainOptions& o, FlatState& s, const Checkpoint& c) {
  std::error_code ec;
  fs::create_directories(o.checkpoint_dir, ec);
  std::string path = CheckpointPath(o), tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive a;
    a.write("config", c10::IValue(ConfigTag(o)));
    a.write("epoch", c10::IValue(c.epoch));
    a.write("history", c10::IValue(c.history.dump()));
    a.write("params", s.params_flat);
    a.write("momentum", s.momentum_flat);
    a.write("buffers", s.buffers_flat);
    a.save_to(tmp);
  } catch (const std::exception& e) {
    return Status::Internal("cannot write checkpoint " + tmp + ": " + e.what());
  }
  // Rename so a crash mid-write leaves the previous epoch's checkpoint intact.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Internal("cannot rename checkpoint into " + path);
  }
  return Status::Ok();
}

// Loads the checkpoint into `s` if one exists; epoch 0 when there is none.
StatusOr<Checkpoint> LoadCheckpoint(const TrainOptions& o, FlatState& s) {
  Checkpoint c;
  if (o.checkpoint_dir.empty() || !fs::exists(CheckpointPath(o))) return c;
  std::string path = CheckpointPath(o);
  try {
    torch::NoGradGuard no_grad;
    torch::serialize::InputArchive a;
    a.load_from(path);
    c10::IValue config, epoch, history;
    a.read("config", config);
    if (config.toStringRef() != ConfigTag(o)) {
      return Status::BadRequest("checkpoint " + path + " is for " + config.toStringRef() +
                                ", not " + ConfigTag(o) + "; use another --checkpoint-dir");
    }
    a.read("epoch", epoch);
    a.read("history", history);
    torch::Tensor params, momentum, buffers;
    a.read("params", params);
    a.read("momentum", momentum);
    a.read("buffers", buffers);
    if (params.numel() != s.params_flat.numel() || buffers.numel() != s.buffers_flat.numel()) {
      return Status::BadRequest("checkpoint " + path + " does not match this model's size");
    }
    s.params_flat.copy_(params);
    s.momentum_flat.copy_(momentum);
    s.buffers_flat.copy_(buffers);
    c.epoch = epoch.toInt();
    auto h = ParseJson(history.toStringRef());
    if (h.ok()) c.history = *h;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    return Status::BadRequest("cannot read checkpoint " + path + ": " +
                              msg.substr(0, msg.find('\n')));
  }
  return c;
}

// Rank 0's epoch, step count, parameters, momentum and buffers become everyone's: a fresh start
// gets one initialisation, a restart gets rank 0's checkpoint even where other pods have no volume,
// and parameter servers (which hold no data) learn how many steps an epoch has.
Status SyncFromRankZero(Collective& coll, FlatState& s, Checkpoint& c, int64_t* steps) {
  torch::NoGradGuard no_grad;
  float header[2] = {static_cast<float>(c.epoch), static_cast<float>(*steps)};
  SKIFF_RETURN_IF_ERROR(coll.Broadcast(header, 2, 0));
  c.epoch = static_cast<int64_t>(header[0]);
  *steps = static_cast<int64_t>(header[1]);
  for (auto* t : {&s.params_flat, &s.momentum_flat, &s.buffers_flat}) {
    if (t->numel() > 0) {
      SKIFF_RETURN_IF_ERROR(coll.Broadcast(t->data_ptr<float>(), t->numel(), 0));
    }
  }
  return Status::Ok();
}

// Parameter-server training (TF_CONFIG with ps replicas), synchronous: the parameters are cut into
// one contiguous shard per ps replica, which alone keeps that shard's momentum and applies its
// update. Each step the trainers push gradients (a reduce to the shard's owner) and pull the
// updated shard back (a broadcast from it); ps replicas add zeros and hold no data.
struct PsPlan {
  int trainers = 0;
  int first_ps_rank = 0;
  int mine = -1;                                    // the shard this rank owns; -1 on trainers
  std::vector<std::pair<int64_t, int64_t>> shards;  // [offset, length) per ps replica

  PsPlan(const DistConfig& d, int64_t params) : trainers(d.trainers()), first_ps_rank(trainers) {
    if (d.is_ps()) mine = d.rank - first_ps_rank;
    for (int p = 0; p < d.num_ps; ++p) {
      int64_t begin = params * p / d.num_ps, end = params * (p + 1) / d.num_ps;
      shards.push_back({begin, end - begin});
    }
  }

  // One step's push of `grads_flat` and pull of `params_flat`; the owners apply SGD momentum.
  Status PushPull(Collective& coll, FlatState& s, double lr, double momentum) const {
    torch::NoGradGuard no_grad;
    float* grads = s.grads_flat.data_ptr<float>();
    for (size_t p = 0; p < shards.size(); ++p) {
      auto [off, len] = shards[p];
      if (len > 0)
        SKIFF_RETURN_IF_ERROR(
            coll.ReduceSum(grads + off, len, first_ps_rank + static_cast<int>(p)));
    }
    if (mine >= 0 && shards[mine].second > 0) {
      auto [off, len] = shards[mine];
      auto g = s.grads_flat.narrow(0, off, len).mul_(1.0f / trainers);
      auto v = s.momentum_flat.narrow(0, off, len);
      v.mul_(momentum).add_(g);
      s.params_flat.narrow(0, off, len).add_(v, -lr);
    }
    return Broadcast(coll, s.params_flat);
  }

  // Every shard of `flat` from its owner to every rank (parameters each step; momentum before a
  // checkpoint, since only the owners keep it current).
  Status Broadcast(Collective& coll, torch::Tensor& flat) const {
    float* data = flat.data_ptr<float>();
    for (size_t p = 0; p < shards.size(); ++p) {
      auto [off, len] = shards[p];
      if (len > 0)
        SKIFF_RETURN_IF_ERROR(coll.Broadcast(data + off, len, first_ps_rank + static_cast<int>(p)));
    }
    return Status::Ok();
  }
};

// A function of the epoch alone, so a resumed run (and every ps replica) uses the same rates.
double LearningRate(const TrainOptions& o, int64_t epoch) {
  return o.cosine ? o.lr * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / o.epochs)) : o.lr;
}

torch::Tensor ToTensor(Split& s, const std::vector<int64_t>& shape) {
  std::vector<int64_t> dims = {s.count};
  dims.insert(dims.end(), shape.begin(), shape.end());
  return torch::from_blob(s.x.data(), dims, torch::kFloat32);
}

torch::Tensor Labels(const Split& s) {
  return torch::from_blob(const_cast<int32_t*>(s.y.data()), {s.count}, torch::kInt32)
      .to(torch::kInt64);
}

// Accuracy of `net` in eval mode over a whole split.
double Accuracy(Net& net, const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  net.eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < x.size(0); i += 1000) {
    int64_t n = std::min<int64_t>(1000, x.size(0) - i);
    auto pred = net.forward(x.narrow(0, i, n)).argmax(1);
    correct += pred.eq(y.narrow(0, i, n)).sum().item<int64_t>();
  }
  net.train();
  return x.size(0) ? static_cast<double>(correct) / x.size(0) : 0;
}

// Writes model.pt: a TorchScript module with the trained weights that takes raw features
// (pixels 0-255) and applies the dataset's normalisation itself.
Status ExportTorchScript(Net& net, const DatasetMeta& meta, const std::string& path) {
  try {
    torch::NoGradGuard no_grad;
    torch::jit::Module m("SkiffClassifier");
    for (const auto& p : net.named_parameters()) {
      m.register_parameter(ScriptName(p.key()), p.value().detach().contiguous().clone(), false);
    }
    for (const auto& b : net.named_buffers()) {
      if (b.value().scalar_type() != torch::kFloat32) continue;
      m.register_buffer(ScriptName(b.key()), b.value().detach().clone());
    }
    const auto& norm = meta.normalisation;
    std::vector<int64_t> norm_shape = {static_cast<int64_t>(norm.mean.size())};
    if (norm.mean.size() > 1) norm_shape = meta.shape;
    m.register_buffer("norm_mean", torch::tensor(norm.mean).reshape(norm_shape));
    m.register_buffer("norm_std", torch::tensor(norm.std).reshape(norm_shape));
    m.define(
        "def forward(self, x):\n"
        "    x = (x - self.norm_mean) / self.norm_std\n" +
        net.ScriptBody());
    m.eval();
    m.save(path);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    return Status::Internal("cannot export TorchScript to " + path + ": " +
                            msg.substr(0, msg.find('\n')));
  }
  return Status::Ok();
}

Status WriteModelCard(const TrainOptions& o, const DatasetMeta& meta, const std::string& path,
                      double accuracy, int64_t epochs, const std::string& checksum) {
  std::vector<int64_t> input = {-1};
  input.insert(input.end(), meta.shape.begin(), meta.shape.end());
  Json card = {
      {"format", "skiff-ml-model-card/v1"},
      {"model", o.model},
      {"batchNorm", o.model == "cnn" && o.batch_norm},
      {"file", "model.pt"},
      {"framework", "torchscript"},
      {"input",
       {{"shape", input},
        {"dtype", "float32"},
        {"description", "raw features; the model applies the normalisation below"}}},
      {"output",
       {{"shape", {-1, static_cast<int64_t>(meta.labels.size())}},
        {"description", "logits per label"}}},
      {"labels", meta.labels},
      {"normalisation", meta.normalisation.ToJson()},
      {"validationAccuracy", accuracy},
      {"epochs", epochs},
      {"hyperparameters",
       {{"lr", o.lr},
        {"lrSchedule", o.cosine ? "cosine" : "constant"},
        {"momentum", o.momentum},
        {"batchSize", o.batch_size},
        {"seed", o.seed}}},
      {"dataset", meta.source},
      {"paramChecksum", checksum},
  };
  return WriteFileAtomic(path, card.dump(2) + "\n", 0644);
}

struct EpochStats {
  double loss = 0;           // mean over all replicas' samples
  double seconds = 0;        // this replica's wall time
  double samples_per_s = 0;  // all replicas together
};

// The end of an epoch on every rank: the loss and sample totals, and the BN statistics (each
// trainer's saw only its shard; averaging keeps replicas identical). Ps replicas add zeros.
Status ReduceEpochTotals(Collective& coll, FlatState& state, int trainers, float totals[2]) {
  SKIFF_RETURN_IF_ERROR(coll.AllReduceSum(totals, 2));
  if (state.buffers_flat.numel() > 0) {
    SKIFF_RETURN_IF_ERROR(
        coll.AllReduceSum(state.buffers_flat.data_ptr<float>(), state.buffers_flat.numel()));
    torch::NoGradGuard no_grad;
    state.buffers_flat.mul_(1.0f / trainers);
  }
  return Status::Ok();
}

// One pass over this replica's shard: forward, backward, then either all-reduce and SGD momentum
// here, or (with parameter servers) push gradients and pull parameters.
StatusOr<EpochStats> RunEpoch(Net& net, FlatState& state, Collective* coll, const PsPlan* ps,
                              const torch::Tensor& x_all, const torch::Tensor& y_all,
                              const TrainOptions& o, int64_t epoch) {
  const int64_t n = x_all.size(0);
  const int trainers = ps ? ps->trainers : coll ? coll->world_size() : 1;
  const double lr = LearningRate(o, epoch);
  auto start = std::chrono::steady_clock::now();
  // Seeded by epoch, so a resumed run sees the order the uninterrupted run would have.
  auto perm_vec = Permutation(n, o.seed * 1000003ULL + epoch);
  auto perm = torch::from_blob(perm_vec.data(), {n}, torch::kInt64);
  auto loss_sum = torch::zeros({}, torch::kFloat32);
  for (int64_t i = 0; i < n; i += o.batch_size) {
    int64_t b = std::min<int64_t>(o.batch_size, n - i);
    // Gathered per batch: small and cache-warm, unlike permuting the whole shard each epoch.
    auto idx = perm.narrow(0, i, b);
    state.grads_flat.zero_();
    auto logits = net.forward(x_all.index_select(0, idx));
    auto loss = torch::nn::functional::cross_entropy(logits, y_all.index_select(0, idx));
    loss.backward();
    torch::NoGradGuard no_grad;
    loss_sum += loss.detach() * b;
    if (ps) {
      SKIFF_RETURN_IF_ERROR(ps->PushPull(*coll, state, lr, o.momentum));
      continue;
    }
    if (coll) {
      SKIFF_RETURN_IF_ERROR(
          coll->AllReduceSum(state.grads_flat.data_ptr<float>(), state.grads_flat.numel()));
      state.grads_flat.mul_(1.0f / trainers);
    }
    // SGD with momentum as torch.optim.SGD (no dampening): v = m v + g; p -= lr v.
    state.momentum_flat.mul_(o.momentum).add_(state.grads_flat);
    state.params_flat.add_(state.momentum_flat, -lr);
  }
  EpochStats stats;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  float totals[2] = {loss_sum.item<float>(), static_cast<float>(n)};
  if (coll) SKIFF_RETURN_IF_ERROR(ReduceEpochTotals(*coll, state, trainers, totals));
  stats.loss = totals[0] / totals[1];
  stats.samples_per_s = totals[1] / stats.seconds;
  return stats;
}

// A parameter server's epoch: `steps` rounds of receiving its shard's gradient sum, updating, and
// sending the shard back; then the epoch totals, to which it adds nothing.
StatusOr<EpochStats> RunPsEpoch(FlatState& state, Collective& coll, const PsPlan& ps,
                                const TrainOptions& o, int64_t epoch, int64_t steps) {
  const double lr = LearningRate(o, epoch);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    state.grads_flat.zero_();
    SKIFF_RETURN_IF_ERROR(ps.PushPull(coll, state, lr, o.momentum));
  }
  float totals[2] = {0, 0};
  state.buffers_flat.zero_();
  SKIFF_RETURN_IF_ERROR(ReduceEpochTotals(coll, state, ps.trainers, totals));
  EpochStats stats;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.loss = totals[1] > 0 ? totals[0] / totals[1] : 0;
  stats.samples_per_s = totals[1] / stats.seconds;
  return stats;
}

}  // namespace

Status Train(const TrainOptions& o, const DistConfig& dist) {
  auto meta = ReadMeta(o.data_dir);
  if (!meta.ok()) return meta.status();
  if (o.model == "cnn" && (meta->shape.size() != 3 || meta->shape[1] % 4 || meta->shape[2] % 4)) {
    return Status::BadRequest("--model cnn needs image data with height and width divisible by 4");
  }
  const bool ps_role = dist.is_ps();
  Split train_all, val_split;
  if (!ps_role) {  // a parameter server needs the model's shape only
    auto train = LoadSplit(o.data_dir, *meta, "train", true);
    if (!train.ok()) return train.status();
    train_all = std::move(*train);
    if (o.limit > 0 && o.limit < train_all.count) train_all = Slice(train_all, 0, o.limit);
    // Training accuracy stands in when the artifact has no validation split.
    auto validation = LoadSplit(o.data_dir, *meta, "validation", true);
    if (!validation.ok() && validation.status().code() != Code::kNotFound) {
      return validation.status();
    }
    if (validation.ok()) val_split = std::move(*validation);
    if (train_all.count < dist.trainers()) {
      return Status::BadRequest("fewer training rows than replicas");
    }
  }

  // OpenBLAS and torch's OpenMP pool must not both run --threads threads: idle OpenMP workers spin
  // and starve OpenBLAS's (3x slower measured). The MLP is all GEMM, so OpenBLAS gets the CPUs
  // (1.6x over OpenBLAS at 1 thread); the CNN's convolutions run on OpenMP via oneDNN.
  bool blas_bound = o.model == "mlp";
  SetBlasThreads(blas_bound ? o.threads : 1);
  at::set_num_threads(blas_bound ? 1 : o.threads);
  torch::manual_seed(o.seed);

  std::unique_ptr<Collective> coll;
  if (dist.world_size > 1) {
    SKIFF_LOG(Info) << "rank " << dist.rank << "/" << dist.world_size
                    << (ps_role ? " (parameter server)" : "") << " joining " << dist.master_addr
                    << ":" << dist.master_port << " (" << dist.source << ")";
    auto c = ConnectGloo(dist, std::chrono::seconds(300));
    if (!c.ok()) return c.status();
    coll = std::move(*c);
  }

  Split shard;
  if (!ps_role) {
    shard =
        dist.trainers() > 1 ? Shard(train_all, dist.rank, dist.trainers()) : std::move(train_all);
  }
  auto x_all = ToTensor(shard, meta->shape);
  auto y_all = Labels(shard);
  torch::Tensor x_val, y_val;
  if (val_split.count > 0) {
    x_val = ToTensor(val_split, meta->shape);
    y_val = Labels(val_split);
  }

  auto net = MakeNet(o, *meta);
  FlatState state(*net);
  std::unique_ptr<PsPlan> ps;
  if (dist.num_ps > 0) ps = std::make_unique<PsPlan>(dist, state.params_flat.numel());
  Checkpoint ckpt;
  if (dist.rank == 0) {
    auto c = LoadCheckpoint(o, state);
    if (!c.ok()) return c.status();
    ckpt = *c;
  }
  int64_t steps = (shard.count + o.batch_size - 1) / o.batch_size;
  if (coll) SKIFF_RETURN_IF_ERROR(SyncFromRankZero(*coll, state, ckpt, &steps));
  if (ckpt.epoch > 0) {
    SKIFF_LOG(Info) << "resuming from " << CheckpointPath(o) << " after epoch " << ckpt.epoch;
  }
  if (ps_role) {
    auto [off, len] = ps->shards[ps->mine];
    SKIFF_LOG(Info) << "parameter server " << ps->mine << " holds parameters [" << off << ", "
                    << off + len << ") of " << state.params_flat.numel() << "; " << steps
                    << " steps per epoch";
  }

  net->train();
  double last_accuracy = ckpt.history.empty() ? 0 : ckpt.history.back().value("accuracy", 0.0);
  for (int64_t epoch = ckpt.epoch + 1; epoch <= o.epochs; ++epoch) {
    auto stats = ps_role ? RunPsEpoch(state, *coll, *ps, o, epoch, steps)
                         : RunEpoch(*net, state, coll.get(), ps.get(), x_all, y_all, o, epoch);
    if (!stats.ok()) return stats.status();
    // Only the owners keep momentum current; rank 0 needs all of it for the checkpoint.
    if (ps) SKIFF_RETURN_IF_ERROR(ps->Broadcast(*coll, state.momentum_flat));
    double loss = stats->loss, seconds = stats->seconds, samples_per_s = stats->samples_per_s;
    if (!std::isfinite(loss)) {
      return Status::BadRequest("loss diverged to " + std::to_string(loss) + " in epoch " +
                                std::to_string(epoch) + "; lower --lr");
    }
    if (!ps_role) {
      last_accuracy =
          val_split.count > 0 ? Accuracy(*net, x_val, y_val) : Accuracy(*net, x_all, y_all);
    }
    // Katib's stdout collector reads name=value pairs; one flushed line per epoch. A parameter
    // server has no data to score: it reports the loss its updates came from.
    if (ps_role) {
      std::printf("epoch=%lld loss=%.6f\n", static_cast<long long>(epoch), loss);
    } else {
      std::printf("epoch=%lld loss=%.6f accuracy=%.6f\n", static_cast<long long>(epoch), loss,
                  last_accuracy);
    }
    std::fflush(stdout);
    SKIFF_LOG(Info) << "epoch " << epoch << ": " << seconds << " s, " << samples_per_s
                    << " samples/s across " << dist.trainers() << " trainer(s)";
    Json entry = {{"epoch", epoch},
                  {"loss", loss},
                  {"seconds", seconds},
                  {"samplesPerSecond", samples_per_s}};
    if (!ps_role) entry["accuracy"] = last_accuracy;
    ckpt.history.push_back(entry);
    ckpt.epoch = epoch;
    if (!o.checkpoint_dir.empty() && dist.rank == 0) {
      SKIFF_RETURN_IF_ERROR(SaveCheckpoint(o, state, ckpt));
    }
  }

  std::string checksum = state.Checksum();
  SKIFF_LOG(Info) << "rank " << dist.rank << " param_checksum=" << checksum;
  if (!o.metrics_file.empty()) {
    Json metrics = {{"epochs", ckpt.history},
                    {"accuracy", last_accuracy},
                    {"loss", ckpt.history.empty() ? 0.0 : ckpt.history.back().value("loss", 0.0)},
                    {"rank", dist.rank},
                    {"role", ps_role ? "ps" : "trainer"},
                    {"worldSize", dist.world_size},
                    {"parameterServers", dist.num_ps},
                    {"threads", o.threads},
                    {"paramChecksum", checksum}};
    SKIFF_RETURN_IF_ERROR(WriteFileAtomic(o.metrics_file, metrics.dump(2) + "\n", 0644));
  }
  if (!o.out_dir.empty() && dist.rank == 0) {
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (ec) return Status::Internal("cannot create " + o.out_dir + ": " + ec.message());
    net->eval();
    SKIFF_RETURN_IF_ERROR(
        ExportTorchScript(*net, *meta, (fs::path(o.out_dir) / "model.pt").string()));
    SKIFF_RETURN_IF_ERROR(WriteModelCard(o, *meta,
                                         (fs::path(o.out_dir) / "model_card.json").string(),
                                         last_accuracy, ckpt.epoch, checksum));
  }
  return Status::Ok();
}

}  // namespace skiff::ml
