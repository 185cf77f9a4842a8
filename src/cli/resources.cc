// Manifest reading and resource-argument resolution shared by the commands.
#include "cli/resources.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <sstream>

#include "cli/printer.h"
#include "common/file.h"
#include "http/http.h"

namespace skiff::cli {
namespace {

namespace fs = std::filesystem;

Status AddDocuments(const std::string& source, const std::string& text,
                    std::vector<Manifest>* out) {
  auto docs = ParseYamlDocuments(text);
  if (!docs.ok()) {
    return Status::BadRequest("error parsing " + source + ": " + docs.status().message());
  }
  for (Json& doc : *docs) {
    if (doc.is_null()) continue;
    if (!doc.is_object()) {
      return Status::BadRequest("error parsing " + source + ": a document is not an object");
    }
    // `kind: List` (what `kubectl get -o yaml` prints for several objects) carries its objects.
    if (doc.value("kind", "") == "List" && doc.contains("items") && doc["items"].is_array()) {
      for (Json& item : doc["items"]) out->push_back({source, std::move(item)});
      continue;
    }
    out->push_back({source, std::move(doc)});
  }
  return Status::Ok();
}

bool IsManifestFile(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

StatusOr<std::vector<Manifest>> ReadManifests(const std::vector<std::string>& files,
                                              std::istream& in) {
  std::vector<Manifest> out;
  for (const std::string& f : files) {
    if (f == "-") {
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      SKIFF_RETURN_IF_ERROR(AddDocuments("STDIN", text, &out));
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(f, ec)) {
      std::vector<fs::path> entries;
      for (const auto& e : fs::directory_iterator(f, ec)) {
        if (e.is_regular_file() && IsManifestFile(e.path())) entries.push_back(e.path());
      }
      std::sort(entries.begin(), entries.end());
      for (const fs::path& p : entries) {
        auto text = ReadFile(p.string());
        if (!text.ok()) return Status::BadRequest("cannot read " + p.string());
        SKIFF_RETURN_IF_ERROR(AddDocuments(p.string(), *text, &out));
      }
      continue;
    }
    if (!fs::exists(f, ec)) return Status::NotFound("the path \"" + f + "\" does not exist");
    auto text = ReadFile(f);
    if (!text.ok()) return Status::BadRequest("cannot read " + f + ": " + text.status().message());
    SKIFF_RETURN_IF_ERROR(AddDocuments(f, *text, &out));
  }
  if (out.empty()) return Status::BadRequest("no objects passed to the command");
  return out;
}

StatusOr<std::vector<ResourceRequest>> ResolveResourceArgs(Session* session,
                                                           const std::vector<std::string>& args) {
  if (args.empty()) {
    return Status::BadRequest(
        "you must specify the type of resource, e.g. pods, tfjobs or inferenceservices");
  }
  std::vector<ResourceRequest> out;
  const bool slash_form = args[0].find('/') != std::string::npos;
  if (slash_form) {
    // TYPE/NAME ...: every argument must have the form; same types share one request.
    for (const std::string& a : args) {
      const size_t slash = a.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == a.size()) {
        return Status::BadRequest(
            "there is no need to specify a resource type as a separate "
            "argument when passing arguments in resource/name form "
            "(e.g. 'skiff get resource/<resource_name>' instead of "
            "'skiff get resource resource/<resource_name>'");
      }
      auto m = session->ForArg(a.substr(0, slash));
      if (!m.ok()) return m.status();
      auto same = std::find_if(out.begin(), out.end(), [&](const ResourceRequest& r) {
        return r.mapping.GroupResource() == m->GroupResource();
      });
      if (same == out.end()) {
        out.push_back({*m, {}});
        same = out.end() - 1;
      }
      same->names.push_back(a.substr(slash + 1));
    }
    return out;
  }
  std::vector<std::string> names(args.begin() + 1, args.end());
  for (const std::string& n : names) {
    if (n.find('/') != std::string::npos) {
      return Status::BadRequest(
          "there is no need to specify a resource type as a separate "
          "argument when passing arguments in resource/name form");
    }
  }
  std::stringstream types(args[0]);
  std::string type;
  while (std::getline(types, type, ',')) {
    if (type.empty()) continue;
    auto m = session->ForArg(type);
    if (!m.ok() && m.status().code() == Code::kNotFound && names.empty()) {
      // `skiff get all`, `skiff get kubeflow`: a category names several types at once.
      auto mapper = session->Mapper();
      if (!mapper.ok()) return mapper.status();
      std::vector<Mapping> members = (*mapper)->ForCategory(type);
      if (!members.empty()) {
        for (Mapping& member : members) out.push_back({std::move(member), {}});
        continue;
      }
    }
    if (!m.ok()) return m.status();
    out.push_back({*m, names});
  }
  return out;
}

void PrintResolveError(std::ostream& err, const Status& status) {
  // The mapper's and the argument parser's own errors carry no server details.
  const bool ours = (status.code() == Code::kNotFound || status.code() == Code::kBadRequest) &&
                    status.details_kind().empty() && !IsTransportError(status);
  if (ours) {
    PrintClientError(err, status.message());
  } else {
    PrintError(err, status);
  }
}

StatusOr<std::string> NamespaceFor(const Mapping& m, const Json& object, Session* session,
                                   const ConnectionFlags& flags) {
  if (!m.namespaced) return std::string();
  const Json* ns = FindPath(object, "metadata.namespace");
  const std::string own = ns && ns->is_string() ? ns->get<std::string>() : "";
  if (own.empty()) return session->default_namespace();
  if (!flags.namespace_.empty() && flags.namespace_ != own) {
    return Status::BadRequest("the namespace from the provided object \"" + own +
                              "\" does not match the namespace \"" + flags.namespace_ +
                              "\". You must pass '--namespace=" + own +
                              "' to perform this operation.");
  }
  return own;
}

std::string ResourcePath(const Mapping& m, const std::string& ns, const std::string& name) {
  const client::Resource& r = m.resource;
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (m.namespaced && !ns.empty()) p += "/namespaces/" + http::PercentEncode(ns);
  p += "/" + r.plural;
  if (!name.empty()) p += "/" + http::PercentEncode(name);
  return p;
}

std::string NameOf(const Json& object) {
  const Json* name = FindPath(object, "metadata.name");
  return name && name->is_string() ? name->get<std::string>() : "";
}

}  // namespace skiff::cli
