// The plugin's commands: flag parsing, the registry calls, and kubectl-style tables.
#include "plugin/plugin.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>

#include "cli/printer.h"
#include "cli/session.h"
#include "cli/up.h"
#include "inference/storage.h"
#include "registry/registry.h"

namespace skiff::plugin {

namespace {

// Query-string escaping (RFC 3986 unreserved characters kept).
std::string PercentEncode(const std::string& in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace fs = std::filesystem;
using registry::Kind;
using registry::Registry;

constexpr char kUsage[] = R"(kubectl kubeflow: Kubeflow commands for kubectl (skiff).

Model Registry:
  kubectl kubeflow model register --name NAME --version VERSION --path URI [--description TEXT]
                                  [--format FORMAT] [--format-version V] [--author WHO]
                                  [--skip-path-check]
  kubectl kubeflow model promote  --name NAME --version VERSION --target ALIAS   (production, staging, ...)
  kubectl kubeflow model list     [--name NAME]          models, or the versions of one
  kubectl kubeflow model get      --name NAME [--version VERSION] [-o json|yaml]
  kubectl kubeflow model archive  --name NAME [--version VERSION]

Pipelines:
  kubectl kubeflow runs       [-A]                       PipelineRuns: state, progress, age
  kubectl kubeflow pipelines  [-A]                       Pipelines
  kubectl kubeflow logs RUN [TASK]                       logs of a run's task Pods

Global flags: --kubeconfig FILE, --context NAME, -n/--namespace NS,
  --data-dir DIR (skiff's data directory, for checking pvc:// and gs:// paths; default $SKIFF_HOME
  or ~/.skiff)
)";

// Flags as --name value or --name=value; words that are not flags are positional.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
  std::string error;

  bool Has(const std::string& f) const { return flags.count(f) > 0; }
  std::string Get(const std::string& f) const {
    auto it = flags.find(f);
    return it == flags.end() ? "" : it->second;
  }
};

Args ParseArgs(const std::vector<std::string>& words) {
  static const std::map<std::string, bool> kTakesValue = {{"kubeconfig", true},
                                                          {"context", true},
                                                          {"namespace", true},
                                                          {"n", true},
                                                          {"data-dir", true},
                                                          {"name", true},
                                                          {"version", true},
                                                          {"description", true},
                                                          {"path", true},
                                                          {"target", true},
                                                          {"format", true},
                                                          {"format-version", true},
                                                          {"author", true},
                                                          {"o", true},
                                                          {"output", true},
                                                          {"skip-path-check", false},
                                                          {"all-namespaces", false},
                                                          {"A", false},
                                                          {"help", false},
                                                          {"h", false}};
  Args a;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.size() < 2 || w[0] != '-') {
      a.positional.push_back(w);
      continue;
    }
    std::string name = w.substr(w[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto known = kTakesValue.find(name);
    if (known == kTakesValue.end()) {
      a.error = "unknown flag: " + w;
      return a;
    }
    if (known->second && !value) {
      if (i + 1 >= words.size()) {
        a.error = "flag needs an argument: " + w;
        return a;
      }
      value = words[++i];
    }
    if (name == "n") name = "namespace";
    if (name == "o") name = "output";
    if (name == "A") name = "all-namespaces";
    if (name == "h") name = "help";
    a.flags[name] = value.value_or("true");
  }
  return a;
}

class Command {
 public:
  Command(const Args& args, cli::Streams io) : args_(args), io_(io) {}

  int Run() {
    const auto& p = args_.positional;
    if (args_.Has("help") || p.empty()) {
      io_.out << kUsage;
      return p.empty() && !args_.Has("help") ? 2 : 0;
    }
    if (p[0] == "model" || p[0] == "models") {
      if (p.size() < 2)
        return Usage("model needs a subcommand: register, promote, list, get, archive");
      if (p.size() > 2) return Usage("unexpected argument \"" + p[2] + "\"");
      const std::string& sub = p[1];
      if (sub == "register") return Register();
      if (sub == "promote") return Promote();
      if (sub == "list") return List();
      if (sub == "get") return Get();
      if (sub == "archive") return Archive();
      return Usage("unknown model subcommand \"" + sub + "\"");
    }
    if (p[0] == "runs") return Runs();
    if (p[0] == "pipelines") return Pipelines();
    if (p[0] == "logs") return Logs();
    return Usage("unknown command \"" + p[0] + "\"");
  }

