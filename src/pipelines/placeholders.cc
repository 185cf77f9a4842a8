// KFP v2 placeholder resolution: `{{$...}}` references inside strings, and the IfPresent / Concat
// structures the KFP compiler writes as whole JSON-encoded arguments.
#include "pipelines/placeholders.h"

#include <charconv>
#include <cmath>
#include <optional>

namespace skiff::pipelines {
namespace {

constexpr std::string_view kOpen = "{{$";
constexpr std::string_view kClose = "}}";

// Names only Vertex AI fills in. KFP's open-source backend leaves them in the text as written,
// and so do we (they appear as input defaults of Google Cloud components).
bool IsVertexOnly(std::string_view name) {
  return name == "pipeline_google_cloud_project_id" || name == "pipeline_google_cloud_location" ||
         name == "pipeline_persistent_resource_id" || name == "pipeline_service_account";
}

std::string Dump(const Json& value) {
  // Replace rather than throw on invalid UTF-8: a user's bytes must not abort the engine.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// KFP's launcher formats a number with Go's FormatFloat(v, 'f', -1): shortest digits that
// round-trip, never an exponent (3.0 → "3", 1e21 → "1000000000000000000000").
std::string FormatNumber(double v) {
  if (!std::isfinite(v)) return Dump(Json(v));
  char buffer[400];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v, std::chars_format::fixed);
  if (ec != std::errc()) return Dump(Json(v));
  return std::string(buffer, end);
}

const Json* Find(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// A parsed `{{$...}}` body.
struct Reference {
  enum class Kind {
    kExecutorInput,    // {{$}}
    kInputParameter,   // $.inputs.parameters['x']
    kInputArtifact,    // $.inputs.artifacts['x'](.path|.uri|.metadata|.metadata['k'])?
    kOutputParameter,  // $.outputs.parameters['x'].output_file
    kOutputArtifact,   // $.outputs.artifacts['x'](.path|.uri|.metadata)?
    kOutputFile,       // $.outputs.output_file
    kName,             // $.pipeline_job_name and the other scalar names
  };
  Kind kind = Kind::kExecutorInput;
  std::string name;   // input/output name, or the scalar's name for kName
  std::string field;  // "", "path", "uri", "metadata"
  std::string key;    // metadata key for .metadata['k']
  bool has_key = false;
};

// Reads `['name']` (or `["name"]`) at `pos`, advancing past it.
bool ReadSubscript(std::string_view body, size_t& pos, std::string& out) {
  if (pos + 1 >= body.size() || body[pos] != '[') return false;
  char quote = body[pos + 1];
  if (quote != '\'' && quote != '"') return false;
  size_t close = body.find(quote, pos + 2);
  if (close == std::string_view::npos || close + 1 >= body.size() || body[close + 1] != ']') {
    return false;
  }
  out.assign(body.substr(pos + 2, close - pos - 2));
  pos = close + 2;
  return true;
}

bool Consume(std::string_view body, size_t& pos, std::string_view token) {
  if (body.substr(pos, token.size()) != token) return false;
  pos += token.size();
  return true;
}

// Parses the text between `{{` and `}}` (starting with `$`). nullopt: not a form we know.
std::optional<Reference> ParseReference(std::string_view body) {
  Reference ref;
  if (body == "$") return ref;
  size_t pos = 0;
  if (Consume(body, pos, "$.inputs.parameters")) {
    ref.kind = Reference::Kind::kInputParameter;
    if (!ReadSubscript(body, pos, ref.name) || pos != body.size()) return std::nullopt;
    return ref;
  }
  bool input_artifact = Consume(body, pos, "$.inputs.artifacts");
  if (input_artifact || Consume(body, pos, "$.outputs.artifacts")) {
    ref.kind = input_artifact ? Reference::Kind::kInputArtifact : Reference::Kind::kOutputArtifact;
    if (!ReadSubscript(body, pos, ref.name)) return std::nullopt;
    if (pos == body.size()) return ref;
    if (Consume(body, pos, ".path")) {
      ref.field = "path";
    } else if (Consume(body, pos, ".uri")) {
      ref.field = "uri";
    } else if (Consume(body, pos, ".metadata")) {
      ref.field = "metadata";
      if (pos < body.size()) {
        if (!ReadSubscript(body, pos, ref.key)) return std::nullopt;
        ref.has_key = true;
      }
    } else {
      return std::nullopt;
    }
    if (pos != body.size()) return std::nullopt;
    return ref;
  }
  if (Consume(body, pos, "$.outputs.parameters")) {
    ref.kind = Reference::Kind::kOutputParameter;
    if (!ReadSubscript(body, pos, ref.name) || !Consume(body, pos, ".output_file") ||
        pos != body.size()) {
      return std::nullopt;
    }
    return ref;
  }
  if (body == "$.outputs.output_file") {
    ref.kind = Reference::Kind::kOutputFile;
    return ref;
  }
  if (Consume(body, pos, "$.")) {
    std::string_view name = body.substr(pos);
    static constexpr std::string_view kNames[] = {"pipeline_job_name",
                                                  "pipeline_job_resource_name",
                                                  "pipeline_job_uuid",
                                                  "pipeline_task_name",
                                                  "pipeline_task_uuid",
                                                  "pipeline_root",
                                                  "pipeline_job_create_time_utc",
                                                  "pipeline_job_schedule_time_utc",
                                                  "workspace_path"};
    for (std::string_view known : kNames) {
      if (name == known) {
        ref.kind = Reference::Kind::kName;
        ref.name = std::string(name);
        return ref;
      }
    }
  }
  return std::nullopt;
}

// Renders a parameter value as KFP's launcher does: strings raw, numbers without exponent,
// booleans as true/false, lists and structs as compact JSON.
std::string RenderValue(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return FormatNumber(value.get<double>());
  return Dump(value);
}

class Resolver {
 public:
  explicit Resolver(const PlaceholderContext& context)
      : context_(context),
        inputs_(Find(context.executor_input, "inputs")),
        outputs_(Find(context.executor_input, "outputs")) {}

  // Appends what one command-line element becomes (zero or more arguments).
  Status Element(const Json& element, std::vector<std::string>& out) {
    if (element.is_string()) {
      const std::string& text = element.get_ref<const std::string&>();
      if (auto structure = AsStructure(text)) return Structure(*structure, out);
      auto resolved = String(text);
      if (!resolved.ok()) return resolved.status();
      out.push_back(std::move(*resolved));
      return Status::Ok();
    }
    if (element.is_object()) return Structure(element, out);
    return Status::Invalid("placeholder: command-line element must be a string, got " +
                           Dump(element));
  }

  StatusOr<std::string> String(std::string_view text) {
    std::string result;
    size_t pos = 0;
    while (true) {
      size_t open = text.find(kOpen, pos);
      if (open == std::string_view::npos) break;
      size_t close = text.find(kClose, open + kOpen.size());
      if (close == std::string_view::npos) {
        return Status::Invalid("placeholder: unterminated `{{$` at offset " + std::to_string(open) +
                               " in \"" + std::string(text) + "\"");
      }
      std::string_view body = text.substr(open + 2, close - open - 2);
      result.append(text.substr(pos, open - pos));
      auto ref = ParseReference(body);
      if (!ref) {
        if (body.size() > 2 && IsVertexOnly(body.substr(2))) {
          result.append(text.substr(open, close + kClose.size() - open));
          pos = close + kClose.size();
          continue;
        }
        return Status::Invalid("placeholder {{" + std::string(body) + "}} is not supported");
      }
      auto value = Lookup(*ref, body);
      if (!value.ok()) return value.status();
      result.append(*value);
      pos = close + kClose.size();
    }
    if (pos == 0) return std::string(text);
    result.append(text.substr(pos));
    return result;
  }

 private:
  // The compiler JSON-encodes IfPresent / Concat into one argument string.
  static std::optional<Json> AsStructure(const std::string& text) {
    size_t i = text.find_first_not_of(" \t\n\r");
    if (i == std::string::npos || text[i] != '{' || i + 1 >= text.size()) return std::nullopt;
    size_t j = text.find_first_not_of(" \t\n\r", i + 1);
    if (j == std::string::npos || text[j] != '"') return std::nullopt;  // `{{$}}` etc.
    Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object() || parsed.size() != 1) return std::nullopt;
    if (!parsed.contains("IfPresent") && !parsed.contains("Concat")) return std::nullopt;
    return parsed;
  }

  Status Structure(const Json& structure, std::vector<std::string>& out) {
    if (structure.size() == 1 && structure.contains("Concat")) {
      const Json& items = structure["Concat"];
      if (!items.is_array()) return Status::Invalid("placeholder: Concat takes a list");
      std::vector<std::string> parts;
      for (const Json& item : items) SKIFF_RETURN_IF_ERROR(Element(item, parts));
      std::string joined;
      for (const std::string& part : parts) joined += part;
      out.push_back(std::move(joined));
      return Status::Ok();
    }
    if (structure.size() == 1 && structure.contains("IfPresent")) {
      const Json& spec = structure["IfPresent"];
      const Json* input = Find(spec, "InputName");
      if (input == nullptr || !input->is_string()) {
        return Status::Invalid("placeholder: IfPresent needs an InputName");
      }
      const Json* branch = Find(spec, IsPresent(input->get<std::string>()) ? "Then" : "Else");
      if (branch == nullptr || branch->is_null()) return Status::Ok();
      // A list splices its elements into the surrounding list; a single element is one item.
      if (branch->is_array()) {
        for (const Json& item : *branch) SKIFF_RETURN_IF_ERROR(Element(item, out));
        return Status::Ok();
      }
      return Element(*branch, out);
    }
    return Status::Invalid("placeholder: unknown structure " + Dump(structure));
  }

  // An input counts as present when it has a non-null value or at least one artifact.
  bool IsPresent(const std::string& name) const {
    if (inputs_ == nullptr) return false;
    if (const Json* params = Find(*inputs_, "parameterValues")) {
      if (const Json* v = Find(*params, name); v != nullptr && !v->is_null()) return true;
    }
    if (const Json* artifacts = Find(*inputs_, "artifacts")) {
      if (const Json* list = Find(*artifacts, name)) {
        const Json* items = Find(*list, "artifacts");
        return items != nullptr && items->is_array() && !items->empty();
      }
    }
    return false;
  }

  StatusOr<std::string> Lookup(const Reference& ref, std::string_view body) {
    auto error = [&](const std::string& what) {
      return Status::Invalid("placeholder {{" + std::string(body) + "}}: " + what);
    };
    switch (ref.kind) {
      case Reference::Kind::kExecutorInput:
        if (executor_input_json_.empty()) executor_input_json_ = Dump(context_.executor_input);
        return executor_input_json_;
      case Reference::Kind::kInputParameter: {
        const Json* params = inputs_ ? Find(*inputs_, "parameterValues") : nullptr;
        const Json* value = params ? Find(*params, ref.name) : nullptr;
        if (value == nullptr || value->is_null()) {
          return error("input parameter '" + ref.name + "' has no value");
        }
        return RenderValue(*value);
      }
      case Reference::Kind::kInputArtifact:
      case Reference::Kind::kOutputArtifact: {
        bool input = ref.kind == Reference::Kind::kInputArtifact;
        const Json* side = input ? inputs_ : outputs_;
        const Json* artifacts = side ? Find(*side, "artifacts") : nullptr;
        const Json* list = artifacts ? Find(*artifacts, ref.name) : nullptr;
        const Json* items = list ? Find(*list, "artifacts") : nullptr;
        if (items == nullptr || !items->is_array() || items->empty()) {
          return error(std::string(input ? "input" : "output") + " artifact '" + ref.name +
                       "' is not present");
        }
        // The bare form names the whole list (Input[List[Artifact]]); the rest use the first
        // artifact, as KFP's launcher does.
        if (ref.field.empty()) return Dump(*items);
        const Json& artifact = items->front();
        if (ref.field == "metadata") {
          const Json* metadata = Find(artifact, "metadata");
          if (!ref.has_key) return metadata ? Dump(*metadata) : std::string("{}");
          const Json* value = metadata ? Find(*metadata, ref.key) : nullptr;
          if (value == nullptr) {
            return error("artifact '" + ref.name + "' has no metadata key '" + ref.key + "'");
          }
          return RenderValue(*value);
        }
        const Json* uri = Find(artifact, "uri");
        if (uri == nullptr || !uri->is_string()) return error("artifact has no uri");
        if (ref.field == "uri") return uri->get<std::string>();
        if (!context_.local_path) return error("no local path mapping for artifact URIs");
        return context_.local_path(uri->get<std::string>());
      }
      case Reference::Kind::kOutputParameter: {
        const Json* params = outputs_ ? Find(*outputs_, "parameters") : nullptr;
        const Json* param = params ? Find(*params, ref.name) : nullptr;
        const Json* file = param ? Find(*param, "outputFile") : nullptr;
        if (file == nullptr || !file->is_string()) {
          return error("output parameter '" + ref.name + "' is not declared");
        }
        return file->get<std::string>();
      }
      case Reference::Kind::kOutputFile: {
        const Json* file = outputs_ ? Find(*outputs_, "outputFile") : nullptr;
        if (file == nullptr || !file->is_string()) return error("no executor output file");
        return file->get<std::string>();
      }
      case Reference::Kind::kName:
        return Name(ref.name, error);
    }
    return error("unhandled");
  }

  template <typename Error>
  StatusOr<std::string> Name(const std::string& name, const Error& error) const {
    if (name == "pipeline_job_name") return context_.pipeline_job_name;
    if (name == "pipeline_job_resource_name") return context_.pipeline_job_resource_name;
    if (name == "pipeline_job_uuid") return context_.pipeline_job_uuid;
    if (name == "pipeline_task_name") return context_.pipeline_task_name;
    if (name == "pipeline_task_uuid") return context_.pipeline_task_uuid;
    if (name == "pipeline_root") return context_.pipeline_root;
    if (name == "pipeline_job_create_time_utc") return context_.pipeline_job_create_time;
    if (name == "pipeline_job_schedule_time_utc") return context_.pipeline_job_schedule_time;
    if (name == "workspace_path") {
      if (context_.workspace_path.empty()) return error("the run has no workspace");
      return context_.workspace_path;
    }
    return error("unknown name");
  }

  const PlaceholderContext& context_;
  const Json* inputs_;
  const Json* outputs_;
  std::string executor_input_json_;  // {{$}}, rendered once per call
};

}  // namespace

StatusOr<std::vector<std::string>> ResolveArguments(const Json& args,
                                                    const PlaceholderContext& context) {
  std::vector<std::string> out;
  if (args.is_null()) return out;
  if (!args.is_array()) return Status::Invalid("placeholder: command/args must be a list");
  out.reserve(args.size());
  Resolver resolver(context);
  for (const Json& element : args) SKIFF_RETURN_IF_ERROR(resolver.Element(element, out));
  return out;
}

StatusOr<std::string> ResolveString(std::string_view text, const PlaceholderContext& context) {
  if (text.find(kOpen) == std::string_view::npos) return std::string(text);
  Resolver resolver(context);
  return resolver.String(text);
}

}  // namespace skiff::pipelines
