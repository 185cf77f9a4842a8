// Translations from Pod spec to container environment, volume files and hosts entries.
#include "node/pod_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/encoding.h"

namespace skiff::node {
namespace {

std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

const Json& Field(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

bool Bool(const Json& obj, const char* key) {
  const Json& v = Field(obj, key);
  return v.is_boolean() && v.get<bool>();
}

// Formats a number the way Kubernetes prints integral quantities.
std::string FormatInt(double v) {
  std::ostringstream out;
  out << static_cast<int64_t>(v);
  return out.str();
}

// "$(VAR)" expansion over already defined variables; "$$" escapes; unknown references stay.
std::string Expand(const std::string& in, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '$' && i + 1 < in.size()) {
      if (in[i + 1] == '$') {
        out += '$';
        ++i;
        continue;
      }
      if (in[i + 1] == '(') {
        size_t close = in.find(')', i + 2);
        if (close != std::string::npos) {
          std::string name = in.substr(i + 2, close - i - 2);
          auto it = vars.find(name);
          if (it != vars.end()) {
            out += it->second;
            i = close;
            continue;
          }
        }
      }
    }
    out += in[i];
  }
  return out;
}

// Ordered environment: a later Set replaces an earlier value in place.
class EnvList {
 public:
  void Set(const std::string& name, const std::string& value) {
    auto it = index_.find(name);
    if (it != index_.end()) {
      entries_[it->second].second = value;
    } else {
      index_[name] = entries_.size();
      entries_.emplace_back(name, value);
    }
    values_[name] = value;
  }
  const std::map<std::string, std::string>& values() const { return values_; }
  std::vector<std::string> Render() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [k, v] : entries_) out.push_back(k + "=" + v);
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> values_;
};

// The data of a ConfigMap or Secret as plain strings (Secret data is base64).
std::map<std::string, std::string> DataOf(const Json& obj, bool secret) {
  std::map<std::string, std::string> out;
  const Json& data = Field(obj, "data");
  if (data.is_object()) {
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (!it->is_string()) continue;
      if (secret) {
        auto decoded = Base64Decode(it->get<std::string>());
        out[it.key()] = decoded ? *decoded : "";
      } else {
        out[it.key()] = it->get<std::string>();
      }
    }
  }
  const Json& binary = Field(obj, "binaryData");
  if (!secret && binary.is_object()) {
    for (auto it = binary.begin(); it != binary.end(); ++it) {
      if (!it->is_string()) continue;
      auto decoded = Base64Decode(it->get<std::string>());
      out[it.key()] = decoded ? *decoded : "";
    }
  }
  if (secret) {
    // stringData is write-only upstream, but a store that kept it is honoured.
    const Json& sd = Field(obj, "stringData");
    if (sd.is_object()) {
      for (auto it = sd.begin(); it != sd.end(); ++it) {
        if (it->is_string()) out[it.key()] = it->get<std::string>();
      }
    }
  }
  return out;
}

StatusOr<Json> Lookup(ObjectSource* source, bool secret, const std::string& ns,
                      const std::string& name) {
  return secret ? source->Secret(ns, name) : source->ConfigMap(ns, name);
}

std::string NotFoundMessage(bool secret, const std::string& name) {
  return std::string(secret ? "secret" : "configmap") + " \"" + name + "\" not found";
}

int ModeOf(const Json& v, int fallback) {
  if (v.is_number_integer()) return v.get<int>() & 07777;
  return fallback;
}

const Json* FindContainer(const Json& pod, const std::string& name) {
  const Json& spec = Field(pod, "spec");
  for (const char* list : {"containers", "initContainers"}) {
    const Json& cs = Field(spec, list);
    if (!cs.is_array()) continue;
    for (const Json& c : cs) {
      if (Str(c, "name") == name) return &c;
    }
  }
  return nullptr;
}

// Labels or annotations in the downward API's file format: key="value" lines, sorted.
std::string MapLines(const Json& m) {
  std::string out;
  if (!m.is_object()) return out;
  std::map<std::string, std::string> sorted;
  for (auto it = m.begin(); it != m.end(); ++it) {
    sorted[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  }
  for (const auto& [k, v] : sorted) out += k + "=" + Json(v).dump() + "\n";
  return out;
}

}  // namespace

