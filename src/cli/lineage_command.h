// `skiff lineage ARTIFACT-URI [-o json|yaml]`: asks the server's lineage API how an artifact was
// made and prints the answer as a tree (or as the API's JSON/YAML).
#pragma once

#include <string>

#include "cli/commands.h"
#include "common/json.h"

namespace skiff::cli {

struct LineageOptions {
  std::string uri;
  std::string output;  // "" (tree), json, yaml
};

int RunLineage(const ConnectionFlags& flags, const LineageOptions& options, Streams io);

// The tree for a `GET /apis/skiff.io/v1/lineage` answer: the artifact, the task that produced
// it, that task's image, command and parameters, and each input artifact in turn.
std::string RenderLineageTree(const Json& lineage);

}  // namespace skiff::cli
