#include "apiserver/jsonpath.h"

#include <gtest/gtest.h>

namespace skiff::apiserver {
namespace {

const Json kJob = Json::parse(R"({
  "spec": {"replicas": 3, "labels": {"a.b/c": "x"}},
  "status": {"conditions": [
    {"type": "Created", "status": "True"},
    {"type": "Running", "status": "False"},
    {"type": "Succeeded", "status": "True"}]}
})");

TEST(JsonPathTest, FieldsIndexesSlicesFilters) {
  EXPECT_EQ(EvalJsonPath(kJob, ".spec.replicas"), std::vector<Json>{3});
  EXPECT_EQ(EvalJsonPath(kJob, ".status.conditions[0].type"), std::vector<Json>{"Created"});
  EXPECT_EQ(EvalJsonPath(kJob, ".status.conditions[-1:].type"), std::vector<Json>{"Succeeded"});
  EXPECT_EQ(EvalJsonPath(kJob, ".status.conditions[?(@.type==\"Running\")].status"),
            std::vector<Json>{"False"});
  EXPECT_EQ(EvalJsonPath(kJob, ".status.conditions[*].type").size(), 3u);
  EXPECT_EQ(EvalJsonPath(kJob, ".spec.labels['a.b/c']"), std::vector<Json>{"x"});
  EXPECT_EQ(EvalJsonPath(kJob, "{.spec.replicas}"), std::vector<Json>{3});
  EXPECT_TRUE(EvalJsonPath(kJob, ".spec.missing").empty());
  EXPECT_TRUE(EvalJsonPath(kJob, ".status.conditions[7]").empty());
}

}  // namespace
}  // namespace skiff::apiserver
