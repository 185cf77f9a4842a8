#include "controllers/object_meta.h"

namespace skiff::controllers {
namespace {

const Json* Metadata(const Json& obj) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find("metadata");
  if (it == obj.end() || !it->is_object()) return nullptr;
  return &*it;
}

}  // namespace

std::string MetaString(const Json& obj, const char* field) {
  const Json* meta = Metadata(obj);
  if (!meta) return "";
  auto it = meta->find(field);
  if (it == meta->end() || !it->is_string()) return "";
  return it->get<std::string>();
}

bool IsDeleting(const Json& obj) {
  const Json* meta = Metadata(obj);
  if (!meta) return false;
  auto it = meta->find("deletionTimestamp");
  return it != meta->end() && !it->is_null();
}

std::string ObjectKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

void SplitObjectKey(const std::string& key, std::string* ns, std::string* name) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) {
    ns->clear();
    *name = key;
  } else {
    *ns = key.substr(0, slash);
    *name = key.substr(slash + 1);
  }
}

std::vector<std::string> Finalizers(const Json& obj) {
  std::vector<std::string> out;
  const Json* meta = Metadata(obj);
  if (!meta) return out;
  auto it = meta->find("finalizers");
  if (it == meta->end() || !it->is_array()) return out;
  for (const Json& f : *it) {
    if (f.is_string()) out.push_back(f.get<std::string>());
  }
  return out;
}

bool HasFinalizer(const Json& obj, const std::string& finalizer) {
  for (const std::string& f : Finalizers(obj)) {
    if (f == finalizer) return true;
  }
  return false;
}

std::vector<OwnerRef> OwnerRefs(const Json& obj) {
  std::vector<OwnerRef> out;
  const Json* meta = Metadata(obj);
  if (!meta) return out;
  auto it = meta->find("ownerReferences");
  if (it == meta->end() || !it->is_array()) return out;
  for (const Json& r : *it) {
    if (!r.is_object()) continue;
    OwnerRef ref;
    ref.api_version = r.value("apiVersion", "");
    ref.kind = r.value("kind", "");
    ref.name = r.value("name", "");
    ref.uid = r.value("uid", "");
    if (auto c = r.find("controller"); c != r.end() && c->is_boolean()) ref.controller = *c;
    if (auto b = r.find("blockOwnerDeletion"); b != r.end() && b->is_boolean()) {
      ref.block_owner_deletion = *b;
    }
    out.push_back(std::move(ref));
  }
  return out;
}

std::string GroupOf(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

std::string VersionOf(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? api_version : api_version.substr(slash + 1);
}

bool IsControlledBy(const Json& obj, const std::string& uid) {
  for (const OwnerRef& ref : OwnerRefs(obj)) {
    if (ref.controller && ref.uid == uid) return true;
  }
  return false;
}

std::string LabelOf(const Json& obj, const std::string& key) {
  const Json* labels = FindPath(obj, "metadata.labels");
  if (!labels || !labels->is_object()) return "";
  auto it = labels->find(key);
  return it != labels->end() && it->is_string() ? it->get<std::string>() : "";
}

const Json* FindCondition(const Json& status, const std::string& type) {
  auto it = status.find("conditions");
  if (it == status.end() || !it->is_array()) return nullptr;
  for (const Json& c : *it) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

bool ConditionIsTrue(const Json& status, const std::string& type) {
  const Json* c = FindCondition(status, type);
  return c != nullptr && c->value("status", "") == "True";
}

}  // namespace skiff::controllers
