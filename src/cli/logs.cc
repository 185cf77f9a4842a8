// `skiff logs POD`: GET /api/v1/namespaces/NS/pods/NAME/log, streamed to stdout. Like kubectl it
// reads the Pod first, for a clear "not found" and to pick the default container.
#include <ostream>

#include "cli/commands.h"
#include "cli/printer.h"
#include "cli/resources.h"
#include "cli/session.h"

namespace skiff::cli {

int RunLogs(const ConnectionFlags& flags, const LogsOptions& options, Streams io) {
  std::string name = options.pod;
  if (size_t slash = name.find('/'); slash != std::string::npos) {
    const std::string type = name.substr(0, slash);
    if (type != "pod" && type != "pods" && type != "po") {
      PrintClientError(io.err, "skiff logs reads Pods only; \"" + type +
                                   "\" is not a Pod (every task and replica is a Pod: try "
                                   "`skiff get pods`)");
      return 1;
    }
    name = name.substr(slash + 1);
  }
  if (name.empty()) {
    PrintClientError(io.err, "expected POD or pod/NAME");
    return 1;
  }
  auto opened = Session::Open(flags);
  if (!opened.ok()) {
    PrintClientError(io.err, opened.status().message());
    return 1;
  }
  Session* s = opened->get();
  const std::string ns = s->default_namespace();
  const client::Resource pods{"", "v1", "pods"};
  auto pod = s->client()->Get(pods, ns, name);
  if (!pod.ok()) {
    PrintError(io.err, pod.status());
    return 1;
  }

  std::string container = options.container;
  if (container.empty()) {
    std::vector<std::string> names;
    if (const Json* cs = FindPath(*pod, "spec.containers"); cs && cs->is_array()) {
      for (const Json& c : *cs) names.push_back(c.value("name", ""));
    }
    const Json* annotated = FindPath(*pod, "metadata.annotations");
    std::string preferred;
    if (annotated && annotated->is_object()) {
      preferred = annotated->value("kubectl.kubernetes.io/default-container", "");
    }
    if (!preferred.empty()) {
      container = preferred;
    } else if (names.size() > 1) {
      container = names[0];
      std::string all;
      for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
      io.err << "Defaulted container \"" << container << "\" out of: " << all << "\n";
    }
  }

  Mapping pod_mapping;
  pod_mapping.resource = pods;
  pod_mapping.kind = "Pod";
  pod_mapping.namespaced = true;
  const std::string path =
      ResourcePath(pod_mapping, ns, name) + "/log" +
      QueryString({{"container", container},
                   {"follow", options.follow ? "true" : ""},
                   {"previous", options.previous ? "true" : ""},
                   {"timestamps", options.timestamps ? "true" : ""},
                   {"tailLines", options.tail >= 0 ? std::to_string(options.tail) : ""}});
  auto response = s->Stream(path, "application/json, */*", [&](std::string_view data) {
    io.out.write(data.data(), static_cast<std::streamsize>(data.size()));
    io.out.flush();  // a follower wants each line as it comes
    return static_cast<bool>(io.out);
  });
  if (!response.ok()) {
    PrintError(io.err, response.status());
    return 1;
  }
  if (response->status < 200 || response->status >= 300) {
    PrintError(io.err, DecodeError(*response));
    return 1;
  }
  return 0;
}

}  // namespace skiff::cli
