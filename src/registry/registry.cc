// Registry: REST entities <-> RegisteredModel / ModelVersion / ModelArtifact objects.
#include "registry/registry.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <regex>
#include <set>

#include "common/encoding.h"
#include "registry/filter_query.h"

namespace skiff::registry {

namespace {

constexpr int kWriteRetries = 8;
constexpr int64_t kDefaultPageSize = 100;

const client::Resource kConfigMaps{"", "v1", "configmaps"};

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kRegisteredModel:
      return "RegisteredModel";
    case Kind::kModelVersion:
      return "ModelVersion";
    case Kind::kModelArtifact:
      return "ModelArtifact";
  }
  return "";
}

// Upstream's words for each kind in messages ("no model version found for id 7").
const char* Noun(Kind kind) {
  switch (kind) {
    case Kind::kRegisteredModel:
      return "registered model";
    case Kind::kModelVersion:
      return "model version";
    case Kind::kModelArtifact:
      return "model artifact";
  }
  return "";
}

// The REST fields each kind keeps in spec under the same name.
const std::vector<std::string>& SpecFields(Kind kind) {
  static const std::vector<std::string> kModel = {
      "name",     "description", "externalId", "customProperties", "state",
      "owner",    "readme",      "maturity",   "language",         "tasks",
      "provider", "logo",        "license",    "licenseLink",      "libraryName"};
  static const std::vector<std::string> kVersion = {"name",  "description",      "externalId",
                                                    "state", "customProperties", "author"};
  static const std::vector<std::string> kArtifact = {"name",
                                                     "description",
                                                     "externalId",
                                                     "customProperties",
                                                     "state",
                                                     "uri",
                                                     "modelFormatName",
                                                     "modelFormatVersion",
                                                     "storageKey",
                                                     "storagePath",
                                                     "serviceAccountName",
                                                     "modelSourceKind",
                                                     "modelSourceClass",
                                                     "modelSourceGroup",
                                                     "modelSourceId",
                                                     "modelSourceName"};
  return kind == Kind::kRegisteredModel ? kModel
         : kind == Kind::kModelVersion  ? kVersion
                                        : kArtifact;
}

// Fields the server owns: accepted in a body (clients echo entities back) but never stored.
bool ServerOwned(const std::string& field) {
  static const std::set<std::string> kOwned = {
      "id",           "createTimeSinceEpoch", "lastUpdateTimeSinceEpoch", "registeredModelId",
      "artifactType", "experimentId",         "experimentRunId"};
  return kOwned.count(field) > 0;
}

