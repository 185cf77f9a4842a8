// The image catalog (see images.h): built-in entries, the YAML file, matching, argv rules.
#include "runtime/images.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/file.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;

bool IsExecutable(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// The host executable `name` on skiff's own PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::string dirs = env ? env : "/usr/local/bin:/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t end = dirs.find(':', pos);
    if (end == std::string::npos) end = dirs.size();
    std::string cand = dirs.substr(pos, end - pos) + "/" + name;
    pos = end + 1;
    if (cand[0] == '/' && IsExecutable(cand)) return cand;
  }
  return "";
}

std::vector<ImageEntry> Builtins(const std::string& bin_dir) {
  std::vector<ImageEntry> out;
  ImageEntry ml;
  ml.name = "skiff/ml";
  ml.match = {"skiff/ml", "skiff/ml:*"};
  ml.entrypoint = {bin_dir + "/skiff-ml"};
  // On PATH too, for a container whose command is a shell running several steps.
  ml.aliases["skiff-ml"] = bin_dir + "/skiff-ml";
  ml.description = "skiff's ML runtime (skiff-ml)";
  out.push_back(ml);

  ImageEntry server;
  server.name = "skiff/model-server";
  server.match = {"skiff/model-server", "skiff/model-server:*"};
  server.entrypoint = {bin_dir + "/skiff-model-server"};
  server.description = "skiff's model server (Open Inference Protocol; TorchScript, xgboost)";
  out.push_back(server);

  // The built-in InferenceService transformer and explainer (skiff-model-sidecar's two modes).
  for (const char* mode : {"transformer", "explainer"}) {
    ImageEntry sidecar;
    sidecar.name =
        std::string(mode) == "transformer" ? "skiff/image-transformer" : "skiff/explainer";
    sidecar.match = {sidecar.name, sidecar.name + ":*"};
    sidecar.entrypoint = {bin_dir + "/skiff-model-sidecar", mode};
    sidecar.description = std::string(mode) == "transformer"
                              ? "images (PNG, raw pixels) to the predictor's tensor"
                              : "occlusion saliency from the predictor";
    out.push_back(sidecar);
  }

  ImageEntry py;
  py.name = "python";
  py.match = {"python", "python:*"};
  py.cmd = {"python3"};
  // bin/python: skiff's stand-in for KFP's executor, so lightweight components run offline.
  py.env = {"PYTHONUNBUFFERED=1", "PYTHONPATH=" + bin_dir + "/python"};
  if (std::string p = FindOnPath("python3"); !p.empty()) py.aliases["python"] = p;
  py.description = "host python3";
  out.push_back(py);

  // Red Hat's UBI python images (what many KFP samples name); their CMD is a shell, but KFP
  // components always set a command.
  ImageEntry ubi = py;
  ubi.name = "ubi/python";
  ubi.match = {"registry.access.redhat.com/ubi*/python-3*", "ubi*/python-3*"};
  ubi.description = "host python3 (Red Hat UBI python-3xx images)";
  out.push_back(ubi);

  for (const char* name : {"alpine", "busybox", "ubuntu", "debian"}) {
    ImageEntry sh;
    sh.name = name;
    sh.match = {name, std::string(name) + ":*"};
    sh.cmd = {"sh"};
    sh.description = "host /bin/sh and coreutils";
    // busybox as containerd publishes it (ghcr.io), named by KFP's placeholder samples.
    if (sh.name == "busybox") {
      sh.match.push_back("ghcr.io/containerd/busybox");
      sh.match.push_back("ghcr.io/containerd/busybox:*");
    }
    // Their sh is busybox ash, which scripts rely on for bash-isms ([[ ]], ==); the host's sh may
    // be dash, so `sh` there is the host's bash.
    if (sh.name == "alpine" || sh.name == "busybox") {
      if (std::string bash = FindOnPath("bash"); !bash.empty()) {
        sh.aliases["sh"] = bash;
        sh.aliases["ash"] = bash;
        sh.description = "host bash as sh (busybox ash's [[ ]]) and coreutils";
      }
    }
    out.push_back(sh);
  }

  ImageEntry bash;
  bash.name = "bash";
  bash.match = {"bash", "bash:*"};
  bash.cmd = {"bash"};
  bash.description = "host bash";
  out.push_back(bash);

  // Small single-tool images: the host's tool stands in. alpine-curl's workloads need the network.
  for (auto [image, tool] :
       {std::pair{"jetbrainsinfra/jq", "jq"}, std::pair{"byrnedo/alpine-curl", "curl"}}) {
    ImageEntry t;
    t.name = image;
    t.match = {image, std::string(image) + ":*"};
    t.cmd = {"sh"};
    t.description = std::string("host /bin/sh with ") + tool;
    out.push_back(t);
  }
  for (auto& e : out) e.builtin = true;
  return out;
}

