// Field sets, the schema-driven walks over objects that produce and consume them (to-set, compare,
// merge, prune), and the two write paths built on them: server-side apply and update tracking.
#include "apiserver/managed_fields.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "apiserver/patch.h"

namespace skiff::apiserver {
namespace {

// ---- Field sets ----

// One path element as fieldsV1 spells it: "f:name", "k:{...}" or "v:<json>".
using Path = std::vector<std::string>;

// A set of paths as a tree; `member` says the path ending here is itself in the set.
struct FieldNode {
  bool member = false;
  std::map<std::string, FieldNode> children;

  bool Empty() const { return !member && children.empty(); }
};

void Insert(FieldNode& root, const Path& path) {
  if (path.empty()) return;  // the object itself is never owned
  FieldNode* node = &root;
  for (const std::string& element : path) node = &node->children[element];
  node->member = true;
}

void Union(FieldNode& a, const FieldNode& b) {
  a.member = a.member || b.member;
  for (const auto& [element, child] : b.children) Union(a.children[element], child);
}

// Removes b's members from a; a path leaving the set does not take its descendants with it.
void Subtract(FieldNode& a, const FieldNode& b) {
  if (b.member) a.member = false;
  for (auto it = a.children.begin(); it != a.children.end();) {
    auto other = b.children.find(it->first);
    if (other != b.children.end()) Subtract(it->second, other->second);
    it = it->second.Empty() ? a.children.erase(it) : std::next(it);
  }
}

FieldNode Intersect(const FieldNode& a, const FieldNode& b) {
  FieldNode result;
  result.member = a.member && b.member;
  for (const auto& [element, child] : a.children) {
    auto other = b.children.find(element);
    if (other == b.children.end()) continue;
    FieldNode both = Intersect(child, other->second);
    if (!both.Empty()) result.children.emplace(element, std::move(both));
  }
  return result;
}

bool operator==(const FieldNode& a, const FieldNode& b) {
  return a.member == b.member && a.children == b.children;
}

void ForEachMember(const FieldNode& node, Path& path,
                   const std::function<void(const Path&)>& visit) {
  if (node.member && !path.empty()) visit(path);
  for (const auto& [element, child] : node.children) {
    path.push_back(element);
    ForEachMember(child, path, visit);
    path.pop_back();
  }
}

FieldNode FromFieldsV1(const Json& json) {
  FieldNode node;
  if (!json.is_object()) return node;
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() == ".") {
      node.member = true;
      continue;
    }
    FieldNode child = FromFieldsV1(it.value());
    if (child.children.empty()) child.member = true;  // `{}` is a leaf
    node.children.emplace(it.key(), std::move(child));
  }
  return node;
}

Json ToFieldsV1(const FieldNode& node) {
  Json json = Json::object();
  if (node.member && !node.children.empty()) json["."] = Json::object();
  for (const auto& [element, child] : node.children) json[element] = ToFieldsV1(child);
  return json;
}

// `.spec.containers[name="main"].image`, as Kubernetes prints a field path in conflicts.
std::string PathString(const Path& path) {
  std::string out;
  for (const std::string& element : path) {
    std::string rest = element.substr(2);
    if (element.starts_with("f:")) {
      out += "." + rest;
    } else if (element.starts_with("k:")) {
      Json keys = Json::parse(rest, nullptr, false);
      std::string inner;
      if (keys.is_object()) {
        for (auto it = keys.begin(); it != keys.end(); ++it) {
          if (!inner.empty()) inner += ",";
          inner += it.key() + "=" + it.value().dump();
        }
      }
      out += "[" + inner + "]";
    } else {
      out += "[=" + rest + "]";
    }
  }
  return out;
}

// ---- Walks over objects, guided by the schema ----

struct Comparison {
  FieldNode added, modified, removed;
};

class Walker {
 public:
  explicit Walker(const Json* root) : root_(root) {}

