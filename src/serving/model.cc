// The backend registry; see model.h.
#include "serving/model.h"

#include <mutex>

namespace skiff::serving {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

std::vector<Backend>& Registry() {
  static std::vector<Backend> backends;
  return backends;
}

}  // namespace

void RegisterBackend(Backend backend) {
  std::lock_guard lock(RegistryMutex());
  for (auto& b : Registry()) {
    if (b.name == backend.name) {
      b = std::move(backend);
      return;
    }
  }
  Registry().push_back(std::move(backend));
}

std::vector<std::string> BackendNames() {
  std::lock_guard lock(RegistryMutex());
  std::vector<std::string> names;
  for (const auto& b : Registry()) names.push_back(b.name);
  return names;
}

StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& name,
                                           const std::filesystem::path& dir,
                                           const ModelOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::NotFound("model directory " + dir.string() + " does not exist");
  }
  std::vector<Backend> backends;
  {
    std::lock_guard lock(RegistryMutex());
    backends = Registry();
  }
  std::string names;
  for (const auto& b : backends) {
    if (b.detect(dir)) return b.load(name, dir, options);
    names += (names.empty() ? "" : ", ") + b.name;
  }
  return Status::BadRequest("no backend recognises the model in " + dir.string() +
                            " (backends: " + names +
                            "; pytorch wants model.pt with model_card.json, xgboost model.json)");
}

}  // namespace skiff::serving
