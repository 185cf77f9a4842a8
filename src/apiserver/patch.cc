// Merge patch, JSON patch and strategic merge patch, plus the schema navigation that strategic
// merge patch and server-side apply share.
#include "apiserver/patch.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace skiff::apiserver {
namespace {

// ObjectMeta as the API server sees it, whatever a CRD's schema declares for `metadata` (most say
// only `type: object`). Only the members whose merge behaviour matters are spelled out.
const Json& ObjectMetaSchema() {
  static const Json* const kSchema = new Json(Json::parse(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string"},
      "generateName": {"type": "string"},
      "namespace": {"type": "string"},
      "uid": {"type": "string"},
      "resourceVersion": {"type": "string"},
      "generation": {"type": "integer"},
      "creationTimestamp": {"type": "string"},
      "deletionTimestamp": {"type": "string"},
      "deletionGracePeriodSeconds": {"type": "integer"},
      "labels": {"type": "object", "additionalProperties": {"type": "string"}},
      "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
      "finalizers": {
        "type": "array", "items": {"type": "string"},
        "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"
      },
      "ownerReferences": {
        "type": "array",
        "items": {
          "type": "object",
          "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "name": {"type": "string"}, "uid": {"type": "string"},
            "controller": {"type": "boolean"}, "blockOwnerDeletion": {"type": "boolean"}
          }
        },
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"],
        "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "uid"
      },
      "managedFields": {"type": "array", "items": {"type": "object"},
                        "x-kubernetes-list-type": "atomic"}
    }
  })"));
  return *kSchema;
}

std::string StringAt(const Json* node, const char* key) {
  if (node == nullptr || !node->is_object()) return "";
  auto it = node->find(key);
  if (it == node->end() || !it->is_string()) return "";
  return it->get<std::string>();
}

std::vector<std::string> ListMapKeys(const Json* node) {
  std::vector<std::string> keys;
  if (node == nullptr || !node->is_object()) return keys;
  auto it = node->find("x-kubernetes-list-map-keys");
  if (it == node->end() || !it->is_array()) return keys;
  for (const Json& k : *it) {
    if (k.is_string()) keys.push_back(k.get<std::string>());
  }
  return keys;
}