 private:
  int Usage(const std::string& message) {
    io_.err << "error: " << message << "\nSee 'kubectl kubeflow --help'.\n";
    return 2;
  }
  int Fail(const Status& s) {
    cli::PrintError(io_.err, s);
    return 1;
  }
  int Fail(const std::string& message) {
    cli::PrintClientError(io_.err, message);
    return 1;
  }

  bool Require(std::initializer_list<const char*> flags) {
    for (const char* f : flags) {
      if (args_.Get(f).empty()) {
        Usage(std::string("--") + f + " is required");
        return false;
      }
    }
    return true;
  }

  Status Connect() {
    cli::ConnectionFlags flags;
    flags.kubeconfig = args_.Get("kubeconfig");
    flags.context = args_.Get("context");
    flags.namespace_ = args_.Get("namespace");
    flags.data_dir = args_.Get("data-dir");
    auto s = cli::Session::Open(flags);
    if (!s.ok()) return s.status();
    session_ = std::move(*s);
    registry_ = std::make_unique<Registry>(session_->client(), session_->default_namespace());
    return Status::Ok();
  }

  std::string DataDir() const {
    const std::string flag = args_.Get("data-dir");
    return flag.empty() ? cli::DefaultDataDir() : flag;
  }

  // The artifact URI to record: remote-looking schemes as written, local paths as file:// URIs.
  // Fails, before anything is written, when the files are not where the URI says.
  StatusOr<std::string> CheckPath(const std::string& path) {
    std::string uri = path;
    const bool has_scheme = path.find("://") != std::string::npos;
    if (!has_scheme) {
      std::error_code ec;
      uri = "file://" + fs::absolute(path, ec).lexically_normal().string();
    }
    if (args_.Has("skip-path-check")) return uri;
    const bool server_side =
        uri.rfind("pvc://", 0) == 0 || uri.rfind("gs://", 0) == 0 || uri.rfind("s3://", 0) == 0;
    const std::string data_dir = DataDir();
    std::error_code ec;
    if (server_side && !fs::is_directory(data_dir, ec)) {
      return Status::BadRequest("cannot check " + path + ": skiff's data directory " + data_dir +
                                " is not on this machine (set --data-dir or $SKIFF_HOME, or pass "
                                "--skip-path-check)");
    }
    inference::StorageLocation loc =
        inference::ResolveStorageUri(uri, session_->default_namespace(), data_dir);
    if (!loc.ok) return Status::BadRequest("--path " + path + ": " + loc.message);
    return uri;
  }

  int Register() {
    if (!Require({"name", "version", "path"})) return 2;
    if (Status s = Connect(); !s.ok()) return Fail(s);
    const std::string name = args_.Get("name"), version = args_.Get("version");
    auto uri = CheckPath(args_.Get("path"));
    if (!uri.ok()) return Fail(uri.status().message());

    // Refuse a duplicate before writing anything; undo the steps done when a later one fails.
    auto model = registry_->ModelObject(name);
    if (model.ok() && registry_->VersionObject(name, version).ok()) {
      return Fail("model " + name + " already has a version " + version +
                  " (versions are immutable: register a new version)");
    }
    if (!model.ok() && model.status().code() != Code::kNotFound) return Fail(model.status());
    std::string model_id;
    bool created_model = false;
    if (model.ok()) {
      model_id = StringAt(*model, "status.id");
    } else {
      auto created = registry_->Create(Kind::kRegisteredModel, {{"name", name}});
      if (!created.ok()) return Fail(created.status());
      model_id = (*created)["id"];
      created_model = true;
    }
    auto rollback = [&](const Status& cause) {
      if (created_model) (void)registry_->Delete(Kind::kRegisteredModel, model_id);
      return Fail(cause);
    };
    Json vbody = {{"name", version}};
    if (Json props = PipelineProvenance(*uri); !props.empty()) vbody["customProperties"] = props;
    if (args_.Has("description")) vbody["description"] = args_.Get("description");
    if (args_.Has("author")) vbody["author"] = args_.Get("author");
    auto v = registry_->Create(Kind::kModelVersion, vbody, model_id);
    if (!v.ok()) return rollback(v.status());
    const std::string version_id = (*v)["id"];
    Json abody = {{"name", version}, {"uri", *uri}};
    if (args_.Has("format")) abody["modelFormatName"] = args_.Get("format");
    if (args_.Has("format-version")) abody["modelFormatVersion"] = args_.Get("format-version");
    bool created = false;
    auto a = registry_->UpsertVersionArtifact(version_id, abody, &created);
    if (!a.ok()) {
      (void)registry_->Delete(Kind::kModelVersion, version_id);
      return rollback(a.status());
    }
    io_.out << "registeredmodel.modelregistry.kubeflow.org/" << registry::ObjectName(name)
            << (created_model ? " created" : " unchanged") << "\n"
            << "model " << name << " version " << version << " registered (id " << version_id
            << ", artifact " << *uri << ")\n";
    return 0;
  }

