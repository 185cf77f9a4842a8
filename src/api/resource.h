// What the API server serves: one ResourceInfo per (group, version, resource), built from
// CRD-format definitions — skiff's own built-in kinds (api/builtin/*.yaml) and CRDs users apply.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::api {

struct PrinterColumn {
  std::string name;
  std::string type;  // integer, number, string, boolean, date
  std::string format;
  std::string description;
  std::string json_path;  // ".spec.replicas"
  int priority = 0;       // > 0: only with -o wide
};

struct ResourceInfo {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
  std::string list_kind;
  std::string plural;  // the resource name in URLs
  std::string singular;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool namespaced = true;
  bool status_subresource = false;
  std::vector<PrinterColumn> columns;  // beyond NAME; an "Age" column is added if absent
  // The structural openAPIV3Schema of the whole object. Built-in kinds share definitions through
  // $ref, expanded on first use of a kind: expanding every kind at start-up costs most of the
  // start-up time and tens of megabytes, and most kinds are never used in a given run.
  const Json& schema() const;
  // The expanded schema without keeping it (for one-off uses such as publishing the definition).
  Json SchemaCopy() const;
  void set_schema(Json schema);
  void set_schema(Json unresolved, std::shared_ptr<const Json> definitions);
  bool builtin = true;  // false for CRDs applied by users
  // Objects are stored under this group, so aliases of a group share objects with it
  // (serving.kubeflow.org is served as serving.kserve.io).
  std::string storage_group;
  // Whether create/update of this kind is accepted (false for virtual kinds such as
  // SelfSubjectAccessReview, which only take POST and store nothing).
  bool stored = true;
  std::vector<std::string> verbs;  // discovery verbs

  struct SchemaHolder;
  std::shared_ptr<SchemaHolder> schema_holder;  // shared by copies; resolved once

  std::string GroupVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string ApiVersion() const { return GroupVersion(); }
  // "pipelineruns.kubeflow.org"; for core "pods".
  std::string GroupResource() const { return group.empty() ? plural : plural + "." + group; }
  std::string GroupKind() const { return group.empty() ? kind : kind + "." + group; }
};

using ResourcePtr = std::shared_ptr<const ResourceInfo>;

// The set of served resources. Thread-safe; entries are immutable snapshots, replaced whole when a
// CRD changes, so holders of a ResourcePtr never see it change under them.
class ResourceRegistry {
 public:
  ResourceRegistry() = default;

  // Loads the built-in definitions compiled into the binary (LoadFiles(BuiltinFiles())).
  Status LoadBuiltins();
  // Loads definition files in the built-in format: multi-document YAML of CustomResourceDefinitions
  // and `skiff.io/v1 SchemaDefinitions` whose `definitions` any schema may `$ref`. All or nothing:
  // on an error nothing is added and the message names the file. Files are (name, content).
  Status LoadFiles(const std::vector<std::pair<std::string_view, std::string_view>>& files);

  // Adds or replaces every version of one CRD (apiextensions.k8s.io/v1 CustomResourceDefinition).
  Status AddCrd(const Json& crd, bool builtin);
  // Removes the resources a CRD defined (by its metadata.name, "<plural>.<group>").
  void RemoveCrd(const std::string& crd_name);

  ResourcePtr Find(const std::string& group, const std::string& version,
                   const std::string& plural) const;
  ResourcePtr FindByKind(const std::string& group, const std::string& version,
                         const std::string& kind) const;
  std::vector<ResourcePtr> All() const;
  // Groups in discovery order (core first), each with its served versions, preferred first.
  struct GroupVersions {
    std::string group;
    std::vector<std::string> versions;
  };
  std::vector<GroupVersions> Groups() const;

  // Increases on every change; discovery and OpenAPI documents cache by it. Values come from one
  // process-wide counter, so two registries that have both changed never share a generation.
  uint64_t generation() const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<ResourcePtr> resources_;  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;             // GUARDED_BY(mu_)
};

// Converts one CRD document into ResourceInfos (one per served version). Validates the CRD's own
// shape (names, scope, versions with schemas) and returns 422-style errors for a bad one.
StatusOr<std::vector<ResourceInfo>> ResourcesFromCrd(const Json& crd, bool builtin);

// The raw built-in definition files, compiled in by cmake/embed_files.cmake.
const std::vector<std::pair<std::string_view, std::string_view>>& BuiltinFiles();

}  // namespace skiff::api
