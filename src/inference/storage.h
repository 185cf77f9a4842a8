// Where a model's storageUri is on this machine. KServe's storage initializer downloads the model
// into /mnt/models; skiff resolves the URI to a local directory (or file) instead and the
// controller binds it read-only at /mnt/models:
//   file:///abs/dir, /abs/dir        the path itself
//   pvc://{claim}/{path}             $SKIFF_HOME/volumes/{ns}/{claim}/{path}
//   gs://{bucket}/{path}, s3://...   $SKIFF_HOME/buckets/{bucket}/{path} (local buckets)
//   model-registry://{model}/{ver},  the Model Registry: the version's model artifact URI,
//   models:/{model}@{alias}, ...      resolved as above (registry/model_uri.h has the forms)
#pragma once

#include <string>

#include "client/client.h"

namespace skiff::inference {

// The directory the storage initializer fills in KServe's Pods.
inline constexpr char kModelMountPath[] = "/mnt/models";

struct StorageLocation {
  bool ok = false;
  std::string host_path;  // the directory or file to bind at /mnt/models
  bool is_file = false;
  // When !ok: a short CamelCase reason (StorageUriNotFound, StorageUriNotSupported,
  // InvalidStorageUri) and a message that says what to do.
  std::string reason;
  std::string message;
  // For a Model Registry URI: the artifact URI it resolved to and the version it names.
  std::string resolved_uri;
  std::string model, model_version;
};

// Resolves `uri` for a model in namespace `ns`; `data_dir` is $SKIFF_HOME. Touches the
// filesystem only to check that the path exists.
StorageLocation ResolveStorageUri(const std::string& uri, const std::string& ns,
                                  const std::string& data_dir);

// As above, and Model Registry URIs are looked up through `client` (in namespace `ns`) first:
// moving an alias changes host_path, so the revision that serves it changes too. Without a
// client a registry URI fails with StorageUriNotSupported.
StorageLocation ResolveStorageUri(const std::string& uri, const std::string& ns,
                                  const std::string& data_dir, client::Client* client);

}  // namespace skiff::inference
