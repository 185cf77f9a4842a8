// Kubernetes quantities: exact parsing into milli-units and canonical formatting, as upstream.
#include "scheduler/quantity.h"

#include <gtest/gtest.h>

#include "scheduler/resources.h"

namespace skiff::scheduler {
namespace {

TEST(QuantityTest, ParsesExactly) {
  const struct {
    const char* text;
    int64_t milli;
  } kCases[] = {
      {"0", 0},
      {"1", 1000},
      {"2", 2000},
      {"500m", 500},
      {"1500m", 1500},
      {"0.5", 500},
      {"1.5", 1500},
      {".5", 500},
      {"1.", 1000},
      {"+3", 3000},
      {"-2", -2000},
      {"-500m", -500},
      {"1k", 1000000},
      {"1M", 1000000000},
      {"1G", 1000000000000},
      {"1T", 1000000000000000},
      {"1P", 1000000000000000000},
      {"1Ki", 1024000},
      {"512Mi", 512LL * 1024 * 1024 * 1000},
      {"8Gi", 8LL * 1024 * 1024 * 1024 * 1000},
      {"1.5Gi", 1536LL * 1024 * 1024 * 1000},
      {"1Ti", 1024LL * 1024 * 1024 * 1024 * 1000},
      {"1e3", 1000000},
      {"1E3", 1000000},
      {"1e-3", 1},
      {"15e-1", 1500},
      {"1.5e3", 1500000},
      {"100n", 1},  // below a milli-unit rounds up
      {"1u", 1},    // likewise
      {"1000000n", 1},
      {"0.0001", 1},  // rounds up
      {"0.001", 1},
      {"123456789", 123456789000},
      {"0000.5000", 500},
  };
  for (const auto& c : kCases) {
    auto q = ParseQuantityMilli(c.text);
    ASSERT_TRUE(q.ok()) << c.text << ": " << q.status().ToString();
    EXPECT_EQ(*q, c.milli) << c.text;
  }
}

TEST(QuantityTest, RejectsMalformedAndHuge) {
  for (const char* bad : {"", "abc", "1Q", "1 Gi", "Gi", "1.2.3", "--1", "1e", "1ee3", "1gi", "1KI",
                          ".", "1Ei", "10E", "99999999999999999999"}) {
    auto q = ParseQuantityMilli(bad);
    EXPECT_FALSE(q.ok()) << "accepted " << bad;
    if (!q.ok()) {
      EXPECT_EQ(q.status().code(), Code::kBadRequest) << bad;
    }
  }
}

TEST(QuantityTest, FormatsCanonically) {
  const struct {
    const char* in;
    const char* out;
  } kCases[] = {
      {"1500m", "1500m"}, {"2000m", "2"},       {"0.5", "500m"},      {"2", "2"},
      {"1000", "1k"},     {"1500", "1500"},     {"512Mi", "512Mi"},   {"1.5Gi", "1536Mi"},
      {"1024Mi", "1Gi"},  {"8Gi", "8Gi"},       {"1G", "1G"},         {"8e9", "8e9"},
      {"1e3", "1e3"},     {"15e-1", "1500e-3"}, {"0", "0"},           {"-1500m", "-1500m"},
      {"100Ki", "100Ki"}, {"1023", "1023"},     {"0.1Ki", "102400m"},
  };
  for (const auto& c : kCases) {
    auto q = ParseQuantity(c.in);
    ASSERT_TRUE(q.ok()) << c.in;
    EXPECT_EQ(FormatQuantity(*q), c.out) << c.in;
  }
  EXPECT_EQ(FormatQuantityMilli(4000), "4");
  EXPECT_EQ(FormatQuantityMilli(250), "250m");
  EXPECT_EQ(FormatQuantityMilli(2000000000), "2M");
}

TEST(QuantityTest, JsonNumbersAreQuantities) {
  auto q = ParseQuantityJson(Json(4));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->milli, 4000);
  q = ParseQuantityJson(Json(0.25));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->milli, 250);
  EXPECT_FALSE(ParseQuantityJson(Json::array()).ok());
}

TEST(ResourcesTest, ResourceNamesFormatInTheirUnits) {
  EXPECT_EQ(FormatResource("requests.cpu", 2000), "2");
  EXPECT_EQ(FormatResource("requests.memory", 8LL * 1024 * 1024 * 1024 * 1000), "8Gi");
  EXPECT_EQ(FormatResource("memory", 2000000000000LL), "2G");
  EXPECT_EQ(FormatResource("pods", 10000), "10");
}

TEST(ResourcesTest, EffectiveRequestsFollowUpstream) {
  auto pod = ParseJson(R"({"spec": {
      "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "3"}}}],
      "containers": [
        {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
        {"name": "b", "resources": {"limits": {"cpu": "500m", "nvidia.com/gpu": "1"}}}],
      "overhead": {"cpu": "100m"}}})");
  ASSERT_TRUE(pod.ok());
  ResourceList r = PodRequests(*pod);
  EXPECT_EQ(r["cpu"], 3100);  // max(1 + 0.5, 3) + overhead
  EXPECT_EQ(r["memory"], 1024LL * 1024 * 1024 * 1000);
  EXPECT_EQ(r["nvidia.com/gpu"], 1000);  // requests default to limits
  ResourceList l = PodLimits(*pod);
  EXPECT_EQ(l["cpu"], 600);
}

}  // namespace
}  // namespace skiff::scheduler
