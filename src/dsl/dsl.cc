// The C++ DSL: declarations are recorded as written; Compiler turns them into KFP v2 IR the way
// the KFP compiler lays it out (one component per group, pipelinechannel-- inputs threading values
// into nested groups, dependencies at the level where both tasks meet).
#include "skiff/dsl.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <set>

namespace skiff::dsl {

namespace {

std::string IrType(Type t) {
  switch (t) {
    case Type::String:
      return "STRING";
    case Type::Number:
      return "NUMBER_DOUBLE";
    case Type::Integer:
      return "NUMBER_INTEGER";
    case Type::Boolean:
      return "BOOLEAN";
    case Type::List:
      return "LIST";
    case Type::Struct:
      return "STRUCT";
    case Type::TaskFinalStatus:
      return "TASK_FINAL_STATUS";
  }
  return "STRING";
}

Type FromIrType(const std::string& t) {
  if (t == "NUMBER_DOUBLE") return Type::Number;
  if (t == "NUMBER_INTEGER") return Type::Integer;
  if (t == "BOOLEAN") return Type::Boolean;
  if (t == "LIST") return Type::List;
  if (t == "STRUCT") return Type::Struct;
  if (t == "TASK_FINAL_STATUS") return Type::TaskFinalStatus;
  return Type::String;
}

bool Matches(const Json& v, Type t) {
  switch (t) {
    case Type::String:
      return v.is_string();
    case Type::Number:
      return v.is_number();
    case Type::Integer:
      return v.is_number_integer();
    case Type::Boolean:
      return v.is_boolean();
    case Type::List:
      return v.is_array();
    case Type::Struct:
      return v.is_object();
    case Type::TaskFinalStatus:
      return false;
  }
  return false;
}

// Lower-case letters, digits and dashes: what KFP makes of a component's name for task names.
std::string Sanitize(const std::string& name) {
  std::string out;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "task" : out;
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// A CEL literal: strings in single quotes as KFP writes them.
std::string CelLiteral(const Json& v) {
  if (!v.is_string()) return v.dump();
  std::string out = "'";
  for (char c : v.get<std::string>()) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

Json Texts(const std::vector<Arg>& args) {
  Json out = Json::array();
  for (const Arg& a : args) out.push_back(a.text());
  return out;
}

}  // namespace

Arg InputParam(const std::string& name) { return "{{$.inputs.parameters['" + name + "']}}"; }
Arg InputPath(const std::string& name) { return "{{$.inputs.artifacts['" + name + "'].path}}"; }
Arg InputUri(const std::string& name) { return "{{$.inputs.artifacts['" + name + "'].uri}}"; }
Arg OutputParamFile(const std::string& name) {
  return "{{$.outputs.parameters['" + name + "'].output_file}}";
}
Arg OutputPath(const std::string& name) { return "{{$.outputs.artifacts['" + name + "'].path}}"; }
Arg OutputUri(const std::string& name) { return "{{$.outputs.artifacts['" + name + "'].uri}}"; }
Arg ExecutorInput() { return "{{$}}"; }

Arg Concat(std::vector<Arg> parts) { return Json{{"Concat", Texts(parts)}}.dump(); }

Arg IfPresent(const std::string& name, std::vector<Arg> then, std::vector<Arg> otherwise) {
  Json body = {{"InputName", name}, {"Then", Texts(then)}};
  if (!otherwise.empty()) body["Else"] = Texts(otherwise);
  return Json{{"IfPresent", body}}.dump();
}

// ---------------------------------------------------------------------------------------------
// Component

Component::Component(std::string name) : name_(std::move(name)) {}

Component& Component::Description(std::string text) {
  description_ = std::move(text);
  return *this;
}
Component& Component::Image(std::string image) {
  image_ = std::move(image);
  return *this;
}
Component& Component::Command(std::vector<Arg> command) {
  command_ = std::move(command);
  return *this;
}
Component& Component::Args(std::vector<Arg> args) {
  args_ = std::move(args);
  return *this;
}
Component& Component::Env(const std::string& name, const std::string& value) {
  env_.emplace_back(name, value);
  return *this;
}
Component& Component::Input(const std::string& name, Type type, std::optional<Json> default_value) {
  Json def = {{"parameterType", IrType(type)}};
  if (default_value) {
    def["defaultValue"] = *default_value;
    def["isOptional"] = true;
  }
  if (type == Type::TaskFinalStatus) def["isOptional"] = true;
  inputs_["parameters"][name] = def;
  return *this;
}
Component& Component::OptionalInput(const std::string& name, Type type) {
  inputs_["parameters"][name] = {{"parameterType", IrType(type)}, {"isOptional", true}};
  return *this;
}
Component& Component::InputArtifact(const std::string& name, const ArtifactType& type,
                                    bool optional) {
  Json def = {{"artifactType", {{"schemaTitle", type.schema_title}, {"schemaVersion", "0.0.1"}}}};
  if (optional) def["isOptional"] = true;
  inputs_["artifacts"][name] = def;
  return *this;
}
Component& Component::Output(const std::string& name, Type type) {
  outputs_["parameters"][name] = {{"parameterType", IrType(type)}};
  return *this;
}
Component& Component::OutputArtifact(const std::string& name, const ArtifactType& type) {
  outputs_["artifacts"][name] = {
      {"artifactType", {{"schemaTitle", type.schema_title}, {"schemaVersion", "0.0.1"}}}};
  return *this;
}
Component& Component::CpuLimit(std::string cpu) {
  resources_["resourceCpuLimit"] = std::move(cpu);
  return *this;
}
Component& Component::MemoryLimit(std::string memory) {
  resources_["resourceMemoryLimit"] = std::move(memory);
  return *this;
}

Json Component::Spec() const {
  Json spec = Json::object();
  if (!inputs_.empty()) spec["inputDefinitions"] = inputs_;
  if (!outputs_.empty()) spec["outputDefinitions"] = outputs_;
  return spec;
}

Json Component::Container() const {
  Json c = {{"image", image_}};
  if (!command_.empty()) c["command"] = Texts(command_);
  if (!args_.empty()) c["args"] = Texts(args_);
  for (const auto& [name, value] : env_) c["env"].push_back({{"name", name}, {"value", value}});
  if (!resources_.empty()) c["resources"] = resources_;
  return c;
}

bool Component::HasInput(const std::string& name) const {
  return (inputs_.contains("parameters") && inputs_["parameters"].contains(name)) ||
         (inputs_.contains("artifacts") && inputs_["artifacts"].contains(name));
}
bool Component::HasOutputParameter(const std::string& name) const {
  return outputs_.contains("parameters") && outputs_["parameters"].contains(name);
}
bool Component::HasOutputArtifact(const std::string& name) const {
  return outputs_.contains("artifacts") && outputs_["artifacts"].contains(name);
}

// ---------------------------------------------------------------------------------------------
// Values and conditions

Value Value::Field(const std::string& key) const {
  Value v = *this;
  v.field_ = key;
  return v;
}

Value FinalStatus() {
  Value v;
  v.kind_ = Value::Kind::kFinalStatus;
  v.type_ = Type::TaskFinalStatus;
  return v;
}

Condition Compare(const Value& lhs, const std::string& op, const Json& rhs) {
  Condition c;
  c.expr_ =
      "\x01"
      "0\x02 " +
      op + " " + CelLiteral(rhs);
  c.operands_ = {lhs};
  return c;
}

namespace {

// Renumbers the operand markers of `expr` by `offset` (operands of two conditions joined).
std::string Shift(const std::string& expr, size_t offset) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = expr.find('\x01', pos);
    if (open == std::string::npos) break;
    size_t close = expr.find('\x02', open);
    out += expr.substr(pos, open - pos);
    size_t index = std::stoul(expr.substr(open + 1, close - open - 1));
    out += "\x01" + std::to_string(index + offset) + "\x02";
    pos = close + 1;
  }
  return out + expr.substr(pos);
}

}  // namespace

Condition Condition::operator&&(const Condition& other) const {
  Condition c;
  c.expr_ = "(" + expr_ + ") && (" + Shift(other.expr_, operands_.size()) + ")";
  c.operands_ = operands_;
  c.operands_.insert(c.operands_.end(), other.operands_.begin(), other.operands_.end());
  return c;
}

Condition Condition::operator||(const Condition& other) const {
  Condition c;
  c.expr_ = "(" + expr_ + ") || (" + Shift(other.expr_, operands_.size()) + ")";
  c.operands_ = operands_;
  c.operands_.insert(c.operands_.end(), other.operands_.begin(), other.operands_.end());
  return c;
}

Condition Condition::operator!() const {
  Condition c = *this;
  c.expr_ = "!(" + expr_ + ")";
  return c;
}

// ---------------------------------------------------------------------------------------------
// Pipeline declarations

struct Pipeline::TaskNode {
  std::string name;  // requested by Name(); "" for the default
  Component component;
  std::vector<std::pair<std::string, Value>> inputs;
  std::vector<int> after;
  int group = 0;
  Json retry;  // retryPolicy, or null
  bool cache = true;
};

enum GroupKind { kRoot, kCondition, kLoop, kExitHandler };

struct Pipeline::Group {
  int kind = kRoot;
  std::string name;
  int parent = -1;
  Condition condition;
  std::optional<Value> items;  // a loop over a run-time list
  Json raw_items;              // a loop over a list known now
  int parallelism = 0;
  Type item_type = Type::String;
  int exit_task = -1;
};

Pipeline::Pipeline(std::string name) : name_(std::move(name)) {
  groups_.push_back(std::make_unique<Group>());
}
Pipeline::~Pipeline() = default;

Pipeline& Pipeline::Description(std::string text) {
  description_ = std::move(text);
  return *this;
}
Pipeline& Pipeline::DisplayName(std::string text) {
  display_name_ = std::move(text);
  return *this;
}

Value Pipeline::Input(const std::string& name, Type type, std::optional<Json> default_value) {
  Json def = {{"parameterType", IrType(type)}};
  if (default_value) {
    if (!Matches(*default_value, type))
      errors_.push_back("pipeline input " + Quote(name) + ": default " + default_value->dump() +
                        " is not a " + IrType(type));
    def["defaultValue"] = *default_value;
    def["isOptional"] = true;
  }
  inputs_["parameters"][name] = def;
  Value v;
  v.kind_ = Value::Kind::kPipelineParam;
  v.name_ = name;
  v.type_ = type;
  return v;
}

Value Pipeline::InputArtifact(const std::string& name, const ArtifactType& type) {
  inputs_["artifacts"][name] = {
      {"artifactType", {{"schemaTitle", type.schema_title}, {"schemaVersion", "0.0.1"}}}};
  Value v;
  v.kind_ = Value::Kind::kPipelineArtifact;
  v.name_ = name;
  v.artifact_ = true;
  return v;
}

void Pipeline::Output(const std::string& name, const Value& value) {
  outputs_.emplace_back(name, value);
}

PipelineTask Pipeline::Task(const Component& component, Inputs inputs) {
  auto node = std::make_unique<TaskNode>(TaskNode{"", component, {inputs.begin(), inputs.end()}});
  node->group = current_;
  tasks_.push_back(std::move(node));
  return PipelineTask(this, static_cast<int>(tasks_.size()) - 1);
}

int Pipeline::NewGroup(int kind, const std::string& prefix) {
  auto g = std::make_unique<Group>();
  g->kind = kind;
  g->name = prefix + "-" + std::to_string(groups_.size());
  g->parent = current_;
  groups_.push_back(std::move(g));
  return static_cast<int>(groups_.size()) - 1;
}

void Pipeline::Declare(int group, const std::function<void()>& body) {
  int saved = current_;
  current_ = group;
  if (body) body();
  current_ = saved;
}

void Pipeline::If(const Condition& condition, const std::function<void()>& body,
                  const std::function<void()>& otherwise) {
  int g = NewGroup(kCondition, "condition");
  groups_[g]->condition = condition;
  Declare(g, body);
  if (otherwise) {
    int e = NewGroup(kCondition, "condition");
    groups_[e]->condition = !condition;
    Declare(e, otherwise);
  }
}

void Pipeline::ParallelFor(const Value& items, const std::function<void(const Value&)>& body,
                           int parallelism, Type item_type) {
  int g = NewGroup(kLoop, "for-loop");
  if (items.kind() == Value::Kind::kConstant) {
    groups_[g]->raw_items = items.constant_;
  } else {
    groups_[g]->items = items;
  }
  groups_[g]->parallelism = parallelism;
  groups_[g]->item_type = item_type;
  Value item;
  item.kind_ = Value::Kind::kLoopItem;
  item.group_ = g;
  item.type_ = item_type;
  Declare(g, [&] { body(item); });
}

void Pipeline::ParallelFor(const Json& items, const std::function<void(const Value&)>& body,
                           int parallelism) {
  // The item type follows the list: all integers, all numbers, all objects, else strings.
  Type type = Type::String;
  if (items.is_array() && !items.empty()) {
    auto all = [&](auto pred) { return std::all_of(items.begin(), items.end(), pred); };
    if (all([](const Json& v) { return v.is_number_integer(); })) {
      type = Type::Integer;
    } else if (all([](const Json& v) { return v.is_number(); })) {
      type = Type::Number;
    } else if (all([](const Json& v) { return v.is_object(); })) {
      type = Type::Struct;
    }
  }
  if (!items.is_array()) errors_.push_back("ParallelFor over " + items.dump() + ": not a list");
  ParallelFor(Value(items), body, parallelism, type);
}

void Pipeline::ExitHandler(const PipelineTask& exit_task, const std::function<void()>& body) {
  int g = NewGroup(kExitHandler, "exit-handler");
  groups_[g]->exit_task = exit_task.index_;
  Declare(g, body);
}

Value PipelineTask::Output(const std::string& name) const {
  const Pipeline::TaskNode& node = *pipeline_->tasks_[index_];
  const Component& c = node.component;
  std::string key = name;
  if (key.empty()) {
    Json spec = c.Spec();
    std::vector<std::string> all;
    for (const char* kind : {"parameters", "artifacts"}) {
      const Json* outs = FindPath(spec, std::string("outputDefinitions.") + kind);
      if (outs)
        for (const auto& [k, unused] : outs->items()) all.push_back(k);
    }
    if (all.size() == 1) {
      key = all[0];
    } else {
      pipeline_->errors_.push_back("task of component " + Quote(c.name()) +
                                   ": Output() needs a name (the component has " +
                                   std::to_string(all.size()) + " outputs)");
    }
  }
  Value v;
  v.kind_ = Value::Kind::kTaskOutput;
  v.task_ = index_;
  v.name_ = key;
  if (c.HasOutputArtifact(key)) {
    v.kind_ = Value::Kind::kTaskArtifact;
    v.artifact_ = true;
  } else if (c.HasOutputParameter(key)) {
    v.type_ =
        FromIrType(StringAt(c.Spec(), "outputDefinitions.parameters." + key + ".parameterType"));
  } else if (!key.empty()) {
    pipeline_->errors_.push_back("component " + Quote(c.name()) + " has no output " + Quote(key));
  }
  return v;
}

PipelineTask& PipelineTask::After(const PipelineTask& other) {
  pipeline_->tasks_[index_]->after.push_back(other.index_);
  return *this;
}

namespace {

// "1m30s", "500ms", "2h" → the proto JSON Duration KFP writes ("90s", "0.5s", "7200s").
std::optional<std::string> ProtoDuration(const std::string& text) {
  double total = 0;
  size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    if (start == i) return std::nullopt;
    double value = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(unit_start, i - unit_start);
    if (unit == "h") {
      total += value * 3600;
    } else if (unit == "m") {
      total += value * 60;
    } else if (unit == "s") {
      total += value;
    } else if (unit == "ms") {
      total += value / 1000;
    } else {
      return std::nullopt;
    }
  }
  Json seconds = total == static_cast<double>(static_cast<int64_t>(total))
                     ? Json(static_cast<int64_t>(total))
                     : Json(total);
  return seconds.dump() + "s";
}

}  // namespace

