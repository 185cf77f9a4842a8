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
StatusOr<bool> EvaluateCondition(std::string_view expression, const Json& inputs);

// Evaluates any expression in the same subset (parameterExpressionSelector), returning its value.
StatusOr<Json> EvaluateExpression(std::string_view expression, const Json& inputs);

}  // namespace skiff::pipelines
