#include "pipelines/cel.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace skiff::pipelines {
namespace {

const Json& Inputs() {
  static const Json inputs = Json::parse(R"({
    "parameter_values": {
      "pipelinechannel--flip-coin-Output": "heads",
      "pipelinechannel--n": 7,
      "pipelinechannel--ratio": 0.5,
      "pipelinechannel--as-text": "12",
      "pipelinechannel--flag": true,
      "pipelinechannel--list": ["a", "b"],
      "pipelinechannel--struct": {"A_a": "x", "n": 2}
    },
    "artifacts": {
      "model": {"artifacts": [{"uri": "s3://b/m", "metadata": {"accuracy": 0.9}}]}
    }
  })");
  return inputs;
}

Json Eval(std::string_view expression, const Json& inputs = Inputs()) {
  auto value = EvaluateExpression(expression, inputs);
  EXPECT_TRUE(value.ok()) << expression << ": " << value.status().message();
  return value.ok() ? *value : Json("<error>");
}

bool Cond(std::string_view expression, const Json& inputs = Inputs()) {
  auto value = EvaluateCondition(expression, inputs);
  EXPECT_TRUE(value.ok()) << expression << ": " << value.status().message();
  return value.ok() && *value;
}

std::string Error(std::string_view expression, const Json& inputs = Inputs()) {
  auto value = EvaluateExpression(expression, inputs);
  EXPECT_FALSE(value.ok()) << expression << " evaluated to " << (value.ok() ? value->dump() : "");
  if (value.ok()) return "";
  EXPECT_EQ(value.status().code(), Code::kInvalid);
  return value.status().message();
}

TEST(CelTest, Literals) {
  EXPECT_EQ(Eval("42"), 42);
  EXPECT_TRUE(Eval("42").is_number_integer());
  EXPECT_EQ(Eval("0x1F"), 31);
  EXPECT_EQ(Eval("7u"), 7);
  EXPECT_EQ(Eval("2.5"), 2.5);
  EXPECT_TRUE(Eval("1e3").is_number_float());
  EXPECT_EQ(Eval("'single'"), "single");
  EXPECT_EQ(Eval("\"double\""), "double");
  EXPECT_EQ(Eval("'''tri'ple'''"), "tri'ple");
  EXPECT_EQ(Eval(R"('a\tb\n\'\\\x41\u00e9\101')"),
            "a\tb\n'\\A\xC3\xA9"
            "A");
  EXPECT_EQ(Eval(R"(r'raw\n')"), "raw\\n");
  EXPECT_EQ(Eval("true"), true);
  EXPECT_TRUE(Eval("null").is_null());
  EXPECT_EQ(Eval("[1, 'a', [true],]"), Json::parse(R"([1, "a", [true]])"));
  EXPECT_EQ(Eval("{'k': 1, 'j': [2]}"), Json::parse(R"({"k": 1, "j": [2]})"));
}

TEST(CelTest, ArithmeticAndPrecedence) {
  EXPECT_EQ(Eval("1 + 2 * 3"), 7);
  EXPECT_EQ(Eval("(1 + 2) * 3"), 9);
  EXPECT_EQ(Eval("10 - 4 - 3"), 3);  // left-associative
  EXPECT_EQ(Eval("7 / 2"), 3);       // integer division truncates
  EXPECT_EQ(Eval("-7 / 2"), -3);
  EXPECT_EQ(Eval("7 % 3"), 1);
  EXPECT_EQ(Eval("7.0 / 2.0"), 3.5);
  EXPECT_EQ(Eval("--3"), 3);
  EXPECT_EQ(Eval("'ab' + 'cd'"), "abcd");
  EXPECT_EQ(Eval("[1] + [2]"), Json::parse("[1, 2]"));
  EXPECT_EQ(Eval("1 + 2 == 3 && 2 * 2 > 3"), true);  // arithmetic > relations > &&
  EXPECT_EQ(Eval("true || false && false"), true);   // && binds tighter than ||
  EXPECT_EQ(Eval("!false && !!true"), true);
  EXPECT_EQ(Eval("1 < 2 ? 'yes' : 'no'"), "yes");
  EXPECT_EQ(Eval("false ? 1 : true ? 2 : 3"), 2);  // right-associative
  // Mixed int/double arithmetic widens (documented KFP-compatible choice).
  EXPECT_EQ(Eval("1 + 0.5"), 1.5);
}