PipelineTask& PipelineTask::Retry(int max_retries, std::string backoff, double factor,
                                  std::string max_backoff) {
  Json r = {{"maxRetryCount", max_retries}};
  if (max_retries < 0) pipeline_->errors_.push_back("Retry: max_retries must not be negative");
  for (auto [key, text] :
       {std::pair{"backoffDuration", &backoff}, std::pair{"backoffMaxDuration", &max_backoff}}) {
    if (text->empty()) continue;
    auto duration = ProtoDuration(*text);
    if (!duration) {
      pipeline_->errors_.push_back("Retry: " + Quote(*text) + " is not a duration such as 30s");
      continue;
    }
    r[key] = *duration;
  }
  if (factor > 0) r["backoffFactor"] = factor;
  pipeline_->tasks_[index_]->retry = r;
  return *this;
}

PipelineTask& PipelineTask::DisableCache() {
  pipeline_->tasks_[index_]->cache = false;
  return *this;
}

PipelineTask& PipelineTask::Name(const std::string& name) {
  pipeline_->tasks_[index_]->name = name;
  return *this;
}

// ---------------------------------------------------------------------------------------------
// Compilation

class Compiler {
 public:
  explicit Compiler(const Pipeline& p) : p_(p) {}

  StatusOr<Json> Run() {
    problems_ = p_.errors_;
    ir_ = {{"pipelineInfo", {{"name", p_.name_}}},
           {"schemaVersion", "2.1.0"},
           {"sdkVersion", "skiff-dsl-0.1.0"},
           {"components", Json::object()},
           {"deploymentSpec", {{"executors", Json::object()}}},
           {"root", {{"dag", {{"tasks", Json::object()}}}}}};
    if (p_.name_.empty()) problems_.push_back("the pipeline has no name");
    if (!p_.description_.empty()) ir_["pipelineInfo"]["description"] = p_.description_;
    if (!p_.display_name_.empty()) ir_["pipelineInfo"]["displayName"] = p_.display_name_;
    if (!p_.inputs_.empty()) ir_["root"]["inputDefinitions"] = p_.inputs_;
    NameTasks();
    EmitComponents();
    for (size_t g = 1; g < p_.groups_.size(); ++g) EmitGroupSkeleton(static_cast<int>(g));
    for (size_t g = 1; g < p_.groups_.size(); ++g) EmitGroup(static_cast<int>(g));
    for (size_t i = 0; i < p_.tasks_.size(); ++i) EmitTask(static_cast<int>(i));
    for (size_t i = 0; i < p_.tasks_.size(); ++i) EmitAfter(static_cast<int>(i));
    for (const auto& [key, deps] : deps_) {
      if (deps.empty()) continue;
      Dag(key.first)[key.second]["dependentTasks"] =
          std::vector<std::string>(deps.begin(), deps.end());
    }
    EmitOutputs();
    if (problems_.empty()) return ir_;
    std::string msg = "pipeline " + Quote(p_.name_) + " does not compile: ";
    for (size_t i = 0; i < problems_.size(); ++i) msg += (i ? "; " : "") + problems_[i];
    return Status::Invalid(msg);
  }