std::string NowMillis() {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// metadata.creationTimestamp ("2024-05-01T10:00:00Z") in ms, for objects made with kubectl.
std::string MillisOf(const std::string& rfc3339) {
  std::tm tm{};
  if (!strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return NowMillis();
  return std::to_string(static_cast<int64_t>(timegm(&tm)) * 1000);
}

std::string Str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string Label(const Json& obj, const char* key) {
  const Json* labels = FindPath(obj, "metadata.labels");
  return labels ? Str(*labels, key) : "";
}

bool ValidId(const std::string& id) {
  static const std::regex kId("^[1-9][0-9]{0,8}$");
  return std::regex_match(id, kId);
}

// A registry name: spec.name, else metadata.name.
std::string NameOf(const Json& obj) {
  std::string n = StringAt(obj, "spec.name");
  return n.empty() ? StringAt(obj, "metadata.name") : n;
}

std::string StateOf(Kind kind, const Json& obj) {
  std::string s = StringAt(obj, "spec.state");
  if (!s.empty()) return s;
  return kind == Kind::kModelArtifact ? "UNKNOWN" : "LIVE";
}

// customProperties as MetadataValues; plain values written with kubectl are tagged on the way out.
Json TaggedProperties(const Json& props) {
  Json out = Json::object();
  if (!props.is_object()) return out;
  for (const auto& [k, v] : props.items()) {
    if (v.is_object() && v.contains("metadataType")) {
      out[k] = v;
    } else if (v.is_boolean()) {
      out[k] = {{"metadataType", "MetadataBoolValue"}, {"bool_value", v}};
    } else if (v.is_number_integer()) {
      out[k] = {{"metadataType", "MetadataIntValue"},
                {"int_value", std::to_string(v.get<int64_t>())}};
    } else if (v.is_number()) {
      out[k] = {{"metadataType", "MetadataDoubleValue"}, {"double_value", v}};
    } else if (v.is_string()) {
      out[k] = {{"metadataType", "MetadataStringValue"}, {"string_value", v}};
    } else {
      out[k] = {{"metadataType", "MetadataStringValue"}, {"string_value", v.dump()}};
    }
  }
  return out;
}

Status ValidateProperties(const Json& props) {
  static const std::map<std::string, std::string> kValueField = {
      {"MetadataStringValue", "string_value"}, {"MetadataIntValue", "int_value"},
      {"MetadataDoubleValue", "double_value"}, {"MetadataBoolValue", "bool_value"},
      {"MetadataStructValue", "struct_value"}, {"MetadataProtoValue", "proto_value"}};
  if (!props.is_object()) return Status::BadRequest("customProperties must be an object");
  for (const auto& [k, v] : props.items()) {
    const std::string type = Str(v, "metadataType");
    auto it = kValueField.find(type);
    if (it == kValueField.end()) {
      return Status::BadRequest("customProperties." + k +
                                ": metadataType must be one of MetadataStringValue, "
                                "MetadataIntValue, MetadataDoubleValue, MetadataBoolValue, "
                                "MetadataStructValue, MetadataProtoValue");
    }
    if (!v.contains(it->second)) {
      return Status::BadRequest("customProperties." + k + ": a " + type + " needs " + it->second);
    }
  }
  return Status::Ok();
}

Status ValidateBody(Kind kind, const Json& body) {
  if (!body.is_object()) return Status::BadRequest("the request body must be a JSON object");
  if (body.contains("customProperties") && !body["customProperties"].is_null()) {
    SKIFF_RETURN_IF_ERROR(ValidateProperties(body["customProperties"]));
  }
  if (body.contains("state") && body["state"].is_string()) {
    const std::string s = body["state"].get<std::string>();
    static const std::set<std::string> kLive = {"LIVE", "ARCHIVED"};
    static const std::set<std::string> kArtifact = {
        "UNKNOWN", "PENDING", "LIVE", "MARKED_FOR_DELETION", "DELETED", "ABANDONED", "REFERENCE"};
    if (!(kind == Kind::kModelArtifact ? kArtifact : kLive).count(s)) {
      return Status::BadRequest("invalid state \"" + s + "\"");
    }
  }
  if (body.contains("artifactType") && body["artifactType"].is_string() &&
      body["artifactType"] != "model-artifact") {
    return Status::BadRequest("artifactType must be model-artifact here");
  }
  for (const auto& [k, v] : body.items()) {
    const auto& fields = SpecFields(kind);
    if (!ServerOwned(k) && std::find(fields.begin(), fields.end(), k) == fields.end()) {
      return Status::BadRequest(std::string("unknown field \"") + k + "\" for a " + Noun(kind));
    }
    if (k != "customProperties" && k != "language" && k != "tasks" && !v.is_null() &&
        !v.is_string()) {
      return Status::BadRequest("field \"" + k + "\" must be a string");
    }
  }
  return Status::Ok();
}

// Status codes from the Client mapped to what the REST API answers.
Status Relay(const Status& s, const std::string& context) {
  Code code = s.code();
  if (code == Code::kInvalid || code == Code::kUnsupportedMediaType) code = Code::kBadRequest;
  return Status(code, context.empty() ? s.message() : context + ": " + s.message());
}

uint32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// Ordering for list calls; ties broken by id.
struct Order {
  std::string field = "ID";
  bool desc = false;

  static std::optional<Order> Parse(const ListQuery& q) {
    Order o;
    if (!q.order_by.empty()) o.field = q.order_by;
    if (o.field != "ID" && o.field != "CREATE_TIME" && o.field != "LAST_UPDATE_TIME" &&
        o.field != "NAME") {
      return std::nullopt;
    }
    if (q.sort_order == "DESC") {
      o.desc = true;
    } else if (!q.sort_order.empty() && q.sort_order != "ASC") {
      return std::nullopt;
    }
    return o;
  }

  std::string Key(const Json& e) const {
    if (field == "NAME") return Str(e, "name");
    if (field == "CREATE_TIME") return Str(e, "createTimeSinceEpoch");
    if (field == "LAST_UPDATE_TIME") return Str(e, "lastUpdateTimeSinceEpoch");
    return Str(e, "id");
  }

  // -1, 0, 1 for (key, id) pairs in ascending order.
  static int CompareKeys(const std::string& field, const std::string& a, const std::string& b) {
    if (field != "NAME") {
      // Numeric strings: shorter is smaller.
      if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // True when (ka, ia) comes before (kb, ib) in this order.
  bool Before(const std::string& ka, const std::string& ia, const std::string& kb,
              const std::string& ib) const {
    int c = CompareKeys(field, ka, kb);
    if (c == 0) c = CompareKeys("ID", ia, ib);
    return desc ? c > 0 : c < 0;
  }
};

}  // namespace

client::Resource ResourceOf(Kind kind) {
  switch (kind) {
    case Kind::kRegisteredModel:
      return {kGroup, "v1alpha1", "registeredmodels"};
    case Kind::kModelVersion:
      return {kGroup, "v1alpha1", "modelversions"};
    case Kind::kModelArtifact:
      return {kGroup, "v1alpha1", "modelartifacts"};
  }
  return {};
}

std::string ObjectName(const std::string& name) {
  std::string out;
  for (char c : name) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += (std::isalnum(static_cast<unsigned char>(l)) || l == '-' || l == '.') ? l : '-';
  }
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(0, 1);
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.back()))) out.pop_back();
  if (out.size() > 200) out.resize(200);
  if (out != name || out.empty()) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", Fnv1a(name));
    out += (out.empty() ? "" : "-") + std::string(suffix);
  }
  return out;
}

