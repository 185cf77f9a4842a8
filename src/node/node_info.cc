// Machine facts and the Node and Lease objects built from them.
#include "node/node_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/clock.h"

namespace skiff::node {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool OnPath(const std::string& name) {
  const char* path = getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string GoArch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine.size() == 4 && machine[0] == 'i' && machine.substr(2) == "86") return "386";
  if (machine.rfind("armv", 0) == 0) return "arm";
  return machine;
}

}  // namespace

MachineInfo DetectMachine() {
  MachineInfo m;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  m.cpus = cpus > 0 ? static_cast<int>(cpus) : 1;
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      m.memory_bytes = std::stoll(Trim(line.substr(9))) * 1024;  // "<n> kB"
      break;
    }
  }
  std::ifstream osr("/etc/os-release");
  while (std::getline(osr, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
      m.os_image = v;
    }
  }
  if (m.os_image.empty()) m.os_image = "Linux";
  utsname u{};
  if (uname(&u) == 0) {
    m.kernel_version = u.release;
    m.architecture = GoArch(u.machine);
  }
  if (OnPath("nvidia-smi")) {
    FILE* p = popen("nvidia-smi --query-gpu=index,uuid --format=csv,noheader 2>/dev/null", "r");
    if (p != nullptr) {
      char buf[512];
      while (fgets(buf, sizeof(buf), p) != nullptr) {
        std::string l = Trim(buf);
        auto comma = l.find(',');
        if (comma == std::string::npos) continue;
        m.gpus.push_back(Trim(l.substr(comma + 1)));
      }
      pclose(p);
    }
  }
  return m;
}

std::string DefaultNodeName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string name = buf;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return name;
}

Json NodeObject(const std::string& name, const MachineInfo& m, const std::string& sandbox_mode,
                std::chrono::system_clock::time_point now) {
  const std::string ts = FormatRfc3339(now);
  Json resources = {{"cpu", std::to_string(m.cpus)},
                    {"memory", std::to_string(m.memory_bytes / 1024) + "Ki"},
                    {"pods", std::to_string(m.max_pods)},
                    {"ephemeral-storage", "0"}};
  resources.erase("ephemeral-storage");
  if (!m.gpus.empty()) resources["nvidia.com/gpu"] = std::to_string(m.gpus.size());
  auto condition = [&](const char* type, const char* status, const char* reason,
                       const char* message) {
    return Json{{"type", type},       {"status", status},        {"reason", reason},
                {"message", message}, {"lastHeartbeatTime", ts}, {"lastTransitionTime", ts}};
  };
  Json conditions = Json::array(
      {condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                 "kubelet has sufficient memory available"),
       condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                 "kubelet has no disk pressure"),
       condition("PIDPressure", "False", "KubeletHasSufficientPID",
                 "kubelet has sufficient PID available"),
       condition("Ready", "True", "KubeletReady", "skiff node agent is posting ready status")});
  return Json{{"apiVersion", "v1"},
              {"kind", "Node"},
              {"metadata",
               {{"name", name},
                {"labels",
                 {{"kubernetes.io/hostname", name},
                  {"kubernetes.io/os", "linux"},
                  {"kubernetes.io/arch", m.architecture},
                  {"beta.kubernetes.io/os", "linux"},
                  {"beta.kubernetes.io/arch", m.architecture}}}}},
              {"spec", Json::object()},
              {"status",
               {{"capacity", resources},
                {"allocatable", resources},
                {"conditions", conditions},
                {"addresses", Json::array({{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
                                           {{"type", "Hostname"}, {"address", name}}})},
                {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 0}}}}},
                {"nodeInfo",
                 {{"machineID", ""},
                  {"systemUUID", ""},
                  {"bootID", ""},
                  {"kernelVersion", m.kernel_version},
                  {"osImage", m.os_image},
                  {"containerRuntimeVersion", "skiff://" + sandbox_mode},
                  {"kubeletVersion", "v1.32.0"},
                  {"kubeProxyVersion", "v1.32.0"},
                  {"operatingSystem", "linux"},
                  {"architecture", m.architecture}}}}}};
}

bool MergeNodeStatus(const Json& desired, Json* live) {
  auto strip_times = [](Json status) {
    if (status.contains("conditions")) {
      for (Json& c : status["conditions"]) {
        c.erase("lastHeartbeatTime");
        c.erase("lastTransitionTime");
      }
    }
    return status;
  };
  Json old_status = live->value("status", Json::object());
  Json old_labels = (*live)["metadata"].value("labels", Json::object());
  Json status = desired["status"];
  for (Json& c : status["conditions"]) {
    for (const Json& oc : old_status.value("conditions", Json::array())) {
      if (oc.value("type", "") == c.value("type", "") &&
          oc.value("status", "") == c.value("status", "") && oc.contains("lastTransitionTime")) {
        c["lastTransitionTime"] = oc["lastTransitionTime"];
      }
    }
  }
  Json labels = old_labels;
  for (auto it = desired["metadata"]["labels"].begin(); it != desired["metadata"]["labels"].end();
       ++it) {
    labels[it.key()] = *it;
  }
  bool changed = strip_times(old_status) != strip_times(status) || labels != old_labels;
  (*live)["status"] = status;
  (*live)["metadata"]["labels"] = labels;
  return changed;
}

Json NodeLease(const std::string& node_name, std::chrono::system_clock::time_point now) {
  return Json{{"apiVersion", "coordination.k8s.io/v1"},
              {"kind", "Lease"},
              {"metadata", {{"name", node_name}, {"namespace", "kube-node-lease"}}},
              {"spec",
               {{"holderIdentity", node_name},
                {"leaseDurationSeconds", 40},
                {"renewTime", FormatRfc3339Micro(now)}}}};
}

}  // namespace skiff::node
