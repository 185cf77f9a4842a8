#include "apiserver/table.h"

#include "apiserver/jsonpath.h"
#include "common/clock.h"

namespace skiff::apiserver {

namespace {

struct Column {
  std::string name;
  std::string type;
  std::string format;
  std::string description;
  int priority = 0;
};

using CellFn = std::function<Json(const Json& obj)>;

std::string Age(const Json& obj, std::chrono::system_clock::time_point now) {
  const Json* ts = FindPath(obj, "metadata.creationTimestamp");
  std::chrono::system_clock::time_point t;
  if (ts == nullptr || !ts->is_string() || !ParseRfc3339(ts->get<std::string>(), &t)) {
    return "<unknown>";
  }
  return HumanDuration(now - t);
}

std::string Str(const Json* v, const std::string& fallback = "") {
  if (v == nullptr || v->is_null()) return fallback;
  return v->is_string() ? v->get<std::string>() : v->dump();
}

// The kubectl pod STATUS column: the phase, overridden by the most telling container reason.
std::string PodStatus(const Json& pod) {
  std::string reason = Str(FindPath(pod, "status.phase"), "Pending");
  if (const Json* r = FindPath(pod, "status.reason"); r && r->is_string())
    reason = r->get<std::string>();
  auto container_reason = [](const Json& statuses, bool init, std::string* out) {
    if (!statuses.is_array()) return false;
    bool found = false;
    for (const Json& cs : statuses) {
      const Json* state = cs.contains("state") ? &cs["state"] : nullptr;
      if (!state) continue;
      if (state->contains("waiting")) {
        std::string r = (*state)["waiting"].value("reason", "");
        if (!r.empty() && r != "PodInitializing") {
          *out = init ? "Init:" + r : r;
          return true;
        }
      } else if (state->contains("terminated")) {
        const Json& t = (*state)["terminated"];
        if (init && t.value("exitCode", 0) == 0) continue;
        std::string r = t.value("reason", "");
        if (r.empty()) r = "ExitCode:" + std::to_string(t.value("exitCode", 0));
        *out = init ? "Init:" + r : r;
        found = true;
        if (!init) continue;  // a later container may say more
        return true;
      }
    }
    return found;
  };
  std::string r;
  if (const Json* init = FindPath(pod, "status.initContainerStatuses");
      init && container_reason(*init, true, &r)) {
    return r;
  }
  if (const Json* cs = FindPath(pod, "status.containerStatuses");
      cs && container_reason(*cs, false, &r)) {
    reason = r;
  }
  if (FindPath(pod, "metadata.deletionTimestamp")) reason = "Terminating";
  return reason;
}

void PodColumns(std::vector<Column>* cols, std::vector<CellFn>* cells) {
  cols->push_back({"Ready", "string", "", "The number of ready containers out of all containers."});
  cells->push_back([](const Json& pod) {
    int total = 0, ready = 0;
    if (const Json* spec = FindPath(pod, "spec.containers"); spec && spec->is_array())
      total = spec->size();
    if (const Json* cs = FindPath(pod, "status.containerStatuses"); cs && cs->is_array()) {
      for (const Json& c : *cs) ready += c.value("ready", false) ? 1 : 0;
    }
    return Json(std::to_string(ready) + "/" + std::to_string(total));
  });
  cols->push_back({"Status", "string", "", "The aggregate status of the containers in this pod."});
  cells->push_back([](const Json& pod) { return Json(PodStatus(pod)); });
  cols->push_back({"Restarts", "string", "", "The number of times the containers have restarted."});
  cells->push_back([](const Json& pod) {
    int64_t restarts = 0;
    if (const Json* cs = FindPath(pod, "status.containerStatuses"); cs && cs->is_array()) {
      for (const Json& c : *cs) restarts += c.value("restartCount", int64_t{0});
    }
    return Json(std::to_string(restarts));
  });
}

void PodWideColumns(std::vector<Column>* cols, std::vector<CellFn>* cells) {
  cols->push_back({"IP", "string", "", "The IP address assigned to the pod.", 1});
  cells->push_back(
      [](const Json& pod) { return Json(Str(FindPath(pod, "status.podIP"), "<none>")); });
  cols->push_back({"Node", "string", "", "The node the pod is bound to.", 1});
  cells->push_back(
      [](const Json& pod) { return Json(Str(FindPath(pod, "spec.nodeName"), "<none>")); });
}

// kubectl's node columns: STATUS from the Ready condition (plus SchedulingDisabled when
// cordoned), ROLES from node-role.kubernetes.io/<role> labels.
void NodeColumns(std::vector<Column>* cols, std::vector<CellFn>* cells,
                 std::chrono::system_clock::time_point now) {
  cols->push_back({"Status", "string", "", "The status of the node."});
  cells->push_back([](const Json& node) {
    std::string status = "Unknown";
    if (const Json* conds = FindPath(node, "status.conditions"); conds && conds->is_array()) {
      for (const Json& c : *conds) {
        if (c.value("type", "") != "Ready") continue;
        status = c.value("status", "") == "True" ? "Ready" : "NotReady";
      }
    }
    if (const Json* u = FindPath(node, "spec.unschedulable"); u && u->is_boolean() && *u) {
      status += ",SchedulingDisabled";
    }
    return Json(status);
  });
  cols->push_back({"Roles", "string", "", "The roles of the node."});
  cells->push_back([](const Json& node) {
    std::string roles;
    if (const Json* labels = FindPath(node, "metadata.labels"); labels && labels->is_object()) {
      static const std::string kPrefix = "node-role.kubernetes.io/";
      for (auto& [k, v] : labels->items()) {
        if (k.rfind(kPrefix, 0) == 0 && k.size() > kPrefix.size()) {
          roles += (roles.empty() ? "" : ",") + k.substr(kPrefix.size());
        }
      }
    }
    return Json(roles.empty() ? "<none>" : roles);
  });
  cols->push_back({"Age", "string", "", "Time since creation."});
  cells->push_back([now](const Json& o) { return Json(Age(o, now)); });
  cols->push_back({"Version", "string", "", "Kubelet version reported by the node."});
  cells->push_back(
      [](const Json& node) { return Json(Str(FindPath(node, "status.nodeInfo.kubeletVersion"))); });
}

void NodeWideColumns(std::vector<Column>* cols, std::vector<CellFn>* cells) {
  auto address = [](const char* type) {
    return [type](const Json& node) {
      if (const Json* addrs = FindPath(node, "status.addresses"); addrs && addrs->is_array()) {
        for (const Json& a : *addrs) {
          if (a.value("type", "") == type) return Json(a.value("address", ""));
        }
      }
      return Json("<none>");
    };
  };
  cols->push_back({"Internal-IP", "string", "", "List of internal IPs.", 1});
  cells->push_back(address("InternalIP"));
  cols->push_back({"External-IP", "string", "", "List of external IPs.", 1});
  cells->push_back(address("ExternalIP"));
  for (auto [name, path] :
       {std::pair{"OS-Image", "status.nodeInfo.osImage"},
        std::pair{"Kernel-Version", "status.nodeInfo.kernelVersion"},
        std::pair{"Container-Runtime", "status.nodeInfo.containerRuntimeVersion"}}) {
    cols->push_back({name, "string", "", name, 1});
    const std::string p = path;
    cells->push_back([p](const Json& node) { return Json(Str(FindPath(node, p), "<unknown>")); });
  }
}

size_t MapSize(const Json& obj, const char* a, const char* b = nullptr) {
  size_t n = 0;
  for (const char* f : {a, b}) {
    if (f == nullptr) continue;
    if (const Json* d = FindPath(obj, f); d && d->is_object()) n += d->size();
  }
  return n;
}

Json CellFromPath(const Json& obj, const api::PrinterColumn& pc,
                  std::chrono::system_clock::time_point now) {
  auto values = EvalJsonPath(obj, pc.json_path);
  if (values.empty() || values[0].is_null()) return nullptr;
  const Json& v = values.size() == 1 ? values[0] : Json(values);
  if (pc.type == "date" && v.is_string()) {
    std::chrono::system_clock::time_point t;
    if (ParseRfc3339(v.get<std::string>(), &t)) return HumanDuration(now - t);
    return v;
  }
  if (pc.type == "integer" && v.is_number()) return v.get<int64_t>();
  if (pc.type == "number" && v.is_number()) return v;
  if (pc.type == "boolean" && v.is_boolean()) return v;
  if (values.size() > 1) {
    std::string joined;
    for (const Json& x : values) {
      if (!joined.empty()) joined += ",";
      joined += x.is_string() ? x.get<std::string>() : x.dump();
    }
    return joined;
  }
  if (v.is_string()) return v;
  return v.dump();
}

}  // namespace

Json ToTable(const api::ResourceInfo& res, const std::vector<Json>& objects,
             const Json& list_metadata, const TableOptions& options) {
  std::vector<Column> cols = {
      {"Name", "string", "name", "Name must be unique within a namespace."}};
  std::vector<CellFn> cells = {
      [](const Json& o) { return Json(Str(FindPath(o, "metadata.name"))); }};
  const auto now = options.now;
  bool has_age = false;

  const bool core = res.group.empty();
  // Kinds with a printer here print exactly kubectl's columns; their definitions' columns would
  // repeat them.
  bool builtin_printer = true;
  if (core && res.kind == "Pod") {
    PodColumns(&cols, &cells);
  } else if (core && res.kind == "Node") {
    NodeColumns(&cols, &cells, now);
    has_age = true;
  } else if (core && res.kind == "ConfigMap") {
    cols.push_back({"Data", "string", "", "Number of data entries."});
    cells.push_back(
        [](const Json& o) { return Json(std::to_string(MapSize(o, "data", "binaryData"))); });
  } else if (core && res.kind == "Secret") {
    cols.push_back({"Type", "string", "", "The type of the secret."});
    cells.push_back([](const Json& o) { return Json(Str(FindPath(o, "type"), "Opaque")); });
    cols.push_back({"Data", "string", "", "Number of data entries."});
    cells.push_back([](const Json& o) { return Json(std::to_string(MapSize(o, "data"))); });
  } else if (core && res.kind == "ResourceQuota") {
    cols.push_back({"Age", "string", "", "Time since creation."});
    cells.push_back([now](const Json& o) { return Json(Age(o, now)); });
    has_age = true;
    auto usage = [](const Json& o, bool limits) {
      std::string out;
      const Json* hard = FindPath(o, "status.hard");
      if (!hard || !hard->is_object()) hard = FindPath(o, "spec.hard");
      const Json* used = FindPath(o, "status.used");
      if (!hard || !hard->is_object()) return Json("");
      for (auto& [k, v] : hard->items()) {
        bool is_limit = k.rfind("limits.", 0) == 0;
        if (is_limit != limits) continue;
        std::string u = used && used->contains(k) ? Str(&(*used)[k]) : "0";
        if (!out.empty()) out += ", ";
        out += k + ": " + u + "/" + Str(&v);
      }
      return Json(out);
    };
    cols.push_back({"Request", "string", "", "Request usage against hard limits."});
    cells.push_back([usage](const Json& o) { return usage(o, false); });
    cols.push_back({"Limit", "string", "", "Limit usage against hard limits."});
    cells.push_back([usage](const Json& o) { return usage(o, true); });
  } else {
    builtin_printer = false;
  }

  for (const api::PrinterColumn& pc :
       builtin_printer ? std::vector<api::PrinterColumn>{} : res.columns) {
    if (pc.name == "Age") has_age = true;
    cols.push_back(
        {pc.name, pc.type == "date" ? "string" : pc.type, pc.format, pc.description, pc.priority});
    api::PrinterColumn copy = pc;
    cells.push_back([copy, now](const Json& o) { return CellFromPath(o, copy, now); });
  }
  // As for CRDs on a cluster: Age is the default column, shown when a kind declares none.
  if (!has_age && (builtin_printer || res.columns.empty())) {
    cols.push_back({"Age", "string", "", "Time since the object was created."});
    cells.push_back([now](const Json& o) { return Json(Age(o, now)); });
  }
  if (core && res.kind == "Pod") PodWideColumns(&cols, &cells);
  if (core && res.kind == "Node") NodeWideColumns(&cols, &cells);

  Json column_defs = Json::array();
  for (const Column& c : cols) {
    column_defs.push_back({{"name", c.name},
                           {"type", c.type},
                           {"format", c.format},
                           {"description", c.description},
                           {"priority", c.priority}});
  }
  Json rows = Json::array();
  for (const Json& obj : objects) {
    Json row_cells = Json::array();
    for (const CellFn& fn : cells) row_cells.push_back(fn(obj));
    Json row = {{"cells", row_cells}};
    if (options.full_object) {
      row["object"] = obj;
    } else if (options.include_object) {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", obj.value("metadata", Json::object())}};
    }
    rows.push_back(std::move(row));
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", list_metadata},
          {"columnDefinitions", column_defs},
          {"rows", rows}};
}

}  // namespace skiff::apiserver