  // The paths an applied configuration sets (structured-merge-diff's ToFieldSet): leaves, list
  // items (with `.`), map entries, and members whose value is null or an empty object.
  void ToFieldSet(const Json& value, const Json* schema, FieldNode& node) const {
    if (IsGranularObject(value, schema)) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        const Json& child_value = it.value();
        FieldNode& child = node.children["f:" + it.key()];
        ToFieldSet(child_value, ChildSchema(root_, schema, it.key()), child);
        if (child_value.is_null() || (child_value.is_object() && child_value.empty()) ||
            !DeclaresProperty(root_, schema, it.key())) {
          child.member = true;
        }
        if (child.Empty()) node.children.erase("f:" + it.key());
      }
      return;
    }
    if (std::optional<Path> elements = ListElements(value, schema)) {
      const Json* item_schema = ItemSchema(schema);
      for (size_t i = 0; i < value.size(); ++i) {
        FieldNode& child = node.children[(*elements)[i]];
        ToFieldSet(value[i], item_schema, child);
        child.member = true;
      }
      return;
    }
    node.member = true;
  }

  // Null members of an applied configuration: they are owned like any value, but the merged
  // object drops them.
  void NullPaths(const Json& value, const Json* schema, FieldNode& node) const {
    if (IsGranularObject(value, schema)) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        FieldNode& child = node.children["f:" + it.key()];
        if (it.value().is_null()) {
          child.member = true;
        } else {
          NullPaths(it.value(), ChildSchema(root_, schema, it.key()), child);
        }
        if (child.Empty()) node.children.erase("f:" + it.key());
      }
    } else if (std::optional<Path> elements = ListElements(value, schema)) {
      for (size_t i = 0; i < value.size(); ++i) {
        FieldNode& child = node.children[(*elements)[i]];
        NullPaths(value[i], ItemSchema(schema), child);
        if (child.Empty()) node.children.erase((*elements)[i]);
      }
    }
  }

  // What changed from `lhs` to `rhs` (either may be absent), as structured-merge-diff's Compare:
  // leaves are added/modified/removed; a map or list that appears or disappears is itself added
  // or removed too, which is where the `.` of Update entries comes from.
  void Compare(const Json* lhs, const Json* rhs, const Json* schema, Path& path,
               Comparison& out) const {
    const Json* any = lhs != nullptr ? lhs : rhs;
    const bool lhs_map = lhs == nullptr || IsGranularObject(*lhs, schema);
    const bool rhs_map = rhs == nullptr || IsGranularObject(*rhs, schema);
    std::optional<Path> lhs_items = lhs != nullptr ? ListElements(*lhs, schema) : Path{};
    std::optional<Path> rhs_items = rhs != nullptr ? ListElements(*rhs, schema) : Path{};
    const bool lhs_list = lhs == nullptr || (lhs->is_array() && lhs_items);
    const bool rhs_list = rhs == nullptr || (rhs->is_array() && rhs_items);
    const bool is_map = any->is_object() && lhs_map && rhs_map;
    const bool is_list = any->is_array() && lhs_list && rhs_list;
    // Empty containers compare as leaves so that `{}` versus absent stays visible.
    const bool empty = (lhs == nullptr || lhs->empty()) && (rhs == nullptr || rhs->empty());
    if ((!is_map && !is_list) || empty) {
      if (lhs == nullptr) {
        Insert(out.added, path);
      } else if (rhs == nullptr) {
        Insert(out.removed, path);
      } else if (*lhs != *rhs) {
        Insert(out.modified, path);
      }
      return;
    }
    if (is_map) {
      std::set<std::string> keys;
      if (lhs != nullptr) {
        for (auto it = lhs->begin(); it != lhs->end(); ++it) keys.insert(it.key());
      }
      if (rhs != nullptr) {
        for (auto it = rhs->begin(); it != rhs->end(); ++it) keys.insert(it.key());
      }
      for (const std::string& key : keys) {
        path.push_back("f:" + key);
        Compare(Member(lhs, key), Member(rhs, key), ChildSchema(root_, schema, key), path, out);
        path.pop_back();
      }
    } else {
      std::map<std::string, const Json*> left, right;
      for (size_t i = 0; lhs != nullptr && i < lhs->size(); ++i) left[(*lhs_items)[i]] = &(*lhs)[i];
      for (size_t i = 0; rhs != nullptr && i < rhs->size(); ++i) {
        right[(*rhs_items)[i]] = &(*rhs)[i];
      }
      std::set<std::string> elements;
      for (const auto& [element, item] : left) elements.insert(element);
      for (const auto& [element, item] : right) elements.insert(element);
      for (const std::string& element : elements) {
        path.push_back(element);
        auto l = left.find(element);
        auto r = right.find(element);
        Compare(l == left.end() ? nullptr : l->second, r == right.end() ? nullptr : r->second,
                ItemSchema(schema), path, out);
        path.pop_back();
      }
    }
    if (lhs == nullptr) {
      Insert(out.added, path);
    } else if (rhs == nullptr) {
      Insert(out.removed, path);
    }
  }

  // Merges an applied configuration into the live object: objects member by member, associative
  // and set lists item by item (live-only items keep their place, shared and new items follow
  // the configuration's order), anything else taken from the configuration.
  Json Merge(const Json& lhs, const Json& rhs, const Json* schema) const {
    if (IsGranularObject(lhs, schema) && IsGranularObject(rhs, schema)) {
      Json out = lhs;
      for (auto it = rhs.begin(); it != rhs.end(); ++it) {
        auto existing = out.find(it.key());
        if (existing == out.end()) {
          out[it.key()] = it.value();
        } else {
          *existing = Merge(*existing, it.value(), ChildSchema(root_, schema, it.key()));
        }
      }
      return out;
    }
    std::optional<Path> left = ListElements(lhs, schema);
    std::optional<Path> right = ListElements(rhs, schema);
    if (!left || !right) return rhs;
    const Json* item_schema = ItemSchema(schema);
    std::map<std::string, size_t> left_index, right_index;
    for (size_t i = 0; i < left->size(); ++i) left_index[(*left)[i]] = i;
    for (size_t i = 0; i < right->size(); ++i) right_index[(*right)[i]] = i;
    Json out = Json::array();
    size_t next = 0;  // the next configuration item to emit
    auto emit_through = [&](size_t last) {
      for (; next <= last; ++next) {
        auto shared = left_index.find((*right)[next]);
        out.push_back(shared == left_index.end()
                          ? rhs[next]
                          : Merge(lhs[shared->second], rhs[next], item_schema));
      }
    };
    for (size_t i = 0; i < left->size(); ++i) {
      auto in_right = right_index.find((*left)[i]);
      if (in_right == right_index.end()) {
        out.push_back(lhs[i]);
      } else if (in_right->second >= next) {
        emit_through(in_right->second);
      }
    }
    if (!right->empty()) emit_through(right->size() - 1);
    return out;
  }

  // Removes from `value` the paths in `remove`, except where `keep` still holds the path (then
  // only the removable paths beneath it go). A map or list emptied this way goes too, unless kept.
  void Prune(Json& value, const FieldNode& remove, const FieldNode& keep,
             const Json* schema) const {
    static const FieldNode kNothing;
    auto kept = [&](const std::string& element) -> const FieldNode& {
      auto it = keep.children.find(element);
      return it == keep.children.end() ? kNothing : it->second;
    };
    auto prune_child = [&](Json& child, const std::string& element, const FieldNode& rm,
                           const Json* child_schema) {
      const FieldNode& k = kept(element);
      if (rm.member && k.Empty()) return true;
      const bool was_empty = (child.is_object() || child.is_array()) && child.empty();
      Prune(child, rm, k, child_schema);
      return !was_empty && !k.member && (child.is_object() || child.is_array()) && child.empty();
    };
    if (IsGranularObject(value, schema)) {
      for (const auto& [element, rm] : remove.children) {
        if (!element.starts_with("f:")) continue;
        std::string key = element.substr(2);
        auto it = value.find(key);
        if (it == value.end()) continue;
        if (prune_child(*it, element, rm, ChildSchema(root_, schema, key))) value.erase(key);
      }
      return;
    }
    std::optional<Path> elements = ListElements(value, schema);
    if (!elements) return;
    Json out = Json::array();
    for (size_t i = 0; i < value.size(); ++i) {
      auto rm = remove.children.find((*elements)[i]);
      if (rm != remove.children.end() &&
          prune_child(value[i], rm->first, rm->second, ItemSchema(schema))) {
        continue;
      }
      out.push_back(std::move(value[i]));
    }
    value = std::move(out);
  }

 private:
  static const Json* Member(const Json* object, const std::string& key) {
    if (object == nullptr || !object->is_object()) return nullptr;
    auto it = object->find(key);
    return it == object->end() ? nullptr : &*it;
  }

  static bool IsGranularObject(const Json& value, const Json* schema) {
    return value.is_object() && !IsAtomicMap(schema);
  }

  // The path elements of a list's items, or nullopt when the list is atomic: by schema, or
  // because an item lacks its keys or repeats another (then it can only be owned whole).
  std::optional<Path> ListElements(const Json& list, const Json* schema) const {
    if (!list.is_array()) return std::nullopt;
    ListStrategy strategy = ApplyListStrategy(schema);
    if (strategy.kind == ListKind::kAtomic) return std::nullopt;
    const Json* item_schema = ItemSchema(schema);
    Path elements;
    std::set<std::string> seen;
    for (const Json& item : list) {
      std::string element;
      if (strategy.kind == ListKind::kSet) {
        if (item.is_object() || item.is_array()) return std::nullopt;
        element = "v:" + item.dump();
      } else {
        if (!item.is_object()) return std::nullopt;
        Json key = Json::object();
        for (const std::string& name : strategy.keys) {
          auto it = item.find(name);
          if (it != item.end()) {
            key[name] = *it;
            continue;
          }
          // A key field left to its default (a port's protocol) is identified by the default.
          const Json* field_schema = ChildSchema(root_, item_schema, name);
          if (field_schema == nullptr || !field_schema->contains("default")) return std::nullopt;
          key[name] = (*field_schema)["default"];
        }
        element = "k:" + key.dump();
      }
      if (!seen.insert(element).second) return std::nullopt;
      elements.push_back(std::move(element));
    }
    return elements;
  }

  const Json* root_;
};