StatusOr<std::vector<std::string>> StringList(const Json& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) return std::vector<std::string>{v.get<std::string>()};
  if (!v.is_array()) return Status::Invalid(what + " must be a list of strings");
  for (const auto& s : v) {
    if (!s.is_string()) return Status::Invalid(what + " must be a list of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

StatusOr<ImageEntry> EntryFromJson(const Json& j, const std::string& where) {
  if (!j.is_object()) return Status::Invalid(where + " must be a mapping");
  ImageEntry e;
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty()) {
    return Status::Invalid(where + ": name is required");
  }
  e.name = j["name"].get<std::string>();
  std::string at = where + " (" + e.name + ")";
  auto list = [&](const char* key, std::vector<std::string>* out) -> Status {
    if (!j.contains(key)) return Status::Ok();
    auto v = StringList(j[key], at + ": " + key);
    if (!v.ok()) return v.status();
    *out = *v;
    return Status::Ok();
  };
  SKIFF_RETURN_IF_ERROR(list("match", &e.match));
  SKIFF_RETURN_IF_ERROR(list("entrypoint", &e.entrypoint));
  SKIFF_RETURN_IF_ERROR(list("cmd", &e.cmd));
  SKIFF_RETURN_IF_ERROR(list("run", &e.run));
  SKIFF_RETURN_IF_ERROR(list("env", &e.env));
  if (e.match.empty()) e.match = {e.name};
  if (j.contains("aliases") && !j["aliases"].is_null()) {
    if (!j["aliases"].is_object()) return Status::Invalid(at + ": aliases must be a mapping");
    for (auto& [k, v] : j["aliases"].items()) {
      if (!v.is_string()) return Status::Invalid(at + ": aliases." + k + " must be a path");
      e.aliases[k] = v.get<std::string>();
    }
  }
  if (j.contains("description") && j["description"].is_string()) {
    e.description = j["description"].get<std::string>();
  }
  return e;
}

Json EntryToJson(const ImageEntry& e) {
  Json j = Json::object();
  j["name"] = e.name;
  j["match"] = e.match;
  if (!e.entrypoint.empty()) j["entrypoint"] = e.entrypoint;
  if (!e.cmd.empty()) j["cmd"] = e.cmd;
  if (!e.run.empty()) j["run"] = e.run;
  if (!e.env.empty()) j["env"] = e.env;
  if (!e.aliases.empty()) j["aliases"] = e.aliases;
  if (!e.description.empty()) j["description"] = e.description;
  return j;
}

StatusOr<Json> LoadFileJson(const std::string& file) {
  if (::access(file.c_str(), F_OK) != 0) return Json{{"images", Json::array()}};
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  auto doc = ParseYaml(*text);
  if (!doc.ok()) return Status::Invalid(file + ": " + doc.status().message());
  if (doc->is_null()) return Json{{"images", Json::array()}};
  if (!doc->is_object()) return Status::Invalid(file + ": expected a mapping with `images:`");
  if (!doc->contains("images") || (*doc)["images"].is_null()) (*doc)["images"] = Json::array();
  if (!(*doc)["images"].is_array()) return Status::Invalid(file + ": images must be a list");
  return *doc;
}

std::string Sanitize(const std::string& name) {
  std::string out;
  for (char c : name)
    out.push_back(
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ? c : '_');
  return out;
}

}  // namespace

std::string NormalizeImage(const std::string& image) {
  std::string s = image;
  if (size_t at = s.find('@'); at != std::string::npos) s.resize(at);
  // Docker Hub and its mirrors of the official images (ECR Public, Google's mirror).
  for (const char* prefix : {"docker.io/", "index.docker.io/", "registry-1.docker.io/",
                             "public.ecr.aws/docker/", "mirror.gcr.io/"}) {
    if (s.rfind(prefix, 0) == 0) {
      s.erase(0, std::string(prefix).size());
      break;
    }
  }
  if (s.rfind("library/", 0) == 0) s.erase(0, 8);
  return s;
}

StatusOr<std::unique_ptr<Catalog>> Catalog::Load(const std::string& file,
                                                 const std::string& bin_dir,
                                                 const std::string& alias_root) {
  auto catalog = std::make_unique<Catalog>();
  catalog->file_ = file;
  catalog->alias_root_ = alias_root;
  auto doc = LoadFileJson(file);
  if (!doc.ok()) return doc.status();
  int i = 0;
  for (const auto& j : (*doc)["images"]) {
    auto e = EntryFromJson(j, file + ": images[" + std::to_string(i++) + "]");
    if (!e.ok()) return e.status();
    // skiff's own programs (skiff-ml, skiff-model-server) are named without their install path.
    for (auto* argv : {&e->entrypoint, &e->run}) {
      if (argv->empty()) continue;
      std::string& prog = argv->front();
      if (prog.rfind("skiff-", 0) == 0 && prog.find('/') == std::string::npos) {
        prog = bin_dir + "/" + prog;
      }
    }
    catalog->entries_.push_back(std::move(*e));
  }
  for (auto& e : Builtins(bin_dir)) catalog->entries_.push_back(std::move(e));
  return catalog;
}