bool HasMergeStrategy(const Json* node) {
  // The strategy may be a comma list such as "merge,retainKeys".
  std::string strategy = StringAt(node, "x-kubernetes-patch-strategy");
  size_t start = 0;
  while (start <= strategy.size()) {
    size_t end = strategy.find(',', start);
    if (end == std::string::npos) end = strategy.size();
    if (strategy.compare(start, end - start, "merge") == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

// ---- Schema navigation ----

ListStrategy PatchListStrategy(const Json* schema) {
  std::string merge_key = StringAt(schema, "x-kubernetes-patch-merge-key");
  if (HasMergeStrategy(schema)) {
    if (!merge_key.empty()) return {ListKind::kMap, {merge_key}};
    std::vector<std::string> keys = ListMapKeys(schema);
    if (!keys.empty()) return {ListKind::kMap, keys};
    return {ListKind::kSet, {}};
  }
  std::string list_type = StringAt(schema, "x-kubernetes-list-type");
  if (list_type == "map") {
    std::vector<std::string> keys = ListMapKeys(schema);
    if (!keys.empty()) return {ListKind::kMap, keys};
  }
  if (list_type == "set") return {ListKind::kSet, {}};
  return {};
}

ListStrategy ApplyListStrategy(const Json* schema) {
  std::string list_type = StringAt(schema, "x-kubernetes-list-type");
  if (list_type == "map") {
    std::vector<std::string> keys = ListMapKeys(schema);
    if (!keys.empty()) return {ListKind::kMap, keys};
    return {};
  }
  if (list_type == "set") return {ListKind::kSet, {}};
  if (list_type == "atomic") return {};
  if (HasMergeStrategy(schema)) {
    std::string merge_key = StringAt(schema, "x-kubernetes-patch-merge-key");
    if (!merge_key.empty()) return {ListKind::kMap, {merge_key}};
    return {ListKind::kSet, {}};
  }
  return {};
}

const Json* ChildSchema(const Json* root, const Json* node, std::string_view key) {
  if (node != nullptr && node == root && key == "metadata") return &ObjectMetaSchema();
  if (node == nullptr || !node->is_object()) return nullptr;
  auto props = node->find("properties");
  if (props != node->end() && props->is_object()) {
    auto it = props->find(std::string(key));
    if (it != props->end()) return &*it;
  }
  auto additional = node->find("additionalProperties");
  if (additional != node->end() && additional->is_object()) return &*additional;
  return nullptr;
}

const Json* ItemSchema(const Json* node) {
  if (node == nullptr || !node->is_object()) return nullptr;
  auto it = node->find("items");
  if (it == node->end() || !it->is_object()) return nullptr;
  return &*it;
}

bool DeclaresProperty(const Json* root, const Json* node, std::string_view key) {
  if (node != nullptr && node == root && key == "metadata") return true;
  if (node == nullptr || !node->is_object()) return false;
  auto props = node->find("properties");
  return props != node->end() && props->is_object() && props->contains(std::string(key));
}

bool IsAtomicMap(const Json* node) { return StringAt(node, "x-kubernetes-map-type") == "atomic"; }

// ---- RFC 7386 ----

namespace {

void MergePatchInto(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      target.erase(it.key());
    } else {
      MergePatchInto(target[it.key()], it.value());
    }
  }
}

}  // namespace

StatusOr<Json> ApplyMergePatch(const Json& target, const Json& patch) {
  Json result = target;
  MergePatchInto(result, patch);
  return result;
}

// ---- RFC 6902 ----

namespace {

Status NotApplicable(const std::string& op, const std::string& what, const std::string& path) {
  return Status::Invalid("jsonpatch " + op + " operation does not apply: " + what + ": " + path);
}

// Splits a JSON pointer into unescaped reference tokens ("~1" is "/", "~0" is "~").
StatusOr<std::vector<std::string>> ParsePointer(const std::string& pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') {
    return Status::Invalid("jsonpatch: JSON pointer must be empty or start with \"/\": " + pointer);
  }
  std::string token;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
    } else if (pointer[i] == '~') {
      char next = i + 1 < pointer.size() ? pointer[i + 1] : '\0';
      if (next == '0') {
        token += '~';
      } else if (next == '1') {
        token += '/';
      } else {
        return Status::Invalid("jsonpatch: invalid escape in JSON pointer: " + pointer);
      }
      ++i;
    } else {
      token += pointer[i];
    }
  }
  return tokens;
}

// An array index: digits without leading zeros, or "-" (one past the end) where allowed.
std::optional<size_t> ParseIndex(const std::string& token, size_t size, bool allow_end) {
  if (token == "-") return allow_end ? std::optional<size_t>(size) : std::nullopt;
  if (token.empty() || token.size() > 18) return std::nullopt;
  if (token.size() > 1 && token[0] == '0') return std::nullopt;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  size_t index = std::stoull(token);
  if (allow_end ? index > size : index >= size) return std::nullopt;
  return index;
}

// The value at `tokens[0, count)`, or nullptr.
Json* Resolve(Json& doc, const std::vector<std::string>& tokens, size_t count) {
  Json* node = &doc;
  for (size_t i = 0; i < count; ++i) {
    if (node->is_object()) {
      auto it = node->find(tokens[i]);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      std::optional<size_t> index = ParseIndex(tokens[i], node->size(), false);
      if (!index) return nullptr;
      node = &(*node)[*index];
    } else {
      return nullptr;
    }
  }
  return node;
}

Status AddAt(Json& doc, const std::vector<std::string>& tokens, Json value, const std::string& op,
             const std::string& path) {
  if (tokens.empty()) {
    doc = std::move(value);
    return Status::Ok();
  }
  Json* parent = Resolve(doc, tokens, tokens.size() - 1);
  if (parent == nullptr) return NotApplicable(op, "doc is missing path", path);
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    (*parent)[last] = std::move(value);
    return Status::Ok();
  }
  if (parent->is_array()) {
    std::optional<size_t> index = ParseIndex(last, parent->size(), true);
    if (!index) return NotApplicable(op, "index out of bounds", path);
    parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(*index), std::move(value));
    return Status::Ok();
  }
  return NotApplicable(op, "doc is missing path", path);
}

