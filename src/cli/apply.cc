// `skiff apply -f`: kubectl's client-side apply (last-applied annotation, three-way merge patch)
// and server-side apply (an apply patch; the server tracks ownership in managedFields).
#include "cli/apply.h"

#include <ostream>

#include "cli/commands.h"
#include "cli/printer.h"
#include "cli/resources.h"
#include "cli/session.h"

namespace skiff::cli {
namespace {

constexpr char kClientSideManager[] = "skiff-client-side-apply";
constexpr char kServerSideManager[] = "skiff";

// RFC 7386 merge patch that turns `from` into `to`.
Json CreateMergePatch(const Json& from, const Json& to) {
  Json patch = Json::object();
  for (const auto& [key, to_value] : to.items()) {
    auto it = from.find(key);
    if (it == from.end()) {
      patch[key] = to_value;
    } else if (it->is_object() && to_value.is_object()) {
      Json sub = CreateMergePatch(*it, to_value);
      if (!sub.empty()) patch[key] = std::move(sub);
    } else if (*it != to_value) {
      patch[key] = to_value;
    }
  }
  for (const auto& [key, unused] : from.items()) {
    if (!to.contains(key)) patch[key] = nullptr;
  }
  return patch;
}

// Keeps only the deletions (keep_null) or only the additions and changes of a merge patch. An
// explicitly empty map is a value (set it), not an empty sub-patch.
Json FilterNulls(const Json& patch, bool keep_null) {
  Json out = Json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      if (keep_null) out[key] = nullptr;
    } else if (value.is_object()) {
      if (value.empty()) {
        if (!keep_null) out[key] = value;
        continue;
      }
      Json sub = FilterNulls(value, keep_null);
      if (!sub.empty()) out[key] = std::move(sub);
    } else if (!keep_null) {
      out[key] = value;  // lists and scalars are replaced whole
    }
  }
  return out;
}

// Merges `overlay` (which holds no nulls) into `base`.
void DeepMerge(Json* base, const Json& overlay) {
  for (const auto& [key, value] : overlay.items()) {
    if (value.is_object() && base->contains(key) && (*base)[key].is_object()) {
      DeepMerge(&(*base)[key], value);
    } else {
      (*base)[key] = value;
    }
  }
}

class Applier {
 public:
  Applier(Session* session, const ConnectionFlags& flags, const ApplyOptions& options, Streams io)
      : s_(session), flags_(flags), options_(options), io_(io) {}

  bool Apply(Manifest& m) {
    Json& obj = m.object;
    const std::string api_version = obj.value("apiVersion", "");
    const std::string kind = obj.value("kind", "");
    if (api_version.empty() || kind.empty()) {
      PrintClientError(io_.err, "error validating \"" + m.source + "\": error validating data: " +
                                    (api_version.empty() ? "apiVersion not set" : "kind not set"));
      return false;
    }
    const std::string name = NameOf(obj);
    auto mapping = s_->ForKind(api_version, kind);
    if (!mapping.ok()) {
      if (mapping.status().code() != Code::kNotFound) {
        PrintError(io_.err, mapping.status());
      } else {
        const Json* ns = FindPath(obj, "metadata.namespace");
        PrintClientError(io_.err,
                         "resource mapping not found for name: \"" + name + "\" namespace: \"" +
                             (ns && ns->is_string() ? ns->get<std::string>() : "") + "\" from \"" +
                             m.source + "\": " + mapping.status().message() +
                             "\nensure CRDs are installed first");
      }
      return false;
    }
    if (name.empty()) {
      PrintClientError(io_.err, "error when retrieving current configuration of " +
                                    mapping->GroupResource() + " from \"" + m.source +
                                    "\": resource name may not be empty");
      return false;
    }
    auto ns = NamespaceFor(*mapping, obj, s_, flags_);
    if (!ns.ok()) {
      PrintClientError(io_.err, ns.status().message());
      return false;
    }
    // Like kubectl, the namespace the object lands in becomes part of what was applied.
    if (mapping->namespaced) obj["metadata"]["namespace"] = *ns;

    const bool ok = options_.server_side ? ServerSide(*mapping, *ns, name, obj)
                                         : ClientSide(*mapping, *ns, name, m.source, obj);
    if (ok && kind == "CustomResourceDefinition") s_->MapperMayBeStale();
    return ok;
  }

 private:
  void Report(const Mapping& m, const std::string& name, const std::string& verb) {
    io_.out << m.KindGroup() << "/" << name << " " << verb
            << (options_.dry_run ? " (server dry run)" : "") << "\n";
  }

  client::WriteOptions Write(const char* default_manager) const {
    client::WriteOptions w;
    w.field_manager = options_.field_manager.empty() ? default_manager : options_.field_manager;
    w.dry_run = options_.dry_run;
    w.force = options_.force_conflicts;
    return w;
  }

  bool ServerSide(const Mapping& m, const std::string& ns, const std::string& name, Json obj) {
    // The server would record the annotation as a field this manager owns; it is client-side
    // apply's bookkeeping, not the user's configuration.
    if (Json* annotations = AnnotationsOf(&obj)) annotations->erase(kLastAppliedAnnotation);
    auto result = s_->client()->Patch(m.resource, ns, name, client::PatchType::kApply, obj.dump(),
                                      Write(kServerSideManager));
    if (!result.ok()) {
      PrintError(io_.err, result.status());
      return false;
    }
    Report(m, name, "serverside-applied");
    return true;
  }