 private:
  const Pipeline::Group& G(int g) const { return *p_.groups_[g]; }
  std::string Comp(int g) const { return "comp-" + G(g).name; }
  Json& Dag(int g) {
    return g == 0 ? ir_["root"]["dag"]["tasks"] : ir_["components"][Comp(g)]["dag"]["tasks"];
  }
  Json& Defs(int g) {
    return g == 0 ? ir_["root"]["inputDefinitions"]
                  : ir_["components"][Comp(g)]["inputDefinitions"];
  }
  Json& GroupTask(int g) { return Dag(G(g).parent)[G(g).name]; }

  bool IsAncestorOrSelf(int ancestor, int g) const {
    for (; g >= 0; g = G(g).parent)
      if (g == ancestor) return true;
    return false;
  }

  // Task names: as requested, else the component's, unique across the pipeline and its groups.
  void NameTasks() {
    std::set<std::string> used;
    for (size_t g = 1; g < p_.groups_.size(); ++g) used.insert(G(static_cast<int>(g)).name);
    for (const auto& t : p_.tasks_) {
      std::string base = t->name.empty() ? Sanitize(t->component.name()) : t->name;
      if (!t->name.empty() && used.contains(base))
        problems_.push_back("task name " + Quote(base) + " is used twice");
      std::string name = base;
      for (int n = 2; used.contains(name); ++n) name = base + "-" + std::to_string(n);
      used.insert(name);
      names_.push_back(name);
    }
  }

