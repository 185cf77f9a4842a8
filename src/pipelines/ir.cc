// Reading pipeline files, converting the seed's Pipeline format to KFP v2 IR, and checking IR
// before the engine runs it. Every check collects all problems so one error lists them together.
#include "pipelines/ir.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <utility>

namespace skiff::pipelines {

namespace {

const Json& Null() {
  static const Json kNull;
  return kNull;
}

// j[key] when j is an object holding key, else null: IR is read leniently, checked explicitly.
const Json& At(const Json& j, std::string_view key) {
  if (!j.is_object()) return Null();
  auto it = j.find(key);
  return it == j.end() ? Null() : *it;
}

std::string Str(const Json& j, std::string_view key) {
  const Json& v = At(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Problems found so far, each "path: message".
class Problems {
 public:
  void Add(const std::string& path, const std::string& message) {
    list_.push_back(path.empty() ? message : path + ": " + message);
  }
  bool empty() const { return list_.empty(); }
  Status ToStatus(const std::string& intro) const {
    if (list_.empty()) return Status::Ok();
    std::string msg = intro;
    for (size_t i = 0; i < list_.size(); ++i) msg += (i == 0 ? "" : "; ") + list_[i];
    Status s = Status::Invalid(msg);
    return s;
  }

 private:
  std::vector<std::string> list_;
};

const std::set<std::string, std::less<>>& ParameterTypes() {
  static const std::set<std::string, std::less<>> kTypes = {
      "STRING", "NUMBER_DOUBLE", "NUMBER_INTEGER",    "BOOLEAN",
      "LIST",   "STRUCT",        "TASK_FINAL_STATUS", "TASK_CONFIG"};
  return kTypes;
}

// The deprecated PrimitiveType names some old IR still carries in `type`.
bool IsPrimitiveType(std::string_view t) { return t == "INT" || t == "DOUBLE" || t == "STRING"; }

// proto3 JSON Duration ("5s", "1.5s") or a Go-style one ("1m30s", "500ms").
std::optional<double> ParseDurationSeconds(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (start == i) return std::nullopt;
    double value = 0;
    try {
      value = std::stod(std::string(text.substr(start, i - start)));
    } catch (...) {
      return std::nullopt;
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit == "h") {
      total += value * 3600;
    } else if (unit == "m") {
      total += value * 60;
    } else if (unit == "s") {
      total += value;
    } else if (unit == "ms") {
      total += value / 1e3;
    } else if (unit == "us") {
      total += value / 1e6;
    } else if (unit == "ns") {
      total += value / 1e9;
    } else {
      return std::nullopt;
    }
  }
  return total;
}

std::string SecondsToDuration(double seconds) {
  if (seconds == std::floor(seconds)) return std::to_string(static_cast<int64_t>(seconds)) + "s";
  std::string s = std::to_string(seconds);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s + "s";
}

bool IsNonNegativeInteger(const Json& v) {
  if (v.is_number_unsigned()) return true;
  if (v.is_number_integer()) return v.get<int64_t>() >= 0;
  if (v.is_number_float())
    return v.get<double>() >= 0 && v.get<double>() == std::floor(v.get<double>());
  return false;
}

// ---------------------------------------------------------------------------------------------
// IR validation.

class IrValidator {
 public:
  explicit IrValidator(const Json& ir) : ir_(ir) {}

  Status Run() {
    if (!ir_.is_object()) return Status::Invalid("pipeline spec must be a YAML/JSON object");
    static const std::set<std::string, std::less<>> kTopLevel = {
        "pipelineInfo",  "deploymentSpec", "sdkVersion",          "schemaVersion",
        "components",    "root",           "defaultPipelineRoot", "platforms",
        "platform_spec", "description",    "displayName"};
    for (const auto& [key, value] : ir_.items()) {
      if (!kTopLevel.contains(key))
        problems_.Add(key,
                      "unknown field (a PipelineSpec has pipelineInfo, components, "
                      "deploymentSpec, root, schemaVersion, sdkVersion, defaultPipelineRoot)");
    }
    const Json& info = At(ir_, "pipelineInfo");
    if (!info.is_object()) {
      problems_.Add("pipelineInfo", "is required (with a name)");
    } else if (Str(info, "name").empty()) {
      problems_.Add("pipelineInfo.name", "is required");
    }
    const Json& components = At(ir_, "components");
    if (!components.is_null() && !components.is_object())
      problems_.Add("components", "must be a map of component name to ComponentSpec");
    components_ = components.is_object() ? &components : &Null();
    const Json& deployment = At(ir_, "deploymentSpec");
    const Json& executors = At(deployment, "executors");
    if (!deployment.is_null() && !deployment.is_object())
      problems_.Add("deploymentSpec", "must be an object with executors");
    if (!executors.is_null() && !executors.is_object())
      problems_.Add("deploymentSpec.executors", "must be a map of executor label to ExecutorSpec");
    executors_ = executors.is_object() ? &executors : &Null();
    if (executors_->is_object()) {
      for (const auto& [label, executor] : executors_->items())
        CheckExecutor("deploymentSpec.executors." + label, executor);
    }
    if (components_->is_object()) {
      for (const auto& [name, component] : components_->items())
        CheckComponent("components." + name, component);
    }
    const Json& root = At(ir_, "root");
    if (!root.is_object()) {
      problems_.Add("root", "is required (the pipeline's DAG)");
    } else {
      if (!At(root, "dag").is_object()) problems_.Add("root.dag", "is required");
      CheckComponent("root", root);
    }
    CheckComponentCycles();
    return problems_.ToStatus("invalid pipeline spec: ");
  }

 private:
  const Json& Component(const std::string& name) const { return At(*components_, name); }

  void CheckExecutor(const std::string& path, const Json& executor) {
    if (!executor.is_object()) {
      problems_.Add(path, "must be an object");
      return;
    }
    const Json& container = At(executor, "container");
    const Json& importer = At(executor, "importer");
    int kinds = !container.is_null() + !importer.is_null() + !At(executor, "resolver").is_null() +
                !At(executor, "customJob").is_null();
    if (kinds != 1) {
      problems_.Add(path, "must set exactly one of container, importer, resolver, customJob");
      return;
    }
    if (!container.is_null()) {
      if (Str(container, "image").empty()) problems_.Add(path + ".container.image", "is required");
      for (const char* key : {"command", "args"}) {
        const Json& list = At(container, key);
        if (list.is_null()) continue;
        if (!list.is_array()) {
          problems_.Add(path + ".container." + key, "must be a list of strings");
          continue;
        }
        for (const Json& item : list) {
          if (!item.is_string()) {
            problems_.Add(path + ".container." + key, "must be a list of strings");
            break;
          }
        }
      }
      const Json& env = At(container, "env");
      if (!env.is_null()) {
        if (!env.is_array()) {
          problems_.Add(path + ".container.env", "must be a list of {name, value}");
        } else {
          for (size_t i = 0; i < env.size(); ++i) {
            if (Str(env[i], "name").empty())
              problems_.Add(path + ".container.env[" + std::to_string(i) + "].name", "is required");
          }
        }
      }
    }
    if (!importer.is_null()) {
      const Json& uri = At(importer, "artifactUri");
      if (!uri.is_object() ||
          (At(uri, "constant").is_null() && Str(uri, "runtimeParameter").empty()))
        problems_.Add(path + ".importer.artifactUri", "needs a constant or runtimeParameter");
      if (!At(importer, "typeSchema").is_object())
        problems_.Add(path + ".importer.typeSchema", "is required");
    }
  }

  void CheckDefinitions(const std::string& path, const Json& defs) {
    if (defs.is_null()) return;
    if (!defs.is_object()) {
      problems_.Add(path, "must be an object with parameters and artifacts");
      return;
    }
    const Json& params = At(defs, "parameters");
    if (!params.is_null() && !params.is_object())
      problems_.Add(path + ".parameters", "must be a map");
    if (params.is_object()) {
      for (const auto& [name, p] : params.items()) {
        std::string ppath = path + ".parameters." + name;
        std::string type = Str(p, "parameterType");
        std::string legacy = Str(p, "type");
        if (!type.empty()) {
          if (!ParameterTypes().contains(type))
            problems_.Add(ppath + ".parameterType", "unknown parameter type " + Quote(type));
        } else if (!legacy.empty()) {
          if (!IsPrimitiveType(legacy))
            problems_.Add(ppath + ".type", "unknown parameter type " + Quote(legacy));
        } else {
          problems_.Add(ppath + ".parameterType", "is required");
        }
      }
    }
    const Json& artifacts = At(defs, "artifacts");
    if (!artifacts.is_null() && !artifacts.is_object())
      problems_.Add(path + ".artifacts", "must be a map");
    if (artifacts.is_object()) {
      for (const auto& [name, a] : artifacts.items()) {
        const Json& type = At(a, "artifactType");
        if (!type.is_object() ||
            (Str(type, "schemaTitle").empty() && Str(type, "instanceSchema").empty()))
          problems_.Add(path + ".artifacts." + name + ".artifactType",
                        "needs a schemaTitle (e.g. system.Artifact)");
      }
    }
  }

  void CheckComponent(const std::string& path, const Json& component) {
    if (!component.is_object()) {
      problems_.Add(path, "must be an object");
      return;
    }
    const Json& dag = At(component, "dag");
    const Json& label = At(component, "executorLabel");
    if (dag.is_null() == label.is_null()) {
      problems_.Add(path, "must set exactly one of dag and executorLabel");
    } else if (!label.is_null()) {
      if (!label.is_string() || label.get<std::string>().empty()) {
        problems_.Add(path + ".executorLabel", "must be a non-empty string");
      } else if (At(*executors_, label.get<std::string>()).is_null()) {
        problems_.Add(path + ".executorLabel",
                      "executor " + Quote(label.get<std::string>()) + " is not defined");
      } else {
        CheckPlaceholders(path, component, At(*executors_, label.get<std::string>()));
      }
    }
    CheckDefinitions(path + ".inputDefinitions", At(component, "inputDefinitions"));
    CheckDefinitions(path + ".outputDefinitions", At(component, "outputDefinitions"));
    if (dag.is_object()) {
      CheckDag(path + ".dag", dag, component);
    } else if (!dag.is_null()) {
      problems_.Add(path + ".dag", "must be an object with tasks");
    }
  }

  // Placeholders naming an input or output the component does not declare fail at run time;
  // catch them here. Optional inputs (IfPresent) must still be declared.
  void CheckPlaceholders(const std::string& path, const Json& component, const Json& executor) {
    const Json& container = At(executor, "container");
    if (!container.is_object()) return;
    auto declared = [&](const char* defs, const char* kind, const std::string& name) {
      return !At(At(At(component, defs), kind), name).is_null();
    };
    auto scan = [&](const std::string& text) {
      struct Form {
        const char* prefix;
        const char* defs;
        const char* kind;
      };
      static const Form kForms[] = {{"$.inputs.parameters['", "inputDefinitions", "parameters"},
                                    {"$.inputs.artifacts['", "inputDefinitions", "artifacts"},
                                    {"$.outputs.parameters['", "outputDefinitions", "parameters"},
                                    {"$.outputs.artifacts['", "outputDefinitions", "artifacts"}};
      for (const Form& form : kForms) {
        size_t pos = 0;
        std::string_view prefix = form.prefix;
        while ((pos = text.find(prefix, pos)) != std::string::npos) {
          size_t start = pos + prefix.size();
          size_t end = text.find("']", start);
          if (end == std::string::npos) break;
          std::string name = text.substr(start, end - start);
          if (!declared(form.defs, form.kind, name)) {
            problems_.Add(path,
                          "placeholder {{" + std::string(prefix) + name + "']...}} names " +
                              std::string(form.kind).substr(0, std::string(form.kind).size() - 1) +
                              " " + Quote(name) + " that the component does not declare");
          }
          pos = end;
        }
      }
    };
    for (const char* key : {"command", "args"}) {
      const Json& list = At(container, key);
      if (!list.is_array()) continue;
      for (const Json& item : list)
        if (item.is_string()) scan(item.get<std::string>());
    }
  }

  void CheckDag(const std::string& path, const Json& dag, const Json& component) {
    const Json& tasks = At(dag, "tasks");
    if (!tasks.is_null() && !tasks.is_object()) {
      problems_.Add(path + ".tasks", "must be a map of task name to PipelineTaskSpec");
      return;
    }
    const Json& own_inputs = At(component, "inputDefinitions");
    if (tasks.is_object()) {
      for (const auto& [name, task] : tasks.items())
        CheckTask(path + ".tasks." + name, name, task, tasks, own_inputs);
      auto order = TopologicalOrder(dag);
      if (!order.ok()) problems_.Add(path, order.status().message());
    }
    const Json& outputs = At(dag, "outputs");
    if (outputs.is_object()) CheckDagOutputs(path + ".outputs", outputs, tasks);
  }

  // The component a task of this DAG runs, or null.
  const Json& TaskComponent(const Json& tasks, const std::string& task) const {
    return Component(Str(At(At(tasks, task), "componentRef"), "name"));
  }

  void CheckProducer(const std::string& path, const Json& tasks, const std::string& self,
                     const std::string& producer, const char* kind, const std::string& key) {
    if (producer.empty()) {
      problems_.Add(path + ".producerTask", "is required");
      return;
    }
    if (producer == self) {
      problems_.Add(path, "task consumes its own output");
      return;
    }
    if (At(tasks, producer).is_null()) {
      problems_.Add(path, "producer task " + Quote(producer) + " is not in the same DAG");
      return;
    }
    if (kind == nullptr) return;
    const Json& producer_component = TaskComponent(tasks, producer);
    if (producer_component.is_null()) return;  // reported on the producer
    if (At(At(At(producer_component, "outputDefinitions"), kind), key).is_null()) {
      problems_.Add(path, "task " + Quote(producer) + " has no output " +
                              std::string(kind).substr(0, std::string(kind).size() - 1) + " " +
                              Quote(key));
    }
  }

  void CheckTask(const std::string& path, const std::string& name, const Json& task,
                 const Json& tasks, const Json& own_inputs) {
    if (!task.is_object()) {
      problems_.Add(path, "must be an object");
      return;
    }
    std::string ref = Str(At(task, "componentRef"), "name");
    const Json* component = &Null();
    if (ref.empty()) {
      problems_.Add(path + ".componentRef.name", "is required");
    } else if (Component(ref).is_null()) {
      problems_.Add(path + ".componentRef", "component " + Quote(ref) + " is not defined");
    } else {
      component = &Component(ref);
    }
    const Json& deps = At(task, "dependentTasks");
    if (!deps.is_null()) {
      if (!deps.is_array()) {
        problems_.Add(path + ".dependentTasks", "must be a list of task names");
      } else {
        for (const Json& d : deps) {
          if (!d.is_string()) {
            problems_.Add(path + ".dependentTasks", "must be a list of task names");
          } else if (d.get<std::string>() == name) {
            problems_.Add(path + ".dependentTasks", "task depends on itself");
          } else if (At(tasks, d.get<std::string>()).is_null()) {
            problems_.Add(path + ".dependentTasks",
                          "task " + Quote(d.get<std::string>()) + " is not in the same DAG");
          }
        }
      }
    }
    const Json& inputs = At(task, "inputs");
    const Json& params = At(inputs, "parameters");
    if (params.is_object()) {
      for (const auto& [pname, p] : params.items()) {
        std::string ppath = path + ".inputs.parameters." + pname;
        const Json& cip = At(p, "componentInputParameter");
        const Json& top = At(p, "taskOutputParameter");
        const Json& rv = At(p, "runtimeValue");
        const Json& tfs = At(p, "taskFinalStatus");
        int kinds = !cip.is_null() + !top.is_null() + !rv.is_null() + !tfs.is_null();
        if (kinds != 1) {
          problems_.Add(ppath,
                        "must set exactly one of componentInputParameter, "
                        "taskOutputParameter, runtimeValue, taskFinalStatus");
          continue;
        }
        if (!cip.is_null()) {
          std::string input = cip.is_string() ? cip.get<std::string>() : "";
          if (At(At(own_inputs, "parameters"), input).is_null())
            problems_.Add(ppath + ".componentInputParameter",
                          "the enclosing component has no input parameter " + Quote(input));
        } else if (!top.is_null()) {
          CheckProducer(ppath + ".taskOutputParameter", tasks, name, Str(top, "producerTask"),
                        "parameters", Str(top, "outputParameterKey"));
        } else if (!rv.is_null()) {
          if (!rv.is_object() || (!rv.contains("constant") && Str(rv, "runtimeParameter").empty()))
            problems_.Add(ppath + ".runtimeValue", "needs a constant");
        } else {
          CheckProducer(ppath + ".taskFinalStatus", tasks, name, Str(tfs, "producerTask"), nullptr,
                        "");
        }
        const Json& selector = At(p, "parameterExpressionSelector");
        if (!selector.is_null() && !selector.is_string())
          problems_.Add(ppath + ".parameterExpressionSelector", "must be a string");
      }
    } else if (!params.is_null()) {
      problems_.Add(path + ".inputs.parameters", "must be a map");
    }
    const Json& artifacts = At(inputs, "artifacts");
    if (artifacts.is_object()) {
      for (const auto& [aname, a] : artifacts.items()) {
        std::string apath = path + ".inputs.artifacts." + aname;
        const Json& toa = At(a, "taskOutputArtifact");
        const Json& cia = At(a, "componentInputArtifact");
        if (toa.is_null() == cia.is_null()) {
          problems_.Add(apath,
                        "must set exactly one of taskOutputArtifact, componentInputArtifact");
        } else if (!toa.is_null()) {
          CheckProducer(apath + ".taskOutputArtifact", tasks, name, Str(toa, "producerTask"),
                        "artifacts", Str(toa, "outputArtifactKey"));
        } else {
          std::string input = cia.is_string() ? cia.get<std::string>() : "";
          if (At(At(own_inputs, "artifacts"), input).is_null())
            problems_.Add(apath + ".componentInputArtifact",
                          "the enclosing component has no input artifact " + Quote(input));
        }
      }
    } else if (!artifacts.is_null()) {
      problems_.Add(path + ".inputs.artifacts", "must be a map");
    }
    const Json& piter = At(task, "parameterIterator");
    const Json& aiter = At(task, "artifactIterator");
    if (!piter.is_null() && !aiter.is_null())
      problems_.Add(path, "must not set both parameterIterator and artifactIterator");
    if (!piter.is_null()) {
      std::string item = Str(piter, "itemInput");
      const Json& items = At(piter, "items");
      if (item.empty()) {
        problems_.Add(path + ".parameterIterator.itemInput", "is required");
      } else if (component->is_object() &&
                 At(At(At(*component, "inputDefinitions"), "parameters"), item).is_null()) {
        problems_.Add(path + ".parameterIterator.itemInput",
                      "component " + Quote(ref) + " has no input parameter " + Quote(item));
      }
      const Json& raw = At(items, "raw");
      const Json& input = At(items, "inputParameter");
      if (raw.is_null() == input.is_null()) {
        problems_.Add(path + ".parameterIterator.items",
                      "must set exactly one of raw, inputParameter");
      } else if (!raw.is_null()) {
        bool list = raw.is_array();
        if (raw.is_string()) {
          auto parsed = ParseJson(raw.get<std::string>());
          list = parsed.ok() && parsed->is_array();
        }
        if (!list) problems_.Add(path + ".parameterIterator.items.raw", "must be a JSON list");
      } else if (!input.is_string() || At(params, input.get<std::string>()).is_null()) {
        problems_.Add(path + ".parameterIterator.items.inputParameter",
                      "names no input parameter of the task");
      }
    }
    if (!aiter.is_null()) {
      std::string item = Str(aiter, "itemInput");
      std::string input = Str(At(aiter, "items"), "inputArtifact");
      if (item.empty()) {
        problems_.Add(path + ".artifactIterator.itemInput", "is required");
      } else if (component->is_object() &&
                 At(At(At(*component, "inputDefinitions"), "artifacts"), item).is_null()) {
        problems_.Add(path + ".artifactIterator.itemInput",
                      "component " + Quote(ref) + " has no input artifact " + Quote(item));
      }
      if (input.empty() || At(artifacts, input).is_null())
        problems_.Add(path + ".artifactIterator.items.inputArtifact",
                      "names no input artifact of the task");
    }
    const Json& trigger = At(task, "triggerPolicy");
    if (!trigger.is_null()) {
      const Json& condition = At(trigger, "condition");
      if (!condition.is_null() && !condition.is_string())
        problems_.Add(path + ".triggerPolicy.condition", "must be a string");
      std::string strategy = Str(trigger, "strategy");
      if (!strategy.empty() && strategy != "TRIGGER_STRATEGY_UNSPECIFIED" &&
          strategy != "ALL_UPSTREAM_TASKS_SUCCEEDED" && strategy != "ALL_UPSTREAM_TASKS_COMPLETED")
        problems_.Add(path + ".triggerPolicy.strategy", "unknown strategy " + Quote(strategy));
    }
    const Json& retry = At(task, "retryPolicy");
    if (!retry.is_null()) {
      const Json& count = At(retry, "maxRetryCount");
      if (!count.is_null() && !IsNonNegativeInteger(count))
        problems_.Add(path + ".retryPolicy.maxRetryCount", "must be a non-negative integer");
      for (const char* key : {"backoffDuration", "backoffMaxDuration"}) {
        const Json& d = At(retry, key);
        if (!d.is_null() && (!d.is_string() || !ParseDurationSeconds(d.get<std::string>())))
          problems_.Add(path + ".retryPolicy." + key, "must be a duration such as \"30s\"");
      }
      const Json& factor = At(retry, "backoffFactor");
      if (!factor.is_null() && (!factor.is_number() || factor.get<double>() < 0))
        problems_.Add(path + ".retryPolicy.backoffFactor", "must be a non-negative number");
    }
    const Json& limit = At(At(task, "iteratorPolicy"), "parallelismLimit");
    if (!limit.is_null() && !IsNonNegativeInteger(limit))
      problems_.Add(path + ".iteratorPolicy.parallelismLimit", "must be a non-negative integer");
    const Json& caching = At(task, "cachingOptions");
    if (!caching.is_null() && !caching.is_object())
      problems_.Add(path + ".cachingOptions", "must be an object");
  }

  void CheckDagOutputs(const std::string& path, const Json& outputs, const Json& tasks) {
    const Json& params = At(outputs, "parameters");
    if (params.is_object()) {
      for (const auto& [name, spec] : params.items()) {
        std::string ppath = path + ".parameters." + name;
        std::vector<const Json*> selectors;
        if (const Json& one = At(spec, "valueFromParameter"); one.is_object()) {
          selectors.push_back(&one);
        } else if (const Json& many = At(At(spec, "valueFromOneof"), "parameterSelectors");
                   many.is_array()) {
          for (const Json& s : many) selectors.push_back(&s);
        } else {
          problems_.Add(ppath, "needs valueFromParameter or valueFromOneof");
        }
        for (const Json* s : selectors) {
          CheckProducer(ppath, tasks, "", Str(*s, "producerSubtask"), "parameters",
                        Str(*s, "outputParameterKey"));
        }
      }
    }
    const Json& artifacts = At(outputs, "artifacts");
    if (artifacts.is_object()) {
      for (const auto& [name, spec] : artifacts.items()) {
        std::string apath = path + ".artifacts." + name;
        const Json& selectors = At(spec, "artifactSelectors");
        if (!selectors.is_array() || selectors.empty()) {
          problems_.Add(apath, "needs artifactSelectors");
          continue;
        }
        for (const Json& s : selectors)
          CheckProducer(apath, tasks, "", Str(s, "producerSubtask"), "artifacts",
                        Str(s, "outputArtifactKey"));
      }
    }
  }

  // A component whose DAG (directly or not) runs itself would never finish expanding.
  void CheckComponentCycles() {
    std::map<std::string, int> state;  // 1: on the stack, 2: done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
      state[name] = 1;
      stack.push_back(name);
      const Json& tasks = At(At(Component(name), "dag"), "tasks");
      if (tasks.is_object()) {
        for (const auto& [task_name, task] : tasks.items()) {
          std::string ref = Str(At(task, "componentRef"), "name");
          if (Component(ref).is_null()) continue;
          if (state[ref] == 1) {
            std::string cycle;
            auto it = std::find(stack.begin(), stack.end(), ref);
            for (; it != stack.end(); ++it) cycle += *it + " -> ";
            problems_.Add("components." + ref,
                          "components run each other in a cycle: " + cycle + ref);
          } else if (state[ref] == 0) {
            visit(ref);
          }
        }
      }
      stack.pop_back();
      state[name] = 2;
    };
    if (!components_->is_object()) return;
    for (const auto& [name, component] : components_->items())
      if (state[name] == 0) visit(name);
  }

  const Json& ir_;
  const Json* components_ = &Null();
  const Json* executors_ = &Null();
  Problems problems_;
};

// ---------------------------------------------------------------------------------------------
// Seed format → IR.

std::string MapParameterType(std::string type, bool* ok) {
  *ok = true;
  if (ParameterTypes().contains(type)) return type;
  std::string lower;
  for (char c : type) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower == "string" || lower == "str" || lower == "text") return "STRING";
  if (lower == "number" || lower == "float" || lower == "double" || lower == "number_double")
    return "NUMBER_DOUBLE";
  if (lower == "integer" || lower == "int" || lower == "number_integer") return "NUMBER_INTEGER";
  if (lower == "boolean" || lower == "bool") return "BOOLEAN";
  if (lower == "list" || lower == "jsonarray" || lower == "array") return "LIST";
  if (lower == "struct" || lower == "dict" || lower == "jsonobject" || lower == "object")
    return "STRUCT";
  if (lower == "task_final_status") return "TASK_FINAL_STATUS";
  *ok = false;
  return "";
}

Json ArtifactTypeSchema(const std::string& type) {
  static const std::map<std::string, std::string> kSystem = {
      {"artifact", "system.Artifact"},
      {"dataset", "system.Dataset"},
      {"model", "system.Model"},
      {"metrics", "system.Metrics"},
      {"classificationmetrics", "system.ClassificationMetrics"},
      {"slicedclassificationmetrics", "system.SlicedClassificationMetrics"},
      {"html", "system.HTML"},
      {"markdown", "system.Markdown"}};
  std::string title = "system.Artifact";
  if (type.find('.') != std::string::npos) {
    title = type;  // already a schema title (system.Model, google.VertexModel, ...)
  } else {
    std::string lower;
    for (char c : type) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto it = kSystem.find(lower); it != kSystem.end()) title = it->second;
  }
  return {{"schemaTitle", title}, {"schemaVersion", "0.0.1"}};
}

