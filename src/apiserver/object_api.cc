#include "apiserver/object_api.h"

#include "api/schema.h"
#include "apiserver/managed_fields.h"
#include "apiserver/meta.h"
#include "apiserver/openapi.h"
#include "apiserver/patch.h"
#include "apiserver/selector.h"
#include "common/encoding.h"
#include "common/log.h"

namespace skiff::apiserver {

namespace {

constexpr int kPatchRetries = 8;

std::string StorageGroup(const api::ResourceInfo& res) {
  const std::string& g = res.storage_group.empty() ? res.group : res.storage_group;
  return g.empty() ? "core" : g;
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json& Meta(Json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  return obj["metadata"];
}

std::string MetaString(const Json& obj, const char* field) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return "";
  auto it = m->find(field);
  if (it == m->end() || !it->is_string()) return "";
  return it->get<std::string>();
}

api::UnknownFields UnknownFieldMode(const api::WriteOptions& options) {
  if (options.field_validation == "Strict") return api::UnknownFields::kStrict;
  if (options.field_validation == "Ignore") return api::UnknownFields::kPrune;
  return api::UnknownFields::kWarn;
}

// The field manager recorded for a write: the explicit one, else the user agent's program name
// ("kubectl/v1.32.0 (linux/amd64) ..." -> "kubectl"), as Kubernetes does.
std::string FieldManager(const RequestContext& ctx, const api::WriteOptions& options) {
  if (!options.field_manager.empty()) return options.field_manager;
  std::string ua = ctx.user_agent;
  size_t cut = ua.find_first_of("/ ");
  if (cut != std::string::npos) ua = ua.substr(0, cut);
  return ua.empty() ? "unknown" : ua;
}

// Everything but metadata and status: a change here bumps metadata.generation.
Json SpecPart(const Json& obj) {
  Json copy = obj;
  if (copy.is_object()) {
    copy.erase("metadata");
    copy.erase("status");
  }
  return copy;
}

// Metadata fields only the server sets; a client's values are replaced by the live object's.
void KeepServerMetadata(const Json& live, Json* obj) {
  Json& meta = Meta(*obj);
  const Json& lm = live.at("metadata");
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "name", "namespace"}) {
    if (lm.contains(f)) {
      meta[f] = lm[f];
    } else {
      meta.erase(f);
    }
  }
}

Status NamespaceMismatch() {
  return Status::BadRequest(
      "the namespace of the provided object does not match the namespace sent on the request");
}

struct ContinueToken {
  int64_t revision = 0;
  std::string start_after;
};

std::string EncodeContinue(int64_t revision, const std::string& key) {
  return Base64Encode(Json{{"v", "meta.k8s.io/v1"}, {"rv", revision}, {"start", key}}.dump());
}

StatusOr<ContinueToken> DecodeContinue(const std::string& token) {
  auto raw = Base64Decode(token);
  if (!raw) return Status::BadRequest("continue key is not valid: illegal base64 data");
  auto j = ParseJson(*raw);
  if (!j.ok() || !j->is_object() || !(*j)["rv"].is_number_integer() || !(*j)["start"].is_string()) {
    return Status::BadRequest("continue key is not valid: not a skiff continue token");
  }
  return ContinueToken{(*j)["rv"].get<int64_t>(), (*j)["start"].get<std::string>()};
}

StatusOr<int64_t> ParseResourceVersion(const std::string& rv) {
  if (rv.empty()) return int64_t{0};
  try {
    size_t used = 0;
    long long v = std::stoll(rv, &used);
    if (used == rv.size() && v >= 0) return static_cast<int64_t>(v);
  } catch (...) {
  }
  return Status::BadRequest("invalid resource version: \"" + rv + "\"");
}

// Selection applied to list and watch results.
struct Filter {
  LabelSelector labels;
  FieldSelector fields;
  bool empty() const { return labels.empty() && fields.empty(); }
  bool Matches(const Json& obj) const {
    if (!labels.empty()) {
      const Json* l = FindPath(obj, "metadata.labels");
      if (!labels.Matches(l ? *l : Json())) return false;
    }
    return fields.empty() || fields.Matches(obj);
  }
};

StatusOr<Filter> MakeFilter(const std::string& label_selector, const std::string& field_selector) {
  Filter f;
  auto l = LabelSelector::Parse(label_selector);
  if (!l.ok()) return l.status();
  auto fs = FieldSelector::Parse(field_selector);
  if (!fs.ok()) return fs.status();
  f.labels = std::move(*l);
  f.fields = std::move(*fs);
  return f;
}

