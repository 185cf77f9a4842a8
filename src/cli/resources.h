// What a command was told to act on: manifests from files, directories or stdin (apply, delete
// -f), or resource arguments (`tfjobs`, `tfjob/a`, `tfjob a b`, `cm,secret`) resolved through
// the session's RestMapper.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "cli/rest_mapper.h"
#include "cli/session.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::cli {

struct Manifest {
  std::string source;  // the file it came from ("STDIN" for -)
  Json object;
};

// Reads every object of every file: multi-document YAML or JSON; a directory contributes its
// .yaml, .yml and .json files in name order; "-" reads `in`; kind List is expanded into its items.
StatusOr<std::vector<Manifest>> ReadManifests(const std::vector<std::string>& files,
                                              std::istream& in);

// One resource type and the names asked for (none: every object of the type).
struct ResourceRequest {
  Mapping mapping;
  std::vector<std::string> names;
};

// kubectl's argument forms: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`. Errors are the user's
// (unknown type, mixed forms) or the server's (discovery failed).
StatusOr<std::vector<ResourceRequest>> ResolveResourceArgs(Session* session,
                                                           const std::vector<std::string>& args);

// Prints a ResolveResourceArgs error: the user's as "error: ...", the server's as kubectl does.
void PrintResolveError(std::ostream& err, const Status& status);

// The namespace to use for `object` of type `m`: its own, else the session's; "" when the type is
// cluster-scoped. With -n given explicitly, an object naming another namespace is an error, as in
// kubectl.
StatusOr<std::string> NamespaceFor(const Mapping& m, const Json& object, Session* session,
                                   const ConnectionFlags& flags);

// The REST path of a collection (`name` empty) or an object: /apis/kubeflow.org/v1/namespaces/
// ns/tfjobs/name. `ns` is ignored for cluster-scoped types; "" means every namespace.
std::string ResourcePath(const Mapping& m, const std::string& ns, const std::string& name = "");

// The object's metadata.name, or "".
std::string NameOf(const Json& object);

}  // namespace skiff::cli