StatusOr<ResolvedImage> Catalog::Resolve(const std::string& image) const {
  ResolvedImage r;
  r.normalized = NormalizeImage(image);
  for (const auto& e : entries_) {
    for (const auto& pattern : e.match) {
      if (::fnmatch(pattern.c_str(), r.normalized.c_str(), 0) == 0) {
        r.entry = &e;
        break;
      }
    }
    if (r.entry) break;
  }
  if (!r.entry) {
    return Status::NotFound("image \"" + image + "\" is not in skiff's image catalog (" + file_ +
                            "); map it to a program on this machine with: skiff images add " +
                            r.normalized + " --cmd /usr/bin/python3");
  }
  const ImageEntry& e = *r.entry;
  for (const auto* argv : {&e.run, &e.entrypoint}) {
    if (argv->empty()) continue;
    if ((*argv)[0].find('/') != std::string::npos && !IsExecutable((*argv)[0])) {
      return Status::NotFound("image \"" + image + "\" maps to " + (*argv)[0] +
                              ", which does not exist on this machine; build it, or map the image "
                              "elsewhere with: skiff images add " +
                              e.name + (argv == &e.run ? " --run" : " --entrypoint") +
                              " <program>");
    }
    break;
  }
  if (!e.aliases.empty() && !alias_root_.empty()) {
    std::string dir = alias_root_ + "/" + Sanitize(e.name) + "/bin";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::Internal("creating " + dir + ": " + ec.message());
    for (const auto& [name, target] : e.aliases) {
      if (name.empty() || name.find('/') != std::string::npos) continue;
      std::string link = dir + "/" + name;
      auto current = fs::read_symlink(link, ec);
      if (!ec && current == target) continue;
      // Replace atomically so a running container never sees the alias missing.
      std::string tmp = link + ".tmp." + std::to_string(::getpid());
      ::unlink(tmp.c_str());
      if (::symlink(target.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return Status::Internal("creating alias " + link + " -> " + target);
      }
    }
    r.alias_dir = dir;
  }
  return r;
}

namespace {

// Kubernetes' $(VAR) expansion: "$$" is a literal "$", unknown references stay as written.
std::string Expand(const std::string& in, const std::map<std::string, std::string>& env) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out.push_back(in[i]);
      continue;
    }
    char next = in[i + 1];
    if (next == '$') {
      out.push_back('$');
      ++i;
    } else if (next == '(') {
      size_t close = in.find(')', i + 2);
      if (close == std::string::npos) {
        out.append(in, i, std::string::npos);
        break;
      }
      std::string name = in.substr(i + 2, close - i - 2);
      auto it = env.find(name);
      if (it != env.end()) {
        out.append(it->second);
      } else {
        out.append(in, i, close - i + 1);
      }
      i = close;
    } else {
      out.push_back('$');
    }
  }
  return out;
}

}  // namespace

StatusOr<std::vector<std::string>> Catalog::Argv(const ImageEntry& entry,
                                                 const std::vector<std::string>& command,
                                                 const std::vector<std::string>& args,
                                                 const std::vector<std::string>& env) {
  std::vector<std::string> argv;
  if (!entry.run.empty()) {
    argv = entry.run;
  } else if (!command.empty()) {
    argv = command;
    argv.insert(argv.end(), args.begin(), args.end());
  } else {
    argv = entry.entrypoint;
    const auto& tail = args.empty() ? entry.cmd : args;
    argv.insert(argv.end(), tail.begin(), tail.end());
  }
  if (argv.empty()) return Status::Invalid("no command specified");
  std::map<std::string, std::string> vars;
  for (const auto& e : env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) vars[e.substr(0, eq)] = e.substr(eq + 1);
  }
  for (auto& a : argv) a = Expand(a, vars);
  return argv;
}

Status Catalog::AddToFile(const std::string& file, const ImageEntry& entry) {
  if (entry.name.empty()) return Status::Invalid("an image entry needs a name");
  auto doc = LoadFileJson(file);
  if (!doc.ok()) return doc.status();
  ImageEntry e = entry;
  if (e.match.empty()) e.match = {e.name};
  Json& list = (*doc)["images"];
  bool replaced = false;
  for (auto& j : list) {
    if (j.is_object() && j.value("name", "") == e.name) {
      j = EntryToJson(e);
      replaced = true;
    }
  }
  if (!replaced) list.push_back(EntryToJson(e));
  std::error_code ec;
  fs::path dir = fs::path(file).parent_path();
  if (!dir.empty()) fs::create_directories(dir, ec);
  return WriteFileAtomic(file, ToYaml(*doc), 0644);
}

Status Catalog::RemoveFromFile(const std::string& file, const std::string& name) {
  auto doc = LoadFileJson(file);
  if (!doc.ok()) return doc.status();
  Json& list = (*doc)["images"];
  Json kept = Json::array();
  for (auto& j : list) {
    if (!(j.is_object() && j.value("name", "") == name)) kept.push_back(j);
  }
  if (kept.size() == list.size()) {
    return Status::NotFound("image entry \"" + name + "\" is not in " + file);
  }
  list = kept;
  return WriteFileAtomic(file, ToYaml(*doc), 0644);
}

}  // namespace skiff::runtime
