// skiff's C++ pipeline DSL: components and pipelines declared in C++, compiled to KFP v2 IR (the
// same PipelineSpec the KFP compiler writes), which `skiff pipeline upload` takes as it is.
//
//   using namespace skiff::dsl;
//   Component add = Component("add").Image("python:3.11")
//       .Input("a", Type::Integer).Input("b", Type::Integer).Output("sum", Type::Integer)
//       .Command({"sh", "-c", "echo $(($0 + $1)) > $2"})
//       .Args({InputParam("a"), InputParam("b"), OutputParamFile("sum")});
//   Pipeline p("add-pipeline");
//   Value x = p.Input("x", Type::Integer, 1);
//   PipelineTask t1 = p.Task(add, {{"a", x}, {"b", 2}});
//   p.If(t1.Output("sum") > 2, [&] { p.Task(add, {{"a", t1.Output("sum")}, {"b", 3}}); });
//   std::cout << p.ToYaml();
//
// Declaring only records; Compile() checks everything (unknown inputs and outputs, values used
// outside the group that makes them, type mismatches) and says what is wrong, naming the task.
// Nothing here is thread-safe; a Pipeline is built and compiled on one thread.
#pragma once

#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::dsl {

using Json = skiff::Json;  // constants: lists (Json::array) and structs (Json::object)

// Parameter types (KFP's ParameterType).
enum class Type { String, Number, Integer, Boolean, List, Struct, TaskFinalStatus };

// Artifact types, by KFP schema title.
struct ArtifactType {
  std::string schema_title;
};
inline const ArtifactType kArtifact{"system.Artifact"};
inline const ArtifactType kDataset{"system.Dataset"};
inline const ArtifactType kModel{"system.Model"};
inline const ArtifactType kMetrics{"system.Metrics"};
inline const ArtifactType kClassificationMetrics{"system.ClassificationMetrics"};
inline const ArtifactType kHtml{"system.HTML"};
inline const ArtifactType kMarkdown{"system.Markdown"};

// One element of a container's command or args: literal text or a placeholder the engine
// resolves when the task runs.
class Arg {
 public:
  Arg(const char* text) : text_(text) {}             // NOLINT: literals read naturally in lists
  Arg(std::string text) : text_(std::move(text)) {}  // NOLINT
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

Arg InputParam(const std::string& name);       // the parameter's value
Arg InputPath(const std::string& name);        // local path of an input artifact
Arg InputUri(const std::string& name);         // URI of an input artifact
Arg OutputParamFile(const std::string& name);  // file to write an output parameter's value to
Arg OutputPath(const std::string& name);       // local path to write an output artifact to
Arg OutputUri(const std::string& name);        // URI of an output artifact
Arg ExecutorInput();                           // the whole executor input as JSON ({{$}})
// Joins its parts into one argument.
Arg Concat(std::vector<Arg> parts);
// `then` when the optional input `name` was given, else `otherwise`; spliced into the list.
Arg IfPresent(const std::string& name, std::vector<Arg> then, std::vector<Arg> otherwise = {});

// A containerised step with typed inputs and outputs. A value type: copy it freely; each task
// that uses it shares one IR component.
class Component {
 public:
  explicit Component(std::string name);

  Component& Description(std::string text);
  Component& Image(std::string image);
  Component& Command(std::vector<Arg> command);
  Component& Args(std::vector<Arg> args);
  Component& Env(const std::string& name, const std::string& value);
  // A parameter input; with a default it may be left unset.
  Component& Input(const std::string& name, Type type, std::optional<Json> default_value = {});
  // A parameter input the task may leave unset (see IfPresent).
  Component& OptionalInput(const std::string& name, Type type);
  Component& InputArtifact(const std::string& name, const ArtifactType& type = kArtifact,
                           bool optional = false);
  Component& Output(const std::string& name, Type type);
  Component& OutputArtifact(const std::string& name, const ArtifactType& type = kArtifact);
  Component& CpuLimit(std::string cpu);        // e.g. "500m"
  Component& MemoryLimit(std::string memory);  // e.g. "1Gi"

  const std::string& name() const { return name_; }
  // The IR ComponentSpec (executorLabel left for the compiler) and PipelineContainerSpec.
  Json Spec() const;
  Json Container() const;
  bool HasInput(const std::string& name) const;
  bool HasOutputParameter(const std::string& name) const;
  bool HasOutputArtifact(const std::string& name) const;

 private:
  std::string name_;
  std::string description_;
  std::string image_;
  std::vector<Arg> command_, args_;
  std::vector<std::pair<std::string, std::string>> env_;
  Json inputs_ = Json::object();   // inputDefinitions
  Json outputs_ = Json::object();  // outputDefinitions
  Json resources_ = Json::object();
};

class Pipeline;

// What a task input is given: a constant, a pipeline input, another task's output, a loop item,
// or the final status of an exit handler's tasks. Made by Pipeline and PipelineTask; constants
// convert implicitly.
class Value {
 public:
  Value(int v) : constant_(v) {}                       // NOLINT: constants read naturally
  Value(int64_t v) : constant_(v) {}                   // NOLINT
  Value(double v) : constant_(v) {}                    // NOLINT
  Value(bool v) : constant_(v) {}                      // NOLINT
  Value(const char* v) : constant_(std::string(v)) {}  // NOLINT
  Value(std::string v) : constant_(std::move(v)) {}    // NOLINT
  explicit Value(Json constant) : constant_(std::move(constant)) {}  // lists, structs

  // A field of a STRUCT loop item (KFP's item.a): the task receives item["a"].
  Value Field(const std::string& key) const;