// ---- Tracked view of an object ----

constexpr const char* kTrackedMetadata[] = {"labels", "annotations", "finalizers",
                                            "ownerReferences"};

// The part of an object whose fields have owners (see the header).
Json TrackedView(const Json& object, bool status_subresource) {
  Json view = Json::object();
  if (!object.is_object()) return view;
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (status_subresource) {
      if (key == "status") view[key] = it.value();
      continue;
    }
    if (key == "apiVersion" || key == "kind" || key == "status") continue;
    if (key == "metadata") {
      if (!it->is_object()) continue;
      Json meta = Json::object();
      for (const char* name : kTrackedMetadata) {
        if (auto m = it->find(name); m != it->end()) meta[name] = *m;
      }
      if (!meta.empty()) view["metadata"] = std::move(meta);
      continue;
    }
    view[key] = it.value();
  }
  return view;
}

// Writes `view` back over the tracked part of `object`, leaving the rest (server metadata,
// status on the main resource) as it was.
void ReplaceTracked(Json& object, const Json& view, bool status_subresource) {
  if (status_subresource) {
    if (view.contains("status")) {
      object["status"] = view["status"];
    } else {
      object.erase("status");
    }
    return;
  }
  for (auto it = object.begin(); it != object.end();) {
    const std::string& key = it.key();
    const bool untracked =
        key == "apiVersion" || key == "kind" || key == "metadata" || key == "status";
    it = untracked ? std::next(it) : object.erase(it);
  }
  for (auto it = view.begin(); it != view.end(); ++it) {
    if (it.key() != "metadata") object[it.key()] = it.value();
  }
  Json& meta = object["metadata"];
  if (!meta.is_object()) meta = Json::object();
  const Json* view_meta = view.contains("metadata") ? &view["metadata"] : nullptr;
  for (const char* name : kTrackedMetadata) {
    if (view_meta != nullptr && view_meta->contains(name)) {
      meta[name] = (*view_meta)[name];
    } else {
      meta.erase(name);
    }
  }
}

