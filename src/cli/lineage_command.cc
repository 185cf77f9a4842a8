// `skiff lineage`: one GET to the lineage API, rendered as a tree. Like every thin client it only
// speaks HTTP, so it needs no access to the lineage database.
#include "cli/lineage_command.h"

#include <ostream>
#include <sstream>

#include "cli/printer.h"
#include "cli/session.h"
#include "pipelines/lineage_routes.h"

namespace skiff::cli {
namespace {

// Long commands and nested metadata are cut to keep one line per fact.
constexpr size_t kMaxCommand = 160;
constexpr size_t kMaxValue = 60;

std::string Cut(std::string s, size_t max) {
  // A multi-line script (sh -c '...') stays on its line: newlines shown as "; ".
  for (size_t at = s.find('\n'); at != std::string::npos; at = s.find('\n', at)) {
    s.replace(at, 1, "; ");
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string ValueText(const Json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return s.find(' ') == std::string::npos && !s.empty() ? s : Json(s).dump();
  }
  return Cut(v.dump(), kMaxValue);
}

// "k=v k=v" in the object's key order.
std::string Pairs(const Json& object) {
  std::string out;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!out.empty()) out += ' ';
    out += it.key() + "=" + ValueText(it.value());
  }
  return out;
}

class TreeWriter {
 public:
  explicit TreeWriter(std::ostream& out) : out_(out) {}

  // `first`: the connector before the node's line; `rest`: the indentation of what follows it
  // (details align with the node's text, children hang below).
  void Artifact(const std::string& first, const std::string& rest, const std::string& label,
                const Json& artifact, const Json* produced_by) {
    out_ << first << label << Str(artifact, "uri");
    if (std::string type = Str(artifact, "type"); !type.empty()) out_ << " (" << type << ")";
    out_ << "\n";
    if (const Json* m = Find(artifact, "metadata"); m && m->is_object() && !m->empty()) {
      out_ << rest << "metadata: " << Pairs(*m) << "\n";
    }
    if (produced_by && produced_by->is_object())
      Execution(rest + "└─ ", rest + "   ", *produced_by);
  }

  void Execution(const std::string& first, const std::string& rest, const Json& by) {
    const Json empty = Json::object();
    const Json* exec = Find(by, "execution");
    if (!exec || !exec->is_object()) exec = &empty;
    out_ << first << "produced by task " << Str(by, "task");
    std::string where;
    if (std::string run = Str(by, "run"); !run.empty()) where = "run " + run;
    if (std::string p = Str(by, "pipeline"); !p.empty()) {
      where += (where.empty() ? "" : ", ") + std::string("pipeline ") + p;
    }
    if (!where.empty()) out_ << " (" << where << ")";
    if (std::string state = Str(*exec, "state"); !state.empty()) out_ << " " << state;
    std::string when = Str(*exec, "endTime");
    if (when.empty()) when = Str(*exec, "startTime");
    if (!when.empty()) out_ << " " << when;
    if (const Json* from = Find(*exec, "cachedFrom"); from && from->is_number()) {
      out_ << " (cached from execution " << from->dump() << ")";
    }
    if (by.value("repeated", false)) {
      out_ << ", shown above\n";
      return;
    }
    out_ << "\n";

    std::string command;
    if (const Json* c = Find(by, "command"); c && c->is_array()) {
      for (const Json& word : *c) {
        command += (command.empty() ? "" : " ") +
                   (word.is_string() ? word.get<std::string>() : word.dump());
      }
    }
    std::string image = Str(by, "image");
    if (!image.empty() || !command.empty()) {
      out_ << rest << "image " << (image.empty() ? "(none)" : image);
      if (!command.empty()) out_ << ": " << Cut(command, kMaxCommand);
      out_ << "\n";
    }
    const Json* inputs = Find(by, "inputs");
    if (const Json* p = inputs ? Find(*inputs, "parameters") : nullptr;
        p && p->is_object() && !p->empty()) {
      out_ << rest << "parameters: " << Pairs(*p) << "\n";
    }
    if (const Json* o = Find(*exec, "outputParameters"); o && o->is_object() && !o->empty()) {
      out_ << rest << "outputs: " << Pairs(*o) << "\n";
    }
    const Json* artifacts = inputs ? Find(*inputs, "artifacts") : nullptr;
    if (!artifacts || !artifacts->is_array()) return;
    for (size_t i = 0; i < artifacts->size(); ++i) {
      const Json& in = (*artifacts)[i];
      const bool last = i + 1 == artifacts->size();
      const Json* art = Find(in, "artifact");
      Artifact(rest + (last ? "└─ " : "├─ "), rest + (last ? "   " : "│  "),
               "input " + Str(in, "key") + " ", art ? *art : empty, Find(in, "producedBy"));
    }
  }

 private:
  static const Json* Find(const Json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }

  std::ostream& out_;
};

}  // namespace

std::string RenderLineageTree(const Json& lineage) {
  std::ostringstream out;
  TreeWriter w(out);
  const Json empty = Json::object();
  const Json& artifact = lineage.contains("artifact") ? lineage["artifact"] : empty;
  w.Artifact("", "", "artifact ", artifact,
             lineage.contains("producedBy") ? &lineage["producedBy"] : nullptr);
  return out.str();
}

int RunLineage(const ConnectionFlags& flags, const LineageOptions& options, Streams io) {
  if (options.uri.empty()) {
    PrintClientError(io.err, "expected an artifact URI, e.g. skiff lineage file:///.../model");
    return 1;
  }
  if (!options.output.empty() && options.output != "json" && options.output != "yaml") {
    PrintClientError(io.err, "--output must be json or yaml, not \"" + options.output + "\"");
    return 1;
  }
  auto opened = Session::Open(flags);
  if (!opened.ok()) {
    PrintClientError(io.err, opened.status().message());
    return 1;
  }
  const std::string path =
      std::string(pipelines::kLineageApiPrefix) + "lineage" + QueryString({{"uri", options.uri}});
  auto response = (*opened)->Raw("GET", path, "application/json");
  if (!response.ok()) {
    PrintError(io.err, response.status());
    return 1;
  }
  if (response->status < 200 || response->status >= 300) {
    PrintError(io.err, DecodeError(*response));
    return 1;
  }
  auto lineage = ParseJson(response->body);
  if (!lineage.ok()) {
    PrintClientError(io.err,
                     "the server's lineage answer is not JSON: " + lineage.status().message());
    return 1;
  }
  if (options.output == "json") {
    io.out << lineage->dump(2) << "\n";
  } else if (options.output == "yaml") {
    io.out << ToYaml(*lineage);
  } else {
    io.out << RenderLineageTree(*lineage);
  }
  return 0;
}

}  // namespace skiff::cli