Registry::Registry(client::Client* client, std::string ns, std::string user)
    : client_(client), ns_(std::move(ns)), user_(std::move(user)) {}

Json Registry::ToRest(Kind kind, const Json& obj) {
  Json e = Json::object();
  const Json spec = obj.contains("spec") && obj["spec"].is_object() ? obj["spec"] : Json::object();
  for (const std::string& f : SpecFields(kind)) {
    if (spec.contains(f) && !spec[f].is_null()) e[f] = spec[f];
  }
  e["name"] = NameOf(obj);
  e["state"] = StateOf(kind, obj);
  e["customProperties"] = TaggedProperties(spec.value("customProperties", Json::object()));
  std::string id = StringAt(obj, "status.id");
  if (id.empty()) id = Label(obj, kIdLabel);
  e["id"] = id;
  std::string created = StringAt(obj, "status.createTimeSinceEpoch");
  if (created.empty()) created = MillisOf(StringAt(obj, "metadata.creationTimestamp"));
  std::string updated = StringAt(obj, "status.lastUpdateTimeSinceEpoch");
  e["createTimeSinceEpoch"] = created;
  e["lastUpdateTimeSinceEpoch"] = updated.empty() ? created : updated;
  if (kind == Kind::kModelVersion) {
    std::string parent = StringAt(obj, "status.registeredModelId");
    if (parent.empty()) parent = Label(obj, kModelIdLabel);
    e["registeredModelId"] = parent;
  }
  if (kind == Kind::kModelArtifact) e["artifactType"] = "model-artifact";
  return e;
}

StatusOr<Json> Registry::ListObjects(Kind kind) {
  auto list = client_->List(ResourceOf(kind), ns_, {});
  if (!list.ok()) return Relay(list.status(), "");
  Json items = list->value("items", Json::array());
  SKIFF_RETURN_IF_ERROR(EnsureIds(kind, &items));
  return items;
}

StatusOr<Json> Registry::ObjectById(Kind kind, const std::string& id) {
  if (!ValidId(id)) {
    return Status::BadRequest(std::string("invalid ") + Noun(kind) + " id \"" + id +
                              "\": ids are positive integers");
  }
  client::ListOptions lo;
  lo.label_selector = std::string(kIdLabel) + "=" + id;
  auto list = client_->List(ResourceOf(kind), ns_, lo);
  if (!list.ok()) return Relay(list.status(), "");
  const Json items = list->value("items", Json::array());
  if (items.empty()) {
    return Status::NotFound(std::string("no ") + Noun(kind) + " found for id " + id);
  }
  return items[0];
}

StatusOr<std::string> Registry::NextId() {
  for (int attempt = 0; attempt < kWriteRetries * 4; ++attempt) {
    auto cm = client_->Get(kConfigMaps, ns_, kIdsConfigMap);
    if (!cm.ok() && cm.status().code() != Code::kNotFound) return Relay(cm.status(), "");
    if (!cm.ok()) {
      // First id of the namespace, or the counter was lost: continue after the largest id in use.
      int64_t max = 0;
      for (Kind k : {Kind::kRegisteredModel, Kind::kModelVersion, Kind::kModelArtifact}) {
        auto list = client_->List(ResourceOf(k), ns_, {});
        if (!list.ok()) return Relay(list.status(), "");
        for (const Json& o : list->value("items", Json::array())) {
          const std::string id = Label(o, kIdLabel);
          if (ValidId(id)) max = std::max<int64_t>(max, std::stoll(id));
        }
      }
      Json obj = {{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata",
                   {{"name", kIdsConfigMap},
                    {"namespace", ns_},
                    {"labels", {{"app.kubernetes.io/part-of", "model-registry"}}}}},
                  {"data", {{"next", std::to_string(max + 2)}}}};
      auto created = client_->Create(kConfigMaps, ns_, obj);
      if (created.ok()) return std::to_string(max + 1);
      if (created.status().code() != Code::kAlreadyExists) return Relay(created.status(), "");
      continue;
    }
    Json obj = *cm;
    const std::string next = StringAt(obj, "data.next");
    if (!ValidId(next)) return Status::Internal("ConfigMap model-registry-ids has a bad data.next");
    obj["data"]["next"] = std::to_string(std::stoll(next) + 1);
    auto updated = client_->Update(kConfigMaps, ns_, obj);
    if (updated.ok()) return next;
    if (updated.status().code() != Code::kConflict) return Relay(updated.status(), "");
  }
  return Status::Conflict("could not allocate an id: too many concurrent writers");
}

