// Model loading, lookup and the repository index; see repository.h.
#include "serving/repository.h"

#include "common/file.h"
#include "common/log.h"

namespace skiff::serving {

namespace fs = std::filesystem;

Status ApplyModelConfig(const Json& j, ModelConfig* c) {
  if (!j.is_object()) return Status::BadRequest("model configuration must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    auto integer = [&](int64_t min, int64_t max) -> StatusOr<int64_t> {
      // Load parameters may arrive as strings (Triton's load API passes config as text).
      int64_t v;
      if (value.is_number_integer()) {
        v = value.get<int64_t>();
      } else if (value.is_string()) {
        try {
          size_t used = 0;
          v = std::stoll(value.get<std::string>(), &used);
          if (used != value.get<std::string>().size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
          return Status::BadRequest(key + " must be an integer");
        }
      } else {
        return Status::BadRequest(key + " must be an integer");
      }
      if (v < min || v > max) {
        return Status::BadRequest(key + " must be between " + std::to_string(min) + " and " +
                                  std::to_string(max));
      }
      return v;
    };
    StatusOr<int64_t> v = Status::BadRequest("");
    if (key == "instances") {
      if (!(v = integer(1, 64)).ok()) return v.status();
      c->batching.instances = static_cast<int>(*v);
    } else if (key == "max_batch_size") {
      if (!(v = integer(0, 1 << 20)).ok()) return v.status();
      c->batching.max_batch_size = static_cast<int>(*v);
    } else if (key == "max_queue_delay_us") {
      if (!(v = integer(0, 10'000'000)).ok()) return v.status();
      c->batching.max_queue_delay_us = *v;
    } else if (key == "max_queue_size") {
      if (!(v = integer(1, 1 << 24)).ok()) return v.status();
      c->batching.max_queue_size = static_cast<size_t>(*v);
    } else if (key == "threads") {
      if (!(v = integer(1, 1024)).ok()) return v.status();
      c->model.threads = static_cast<int>(*v);
    } else {
      return Status::BadRequest("unknown model configuration key \"" + key +
                                "\" (known: instances, max_batch_size, max_queue_delay_us, "
                                "max_queue_size, threads)");
    }
  }
  return Status::Ok();
}

std::string_view ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return "LOADING";
    case ModelState::kReady:
      return "READY";
    case ModelState::kUnavailable:
      return "UNAVAILABLE";
  }
  return "UNAVAILABLE";
}

ModelRepository::ModelRepository(fs::path repository_dir, ModelConfig defaults, Metrics* metrics)
    : repository_dir_(std::move(repository_dir)), defaults_(defaults), metrics_(metrics) {}

ModelRepository::~ModelRepository() { UnloadAll(); }

void ModelRepository::AddModelDir(const std::string& name, fs::path dir) {
  std::unique_lock lock(mu_);
  model_dirs_[name] = std::move(dir);
}

fs::path ModelRepository::DirFor(const std::string& name) const {
  std::shared_lock lock(mu_);
  if (auto it = model_dirs_.find(name); it != model_dirs_.end()) return it->second;
  // A name is one path component: no "..", no slashes, nothing hidden.
  if (repository_dir_.empty() || name.empty() || name[0] == '.' ||
      name.find('/') != std::string::npos) {
    return {};
  }
  return repository_dir_ / name;
}

Status ModelRepository::LoadAll() {
  std::vector<std::string> names;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, dir] : model_dirs_) names.push_back(name);
  }
  std::error_code ec;
  if (!repository_dir_.empty()) {
    if (!fs::is_directory(repository_dir_, ec)) {
      return Status::NotFound("model repository " + repository_dir_.string() + " does not exist");
    }
    for (const auto& e : fs::directory_iterator(repository_dir_, ec)) {
      std::string name = e.path().filename().string();
      if (e.is_directory() && name[0] != '.') names.push_back(name);
    }
  }
  Status first;
  for (const auto& name : names) {
    Status st = Load(name);
    if (!st.ok()) {
      SKIFF_LOG(Error) << "model " << name << ": " << st.message();
      if (first.ok()) first = st;
    }
  }
  return first;
}