// A constant typed the way its declared parameter type says ("32" for an INTEGER is 32).
Json CoerceConstant(const Json& value, const std::string& type) {
  if (!value.is_string()) return value;
  const std::string& s = value.get_ref<const std::string&>();
  if (type == "NUMBER_INTEGER" || type == "NUMBER_DOUBLE" || type == "LIST" || type == "STRUCT" ||
      type == "BOOLEAN") {
    auto parsed = ParseJson(s);
    if (!parsed.ok()) return value;
    if ((type == "NUMBER_INTEGER" && parsed->is_number_integer()) ||
        (type == "NUMBER_DOUBLE" && parsed->is_number()) ||
        (type == "LIST" && parsed->is_array()) || (type == "STRUCT" && parsed->is_object()) ||
        (type == "BOOLEAN" && parsed->is_boolean()))
      return *parsed;
  }
  return value;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// The text inside `{{ ... }}` when the whole string is one placeholder, else "".
std::string WholePlaceholder(const std::string& s) {
  std::string t = Trim(s);
  if (t.size() < 4 || t.rfind("{{", 0) != 0 || t.substr(t.size() - 2) != "}}") return "";
  std::string inner = t.substr(2, t.size() - 4);
  if (inner.find("{{") != std::string::npos || inner.find("}}") != std::string::npos) return "";
  return Trim(inner);
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Splits "NAME.field" where field is one of `fields`; field is "" when none matches.
std::pair<std::string, std::string> SplitField(const std::string& ref,
                                               std::initializer_list<const char*> fields) {
  for (const char* f : fields) {
    std::string suffix = std::string(".") + f;
    if (ref.size() > suffix.size() &&
        ref.compare(ref.size() - suffix.size(), suffix.size(), suffix) == 0)
      return {ref.substr(0, ref.size() - suffix.size()), f};
  }
  return {ref, ""};
}

struct SeedTask {
  std::string name;
  std::string path;  // for messages: tasks.<name>
  Json component;    // KfpComponentSpec (from componentRef or inline)
  std::string component_name;
  Json input_params = Json::object();  // IR inputDefinitions.parameters
  Json input_artifacts = Json::object();
  Json output_params = Json::object();  // IR outputDefinitions.parameters
  Json output_artifacts = Json::object();
  Json artifact_paths = Json::object();   // output name → fixed path
  Json parameter_paths = Json::object();  // output name → fixed path
};

class SeedConverter {
 public:
  SeedConverter(const Json& spec, std::string name, const ComponentLookup& lookup)
      : spec_(spec), name_(std::move(name)), lookup_(lookup) {}

  StatusOr<Json> Run() {
    if (!spec_.is_object()) return Status::Invalid("pipelineSpec must be an object");
    ir_ = {{"pipelineInfo", {{"name", name_}}},
           {"schemaVersion", "2.1.0"},
           {"sdkVersion", "skiff"},
           {"components", Json::object()},
           {"deploymentSpec", {{"executors", Json::object()}}},
           {"root", {{"dag", {{"tasks", Json::object()}}}}}};
    if (name_.empty()) problems_.Add("", "the pipeline has no name");
    if (std::string d = Str(spec_, "description"); !d.empty())
      ir_["pipelineInfo"]["description"] = d;
    if (std::string d = Str(spec_, "displayName"); !d.empty())
      ir_["pipelineInfo"]["displayName"] = d;
    ConvertPipelineInputs();
    const Json& tasks = At(spec_, "tasks");
    if (!tasks.is_array() || tasks.empty()) {
      problems_.Add("tasks", "a pipeline needs at least one task");
    } else {
      // All components first, so `from:` may name a task declared later.
      for (size_t i = 0; i < tasks.size(); ++i) LoadTask(i, tasks[i]);
      for (size_t i = 0; i < tasks.size(); ++i)
        if (i < loaded_.size() && loaded_[i]) ConvertTask(tasks[i], *loaded_[i]);
    }
    ConvertPipelineOutputs();
    if (!problems_.empty()) return problems_.ToStatus("invalid pipeline: ");
    auto order = TopologicalOrder(ir_["root"]["dag"]);
    if (!order.ok()) return Status::Invalid("invalid pipeline: " + order.status().message());
    if (Status s = ValidateIr(ir_); !s.ok()) return s;
    return ir_;
  }

 private:
  void ConvertPipelineInputs() {
    const Json& inputs = At(spec_, "inputs");
    const Json& params = At(inputs, "parameters");
    Json& defs = ir_["root"]["inputDefinitions"];
    if (params.is_array()) {
      for (const Json& p : params) {
        std::string name = Str(p, "name");
        if (name.empty()) {
          problems_.Add("inputs.parameters", "a parameter has no name");
          continue;
        }
        bool ok = true;
        std::string type = MapParameterType(Str(p, "type"), &ok);
        if (!ok) {
          problems_.Add("inputs.parameters." + name,
                        "unknown type " + Quote(Str(p, "type")) +
                            " (STRING, NUMBER, INTEGER, BOOLEAN, LIST or STRUCT)");
          continue;
        }
        Json def = {{"parameterType", type}};
        if (p.contains("defaultValue"))
          def["defaultValue"] = CoerceConstant(p["defaultValue"], type);
        if (At(p, "isOptional").is_boolean() && p["isOptional"].get<bool>())
          def["isOptional"] = true;
        if (std::string d = Str(p, "description"); !d.empty()) def["description"] = d;
        defs["parameters"][name] = def;
      }
    }
    const Json& artifacts = At(inputs, "artifacts");
    if (artifacts.is_array()) {
      for (const Json& a : artifacts) {
        std::string name = Str(a, "name");
        if (name.empty()) continue;
        Json def = {{"artifactType", ArtifactTypeSchema(Str(a, "type"))}};
        if (At(a, "isOptional").is_boolean() && a["isOptional"].get<bool>())
          def["isOptional"] = true;
        defs["artifacts"][name] = def;
      }
    }
    if (defs.is_null()) ir_["root"].erase("inputDefinitions");
  }

  const Json& PipelineParam(const std::string& name) const {
    return At(At(At(ir_["root"], "inputDefinitions"), "parameters"), name);
  }

  void LoadTask(size_t index, const Json& task) {
    loaded_.resize(std::max(loaded_.size(), index + 1));
    std::string name = Str(task, "name");
    std::string path = "tasks[" + std::to_string(index) + "]";
    if (name.empty()) {
      problems_.Add(path + ".name", "is required");
      return;
    }
    path = "tasks." + name;
    if (by_name_.contains(name)) {
      problems_.Add(path, "task name is used twice");
      return;
    }
    unresolved_.insert(name);  // until its component is found
    auto t = std::make_unique<SeedTask>();
    t->name = name;
    t->path = path;
    const Json& task_spec = At(task, "taskSpec");
    std::string ref = Str(At(task_spec, "componentRef"), "name");
    if (const Json& inline_spec = At(task_spec, "component"); inline_spec.is_object()) {
      t->component = inline_spec;
      t->component_name = "(inline)";
    } else if (!ref.empty()) {
      auto found = lookup_ ? lookup_(ref) : StatusOr<Json>(Status::NotFound("no components"));
      if (!found.ok()) {
        problems_.Add(path + ".taskSpec.componentRef",
                      "component " + Quote(ref) + " not found (" + found.status().message() + ")");
        return;
      }
      t->component = *found;
      t->component_name = ref;
    } else {
      problems_.Add(path + ".taskSpec", "needs componentRef or component");
      return;
    }
    DeclareComponentIo(*t, At(task, "outputs"));
    unresolved_.erase(name);
    by_name_[name] = t.get();
    loaded_[index] = std::move(t);
  }

  // The component's declared inputs and outputs plus the outputs the task itself declares.
  void DeclareComponentIo(SeedTask& t, const Json& task_outputs) {
    const Json& c = t.component;
    for (const Json& p : At(At(c, "inputs"), "parameters")) {
      std::string name = Str(p, "name");
      if (name.empty()) continue;
      bool ok = true;
      std::string type = MapParameterType(Str(p, "type"), &ok);
      if (!ok) {
        problems_.Add(t.path, "component " + Quote(t.component_name) + " input " + Quote(name) +
                                  " has unknown type " + Quote(Str(p, "type")));
        type = "STRING";
      }
      Json def = {{"parameterType", type}};
      if (p.contains("default")) def["defaultValue"] = CoerceConstant(p["default"], type);
      if (At(p, "optional").is_boolean() && p["optional"].get<bool>()) def["isOptional"] = true;
      t.input_params[name] = def;
    }
    for (const Json& a : At(At(c, "inputs"), "artifacts")) {
      std::string name = Str(a, "name");
      if (name.empty()) continue;
      Json def = {{"artifactType", ArtifactTypeSchema(Str(a, "type"))}};
      if (At(a, "optional").is_boolean() && a["optional"].get<bool>()) def["isOptional"] = true;
      t.input_artifacts[name] = def;
    }
    for (const Json* outputs : {&At(c, "outputs"), &task_outputs}) {
      for (const Json& p : At(*outputs, "parameters")) {
        std::string name = Str(p, "name");
        if (name.empty()) continue;
        bool ok = true;
        std::string type = MapParameterType(Str(p, "type"), &ok);
        if (!ok) type = "STRING";
        t.output_params[name] = {{"parameterType", type}};
        if (std::string path = Str(p, "path"); !path.empty()) t.parameter_paths[name] = path;
      }
      for (const Json& a : At(*outputs, "artifacts")) {
        std::string name = Str(a, "name");
        if (name.empty()) continue;
        // The task's declaration may only add a path; keep the component's type then.
        if (!t.output_artifacts.contains(name) || !Str(a, "type").empty())
          t.output_artifacts[name] = {{"artifactType", ArtifactTypeSchema(Str(a, "type"))}};
        if (std::string path = Str(a, "path"); !path.empty()) t.artifact_paths[name] = path;
      }
    }
  }

  // `producer.outputs.parameters.key` (or artifacts) → (producer, key); sets *error otherwise.
  bool ParseFrom(const std::string& from, const char* kind, std::string* producer, std::string* key,
                 std::string* error) {
    std::string marker = std::string(".outputs.") + kind + ".";
    size_t pos = from.find(marker);
    if (pos == std::string::npos || pos == 0 || pos + marker.size() >= from.size()) {
      *error = "from " + Quote(from) + " must be <task>.outputs." + kind + ".<name>";
      return false;
    }
    *producer = from.substr(0, pos);
    *key = from.substr(pos + marker.size());
    auto it = by_name_.find(*producer);
    if (it == by_name_.end() && unresolved_.contains(*producer)) {
      *error = "from " + Quote(from) + ": task " + Quote(*producer) + " could not be resolved";
      return false;
    }
    if (it == by_name_.end()) {
      *error = "from " + Quote(from) + ": task " + Quote(*producer) + " is not defined";
      return false;
    }
    const Json& outputs = std::string(kind) == "parameters" ? it->second->output_params
                                                            : it->second->output_artifacts;
    if (!outputs.contains(*key)) {
      *error = "from " + Quote(from) + ": task " + Quote(*producer) + " has no output " +
               std::string(kind).substr(0, std::string(kind).size() - 1) + " " + Quote(*key);
      return false;
    }
    return true;
  }

  void ConvertTask(const Json& task, SeedTask& t) {
    const Json& task_spec = At(task, "taskSpec");
    Json ir_task = {{"taskInfo", {{"name", t.name}}},
                    {"componentRef", {{"name", "comp-" + t.name}}}};
    std::set<std::string> deps;
    Json inputs = {{"parameters", Json::object()}, {"artifacts", Json::object()}};
    // Parameters.
    const Json& params = At(At(task_spec, "inputs"), "parameters");
    if (!params.is_null() && !params.is_array())
      problems_.Add(t.path + ".taskSpec.inputs.parameters", "must be a list");
    for (const Json& p : params.is_array() ? params : Json::array()) {
      std::string name = Str(p, "name");
      std::string ppath = t.path + ".taskSpec.inputs.parameters." + name;
      if (name.empty()) {
        problems_.Add(t.path + ".taskSpec.inputs.parameters", "an input has no name");
        continue;
      }
      const Json* declared = t.input_params.contains(name) ? &t.input_params[name] : nullptr;
      std::string type = declared ? Str(*declared, "parameterType") : "";
      Json spec;
      std::string from = Str(p, "from");
      const Json& value = At(p, "value");
      std::string whole = value.is_string() ? WholePlaceholder(value.get<std::string>()) : "";
      if (StartsWith(whole, "tasks.")) {
        from = whole.substr(6);
        whole.clear();
      }
      if (!from.empty() && StartsWith(from, "inputs.parameters.")) {
        whole = from;
        from.clear();
      }
      if (!from.empty()) {
        std::string producer, key, error;
        if (!ParseFrom(from, "parameters", &producer, &key, &error)) {
          problems_.Add(ppath, error);
          continue;
        }
        spec["taskOutputParameter"] = {{"producerTask", producer}, {"outputParameterKey", key}};
        deps.insert(producer);
        if (type.empty()) type = Str(by_name_[producer]->output_params[key], "parameterType");
      } else if (StartsWith(whole, "inputs.parameters.")) {
        std::string input = whole.substr(18);
        if (PipelineParam(input).is_null()) {
          problems_.Add(ppath,
                        "{{" + whole + "}}: the pipeline has no input parameter " + Quote(input));
          continue;
        }
        spec["componentInputParameter"] = input;
        if (type.empty()) type = Str(PipelineParam(input), "parameterType");
      } else if (!value.is_null()) {
        Json constant = CoerceConstant(value, type);
        if (constant.is_string())
          constant = EmbedPipelineParams(constant.get<std::string>(), ppath, inputs);
        spec["runtimeValue"] = {{"constant", constant}};
        if (type.empty()) {
          type = constant.is_boolean()          ? "BOOLEAN"
                 : constant.is_number_integer() ? "NUMBER_INTEGER"
                 : constant.is_number()         ? "NUMBER_DOUBLE"
                 : constant.is_array()          ? "LIST"
                 : constant.is_object()         ? "STRUCT"
                                                : "STRING";
        }
      } else {
        problems_.Add(ppath, "needs value or from");
        continue;
      }
      if (!declared) t.input_params[name] = {{"parameterType", type.empty() ? "STRING" : type}};
      inputs["parameters"][name] = spec;
    }
    // Artifacts.
    const Json& artifacts = At(At(task_spec, "inputs"), "artifacts");
    if (!artifacts.is_null() && !artifacts.is_array())
      problems_.Add(t.path + ".taskSpec.inputs.artifacts", "must be a list");
    for (const Json& a : artifacts.is_array() ? artifacts : Json::array()) {
      std::string name = Str(a, "name");
      std::string apath = t.path + ".taskSpec.inputs.artifacts." + name;
      if (name.empty()) {
        problems_.Add(t.path + ".taskSpec.inputs.artifacts", "an input has no name");
        continue;
      }
      std::string from = Str(a, "from");
      if (std::string whole = WholePlaceholder(from); !whole.empty()) from = whole;
      if (StartsWith(from, "tasks.")) from = from.substr(6);
      Json spec;
      Json type;
      if (from.empty()) {
        problems_.Add(apath, "needs from: <task>.outputs.artifacts.<name>");
        continue;
      } else if (StartsWith(from, "inputs.artifacts.")) {
        std::string input = from.substr(17);
        const Json& def = At(At(At(ir_["root"], "inputDefinitions"), "artifacts"), input);
        if (def.is_null()) {
          problems_.Add(apath, "from " + Quote(from) + ": the pipeline has no input artifact " +
                                   Quote(input));
          continue;
        }
        spec["componentInputArtifact"] = input;
        type = def["artifactType"];
      } else {
        std::string producer, key, error;
        if (!ParseFrom(from, "artifacts", &producer, &key, &error)) {
          problems_.Add(apath, error);
          continue;
        }
        spec["taskOutputArtifact"] = {{"producerTask", producer}, {"outputArtifactKey", key}};
        deps.insert(producer);
        type = by_name_[producer]->output_artifacts[key]["artifactType"];
      }
      if (!t.input_artifacts.contains(name)) t.input_artifacts[name] = {{"artifactType", type}};
      inputs["artifacts"][name] = spec;
    }
    // Required component inputs the task leaves unset would fail at run time.
    for (const auto& [name, def] : t.input_params.items()) {
      if (!inputs["parameters"].contains(name) && !def.contains("defaultValue") &&
          !At(def, "isOptional").is_boolean())
        problems_.Add(t.path, "component " + Quote(t.component_name) + " input parameter " +
                                  Quote(name) + " has no value and no default");
    }
    for (const auto& [name, def] : t.input_artifacts.items()) {
      if (!inputs["artifacts"].contains(name) && !At(def, "isOptional").is_boolean())
        problems_.Add(t.path, "component " + Quote(t.component_name) + " input artifact " +
                                  Quote(name) + " is not passed");
    }
    if (inputs["parameters"].empty()) inputs.erase("parameters");
    if (inputs["artifacts"].empty()) inputs.erase("artifacts");
    if (!inputs.empty()) ir_task["inputs"] = inputs;

    const Json& explicit_deps = At(task, "dependentTasks");
    for (const Json& d : explicit_deps.is_array() ? explicit_deps : Json::array()) {
      std::string dep = d.is_string() ? d.get<std::string>() : "";
      if (!by_name_.contains(dep)) {
        problems_.Add(t.path + ".dependentTasks", "task " + Quote(dep) + " is not defined");
      } else if (dep == t.name) {
        problems_.Add(t.path + ".dependentTasks", "task depends on itself");
      } else {
        deps.insert(dep);
      }
    }
    if (!deps.empty())
      ir_task["dependentTasks"] = Json(std::vector<std::string>(deps.begin(), deps.end()));
    if (std::string condition = Str(At(task, "triggerPolicy"), "condition"); !condition.empty())
      ir_task["triggerPolicy"] = {{"condition", condition}};
    if (const Json& retry = At(task, "retryPolicy"); retry.is_object()) {
      Json r = retry;
      for (const char* key : {"backoffDuration", "backoffMaxDuration"}) {
        if (!r.contains(key)) continue;
        std::optional<double> seconds;
        if (r[key].is_string()) seconds = ParseDurationSeconds(r[key].get<std::string>());
        if (r[key].is_number()) seconds = r[key].get<double>();
        if (!seconds.has_value()) {
          problems_.Add(t.path + ".retryPolicy." + key, "must be a duration such as \"30s\"");
          continue;
        }
        r[key] = SecondsToDuration(seconds.value_or(0));
      }
      ir_task["retryPolicy"] = r;
    }
    bool cache = true;
    if (const Json& e = At(At(task, "cachingOptions"), "enableCache"); e.is_boolean())
      cache = e.get<bool>();
    ir_task["cachingOptions"] = {{"enableCache", cache}};
    ir_["root"]["dag"]["tasks"][t.name] = ir_task;

    // The component and its executor.
    Json component = {{"executorLabel", "exec-" + t.name}};
    if (!t.input_params.empty()) component["inputDefinitions"]["parameters"] = t.input_params;
    if (!t.input_artifacts.empty()) component["inputDefinitions"]["artifacts"] = t.input_artifacts;
    if (!t.output_params.empty()) component["outputDefinitions"]["parameters"] = t.output_params;
    if (!t.output_artifacts.empty())
      component["outputDefinitions"]["artifacts"] = t.output_artifacts;
    ir_["components"]["comp-" + t.name] = component;
    ir_["deploymentSpec"]["executors"]["exec-" + t.name] = {{"container", Container(t)}};
  }

  // A constant string naming pipeline parameters (`lr={{inputs.parameters.lr}}`) becomes what
  // the KFP compiler writes: the parameter passed as an extra `pipelinechannel--` input and the
  // string referring to it by the IR placeholder.
  std::string EmbedPipelineParams(const std::string& text, const std::string& path, Json& inputs) {
    std::string out;
    size_t pos = 0;
    while (true) {
      size_t open = text.find("{{", pos);
      if (open == std::string::npos) break;
      size_t close = text.find("}}", open + 2);
      if (close == std::string::npos) break;
      std::string inner = Trim(std::string_view(text).substr(open + 2, close - open - 2));
      out += text.substr(pos, open - pos);
      if (StartsWith(inner, "inputs.parameters.")) {
        std::string input = inner.substr(18);
        if (PipelineParam(input).is_null()) {
          problems_.Add(path,
                        "{{" + inner + "}}: the pipeline has no input parameter " + Quote(input));
        }
        std::string channel = "pipelinechannel--" + input;
        inputs["parameters"][channel] = {{"componentInputParameter", input}};
        out += "{{$.inputs.parameters['" + channel + "']}}";
      } else {
        out += text.substr(open, close + 2 - open);
      }
      pos = close + 2;
    }
    out += text.substr(pos);
    return out;
  }

  // `{{inputs.parameters.x}}` and friends → IR placeholders; unknown names are problems.
  std::string RewritePlaceholders(const std::string& text, const SeedTask& t,
                                  const std::string& path) {
    std::string out;
    size_t pos = 0;
    while (true) {
      size_t open = text.find("{{", pos);
      if (open == std::string::npos) break;
      size_t close = text.find("}}", open + 2);
      if (close == std::string::npos) break;
      out += text.substr(pos, open - pos);
      std::string inner = Trim(std::string_view(text).substr(open + 2, close - open - 2));
      std::string replaced = ResolveReference(inner, t, path);
      out += replaced.empty() ? text.substr(open, close + 2 - open) : replaced;
      pos = close + 2;
    }
    out += text.substr(pos);
    return out;
  }

  std::string ResolveReference(const std::string& ref, const SeedTask& t, const std::string& path) {
    auto missing = [&](const std::string& what, const std::string& name) {
      problems_.Add(path, "{{" + ref + "}}: component " + Quote(t.component_name) + " has no " +
                              what + " " + Quote(name));
      return std::string();
    };
    if (StartsWith(ref, "inputs.parameters.")) {
      std::string name = ref.substr(18);
      if (!t.input_params.contains(name)) return missing("input parameter", name);
      return "{{$.inputs.parameters['" + name + "']}}";
    }
    if (StartsWith(ref, "inputs.artifacts.")) {
      auto [name, field] = SplitField(ref.substr(17), {"path", "uri", "metadata"});
      if (!t.input_artifacts.contains(name)) return missing("input artifact", name);
      return "{{$.inputs.artifacts['" + name + "']." + (field.empty() ? "path" : field) + "}}";
    }
    if (StartsWith(ref, "outputs.artifacts.")) {
      auto [name, field] = SplitField(ref.substr(18), {"path", "uri", "metadata"});
      if (!t.output_artifacts.contains(name)) return missing("output artifact", name);
      return "{{$.outputs.artifacts['" + name + "']." + (field.empty() ? "path" : field) + "}}";
    }
    if (StartsWith(ref, "outputs.parameters.")) {
      auto [name, field] = SplitField(ref.substr(19), {"path", "output_file"});
      if (!t.output_params.contains(name)) return missing("output parameter", name);
      return "{{$.outputs.parameters['" + name + "'].output_file}}";
    }
    return "";  // an IR placeholder ({{$...}}) or not ours: kept as written
  }

  // KFP v1 component.yaml's structured arguments ({inputValue: x}, {concat: [...]},
  // {if: {cond: {isPresent: x}, then, else}}) → IR's placeholder strings.
  Json StructuredArgument(const Json& arg, const SeedTask& t, const std::string& path) {
    if (arg.is_string()) return RewritePlaceholders(arg.get<std::string>(), t, path);
    if (arg.is_number() || arg.is_boolean()) return arg.dump();
    if (!arg.is_object() || arg.size() != 1) {
      problems_.Add(path, "unsupported argument " + arg.dump());
      return "";
    }
    const std::string key = arg.begin().key();
    const Json& value = arg.begin().value();
    std::string name = value.is_string() ? value.get<std::string>() : "";
    if (key == "inputValue") return ResolveReference("inputs.parameters." + name, t, path);
    if (key == "inputPath") return ResolveReference("inputs.artifacts." + name + ".path", t, path);
    if (key == "inputUri") return ResolveReference("inputs.artifacts." + name + ".uri", t, path);
    if (key == "outputUri") return ResolveReference("outputs.artifacts." + name + ".uri", t, path);
    if (key == "outputPath") {
      if (t.output_params.contains(name))
        return ResolveReference("outputs.parameters." + name, t, path);
      return ResolveReference("outputs.artifacts." + name + ".path", t, path);
    }
    if (key == "concat" && value.is_array()) {
      Json parts = Json::array();
      for (const Json& v : value) parts.push_back(StructuredArgument(v, t, path));
      return Json{{"Concat", parts}}.dump();
    }
    if (key == "if" && value.is_object()) {
      std::string input = Str(At(value, "cond"), "isPresent");
      if (input.empty()) {
        problems_.Add(path, "`if` supports only cond: {isPresent: <input>}");
        return "";
      }
      Json body = {{"InputName", input}};
      for (const auto& [from, to] : {std::pair{"then", "Then"}, std::pair{"else", "Else"}}) {
        const Json& list = At(value, from);
        if (list.is_null()) continue;
        Json items = Json::array();
        for (const Json& v : list.is_array() ? list : Json::array({list}))
          items.push_back(StructuredArgument(v, t, path));
        body[to] = items;
      }
      return Json{{"IfPresent", body}}.dump();
    }
    problems_.Add(path, "unsupported argument " + arg.dump());
    return "";
  }

  Json Container(const SeedTask& t) {
    const Json& c = t.component;
    const Json& impl = At(At(c, "implementation"), "container");
    auto field = [&](const char* key) -> const Json& {
      return !At(c, key).is_null() ? At(c, key) : At(impl, key);
    };
    Json container = Json::object();
    std::string image = field("image").is_string() ? field("image").get<std::string>() : "";
    if (image.empty())
      problems_.Add(t.path, "component " + Quote(t.component_name) + " has no image");
    container["image"] = image;
    for (const char* key : {"command", "args"}) {
      const Json& list = field(key);
      if (list.is_null()) continue;
      std::string path = t.path + " (" + key + ")";
      if (!list.is_array()) {
        problems_.Add(path, "must be a list");
        continue;
      }
      Json out = Json::array();
      for (const Json& arg : list) out.push_back(StructuredArgument(arg, t, path));
      container[key] = out;
    }
    if (const Json& env = field("env"); env.is_array() && !env.empty()) {
      Json out = env;
      for (Json& e : out) {
        if (e.contains("value") && e["value"].is_string())
          e["value"] = RewritePlaceholders(e["value"].get<std::string>(), t, t.path + " (env)");
      }
      container["env"] = out;
    }
    if (const Json& resources = field("resources"); resources.is_object()) {
      Json r = Json::object();
      auto set = [&](const char* section, const char* key, const char* ir_key) {
        const Json& v = At(At(resources, section), key);
        if (v.is_string()) r[ir_key] = v;
        if (v.is_number()) r[ir_key] = v.dump();
      };
      set("limits", "cpu", "resourceCpuLimit");
      set("limits", "memory", "resourceMemoryLimit");
      set("requests", "cpu", "resourceCpuRequest");
      set("requests", "memory", "resourceMemoryRequest");
      for (const char* gpu : {"nvidia.com/gpu", "amd.com/gpu"}) {
        const Json& count = At(At(resources, "limits"), gpu);
        if (count.is_null()) continue;
        r["accelerator"] = {
            {"resourceType", gpu},
            {"resourceCount", count.is_string() ? count.get<std::string>() : count.dump()}};
      }
      if (!r.empty()) container["resources"] = r;
    }
    if (!t.artifact_paths.empty()) container["skiffArtifactPaths"] = t.artifact_paths;
    if (!t.parameter_paths.empty()) container["skiffParameterPaths"] = t.parameter_paths;
    return container;
  }

  void ConvertPipelineOutputs() {
    const Json& outputs = At(spec_, "outputs");
    for (const Json& p : At(outputs, "parameters")) {
      std::string name = Str(p, "name");
      std::string producer, key, error;
      std::string from = Str(p, "from");
      if (!ParseFrom(from, "parameters", &producer, &key, &error)) {
        problems_.Add("outputs.parameters." + name, error);
        continue;
      }
      ir_["root"]["outputDefinitions"]["parameters"][name] = by_name_[producer]->output_params[key];
      ir_["root"]["dag"]["outputs"]["parameters"][name] = {
          {"valueFromParameter", {{"producerSubtask", producer}, {"outputParameterKey", key}}}};
    }
    for (const Json& a : At(outputs, "artifacts")) {
      std::string name = Str(a, "name");
      std::string producer, key, error;
      std::string from = Str(a, "from");
      if (!ParseFrom(from, "artifacts", &producer, &key, &error)) {
        problems_.Add("outputs.artifacts." + name, error);
        continue;
      }
      ir_["root"]["outputDefinitions"]["artifacts"][name] =
          by_name_[producer]->output_artifacts[key];
      ir_["root"]["dag"]["outputs"]["artifacts"][name] = {
          {"artifactSelectors",
           Json::array({{{"producerSubtask", producer}, {"outputArtifactKey", key}}})}};
    }
  }

  const Json& spec_;
  std::string name_;
  const ComponentLookup& lookup_;
  Json ir_;
  Problems problems_;
  std::vector<std::unique_ptr<SeedTask>> loaded_;
  std::map<std::string, SeedTask*> by_name_;
  std::set<std::string> unresolved_;  // tasks whose component could not be loaded
};

}  // namespace

bool IsIr(const Json& pipeline_spec) {
  return pipeline_spec.is_object() &&
         (pipeline_spec.contains("root") || pipeline_spec.contains("deploymentSpec"));
}

StatusOr<std::vector<std::string>> TopologicalOrder(const Json& dag) {
  const Json& tasks = dag.contains("tasks") ? At(dag, "tasks") : At(At(dag, "dag"), "tasks");
  if (tasks.is_null()) return std::vector<std::string>{};
  if (!tasks.is_object()) return Status::Invalid("dag.tasks must be a map");
  // Upstream tasks: dependentTasks plus every producer an input names (the compiler does not
  // always list those in dependentTasks).
  std::map<std::string, std::set<std::string>> upstream;
  for (const auto& [name, task] : tasks.items()) {
    std::set<std::string>& up = upstream[name];
    for (const Json& d : At(task, "dependentTasks"))
      if (d.is_string()) up.insert(d.get<std::string>());
    const Json& inputs = At(task, "inputs");
    for (const auto& [k, p] : At(inputs, "parameters").items()) {
      for (const char* kind : {"taskOutputParameter", "taskFinalStatus"})
        if (std::string t = Str(At(p, kind), "producerTask"); !t.empty()) up.insert(t);
    }
    for (const auto& [k, a] : At(inputs, "artifacts").items())
      if (std::string t = Str(At(a, "taskOutputArtifact"), "producerTask"); !t.empty())
        up.insert(t);
    for (auto it = up.begin(); it != up.end();)
      it = tasks.contains(*it) ? std::next(it) : up.erase(it);  // unknown names: ValidateIr's job
  }
  std::map<std::string, int> pending;
  std::map<std::string, std::vector<std::string>> downstream;
  for (const auto& [name, up] : upstream) {
    pending[name] = static_cast<int>(up.size());
    for (const std::string& u : up) downstream[u].push_back(name);
  }
  std::set<std::string> ready;
  for (const auto& [name, n] : pending)
    if (n == 0) ready.insert(name);
  std::vector<std::string> order;
  while (!ready.empty()) {
    std::string next = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(next);
    for (const std::string& d : downstream[next])
      if (--pending[d] == 0) ready.insert(d);
  }
  if (order.size() == upstream.size()) return order;
  // Walk back along unfinished upstream edges from any stuck task until one repeats: a cycle.
  std::string start;
  for (const auto& [name, n] : pending)
    if (n > 0) {
      start = name;
      break;
    }
  std::vector<std::string> path;
  std::map<std::string, size_t> seen;
  std::string at = start;
  while (!seen.contains(at)) {
    seen[at] = path.size();
    path.push_back(at);
    for (const std::string& u : upstream[at]) {
      if (pending[u] > 0) {
        at = u;
        break;
      }
    }
  }
  std::string cycle;
  for (size_t i = seen[at]; i < path.size(); ++i) cycle += Quote(path[i]) + " <- ";
  return Status::Invalid("tasks depend on each other in a cycle: " + cycle + Quote(at));
}

Status ValidateIr(const Json& ir) { return IrValidator(ir).Run(); }

StatusOr<Json> ToIr(const Json& pipeline_spec, const std::string& pipeline_name,
                    const ComponentLookup& lookup) {
  if (IsIr(pipeline_spec)) {
    Json ir = pipeline_spec;
    if (Str(At(ir, "pipelineInfo"), "name").empty() && !pipeline_name.empty()) {
      if (!ir["pipelineInfo"].is_object()) ir["pipelineInfo"] = Json::object();
      ir["pipelineInfo"]["name"] = pipeline_name;
    }
    if (Status s = ValidateIr(ir); !s.ok()) return s;
    return ir;
  }
  return SeedConverter(pipeline_spec, pipeline_name, lookup).Run();
}

StatusOr<PipelineDocument> ParsePipelineFile(std::string_view text) {
  auto docs = ParseYamlDocuments(text);
  if (!docs.ok()) return docs.status();
  if (docs->empty())
    return Status::Invalid(
        "empty pipeline file: it holds no YAML document (only comments or "
        "whitespace)");
  PipelineDocument out;
  Json& first = (*docs)[0];
  if (!first.is_object()) return Status::Invalid("pipeline file: the first document is not a map");
  if (Str(first, "kind") == "Pipeline") {
    if (docs->size() > 1)
      return Status::Invalid("pipeline file: a Pipeline manifest must be the only document");
    const Json& spec = At(At(first, "spec"), "pipelineSpec");
    if (!spec.is_object())
      return Status::Invalid("Pipeline manifest: spec.pipelineSpec is required");
    std::string name = StringAt(first, "metadata.name");
    // A file has no namespace to look Components up in: only inline components work here.
    ComponentLookup none = [](const std::string& ref) -> StatusOr<Json> {
      return Status::NotFound("a file cannot name Component " + Quote(ref) +
                              "; apply the Pipeline and its Components with `skiff apply`");
    };
    Json copy = spec;
    if (copy.contains("platforms")) {
      out.platform_spec = {{"platforms", copy["platforms"]}};
      copy.erase("platforms");
    }
    auto ir = ToIr(copy, name, none);
    if (!ir.ok()) return ir.status();
    out.spec = std::move(*ir);
    return out;
  }
  if (docs->size() > 2)
    return Status::Invalid(
        "pipeline file: expected the PipelineSpec and at most one PlatformSpec "
        "document, found " +
        std::to_string(docs->size()) + " documents");
  out.spec = std::move(first);
  if (docs->size() == 2) {
    Json& second = (*docs)[1];
    if (!At(second, "platforms").is_object())
      return Status::Invalid(
          "pipeline file: the second document must be a PlatformSpec "
          "(platforms: {kubernetes: ...})");
    out.platform_spec = std::move(second);
  }
  if (!IsIr(out.spec))
    return Status::Invalid(
        "pipeline file: not a compiled KFP pipeline (no root or "
        "deploymentSpec) and not a kind: Pipeline manifest");
  if (Status s = ValidateIr(out.spec); !s.ok()) return s;
  return out;
}

}  // namespace skiff::pipelines