  // One IR component and executor per distinct Component; a second, different component with
  // the same name gets a -2 suffix.
  void EmitComponents() {
    for (const auto& t : p_.tasks_) {
      Json spec = t->component.Spec();
      Json container = t->component.Container();
      if (t->component.Container().value("image", "").empty())
        problems_.push_back("component " + Quote(t->component.name()) + " has no image");
      std::string base = Sanitize(t->component.name());
      std::string name = base;
      for (int n = 2;; ++n) {
        if (IsGroupName(name)) {
          name = base + "-" + std::to_string(n);
          continue;
        }
        Json& existing = ir_["components"]["comp-" + name];
        if (existing.is_null()) {
          spec["executorLabel"] = "exec-" + name;
          existing = spec;
          ir_["deploymentSpec"]["executors"]["exec-" + name] = {{"container", container}};
          break;
        }
        Json without_label = existing;
        without_label.erase("executorLabel");
        if (without_label == spec &&
            ir_["deploymentSpec"]["executors"]["exec-" + name]["container"] == container)
          break;
        name = base + "-" + std::to_string(n);
      }
      component_of_.push_back("comp-" + name);
    }
  }

  bool IsGroupName(const std::string& name) const {
    for (const auto& g : p_.groups_)
      if (g->name == name) return true;
    return false;
  }

