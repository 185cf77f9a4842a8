// `skiff get`: tables rendered from the server's Table answers (so a CRD's printer columns show
// without the CLI knowing the kind), or whole objects as YAML, JSON or names.
#include <algorithm>
#include <cctype>
#include <ostream>

#include "cli/commands.h"
#include "cli/printer.h"
#include "cli/resources.h"
#include "cli/session.h"

namespace skiff::cli {
namespace {

constexpr char kTableAccept[] =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s."
    "io,application/json";
// kubectl's page size: lists arrive in chunks and are printed as one table.
constexpr char kChunkSize[] = "500";

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string CellText(const Json& cell) {
  if (cell.is_string()) return cell.get<std::string>();
  if (cell.is_null()) return "<none>";
  if (cell.is_boolean()) return cell.get<bool>() ? "true" : "false";
  return cell.dump();
}

// Where a request's objects or rows go, with the first error per name kept for the end.
struct Collected {
  Json columns = Json::array();
  std::vector<Json> rows;     // Table rows
  std::vector<Json> objects;  // whole objects (-o yaml|json|name)
};

class Getter {
 public:
  Getter(Session* session, const GetOptions& options, Streams io)
      : s_(session), options_(options), io_(io) {}

  int Run() {
    const std::string& o = options_.output;
    if (!o.empty() && o != "wide" && o != "yaml" && o != "json" && o != "name") {
      PrintClientError(io_.err, "unable to match a printer suitable for the output format \"" + o +
                                    "\", allowed formats are: json,name,wide,yaml");
      return 1;
    }
    auto requests = ResolveResourceArgs(s_, options_.args);
    if (!requests.ok()) {
      PrintResolveError(io_.err, requests.status());
      return 1;
    }
    const bool objects = o == "yaml" || o == "json" || o == "name";
    const bool with_kind = requests->size() > 1;
    std::vector<Json> all_objects;
    size_t printed_tables = 0;
    bool any_named = false;
    for (const ResourceRequest& r : *requests) {
      any_named = any_named || !r.names.empty();
      Collected c;
      if (objects) {
        CollectObjects(r, &c);
        for (Json& obj : c.objects) {
          if (o == "name") {
            io_.out << r.mapping.KindGroup() << "/" << NameOf(obj) << "\n";
          } else {
            all_objects.push_back(std::move(obj));
          }
        }
        continue;
      }
      CollectTable(r, &c);
      if (c.rows.empty()) continue;
      if (printed_tables++ > 0) io_.out << "\n";
      PrintTable(r.mapping, c, with_kind);
    }
    if (objects && o != "name")
      PrintObjects(all_objects,
                   requests->size() == 1 && any_named && (*requests)[0].names.size() == 1);
    if (!objects && !failed_ && !any_named && printed_tables == 0) NoResources(*requests);
    return failed_ ? 1 : 0;
  }

 private:
  void Report(const Status& s) {
    failed_ = true;
    PrintError(io_.err, s);
  }

  std::string Namespace(const Mapping& m) const {
    if (!m.namespaced || options_.all_namespaces) return "";
    return s_->default_namespace();
  }

  void NoResources(const std::vector<ResourceRequest>& requests) {
    const bool namespaced =
        std::any_of(requests.begin(), requests.end(),
                    [](const ResourceRequest& r) { return r.mapping.namespaced; });
    if (namespaced && !options_.all_namespaces) {
      io_.err << "No resources found in " << s_->default_namespace() << " namespace.\n";
    } else {
      io_.err << "No resources found\n";
    }
  }

  void CollectObjects(const ResourceRequest& r, Collected* c) {
    const std::string ns = Namespace(r.mapping);
    for (const std::string& name : r.names) {
      auto obj = s_->client()->Get(r.mapping.resource, ns, name);
      if (!obj.ok()) {
        Report(obj.status());
        continue;
      }
      c->objects.push_back(std::move(*obj));
    }
    if (!r.names.empty()) return;
    client::ListOptions lo;
    lo.label_selector = options_.label_selector;
    lo.field_selector = options_.field_selector;
    auto list = s_->client()->List(r.mapping.resource, ns, lo);
    if (!list.ok()) {
      Report(list.status());
      return;
    }
    // List items may omit apiVersion and kind; a printed object should say what it is.
    for (Json& item : (*list)["items"]) {
      if (!item.contains("apiVersion")) item["apiVersion"] = r.mapping.ApiVersion();
      if (!item.contains("kind")) item["kind"] = r.mapping.kind;
      c->objects.push_back(std::move(item));
    }
  }

