// Small readers of ObjectMeta shared by the controller runtime and the core controllers. They
// tolerate missing or mistyped fields (returning empty values), because controllers read objects
// written by anyone.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"

namespace skiff::controllers {

// metadata.<field> as a string, or "".
std::string MetaString(const Json& obj, const char* field);
inline std::string NameOf(const Json& obj) { return MetaString(obj, "name"); }
inline std::string NamespaceOf(const Json& obj) { return MetaString(obj, "namespace"); }
inline std::string UidOf(const Json& obj) { return MetaString(obj, "uid"); }
inline std::string ResourceVersionOf(const Json& obj) { return MetaString(obj, "resourceVersion"); }
bool IsDeleting(const Json& obj);

// "ns/name", or "name" for cluster-scoped objects (names never contain '/').
std::string ObjectKey(const std::string& ns, const std::string& name);
inline std::string ObjectKeyOf(const Json& obj) { return ObjectKey(NamespaceOf(obj), NameOf(obj)); }
void SplitObjectKey(const std::string& key, std::string* ns, std::string* name);

std::vector<std::string> Finalizers(const Json& obj);
bool HasFinalizer(const Json& obj, const std::string& finalizer);

struct OwnerRef {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;
};
std::vector<OwnerRef> OwnerRefs(const Json& obj);
// Whether an ownerReference with controller=true names `uid`.
bool IsControlledBy(const Json& obj, const std::string& uid);
// The condition of `type` in a status object's `conditions` list, or null.
const Json* FindCondition(const Json& status, const std::string& type);
// Whether that condition exists with status "True".
bool ConditionIsTrue(const Json& status, const std::string& type);
// The value of label `key`, or "".
std::string LabelOf(const Json& obj, const std::string& key);

// The group of an apiVersion: "apps/v1" -> "apps", "v1" -> "".
std::string GroupOf(const std::string& api_version);
std::string VersionOf(const std::string& api_version);

}  // namespace skiff::controllers