  std::string ItemInput(int g) {
    const Pipeline::Group& group = G(g);
    if (group.items) return Channel(*group.items) + "-loop-item";
    return "pipelinechannel--loop-item-param-" + std::to_string(g);
  }

  // The name a value travels under into a nested group (KFP's pipelinechannel-- names).
  std::string Channel(const Value& v) {
    switch (v.kind_) {
      case Value::Kind::kPipelineParam:
      case Value::Kind::kPipelineArtifact:
        return "pipelinechannel--" + v.name_;
      case Value::Kind::kTaskOutput:
      case Value::Kind::kTaskArtifact:
        return "pipelinechannel--" + names_[v.task_] + "-" + v.name_;
      case Value::Kind::kLoopItem:
        return ItemInput(v.group_);
      default:
        return "";
    }
  }

  // The IR definition of a channel carrying `v`.
  Json ChannelDefinition(const Value& v) {
    if (v.kind_ == Value::Kind::kTaskArtifact) {
      const Json* t = FindPath(p_.tasks_[v.task_]->component.Spec(),
                               "outputDefinitions.artifacts." + v.name_ + ".artifactType");
      return {{"artifactType", t ? *t : Json{{"schemaTitle", "system.Artifact"}}}};
    }
    if (v.kind_ == Value::Kind::kPipelineArtifact)
      return {{"artifactType", p_.inputs_["artifacts"][v.name_]["artifactType"]}};
    return {{"parameterType", IrType(v.type_)}};
  }