Status Registry::EnsureIds(Kind kind, Json* objects) {
  for (Json& obj : *objects) {
    if (!Label(obj, kIdLabel).empty()) continue;
    auto id = NextId();
    if (!id.ok()) return id.status();
    obj["metadata"]["labels"][kIdLabel] = *id;
    obj["status"]["id"] = *id;
    const std::string created = MillisOf(StringAt(obj, "metadata.creationTimestamp"));
    obj["status"]["createTimeSinceEpoch"] = created;
    obj["status"]["lastUpdateTimeSinceEpoch"] = created;
    if (kind == Kind::kModelVersion) {
      auto model = ModelObject(StringAt(obj, "spec.registeredModelName"));
      if (model.ok()) {
        const std::string mid = Label(*model, kIdLabel);
        obj["metadata"]["labels"][kModelIdLabel] = mid;
        obj["status"]["registeredModelId"] = mid;
      }
    }
    auto written = client_->Update(ResourceOf(kind), ns_, obj);
    // Someone else changed it meanwhile: the next read assigns an id.
    if (written.ok()) obj = *written;
  }
  return Status::Ok();
}

StatusOr<Json> Registry::CreateObject(Kind kind, const std::string& base_name, Json object) {
  object["apiVersion"] = kApiVersion;
  object["kind"] = KindName(kind);
  object["metadata"]["namespace"] = ns_;
  std::string name = ObjectName(base_name);
  auto created = client_->Create(ResourceOf(kind), ns_, [&] {
    Json o = object;
    o["metadata"]["name"] = name;
    return o;
  }());
  if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
    // Another registry name maps to the same object name: make it unique with the id.
    object["metadata"]["name"] = name + "-" + StringAt(object, "status.id");
    created = client_->Create(ResourceOf(kind), ns_, object);
  }
  if (!created.ok()) return Relay(created.status(), "");
  return created;
}

StatusOr<Json> Registry::Write(Kind kind, Json object) {
  object["status"]["lastUpdateTimeSinceEpoch"] = NowMillis();
  auto written = client_->Update(ResourceOf(kind), ns_, object);
  if (!written.ok()) return Relay(written.status(), "");
  return written;
}

StatusOr<Json> Registry::ModelObject(const std::string& model) {
  auto items = ListObjects(Kind::kRegisteredModel);
  if (!items.ok()) return items.status();
  for (const Json& o : *items) {
    if (NameOf(o) == model) return o;
  }
  return Status::NotFound("registered model \"" + model + "\" not found in namespace " + ns_);
}

StatusOr<Json> Registry::VersionObject(const std::string& model, const std::string& version) {
  auto items = ListObjects(Kind::kModelVersion);
  if (!items.ok()) return items.status();
  std::vector<std::string> names;
  for (const Json& o : *items) {
    if (StringAt(o, "spec.registeredModelName") != model) continue;
    if (NameOf(o) == version) return o;
    names.push_back(NameOf(o));
  }
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  return Status::NotFound("model \"" + model + "\" has no version \"" + version + "\"" +
                          (known.empty() ? " (it has no versions)" : " (versions: " + known + ")"));
}

