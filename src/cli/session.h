// A CLI command's connection to the cluster: the kubeconfig resolved (with skiff's own kubeconfig
// as the last fallback), a client::Client for the ordinary verbs, raw HTTP for what that
// interface does not carry (discovery, Table output, pod logs), and a RestMapper built on first
// use.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/rest_mapper.h"
#include "client/client.h"
#include "client/kubeconfig.h"
#include "client/status_decode.h"
#include "common/status.h"
#include "http/client.h"

namespace skiff::cli {

using client::DecodeError;

// Finds the kubeconfig the way kubectl does (--kubeconfig, $KUBECONFIG, ~/.kube/config) and, when
// none of those exists, the one `skiff up` writes under the data directory.
StatusOr<client::ClusterConfig> ResolveKubeconfig(const ConnectionFlags& flags);

// Not thread-safe: a CLI command is one thread.
class Session {
 public:
  static StatusOr<std::unique_ptr<Session>> Open(const ConnectionFlags& flags);
  ~Session();

  client::Client* client() { return client_.get(); }
  // -n, else the kubeconfig context's namespace.
  const std::string& default_namespace() const { return namespace_; }

  // Sends one request to `path` (path and query, already encoded) with the user's credentials.
  // A non-2xx answer is returned as a response, not an error; see DecodeError.
  StatusOr<http::Response> Raw(const std::string& method, const std::string& path,
                               const std::string& accept, const std::string& body = "",
                               const std::string& content_type = "");
  // As Raw, but hands a 2xx body to `on_data` as it arrives (logs -f).
  StatusOr<http::Response> Stream(const std::string& path, const std::string& accept,
                                  const std::function<bool(std::string_view)>& on_data);

  // The RestMapper from aggregated discovery, fetched once; Refresh fetches it again (after apply
  // created a CRD, say).
  StatusOr<const RestMapper*> Mapper();
  Status RefreshMapper();
  // Says a write may have added kinds (a CRD was applied), so the next miss fetches discovery anew.
  void MapperMayBeStale() { mapper_fresh_ = false; }

  // A mapping for a resource argument or a manifest's apiVersion/kind; a miss refreshes discovery
  // once, since the kind may have been added since.
  StatusOr<Mapping> ForArg(const std::string& arg);
  StatusOr<Mapping> ForKind(const std::string& api_version, const std::string& kind);

 private:
  Session() = default;
  http::ClientRequest Request(const std::string& method, const std::string& path,
                              const std::string& accept) const;

  client::ClusterConfig config_;
  std::string namespace_;
  std::string path_prefix_;  // a server URL's path, e.g. behind a proxy
  bool tls_ = true;
  http::ClientOptions http_options_;
  std::string cert_file_, key_file_;  // temporary copies of the client certificate, removed later
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<client::Client> client_;
  std::optional<RestMapper> mapper_;
  bool mapper_fresh_ = false;  // fetched since the last write that may have added kinds
};

// Builds "?a=b&c=d" from the non-empty parameters.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace skiff::cli
