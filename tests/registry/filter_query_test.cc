// filterQuery parsing and matching over REST entities, upstream's documented forms.
#include "registry/filter_query.h"

#include <gtest/gtest.h>

namespace skiff::registry {
namespace {

const Json kEntity = {
    {"id", "12"},
    {"name", "mnist-cnn"},
    {"state", "LIVE"},
    {"createTimeSinceEpoch", "1700000000000"},
    {"customProperties",
     {{"framework", {{"metadataType", "MetadataStringValue"}, {"string_value", "pytorch"}}},
      {"accuracy", {{"metadataType", "MetadataDoubleValue"}, {"double_value", 0.93}}},
      {"epochs", {{"metadataType", "MetadataIntValue"}, {"int_value", "10"}}},
      {"tuned", {{"metadataType", "MetadataBoolValue"}, {"bool_value", true}}},
      {"mlflow.source.type",
       {{"metadataType", "MetadataStringValue"}, {"string_value", "notebook"}}}}}};

bool Match(const std::string& q) {
  auto f = FilterQuery::Parse(q);
  EXPECT_TRUE(f.ok()) << q << ": " << f.status().message();
  return f.ok() && f->Matches(kEntity);
}

TEST(FilterQuery, StandardAndCustomProperties) {
  EXPECT_TRUE(Match(""));
  EXPECT_TRUE(Match("name = 'mnist-cnn'"));
  EXPECT_TRUE(Match("name = \"mnist-cnn\""));
  EXPECT_FALSE(Match("name = 'mnist'"));
  EXPECT_TRUE(Match("name != 'mnist'"));
  EXPECT_TRUE(Match("name <> 'mnist'"));
  EXPECT_TRUE(Match("name LIKE 'mnist%'"));
  EXPECT_TRUE(Match("name LIKE '%cn_'"));
  EXPECT_FALSE(Match("name LIKE 'MNIST%'"));
  EXPECT_TRUE(Match("name ILIKE 'MNIST%'"));
  EXPECT_TRUE(Match("id = 12"));
  EXPECT_TRUE(Match("createTimeSinceEpoch > 1600000000000"));
  EXPECT_TRUE(Match("framework = 'pytorch'"));
  EXPECT_TRUE(Match("framework.string_value = 'pytorch'"));
  EXPECT_TRUE(Match("customProperties.framework.string_value = 'pytorch'"));
  EXPECT_FALSE(Match("framework.double_value = 1"));
  EXPECT_TRUE(Match("accuracy > 0.9 AND accuracy <= 0.93"));
  EXPECT_TRUE(Match("accuracy >= 9.3e-1"));
  EXPECT_TRUE(Match("epochs = 10"));
  EXPECT_TRUE(Match("epochs.int_value >= 5"));
  EXPECT_TRUE(Match("tuned = true"));
  EXPECT_TRUE(Match("tuned = TRUE AND NOT_THERE = 1 OR state = 'LIVE'"));
  EXPECT_TRUE(Match("`mlflow.source.type` = \"notebook\""));
  EXPECT_TRUE(Match("`mlflow.source.type`.string_value = 'notebook'"));
  EXPECT_TRUE(Match("(name = 'a' OR name = 'mnist-cnn') AND state = 'LIVE'"));
  EXPECT_FALSE(Match("name = 'a' OR name = 'mnist-cnn' AND state = 'ARCHIVED'"));
  EXPECT_TRUE(Match("state IN ('ARCHIVED', 'LIVE')"));
  EXPECT_FALSE(Match("missing != 'x'"));  // SQL: no value matches nothing
  EXPECT_TRUE(Match("name = 'it''s' OR name = 'mnist-cnn'"));
}

TEST(FilterQuery, ErrorsSayWhere) {
  for (const char* bad :
       {"name =", "name 'x'", "= 'x'", "name = 'x", "(name = 'x'", "name = 'x' AND", "name IN 'x'",
        "name LIKE 3", "name ! 'x'", "name = 'x' extra"}) {
    auto f = FilterQuery::Parse(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), Code::kBadRequest);
    EXPECT_NE(f.status().message().find("position"), std::string::npos) << f.status().message();
  }
}

}  // namespace
}  // namespace skiff::registry