  // When the artifact was made by a pipeline run, the version records where it came from (as
  // customProperties, Model Registry's tagged values): the pipeline, run, task and execution
  // that produced it (see `skiff lineage URI`), and the run's metrics (system.Metrics artifacts'
  // numbers as metric_<name>). Empty when skiff has no lineage for the URI.
  Json PipelineProvenance(const std::string& uri) {
    Json props = Json::object();
    auto text = [](const std::string& v) {
      return Json{{"metadataType", "MetadataStringValue"}, {"string_value", v}};
    };
    auto r = session_->Raw("GET", "/apis/skiff.io/v1/lineage?uri=" + PercentEncode(uri),
                           "application/json");
    if (!r.ok() || r->status != 200) return props;
    auto lineage = ParseJson(r->body);
    if (!lineage.ok()) return props;
    const Json* by = FindPath(*lineage, "producedBy");
    if (by == nullptr || !by->is_object()) return props;
    for (const auto& [key, field] :
         {std::pair{"pipeline", "pipeline"}, std::pair{"pipeline_run", "run"},
          std::pair{"pipeline_run_uid", "runUid"}, std::pair{"pipeline_task", "task"},
          std::pair{"namespace", "namespace"}}) {
      const std::string v = StringAt(*by, field);
      if (!v.empty()) props[key] = text(v);
    }
    if (auto id = IntAt(*by, "execution.id"))
      props["pipeline_execution_id"] = text(std::to_string(*id));
    const std::string run_uid = StringAt(*by, "runUid");
    if (run_uid.empty()) return props;
    auto ex = session_->Raw("GET", "/apis/skiff.io/v1/executions?run=" + PercentEncode(run_uid),
                            "application/json");
    if (!ex.ok() || ex->status != 200) return props;
    auto executions = ParseJson(ex->body);
    if (!executions.ok()) return props;
    for (const Json& e : (*executions)["executions"]) {
      for (const Json& out : e.value("outputs", Json::array())) {
        if (out.value("type", "") != "system.Metrics") continue;
        const Json& meta = out.contains("metadata") ? out["metadata"] : Json::object();
        for (auto it = meta.begin(); it != meta.end(); ++it) {
          if (!it.value().is_number()) continue;
          props["metric_" + it.key()] = Json{{"metadataType", "MetadataDoubleValue"},
                                             {"double_value", it.value().get<double>()}};
        }
      }
    }
    return props;
  }

  int Promote() {
    if (!Require({"name", "version", "target"})) return 2;
    if (Status s = Connect(); !s.ok()) return Fail(s);
    const std::string name = args_.Get("name"), version = args_.Get("version"),
                      alias = args_.Get("target");
    auto before = registry_->ModelObject(name);
    std::string previous;
    if (before.ok()) previous = StringAt(*before, "spec.aliases." + alias);
    auto m = registry_->Promote(name, version, alias);
    if (!m.ok()) return Fail(m.status());
    io_.out << "model " << name << " version " << version << " promoted to " << alias;
    if (previous == version) {
      io_.out << " (unchanged)\n";
    } else {
      io_.out << (previous.empty() ? "" : " (was " + previous + ")") << "\n";
    }
    return 0;
  }

  // Aliases of a model as "alias=version,...", or per version "alias,...".
  static std::string Join(const Json& list) {
    std::string out;
    for (const auto& v : list) out += (out.empty() ? "" : ",") + v.get<std::string>();
    return out.empty() ? "<none>" : out;
  }

