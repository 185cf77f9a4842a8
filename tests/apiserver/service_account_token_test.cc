// Service-account tokens: issued by one key, refused when altered or signed by another, kept
// across restarts, and accepted by the HTTPS API server as the ServiceAccount's user.
#include "apiserver/service_account_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/encoding.h"
#include "common/json.h"
#include "https_fixture.h"

namespace skiff::apiserver {
namespace {

std::string FromBase64Url(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  s.append((4 - s.size() % 4) % 4, '=');
  return Base64Decode(s).value_or("");
}

std::string ToBase64Url(const std::string& in) {
  std::string s = Base64Encode(in);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

struct Parts {
  std::string header, claims, signature;
};

Parts Split(const std::string& token) {
  size_t a = token.find('.'), b = token.rfind('.');
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

const std::string kKey(64, 'k');

TEST(ServiceAccountTokenTest, AnIssuedTokenNamesTheServiceAccountAndItsGroups) {
  ServiceAccountTokens tokens(kKey);
  std::string token = tokens.Issue("team-a", "builder");
  auto user = tokens.Verify(token);
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->name, "system:serviceaccount:team-a:builder");
  EXPECT_EQ(user->groups,
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:team-a"}));
}

TEST(ServiceAccountTokenTest, TheTokenIsAJwtToolsCanDecode) {
  ServiceAccountTokens tokens(kKey);
  Parts p = Split(tokens.Issue("team-a", "builder", "uid-1"));
  auto header = ParseJson(FromBase64Url(p.header));
  auto claims = ParseJson(FromBase64Url(p.claims));
  ASSERT_TRUE(header.ok() && claims.ok());
  EXPECT_EQ((*header)["alg"], "HS256");
  EXPECT_EQ((*claims)["sub"], "system:serviceaccount:team-a:builder");
  EXPECT_EQ((*claims)["kubernetes.io"]["namespace"], "team-a");
  EXPECT_EQ((*claims)["kubernetes.io"]["serviceaccount"]["name"], "builder");
  EXPECT_EQ((*claims)["kubernetes.io"]["serviceaccount"]["uid"], "uid-1");
  EXPECT_TRUE((*claims)["iat"].is_number_integer());
  EXPECT_FALSE((*claims)["iss"].get<std::string>().empty());
}

TEST(ServiceAccountTokenTest, AlteredClaimsOrSignaturesAreRefused) {
  ServiceAccountTokens tokens(kKey);
  std::string token = tokens.Issue("team-a", "builder");
  Parts p = Split(token);

  // Another namespace in the claims, the original signature kept.
  Json claims = *ParseJson(FromBase64Url(p.claims));
  claims["kubernetes.io"]["namespace"] = "kube-system";
  claims["sub"] = "system:serviceaccount:kube-system:builder";
  std::string forged = p.header + "." + ToBase64Url(claims.dump()) + "." + p.signature;
  EXPECT_EQ(tokens.Verify(forged).status().code(), Code::kUnauthorized);

  std::string bad_sig = token;
  bad_sig.back() = bad_sig.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(tokens.Verify(bad_sig).status().code(), Code::kUnauthorized);

  // "alg: none" with an empty signature, the classic JWT downgrade.
  std::string none = ToBase64Url(R"({"alg":"none","typ":"JWT"})") + "." + p.claims + ".";
  EXPECT_EQ(tokens.Verify(none).status().code(), Code::kUnauthorized);

  for (const char* junk : {"", ".", "..", "abc", "a.b", "a.b.c.d"}) {
    EXPECT_EQ(tokens.Verify(junk).status().code(), Code::kUnauthorized) << junk;
  }
  EXPECT_TRUE(tokens.Verify(token).ok());
}

TEST(ServiceAccountTokenTest, ATokenOfAnotherKeyIsRefused) {
  ServiceAccountTokens mine(kKey), theirs(std::string(64, 'x'));
  EXPECT_EQ(mine.Verify(theirs.Issue("default", "default")).status().code(), Code::kUnauthorized);
  auto random_a = ServiceAccountTokens::Open("");
  auto random_b = ServiceAccountTokens::Open("");
  ASSERT_TRUE(random_a.ok() && random_b.ok());
  EXPECT_TRUE((*random_a)->Verify((*random_a)->Issue("default", "default")).ok());
  EXPECT_FALSE((*random_b)->Verify((*random_a)->Issue("default", "default")).ok());
}

TEST(ServiceAccountTokenTest, TheKeyFileIsCreatedPrivateAndReused) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-satoken-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string file = tmpl + "/service-account.key";
  auto first = ServiceAccountTokens::Open(file);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string token = (*first)->Issue("default", "default");

  auto again = ServiceAccountTokens::Open(file);  // as after a restart of skiff
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->Verify(token).ok());
  std::filesystem::remove_all(tmpl);
}

// The real server over HTTPS, as a Pod's kubectl reaches it.
class ServiceAccountHttpsTest : public HttpsApiServerTest {
 protected:
  http::Response WhoAmI(const std::string& token) {
    return Do("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
              R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})",
              {{"Authorization", "Bearer " + token}}, /*auth=*/false);
  }
};

TEST_F(ServiceAccountHttpsTest, TheServerAcceptsItsTokensAsTheServiceAccount) {
  std::string token = server_->ServiceAccountToken("default", "pipeline-runner");
  http::Response r = WhoAmI(token);
  ASSERT_EQ(r.status, 201) << r.body;
  Json review = *ParseJson(r.body);
  EXPECT_EQ(review["status"]["userInfo"]["username"],
            "system:serviceaccount:default:pipeline-runner");
  EXPECT_EQ(review["status"]["userInfo"]["groups"],
            Json::array({"system:serviceaccounts", "system:serviceaccounts:default",
                         "system:authenticated"}));

  http::Response list = Do("GET", "/api/v1/namespaces/default/pods", "",
                           {{"Authorization", "Bearer " + token}}, /*auth=*/false);
  EXPECT_EQ(list.status, 200) << list.body;

  ServiceAccountTokens foreign(std::string(64, 'f'));
  EXPECT_EQ(WhoAmI(foreign.Issue("default", "pipeline-runner")).status, 401);
  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'a' ? 'b' : 'a';
  EXPECT_EQ(WhoAmI(tampered).status, 401);
  EXPECT_FALSE(server_->ca_pem().empty());
}

}  // namespace
}  // namespace skiff::apiserver