  bool ClientSide(const Mapping& m, const std::string& ns, const std::string& name,
                  const std::string& source, Json obj) {
    if (Json* annotations = AnnotationsOf(&obj)) annotations->erase(kLastAppliedAnnotation);
    // kubectl stores the configuration as compact JSON with a trailing newline; matching it byte
    // for byte lets kubectl and skiff apply the same objects without spurious "configured".
    const std::string applied = obj.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    obj["metadata"]["annotations"][kLastAppliedAnnotation] = applied;

    auto live = s_->client()->Get(m.resource, ns, name);
    if (!live.ok() && live.status().code() == Code::kNotFound) {
      auto created = s_->client()->Create(m.resource, ns, obj, Write(kClientSideManager));
      if (!created.ok()) {
        PrintError(io_.err, created.status(), "error when creating \"" + source + "\"");
        return false;
      }
      Report(m, name, "created");
      return true;
    }
    if (!live.ok()) {
      PrintError(io_.err, live.status(),
                 "error when retrieving current configuration of " + m.GroupResource() + " \"" +
                     name + "\" from \"" + source + "\"");
      return false;
    }

    Json original = nullptr;
    if (const Json* last = FindPath(*live, "metadata.annotations")) {
      if (last->is_object() && last->contains(kLastAppliedAnnotation) &&
          (*last)[kLastAppliedAnnotation].is_string()) {
        auto parsed = ParseJson((*last)[kLastAppliedAnnotation].get<std::string>());
        if (parsed.ok()) original = std::move(*parsed);
      }
    }
    Json patch = ThreeWayMergePatch(original, obj, *live);
    if (patch.empty()) {
      Report(m, name, "unchanged");
      return true;
    }
    auto patched = s_->client()->Patch(m.resource, ns, name, client::PatchType::kMerge,
                                       patch.dump(), Write(kClientSideManager));
    if (!patched.ok()) {
      PrintError(io_.err, patched.status(), "error when patching \"" + source + "\"");
      return false;
    }
    Report(m, name, "configured");
    return true;
  }

  static Json* AnnotationsOf(Json* obj) {
    auto meta = obj->find("metadata");
    if (meta == obj->end() || !meta->is_object()) return nullptr;
    auto ann = meta->find("annotations");
    if (ann == meta->end() || !ann->is_object()) return nullptr;
    return &*ann;
  }

  Session* s_;
  const ConnectionFlags& flags_;
  const ApplyOptions& options_;
  Streams io_;
};

// True when `live` holds everything `want` says: objects may carry more fields (server defaults),
// lists must match element by element.
bool Contains(const Json& live, const Json& want) {
  if (want.is_object() && live.is_object()) {
    for (const auto& [key, value] : want.items()) {
      auto it = live.find(key);
      if (it == live.end() || !Contains(*it, value)) return false;
    }
    return true;
  }
  if (want.is_array() && live.is_array()) {
    if (want.size() != live.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
      if (!Contains(live[i], want[i])) return false;
    }
    return true;
  }
  return live == want;
}

const Json* Child(const Json* parent, const std::string& key) {
  if (parent == nullptr || !parent->is_object()) return nullptr;
  auto it = parent->find(key);
  return it == parent->end() ? nullptr : &*it;
}

// JSON merge patch replaces lists whole, so a list the server enriched with defaults (a pod
// template's containers) always differs from the applied one, and every apply would report
// "configured". A list the user did not change since the last apply, which the live object still
// holds apart from added fields, needs no patch: sending it would change nothing.
void DropUnchangedLists(Json* changes, const Json* original, const Json& modified,
                        const Json& current) {
  std::vector<std::string> drop;
  for (auto& [key, value] : changes->items()) {
    const Json* o = Child(original, key);
    const Json* m = Child(&modified, key);
    const Json* c = Child(&current, key);
    if (m == nullptr || c == nullptr) continue;
    if (value.is_object() && m->is_object() && c->is_object()) {
      DropUnchangedLists(&value, o, *m, *c);
      if (value.empty()) drop.push_back(key);
    } else if (value.is_array() && o != nullptr && *o == *m && Contains(*c, *m)) {
      drop.push_back(key);
    }
  }
  for (const std::string& key : drop) changes->erase(key);
}

}  // namespace

Json ThreeWayMergePatch(const Json& original, const Json& modified, const Json& current) {
  Json changes = FilterNulls(CreateMergePatch(current, modified), false);
  DropUnchangedLists(&changes, original.is_object() ? &original : nullptr, modified, current);
  Json deletions = original.is_object() ? FilterNulls(CreateMergePatch(original, modified), true)
                                        : Json::object();
  DeepMerge(&deletions, changes);
  return deletions;
}

int RunApply(const ConnectionFlags& flags, const ApplyOptions& options, Streams io) {
  if (options.files.empty()) {
    PrintClientError(io.err, "must specify -f (a file, a directory, or - for stdin)");
    return 1;
  }
  auto manifests = ReadManifests(options.files, io.in);
  if (!manifests.ok()) {
    PrintClientError(io.err, manifests.status().message());
    return 1;
  }
  auto session = Session::Open(flags);
  if (!session.ok()) {
    PrintClientError(io.err, session.status().message());
    return 1;
  }
  Applier applier(session->get(), flags, options, io);
  bool failed = false;
  for (Manifest& m : *manifests) {
    if (!applier.Apply(m)) failed = true;
  }
  return failed ? 1 : 0;
}

}  // namespace skiff::cli