StatusOr<Json> Registry::Create(Kind kind, const Json& body, const std::string& parent_id) {
  SKIFF_RETURN_IF_ERROR(ValidateBody(kind, body));
  const std::string name = Str(body, "name");
  Json spec = Json::object();
  for (const std::string& f : SpecFields(kind)) {
    if (body.contains(f) && !body[f].is_null()) spec[f] = body[f];
  }
  Json object = {
      {"metadata", {{"labels", Json::object()}}}, {"spec", spec}, {"status", Json::object()}};
  std::string base_name = name;

  if (kind == Kind::kRegisteredModel) {
    if (name.empty()) return Status::BadRequest("a registered model needs a name");
    if (ModelObject(name).ok()) {
      return Status::Conflict("registered model with name " + name + " already exists");
    }
  }
  Json parent;
  if (kind == Kind::kModelVersion) {
    const std::string model_id = parent_id.empty() ? Str(body, "registeredModelId") : parent_id;
    if (name.empty()) return Status::BadRequest("a model version needs a name");
    if (model_id.empty()) return Status::BadRequest("a model version needs a registeredModelId");
    auto model = ObjectById(Kind::kRegisteredModel, model_id);
    if (!model.ok()) return model.status();
    parent = *model;
    const std::string model_name = NameOf(parent);
    if (VersionObject(model_name, name).ok()) {
      return Status::Conflict("model version with name " + name + " already exists");
    }
    object["spec"]["registeredModelName"] = model_name;
    object["metadata"]["labels"][kModelIdLabel] = model_id;
    object["status"]["registeredModelId"] = model_id;
    base_name = model_name + "-" + name;
  }
  if (kind == Kind::kModelArtifact) {
    if (!parent_id.empty()) {
      auto version = ObjectById(Kind::kModelVersion, parent_id);
      if (!version.ok()) return version.status();
      parent = *version;
      auto siblings = ListObjects(Kind::kModelArtifact);
      if (!siblings.ok()) return siblings.status();
      for (const Json& o : *siblings) {
        if (!name.empty() && Label(o, kVersionIdLabel) == parent_id && NameOf(o) == name) {
          return Status::Conflict("model artifact with name " + name + " already exists");
        }
      }
      object["spec"]["registeredModelName"] = StringAt(parent, "spec.registeredModelName");
      object["spec"]["modelVersionName"] = NameOf(parent);
      object["metadata"]["labels"][kVersionIdLabel] = parent_id;
      object["status"]["modelVersionId"] = parent_id;
      base_name = StringAt(parent, "metadata.name") + "-" + (name.empty() ? "artifact" : name);
    } else if (name.empty()) {
      base_name = "artifact";
    }
    if (!spec.contains("state")) object["spec"]["state"] = "LIVE";
  }
  if (kind != Kind::kModelArtifact && !spec.contains("state")) object["spec"]["state"] = "LIVE";

  auto id = NextId();
  if (!id.ok()) return id.status();
  const std::string now = NowMillis();
  object["metadata"]["labels"][kIdLabel] = *id;
  object["status"]["id"] = *id;
  object["status"]["createTimeSinceEpoch"] = now;
  object["status"]["lastUpdateTimeSinceEpoch"] = now;
  if (kind == Kind::kModelArtifact && name.empty()) base_name += "-" + *id;
  auto created = CreateObject(kind, base_name, object);
  if (!created.ok()) return created.status();

  if (kind == Kind::kModelVersion) {
    // The model lists its versions, newest last.
    for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
      auto model = ObjectById(Kind::kRegisteredModel, Label(parent, kIdLabel));
      if (!model.ok()) break;
      Json m = *model;
      Json versions = m["status"].value("versions", Json::array());
      versions.push_back(name);
      m["status"]["versions"] = versions;
      m["status"]["latestVersion"] = name;
      auto w = Write(Kind::kRegisteredModel, m);
      if (w.ok() || w.status().code() != Code::kConflict) break;
    }
  }
  if (kind == Kind::kModelArtifact && !parent_id.empty()) {
    SKIFF_RETURN_IF_ERROR(MirrorArtifact(parent_id));
  }
  return ToRest(kind, *created);
}

StatusOr<Json> Registry::Get(Kind kind, const std::string& id) {
  auto obj = ObjectById(kind, id);
  if (!obj.ok()) return obj.status();
  return ToRest(kind, *obj);
}

StatusOr<Json> Registry::Find(Kind kind, const std::string& name, const std::string& external_id,
                              const std::string& parent_id) {
  if (name.empty() && external_id.empty()) {
    return Status::BadRequest("invalid parameters call, supply either name or externalId");
  }
  if (kind == Kind::kModelVersion && !name.empty() && parent_id.empty() && external_id.empty()) {
    return Status::BadRequest(
        "invalid parameters call, supply either (name and parentResourceId), or externalId");
  }
  ListQuery all;
  auto list = List(kind, all, parent_id);
  if (!list.ok()) return list.status();
  for (const Json& e : (*list)["items"]) {
    if (!name.empty() && Str(e, "name") != name) continue;
    if (!external_id.empty() && Str(e, "externalId") != external_id) continue;
    return e;
  }
  return Status::NotFound(std::string("no ") + Noun(kind) + " found for name=" + name +
                          (parent_id.empty() ? "" : ", parentResourceId=" + parent_id) +
                          (external_id.empty() ? "" : ", externalId=" + external_id));
}

