// The model repository: which models the server knows, their state, and the runner serving each.
// Models come from `--model-dir` (one named directory) and `--model-repository` (one subdirectory
// per model); they are loaded at start-up and loaded, reloaded or unloaded at run time.
//
// A directory may hold `serving.json` to override the server's defaults for that model:
//   {"instances": 2, "max_batch_size": 32, "max_queue_delay_us": 500, "threads": 1}
// and a load request's "parameters" may carry the same keys (they win over the file).
//
// Thread-safe. Lookups take a shared lock and return a shared_ptr, so a model unloaded meanwhile
// finishes the requests already handed to it (its runner drains) and is freed with the last one.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "serving/batcher.h"
#include "serving/metrics.h"
#include "serving/model.h"

namespace skiff::serving {

struct ModelConfig {
  BatchingOptions batching;
  ModelOptions model;
};

// Applies the keys above from `j` (an object) to `config`; unknown keys and bad values are errors.
Status ApplyModelConfig(const Json& j, ModelConfig* config);

enum class ModelState { kLoading, kReady, kUnavailable };
std::string_view ModelStateName(ModelState state);  // "LOADING", "READY", "UNAVAILABLE"

struct ModelIndexEntry {
  std::string name;
  std::string version;
  ModelState state = ModelState::kUnavailable;
  std::string reason;
};

class ModelRepository {
 public:
  // `repository_dir` may be empty (only added model dirs are served). `metrics` outlives this.
  ModelRepository(std::filesystem::path repository_dir, ModelConfig defaults, Metrics* metrics);
  ~ModelRepository();

  // Serves the model in `dir` under `name` (the --model-dir case); Load(name) reads it from there.
  void AddModelDir(const std::string& name, std::filesystem::path dir);
  // Loads every added model and every subdirectory of the repository. Errors are kept per model
  // (the index shows them); the first one is returned.
  Status LoadAll();
  // Loads or reloads `name`, blocking until its instances are ready; the previous runner keeps
  // serving until the new one is in place. `overrides` is a load request's parameters.
  Status Load(const std::string& name, const Json& overrides = Json::object());
  // Stops serving `name`; requests already queued finish. NotFound if it is not loaded.
  Status Unload(const std::string& name);
  // Unloads everything (server shutdown).
  void UnloadAll();

  // The runner for `name`: NotFound when unknown (or the version is not "1"), Unavailable while
  // loading or after a failed load or an unload.
  StatusOr<std::shared_ptr<ModelRunner>> Get(std::string_view name,
                                             std::string_view version = {}) const;
  // Every known model and every subdirectory of the repository, by name.
  std::vector<ModelIndexEntry> Index() const;
  // True when every model that was asked to load (and not unloaded since) is ready.
  bool Ready() const;

 private:
  struct Entry {
    ModelState state = ModelState::kUnavailable;
    std::string reason;
    bool unloaded = false;  // by request, so it does not make the server unready
    std::shared_ptr<ModelRunner> runner;
  };
  std::filesystem::path DirFor(const std::string& name) const;

  const std::filesystem::path repository_dir_;
  const ModelConfig defaults_;
  Metrics* metrics_;
  std::mutex load_mu_;  // one load or unload at a time
  mutable std::shared_mutex mu_;
  std::map<std::string, std::filesystem::path> model_dirs_;  // guarded by mu_
  std::map<std::string, Entry, std::less<>> models_;         // guarded by mu_
};

}  // namespace skiff::serving