// Prunes, defaults and validates `object` against its kind's schema and ObjectMeta rules.
Status ValidateAgainstSchema(const api::ResourceInfo& res, const std::string& name,
                             const api::WriteOptions& options, Json* object,
                             std::vector<std::string>* warnings) {
  const api::UnknownFields mode = UnknownFieldMode(options);
  api::SchemaResult schema = api::ApplySchema(res.schema(), *object, mode);
  if (mode == api::UnknownFields::kStrict && !schema.unknown_fields.empty()) {
    return api::StrictDecodingStatus(res.kind, res.version, schema.unknown_fields);
  }
  ValidateObjectMeta(res, (*object)["metadata"], &schema.causes);
  if (!schema.causes.empty()) return api::InvalidStatus(res.GroupKind(), name, schema.causes);
  if (warnings) warnings->insert(warnings->end(), schema.warnings.begin(), schema.warnings.end());
  return Status::Ok();
}

}  // namespace

Status NotFoundError(const api::ResourceInfo& res, const std::string& name) {
  Status s = Status::NotFound(res.GroupResource() + " \"" + name + "\" not found");
  s.WithDetails(name, res.group, res.plural);
  return s;
}

Status AlreadyExistsError(const api::ResourceInfo& res, const std::string& name) {
  Status s = Status::AlreadyExists(res.GroupResource() + " \"" + name + "\" already exists");
  s.WithDetails(name, res.group, res.plural);
  return s;
}

Status ConflictError(const api::ResourceInfo& res, const std::string& name) {
  Status s =
      Status::Conflict("Operation cannot be fulfilled on " + res.GroupResource() + " \"" + name +
                       "\": the object has been modified; please apply your changes to "
                       "the latest version and try again");
  s.WithDetails(name, res.group, res.plural);
  return s;
}

Json StatusToJson(const Status& status) {
  Json out = {{"kind", "Status"},
              {"apiVersion", "v1"},
              {"metadata", Json::object()},
              {"status", status.ok() ? "Success" : "Failure"},
              {"code", status.HttpCode()}};
  if (!status.message().empty()) out["message"] = status.message();
  if (!status.ok()) out["reason"] = status.Reason();
  Json details = Json::object();
  if (!status.details_name().empty()) details["name"] = status.details_name();
  if (!status.details_group().empty()) details["group"] = status.details_group();
  if (!status.details_kind().empty()) details["kind"] = status.details_kind();
  if (!status.causes().empty()) {
    Json causes = Json::array();
    for (const auto& c : status.causes()) {
      Json cause = {{"reason", c.type}, {"message", c.message}};
      if (!c.field.empty()) cause["field"] = c.field;
      causes.push_back(cause);
    }
    details["causes"] = causes;
  }
  if (!details.empty()) out["details"] = details;
  return out;
}

ObjectApi::ObjectApi(api::ResourceRegistry* registry, store::Store* store, Clock* clock)
    : registry_(registry), store_(store), clock_(clock) {}

ObjectApi::~ObjectApi() = default;

void ObjectApi::AddAdmissionPlugin(std::unique_ptr<AdmissionPlugin> plugin) {
  std::lock_guard<std::mutex> lock(admission_mu_);
  auto next = std::make_shared<std::vector<AdmissionPlugin*>>(*admission_);
  next->push_back(plugin.get());
  admission_owned_.push_back(std::move(plugin));
  admission_ = std::move(next);
}

std::string ObjectApi::Key(const api::ResourceInfo& res, const std::string& ns,
                           const std::string& name) {
  std::string key = "/registry/" + StorageGroup(res) + "/" + res.plural + "/";
  if (res.namespaced) key += ns + "/";
  return key + name;
}

std::string ObjectApi::Prefix(const api::ResourceInfo& res, const std::string& ns) {
  std::string key = "/registry/" + StorageGroup(res) + "/" + res.plural + "/";
  if (res.namespaced && !ns.empty()) key += ns + "/";
  return key;
}

std::string ObjectApi::ForRead(const api::ResourceInfo& res, std::string stored) const {
  if (res.storage_group.empty() || res.storage_group == res.group) return stored;
  auto j = ParseJson(stored);
  if (!j.ok()) return stored;
  (*j)["apiVersion"] = res.ApiVersion();
  return Dump(*j);
}

StatusOr<store::Record> ObjectApi::GetRecord(const api::ResourceInfo& res, const std::string& ns,
                                             const std::string& name) {
  auto rec = store_->Get(Key(res, ns, name));
  if (!rec.ok()) {
    if (rec.status().code() == Code::kNotFound) return NotFoundError(res, name);
    return rec.status();
  }
  return rec;
}

StatusOr<Json> ObjectApi::Get(const RequestContext& ctx, const api::ResourceInfo& res,
                              const std::string& ns, const std::string& name) {
  auto rec = GetRecord(res, ns, name);
  if (!rec.ok()) return rec.status();
  auto obj = ParseJson(rec->value);
  if (!obj.ok()) return Status::Internal("stored object is corrupt: " + obj.status().message());
  if (!res.storage_group.empty() && res.storage_group != res.group) {
    (*obj)["apiVersion"] = res.ApiVersion();
  }
  return obj;
}