TEST(CelTest, Comparisons) {
  EXPECT_TRUE(Cond("'apple' < 'banana'"));
  EXPECT_TRUE(Cond("'Zebra' < 'apple'"));  // lexicographic by code point
  EXPECT_TRUE(Cond("'abc' <= 'abc' && 'abd' > 'abc' && 'b' >= 'abc'"));
  EXPECT_TRUE(Cond("'10' < '9'"));  // strings never compare as numbers
  EXPECT_TRUE(Cond("3 >= 3 && 2 != 3"));
  EXPECT_TRUE(Cond("false < true"));
  // int and double compare by value: KFP's numbers reach CEL as doubles.
  EXPECT_TRUE(Cond("1 == 1.0"));
  EXPECT_TRUE(Cond("2 < 2.5"));
  EXPECT_TRUE(Cond("inputs.parameter_values['pipelinechannel--ratio'] < 1"));
  // Values of different kinds are unequal, not an error (cel-go's heterogeneous equality).
  EXPECT_FALSE(Cond("'1' == 1"));
  EXPECT_TRUE(Cond("'true' != true"));
  EXPECT_TRUE(Cond("null == null"));
  EXPECT_TRUE(Cond("[1, 'a'] == [1.0, 'a']"));
  EXPECT_TRUE(Cond("{'a': 1} == {'a': 1} && {'a': 1} != {'a': 2}"));
}

TEST(CelTest, InputsMembersAndIndexing) {
  EXPECT_TRUE(Cond("inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads'"));
  EXPECT_TRUE(Cond("!(inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'tails')"));
  EXPECT_TRUE(Cond("int(inputs.parameter_values['pipelinechannel--n']) > 5"));
  EXPECT_TRUE(Cond("inputs.parameter_values['pipelinechannel--flag'] == true"));
  EXPECT_EQ(Eval("inputs.parameter_values['pipelinechannel--list'][1]"), "b");
  EXPECT_EQ(Eval("inputs.parameter_values['pipelinechannel--struct'].A_a"), "x");
  EXPECT_EQ(Eval("inputs.artifacts['model'].artifacts[0].metadata['accuracy']"), 0.9);
  // Top-level names are also looked up in the bindings directly.
  EXPECT_EQ(Eval("parameter_values['pipelinechannel--n']"), 7);
  EXPECT_TRUE(Cond("'a' in inputs.parameter_values['pipelinechannel--list']"));
  EXPECT_FALSE(Cond("'z' in inputs.parameter_values['pipelinechannel--list']"));
  EXPECT_TRUE(Cond("'pipelinechannel--n' in inputs.parameter_values"));
  EXPECT_TRUE(Cond("2 in [1, 2.0]"));
}

TEST(CelTest, Functions) {
  EXPECT_EQ(Eval("int('5')"), 5);
  EXPECT_EQ(Eval("int('-12')"), -12);
  EXPECT_EQ(Eval("int(inputs.parameter_values['pipelinechannel--as-text']) + 1"), 13);
  EXPECT_EQ(Eval("int(2.9)"), 2);
  EXPECT_EQ(Eval("int(-2.9)"), -2);
  EXPECT_EQ(Eval("double('1.25')"), 1.25);
  EXPECT_EQ(Eval("double(3)"), 3.0);
  EXPECT_EQ(Eval("string(5)"), "5");
  EXPECT_EQ(Eval("string(-1.5)"), "-1.5");
  EXPECT_EQ(Eval("string(true)"), "true");
  EXPECT_EQ(Eval("string('x')"), "x");
  EXPECT_EQ(Eval("bool('true')"), true);
  EXPECT_EQ(Eval("bool('False')"), false);
  EXPECT_EQ(Eval("size('h\xC3\xA9llo')"), 5);  // code points, not bytes
  EXPECT_EQ(Eval("size([1, 2, 3])"), 3);
  EXPECT_EQ(Eval("[1, 2].size()"), 2);
  EXPECT_EQ(Eval("size({'a': 1})"), 1);
  EXPECT_EQ(Eval("has(inputs.parameter_values.missing)"), false);
  EXPECT_EQ(Eval("has(inputs.parameter_values['pipelinechannel--n'])"), true);
  EXPECT_TRUE(Cond("'pipeline'.contains('pel')"));
  EXPECT_TRUE(Cond("'pipeline'.startsWith('pipe') && 'pipeline'.endsWith('line')"));
  EXPECT_FALSE(Cond("'pipe'.startsWith('pipeline')"));
  EXPECT_TRUE(Cond("'model-v12'.matches('v[0-9]+$')"));
  EXPECT_FALSE(Cond("'model'.matches('^v')"));
  EXPECT_EQ(Eval("parseJson('{\"A_a\": [1, 2]}')['A_a'][1]"), 2);
}