  // Fetches one Table answer; its rows and (first) column definitions go into `c`.
  bool FetchTable(const std::string& path, Collected* c, std::string* continue_token) {
    auto response = s_->Raw("GET", path, kTableAccept);
    if (!response.ok()) {
      Report(response.status());
      return false;
    }
    if (response->status < 200 || response->status >= 300) {
      Report(DecodeError(*response));
      return false;
    }
    auto table = ParseJson(response->body);
    if (!table.ok() || !table->is_object() || table->value("kind", "") != "Table") {
      Report(Status::Internal("the server did not answer " + path + " with a Table"));
      return false;
    }
    if (c->columns.empty() && (*table)["columnDefinitions"].is_array()) {
      c->columns = (*table)["columnDefinitions"];
    }
    for (Json& row : (*table)["rows"]) c->rows.push_back(std::move(row));
    if (continue_token) {
      const Json* next = FindPath(*table, "metadata.continue");
      *continue_token = next && next->is_string() ? next->get<std::string>() : "";
    }
    return true;
  }

  void CollectTable(const ResourceRequest& r, Collected* c) {
    const std::string ns = Namespace(r.mapping);
    for (const std::string& name : r.names)
      FetchTable(ResourcePath(r.mapping, ns, name), c, nullptr);
    if (!r.names.empty()) return;
    std::string next;
    do {
      const std::string query = QueryString({{"labelSelector", options_.label_selector},
                                             {"fieldSelector", options_.field_selector},
                                             {"limit", kChunkSize},
                                             {"continue", next}});
      if (!FetchTable(ResourcePath(r.mapping, ns) + query, c, &next)) return;
    } while (!next.empty());
  }

  void PrintTable(const Mapping& m, const Collected& c, bool with_kind) {
    const bool wide = options_.output == "wide";
    std::vector<size_t> shown;
    for (size_t i = 0; i < c.columns.size(); ++i) {
      if (wide || c.columns[i].value("priority", 0) == 0) shown.push_back(i);
    }
    TabWriter tw(6, 3);
    auto line = [&](std::vector<std::string> cells) {
      std::string text;
      for (size_t i = 0; i < cells.size(); ++i) text += (i ? "\t" : "") + cells[i];
      tw.Write(text + "\n");
    };
    if (!options_.no_headers) {
      std::vector<std::string> header;
      if (options_.all_namespaces && m.namespaced) header.push_back("NAMESPACE");
      for (size_t i : shown) header.push_back(Upper(c.columns[i].value("name", "")));
      line(header);
    }
    for (const Json& row : c.rows) {
      std::vector<std::string> cells;
      if (options_.all_namespaces && m.namespaced) {
        const Json* ns = FindPath(row, "object.metadata.namespace");
        cells.push_back(ns && ns->is_string() ? ns->get<std::string>() : "");
      }
      const Json& values = row["cells"];
      for (size_t k = 0; k < shown.size(); ++k) {
        const size_t i = shown[k];
        std::string text = values.is_array() && i < values.size() ? CellText(values[i]) : "";
        // Several types in one command: kubectl names each row by type, as in `-o name`.
        if (k == 0 && with_kind) text = m.KindGroup() + "/" + text;
        cells.push_back(std::move(text));
      }
      line(cells);
    }
    tw.Flush(io_.out);
  }

  void PrintObjects(std::vector<Json>& objects, bool single) {
    if (single && objects.size() == 1) {
      io_.out << FormatObject(objects[0], options_.output);
      return;
    }
    if (objects.empty() && failed_) return;
    Json list = {{"apiVersion", "v1"},
                 {"kind", "List"},
                 {"items", Json::array()},
                 {"metadata", {{"resourceVersion", ""}}}};
    for (Json& o : objects) list["items"].push_back(std::move(o));
    io_.out << FormatObject(list, options_.output);
  }

  Session* s_;
  const GetOptions& options_;
  Streams io_;
  bool failed_ = false;
};

}  // namespace

int RunGet(const ConnectionFlags& flags, const GetOptions& options, Streams io) {
  auto session = Session::Open(flags);
  if (!session.ok()) {
    PrintClientError(io.err, session.status().message());
    return 1;
  }
  return Getter(session->get(), options, io).Run();
}

}  // namespace skiff::cli