StatusOr<ListResult> ObjectApi::List(const RequestContext& ctx, const api::ResourceInfo& res,
                                     const std::string& ns, const api::ListOptions& options) {
  auto filter = MakeFilter(options.label_selector, options.field_selector);
  if (!filter.ok()) return filter.status();
  store::ListOptions lo;
  lo.prefix = Prefix(res, ns);
  if (!options.continue_token.empty()) {
    auto token = DecodeContinue(options.continue_token);
    if (!token.ok()) return token.status();
    lo.revision = token->revision;
    lo.start_after = token->start_after;
  }
  // A list with a name pinned by field selector reads one key.
  std::string pinned = filter->fields.PinnedName();
  ListResult result;
  const int64_t want = options.limit > 0 ? options.limit : 0;
  while (true) {
    lo.limit = want > 0 ? std::max<int64_t>(want - result.items.size(), 64) : 0;
    if (filter->empty() && want > 0) lo.limit = want - result.items.size();
    auto page = store_->List(lo);
    if (!page.ok()) {
      if (page.status().code() == Code::kGone) {
        return Status::Gone(
            "The provided continue parameter is too old to display a consistent list result. You "
            "can start a new list without the continue parameter.");
      }
      return page.status();
    }
    result.resource_version = page->revision;
    lo.revision = page->revision;  // later pages read the same snapshot
    std::string last_key;
    bool stopped_early = false;
    for (size_t i = 0; i < page->records.size(); ++i) {
      store::Record& rec = page->records[i];
      last_key = rec.key;
      if (!filter->empty()) {
        if (!pinned.empty() && rec.key.substr(rec.key.rfind('/') + 1) != pinned) continue;
        auto obj = ParseJson(rec.value);
        if (!obj.ok() || !filter->Matches(*obj)) continue;
      }
      result.items.push_back(ForRead(res, std::move(rec.value)));
      if (want > 0 && static_cast<int64_t>(result.items.size()) >= want) {
        stopped_early = page->more || i + 1 < page->records.size();
        break;
      }
    }
    if (want > 0 && static_cast<int64_t>(result.items.size()) >= want) {
      if (stopped_early) result.continue_token = EncodeContinue(page->revision, last_key);
      break;
    }
    if (!page->more || page->records.empty()) break;
    lo.start_after = last_key;
  }
  if (!result.continue_token.empty() && filter->empty() && lo.start_after.empty()) {
    int64_t total = store_->Count(Prefix(res, ns));
    result.remaining_item_count = std::max<int64_t>(0, total - result.items.size());
  }
  return result;
}

Status ObjectApi::CheckNamespace(const api::ResourceInfo& res, const std::string& ns,
                                 Operation op) {
  if (!res.namespaced) return Status::Ok();
  auto ns_res = registry_->Find("", "v1", "namespaces");
  if (!ns_res) return Status::Ok();
  auto rec = store_->Get(Key(*ns_res, "", ns));
  if (!rec.ok()) {
    Status s = Status::NotFound("namespaces \"" + ns + "\" not found");
    s.WithDetails(ns, "", "namespaces");
    return s;
  }
  if (op == Operation::kCreate && rec->value.find("\"deletionTimestamp\"") != std::string::npos) {
    auto obj = ParseJson(rec->value);
    if (obj.ok() && FindPath(*obj, "metadata.deletionTimestamp") != nullptr) {
      Status s = Status::Forbidden(res.GroupResource() +
                                   " is forbidden: unable to create new content in namespace " +
                                   ns + " because it is being terminated");
      return s;
    }
  }
  return Status::Ok();
}

Status ObjectApi::RunAdmission(const RequestContext& ctx, Operation op,
                               const api::ResourceInfo& res, Json* object, const Json* old) {
  std::shared_ptr<const std::vector<AdmissionPlugin*>> plugins;
  {
    std::lock_guard<std::mutex> lock(admission_mu_);
    plugins = admission_;
  }
  for (AdmissionPlugin* plugin : *plugins) {
    SKIFF_RETURN_IF_ERROR(plugin->Admit(ctx, op, res, object, old));
  }
  return Status::Ok();
}

StatusOr<Json> ObjectApi::Create(const RequestContext& ctx, const api::ResourceInfo& res,
                                 const std::string& ns_in, Json object,
                                 const api::WriteOptions& options,
                                 std::vector<std::string>* warnings) {
  return CreateInternal(ctx, res, ns_in, std::move(object), options, warnings, true);
}

