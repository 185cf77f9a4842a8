#include "common/json.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace skiff {
namespace {

TEST(YamlTest, ScalarsFollowTheCoreSchema) {
  auto doc = ParseYaml("a: 1\nb: 1.5\nc: true\nd: null\ne: \"1\"\nf: hello\ng: 0x10\nh: ''\n");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["a"], 1);
  EXPECT_EQ((*doc)["b"], 1.5);
  EXPECT_EQ((*doc)["c"], true);
  EXPECT_TRUE((*doc)["d"].is_null());
  EXPECT_EQ((*doc)["e"], "1");
  EXPECT_EQ((*doc)["f"], "hello");
  EXPECT_EQ((*doc)["g"], 16);
  EXPECT_EQ((*doc)["h"], "");
}

TEST(YamlTest, MalformedYamlNamesTheLine) {
  auto bad = ParseYaml("a: 1\nb: [unclosed\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().HttpCode(), 400);
  EXPECT_NE(bad.status().message().find("line"), std::string::npos);
}

TEST(YamlTest, MultipleDocumentsSkipEmptyOnes) {
  auto docs = ParseYamlDocuments("---\na: 1\n---\n---\nb: 2\n");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1]["b"], 2);
}

TEST(YamlTest, EmitterRoundTrips) {
  Json v = Json::parse(R"({"s":"true","n":"007","t":"plain text","m":"line1\nline2\n",
    "list":[{"name":"a","x":[1,2]},"b"],"empty":{},"none":[],"colon":"a: b","neg":-3,"f":2.5,
    "k:ey":"v","star":"*x","nul":null,"lead":" space"})");
  std::string yaml = ToYaml(v);
  auto back = ParseYaml(yaml);
  ASSERT_TRUE(back.ok()) << yaml;
  EXPECT_EQ(*back, v) << yaml;
}

TEST(ClockTest, Rfc3339AndHumanDurations) {
  std::chrono::system_clock::time_point t;
  ASSERT_TRUE(ParseRfc3339("2026-11-29T13:12:32Z", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-29T13:12:32Z");
  ASSERT_TRUE(ParseRfc3339("2026-11-29T14:12:32.5+01:00", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-29T13:12:32Z");
  EXPECT_FALSE(ParseRfc3339("yesterday", &t));
  using std::chrono::seconds;
  EXPECT_EQ(HumanDuration(seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(seconds(303)), "5m3s");
  EXPECT_EQ(HumanDuration(seconds(3600 * 4 + 600)), "4h10m");
  EXPECT_EQ(HumanDuration(seconds(86400 * 4 + 7200)), "4d2h");
}

}  // namespace
}  // namespace skiff