std::optional<double> ParseQuantity(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t pos = 0;
  while (pos < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.' ||
          ((text[pos] == '+' || text[pos] == '-') && pos == 0))) {
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  char* end = nullptr;
  std::string number = text.substr(0, pos);
  double v = std::strtod(number.c_str(), &end);
  if (end == number.c_str()) return std::nullopt;
  std::string suffix = text.substr(pos);
  static const std::map<std::string, double> kSuffix = {{"", 1},
                                                        {"m", 1e-3},
                                                        {"k", 1e3},
                                                        {"M", 1e6},
                                                        {"G", 1e9},
                                                        {"T", 1e12},
                                                        {"P", 1e15},
                                                        {"E", 1e18},
                                                        {"n", 1e-9},
                                                        {"u", 1e-6},
                                                        {"Ki", 1024.0},
                                                        {"Mi", 1048576.0},
                                                        {"Gi", 1073741824.0},
                                                        {"Ti", 1099511627776.0},
                                                        {"Pi", 1125899906842624.0},
                                                        {"Ei", 1152921504606846976.0}};
  auto it = kSuffix.find(suffix);
  if (it != kSuffix.end()) return v * it->second;
  if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E')) {
    char* e = nullptr;
    long exp = std::strtol(suffix.c_str() + 1, &e, 10);
    if (*e == '\0') return v * std::pow(10.0, static_cast<double>(exp));
  }
  return std::nullopt;
}

std::optional<double> QuantityOf(const Json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) return ParseQuantity(value.get<std::string>());
  return std::nullopt;
}

