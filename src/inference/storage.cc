// storageUri → a path on this machine.
#include "inference/storage.h"

#include <filesystem>

#include "registry/model_uri.h"

namespace skiff::inference {

namespace {

namespace fs = std::filesystem;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// No "..": a URI must not climb out of the claim or bucket it names.
bool Escapes(const std::string& path) {
  for (const auto& part : fs::path(path)) {
    if (part == "..") return true;
  }
  return false;
}

StorageLocation Found(const std::string& uri, const std::string& path, const std::string& hint) {
  StorageLocation loc;
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    loc.reason = "StorageUriNotFound";
    loc.message = "storageUri " + uri + ": " + path + " does not exist on this machine" +
                  (hint.empty() ? "" : "; " + hint);
    return loc;
  }
  loc.ok = true;
  loc.host_path = fs::path(path).lexically_normal().string();
  while (loc.host_path.size() > 1 && loc.host_path.back() == '/') loc.host_path.pop_back();
  loc.is_file = fs::is_regular_file(st);
  return loc;
}

}  // namespace

StorageLocation ResolveStorageUri(const std::string& uri, const std::string& ns,
                                  const std::string& data_dir) {
  StorageLocation loc;
  if (uri.empty()) {
    loc.reason = "InvalidStorageUri";
    loc.message = "the model has no storageUri";
    return loc;
  }
  if (StartsWith(uri, "file://") || StartsWith(uri, "/")) {
    std::string path = StartsWith(uri, "file://") ? uri.substr(7) : uri;
    if (path.empty() || path[0] != '/') {
      loc.reason = "InvalidStorageUri";
      loc.message = "storageUri " + uri + ": a file:// URI needs an absolute path (file:///dir)";
      return loc;
    }
    return Found(uri, path, "");
  }
  auto split = [&](const std::string& rest, std::string* head, std::string* tail) {
    size_t slash = rest.find('/');
    *head = rest.substr(0, slash);
    *tail = slash == std::string::npos ? "" : rest.substr(slash + 1);
    return !head->empty() && !Escapes(*tail);
  };
  if (StartsWith(uri, "pvc://")) {
    std::string claim, path;
    if (!split(uri.substr(6), &claim, &path)) {
      loc.reason = "InvalidStorageUri";
      loc.message = "storageUri " + uri + ": expected pvc://{claim}/{path}";
      return loc;
    }
    const std::string dir = data_dir + "/volumes/" + ns + "/" + claim;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      loc.reason = "StorageUriNotFound";
      loc.message = "storageUri " + uri + ": PersistentVolumeClaim \"" + claim +
                    "\" has no data on this machine yet (" + dir +
                    "); create the claim and write the model into it first";
      return loc;
    }
    return Found(uri, path.empty() ? dir : dir + "/" + path,
                 "write the model into the claim at " + (path.empty() ? "/" : path));
  }
  for (const char* scheme : {"gs://", "s3://"}) {
    if (!StartsWith(uri, scheme)) continue;
    std::string bucket, path;
    if (!split(uri.substr(5), &bucket, &path)) {
      loc.reason = "InvalidStorageUri";
      loc.message = "storageUri " + uri + ": expected " + scheme + "{bucket}/{path}";
      return loc;
    }
    const std::string local = data_dir + "/buckets/" + bucket + (path.empty() ? "" : "/" + path);
    return Found(uri, local,
                 std::string("skiff serves ") + scheme +
                     " buckets from local directories: copy the model there (mkdir -p " + local +
                     " and put the model files in it)");
  }
  if (registry::IsRegistryUri(uri)) {
    loc.reason = "StorageUriNotSupported";
    loc.message = "storageUri " + uri +
                  ": Model Registry URIs are resolved by the InferenceService controller; use "
                  "the model version's artifact URI (file://, pvc://, gs:// or s3://) here";
    return loc;
  }
  loc.reason = "StorageUriNotSupported";
  loc.message = "storageUri " + uri +
                ": unsupported scheme; skiff reads file://, absolute paths, pvc://, gs:// and "
                "s3:// (local buckets under $SKIFF_HOME/buckets)";
  return loc;
}

StorageLocation ResolveStorageUri(const std::string& uri, const std::string& ns,
                                  const std::string& data_dir, client::Client* client) {
  if (!client || !registry::IsRegistryUri(uri)) return ResolveStorageUri(uri, ns, data_dir);
  auto resolved = registry::ResolveModelUri(client, ns, uri);
  if (!resolved.ok()) {
    StorageLocation loc;
    const Code code = resolved.status().code();
    loc.reason = code == Code::kBadRequest ? "InvalidStorageUri"
                 : code == Code::kNotFound ? "StorageUriNotFound"
                 : code == Code::kInvalid  ? "InvalidStorageUri"
                                           : "StorageUriNotFound";
    loc.message = resolved.status().message();
    return loc;
  }
  StorageLocation loc = ResolveStorageUri(resolved->artifact_uri, ns, data_dir);
  if (!loc.ok) {
    loc.message = "storageUri " + uri + " is version " + resolved->version + " of model " +
                  resolved->model + " (" + resolved->artifact_uri + "): " + loc.message;
  }
  loc.resolved_uri = resolved->artifact_uri;
  loc.model = resolved->model;
  loc.model_version = resolved->version;
  return loc;
}

}  // namespace skiff::inference
