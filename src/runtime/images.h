// The local image catalog: skiff runs no container images, so each image reference a Pod names is
// mapped to something on this machine: an executable, the host's python3, the host's shell tools.
// The catalog is built-in defaults plus a YAML file ($SKIFF_HOME/images.yaml) that `skiff images
// add|remove` edits; the file's entries win over the defaults.
//
//   images:
//   - name: python            # matches "python", "python:3.11",
//   "docker.io/library/python:3.11-slim"
//     match: ["python", "python:*"]
//     entrypoint: []           # the image's ENTRYPOINT (container `command` replaces it)
//     cmd: [python3]           # the image's CMD (container `args` replace it)
//     run: []                  # if set: the whole argv, replacing the container's command and args
//     env: [PYTHONUNBUFFERED=1]
//     aliases: {python: /usr/bin/python3}   # extra names put first on PATH in the sandbox
//     description: host python3
//
// Thread-safety: a Catalog is immutable once loaded; load a new one to see edits.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::runtime {

struct ImageEntry {
  std::string name;
  std::vector<std::string> match;  // glob patterns over the normalised reference
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  // A fixed argv that replaces the container's command and args: runs a manifest written for an
  // image skiff cannot run (e.g. a TensorFlow script) as one of skiff's own workloads.
  std::vector<std::string> run;
  std::vector<std::string> env;                // "NAME=value"
  std::map<std::string, std::string> aliases;  // command name -> host executable
  std::string description;
  bool builtin = false;  // from the defaults, not the file
};

// What a container runs once its image is resolved.
struct ResolvedImage {
  const ImageEntry* entry = nullptr;
  std::string normalized;  // "python:3.11" (registry, "library/" and digest stripped)
  // A host directory holding the entry's aliases as symlinks ("" if none): prepend it to PATH
  // (the agent binds it into the sandbox).
  std::string alias_dir;
};

class Catalog {
 public:
  // Defaults + `file` (a missing file is fine; a malformed one is an error naming the line).
  // `bin_dir` is where skiff's own executables live (`skiff/ml`; a file entry's program named
  // `skiff-*` without a path is found there too); `alias_root` is where alias
  // directories are materialised (e.g. $SKIFF_HOME/images).
  static StatusOr<std::unique_ptr<Catalog>> Load(const std::string& file,
                                                 const std::string& bin_dir,
                                                 const std::string& alias_root);

  // kNotFound with the message a user sees in ErrImagePull, saying how to map the image.
  StatusOr<ResolvedImage> Resolve(const std::string& image) const;

  // The argv a container runs: the entry's `run` when set, else Kubernetes' rules (command replaces
  // entrypoint and drops cmd; args replace cmd), with $(VAR) references expanded from `env` ("$$"
  // escapes). Empty argv is an error ("no command specified").
  static StatusOr<std::vector<std::string>> Argv(const ImageEntry& entry,
                                                 const std::vector<std::string>& command,
                                                 const std::vector<std::string>& args,
                                                 const std::vector<std::string>& env);

  const std::vector<ImageEntry>& entries() const { return entries_; }
  const std::string& file() const { return file_; }

  // Edits the catalog file (creating it): add or replace the entry named entry.name; remove one.
  static Status AddToFile(const std::string& file, const ImageEntry& entry);
  static Status RemoveFromFile(const std::string& file, const std::string& name);

 private:
  std::vector<ImageEntry> entries_;
  std::string file_;
  std::string alias_root_;
};

// "docker.io/library/python:3.11@sha256:.." -> "python:3.11"; "gcr.io/x/y" stays "gcr.io/x/y".
std::string NormalizeImage(const std::string& image);

}  // namespace skiff::runtime
