// Shared by the client tests: an ObjectApi over a memory store with the built-in kinds, and a
// polling helper that waits generously instead of asserting on speed.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "api/resource.h"
#include "apiserver/object_api.h"
#include "client/client.h"
#include "client/inprocess_client.h"
#include "store/store.h"

namespace skiff::testing {

inline bool Eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// The in-process API: registry + memory store + ObjectApi + a Client, with namespace "default".
struct InProcessEnv {
  api::ResourceRegistry registry;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<apiserver::ObjectApi> api;
  std::unique_ptr<client::Client> client;

  explicit InProcessEnv(Clock* clock = Clock::Real()) {
    Status s = registry.LoadBuiltins();
    EXPECT_TRUE(s.ok()) << s.ToString();
    store = store::NewMemoryStore();
    api = std::make_unique<apiserver::ObjectApi>(&registry, store.get(), clock);
    client = client::NewInProcessClient(api.get(), {"system:test", {"system:masters"}});
    CreateNamespace("default");
  }

  void CreateNamespace(const std::string& name) {
    auto created = client->Create(
        {"", "v1", "namespaces"}, "",
        Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
    EXPECT_TRUE(created.ok()) << created.status().ToString();
  }
};

// A fresh directory under TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-client-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline const client::Resource kConfigMaps{"", "v1", "configmaps"};
inline const client::Resource kSecrets{"", "v1", "secrets"};
inline const client::Resource kNamespaces{"", "v1", "namespaces"};

inline Json ConfigMap(const std::string& name, const std::string& value = "v") {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}}},
              {"data", {{"key", value}}}};
}

}  // namespace skiff::testing
