// URL codecs and Request helpers: what the apiserver sees of a kubectl request line.
#include "http/http.h"

#include <gtest/gtest.h>

namespace skiff::http {
namespace {

TEST(PercentDecodeTest, DecodesEscapesAndKeepsPlus) {
  EXPECT_EQ(PercentDecode("/api/v1/namespaces/a%20b"), "/api/v1/namespaces/a b");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");  // '+' is only special in queries
  EXPECT_EQ(PercentDecode("%2f%2F"), "//");
  // Malformed escapes stay as they are instead of swallowing characters.
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
}

TEST(PercentEncodeTest, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string encoded = PercentEncode(all);
  EXPECT_EQ(encoded.find_first_of(" /?&=+%#", encoded.find("%FF") + 3), std::string::npos);
  EXPECT_EQ(PercentDecode(encoded), all);
  EXPECT_EQ(PercentEncode("app in (a,b)"), "app%20in%20%28a%2Cb%29");
  EXPECT_EQ(PercentEncode("safe-._~AZaz09"), "safe-._~AZaz09");
}

TEST(ParseQueryTest, FollowsGoUrlParseQuery) {
  auto q = ParseQuery("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&x=1&x=2&flag&=v&&plus=%2B");
  EXPECT_EQ(q.find("labelSelector")->second, "app=web,tier in (a)");
  EXPECT_EQ(q.find("watch")->second, "1");
  EXPECT_EQ(q.count("x"), 2u);
  auto [first, last] = q.equal_range("x");
  EXPECT_EQ(first->second, "1");
  EXPECT_EQ(std::next(first)->second, "2");
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("")->second, "v");
  EXPECT_EQ(q.find("plus")->second, "+");
  EXPECT_TRUE(ParseQuery("").empty());
}

TEST(RequestTest, QueryAndHeaderHelpers) {
  Request r;
  r.query = ParseQuery("limit=5&limit=6&empty=");
  r.headers["Content-Type"] = "application/yaml";
  EXPECT_EQ(r.Query("limit"), "5");
  EXPECT_EQ(r.Query("missing", "dflt"), "dflt");
  EXPECT_TRUE(r.HasQuery("empty"));
  EXPECT_EQ(r.Query("empty", "dflt"), "");
  EXPECT_FALSE(r.HasQuery("missing"));
  EXPECT_EQ(r.Header("content-type"), "application/yaml");
  EXPECT_EQ(r.Header("CONTENT-TYPE"), "application/yaml");
  EXPECT_EQ(r.Header("Accept"), "");
}

TEST(CaseInsensitiveLessTest, OrdersIgnoringCase) {
  CaseInsensitiveLess less;
  EXPECT_FALSE(less("Accept", "accept"));
  EXPECT_FALSE(less("accept", "Accept"));
  EXPECT_TRUE(less("Accept", "Bccept"));
  EXPECT_TRUE(less("a", "AB"));
  Headers h;
  h["X-Foo"] = "1";
  h["x-foo"] = "2";
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h["X-FOO"], "2");
}

}  // namespace
}  // namespace skiff::http