StatusOr<Json> ObjectApi::CreateInternal(const RequestContext& ctx, const api::ResourceInfo& res,
                                         const std::string& ns_in, Json object,
                                         const api::WriteOptions& options,
                                         std::vector<std::string>* warnings, bool track_fields) {
  if (!object.is_object()) return Status::BadRequest("the request body must be a JSON object");
  // apiVersion/kind must name this resource (an alias group's apiVersion is accepted for it).
  const std::string api_version = object.value("apiVersion", "");
  const std::string kind = object.value("kind", "");
  if (!kind.empty() && kind != res.kind) {
    return Status::BadRequest("the kind in the request body (" + kind +
                              ") does not match the resource " + res.GroupResource() +
                              ", which holds " + res.kind + " objects");
  }
  if (!api_version.empty() && api_version != res.ApiVersion()) {
    return Status::BadRequest("the API version in the data (" + api_version +
                              ") does not match the expected API version (" + res.ApiVersion() +
                              ")");
  }
  object["apiVersion"] = res.ApiVersion();
  object["kind"] = res.kind;
  Json& meta = Meta(object);

  std::string ns;
  if (res.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    ns = ns_in.empty() ? (body_ns.empty() ? "default" : body_ns) : ns_in;
    if (!body_ns.empty() && body_ns != ns) return NamespaceMismatch();
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }

  std::string name = meta.value("name", "");
  const std::string generate = meta.value("generateName", "");
  if (name.empty() && generate.empty()) {
    Status s = Status::Invalid(
        res.GroupKind() +
        " \"\" is invalid: metadata.name: Required value: name or generateName is required");
    s.WithDetails("", res.group, res.kind);
    s.AddCause({"FieldValueRequired", "Required value: name or generateName is required",
                "metadata.name"});
    return s;
  }
  if (name.empty()) {
    name = GenerateName(generate);
    meta["name"] = name;
  }

  for (const char* f :
       {"resourceVersion", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}) {
    meta.erase(f);
  }
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = FormatRfc3339(clock_->Now());
  meta["generation"] = 1;
  if (res.status_subresource && res.group != "") object.erase("status");

  SKIFF_RETURN_IF_ERROR(ValidateAgainstSchema(res, name, options, &object, warnings));

  SKIFF_RETURN_IF_ERROR(CheckNamespace(res, ns, Operation::kCreate));
  SKIFF_RETURN_IF_ERROR(RunAdmission(ctx, Operation::kCreate, res, &object, nullptr));

  if (track_fields) {
    TrackUpdate(nullptr, &object, FieldManager(ctx, options), "Update", res.schema(),
                res.ApiVersion(), FormatRfc3339(clock_->Now()), false);
  }

  if (options.dry_run) return object;
  auto rec = store_->Create(Key(res, ns, name), [&](int64_t rev) {
    object["metadata"]["resourceVersion"] = std::to_string(rev);
    return Dump(object);
  });
  if (!rec.ok()) {
    if (rec.status().code() == Code::kAlreadyExists) return AlreadyExistsError(res, name);
    return rec.status();
  }
  return object;
}

StatusOr<Json> ObjectApi::Update(const RequestContext& ctx, const api::ResourceInfo& res,
                                 const std::string& ns, const std::string& name, Json object,
                                 const api::WriteOptions& options, bool status_subresource,
                                 std::vector<std::string>* warnings) {
  if (!object.is_object()) return Status::BadRequest("the request body must be a JSON object");
  const std::string body_name = MetaString(object, "name");
  if (!body_name.empty() && body_name != name) {
    return Status::BadRequest("the name of the object (" + body_name +
                              ") does not match the name on the URL (" + name + ")");
  }
  const std::string body_ns = MetaString(object, "namespace");
  if (res.namespaced && !body_ns.empty() && body_ns != ns) return NamespaceMismatch();
  const std::string kind = object.value("kind", "");
  if (!kind.empty() && kind != res.kind) {
    return Status::BadRequest("the kind in the request body (" + kind +
                              ") does not match the resource " + res.GroupResource());
  }
  auto rec = GetRecord(res, ns, name);
  if (!rec.ok()) return rec.status();
  auto live = ParseJson(rec->value);
  if (!live.ok()) return Status::Internal("stored object is corrupt");

  const std::string rv = MetaString(object, "resourceVersion");
  if (rv.empty() && !res.group.empty()) {
    Status s = api::InvalidStatus(
        res.GroupKind(), name,
        {{"FieldValueInvalid", "Invalid value: 0x0: must be specified for an update",
          "metadata.resourceVersion"}});
    return s;
  }
  if (!rv.empty() && rv != std::to_string(rec->revision)) return ConflictError(res, name);
  return UpdateInternal(ctx, res, ns, name, std::move(object), *live, rec->revision, options,
                        status_subresource, warnings, true);
}

