#include "apiserver/selector.h"

#include <gtest/gtest.h>

namespace skiff::apiserver {
namespace {

TEST(LabelSelectorTest, EqualityAndSetRequirements) {
  Json labels = {{"app", "train"}, {"tier", "gpu"}};
  auto match = [&](const std::string& s) {
    auto sel = LabelSelector::Parse(s);
    EXPECT_TRUE(sel.ok()) << s;
    return sel->Matches(labels);
  };
  EXPECT_TRUE(match(""));
  EXPECT_TRUE(match("app=train"));
  EXPECT_TRUE(match("app==train,tier=gpu"));
  EXPECT_FALSE(match("app=serve"));
  EXPECT_TRUE(match("app!=serve"));
  EXPECT_TRUE(match("app in (serve, train)"));
  EXPECT_FALSE(match("app notin (train)"));
  EXPECT_TRUE(match("tier"));
  EXPECT_FALSE(match("!tier"));
  EXPECT_TRUE(match("!missing"));
  EXPECT_FALSE(match("missing"));
  EXPECT_FALSE(LabelSelector::Parse("app in (a").ok());
  EXPECT_FALSE(LabelSelector::Parse("bad key=1").ok());
}

TEST(LabelSelectorTest, FromMetav1Selector) {
  auto sel = LabelSelector::FromJson(
      {{"matchLabels", {{"app", "x"}}},
       {"matchExpressions",
        Json::array({{{"key", "env"}, {"operator", "In"}, {"values", {"a", "b"}}}})}});
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches({{"app", "x"}, {"env", "b"}}));
  EXPECT_FALSE(sel->Matches({{"app", "x"}, {"env", "c"}}));
  EXPECT_FALSE(LabelSelector::FromJson(
                   {{"matchExpressions", Json::array({{{"key", "a"}, {"operator", "Near"}}})}})
                   .ok());
}

TEST(FieldSelectorTest, DottedPaths) {
  Json ev = {{"metadata", {{"name", "e1"}, {"namespace", "default"}}},
             {"involvedObject", {{"kind", "Pod"}, {"name", "p"}}}};
  auto sel = FieldSelector::Parse(
      "involvedObject.kind=Pod,involvedObject.name=p,metadata.namespace!=kube-system");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(ev));
  EXPECT_FALSE(FieldSelector::Parse("involvedObject.name=q")->Matches(ev));
  EXPECT_EQ(FieldSelector::Parse("metadata.name=e1")->PinnedName(), "e1");
  EXPECT_FALSE(FieldSelector::Parse("nonsense").ok());
}

}  // namespace
}  // namespace skiff::apiserver
