// Kubeconfig loading: resolves one context to a ClusterConfig the way kubectl does
// (current-context, file paths relative to the kubeconfig, *-data fields base64).
#include "client/kubeconfig.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"

namespace skiff::client {
namespace {

namespace fs = std::filesystem;

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool DecodeBase64(std::string in, std::string* out) {
  // Kubeconfigs sometimes wrap base64 across lines.
  std::string clean;
  for (char c : in) {
    if (!isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return false;
  std::string buf(3 * clean.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), clean.size());
  if (n < 0) return false;
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  buf.resize(n - pad);
  *out = std::move(buf);
  return true;
}

std::string Str(const Json& obj, const char* field) {
  if (!obj.is_object()) return "";
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// Finds the entry called `name` in a kubeconfig list ("clusters", "users", "contexts") and returns
// its inner object (cluster/user/context), or nullptr.
const Json* FindNamed(const Json& config, const char* list, const char* inner,
                      const std::string& name) {
  auto it = config.find(list);
  if (it == config.end() || !it->is_array()) return nullptr;
  for (const Json& entry : *it) {
    if (Str(entry, "name") != name) continue;
    auto in = entry.find(inner);
    if (in == entry.end()) return nullptr;
    return &*in;
  }
  return nullptr;
}

class Loader {
 public:
  explicit Loader(std::string path) : path_(std::move(path)) {
    dir_ = fs::path(path_).parent_path().string();
  }

  Status Error(const std::string& what) const {
    return Status::BadRequest("kubeconfig " + path_ + ": " + what);
  }

  // Reads PEM data from `<field>-data` (base64) or `<field>` (a file path).
  Status ReadPem(const Json& obj, const std::string& field, const std::string& where,
                 std::string* out) const {
    std::string data = Str(obj, (field + "-data").c_str());
    if (!data.empty()) {
      if (!DecodeBase64(data, out)) return Error(where + "." + field + "-data is not valid base64");
      return Status::Ok();
    }
    std::string file = Str(obj, field.c_str());
    if (file.empty()) return Status::Ok();
    std::string resolved = Resolve(file);
    if (!ReadWholeFile(resolved, out))
      return Error("cannot read " + where + "." + field + " " + resolved);
    return Status::Ok();
  }

  std::string Resolve(const std::string& file) const {
    if (file.empty() || file[0] == '/' || dir_.empty()) return file;
    return dir_ + "/" + file;
  }

  StatusOr<ClusterConfig> Load(const std::string& context_override) const {
    std::string text;
    if (!ReadWholeFile(path_, &text)) return Status::NotFound("cannot read kubeconfig " + path_);
    auto parsed = ParseYaml(text);
    if (!parsed.ok()) return Error(parsed.status().message());
    const Json& config = *parsed;
    if (!config.is_object()) return Error("not a kubeconfig (expected a mapping)");

    ClusterConfig out;
    out.context_name = context_override.empty() ? Str(config, "current-context") : context_override;
    if (out.context_name.empty()) return Error("no current-context is set and none was given");
    const Json* ctx = FindNamed(config, "contexts", "context", out.context_name);
    if (!ctx) return Error("context \"" + out.context_name + "\" not found");
    const std::string cluster_name = Str(*ctx, "cluster");
    const std::string user_name = Str(*ctx, "user");
    out.namespace_ = Str(*ctx, "namespace");
    if (out.namespace_.empty()) out.namespace_ = "default";

    const Json* cluster = FindNamed(config, "clusters", "cluster", cluster_name);
    if (!cluster) {
      return Error("cluster \"" + cluster_name + "\" of context \"" + out.context_name +
                   "\" not found");
    }
    out.server = Str(*cluster, "server");
    if (out.server.empty()) return Error("cluster \"" + cluster_name + "\" has no server");
    if (auto it = cluster->find("insecure-skip-tls-verify");
        it != cluster->end() && it->is_boolean()) {
      out.insecure_skip_tls_verify = it->get<bool>();
    }
    SKIFF_RETURN_IF_ERROR(ReadPem(*cluster, "certificate-authority",
                                  "cluster \"" + cluster_name + "\"", &out.ca_pem));

    if (!user_name.empty()) {
      const Json* user = FindNamed(config, "users", "user", user_name);
      if (!user) {
        return Error("user \"" + user_name + "\" of context \"" + out.context_name +
                     "\" not found");
      }
      const std::string where = "user \"" + user_name + "\"";
      out.token = Str(*user, "token");
      if (out.token.empty()) {
        std::string token_file = Str(*user, "tokenFile");
        if (!token_file.empty()) {
          std::string resolved = Resolve(token_file);
          if (!ReadWholeFile(resolved, &out.token)) {
            return Error("cannot read " + where + ".tokenFile " + resolved);
          }
          while (!out.token.empty() && isspace(static_cast<unsigned char>(out.token.back()))) {
            out.token.pop_back();
          }
        }
      }
      SKIFF_RETURN_IF_ERROR(ReadPem(*user, "client-certificate", where, &out.client_cert_pem));
      SKIFF_RETURN_IF_ERROR(ReadPem(*user, "client-key", where, &out.client_key_pem));
      if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
        return Error(where + " needs both client-certificate and client-key");
      }
    }
    return out;
  }

 private:
  std::string path_;
  std::string dir_;
};

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  std::string chosen = path;
  if (chosen.empty()) {
    if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
      std::stringstream list(env);
      std::string item;
      while (std::getline(list, item, ':')) {
        if (!item.empty() && Exists(item)) {
          chosen = item;
          break;
        }
      }
      if (chosen.empty()) {
        return Status::NotFound(std::string("none of the files in $KUBECONFIG (") + env +
                                ") exists");
      }
    } else {
      const char* home = std::getenv("HOME");
      chosen = std::string(home ? home : "") + "/.kube/config";
    }
  }
  return Loader(chosen).Load(context);
}

}  // namespace skiff::client