  // How a consumer in group `scope` receives `v`: sets *spec (the task input) and *dep (a task
  // of `scope` the consumer must wait for, or ""). Values from enclosing groups are threaded in
  // through each group between as pipelinechannel-- inputs. False with *error when `v` cannot be
  // seen from `scope`.
  bool Resolve(int scope, const Value& v, Json* spec, std::string* dep, std::string* error) {
    dep->clear();
    switch (v.kind_) {
      case Value::Kind::kConstant:
        *spec = {{"runtimeValue", {{"constant", v.constant_}}}};
        return true;
      case Value::Kind::kPipelineParam:
      case Value::Kind::kPipelineArtifact:
        if (scope == 0) {
          *spec = {{v.artifact_ ? "componentInputArtifact" : "componentInputParameter", v.name_}};
          return true;
        }
        return Thread(scope, v, spec, error);
      case Value::Kind::kTaskOutput:
      case Value::Kind::kTaskArtifact: {
        int producer_group = p_.tasks_[v.task_]->group;
        if (scope == producer_group) {
          if (v.artifact_) {
            *spec = {{"taskOutputArtifact",
                      {{"producerTask", names_[v.task_]}, {"outputArtifactKey", v.name_}}}};
          } else {
            *spec = {{"taskOutputParameter",
                      {{"producerTask", names_[v.task_]}, {"outputParameterKey", v.name_}}}};
          }
          *dep = names_[v.task_];
          return true;
        }
        if (!IsAncestorOrSelf(producer_group, scope)) {
          *error = "uses the output " + Quote(v.name_) + " of task " + Quote(names_[v.task_]) +
                   ", which runs inside " + G(producer_group).name + " that this task is not in";
          return false;
        }
        return Thread(scope, v, spec, error);
      }
      case Value::Kind::kLoopItem:
        if (scope == v.group_) {
          *spec = {{"componentInputParameter", ItemInput(v.group_)}};
          return true;
        }
        if (!IsAncestorOrSelf(v.group_, scope)) {
          *error = "uses the item of " + G(v.group_).name + " outside that loop";
          return false;
        }
        return Thread(scope, v, spec, error);
      case Value::Kind::kFinalStatus:
        *error = "FinalStatus() is only for the exit task of an ExitHandler";
        return false;
    }
    return false;
  }

  // `scope` (a group) takes `v` as its input channel, resolved in turn in the enclosing group.
  bool Thread(int scope, const Value& v, Json* spec, std::string* error) {
    std::string channel = Channel(v);
    const char* kind = v.artifact_ ? "artifacts" : "parameters";
    Json& defs = Defs(scope);
    if (!defs.contains(kind) || !defs[kind].contains(channel)) {
      defs[kind][channel] = ChannelDefinition(v);
      Json up;
      std::string dep;
      if (!Resolve(G(scope).parent, v, &up, &dep, error)) return false;
      GroupTask(scope)["inputs"][kind][channel] = up;
      if (!dep.empty()) deps_[{G(scope).parent, G(scope).name}].insert(dep);
    }
    *spec = {{v.artifact_ ? "componentInputArtifact" : "componentInputParameter", channel}};
    return true;
  }

  void EmitGroupSkeleton(int g) {
    ir_["components"][Comp(g)] = {{"dag", {{"tasks", Json::object()}}}};
    Dag(G(g).parent)[G(g).name] = {{"taskInfo", {{"name", G(g).name}}},
                                   {"componentRef", {{"name", Comp(g)}}}};
  }