namespace {

bool IsPod(const api::ResourceInfo& res) { return res.group.empty() && res.kind == "Pod"; }

// Setting a Pod's spec.nodeName is its binding: as kube-apiserver's Binding does, the same write
// records PodScheduled=True, so a scheduler binds with one write and the node agent starts the
// Pod on a status that already says it was scheduled.
void MarkScheduledOnBinding(const Json& live, Json* pod,
                            std::chrono::system_clock::time_point now) {
  const Json* was = FindPath(live, "spec.nodeName");
  const Json* is = FindPath(*pod, "spec.nodeName");
  const bool was_bound = was && was->is_string() && !was->get<std::string>().empty();
  const bool is_bound = is && is->is_string() && !is->get<std::string>().empty();
  if (was_bound || !is_bound) return;
  Json& status = (*pod)["status"];
  if (!status.is_object()) status = Json::object();
  Json& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = Json::array();
  Json scheduled = {{"type", "PodScheduled"},
                    {"status", "True"},
                    {"lastProbeTime", nullptr},
                    {"lastTransitionTime", FormatRfc3339(now)}};
  for (Json& c : conditions) {
    if (c.is_object() && c.value("type", "") == "PodScheduled") {
      c = std::move(scheduled);
      return;
    }
  }
  conditions.push_back(std::move(scheduled));
}

}  // namespace

StatusOr<Json> ObjectApi::UpdateInternal(const RequestContext& ctx, const api::ResourceInfo& res,
                                         const std::string& ns, const std::string& name,
                                         Json object, const Json& live, int64_t live_revision,
                                         const api::WriteOptions& options, bool status_subresource,
                                         std::vector<std::string>* warnings, bool track_fields) {
  object["apiVersion"] = res.ApiVersion();
  object["kind"] = res.kind;
  if (status_subresource) {
    // Only status changes through /status; everything else stays as it is.
    Json next = live;
    if (object.contains("status")) {
      next["status"] = object["status"];
    } else {
      next.erase("status");
    }
    // managedFields of the caller still travel with the object.
    object = std::move(next);
  } else if (res.status_subresource) {
    if (live.contains("status")) {
      object["status"] = live["status"];
    } else {
      object.erase("status");
    }
    if (IsPod(res)) MarkScheduledOnBinding(live, &object, clock_->Now());
  }
  KeepServerMetadata(live, &object);
  Json& meta = object["metadata"];

  SKIFF_RETURN_IF_ERROR(ValidateAgainstSchema(res, name, options, &object, warnings));

  // A deleting object may lose finalizers but not gain new ones.
  if (live["metadata"].contains("deletionTimestamp") && meta.contains("finalizers")) {
    const Json& old_f = live["metadata"].value("finalizers", Json::array());
    for (const Json& f : meta["finalizers"]) {
      if (std::find(old_f.begin(), old_f.end(), f) == old_f.end()) {
        return api::InvalidStatus(
            res.GroupKind(), name,
            {{"FieldValueForbidden",
              "Forbidden: no new finalizers can be added if the object is being deleted, found new "
              "finalizers " +
                  Json::array({f}).dump(),
              "metadata.finalizers"}});
      }
    }
  }

  int64_t generation = live["metadata"].value("generation", int64_t{1});
  if (SpecPart(object) != SpecPart(live)) ++generation;
  meta["generation"] = generation;

  SKIFF_RETURN_IF_ERROR(RunAdmission(ctx, Operation::kUpdate, res, &object, &live));

  const std::string now = FormatRfc3339(clock_->Now());
  if (track_fields) {
    TrackUpdate(&live, &object, FieldManager(ctx, options), "Update", res.schema(),
                res.ApiVersion(), now, status_subresource);
  }
  meta["resourceVersion"] = std::to_string(live_revision);

  // Nothing changed: no new revision, as Kubernetes skips no-op writes.
  if (object == live) return object;
  if (options.dry_run) return object;
  return Commit(res, Key(res, ns, name), std::move(object), live_revision);
}

StatusOr<Json> ObjectApi::Commit(const api::ResourceInfo& res, const std::string& key, Json object,
                                 int64_t expected_revision) {
  const Json& meta = object["metadata"];
  const bool deleting = meta.contains("deletionTimestamp");
  const bool no_finalizers = !meta.contains("finalizers") || meta["finalizers"].empty();
  // A Pod inside its grace period stays until the node agent deletes it with grace 0.
  const bool in_grace = meta.value("deletionGracePeriodSeconds", int64_t{0}) > 0;
  StatusOr<store::Record> rec = Status::Internal("unset");
  if (deleting && no_finalizers && !in_grace) {
    rec = store_->Delete(key, expected_revision, [&](int64_t rev) {
      object["metadata"]["resourceVersion"] = std::to_string(rev);
      return Dump(object);
    });
  } else {
    rec = store_->Update(key, expected_revision, [&](int64_t rev) {
      object["metadata"]["resourceVersion"] = std::to_string(rev);
      return Dump(object);
    });
  }
  if (!rec.ok()) {
    const std::string name = meta.value("name", "");
    if (rec.status().code() == Code::kConflict) return ConflictError(res, name);
    if (rec.status().code() == Code::kNotFound) return NotFoundError(res, name);
    return rec.status();
  }
  return object;
}