std::string QosClass(const Json& pod) {
  bool any = false;
  bool guaranteed = true;
  const Json& spec = Field(pod, "spec");
  for (const char* list : {"containers", "initContainers"}) {
    const Json& cs = Field(spec, list);
    if (!cs.is_array()) continue;
    for (const Json& c : cs) {
      const Json& res = Field(c, "resources");
      const Json& limits = Field(res, "limits");
      const Json& requests = Field(res, "requests");
      for (const char* r : {"cpu", "memory"}) {
        auto l = QuantityOf(Field(limits, r));
        auto q = QuantityOf(Field(requests, r));
        if ((l && *l != 0) || (q && *q != 0)) any = true;
        if (!l) {
          guaranteed = false;
        } else if (q && *q != *l) {
          guaranteed = false;
        }
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

StatusOr<std::string> FieldRefValue(const Json& pod, const std::string& path,
                                    const EnvContext& ctx) {
  const Json& meta = Field(pod, "metadata");
  const Json& spec = Field(pod, "spec");
  if (path == "metadata.name") return Str(meta, "name");
  if (path == "metadata.namespace") return Str(meta, "namespace");
  if (path == "metadata.uid") return Str(meta, "uid");
  if (path == "spec.nodeName") return Str(spec, "nodeName");
  if (path == "spec.serviceAccountName") {
    std::string sa = Str(spec, "serviceAccountName");
    return sa.empty() ? std::string("default") : sa;
  }
  if (path == "status.podIP" || path == "status.podIPs") return ctx.pod_ip;
  if (path == "status.hostIP" || path == "status.hostIPs") return ctx.host_ip;
  if (path == "metadata.labels") return MapLines(Field(meta, "labels"));
  if (path == "metadata.annotations") return MapLines(Field(meta, "annotations"));
  for (const char* prefix : {"metadata.labels", "metadata.annotations"}) {
    std::string p = prefix;
    if (path.rfind(p + "[", 0) == 0 && path.size() > p.size() + 4 && path.back() == ']') {
      std::string key = path.substr(p.size() + 1, path.size() - p.size() - 2);
      if (key.size() >= 2 && (key.front() == '\'' || key.front() == '"')) {
        key = key.substr(1, key.size() - 2);
      }
      return Str(Field(meta, p == "metadata.labels" ? "labels" : "annotations"), key.c_str());
    }
  }
  return Status::Invalid("unsupported fieldPath: \"" + path + "\"");
}

StatusOr<std::string> ResourceFieldRefValue(const Json& pod, const Json& container, const Json& ref,
                                            const EnvContext& ctx) {
  const Json* target = &container;
  std::string cname = Str(ref, "containerName");
  if (!cname.empty()) {
    target = FindContainer(pod, cname);
    if (target == nullptr) return Status::Invalid("container \"" + cname + "\" not found");
  }
  std::string resource = Str(ref, "resource");
  auto dot = resource.find('.');
  if (dot == std::string::npos) return Status::Invalid("unsupported resource \"" + resource + "\"");
  std::string kind = resource.substr(0, dot);  // limits | requests
  std::string name = resource.substr(dot + 1);
  const Json& res = Field(*target, "resources");
  auto value = QuantityOf(Field(Field(res, kind.c_str()), name.c_str()));
  if (!value && kind == "requests") value = QuantityOf(Field(Field(res, "limits"), name.c_str()));
  if (!value) {
    if (name == "cpu") {
      value = kind == "limits" ? ctx.node_cpu : 0.0;
    } else if (name == "memory") {
      value = kind == "limits" ? ctx.node_memory : 0.0;
    } else {
      value = 0.0;
    }
  }
  double divisor = 1;
  if (auto d = QuantityOf(Field(ref, "divisor")); d && *d > 0) divisor = *d;
  // Upstream rounds up to the next integer (at least 1 for cpu).
  double out = std::ceil(*value / divisor);
  if (name == "cpu" && out < 1) out = 1;
  return FormatInt(out);
}

StatusOr<std::vector<std::string>> BuildEnv(const Json& pod, const Json& container,
                                            const std::vector<std::string>& base,
                                            const EnvContext& ctx, ObjectSource* source,
                                            ConfigError* config_error) {
  const std::string ns = Str(Field(pod, "metadata"), "namespace");
  EnvList env;
  for (const std::string& kv : base) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env.Set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  const Json& env_from = Field(container, "envFrom");
  if (env_from.is_array()) {
    for (const Json& from : env_from) {
      std::string prefix = Str(from, "prefix");
      bool secret = from.contains("secretRef");
      const Json& ref = Field(from, secret ? "secretRef" : "configMapRef");
      if (!ref.is_object()) continue;
      std::string name = Str(ref, "name");
      auto obj = Lookup(source, secret, ns, name);
      if (!obj.ok()) {
        if (Bool(ref, "optional")) continue;
        config_error->message = obj.status().code() == Code::kNotFound
                                    ? NotFoundMessage(secret, name)
                                    : obj.status().message();
        return Status::NotFound(config_error->message);
      }
      for (const auto& [k, v] : DataOf(*obj, secret)) env.Set(prefix + k, v);
    }
  }
  const Json& vars = Field(container, "env");
  if (vars.is_array()) {
    for (const Json& var : vars) {
      std::string name = Str(var, "name");
      if (name.empty()) continue;
      if (var.contains("value") || !var.contains("valueFrom")) {
        env.Set(name, Expand(Str(var, "value"), env.values()));
        continue;
      }
      const Json& from = Field(var, "valueFrom");
      if (from.contains("fieldRef")) {
        auto v = FieldRefValue(pod, Str(Field(from, "fieldRef"), "fieldPath"), ctx);
        if (!v.ok()) {
          config_error->message = v.status().message();
          return v.status();
        }
        env.Set(name, *v);
      } else if (from.contains("resourceFieldRef")) {
        auto v = ResourceFieldRefValue(pod, container, Field(from, "resourceFieldRef"), ctx);
        if (!v.ok()) {
          config_error->message = v.status().message();
          return v.status();
        }
        env.Set(name, *v);
      } else if (from.contains("configMapKeyRef") || from.contains("secretKeyRef")) {
        bool secret = from.contains("secretKeyRef");
        const Json& ref = Field(from, secret ? "secretKeyRef" : "configMapKeyRef");
        std::string obj_name = Str(ref, "name");
        std::string key = Str(ref, "key");
        auto obj = Lookup(source, secret, ns, obj_name);
        if (!obj.ok()) {
          if (Bool(ref, "optional")) continue;
          config_error->message = obj.status().code() == Code::kNotFound
                                      ? NotFoundMessage(secret, obj_name)
                                      : obj.status().message();
          return Status::NotFound(config_error->message);
        }
        auto data = DataOf(*obj, secret);
        auto it = data.find(key);
        if (it == data.end()) {
          if (Bool(ref, "optional")) continue;
          config_error->message = "couldn't find key " + key + " in " +
                                  (secret ? "Secret " : "ConfigMap ") + ns + "/" + obj_name;
          return Status::NotFound(config_error->message);
        }
        env.Set(name, it->second);
      }
    }
  }
  return env.Render();
}

std::vector<VolumeFile> VolumeFiles(const Json& pod, const Json& volume, const EnvContext& ctx,
                                    ObjectSource* source, ConfigError* config_error) {
  std::vector<VolumeFile> files;
  const std::string ns = Str(Field(pod, "metadata"), "namespace");

  // configMap / secret source (also used by projected sources, whose defaultMode is the parent's).
  auto add_object = [&](const Json& src, bool secret, int default_mode) -> bool {
    std::string name = Str(src, secret ? "secretName" : "name");
    if (secret && name.empty()) name = Str(src, "name");  // projected secrets use `name`
    auto obj = Lookup(source, secret, ns, name);
    if (!obj.ok()) {
      if (Bool(src, "optional")) return true;
      config_error->message = obj.status().code() == Code::kNotFound ? NotFoundMessage(secret, name)
                                                                     : obj.status().message();
      return false;
    }
    int mode = ModeOf(Field(src, "defaultMode"), default_mode);
    auto data = DataOf(*obj, secret);
    const Json& items = Field(src, "items");
    if (items.is_array() && !items.empty()) {
      for (const Json& item : items) {
        std::string key = Str(item, "key");
        auto it = data.find(key);
        if (it == data.end()) {
          if (Bool(src, "optional")) continue;
          config_error->message = "configmap references non-existent config key: " + key;
          if (secret) config_error->message = "references non-existent secret key: " + key;
          return false;
        }
        files.push_back({Str(item, "path"), it->second, ModeOf(Field(item, "mode"), mode)});
      }
    } else {
      for (const auto& [k, v] : data) files.push_back({k, v, mode});
    }
    return true;
  };
  auto add_downward = [&](const Json& src, int default_mode) -> bool {
    int mode = ModeOf(Field(src, "defaultMode"), default_mode);
    const Json& items = Field(src, "items");
    if (!items.is_array()) return true;
    for (const Json& item : items) {
      StatusOr<std::string> v = std::string();
      if (item.contains("fieldRef")) {
        v = FieldRefValue(pod, Str(Field(item, "fieldRef"), "fieldPath"), ctx);
      } else if (item.contains("resourceFieldRef")) {
        const Json& ref = Field(item, "resourceFieldRef");
        const Json* c = FindContainer(pod, Str(ref, "containerName"));
        v = c ? ResourceFieldRefValue(pod, *c, ref, ctx)
              : StatusOr<std::string>(Status::Invalid("resourceFieldRef needs containerName"));
      }
      if (!v.ok()) {
        config_error->message = v.status().message();
        return false;
      }
      files.push_back({Str(item, "path"), *v, ModeOf(Field(item, "mode"), mode)});
    }
    return true;
  };

  bool ok = true;
  if (volume.contains("configMap")) {
    ok = add_object(Field(volume, "configMap"), false, 0644);
  } else if (volume.contains("secret")) {
    ok = add_object(Field(volume, "secret"), true, 0644);
  } else if (volume.contains("downwardAPI")) {
    ok = add_downward(Field(volume, "downwardAPI"), 0644);
  } else if (volume.contains("projected")) {
    const Json& proj = Field(volume, "projected");
    int mode = ModeOf(Field(proj, "defaultMode"), 0644);
    const Json& sources = Field(proj, "sources");
    if (sources.is_array()) {
      for (const Json& s : sources) {
        if (s.contains("configMap")) {
          ok = add_object(Field(s, "configMap"), false, mode);
        } else if (s.contains("secret")) {
          ok = add_object(Field(s, "secret"), true, mode);
        } else if (s.contains("downwardAPI")) {
          ok = add_downward(Field(s, "downwardAPI"), mode);
        }
        if (!ok) break;
      }
    }
  }
  if (!ok) files.clear();
  return files;
}

Status WriteVolumeFiles(const std::string& dir, const std::vector<VolumeFile>& files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Internal("create " + dir + ": " + ec.message());
  // Replace: remove what an earlier write left (a key that disappeared).
  for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
  for (const VolumeFile& f : files) {
    if (f.path.empty() || f.path.find("..") != std::string::npos || f.path[0] == '/') {
      return Status::Invalid("invalid volume file path \"" + f.path + "\"");
    }
    fs::path p = fs::path(dir) / f.path;
    fs::create_directories(p.parent_path(), ec);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << f.content;
    out.close();
    if (!out) return Status::Internal("write " + p.string());
    ::chmod(p.c_str(), static_cast<mode_t>(f.mode));
  }
  return Status::Ok();
}

std::string ServiceAccountOf(const Json& pod) {
  const Json& spec = Field(pod, "spec");
  std::string name = Str(spec, "serviceAccountName");
  if (name.empty()) name = Str(spec, "serviceAccount");
  return name.empty() ? "default" : name;
}

bool AutomountsServiceAccountToken(const Json& pod, const Json* account) {
  const Json& own = Field(Field(pod, "spec"), "automountServiceAccountToken");
  if (own.is_boolean()) return own.get<bool>();
  if (account != nullptr) {
    const Json& inherited = Field(*account, "automountServiceAccountToken");
    if (inherited.is_boolean()) return inherited.get<bool>();
  }
  return true;
}

std::vector<std::string> KubernetesServiceEnv(const std::string& host, int port) {
  const std::string p = std::to_string(port);
  const std::string url = "tcp://" + host + ":" + p;
  // Upstream names the per-port variables after the Service's port (443); ours is the server's.
  const std::string prefix = "KUBERNETES_PORT_" + p + "_TCP";
  return {"KUBERNETES_SERVICE_HOST=" + host,
          "KUBERNETES_SERVICE_PORT=" + p,
          "KUBERNETES_SERVICE_PORT_HTTPS=" + p,
          "KUBERNETES_PORT=" + url,
          prefix + "=" + url,
          prefix + "_PROTO=tcp",
          prefix + "_PORT=" + p,
          prefix + "_ADDR=" + host};
}

HostEntry PodHostEntry(const Json& pod, const std::string& ip) {
  const Json& meta = Field(pod, "metadata");
  const Json& spec = Field(pod, "spec");
  std::string name = Str(meta, "name");
  std::string ns = Str(meta, "namespace");
  std::string hostname = Str(spec, "hostname");
  if (hostname.empty()) hostname = name;
  std::string subdomain = Str(spec, "subdomain");
  HostEntry e{ip, {}};
  if (!subdomain.empty()) {
    std::string fq = hostname + "." + subdomain + "." + ns;
    e.names = {fq + ".svc.cluster.local", hostname + "." + subdomain, fq, fq + ".svc"};
  }
  for (const std::string& n :
       {name, name + "." + ns, name + "." + ns + ".svc", name + "." + ns + ".svc.cluster.local"}) {
    e.names.push_back(n);
  }
  if (hostname != name) e.names.push_back(hostname);
  return e;
}

std::string HostsFile(const Json& pod, const std::string& ip,
                      const std::vector<HostEntry>& others) {
  std::string out =
      "# Kubernetes-managed hosts file (skiff).\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "fe00::0\tip6-mcastprefix\n"
      "fe00::1\tip6-allnodes\n"
      "fe00::2\tip6-allrouters\n";
  std::set<std::string> seen;
  auto emit = [&](const HostEntry& e) {
    std::string line = e.ip;
    bool any = false;
    for (const std::string& n : e.names) {
      if (!seen.insert(n).second) continue;
      line += "\t" + n;
      any = true;
    }
    if (any) out += line + "\n";
  };
  if (!ip.empty()) emit(PodHostEntry(pod, ip));
  for (const HostEntry& e : others) emit(e);
  return out;
}

bool SelectorMatches(const Json& service, const Json& pod) {
  const Json& sel = Field(Field(service, "spec"), "selector");
  if (!sel.is_object() || sel.empty()) return false;
  const Json& labels = Field(Field(pod, "metadata"), "labels");
  for (auto it = sel.begin(); it != sel.end(); ++it) {
    if (!it->is_string() || Str(labels, it.key().c_str()) != it->get<std::string>()) return false;
  }
  return true;
}

}  // namespace skiff::node