// What changed between two tracked views. The metadata node itself is never owned (Kubernetes
// strips it), only its tracked members, so it shows no `.` even when an object is created.
Comparison CompareViews(const Walker& walker, const Json& lhs, const Json& rhs,
                        const Json& schema) {
  Comparison comparison;
  Path path;
  walker.Compare(&lhs, &rhs, &schema, path, comparison);
  for (FieldNode* set : {&comparison.added, &comparison.modified, &comparison.removed}) {
    auto meta = set->children.find("f:metadata");
    if (meta == set->children.end()) continue;
    meta->second.member = false;
    if (meta->second.Empty()) set->children.erase(meta);
  }
  return comparison;
}

// ---- managedFields entries ----

struct Entry {
  std::string manager;
  std::string operation;
  std::string api_version;
  std::string time;
  std::string subresource;
  FieldNode fields;

  // Kubernetes identifies an applier without its apiVersion, so re-applying in another version
  // keeps one entry; updaters are told apart by version.
  bool Is(const std::string& m, const std::string& op, const std::string& version,
          const std::string& sub) const {
    return manager == m && operation == op && subresource == sub &&
           (op == "Apply" || api_version == version);
  }

  // How a conflict names the manager: `"kubectl"`, or `"x" using kubeflow.org/v1` for updaters.
  std::string Describe() const {
    std::string out = Json(manager).dump();
    if (!subresource.empty()) out += " with subresource " + Json(subresource).dump();
    if (operation == "Update") out += " using " + api_version;
    return out;
  }
};