StatusOr<Json> ObjectApi::Patch(const RequestContext& ctx, const api::ResourceInfo& res,
                                const std::string& ns, const std::string& name, api::PatchType type,
                                const std::string& body, const api::WriteOptions& options,
                                bool status_subresource, std::vector<std::string>* warnings) {
  if (type == api::PatchType::kStrategicMerge && !SupportsStrategicMergePatch(res)) {
    Status s(Code::kUnsupportedMediaType,
             "the body of the request was in an unknown format - accepted media types include: "
             "application/json-patch+json, application/merge-patch+json, "
             "application/apply-patch+yaml");
    return s;
  }
  Json patch;
  if (type == api::PatchType::kApply) {
    auto parsed = ParseYaml(body);
    if (!parsed.ok()) return parsed.status();
    patch = std::move(*parsed);
    if (!patch.is_object()) return Status::BadRequest("the apply configuration must be an object");
    if (options.field_manager.empty()) {
      return Status::BadRequest(
          "PATCH requests with application/apply-patch+yaml require a fieldManager parameter");
    }
  } else {
    auto parsed = ParseJson(body);
    if (!parsed.ok()) return parsed.status();
    patch = std::move(*parsed);
  }

  for (int attempt = 0; attempt < kPatchRetries; ++attempt) {
    auto rec = store_->Get(Key(res, ns, name));
    if (!rec.ok() && rec.status().code() != Code::kNotFound) return rec.status();
    if (!rec.ok()) {
      if (type != api::PatchType::kApply || status_subresource) return NotFoundError(res, name);
      // Server-side apply creates what does not exist yet.
      const std::string now = FormatRfc3339(clock_->Now());
      auto applied = ServerSideApply(nullptr, patch, options.field_manager, options.force,
                                     res.schema(), res.ApiVersion(), now, false);
      if (!applied.ok()) return applied.status();
      Json obj = std::move(*applied);
      Json& meta = Meta(obj);
      if (meta.value("name", "") != name && meta.contains("name")) {
        return Status::BadRequest("the name of the object (" + meta.value("name", "") +
                                  ") does not match the name on the URL (" + name + ")");
      }
      meta["name"] = name;
      api::WriteOptions create_options = options;
      if (create_options.field_validation.empty()) create_options.field_validation = "Strict";
      auto created = CreateInternal(ctx, res, ns, obj, create_options, warnings, false);
      if (!created.ok() && created.status().code() == Code::kAlreadyExists) continue;
      return created;
    }
    auto live = ParseJson(rec->value);
    if (!live.ok()) return Status::Internal("stored object is corrupt");

    StatusOr<Json> patched = Status::Internal("unset");
    bool track = true;
    switch (type) {
      case api::PatchType::kMerge:
        patched = ApplyMergePatch(*live, patch);
        break;
      case api::PatchType::kJson:
        patched = ApplyJsonPatch(*live, patch);
        break;
      case api::PatchType::kStrategicMerge:
        patched = ApplyStrategicMergePatch(*live, patch, res.schema());
        break;
      case api::PatchType::kApply: {
        const std::string now = FormatRfc3339(clock_->Now());
        patched = ServerSideApply(&*live, patch, options.field_manager, options.force, res.schema(),
                                  res.ApiVersion(), now, status_subresource);
        track = false;
        break;
      }
    }
    if (!patched.ok()) {
      Status s = patched.status();
      if (s.code() == Code::kConflict && s.details_name().empty()) {
        s.WithDetails(name, res.group, res.plural);
      }
      return s;
    }
    // A resourceVersion in the patch is a precondition.
    const std::string want_rv = MetaString(*patched, "resourceVersion");
    if (type != api::PatchType::kApply && !want_rv.empty() &&
        want_rv != std::to_string(rec->revision)) {
      return ConflictError(res, name);
    }
    auto result = UpdateInternal(ctx, res, ns, name, std::move(*patched), *live, rec->revision,
                                 options, status_subresource, warnings, track);
    if (!result.ok() && result.status().code() == Code::kConflict &&
        result.status().Reason() == "Conflict") {
      continue;  // someone wrote in between: patch the newer object
    }
    return result;
  }
  return ConflictError(res, name);
}