  void EmitGroup(int g) {
    const Pipeline::Group& group = G(g);
    std::string error;
    if (group.kind == kCondition) {
      std::string expr;
      const std::string& tmpl = group.condition.expr_;
      size_t pos = 0;
      while (true) {
        size_t open = tmpl.find('\x01', pos);
        if (open == std::string::npos) break;
        size_t close = tmpl.find('\x02', open);
        expr += tmpl.substr(pos, open - pos);
        const Value& operand =
            group.condition.operands_[std::stoul(tmpl.substr(open + 1, close - open - 1))];
        expr += ConditionOperand(g, operand);
        pos = close + 1;
      }
      expr += tmpl.substr(pos);
      GroupTask(g)["triggerPolicy"] = {{"condition", expr}};
    } else if (group.kind == kLoop) {
      std::string item = ItemInput(g);
      Json iterator = {{"itemInput", item}};
      if (group.items) {
        std::string channel = Channel(*group.items);
        Json spec;
        std::string dep;
        if (!Resolve(group.parent, *group.items, &spec, &dep, &error)) {
          problems_.push_back(group.name + ": the loop " + error);
          return;
        }
        GroupTask(g)["inputs"]["parameters"][channel] = spec;
        if (!dep.empty()) deps_[{group.parent, group.name}].insert(dep);
        Defs(g)["parameters"][channel] = {{"parameterType", "LIST"}};
        iterator["items"] = {{"inputParameter", channel}};
      } else {
        iterator["items"] = {{"raw", group.raw_items.dump()}};
      }
      Defs(g)["parameters"][item] = {{"parameterType", IrType(group.item_type)}};
      GroupTask(g)["parameterIterator"] = iterator;
      if (group.parallelism > 0)
        GroupTask(g)["iteratorPolicy"] = {{"parallelismLimit", group.parallelism}};
    } else if (group.kind == kExitHandler) {
      int exit = group.exit_task;
      if (p_.tasks_[exit]->group != group.parent)
        problems_.push_back(group.name + ": its exit task " + Quote(names_[exit]) +
                            " must be declared where the ExitHandler is");
      exit_group_[exit] = g;
    }
  }

  // CEL for one operand of a condition: the group's own input (typed as KFP casts it).
  std::string ConditionOperand(int g, const Value& v) {
    if (v.kind_ == Value::Kind::kConstant) return CelLiteral(v.constant_);
    if (v.artifact_ || v.kind_ == Value::Kind::kFinalStatus) {
      problems_.push_back(G(g).name + ": a condition can only test parameters");
      return "false";
    }
    std::string channel = Channel(v);
    Json spec;
    std::string dep, error;
    if (!Resolve(G(g).parent, v, &spec, &dep, &error)) {
      problems_.push_back(G(g).name + ": the condition " + error);
      return "false";
    }
    GroupTask(g)["inputs"]["parameters"][channel] = spec;
    if (!dep.empty()) deps_[{G(g).parent, G(g).name}].insert(dep);
    Defs(g)["parameters"][channel] = ChannelDefinition(v);
    std::string ref = "inputs.parameter_values['" + channel + "']";
    if (!v.field_.empty()) ref = "parseJson(" + ref + ")['" + v.field_ + "']";
    if (v.type_ == Type::Integer) return "int(" + ref + ")";
    if (v.type_ == Type::Number) return "double(" + ref + ")";
    return ref;
  }