Status ModelRepository::Load(const std::string& name, const Json& overrides) {
  std::lock_guard load_lock(load_mu_);
  fs::path dir = DirFor(name);
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) {
    return Status::NotFound("no model named \"" + name + "\" in the model repository");
  }
  {
    std::unique_lock lock(mu_);
    Entry& e = models_[name];
    if (!e.runner) e.state = ModelState::kLoading;  // a reload keeps serving the old runner
    e.unloaded = false;
  }
  ModelConfig config = defaults_;
  Status st;
  if (auto text = ReadFile((dir / "serving.json").string()); text.ok()) {
    auto j = ParseJson(*text);
    st = j.ok() ? ApplyModelConfig(*j, &config) : j.status();
    if (!st.ok()) st = Status::BadRequest((dir / "serving.json").string() + ": " + st.message());
  }
  if (st.ok()) st = ApplyModelConfig(overrides, &config);
  std::vector<std::unique_ptr<Model>> instances;
  for (int i = 0; st.ok() && i < config.batching.instances; ++i) {
    auto model = LoadModel(name, dir, config.model);
    if (!model.ok()) {
      st = model.status();
      break;
    }
    instances.push_back(std::move(*model));
  }
  std::shared_ptr<ModelRunner> old;
  {
    std::unique_lock lock(mu_);
    Entry& e = models_[name];
    if (st.ok()) {
      old = std::move(e.runner);
      e.runner = std::make_shared<ModelRunner>(std::move(instances), config.batching,
                                               metrics_->ForModel(name));
      e.state = ModelState::kReady;
      e.reason.clear();
    } else if (!e.runner) {
      e.state = ModelState::kUnavailable;
      e.reason = st.message();
    }
  }
  if (old) old->Stop();  // drains what it already accepted
  if (st.ok()) {
    SKIFF_LOG(Info) << "model " << name << " ready (" << dir.string() << ")";
  }
  return st;
}

Status ModelRepository::Unload(const std::string& name) {
  std::lock_guard load_lock(load_mu_);
  std::shared_ptr<ModelRunner> runner;
  {
    std::unique_lock lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end() || !it->second.runner) {
      return Status::NotFound("model \"" + name + "\" is not loaded");
    }
    runner = std::move(it->second.runner);
    it->second.state = ModelState::kUnavailable;
    it->second.reason = "unloaded";
    it->second.unloaded = true;
  }
  runner->Stop();
  SKIFF_LOG(Info) << "model " << name << " unloaded";
  return Status::Ok();
}

void ModelRepository::UnloadAll() {
  std::vector<std::shared_ptr<ModelRunner>> runners;
  {
    std::unique_lock lock(mu_);
    for (auto& [name, e] : models_) {
      if (e.runner) runners.push_back(std::move(e.runner));
      e.state = ModelState::kUnavailable;
      e.reason = "server shutting down";
    }
  }
  for (auto& r : runners) r->Stop();
}

StatusOr<std::shared_ptr<ModelRunner>> ModelRepository::Get(std::string_view name,
                                                            std::string_view version) const {
  std::shared_lock lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) {
    return Status::NotFound("model \"" + std::string(name) + "\" is not found");
  }
  if (!version.empty() && version != "1") {
    return Status::NotFound("model \"" + std::string(name) + "\" has no version \"" +
                            std::string(version) + "\" (available: 1)");
  }
  const Entry& e = it->second;
  if (e.state != ModelState::kReady || !e.runner) {
    return Status::Unavailable("model \"" + std::string(name) + "\" is not ready (" +
                               std::string(ModelStateName(e.state)) +
                               (e.reason.empty() ? "" : ": " + e.reason) + ")");
  }
  return e.runner;
}

std::vector<ModelIndexEntry> ModelRepository::Index() const {
  std::map<std::string, ModelIndexEntry> index;
  std::error_code ec;
  if (!repository_dir_.empty()) {
    for (const auto& e : fs::directory_iterator(repository_dir_, ec)) {
      std::string name = e.path().filename().string();
      if (e.is_directory() && name[0] != '.')
        index[name] = {name, "", ModelState::kUnavailable, "not loaded"};
    }
  }
  std::shared_lock lock(mu_);
  for (const auto& [name, dir] : model_dirs_) {
    index[name] = {name, "", ModelState::kUnavailable, "not loaded"};
  }
  for (const auto& [name, e] : models_) {
    index[name] = {name, e.state == ModelState::kReady ? "1" : "", e.state, e.reason};
  }
  std::vector<ModelIndexEntry> out;
  for (auto& [name, entry] : index) out.push_back(std::move(entry));
  return out;
}

bool ModelRepository::Ready() const {
  std::shared_lock lock(mu_);
  for (const auto& [name, e] : models_) {
    if (!e.unloaded && e.state != ModelState::kReady) return false;
  }
  return true;
}

}  // namespace skiff::serving