  int List() {
    if (Status s = Connect(); !s.ok()) return Fail(s);
    cli::TabWriter tw(6, 3);
    const auto now = std::chrono::system_clock::now();
    registry::ListQuery all;
    all.page_size = "100000";
    if (args_.Get("name").empty()) {
      auto models = registry_->List(Kind::kRegisteredModel, all);
      if (!models.ok()) return Fail(models.status());
      if ((*models)["items"].empty()) {
        io_.err << "No models found in " << session_->default_namespace() << " namespace.\n";
        return 0;
      }
      tw.Write("NAME\tSTATE\tLATEST\tALIASES\tAGE\n");
      for (const Json& e : (*models)["items"]) {
        auto obj = registry_->ModelObject(e["name"]);
        Json aliases = Json::array();
        std::string latest, created;
        if (obj.ok()) {
          const Json held = (*obj)["spec"].value("aliases", Json::object());
          for (const auto& [a, v] : held.items()) {
            aliases.push_back(a + "=" + v.get<std::string>());
          }
          latest = StringAt(*obj, "status.latestVersion");
          created = StringAt(*obj, "metadata.creationTimestamp");
        }
        tw.Write(e["name"].get<std::string>() + "\t" + e["state"].get<std::string>() + "\t" +
                 (latest.empty() ? "<none>" : latest) + "\t" + Join(aliases) + "\t" +
                 cli::AgeSince(created, now) + "\n");
      }
    } else {
      auto model = registry_->ModelObject(args_.Get("name"));
      if (!model.ok()) return Fail(model.status());
      auto versions = registry_->List(Kind::kModelVersion, all, StringAt(*model, "status.id"));
      if (!versions.ok()) return Fail(versions.status());
      tw.Write("VERSION\tSTATE\tALIASES\tURI\tAGE\n");
      for (const Json& e : (*versions)["items"]) {
        auto obj = registry_->VersionObject(args_.Get("name"), e["name"]);
        if (!obj.ok()) continue;
        const Json* held = FindPath(*obj, "status.aliases");
        auto uri = registry_->ArtifactUri(*obj);
        tw.Write(e["name"].get<std::string>() + "\t" + e["state"].get<std::string>() + "\t" +
                 Join(held ? *held : Json::array()) + "\t" + (uri.ok() ? *uri : "<none>") + "\t" +
                 cli::AgeSince(StringAt(*obj, "metadata.creationTimestamp"), now) + "\n");
      }
    }
    tw.Flush(io_.out);
    return 0;
  }

  int Get() {
    if (!Require({"name"})) return 2;
    if (Status s = Connect(); !s.ok()) return Fail(s);
    const std::string name = args_.Get("name"), version = args_.Get("version");
    const std::string output = args_.Get("output");
    if (!output.empty() && output != "json" && output != "yaml") {
      return Usage("--output is json or yaml");
    }
    auto model = registry_->ModelObject(name);
    if (!model.ok()) return Fail(model.status());
    Json entity;
    if (version.empty()) {
      entity = Registry::ToRest(Kind::kRegisteredModel, *model);
      entity["aliases"] = (*model)["spec"].value("aliases", Json::object());
      entity["aliasHistory"] = (*model)["status"].value("aliasHistory", Json::array());
      entity["versions"] = (*model)["status"].value("versions", Json::array());
    } else {
      auto v = registry_->VersionObject(name, version);
      if (!v.ok()) return Fail(v.status());
      entity = Registry::ToRest(Kind::kModelVersion, *v);
      entity["aliases"] = (*v)["status"].value("aliases", Json::array());
      auto uri = registry_->ArtifactUri(*v);
      if (uri.ok()) entity["uri"] = *uri;
    }
    if (output == "json") {
      io_.out << entity.dump(4) << "\n";
    } else {
      // YAML is also the readable default.
      io_.out << ToYaml(entity);
    }
    return 0;
  }

  int Archive() {
    if (!Require({"name"})) return 2;
    if (Status s = Connect(); !s.ok()) return Fail(s);
    const std::string name = args_.Get("name"), version = args_.Get("version");
    auto r = registry_->Archive(name, version);
    if (!r.ok()) return Fail(r.status());
    io_.out << "model " << name << (version.empty() ? "" : " version " + version) << " archived\n";
    return 0;
  }