  enum class Kind {
    kConstant,
    kPipelineParam,
    kPipelineArtifact,
    kTaskOutput,
    kTaskArtifact,
    kLoopItem,
    kFinalStatus
  };
  Kind kind() const { return kind_; }

 private:
  friend class Pipeline;
  friend class PipelineTask;
  friend class Compiler;
  friend Value FinalStatus();
  Value() = default;

  Kind kind_ = Kind::kConstant;
  Json constant_;
  std::string name_;   // pipeline input, or the task output's key
  int task_ = -1;      // producing task
  int group_ = -1;     // the loop of a loop item
  std::string field_;  // Field()
  Type type_ = Type::String;
  bool artifact_ = false;
};

// The status of the tasks an exit handler guards, for the exit task's TASK_FINAL_STATUS input.
Value FinalStatus();

// A trigger condition over values, e.g. `flip.Output("Output") == "heads"`, `n > 5`, combined
// with &&, || and !. Compiled to the CEL expression KFP writes in triggerPolicy.condition.
class Condition {
 public:
  Condition operator&&(const Condition& other) const;
  Condition operator||(const Condition& other) const;
  Condition operator!() const;

 private:
  friend class Compiler;
  friend Condition Compare(const Value& lhs, const std::string& op, const Json& rhs);
  // Operands appear in `expr_` as \x01<index>\x02.
  std::string expr_;
  std::vector<Value> operands_;
};

Condition Compare(const Value& lhs, const std::string& op, const Json& rhs);
inline Condition operator==(const Value& v, const Json& c) { return Compare(v, "==", c); }
inline Condition operator!=(const Value& v, const Json& c) { return Compare(v, "!=", c); }
inline Condition operator<(const Value& v, const Json& c) { return Compare(v, "<", c); }
inline Condition operator<=(const Value& v, const Json& c) { return Compare(v, "<=", c); }
inline Condition operator>(const Value& v, const Json& c) { return Compare(v, ">", c); }
inline Condition operator>=(const Value& v, const Json& c) { return Compare(v, ">=", c); }

// A handle on a task of a Pipeline (which owns it); valid while the Pipeline lives.
class PipelineTask {
 public:
  // The output `name` (a parameter or an artifact); with no name, the component's only output.
  Value Output(const std::string& name = "") const;

  // Runs after `other` even without using its outputs.
  PipelineTask& After(const PipelineTask& other);
  // Retries a failed attempt up to `max_retries` times, waiting `backoff` ("30s"), multiplied by
  // `factor` after each attempt, never more than `max_backoff`.
  PipelineTask& Retry(int max_retries, std::string backoff = "", double factor = 0,
                      std::string max_backoff = "");
  // Always runs, never reusing an earlier identical execution.
  PipelineTask& DisableCache();
  // The task's name in the IR (default: the component's name, made unique with -2, -3, ...).
  PipelineTask& Name(const std::string& name);

 private:
  friend class Pipeline;
  PipelineTask(Pipeline* pipeline, int index) : pipeline_(pipeline), index_(index) {}
  Pipeline* pipeline_;
  int index_;
};

using Inputs = std::initializer_list<std::pair<std::string, Value>>;

class Pipeline {
 public:
  explicit Pipeline(std::string name);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  Pipeline& Description(std::string text);
  Pipeline& DisplayName(std::string text);
  // A run-time input parameter; with a default it may be left unset.
  Value Input(const std::string& name, Type type, std::optional<Json> default_value = {});
  Value InputArtifact(const std::string& name, const ArtifactType& type = kArtifact);
  // Declares a pipeline output taken from a task output in the pipeline's top level.
  void Output(const std::string& name, const Value& value);

  // A task running `component` with `inputs`, in the group being declared (the pipeline's top
  // level, or the body of If / ParallelFor / ExitHandler).
  PipelineTask Task(const Component& component, Inputs inputs = {});

  // Runs the tasks `body` declares only when `condition` holds (and those of `otherwise` when
  // it does not).
  void If(const Condition& condition, const std::function<void()>& body,
          const std::function<void()>& otherwise = nullptr);
  // Runs the tasks `body` declares once per item of `items` (a LIST input or task output), at
  // most `parallelism` at a time (0: no limit). `body` receives the item.
  void ParallelFor(const Value& items, const std::function<void(const Value&)>& body,
                   int parallelism = 0, Type item_type = Type::String);
  // As above over a list fixed at compile time.
  void ParallelFor(const Json& items, const std::function<void(const Value&)>& body,
                   int parallelism = 0);
  // Runs `exit_task` once the tasks `body` declares have finished, whether they succeeded or
  // not; an exit task input given FinalStatus() receives their status.
  void ExitHandler(const PipelineTask& exit_task, const std::function<void()>& body);

  // The KFP v2 IR, or kInvalid listing every problem.
  StatusOr<Json> Compile() const;
  // The IR as the YAML the KFP compiler writes. For small compile programs: when the pipeline
  // does not compile, prints the problems to stderr and exits with status 1 (use Compile() to
  // handle them instead).
  std::string ToYaml() const;

  const std::string& name() const { return name_; }

  struct TaskNode;
  struct Group;

 private:
  friend class PipelineTask;
  friend class Compiler;
  int NewGroup(int kind, const std::string& prefix);
  void Declare(int group, const std::function<void()>& body);

  std::string name_, description_, display_name_;
  Json inputs_ = Json::object();  // root inputDefinitions
  std::vector<std::pair<std::string, Value>> outputs_;
  std::vector<std::unique_ptr<TaskNode>> tasks_;
  std::vector<std::unique_ptr<Group>> groups_;  // [0] is the pipeline's top level
  int current_ = 0;                             // the group tasks are declared into
  std::vector<std::string> errors_;             // found while declaring
};

}  // namespace skiff::dsl
