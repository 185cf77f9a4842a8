// Reads the upstream training-operator env contract; see dist_env.h.
#include "ml/dist_env.h"

#include <cstdlib>

#include "common/json.h"

namespace skiff::ml {
namespace {

StatusOr<int> ParseInt(const char* name, const char* value, int min, int max) {
  std::string v = value ? value : "";
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < min || n > max) {
    return Status::BadRequest(std::string(name) + " must be an integer in [" + std::to_string(min) +
                              ", " + std::to_string(max) + "], got \"" + v + "\"");
  }
  return static_cast<int>(n);
}

Status SplitHostPort(const std::string& addr, std::string* host, int* port) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos)
    return Status::BadRequest("TF_CONFIG address without port: " + addr);
  *host = addr.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  auto p = ParseInt("TF_CONFIG port", addr.substr(colon + 1).c_str(), 1, 65535);
  if (!p.ok()) return p.status();
  *port = *p;
  return Status::Ok();
}

StatusOr<DistConfig> FromTfConfig(const std::string& text) {
  auto doc = ParseJson(text);
  if (!doc.ok()) return Status::BadRequest("TF_CONFIG is not JSON: " + doc.status().message());
  const Json& j = *doc;
  if (!j.is_object() || !j.contains("cluster") || !j["cluster"].is_object()) {
    return Status::BadRequest("TF_CONFIG has no cluster object");
  }
  const Json& cluster = j["cluster"];
  auto members = [&](const char* role) {
    std::vector<std::string> out;
    if (cluster.contains(role) && cluster[role].is_array()) {
      for (const auto& a : cluster[role]) {
        if (a.is_string()) out.push_back(a.get<std::string>());
      }
    }
    return out;
  };
  auto chief = members("chief"), master = members("master"), workers = members("worker");
  auto ps = members("ps");
  // Older TFJobs call the chief "master".
  chief.insert(chief.end(), master.begin(), master.end());
  if (chief.size() > 1) return Status::BadRequest("TF_CONFIG lists more than one chief");
  std::string type;
  int index = 0;
  try {
    type = j.at("task").at("type").get<std::string>();
    index = j.at("task").value("index", 0);
  } catch (const std::exception&) {
    return Status::BadRequest("TF_CONFIG has no task.type/task.index");
  }
  DistConfig c;
  c.source = "tf_config";
  c.num_ps = static_cast<int>(ps.size());
  c.world_size = static_cast<int>(chief.size() + workers.size() + ps.size());
  if (chief.empty() && workers.empty()) {
    return Status::BadRequest("TF_CONFIG lists no chief or worker to train");
  }
  if (type == "chief" || type == "master") {
    if (index != 0 || chief.empty()) return Status::BadRequest("TF_CONFIG task is not in cluster");
    c.rank = 0;
  } else if (type == "worker") {
    if (index < 0 || index >= static_cast<int>(workers.size())) {
      return Status::BadRequest("TF_CONFIG task worker " + std::to_string(index) +
                                " is not in cluster.worker");
    }
    c.rank = static_cast<int>(chief.size()) + index;
  } else if (type == "ps") {
    if (index < 0 || index >= c.num_ps) {
      return Status::BadRequest("TF_CONFIG task ps " + std::to_string(index) +
                                " is not in cluster.ps");
    }
    c.rank = c.trainers() + index;
  } else {
    return Status::BadRequest("TF_CONFIG task type \"" + type +
                              "\" is not supported by skiff-ml (chief, worker and ps are)");
  }
  SKIFF_RETURN_IF_ERROR(
      SplitHostPort(chief.empty() ? workers.at(0) : chief[0], &c.master_addr, &c.master_port));
  return c;
}

}  // namespace

StatusOr<DistConfig> DistConfigFromEnv(const GetEnv& getenv) {
  if (const char* tf = getenv("TF_CONFIG"); tf && *tf) return FromTfConfig(tf);
  const char* world = getenv("WORLD_SIZE");
  DistConfig c;
  if (world == nullptr || *world == '\0') return c;
  auto w = ParseInt("WORLD_SIZE", world, 1, 65536);
  if (!w.ok()) return w.status();
  c.world_size = *w;
  if (c.world_size == 1) return c;
  c.source = "pytorchjob";
  auto r = ParseInt("RANK", getenv("RANK"), 0, c.world_size - 1);
  if (!r.ok()) return r.status();
  c.rank = *r;
  const char* addr = getenv("MASTER_ADDR");
  if (addr == nullptr || *addr == '\0') {
    return Status::BadRequest("WORLD_SIZE > 1 but MASTER_ADDR is not set");
  }
  c.master_addr = addr;
  auto p = ParseInt("MASTER_PORT", getenv("MASTER_PORT"), 1, 65535);
  if (!p.ok()) return p.status();
  c.master_port = *p;
  return c;
}

StatusOr<DistConfig> DistConfigFromEnv() {
  return DistConfigFromEnv([](const char* name) { return std::getenv(name); });
}

}  // namespace skiff::ml