Status RemoveAt(Json& doc, const std::vector<std::string>& tokens, const std::string& op,
                const std::string& path) {
  if (tokens.empty()) return NotApplicable(op, "cannot remove the whole document", path);
  Json* parent = Resolve(doc, tokens, tokens.size() - 1);
  if (parent != nullptr && parent->is_object() && parent->erase(tokens.back()) == 1) {
    return Status::Ok();
  }
  if (parent != nullptr && parent->is_array()) {
    std::optional<size_t> index = ParseIndex(tokens.back(), parent->size(), false);
    if (index) {
      parent->erase(*index);
      return Status::Ok();
    }
  }
  return NotApplicable(op, "doc is missing path", path);
}

bool IsProperPrefix(const std::string& prefix, const std::string& path) {
  return path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
         path[prefix.size()] == '/';
}

// Reads a required string member of an operation; absence is a malformed patch.
StatusOr<std::string> RequiredString(const Json& op, const char* key, size_t index) {
  auto it = op.find(key);
  if (it == op.end() || !it->is_string()) {
    return Status::BadRequest("jsonpatch: operation " + std::to_string(index) + " is missing \"" +
                              key + "\"");
  }
  return it->get<std::string>();
}

Status ApplyOperation(Json& doc, const Json& op, size_t index) {
  if (!op.is_object()) {
    return Status::BadRequest("jsonpatch: operation " + std::to_string(index) +
                              " is not an object");
  }
  StatusOr<std::string> name = RequiredString(op, "op", index);
  if (!name.ok()) return name.status();
  StatusOr<std::string> path = RequiredString(op, "path", index);
  if (!path.ok()) return path.status();
  const std::string& kind = *name;
  const bool needs_value = kind == "add" || kind == "replace" || kind == "test";
  const bool needs_from = kind == "move" || kind == "copy";
  if (!needs_value && !needs_from && kind != "remove") {
    return Status::BadRequest("jsonpatch: unexpected operation \"" + kind + "\"");
  }
  if (needs_value && !op.contains("value")) {
    return Status::BadRequest("jsonpatch: " + kind + " operation " + std::to_string(index) +
                              " is missing \"value\"");
  }
  std::string from;
  if (needs_from) {
    StatusOr<std::string> f = RequiredString(op, "from", index);
    if (!f.ok()) return f.status();
    from = *f;
  }
  StatusOr<std::vector<std::string>> tokens = ParsePointer(*path);
  if (!tokens.ok()) return tokens.status();

  if (kind == "add") return AddAt(doc, *tokens, op["value"], kind, *path);
  if (kind == "remove") return RemoveAt(doc, *tokens, kind, *path);
  if (kind == "replace") {
    Json* target = Resolve(doc, *tokens, tokens->size());
    if (target == nullptr) return NotApplicable(kind, "doc is missing key", *path);
    *target = op["value"];
    return Status::Ok();
  }
  if (kind == "test") {
    Json* target = Resolve(doc, *tokens, tokens->size());
    if (target == nullptr) return NotApplicable(kind, "doc is missing path", *path);
    if (*target != op["value"]) {
      return Status::Invalid("jsonpatch test operation does not apply: value at " + *path +
                             " is not " + op["value"].dump());
    }
    return Status::Ok();
  }
  // move and copy
  StatusOr<std::vector<std::string>> from_tokens = ParsePointer(from);
  if (!from_tokens.ok()) return from_tokens.status();
  Json* source = Resolve(doc, *from_tokens, from_tokens->size());
  if (source == nullptr) return NotApplicable(kind, "doc is missing from path", from);
  Json value = *source;
  if (kind == "move") {
    if (from == *path) return Status::Ok();
    if (IsProperPrefix(from, *path)) {
      return NotApplicable(kind, "cannot move a value into one of its children", *path);
    }
    SKIFF_RETURN_IF_ERROR(RemoveAt(doc, *from_tokens, kind, from));
  }
  return AddAt(doc, *tokens, std::move(value), kind, *path);
}

}  // namespace

StatusOr<Json> ApplyJsonPatch(const Json& target, const Json& patch) {
  if (!patch.is_array()) {
    return Status::BadRequest("jsonpatch: the patch must be a JSON array of operations");
  }
  Json doc = target;
  for (size_t i = 0; i < patch.size(); ++i) {
    SKIFF_RETURN_IF_ERROR(ApplyOperation(doc, patch[i], i));
  }
  return doc;
}

// ---- Strategic merge patch ----