  void EmitTask(int i) {
    const Pipeline::TaskNode& t = *p_.tasks_[i];
    const std::string& name = names_[i];
    const Json spec = ir_["components"][component_of_[i]];
    auto problem = [&](const std::string& what) {
      problems_.push_back("task " + Quote(name) + ": " + what);
    };
    Json task = {{"taskInfo", {{"name", name}}},
                 {"componentRef", {{"name", component_of_[i]}}},
                 {"cachingOptions", {{"enableCache", t.cache}}}};
    std::set<std::string> given;
    for (const auto& [input, value] : t.inputs) {
      given.insert(input);
      const Json* param = FindPath(spec, "inputDefinitions.parameters." + input);
      const Json* artifact = FindPath(spec, "inputDefinitions.artifacts." + input);
      if (!param && !artifact) {
        problem("component " + Quote(t.component.name()) + " has no input " + Quote(input));
        continue;
      }
      if ((artifact != nullptr) != value.artifact_) {
        problem("input " + Quote(input) + " is " + (artifact ? "an artifact" : "a parameter") +
                " but is given " + (value.artifact_ ? "an artifact" : "a parameter"));
        continue;
      }
      if (value.kind_ == Value::Kind::kFinalStatus) {
        auto it = exit_group_.find(i);
        if (it == exit_group_.end()) {
          problem("FinalStatus() is only for the exit task of an ExitHandler");
          continue;
        }
        task["inputs"]["parameters"][input] = {
            {"taskFinalStatus", {{"producerTask", G(it->second).name}}}};
        continue;
      }
      if (param && value.kind_ == Value::Kind::kConstant) {
        Type type = FromIrType(param->value("parameterType", "STRING"));
        if (!Matches(value.constant_, type)) {
          problem("input " + Quote(input) + " is " + IrType(type) + " but is given " +
                  value.constant_.dump());
          continue;
        }
      }
      Value base = value;
      base.field_.clear();
      Json input_spec;
      std::string dep, error;
      if (!Resolve(t.group, base, &input_spec, &dep, &error)) {
        problem(error);
        continue;
      }
      if (!value.field_.empty())
        input_spec["parameterExpressionSelector"] =
            "parseJson(string_value)[\"" + value.field_ + "\"]";
      task["inputs"][value.artifact_ ? "artifacts" : "parameters"][input] = input_spec;
      if (!dep.empty()) deps_[{t.group, name}].insert(dep);
    }
    for (const char* kind : {"parameters", "artifacts"}) {
      const Json* defs = FindPath(spec, std::string("inputDefinitions.") + kind);
      if (!defs) continue;
      for (const auto& [input, def] : defs->items()) {
        if (!given.contains(input) && !def.value("isOptional", false))
          problem("required input " + Quote(input) + " of component " + Quote(t.component.name()) +
                  " is not given");
      }
    }
    if (auto it = exit_group_.find(i); it != exit_group_.end()) {
      deps_[{t.group, name}].insert(G(it->second).name);
      task["triggerPolicy"] = {{"strategy", "ALL_UPSTREAM_TASKS_COMPLETED"}};
    }
    if (!t.retry.is_null()) task["retryPolicy"] = t.retry;
    Dag(t.group)[name] = task;
  }

  // The node of group `lca`'s DAG that holds task i: the task itself or the group around it.
  std::string NodeIn(int lca, int i) {
    int g = p_.tasks_[i]->group;
    if (g == lca) return names_[i];
    while (G(g).parent != lca) g = G(g).parent;
    return G(g).name;
  }

  // After(): the dependency is drawn where both tasks meet, between what holds each there.
  void EmitAfter(int i) {
    for (int j : p_.tasks_[i]->after) {
      int lca = p_.tasks_[j]->group;
      while (!IsAncestorOrSelf(lca, p_.tasks_[i]->group)) lca = G(lca).parent;
      std::string from = NodeIn(lca, i);
      std::string to = NodeIn(lca, j);
      if (from == to) {
        problems_.push_back("task " + Quote(names_[i]) + " cannot run after " + Quote(names_[j]) +
                            ": one encloses the other");
        continue;
      }
      deps_[{lca, from}].insert(to);
    }
  }

  void EmitOutputs() {
    for (const auto& [name, v] : p_.outputs_) {
      if (v.kind_ != Value::Kind::kTaskOutput && v.kind_ != Value::Kind::kTaskArtifact) {
        problems_.push_back("pipeline output " + Quote(name) + " must be a task output");
        continue;
      }
      if (p_.tasks_[v.task_]->group != 0) {
        problems_.push_back("pipeline output " + Quote(name) +
                            " must come from a task at the pipeline's top level");
        continue;
      }
      Json& root = ir_["root"];
      if (v.artifact_) {
        root["outputDefinitions"]["artifacts"][name] = ChannelDefinition(v);
        root["dag"]["outputs"]["artifacts"][name] = {
            {"artifactSelectors", Json::array({{{"producerSubtask", names_[v.task_]},
                                                {"outputArtifactKey", v.name_}}})}};
      } else {
        root["outputDefinitions"]["parameters"][name] = ChannelDefinition(v);
        root["dag"]["outputs"]["parameters"][name] = {
            {"valueFromParameter",
             {{"producerSubtask", names_[v.task_]}, {"outputParameterKey", v.name_}}}};
      }
    }
  }

  const Pipeline& p_;
  Json ir_;
  std::vector<std::string> problems_;
  std::vector<std::string> names_;         // per task
  std::vector<std::string> component_of_;  // per task
  std::map<int, int> exit_group_;          // exit task → its ExitHandler group
  std::map<std::pair<int, std::string>, std::set<std::string>> deps_;  // (group, node) → tasks
};

StatusOr<Json> Pipeline::Compile() const { return Compiler(*this).Run(); }

std::string Pipeline::ToYaml() const {
  auto ir = Compile();
  if (!ir.ok()) {
    std::cerr << ir.status().message() << "\n";
    std::exit(1);
  }
  return "# PIPELINE DEFINITION\n# Name: " + name_ + "\n" + skiff::ToYaml(*ir);
}

}  // namespace skiff::dsl