const Json* ManagedFieldsOf(const Json& object) {
  if (!object.is_object()) return nullptr;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return nullptr;
  auto managed = meta->find("managedFields");
  return managed == meta->end() ? nullptr : &*managed;
}

std::string StringMember(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// Decodes managedFields; nullopt when any entry is malformed, so the caller can fall back (as
// Kubernetes does) instead of trusting half of them.
std::optional<std::vector<Entry>> DecodeEntries(const Json* managed) {
  std::vector<Entry> entries;
  if (managed == nullptr || managed->is_null()) return entries;
  if (!managed->is_array()) return std::nullopt;
  for (const Json& item : *managed) {
    if (!item.is_object()) return std::nullopt;
    Entry entry;
    entry.manager = StringMember(item, "manager");
    entry.operation = StringMember(item, "operation");
    entry.api_version = StringMember(item, "apiVersion");
    entry.time = StringMember(item, "time");
    entry.subresource = StringMember(item, "subresource");
    if (entry.operation != "Apply" && entry.operation != "Update") return std::nullopt;
    if (item.contains("fieldsType") && StringMember(item, "fieldsType") != "FieldsV1") {
      return std::nullopt;
    }
    if (auto fields = item.find("fieldsV1"); fields != item.end()) {
      entry.fields = FromFieldsV1(*fields);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

// Writes entries in Kubernetes' order (appliers first, then by time, manager, version,
// subresource), dropping those that own nothing; no entries means no managedFields at all.
void EncodeEntries(std::vector<Entry> entries, Json& object) {
  std::erase_if(entries, [](const Entry& e) { return e.fields.Empty(); });
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.operation, a.time, a.manager, a.api_version, a.subresource) <
           std::tie(b.operation, b.time, b.manager, b.api_version, b.subresource);
  });
  Json& meta = object["metadata"];
  if (!meta.is_object()) meta = Json::object();
  if (entries.empty()) {
    meta.erase("managedFields");
    return;
  }
  Json managed = Json::array();
  for (const Entry& e : entries) {
    Json item = {{"manager", e.manager},
                 {"operation", e.operation},
                 {"apiVersion", e.api_version},
                 {"fieldsType", "FieldsV1"},
                 {"fieldsV1", ToFieldsV1(e.fields)}};
    if (!e.time.empty()) item["time"] = e.time;
    if (!e.subresource.empty()) item["subresource"] = e.subresource;
    managed.push_back(std::move(item));
  }
  meta["managedFields"] = std::move(managed);
}

// Gives the changed fields of `comparison` to the updater's entry and takes them, and the removed
// fields, from every other entry.
void RecordUpdate(std::vector<Entry>& entries, const Comparison& comparison,
                  const std::string& manager, const std::string& operation,
                  const std::string& api_version, const std::string& subresource,
                  const std::string& now) {
  FieldNode changed = comparison.modified;
  Union(changed, comparison.added);
  for (Entry& e : entries) {
    Subtract(e.fields, changed);
    Subtract(e.fields, comparison.removed);
  }
  if (changed.Empty()) return;
  auto own = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) {
    return e.Is(manager, operation, api_version, subresource);
  });
  if (own == entries.end()) {
    entries.push_back(Entry{manager, operation, api_version, now, subresource, {}});
    own = std::prev(entries.end());
  }
  Union(own->fields, changed);
  own->time = now;
}

