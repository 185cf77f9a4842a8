// Options of the API verbs, shared by the API server's ObjectApi and every Client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace skiff::api {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;  // "" latest, "0" any
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" or "0": start with ADDED for every current object
  bool allow_bookmarks = false;
  int64_t timeout_seconds = 0;  // 0: until stopped
  bool send_initial_events = false;
};

struct WriteOptions {
  std::string field_manager;
  bool dry_run = false;
  std::string field_validation;  // Ignore, Warn, Strict
  bool force = false;            // server-side apply: take ownership on conflicts
};

struct DeleteOptions {
  std::string propagation_policy;  // Orphan, Background, Foreground
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;
  std::string precondition_resource_version;
  bool dry_run = false;
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

}  // namespace skiff::api
