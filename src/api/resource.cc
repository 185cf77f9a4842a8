// The resource registry: CRD documents in, immutable ResourceInfo snapshots out. Built-in kinds and
// user CRDs go through the same ResourcesFromCrd, so a built-in kind is exactly what a CRD with
// the same text would be on a real cluster.
#include "api/resource.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "api/schema.h"

namespace skiff::api {
namespace {

constexpr std::string_view kDefinitionRef = "#/definitions/";

// Calls `fn` with the definition name of every $ref under `schema`.
template <typename Fn>
void ForEachRef(const Json& schema, const Fn& fn) {
  if (schema.is_object()) {
    auto ref = schema.find("$ref");
    if (ref != schema.end() && ref->is_string()) {
      const std::string& r = ref->get_ref<const std::string&>();
      fn(r.rfind(kDefinitionRef, 0) == 0 ? r.substr(kDefinitionRef.size()) : r);
    }
    for (const auto& [key, value] : schema.items()) ForEachRef(value, fn);
  } else if (schema.is_array()) {
    for (const Json& v : schema) ForEachRef(v, fn);
  }
}

// The first $ref under `schema` that names no definition, or "".
std::string FirstUnknownRef(const Json& schema, const Json& definitions) {
  std::string missing;
  ForEachRef(schema, [&](const std::string& name) {
    if (missing.empty() && !definitions.contains(name)) missing = name;
  });
  return missing;
}

// Definitions must not refer to themselves (directly or through others), or expansion would not
// end; every reference must name a definition.
Status CheckDefinitionCycles(const Json& definitions, std::string* where) {
  std::map<std::string, std::vector<std::string>> edges;
  for (const auto& [name, schema] : definitions.items()) {
    ForEachRef(schema, [&](const std::string& to) { edges[name].push_back(to); });
  }
  std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::function<Status(const std::string&)> visit = [&](const std::string& n) -> Status {
    if (!definitions.contains(n)) return Status::Invalid("unknown definition \"" + n + "\"");
    if (state[n] == 2) return Status::Ok();
    if (state[n] == 1) {
      std::string cycle;
      for (const auto& p : path) cycle += p + " -> ";
      *where = n;
      return Status::Invalid("$ref cycle: " + cycle + n);
    }
    state[n] = 1;
    path.push_back(n);
    for (const std::string& to : edges[n]) {
      *where = n;
      SKIFF_RETURN_IF_ERROR(visit(to));
    }
    path.pop_back();
    state[n] = 2;
    return Status::Ok();
  };
  for (const auto& [name, schema] : definitions.items()) SKIFF_RETURN_IF_ERROR(visit(name));
  return Status::Ok();
}

}  // namespace

namespace {

// The file holding the Kubernetes types (PodSpec, Container, ...) every other file refers to.
constexpr std::string_view kKubernetesDefinitionsFile = "00-definitions.yaml";

bool IsKubernetesGroup(const std::string& group) {
  return group.empty() || group == "batch" ||
         (group.size() > 7 && group.compare(group.size() - 7, 7, ".k8s.io") == 0);
}

// Removes `default` keywords (not properties that happen to be named "default").
void StripDefaults(Json& schema) {
  if (!schema.is_object()) return;
  schema.erase("default");
  for (auto& [key, value] : schema.items()) {
    if ((key == "properties" || key == "definitions") && value.is_object()) {
      for (auto& [name, sub] : value.items()) StripDefaults(sub);
    } else if (key == "items" || key == "additionalProperties" || key == "not") {
      StripDefaults(value);
    } else if ((key == "allOf" || key == "anyOf" || key == "oneOf") && value.is_array()) {
      for (Json& sub : value) StripDefaults(sub);
    }
  }
}

}  // namespace

struct ResourceInfo::SchemaHolder {
  std::once_flag once;
  Json raw;
  std::shared_ptr<const Json> definitions;  // null: `raw` has no $refs
  Json resolved;
  std::atomic<bool> done{false};
};

const Json& ResourceInfo::schema() const {
  static const Json kEmpty = Json::object();
  if (!schema_holder) return kEmpty;
  SchemaHolder& h = *schema_holder;
  std::call_once(h.once, [&h] {
    if (!h.definitions) {
      h.resolved = std::move(h.raw);
      h.done = true;
      return;
    }
    auto resolved = ResolveRefs(h.raw, *h.definitions);
    // References were checked when the definitions were loaded, so this cannot fail in practice.
    h.resolved = resolved.ok() ? std::move(*resolved) : std::move(h.raw);
    h.raw = Json();
    h.done = true;
  });
  return h.resolved;
}

Json ResourceInfo::SchemaCopy() const {
  if (!schema_holder) return Json::object();
  SchemaHolder& h = *schema_holder;
  if (h.done || !h.definitions) return schema();
  auto resolved = ResolveRefs(h.raw, *h.definitions);
  return resolved.ok() ? std::move(*resolved) : schema();
}

void ResourceInfo::set_schema(Json schema) { set_schema(std::move(schema), nullptr); }

void ResourceInfo::set_schema(Json unresolved, std::shared_ptr<const Json> definitions) {
  schema_holder = std::make_shared<SchemaHolder>();
  schema_holder->raw = std::move(unresolved);
  schema_holder->definitions = std::move(definitions);
}

namespace {

constexpr char kCrdGroupKind[] = "CustomResourceDefinition.apiextensions.k8s.io";
constexpr char kStorageGroupAnnotation[] = "skiff.io/storage-group";
constexpr char kStoredAnnotation[] = "skiff.io/stored";
constexpr char kVerbsAnnotation[] = "skiff.io/verbs";

// One counter for every registry: a (registry, generation) pair then identifies one state, even if
// a registry is destroyed and another is built at the same address (caches key on both).
std::atomic<uint64_t> g_generation{0};

const std::vector<std::string>& DefaultVerbs() {
  static const std::vector<std::string> kVerbs = {"create", "delete", "deletecollection", "get",
                                                  "list",   "patch",  "update",           "watch"};
  return kVerbs;
}

bool IsDnsLabel(const std::string& s) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return !s.empty() && s.size() <= 63 && std::regex_match(s, kLabel);
}

bool IsDns1035Label(const std::string& s) {
  static const std::regex kLabel("[a-z]([-a-z0-9]*[a-z0-9])?");
  return !s.empty() && s.size() <= 63 && std::regex_match(s, kLabel);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Quote(const std::string& s) { return Json(s).dump(); }

// obj[key] by reference, or null. (`cond ? obj[key] : Json()` would copy obj[key], and schemas
// are large.)
const Json& Get(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

// String member or "" (absent, or not a string: the caller reports what it requires).
std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> StrList(const Json& obj, const char* key) {
  std::vector<std::string> out;
  if (!obj.is_object()) return out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return out;
  for (const Json& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

class Causes {
 public:
  void Required(const std::string& field, const std::string& detail = "") {
    list.push_back({"FieldValueRequired",
                    detail.empty() ? "Required value" : "Required value: " + detail, field});
  }
  void Invalid(const std::string& field, const Json& value, const std::string& detail) {
    std::string v = value.is_string() ? Quote(value.get<std::string>()) : value.dump();
    list.push_back({"FieldValueInvalid", "Invalid value: " + v + ": " + detail, field});
  }
  void NotSupported(const std::string& field, const Json& value,
                    const std::vector<std::string>& supported) {
    std::string s;
    for (const std::string& v : supported) s += (s.empty() ? "" : ", ") + Quote(v);
    std::string v = value.is_string() ? Quote(value.get<std::string>()) : value.dump();
    list.push_back(
        {"FieldValueNotSupported", "Unsupported value: " + v + ": supported values: " + s, field});
  }
  std::vector<StatusCause> list;
};

// Kubernetes version priority (CompareKubeAwareVersionStrings): GA > beta > alpha, higher
// numbers first; versions not shaped like vN[alpha|betaM] sort last, alphabetically.
struct KubeVersion {
  bool kube = false;
  int major = 0;
  int stability = 0;  // 2 GA, 1 beta, 0 alpha
  int minor = 0;
};

KubeVersion ParseKubeVersion(const std::string& v) {
  static const std::regex kRe("v([0-9]+)(?:(alpha|beta)([0-9]+))?");
  std::smatch m;
  KubeVersion out;
  if (!std::regex_match(v, m, kRe)) return out;
  out.kube = true;
  out.major = std::stoi(m[1].str());
  if (m[2].matched) {
    out.stability = m[2].str() == "beta" ? 1 : 0;
    out.minor = std::stoi(m[3].str());
  } else {
    out.stability = 2;
  }
  return out;
}

// True when `a` is preferred over `b`.
bool VersionPreferred(const std::string& a, const std::string& b) {
  KubeVersion x = ParseKubeVersion(a), y = ParseKubeVersion(b);
  if (x.kube != y.kube) return x.kube;
  if (!x.kube) return a < b;
  if (x.stability != y.stability) return x.stability > y.stability;
  if (x.major != y.major) return x.major > y.major;
  return x.minor > y.minor;
}

PrinterColumn ParseColumn(const Json& c) {
  PrinterColumn col;
  col.name = Str(c, "name");
  col.type = Str(c, "type");
  col.format = Str(c, "format");
  col.description = Str(c, "description");
  col.json_path = Str(c, "jsonPath");
  if (c.contains("priority") && c["priority"].is_number_integer()) {
    col.priority = c["priority"].get<int>();
  }
  return col;
}

void ValidateColumns(const Json& columns, const std::string& path, Causes& causes) {
  if (!columns.is_array()) {
    causes.Invalid(path, columns, "must be a list");
    return;
  }
  static const std::vector<std::string> kTypes = {"boolean", "date", "integer", "number", "string"};
  for (size_t i = 0; i < columns.size(); ++i) {
    const Json& c = columns[i];
    std::string p = path + "[" + std::to_string(i) + "]";
    if (Str(c, "name").empty()) causes.Required(p + ".name");
    if (Str(c, "jsonPath").empty()) causes.Required(p + ".jsonPath");
    std::string type = Str(c, "type");
    if (type.empty()) {
      causes.Required(p + ".type");
    } else if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
      causes.NotSupported(p + ".type", type, kTypes);
    }
  }
}

std::vector<std::string> SplitVerbs(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// A registry change: the CRD identity is (group, plural); the same kind may not be served twice
// in one group under another plural.
Status CheckNoConflict(const std::vector<ResourcePtr>& existing,
                       const std::vector<ResourceInfo>& incoming) {
  for (const ResourceInfo& in : incoming) {
    for (const ResourcePtr& r : existing) {
      if (r->group == in.group && r->plural != in.plural && r->kind == in.kind) {
        return Status::Conflict("kind " + Quote(in.kind) + " in group " + Quote(in.group) +
                                " is already served as " + Quote(r->GroupResource()));
      }
    }
  }
  return Status::Ok();
}

void Replace(std::vector<ResourcePtr>& resources, std::vector<ResourceInfo> incoming) {
  std::set<std::pair<std::string, std::string>> ids;
  for (const ResourceInfo& in : incoming) ids.emplace(in.group, in.plural);
  resources.erase(std::remove_if(resources.begin(), resources.end(),
                                 [&](const ResourcePtr& r) {
                                   return ids.count({r->group, r->plural}) > 0;
                                 }),
                  resources.end());
  for (ResourceInfo& in : incoming) {
    resources.push_back(std::make_shared<const ResourceInfo>(std::move(in)));
  }
}

}  // namespace

StatusOr<std::vector<ResourceInfo>> ResourcesFromCrd(const Json& crd, bool builtin) {
  Causes causes;
  std::string name = Str(Get(crd, "metadata"), "name");
  if (!crd.is_object()) {
    return Status::BadRequest("a CustomResourceDefinition must be an object");
  }
  if (Str(crd, "kind") != "CustomResourceDefinition") {
    causes.Invalid("kind", crd.value("kind", Json("")), "must be CustomResourceDefinition");
  }
  if (Str(crd, "apiVersion") != "apiextensions.k8s.io/v1") {
    causes.Invalid("apiVersion", crd.value("apiVersion", Json("")),
                   "must be apiextensions.k8s.io/v1");
  }
  const Json& spec = Get(crd, "spec");
  if (!spec.is_object()) {
    causes.Required("spec");
    return InvalidStatus(kCrdGroupKind, name, std::move(causes.list));
  }
  const Json& names = Get(spec, "names");
  const Json& annotations = Get(Get(crd, "metadata"), "annotations");

  ResourceInfo base;
  base.builtin = builtin;
  if (!spec.contains("group") || !spec["group"].is_string()) {
    causes.Required("spec.group");
  } else {
    base.group = spec["group"].get<std::string>();
    // Only the built-in core kinds may use the empty group; user groups are domains.
    if (!builtin && base.group.find('.') == std::string::npos) {
      causes.Invalid("spec.group", base.group, "should be a domain with at least one dot");
    }
  }
  base.plural = Str(names, "plural");
  base.kind = Str(names, "kind");
  base.singular = Str(names, "singular");
  base.list_kind = Str(names, "listKind");
  base.short_names = StrList(names, "shortNames");
  base.categories = StrList(names, "categories");
  if (base.plural.empty()) {
    causes.Required("spec.names.plural");
  } else if (!IsDnsLabel(base.plural)) {
    causes.Invalid("spec.names.plural", base.plural,
                   "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                   "characters or '-', and must start and end with an alphanumeric character");
  }
  if (base.kind.empty()) {
    causes.Required("spec.names.kind");
  } else if (!IsDnsLabel(Lower(base.kind)) ||
             !std::isupper(static_cast<unsigned char>(base.kind[0]))) {
    causes.Invalid("spec.names.kind", base.kind,
                   "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?");
  }
  if (base.singular.empty()) base.singular = Lower(base.kind);
  if (base.list_kind.empty() && !base.kind.empty()) base.list_kind = base.kind + "List";
  if (!base.singular.empty() && !IsDnsLabel(base.singular)) {
    causes.Invalid("spec.names.singular", base.singular, "must be a lowercase RFC 1123 label");
  }
  for (size_t i = 0; i < base.short_names.size(); ++i) {
    if (!IsDnsLabel(base.short_names[i])) {
      causes.Invalid("spec.names.shortNames[" + std::to_string(i) + "]", base.short_names[i],
                     "must be a lowercase RFC 1123 label");
    }
  }
  if (!base.plural.empty()) {
    std::string expected = base.group.empty() ? base.plural : base.plural + "." + base.group;
    if (name != expected) {
      causes.Invalid("metadata.name", name,
                     "must be spec.names.plural+\".\"+spec.group (" + Quote(expected) + ")");
    }
  }
  std::string scope = Str(spec, "scope");
  if (scope == "Namespaced") {
    base.namespaced = true;
  } else if (scope == "Cluster") {
    base.namespaced = false;
  } else if (scope.empty()) {
    causes.Required("spec.scope");
  } else {
    causes.NotSupported("spec.scope", scope, {"Cluster", "Namespaced"});
  }

  base.storage_group = base.group;
  if (std::string g = Str(annotations, kStorageGroupAnnotation); !g.empty()) {
    base.storage_group = g;
  }
  if (annotations.contains(kStoredAnnotation)) {
    const Json& v = annotations[kStoredAnnotation];
    base.stored = !(v == "false" || v == false);
  }
  base.verbs = base.stored ? DefaultVerbs() : std::vector<std::string>{"create"};
  if (std::string v = Str(annotations, kVerbsAnnotation); !v.empty()) base.verbs = SplitVerbs(v);

  std::vector<ResourceInfo> out;
  const Json& versions = Get(spec, "versions");
  if (!versions.is_array() || versions.empty()) {
    causes.Required("spec.versions", "must have exactly one version marked as storage version");
    return InvalidStatus(kCrdGroupKind, name, std::move(causes.list));
  }
  int storage = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < versions.size(); ++i) {
    const Json& v = versions[i];
    std::string path = "spec.versions[" + std::to_string(i) + "]";
    ResourceInfo info = base;
    info.version = Str(v, "name");
    if (info.version.empty()) {
      causes.Required(path + ".name");
    } else if (!IsDns1035Label(info.version)) {
      causes.Invalid(path + ".name", info.version, "must be a DNS-1035 label");
    } else if (!seen.insert(info.version).second) {
      causes.Invalid(path + ".name", info.version, "must be unique");
    }
    if (v.is_object() && v.value("storage", false) == true) ++storage;
    const Json* schema = nullptr;
    if (v.is_object() && v.contains("schema") && v["schema"].is_object() &&
        v["schema"].contains("openAPIV3Schema")) {
      schema = &v["schema"]["openAPIV3Schema"];
    }
    if (schema == nullptr || !schema->is_object()) {
      causes.Required(path + ".schema.openAPIV3Schema", "schemas are required");
    } else {
      // Built-in schemas are trusted (and tested separately); user schemas must be structural.
      if (!builtin) {
        for (StatusCause& c : CheckStructural(*schema, path + ".schema.openAPIV3Schema")) {
          causes.list.push_back(std::move(c));
        }
      }
      info.set_schema(*schema);
    }
    if (v.is_object() && v.contains("subresources") && v["subresources"].is_object()) {
      info.status_subresource = v["subresources"].contains("status");
    }
    if (v.is_object() && v.contains("additionalPrinterColumns")) {
      ValidateColumns(v["additionalPrinterColumns"], path + ".additionalPrinterColumns", causes);
      if (v["additionalPrinterColumns"].is_array()) {
        for (const Json& c : v["additionalPrinterColumns"]) info.columns.push_back(ParseColumn(c));
      }
    }
    bool served = v.is_object() && v.value("served", false) == true;
    if (served) out.push_back(std::move(info));
  }
  if (storage != 1) {
    causes.Invalid("spec.versions", versions.size(),
                   "must have exactly one version marked as storage version");
  }
  if (!causes.list.empty()) return InvalidStatus(kCrdGroupKind, name, std::move(causes.list));
  return out;
}

Status ResourceRegistry::LoadBuiltins() { return LoadFiles(BuiltinFiles()); }

Status ResourceRegistry::LoadFiles(
    const std::vector<std::pair<std::string_view, std::string_view>>& files) {
  auto fail = [](std::string_view file, const std::string& what) {
    return Status::Internal("built-in definitions " + std::string(file) + ": " + what);
  };
  // Pass 1: parse everything and gather the shared definitions, so files may $ref each other's.
  std::vector<std::pair<std::string_view, std::vector<Json>>> parsed;
  Json definitions = Json::object();
  std::map<std::string, std::string_view> defined_in;
  for (const auto& [file, text] : files) {
    auto docs = ParseYamlDocuments(text);
    if (!docs.ok()) return fail(file, docs.status().message());
    for (const Json& doc : *docs) {
      if (!doc.is_object()) return fail(file, "a document is not a mapping");
      if (Str(doc, "kind") != "SchemaDefinitions") continue;
      if (Str(doc, "apiVersion") != "skiff.io/v1") {
        return fail(file, "SchemaDefinitions must have apiVersion skiff.io/v1");
      }
      const Json& defs = Get(doc, "definitions");
      if (!defs.is_object()) return fail(file, "SchemaDefinitions needs a `definitions` mapping");
      for (auto it = defs.begin(); it != defs.end(); ++it) {
        if (auto prev = defined_in.find(it.key()); prev != defined_in.end()) {
          return fail(file, "definition " + Quote(it.key()) + " is also defined in " +
                                std::string(prev->second));
        }
        defined_in.emplace(it.key(), file);
        definitions[it.key()] = it.value();
      }
    }
    parsed.emplace_back(file, std::move(*docs));
  }

  // Pass 2: check that every $ref names a definition and that definitions do not refer to
  // themselves; expansion itself waits until a kind is first used (ResourceInfo::schema()).
  // Kubernetes defaults the pod templates of its own kinds (Job) but not those embedded in CRDs:
  // a TFJob's template keeps exactly what the user wrote, or every re-apply would differ.
  Json plain_definitions = definitions;
  for (auto& [name, schema] : plain_definitions.items()) {
    auto where = defined_in.find(name);
    if (where != defined_in.end() && where->second == kKubernetesDefinitionsFile) {
      StripDefaults(schema);
    }
  }
  auto definitions_without_defaults = std::make_shared<const Json>(std::move(plain_definitions));
  auto shared_definitions = std::make_shared<const Json>(std::move(definitions));
  std::string bad_definition;
  if (Status st = CheckDefinitionCycles(*shared_definitions, &bad_definition); !st.ok()) {
    return fail(defined_in[bad_definition],
                "definition " + Quote(bad_definition) + ": " + st.message());
  }
  for (auto& [file, docs] : parsed) {
    for (Json& doc : docs) {
      std::string kind = Str(doc, "kind");
      if (kind == "SchemaDefinitions") continue;
      if (kind != "CustomResourceDefinition") {
        return fail(file, "unexpected document of kind " + Quote(kind) +
                              " (expected CustomResourceDefinition or SchemaDefinitions)");
      }
      const Json& versions = Get(Get(doc, "spec"), "versions");
      for (size_t i = 0; versions.is_array() && i < versions.size(); ++i) {
        std::string missing = FirstUnknownRef(Get(versions[i], "schema"), *shared_definitions);
        if (!missing.empty()) {
          return fail(file, "CustomResourceDefinition " + Quote(Str(Get(doc, "metadata"), "name")) +
                                ": spec.versions[" + std::to_string(i) +
                                "].schema: unknown definition " + Quote(missing));
        }
      }
    }
  }

  // Pass 3: the CRDs.
  std::vector<ResourceInfo> all;
  std::map<std::string, std::string_view> resource_file;  // "group/version/plural" -> file
  for (auto& [file, docs] : parsed) {
    for (Json& doc : docs) {
      if (Str(doc, "kind") != "CustomResourceDefinition") continue;
      auto infos = ResourcesFromCrd(doc, /*builtin=*/true);
      if (!infos.ok()) return fail(file, infos.status().message());
      for (ResourceInfo& info : *infos) {
        info.set_schema(Json(info.schema()), IsKubernetesGroup(info.group)
                                                 ? shared_definitions
                                                 : definitions_without_defaults);
        std::string key = info.group + "/" + info.version + "/" + info.plural;
        if (auto prev = resource_file.find(key); prev != resource_file.end()) {
          return fail(
              file, "resource " + Quote(key) + " is also defined in " + std::string(prev->second));
        }
        resource_file.emplace(key, file);
        for (const ResourceInfo& other : all) {
          if (other.group == info.group && other.version == info.version &&
              other.kind == info.kind) {
            return fail(file, "kind " + Quote(info.kind) + " of " + Quote(info.GroupVersion()) +
                                  " is defined twice");
          }
        }
        all.push_back(std::move(info));
      }
    }
  }

  std::unique_lock lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckNoConflict(resources_, all));
  Replace(resources_, std::move(all));
  generation_ = ++g_generation;
  return Status::Ok();
}

Status ResourceRegistry::AddCrd(const Json& crd, bool builtin) {
  auto infos = ResourcesFromCrd(crd, builtin);
  if (!infos.ok()) return infos.status();
  std::unique_lock lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckNoConflict(resources_, *infos));
  // A CRD whose versions are all unserved still replaces (removes) what it served before.
  std::string group = Str(crd["spec"], "group");
  std::string plural = Str(crd["spec"]["names"], "plural");
  resources_.erase(std::remove_if(resources_.begin(), resources_.end(),
                                  [&](const ResourcePtr& r) {
                                    return r->group == group && r->plural == plural;
                                  }),
                   resources_.end());
  Replace(resources_, std::move(*infos));
  generation_ = ++g_generation;
  return Status::Ok();
}

void ResourceRegistry::RemoveCrd(const std::string& crd_name) {
  size_t dot = crd_name.find('.');
  std::string plural = crd_name.substr(0, dot);
  std::string group = dot == std::string::npos ? "" : crd_name.substr(dot + 1);
  std::unique_lock lock(mu_);
  auto end = std::remove_if(resources_.begin(), resources_.end(), [&](const ResourcePtr& r) {
    return r->group == group && r->plural == plural;
  });
  if (end == resources_.end()) return;
  resources_.erase(end, resources_.end());
  generation_ = ++g_generation;
}

ResourcePtr ResourceRegistry::Find(const std::string& group, const std::string& version,
                                   const std::string& plural) const {
  std::shared_lock lock(mu_);
  for (const ResourcePtr& r : resources_) {
    if (r->group == group && r->version == version && r->plural == plural) return r;
  }
  return nullptr;
}

ResourcePtr ResourceRegistry::FindByKind(const std::string& group, const std::string& version,
                                         const std::string& kind) const {
  std::shared_lock lock(mu_);
  for (const ResourcePtr& r : resources_) {
    if (r->group == group && r->version == version && r->kind == kind) return r;
  }
  return nullptr;
}

std::vector<ResourcePtr> ResourceRegistry::All() const {
  std::shared_lock lock(mu_);
  return resources_;
}

std::vector<ResourceRegistry::GroupVersions> ResourceRegistry::Groups() const {
  std::map<std::string, std::set<std::string>> by_group;  // std::map puts "" (core) first
  {
    std::shared_lock lock(mu_);
    for (const ResourcePtr& r : resources_) by_group[r->group].insert(r->version);
  }
  std::vector<GroupVersions> out;
  for (auto& [group, versions] : by_group) {
    GroupVersions gv{group, {versions.begin(), versions.end()}};
    std::sort(gv.versions.begin(), gv.versions.end(), VersionPreferred);
    out.push_back(std::move(gv));
  }
  return out;
}

uint64_t ResourceRegistry::generation() const {
  std::shared_lock lock(mu_);
  return generation_;
}

}  // namespace skiff::api