TEST(CelTest, ShortCircuitSkipsTheUndecidedSide) {
  // The right side would fail (missing key, division by zero, unknown name) but is not needed.
  EXPECT_FALSE(Cond("false && inputs.parameter_values['missing'] == 'x'"));
  EXPECT_TRUE(Cond("true || 1 / 0 == 1"));
  EXPECT_TRUE(Cond("true || undefined_name"));
  // CEL's && / || are commutative: an error on the left is absorbed by a deciding right side.
  EXPECT_FALSE(Cond("inputs.parameter_values['missing'] == 'x' && false"));
  EXPECT_TRUE(Cond("1 / 0 == 1 || true"));
  // ...but propagates when the other side does not decide.
  EXPECT_NE(Error("true && 1 / 0 == 1").find("division by zero"), std::string::npos);
  // The ternary evaluates only the branch taken.
  EXPECT_EQ(Eval("true ? 1 : 1 / 0"), 1);
}

TEST(CelTest, ErrorsNameTheProblemAndColumn) {
  std::string message = Error("1 + 'a'");
  EXPECT_NE(message.find("no such overload: int + string"), std::string::npos) << message;
  EXPECT_NE(message.find("column 3"), std::string::npos) << message;
  EXPECT_NE(message.find("`1 + 'a'`"), std::string::npos) << message;

  message = Error("inputs.parameter_values['nope'] == 'x'");
  EXPECT_NE(message.find("no such key: 'nope'"), std::string::npos) << message;
  EXPECT_NE(message.find("column 24"), std::string::npos) << message;

  message = Error("foo == 1");
  EXPECT_NE(message.find("undeclared reference to 'foo'"), std::string::npos) << message;
  EXPECT_NE(message.find("column 1"), std::string::npos) << message;

  message = Error("'abc' < 1");
  EXPECT_NE(message.find("string < int"), std::string::npos) << message;
  EXPECT_NE(Error("!'x'").find("no such overload"), std::string::npos);
  EXPECT_NE(Error("int('5.0')").find("cannot convert '5.0' to int"), std::string::npos);
  EXPECT_NE(Error("int('')").find("to int"), std::string::npos);
  EXPECT_NE(Error("int(true)").find("no such overload: int(bool)"), std::string::npos);
  EXPECT_NE(Error("int(1e300)").find("out of int range"), std::string::npos);
  EXPECT_NE(Error("9223372036854775807 + 1").find("overflow"), std::string::npos);
  EXPECT_NE(Error("5 % 0").find("modulus by zero"), std::string::npos);
  EXPECT_NE(Error("1.5 % 1.0").find("no such overload"), std::string::npos);
  EXPECT_NE(Error("[1][3]").find("out of range"), std::string::npos);
  EXPECT_NE(Error("'x'.frobnicate()").find("undeclared reference to function"), std::string::npos);
  EXPECT_NE(Error("'x'.matches('(')").find("invalid regular expression"), std::string::npos);
  EXPECT_NE(Error("1 ? 2 : 3").find("must be bool"), std::string::npos);
}

TEST(CelTest, SyntaxErrorsHavePositions) {
  std::string message = Error("(1 + 2");
  EXPECT_NE(message.find("expected ')'"), std::string::npos) << message;
  EXPECT_NE(message.find("column 7"), std::string::npos) << message;
  message = Error("a == 'unterminated");
  EXPECT_NE(message.find("unterminated string"), std::string::npos) << message;
  EXPECT_NE(message.find("column 6"), std::string::npos) << message;
  message = Error("1 2");
  EXPECT_NE(message.find("column 3"), std::string::npos) << message;
  EXPECT_NE(Error("a #").find("unexpected character '#'"), std::string::npos);
  EXPECT_NE(Error("").find("unexpected end"), std::string::npos);
  EXPECT_NE(Error("a.").find("field name"), std::string::npos);
  EXPECT_NE(Error("99999999999999999999").find("out of range"), std::string::npos);
  EXPECT_FALSE(EvaluateExpression(std::string(1000, '(') + "1" + std::string(1000, ')'), Inputs())
                   .ok());  // deep nesting is refused, not a stack overflow
}

TEST(CelTest, ConditionMustBeBool) {
  auto result = EvaluateCondition("inputs.parameter_values['pipelinechannel--n']", Inputs());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kInvalid);
  EXPECT_NE(result.status().message().find("int, not bool"), std::string::npos);
}

TEST(CelTest, ParameterExpressionSelector) {
  // What the compiler writes for a field of a struct loop item.
  Json item = Json{{"A_a", "heads"}, {"B_b", 2}};
  auto a = EvaluateExpression("parseJson(string_value)[\"A_a\"]", SelectorBindings(item));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(*a, "heads");
  auto as_string =
      EvaluateExpression("parseJson(string_value)[\"A_a\"]", SelectorBindings(Json(item.dump())));
  ASSERT_TRUE(as_string.ok()) << as_string.status().message();
  EXPECT_EQ(*as_string, "heads");
  EXPECT_EQ(*EvaluateExpression("struct_value.B_b", SelectorBindings(item)), 2);
  EXPECT_EQ(*EvaluateExpression("number_value * 2", SelectorBindings(Json(1.5))), 3.0);
  EXPECT_EQ(*EvaluateExpression("string_value", SelectorBindings(Json::array({1}))), "[1]");
}

