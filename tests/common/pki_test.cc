// The PKI that lets `skiff` serve HTTPS and accept client certificates without any setup.
#include "common/pki.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/file.h"

namespace skiff::pki {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-pki-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

mode_t FileMode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(PkiTest, CaIsSelfSignedAndLongLived) {
  auto ca = GenerateCa("test-ca");
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto info = ParseCert(ca->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->common_name, "test-ca");
  EXPECT_TRUE(SignedBy(ca->cert_pem, ca->cert_pem));
  EXPECT_TRUE(KeyMatches(ca->cert_pem, ca->key_pem));
  EXPECT_GT(info->not_after, std::chrono::system_clock::now() + std::chrono::hours(24 * 3640));
  EXPECT_NE(ca->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(PkiTest, ServerCertHasSansAndChainsToCa) {
  auto ca = GenerateCa("test-ca");
  ASSERT_TRUE(ca.ok());
  auto server = GenerateServerCert(*ca, {"skiff.example.com", "10.1.2.3", "::1"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto info = ParseCert(server->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->is_ca);
  EXPECT_TRUE(Contains(info->dns_names, "localhost"));
  EXPECT_TRUE(Contains(info->dns_names, "skiff.example.com"));
  EXPECT_TRUE(Contains(info->ip_addresses, "127.0.0.1"));
  EXPECT_TRUE(Contains(info->ip_addresses, "10.1.2.3"));
  EXPECT_TRUE(Contains(info->ip_addresses, "::1"));
  EXPECT_TRUE(SignedBy(server->cert_pem, ca->cert_pem));
  EXPECT_TRUE(KeyMatches(server->cert_pem, server->key_pem));
  EXPECT_FALSE(KeyMatches(server->cert_pem, ca->key_pem));

  auto other = GenerateCa("other-ca");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(SignedBy(server->cert_pem, other->cert_pem));
  EXPECT_FALSE(GenerateServerCert(*ca, {"a,DNS:evil"}).ok());
}

TEST(PkiTest, ClientCertCarriesUserAndGroups) {
  auto ca = GenerateCa("test-ca");
  ASSERT_TRUE(ca.ok());
  auto client = GenerateClientCert(*ca, "alice", {"system:masters", "team-a"});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto info = ParseCert(client->cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "alice");
  EXPECT_EQ(info->organizations, (std::vector<std::string>{"system:masters", "team-a"}));
  EXPECT_TRUE(SignedBy(client->cert_pem, ca->cert_pem));
  EXPECT_FALSE(GenerateClientCert(*ca, "", {}).ok());
  EXPECT_FALSE(GenerateClientCert({"garbage", "garbage"}, "bob", {}).ok());
}

TEST(PkiTest, EnsureServingCertsCreatesOnceThenReuses) {
  TempDir tmp;
  std::string dir = tmp.path() + "/pki";
  auto first = EnsureServingCerts(dir);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(FileMode(first->ca_key_file), 0600u);
  EXPECT_EQ(FileMode(first->key_file), 0600u);
  EXPECT_EQ(FileMode(first->cert_file), 0644u);
  auto ca_pem = ReadFile(first->ca_cert_file);
  auto server_pem = ReadFile(first->cert_file);
  ASSERT_TRUE(ca_pem.ok() && server_pem.ok());
  EXPECT_EQ(*ca_pem, first->ca_pem);
  EXPECT_TRUE(SignedBy(*server_pem, *ca_pem));

  auto second = EnsureServingCerts(dir);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*ReadFile(second->ca_cert_file), *ca_pem);
  EXPECT_EQ(*ReadFile(second->cert_file), *server_pem);

  // A missing server certificate is issued again by the same CA.
  std::filesystem::remove(first->cert_file);
  auto third = EnsureServingCerts(dir);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*ReadFile(third->ca_cert_file), *ca_pem);
  auto reissued = ReadFile(third->cert_file);
  ASSERT_TRUE(reissued.ok());
  EXPECT_NE(*reissued, *server_pem);
  EXPECT_TRUE(SignedBy(*reissued, *ca_pem));
  EXPECT_TRUE(KeyMatches(*reissued, *ReadFile(third->key_file)));

  // A new name is added by reissuing.
  auto named = EnsureServingCerts(dir, {"skiff.internal"});
  ASSERT_TRUE(named.ok());
  auto info = ParseCert(*ReadFile(named->cert_file));
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(Contains(info->dns_names, "skiff.internal"));
  EXPECT_EQ(*ReadFile(named->ca_cert_file), *ca_pem);
}

TEST(PkiTest, EnsureServingCertsReplacesExpiringServerCert) {
  TempDir tmp;
  auto first = EnsureServingCerts(tmp.path());
  ASSERT_TRUE(first.ok());
  CertKey ca{*ReadFile(first->ca_cert_file), *ReadFile(first->ca_key_file)};
  auto short_lived = GenerateServerCert(ca, {}, /*valid_days=*/1);
  ASSERT_TRUE(short_lived.ok());
  ASSERT_TRUE(WriteFileAtomic(first->cert_file, short_lived->cert_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(first->key_file, short_lived->key_pem, 0600).ok());

  auto again = EnsureServingCerts(tmp.path());
  ASSERT_TRUE(again.ok());
  auto info = ParseCert(*ReadFile(again->cert_file));
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->not_after, std::chrono::system_clock::now() + std::chrono::hours(24 * 300));
  EXPECT_EQ(*ReadFile(again->ca_cert_file), ca.cert_pem);
}

TEST(PkiTest, EnsureServingCertsReplacesMismatchedKey) {
  TempDir tmp;
  auto first = EnsureServingCerts(tmp.path());
  ASSERT_TRUE(first.ok());
  auto other = GenerateCa("unrelated");
  ASSERT_TRUE(WriteFileAtomic(first->key_file, other->key_pem, 0600).ok());
  auto again = EnsureServingCerts(tmp.path());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(KeyMatches(*ReadFile(again->cert_file), *ReadFile(again->key_file)));
}

TEST(PkiTest, Sha256Hex) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(PkiTest, RandomTokenIsHexAndFresh) {
  std::string a = RandomToken(16);
  std::string b = RandomToken(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
  EXPECT_EQ(RandomToken().size(), 64u);
}

}  // namespace
}  // namespace skiff::pki