  // NAME ... AGE tables of a kubeflow.org/v2beta1 kind.
  int Table(const std::string& plural, const std::string& header,
            const std::function<std::string(const Json&)>& row) {
    if (Status s = Connect(); !s.ok()) return Fail(s);
    const bool all = args_.Has("all-namespaces");
    const std::string ns = all ? "" : session_->default_namespace();
    auto list = session_->client()->List({"kubeflow.org", "v2beta1", plural}, ns, {});
    if (!list.ok()) return Fail(list.status());
    const Json items = list->value("items", Json::array());
    if (items.empty()) {
      io_.err << (all ? "No resources found\n" : "No resources found in " + ns + " namespace.\n");
      return 0;
    }
    cli::TabWriter tw(6, 3);
    tw.Write(std::string(all ? "NAMESPACE\t" : "") + header + "\n");
    const auto now = std::chrono::system_clock::now();
    for (const Json& o : items) {
      tw.Write((all ? StringAt(o, "metadata.namespace") + "\t" : std::string()) +
               StringAt(o, "metadata.name") + "\t" + row(o) + "\t" +
               cli::AgeSince(StringAt(o, "metadata.creationTimestamp"), now) + "\n");
    }
    tw.Flush(io_.out);
    return 0;
  }

  static std::string Or(const std::string& s, const char* fallback) {
    return s.empty() ? fallback : s;
  }

  int Runs() {
    return Table("pipelineruns", "NAME\tSTATE\tPROGRESS\tAGE", [](const Json& o) {
      return Or(StringAt(o, "status.state"), "PENDING") + "\t" +
             Or(StringAt(o, "status.progress"), "-");
    });
  }

  int Pipelines() {
    return Table("pipelines", "NAME\tDESCRIPTION\tAGE", [](const Json& o) {
      std::string d = StringAt(o, "spec.description");
      if (d.size() > 60) d = d.substr(0, 57) + "...";
      return Or(d, "<none>");
    });
  }

  int Logs() {
    const auto& p = args_.positional;
    if (p.size() < 2 || p.size() > 3) return Usage("usage: kubectl kubeflow logs RUN [TASK]");
    if (Status s = Connect(); !s.ok()) return Fail(s);
    const std::string ns = session_->default_namespace();
    auto run = session_->client()->Get({"kubeflow.org", "v2beta1", "pipelineruns"}, ns, p[1]);
    if (!run.ok()) return Fail(run.status());
    const Json* tasks = FindPath(*run, "status.tasks");
    std::vector<Json> chosen;
    std::vector<std::string> names;
    for (const Json& t : tasks && tasks->is_array() ? *tasks : Json::array()) {
      names.push_back(t.value("name", ""));
      if (p.size() == 3 && t.value("name", "") != p[2] && t.value("displayName", "") != p[2]) {
        continue;
      }
      if (!t.value("podName", "").empty()) chosen.push_back(t);
    }
    if (chosen.empty()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      return Fail(p.size() == 3 ? "run " + p[1] + " has no task \"" + p[2] +
                                      "\" with a Pod (tasks: " + Or(known, "none yet") + ")"
                                : "run " + p[1] + " has no task Pods yet");
    }
    int rc = 0;
    for (const Json& t : chosen) {
      const std::string pod = t["podName"];
      if (chosen.size() > 1) io_.out << "==> " << t.value("name", "") << " (" << pod << ") <==\n";
      auto pod_obj = session_->client()->Get({"", "v1", "pods"}, ns, pod);
      std::string container;
      const Json* containers = pod_obj.ok() ? FindPath(*pod_obj, "spec.containers") : nullptr;
      if (containers && containers->is_array() && !containers->empty()) {
        container = (*containers)[0].value("name", "");
      }
      auto r = session_->Raw("GET",
                             "/api/v1/namespaces/" + ns + "/pods/" + pod + "/log" +
                                 cli::QueryString({{"container", container}}),
                             "text/plain");
      if (!r.ok()) return Fail(r.status());
      if (r->status / 100 != 2) {
        cli::PrintError(io_.err, cli::DecodeError(*r));
        rc = 1;
        continue;
      }
      io_.out << r->body;
      if (!r->body.empty() && r->body.back() != '\n') io_.out << "\n";
    }
    return rc;
  }

  const Args& args_;
  cli::Streams io_;
  std::unique_ptr<cli::Session> session_;
  std::unique_ptr<Registry> registry_;
};

}  // namespace

int RunPlugin(const std::vector<std::string>& args, cli::Streams io) {
  Args parsed = ParseArgs(args);
  if (!parsed.error.empty()) {
    io.err << "error: " << parsed.error << "\nSee 'kubectl kubeflow --help'.\n";
    return 2;
  }
  return Command(parsed, io).Run();
}

}  // namespace skiff::plugin