// ---- Every triggerPolicy.condition in the conformance files -------------------------------------

void CollectConditions(const Json& node, const std::string& file,
                       std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) {
      if (key == "triggerPolicy" && value.is_object() && value.contains("condition")) {
        out.emplace_back(file, value["condition"].get<std::string>());
      }
      CollectConditions(value, file, out);
    }
  } else if (node.is_array()) {
    for (const Json& item : node) CollectConditions(item, file, out);
  }
}

// Plausible values for the names a condition reads: KFP names a condition's inputs
// `pipelinechannel--<task>-<output>` (or `pipelinechannel--<pipeline input>`); those the
// condition converts with int() get a number-as-string, the rest a string (or bool when the
// condition compares with true/false).
Json PlausibleInputs(const std::string& condition, bool numbers_as_json) {
  Json values = Json::object();
  const std::string marker = "parameter_values['";
  for (size_t pos = condition.find(marker); pos != std::string::npos;
       pos = condition.find(marker, pos + 1)) {
    size_t start = pos + marker.size();
    std::string name = condition.substr(start, condition.find('\'', start) - start);
    bool as_int = pos >= 11 && condition.compare(pos - 11, 11, "int(inputs.") == 0;
    size_t after = condition.find(']', start);
    std::string rest = condition.substr(after, 12);
    if (as_int) {
      values[name] = numbers_as_json ? Json(42) : Json("42");
    } else if (rest.find("true") != std::string::npos || rest.find("false") != std::string::npos) {
      values[name] = true;
    } else {
      values[name] = "heads";
    }
  }
  return Json{{"parameter_values", values}, {"artifacts", Json::object()}};
}

TEST(CelConformanceTest, EveryCompiledConditionParsesAndEvaluates) {
  std::vector<std::pair<std::string, std::string>> conditions;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SKIFF_SHARED_DIR) + "/conformance/kfp")) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml" || name.rfind("invalid__", 0) == 0) continue;
    std::ifstream stream(entry.path());
    std::stringstream text;
    text << stream.rdbuf();
    auto docs = ParseYamlDocuments(text.str());
    ASSERT_TRUE(docs.ok()) << name << ": " << docs.status().message();
    for (const Json& doc : *docs) CollectConditions(doc, name, conditions);
  }
  ASSERT_GT(conditions.size(), 40u);
  std::set<bool> outcomes;
  for (const auto& [file, condition] : conditions) {
    SCOPED_TRACE(file + ": " + condition);
    ASSERT_NE(condition.find("pipelinechannel--"), std::string::npos);
    // Numbers arrive as strings (task outputs) or JSON numbers (typed pipeline inputs); both work.
    for (bool numbers_as_json : {false, true}) {
      auto result = EvaluateCondition(condition, PlausibleInputs(condition, numbers_as_json));
      ASSERT_TRUE(result.ok()) << result.status().message();
      outcomes.insert(*result);
    }
  }
  // The sample values make some conditions true and others false; both must occur.
  EXPECT_EQ(outcomes.size(), 2u);
}

TEST(CelConformanceTest, CompiledConditionShapesEvaluateAsKfpDoes) {
  Json inputs = {{"parameter_values",
                  {{"pipelinechannel--flip-three-sided-die-Output", "tails"},
                   {"pipelinechannel--int-0-to-9999-Output", 7000},
                   {"pipelinechannel--loop-item-param-1", "3"},
                   {"pipelinechannel--threshold", 2},
                   {"pipelinechannel--pick_a", false}}}};
  EXPECT_TRUE(
      Cond("!(inputs.parameter_values['pipelinechannel--flip-three-sided-die-Output'] == "
           "'heads') && inputs.parameter_values['pipelinechannel--flip-three-sided-die-"
           "Output'] == 'tails'",
           inputs));
  EXPECT_TRUE(
      Cond("!(int(inputs.parameter_values['pipelinechannel--int-0-to-9999-Output']) < "
           "5000) && int(inputs.parameter_values['pipelinechannel--int-0-to-9999-Output'])"
           " > 5000",
           inputs));
  EXPECT_TRUE(
      Cond("int(inputs.parameter_values['pipelinechannel--loop-item-param-1']) >= "
           "int(inputs.parameter_values['pipelinechannel--threshold'])",
           inputs));
  EXPECT_TRUE(Cond("!(inputs.parameter_values['pipelinechannel--pick_a'] == true)", inputs));
}

}  // namespace
}  // namespace skiff::pipelines