StatusOr<Json> Registry::List(Kind kind, const ListQuery& query, const std::string& parent_id) {
  auto order = Order::Parse(query);
  if (!order) {
    return Status::BadRequest(
        "invalid orderBy/sortOrder: orderBy is CREATE_TIME, "
        "LAST_UPDATE_TIME, ID or NAME; sortOrder is ASC or DESC");
  }
  int64_t page_size = kDefaultPageSize;
  if (!query.page_size.empty()) {
    if (!ValidId(query.page_size)) {
      return Status::BadRequest("invalid pageSize \"" + query.page_size + "\"");
    }
    page_size = std::stoll(query.page_size);
  }
  auto filter = FilterQuery::Parse(query.filter_query);
  if (!filter.ok()) return filter.status();

  // A parent restricts by name (kubectl-made objects may lack the parent label).
  std::string parent_model, parent_version;
  if (!parent_id.empty()) {
    if (kind == Kind::kModelVersion) {
      auto model = ObjectById(Kind::kRegisteredModel, parent_id);
      if (!model.ok()) return model.status();
      parent_model = NameOf(*model);
    } else if (kind == Kind::kModelArtifact) {
      auto version = ObjectById(Kind::kModelVersion, parent_id);
      if (!version.ok()) return version.status();
      parent_model = StringAt(*version, "spec.registeredModelName");
      parent_version = NameOf(*version);
    }
  }
  if (kind == Kind::kModelVersion) {
    // Versions made with kubectl take their model's id: the model needs one first.
    auto models = ListObjects(Kind::kRegisteredModel);
    if (!models.ok()) return models.status();
  }
  auto objects = ListObjects(kind);
  if (!objects.ok()) return objects.status();
  std::vector<Json> entities;
  for (const Json& o : *objects) {
    if (!parent_model.empty() && StringAt(o, "spec.registeredModelName") != parent_model) continue;
    if (!parent_version.empty() && StringAt(o, "spec.modelVersionName") != parent_version) continue;
    Json e = ToRest(kind, o);
    if (filter->Matches(e)) entities.push_back(std::move(e));
  }
  std::sort(entities.begin(), entities.end(), [&](const Json& a, const Json& b) {
    return order->Before(order->Key(a), Str(a, "id"), order->Key(b), Str(b, "id"));
  });
  size_t start = 0;
  if (!query.next_page_token.empty()) {
    auto decoded = Base64Decode(query.next_page_token);
    const size_t nl = decoded ? decoded->find('\n') : std::string::npos;
    if (nl == std::string::npos) return Status::BadRequest("invalid nextPageToken");
    const std::string key = decoded->substr(0, nl), id = decoded->substr(nl + 1);
    while (start < entities.size() &&
           !order->Before(key, id, order->Key(entities[start]), Str(entities[start], "id"))) {
      ++start;
    }
  }
  Json items = Json::array();
  for (size_t i = start; i < entities.size() && static_cast<int64_t>(items.size()) < page_size;
       ++i) {
    items.push_back(entities[i]);
  }
  std::string token;
  if (start + items.size() < entities.size() && !items.empty()) {
    const Json& last = items.back();
    token = Base64Encode(order->Key(last) + "\n" + Str(last, "id"));
  }
  return Json{{"items", items},
              {"nextPageToken", token},
              {"pageSize", page_size},
              {"size", static_cast<int64_t>(items.size())}};
}

StatusOr<Json> Registry::Update(Kind kind, const std::string& id, const Json& body) {
  SKIFF_RETURN_IF_ERROR(ValidateBody(kind, body));
  for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
    auto current = ObjectById(kind, id);
    if (!current.ok()) return current.status();
    Json obj = *current;
    if (body.contains("name") && body["name"].is_string() && body["name"] != NameOf(obj)) {
      return Status::BadRequest(std::string("the name of a ") + Noun(kind) + " cannot be changed");
    }
    if (body.contains("id") && body["id"].is_string() && body["id"] != id) {
      return Status::BadRequest("the id in the body (" + body["id"].get<std::string>() +
                                ") differs from the id in the path (" + id + ")");
    }
    if (kind == Kind::kModelVersion && Str(body, "state") == "ARCHIVED" &&
        StateOf(kind, obj) != "ARCHIVED") {
      auto model = ModelObject(StringAt(obj, "spec.registeredModelName"));
      if (model.ok()) {
        const Json aliases = (*model)["spec"].value("aliases", Json::object());
        for (const auto& [alias, version] : aliases.items()) {
          if (version == NameOf(obj)) {
            return Status::BadRequest(
                "version " + NameOf(obj) + " of model " + NameOf(*model) + " holds the alias \"" +
                alias + "\": promote another version to " + alias + " before archiving it");
          }
        }
      }
    }
    for (const std::string& f : SpecFields(kind)) {
      if (!body.contains(f) || f == "name") continue;
      if (body[f].is_null()) {
        obj["spec"].erase(f);
      } else {
        obj["spec"][f] = body[f];
      }
    }
    auto written = Write(kind, obj);
    if (!written.ok() && written.status().code() == Code::kConflict) continue;
    if (!written.ok()) return written.status();
    if (kind == Kind::kModelArtifact && !Label(*written, kVersionIdLabel).empty()) {
      SKIFF_RETURN_IF_ERROR(MirrorArtifact(Label(*written, kVersionIdLabel)));
    }
    return ToRest(kind, *written);
  }
  return Status::Conflict(std::string("the ") + Noun(kind) + " kept changing; try again");
}