struct Conflict {
  std::string manager;  // as described in messages
  Path path;
};

Status ConflictError(std::vector<Conflict> conflicts) {
  std::stable_sort(conflicts.begin(), conflicts.end(),
                   [](const Conflict& a, const Conflict& b) { return a.manager < b.manager; });
  std::string message;
  if (conflicts.size() == 1) {
    message = "Apply failed with 1 conflict: conflict with " + conflicts[0].manager + ": " +
              PathString(conflicts[0].path);
  } else {
    message = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: ";
    std::string last_manager;
    for (size_t i = 0; i < conflicts.size(); ++i) {
      if (i == 0 || conflicts[i].manager != last_manager) {
        if (i > 0) message += "\n";
        message += "conflicts with " + conflicts[i].manager + ":";
        last_manager = conflicts[i].manager;
      }
      message += "\n- " + PathString(conflicts[i].path);
    }
  }
  Status status = Status::Conflict(message);
  status.WithReason("FieldManagerConflict");
  for (const Conflict& c : conflicts) {
    status.AddCause({"FieldManagerConflict", "conflict with " + c.manager, PathString(c.path)});
  }
  return status;
}

}  // namespace

StatusOr<Json> ServerSideApply(const Json* live, const Json& applied, const std::string& manager,
                               bool force, const Json& schema, const std::string& api_version,
                               const std::string& now_rfc3339, bool status_subresource) {
  if (!applied.is_object()) {
    return Status::BadRequest("apply: the configuration must be an object");
  }
  const Walker walker(&schema);
  const std::string subresource = status_subresource ? "status" : "";
  const Json empty = Json::object();
  const Json live_view = live != nullptr ? TrackedView(*live, status_subresource) : empty;
  const Json applied_view = TrackedView(applied, status_subresource);

  std::vector<Entry> entries;
  if (live != nullptr) {
    entries = DecodeEntries(ManagedFieldsOf(*live)).value_or(std::vector<Entry>{});
  }
  if (live != nullptr && entries.empty()) {
    // Fields set before anyone tracked them still belong to someone: a differing apply conflicts.
    Comparison existing = CompareViews(walker, empty, live_view, schema);
    RecordUpdate(entries, existing, "before-first-apply", "Update", api_version, "", now_rfc3339);
  }

  auto own = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) {
    return e.Is(manager, "Apply", api_version, subresource);
  });
  const FieldNode previous = own != entries.end() ? own->fields : FieldNode{};
  FieldNode applied_set;
  walker.ToFieldSet(applied_view, &schema, applied_set);
  FieldNode others;
  for (const Entry& e : entries) {
    if (own == entries.end() || &e != &*own) Union(others, e.fields);
  }

  // Fields this manager applied before and dropped now go, unless someone else still owns them.
  Json merged = walker.Merge(live_view, applied_view, &schema);
  FieldNode dropped = previous;
  Subtract(dropped, applied_set);
  Subtract(dropped, others);
  FieldNode kept = applied_set;
  Union(kept, others);
  walker.Prune(merged, dropped, kept, &schema);

  const Comparison comparison = CompareViews(walker, live_view, merged, schema);
  FieldNode changed = comparison.modified;
  Union(changed, comparison.added);

  std::vector<Conflict> conflicts;
  std::vector<FieldNode> taken(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (own != entries.end() && i == static_cast<size_t>(own - entries.begin())) continue;
    taken[i] = Intersect(entries[i].fields, changed);
    Path p;
    ForEachMember(taken[i], p, [&](const Path& field) {
      conflicts.push_back({entries[i].Describe(), field});
    });
  }
  if (!conflicts.empty() && !force) return ConflictError(std::move(conflicts));

  for (size_t i = 0; i < entries.size(); ++i) {
    if (own != entries.end() && i == static_cast<size_t>(own - entries.begin())) continue;
    Subtract(entries[i].fields, taken[i]);
    Subtract(entries[i].fields, comparison.removed);
  }
  const bool object_changed = !changed.Empty() || !comparison.removed.Empty();
  if (own == entries.end()) {
    entries.push_back(Entry{manager, "Apply", api_version, now_rfc3339, subresource, applied_set});
  } else {
    if (object_changed || !(own->fields == applied_set)) own->time = now_rfc3339;
    own->fields = applied_set;
    own->api_version = api_version;
  }

  FieldNode nulls;
  walker.NullPaths(applied_view, &schema, nulls);
  walker.Prune(merged, nulls, FieldNode{}, &schema);

  Json result = live != nullptr ? *live : Json::object();
  if (live == nullptr) {
    Json meta = Json::object();
    if (const Json* applied_meta = FindPath(applied, "metadata");
        applied_meta != nullptr && applied_meta->is_object()) {
      for (const char* name : {"name", "generateName", "namespace"}) {
        if (auto it = applied_meta->find(name); it != applied_meta->end()) meta[name] = *it;
      }
    }
    result["metadata"] = std::move(meta);
  }
  if (!status_subresource) {
    for (const char* name : {"apiVersion", "kind"}) {
      if (auto it = applied.find(name); it != applied.end()) result[name] = *it;
    }
  }
  ReplaceTracked(result, merged, status_subresource);
  EncodeEntries(std::move(entries), result);
  return result;
}