namespace {

// The grace period a Pod's deletion waits for (upstream's pod strategy): none for Pods no node
// runs (unbound, or already Succeeded/Failed) — they go at once; otherwise the request's
// gracePeriodSeconds, else the Pod's terminationGracePeriodSeconds, else 30.
std::optional<int64_t> PodGracePeriod(const api::ResourceInfo& res, const Json& pod,
                                      const api::DeleteOptions& options) {
  if (!IsPod(res)) return std::nullopt;
  const Json* node = FindPath(pod, "spec.nodeName");
  if (!node || !node->is_string() || node->get<std::string>().empty()) return std::nullopt;
  const Json* phase = FindPath(pod, "status.phase");
  if (phase && phase->is_string() && (*phase == "Succeeded" || *phase == "Failed")) {
    return std::nullopt;
  }
  if (options.grace_period_seconds) return std::max<int64_t>(0, *options.grace_period_seconds);
  const Json* spec_grace = FindPath(pod, "spec.terminationGracePeriodSeconds");
  if (spec_grace && spec_grace->is_number_integer()) {
    return std::max<int64_t>(0, spec_grace->get<int64_t>());
  }
  return 30;
}

}  // namespace

StatusOr<Json> ObjectApi::Delete(const RequestContext& ctx, const api::ResourceInfo& res,
                                 const std::string& ns, const std::string& name,
                                 const api::DeleteOptions& options) {
  for (int attempt = 0; attempt < kPatchRetries; ++attempt) {
    auto rec = GetRecord(res, ns, name);
    if (!rec.ok()) return rec.status();
    auto parsed = ParseJson(rec->value);
    if (!parsed.ok()) return Status::Internal("stored object is corrupt");
    Json obj = std::move(*parsed);
    Json& meta = obj["metadata"];
    if (!options.precondition_uid.empty() && options.precondition_uid != meta.value("uid", "")) {
      Status s =
          Status::Conflict("Precondition failed: UID in precondition: " + options.precondition_uid +
                           ", UID in object meta: " + meta.value("uid", ""));
      s.WithDetails(name, res.group, res.plural);
      return s;
    }
    if (!options.precondition_resource_version.empty() &&
        options.precondition_resource_version != std::to_string(rec->revision)) {
      Status s =
          Status::Conflict("Precondition failed: ResourceVersion in precondition: " +
                           options.precondition_resource_version +
                           ", ResourceVersion in object meta: " + std::to_string(rec->revision));
      s.WithDetails(name, res.group, res.plural);
      return s;
    }
    SKIFF_RETURN_IF_ERROR(RunAdmission(ctx, Operation::kDelete, res, &obj, &obj));

    Json finalizers = meta.value("finalizers", Json::array());
    auto add_finalizer = [&](const char* f) {
      if (std::find(finalizers.begin(), finalizers.end(), f) == finalizers.end()) {
        finalizers.push_back(f);
      }
    };
    if (options.propagation_policy == "Foreground") add_finalizer("foregroundDeletion");
    if (options.propagation_policy == "Orphan") add_finalizer("orphan");
    if (res.kind == "Namespace" && res.group.empty()) add_finalizer("kubernetes");

    const std::optional<int64_t> grace = PodGracePeriod(res, obj, options);
    if (meta.contains("deletionTimestamp")) {
      // Already being deleted: finalizers will finish it, or the node agent once the Pod's
      // containers stopped (its delete has grace 0). A shorter grace period shortens the wait.
      // (No grace left to wait for means the Pod no longer runs: it goes now.)
      if (!IsPod(res)) return obj;
      const int64_t wanted = grace.value_or(0);
      if (wanted >= meta.value("deletionGracePeriodSeconds", int64_t{0})) return obj;
      if (!finalizers.empty()) {
        // The finalizers still hold it; removing the last one will delete it.
        meta["deletionGracePeriodSeconds"] = wanted;
        if (options.dry_run) return obj;
        auto committed = Commit(res, Key(res, ns, name), obj, rec->revision);
        if (!committed.ok() && committed.status().code() == Code::kConflict) continue;
        return committed;
      }
    }
    if (options.dry_run) return obj;
    const std::string key = Key(res, ns, name);
    if (finalizers.empty() && grace && *grace > 0) {
      // A running Pod is not removed at once: the node agent stops its containers (SIGTERM, then
      // SIGKILL after the grace period) and then deletes it with grace 0.
      meta["deletionTimestamp"] = FormatRfc3339(clock_->Now() + std::chrono::seconds(*grace));
      meta["deletionGracePeriodSeconds"] = *grace;
      auto committed = Commit(res, key, obj, rec->revision);
      if (!committed.ok() && committed.status().code() == Code::kConflict) continue;
      return committed;
    }
    if (finalizers.empty()) {
      auto del = store_->Delete(key, rec->revision, [&](int64_t rev) {
        obj["metadata"]["resourceVersion"] = std::to_string(rev);
        return Dump(obj);
      });
      if (!del.ok()) {
        if (del.status().code() == Code::kConflict) continue;
        if (del.status().code() == Code::kNotFound) return NotFoundError(res, name);
        return del.status();
      }
      return obj;
    }
    meta["finalizers"] = finalizers;
    meta["deletionTimestamp"] = FormatRfc3339(clock_->Now());
    meta["deletionGracePeriodSeconds"] = grace.value_or(0);
    if (res.kind == "Namespace" && res.group.empty()) {
      obj["status"]["phase"] = "Terminating";
    }
    auto committed = Commit(res, key, obj, rec->revision);
    if (!committed.ok() && committed.status().code() == Code::kConflict) continue;
    return committed;
  }
  return ConflictError(res, name);
}