StatusOr<Json> Registry::UpsertVersionArtifact(const std::string& version_id, const Json& body,
                                               bool* created) {
  *created = false;
  const std::string id = Str(body, "id");
  if (id.empty()) {
    *created = true;
    return Create(Kind::kModelArtifact, body, version_id);
  }
  auto version = ObjectById(Kind::kModelVersion, version_id);
  if (!version.ok()) return version.status();
  for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
    auto artifact = ObjectById(Kind::kModelArtifact, id);
    if (!artifact.ok()) return artifact.status();
    Json obj = *artifact;
    obj["metadata"]["labels"][kVersionIdLabel] = version_id;
    obj["status"]["modelVersionId"] = version_id;
    obj["spec"]["registeredModelName"] = StringAt(*version, "spec.registeredModelName");
    obj["spec"]["modelVersionName"] = NameOf(*version);
    auto written = Write(Kind::kModelArtifact, obj);
    if (!written.ok() && written.status().code() == Code::kConflict) continue;
    if (!written.ok()) return written.status();
    Json rest = body;
    rest.erase("id");
    rest.erase("artifactType");
    if (!rest.empty()) {
      auto updated = Update(Kind::kModelArtifact, id, body);
      if (!updated.ok()) return updated.status();
    }
    SKIFF_RETURN_IF_ERROR(MirrorArtifact(version_id));
    return Get(Kind::kModelArtifact, id);
  }
  return Status::Conflict("the model artifact kept changing; try again");
}

// ModelVersion.spec.artifact mirrors the version's first artifact, for kubectl's URI column.
Status Registry::MirrorArtifact(const std::string& version_id) {
  client::ListOptions lo;
  lo.label_selector = std::string(kVersionIdLabel) + "=" + version_id;
  auto list = client_->List(ResourceOf(Kind::kModelArtifact), ns_, lo);
  if (!list.ok()) return Relay(list.status(), "");
  const Json* first = nullptr;
  for (const Json& a : (*list)["items"]) {
    if (StringAt(a, "spec.uri").empty()) continue;
    if (!first || Order::CompareKeys("ID", Label(a, kIdLabel), Label(*first, kIdLabel)) < 0) {
      first = &a;
    }
  }
  if (!first) return Status::Ok();
  Json mirror = Json::object();
  for (const char* f : {"uri", "modelFormatName", "modelFormatVersion", "storageKey", "storagePath",
                        "serviceAccountName"}) {
    const std::string v = StringAt(*first, std::string("spec.") + f);
    if (!v.empty()) mirror[f] = v;
  }
  for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
    auto version = ObjectById(Kind::kModelVersion, version_id);
    if (!version.ok()) return version.status();
    Json obj = *version;
    if (obj["spec"].value("artifact", Json::object()) == mirror) return Status::Ok();
    obj["spec"]["artifact"] = mirror;
    auto w = Write(Kind::kModelVersion, obj);
    if (w.ok()) return Status::Ok();
    if (w.status().code() != Code::kConflict) return w.status();
  }
  return Status::Conflict("the model version kept changing; try again");
}

StatusOr<std::string> Registry::ArtifactUri(const Json& version_object) {
  const std::string id = Label(version_object, kIdLabel);
  if (!id.empty()) {
    client::ListOptions lo;
    lo.label_selector = std::string(kVersionIdLabel) + "=" + id;
    auto list = client_->List(ResourceOf(Kind::kModelArtifact), ns_, lo);
    if (!list.ok()) return Relay(list.status(), "");
    std::string best_id, best_uri;
    for (const Json& a : (*list)["items"]) {
      const std::string uri = StringAt(a, "spec.uri");
      if (uri.empty()) continue;
      const std::string aid = Label(a, kIdLabel);
      if (best_uri.empty() || Order::CompareKeys("ID", aid, best_id) < 0) {
        best_id = aid;
        best_uri = uri;
      }
    }
    if (!best_uri.empty()) return best_uri;
  }
  const std::string uri = StringAt(version_object, "spec.artifact.uri");
  if (!uri.empty()) return uri;
  return Status::NotFound("version " + NameOf(version_object) + " of model " +
                          StringAt(version_object, "spec.registeredModelName") +
                          " has no model artifact with a uri");
}