void TrackUpdate(const Json* old_obj, Json* new_obj, const std::string& manager,
                 const std::string& operation, const Json& schema, const std::string& api_version,
                 const std::string& now_rfc3339, bool status_subresource) {
  if (new_obj == nullptr || !new_obj->is_object()) return;
  const Json* sent = ManagedFieldsOf(*new_obj);
  const Json* stored = old_obj != nullptr ? ManagedFieldsOf(*old_obj) : nullptr;

  std::vector<Entry> entries;
  const bool reset = !status_subresource && sent != nullptr && sent->is_array() &&
                     (sent->empty() || (sent->size() == 1 && (*sent)[0] == Json::object()));
  if (!reset) {
    std::optional<std::vector<Entry>> from_client;
    if (!status_subresource && sent != nullptr) from_client = DecodeEntries(sent);
    if (from_client && !from_client->empty()) {
      entries = std::move(*from_client);
    } else {
      // A client that does not know managedFields must not wipe them by omitting them.
      entries = DecodeEntries(stored).value_or(std::vector<Entry>{});
    }
  }

  const Walker walker(&schema);
  const Json empty = Json::object();
  const Json old_view = old_obj != nullptr ? TrackedView(*old_obj, status_subresource) : empty;
  const Json new_view = TrackedView(*new_obj, status_subresource);
  const Comparison comparison = CompareViews(walker, old_view, new_view, schema);
  RecordUpdate(entries, comparison, manager, operation, api_version,
               status_subresource ? "status" : "", now_rfc3339);
  EncodeEntries(std::move(entries), *new_obj);
}

}  // namespace skiff::apiserver