namespace {

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsDirectiveKey(std::string_view key) {
  return key == kPatchDirective || key == kRetainKeys || StartsWith(key, kSetElementOrder) ||
         StartsWith(key, kDeleteFromPrimitiveList);
}

// The `$patch` directive of a patch element, or "" when it has none.
std::string PatchDirective(const Json& patch) {
  if (!patch.is_object()) return "";
  auto it = patch.find(kPatchDirective);
  if (it == patch.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

class StrategicMerger {
 public:
  explicit StrategicMerger(const Json* root) : root_(root) {}

  Status MergeObject(Json& target, const Json& patch, const Json* schema) {
    std::string directive = PatchDirective(patch);
    if (patch.contains(kPatchDirective) && directive != "replace" && directive != "merge" &&
        directive != "delete") {
      return Status::BadRequest("strategic merge patch: unknown $patch directive " +
                                patch[std::string(kPatchDirective)].dump());
    }
    if (directive == "replace") {
      // The patch's own content, minus directives, becomes the whole map.
      Json replacement = Json::object();
      Json body = patch;
      body.erase(std::string(kPatchDirective));
      SKIFF_RETURN_IF_ERROR(MergeObject(replacement, body, schema));
      target = std::move(replacement);
      return Status::Ok();
    }
    if (!target.is_object()) target = Json::object();

    if (auto retain = patch.find(kRetainKeys); retain != patch.end()) {
      if (!retain->is_array()) {
        return Status::BadRequest("strategic merge patch: $retainKeys must be a list of strings");
      }
      for (auto it = target.begin(); it != target.end();) {
        if (std::find(retain->begin(), retain->end(), Json(it.key())) == retain->end()) {
          it = target.erase(it);
        } else {
          ++it;
        }
      }
    }

    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (!StartsWith(it.key(), kDeleteFromPrimitiveList)) continue;
      std::string field = it.key().substr(kDeleteFromPrimitiveList.size());
      if (!it->is_array()) {
        return Status::BadRequest("strategic merge patch: " + it.key() + " must be a list");
      }
      auto list = target.find(field);
      if (list == target.end() || !list->is_array()) continue;
      Json kept = Json::array();
      for (const Json& item : *list) {
        if (std::find(it->begin(), it->end(), item) == it->end()) kept.push_back(item);
      }
      *list = std::move(kept);
    }

    for (auto it = patch.begin(); it != patch.end(); ++it) {
      const std::string& key = it.key();
      if (IsDirectiveKey(key)) continue;
      const Json& value = it.value();
      const Json* child_schema = ChildSchema(root_, schema, key);
      if (value.is_null()) {
        target.erase(key);
      } else if (value.is_object()) {
        if (PatchDirective(value) == "delete") {
          target.erase(key);
          continue;
        }
        Json& child = target[key];
        if (!child.is_object()) child = Json::object();
        SKIFF_RETURN_IF_ERROR(MergeObject(child, value, child_schema));
      } else if (value.is_array()) {
        Json& child = target[key];
        Json original = child.is_array() ? child : Json::array();
        Json merged = original;
        ListStrategy strategy = PatchListStrategy(child_schema);
        SKIFF_RETURN_IF_ERROR(MergeList(merged, value, strategy, ItemSchema(child_schema)));
        if (const Json* order = ElementOrder(patch, key)) {
          SKIFF_RETURN_IF_ERROR(Reorder(merged, original, *order, strategy));
        }
        child = std::move(merged);
      } else {
        target[key] = value;
      }
    }

    // `$setElementOrder` may come without a patch for its list (only the order changed).
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (!StartsWith(it.key(), kSetElementOrder)) continue;
      std::string field = it.key().substr(kSetElementOrder.size());
      if (patch.contains(field)) continue;
      auto list = target.find(field);
      if (list == target.end() || !list->is_array()) continue;
      ListStrategy strategy = PatchListStrategy(ChildSchema(root_, schema, field));
      Json original = *list;
      SKIFF_RETURN_IF_ERROR(Reorder(*list, original, *it, strategy));
    }
    return Status::Ok();
  }

 private:
  static const Json* ElementOrder(const Json& patch, const std::string& field) {
    auto it = patch.find(std::string(kSetElementOrder) + field);
    return it == patch.end() ? nullptr : &*it;
  }

  // What identifies a list element: its key fields for map lists, itself otherwise.
  static Json Identity(const Json& item, const ListStrategy& strategy) {
    if (strategy.kind != ListKind::kMap || !item.is_object()) return item;
    Json id = Json::object();
    for (const std::string& key : strategy.keys) {
      auto it = item.find(key);
      id[key] = it == item.end() ? Json() : *it;
    }
    return id;
  }

  static std::optional<size_t> IndexOf(const Json& list, const Json& id,
                                       const ListStrategy& strategy) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (Identity(list[i], strategy) == id) return i;
    }
    return std::nullopt;
  }

  Status MergeList(Json& target, const Json& patch, const ListStrategy& strategy,
                   const Json* item_schema) {
    if (strategy.kind == ListKind::kAtomic) {
      target = patch;
      return Status::Ok();
    }
    const bool replace = std::any_of(patch.begin(), patch.end(), [](const Json& item) {
      return PatchDirective(item) == "replace";
    });
    if (replace) target = Json::array();

    for (const Json& item : patch) {
      std::string directive = PatchDirective(item);
      if (directive == "replace") continue;
      if (strategy.kind == ListKind::kSet || !item.is_object()) {
        if (std::find(target.begin(), target.end(), item) == target.end()) target.push_back(item);
        continue;
      }
      for (const std::string& key : strategy.keys) {
        // Multi-key map lists may leave a key to its default; a single merge key is mandatory.
        if (!item.contains(key) && strategy.keys.size() == 1) {
          return Status::BadRequest("strategic merge patch: map " + item.dump() +
                                    " does not contain declared merge key: " + key);
        }
      }
      Json id = Identity(item, strategy);
      if (directive == "delete") {
        for (auto it = target.begin(); it != target.end();) {
          it = Identity(*it, strategy) == id ? target.erase(it) : it + 1;
        }
        continue;
      }
      if (std::optional<size_t> index = IndexOf(target, id, strategy)) {
        SKIFF_RETURN_IF_ERROR(MergeObject(target[*index], item, item_schema));
      } else {
        Json added = Json::object();
        SKIFF_RETURN_IF_ERROR(MergeObject(added, item, item_schema));
        target.push_back(std::move(added));
      }
    }
    return Status::Ok();
  }

  // Orders `merged` as `$setElementOrder` asks. Elements it names come in its order; elements
  // only the server knows keep their place relative to the original list, as Kubernetes does
  // (mergeSortedSlice): a named element goes first only when both it and the competing server
  // element were in the original list and it came earlier there.
  static Status Reorder(Json& merged, const Json& original, const Json& order,
                        const ListStrategy& strategy) {
    if (!order.is_array()) {
      return Status::BadRequest("strategic merge patch: $setElementOrder must be a list");
    }
    if (strategy.kind == ListKind::kAtomic) return Status::Ok();
    std::vector<std::pair<size_t, Json>> named;  // (position in order, element)
    std::vector<Json> server_only;
    for (const Json& item : merged) {
      Json id = Identity(item, strategy);
      std::optional<size_t> pos = IndexOf(order, id, strategy);
      if (pos) {
        named.emplace_back(*pos, item);
      } else {
        server_only.push_back(item);
      }
    }
    std::stable_sort(named.begin(), named.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    auto original_index = [&](const Json& item) {
      return IndexOf(original, Identity(item, strategy), strategy);
    };
    Json result = Json::array();
    size_t i = 0, j = 0;
    while (i < named.size() || j < server_only.size()) {
      if (j >= server_only.size()) {
        result.push_back(std::move(named[i++].second));
      } else if (i >= named.size()) {
        result.push_back(std::move(server_only[j++]));
      } else {
        std::optional<size_t> li = original_index(named[i].second);
        std::optional<size_t> ri = original_index(server_only[j]);
        if (li && ri && *li < *ri) {
          result.push_back(std::move(named[i++].second));
        } else {
          result.push_back(std::move(server_only[j++]));
        }
      }
    }
    merged = std::move(result);
    return Status::Ok();
  }

  const Json* root_;
};

}  // namespace

StatusOr<Json> ApplyStrategicMergePatch(const Json& target, const Json& patch, const Json& schema) {
  if (!patch.is_object()) {
    return Status::BadRequest("strategic merge patch: the patch must be a JSON object");
  }
  if (PatchDirective(patch) == "delete") return Json::object();
  Json result = target.is_object() ? target : Json::object();
  StrategicMerger merger(&schema);
  SKIFF_RETURN_IF_ERROR(merger.MergeObject(result, patch, &schema));
  return result;
}

}  // namespace skiff::apiserver