Status Registry::SetVersionAliases(const std::string& model, const Json& aliases) {
  auto versions = ListObjects(Kind::kModelVersion);
  if (!versions.ok()) return versions.status();
  for (const Json& v : *versions) {
    if (StringAt(v, "spec.registeredModelName") != model) continue;
    Json held = Json::array();
    for (const auto& [alias, target] : aliases.items()) {
      if (target == NameOf(v)) held.push_back(alias);
    }
    const Json* current = FindPath(v, "status.aliases");
    if ((current ? *current : Json::array()) == held) continue;
    for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
      auto fresh = client_->Get(ResourceOf(Kind::kModelVersion), ns_, StringAt(v, "metadata.name"));
      if (!fresh.ok()) return Relay(fresh.status(), "");
      Json obj = *fresh;
      obj["status"]["aliases"] = held;
      auto w = client_->Update(ResourceOf(Kind::kModelVersion), ns_, obj);
      if (w.ok()) break;
      if (w.status().code() != Code::kConflict) return Relay(w.status(), "");
    }
  }
  return Status::Ok();
}

StatusOr<Json> Registry::Promote(const std::string& model, const std::string& version,
                                 const std::string& alias) {
  static const std::regex kAlias("^[A-Za-z][A-Za-z0-9_.-]{0,62}$");
  if (!std::regex_match(alias, kAlias) || alias == "latest") {
    return Status::BadRequest("invalid alias \"" + alias +
                              "\": start with a letter, then letters, digits, '-', '_' or '.'; "
                              "\"latest\" is reserved for the newest version");
  }
  for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
    auto m = ModelObject(model);
    if (!m.ok()) return m.status();
    auto v = VersionObject(model, version);
    if (!v.ok()) return v.status();
    if (StateOf(Kind::kModelVersion, *v) == "ARCHIVED") {
      return Status::BadRequest("version " + version + " of model " + model +
                                " is ARCHIVED: an alias cannot point at an archived version");
    }
    Json obj = *m;
    Json aliases = obj["spec"].value("aliases", Json::object());
    const std::string previous = aliases.contains(alias) && aliases[alias].is_string()
                                     ? aliases[alias].get<std::string>()
                                     : "";
    if (previous == version) {
      SKIFF_RETURN_IF_ERROR(SetVersionAliases(model, aliases));
      return obj;
    }
    aliases[alias] = version;
    obj["spec"]["aliases"] = aliases;
    Json history = obj["status"].value("aliasHistory", Json::array());
    Json entry = {{"alias", alias},
                  {"version", version},
                  {"previousVersion", previous},
                  {"time", NowRfc3339()}};
    if (!user_.empty()) entry["user"] = user_;
    history.push_back(entry);
    obj["status"]["aliasHistory"] = history;
    auto w = Write(Kind::kRegisteredModel, obj);
    if (!w.ok() && w.status().code() == Code::kConflict) continue;
    if (!w.ok()) return w.status();
    SKIFF_RETURN_IF_ERROR(SetVersionAliases(model, aliases));
    return w;
  }
  return Status::Conflict("registered model " + model + " kept changing; try again");
}

StatusOr<Json> Registry::Archive(const std::string& model, const std::string& version) {
  auto m = ModelObject(model);
  if (!m.ok()) return m.status();
  if (version.empty()) {
    auto r = Update(Kind::kRegisteredModel, Label(*m, kIdLabel), {{"state", "ARCHIVED"}});
    if (!r.ok()) return r.status();
    return ModelObject(model);
  }
  auto v = VersionObject(model, version);
  if (!v.ok()) return v.status();
  auto r = Update(Kind::kModelVersion, Label(*v, kIdLabel), {{"state", "ARCHIVED"}});
  if (!r.ok()) return r.status();
  return VersionObject(model, version);
}

Status Registry::Delete(Kind kind, const std::string& id) {
  auto object = ObjectById(kind, id);
  if (!object.ok())
    return object.status().code() == Code::kNotFound ? Status::Ok() : object.status();
  auto d = client_->Delete(ResourceOf(kind), ns_, StringAt(*object, "metadata.name"));
  if (!d.ok() && d.status().code() != Code::kNotFound) return Relay(d.status(), "");
  return Status::Ok();
}

}  // namespace skiff::registry
