// The subset of CEL that KFP's compiler writes into triggerPolicy.condition, e.g.
//   inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads'
//   !(inputs.parameter_values['a'] == 'x') && int(inputs.parameter_values['n']) > 5
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace skiff::pipelines {

// Evaluates `expression` with `inputs` bound as
//   {"parameter_values": {name: value, ...}, "artifacts": {name: {...}, ...}}.
// Supports literals (string, int, double, bool, null, lists), member and index access, == != < <=
// > >=, && || ! (short-circuit), + - * / %, `in`, the ternary operator, parentheses, and the
// functions int(), double(), string(), bool(), size(), has(), plus string methods contains(),
// startsWith(), endsWith(), matches(). A result that is not a bool, an unknown name or a type
// mismatch is kInvalid with the expression and position in the message.
//
// Name lookup: a top-level identifier is a key of `inputs`; `inputs` itself names the whole object
// (so KFP's `inputs.parameter_values[...]` works). KFP-compatible choices where strict CEL differs:
// int and double compare by value (`1 == 1.0`, `2 < 2.5`) and mixed arithmetic widens to double,
// because KFP passes every number to CEL as a protobuf double while its compiler writes int
// literals; values of different kinds are unequal rather than an error (`'1' == 1` is false, as
// in cel-go); `5u` is read as an int. Also supported: parseJson() (KFP's extension), dyn().
StatusOr<bool> EvaluateCondition(std::string_view expression, const Json& inputs);

// Evaluates any expression in the same subset (parameterExpressionSelector), returning its value.
StatusOr<Json> EvaluateExpression(std::string_view expression, const Json& inputs);

// The names KFP binds for a parameterExpressionSelector over `value` (a protobuf Value's fields):
// string_value (strings raw, anything else as compact JSON), and number_value / bool_value /
// list_value / struct_value / null_value for the kind it has. E.g. the compiler's
// `parseJson(string_value)["A_a"]` picks a field of a struct loop item.
Json SelectorBindings(const Json& value);

}  // namespace skiff::pipelines