StatusOr<Json> ObjectApi::DeleteCollection(const RequestContext& ctx, const api::ResourceInfo& res,
                                           const std::string& ns,
                                           const api::ListOptions& list_options,
                                           const api::DeleteOptions& options) {
  api::ListOptions lo = list_options;
  lo.limit = 0;
  lo.continue_token.clear();
  auto listed = List(ctx, res, ns, lo);
  if (!listed.ok()) return listed.status();
  Json items = Json::array();
  for (const std::string& raw : listed->items) {
    auto obj = ParseJson(raw);
    if (!obj.ok()) continue;
    std::string name = MetaString(*obj, "name");
    std::string obj_ns = MetaString(*obj, "namespace");
    auto deleted = Delete(ctx, res, obj_ns, name, options);
    if (!deleted.ok()) {
      if (deleted.status().code() == Code::kNotFound) continue;
      return deleted.status();
    }
    items.push_back(std::move(*deleted));
  }
  return Json{{"apiVersion", res.ApiVersion()},
              {"kind", res.list_kind},
              {"metadata", {{"resourceVersion", std::to_string(store_->CurrentRevision())}}},
              {"items", items}};
}

namespace {

class StoreWatchHandle : public WatchHandle {
 public:
  explicit StoreWatchHandle(std::unique_ptr<store::Watch> w) : w_(std::move(w)) {}
  ~StoreWatchHandle() override { Cancel(); }
  void Cancel() override {
    if (w_) w_->Cancel();
  }

 private:
  std::unique_ptr<store::Watch> w_;
};

}  // namespace

StatusOr<std::unique_ptr<WatchHandle>> ObjectApi::Watch(const RequestContext& ctx,
                                                        const api::ResourceInfo& res,
                                                        const std::string& ns,
                                                        const api::WatchOptions& options,
                                                        WatchSink sink) {
  auto filter_or = MakeFilter(options.label_selector, options.field_selector);
  if (!filter_or.ok()) return filter_or.status();
  auto filter = std::make_shared<Filter>(std::move(*filter_or));
  auto rv = ParseResourceVersion(options.resource_version);
  if (!rv.ok()) return rv.status();

  int64_t start = *rv;
  const bool initial = start == 0 || options.send_initial_events;
  if (initial) {
    // Current state first, as ADDED events, then changes after the list's revision.
    api::ListOptions lo;
    lo.label_selector = options.label_selector;
    lo.field_selector = options.field_selector;
    auto listed = List(ctx, res, ns, lo);
    if (!listed.ok()) return listed.status();
    std::vector<WatchEventData> events;
    events.reserve(listed->items.size());
    for (std::string& item : listed->items) events.push_back({"ADDED", std::move(item)});
    if (options.send_initial_events) {
      Json bookmark = {{"kind", res.kind},
                       {"apiVersion", res.ApiVersion()},
                       {"metadata",
                        {{"resourceVersion", std::to_string(listed->resource_version)},
                         {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
      events.push_back({"BOOKMARK", Dump(bookmark)});
    }
    if (!events.empty() && !sink(std::move(events))) {
      return std::unique_ptr<WatchHandle>(new StoreWatchHandle(nullptr));
    }
    start = listed->resource_version;
  }

  const api::ResourceInfo res_copy = res;
  auto store_sink = [this, filter, sink, res_copy](const std::vector<store::Event>& events) {
    std::vector<WatchEventData> out;
    out.reserve(events.size());
    for (const store::Event& e : events) {
      if (!filter->empty()) {
        auto obj = ParseJson(e.record.value);
        if (!obj.ok() || !filter->Matches(*obj)) continue;
      }
      const char* type = e.type == store::EventType::kCreated   ? "ADDED"
                         : e.type == store::EventType::kUpdated ? "MODIFIED"
                                                                : "DELETED";
      out.push_back({type, ForRead(res_copy, e.record.value)});
    }
    if (out.empty()) return true;
    return sink(std::move(out));
  };
  auto w = store_->WatchPrefix(Prefix(res, ns), start, store_sink);
  if (!w.ok()) {
    if (w.status().code() == Code::kGone) {
      return Status::Gone("too old resource version: " + std::to_string(start) + " (" +
                          std::to_string(store_->CompactedRevision() + 1) + ")");
    }
    return w.status();
  }
  return std::unique_ptr<WatchHandle>(new StoreWatchHandle(std::move(*w)));
}

}  // namespace skiff::apiserver
