// storageUri resolution to local paths, and the messages for what is not here.
#include "inference/storage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../client/test_util.h"

namespace skiff::inference {
namespace {

namespace fs = std::filesystem;

TEST(Storage, LocalPathsClaimsAndBuckets) {
  skiff::testing::TempDir home;
  fs::create_directories(home.File("models/mnist"));
  fs::create_directories(home.File("volumes/team/data/model"));
  fs::create_directories(home.File("buckets/my-bucket/mnist-model"));
  std::ofstream(home.File("models/model.pt")) << "x";

  auto loc = ResolveStorageUri("file://" + home.File("models/mnist"), "ns", home.path());
  ASSERT_TRUE(loc.ok) << loc.message;
  EXPECT_EQ(loc.host_path, home.File("models/mnist"));
  EXPECT_FALSE(loc.is_file);
  loc = ResolveStorageUri(home.File("models/model.pt"), "ns", home.path());
  ASSERT_TRUE(loc.ok) << loc.message;
  EXPECT_TRUE(loc.is_file);

  loc = ResolveStorageUri("pvc://data/model", "team", home.path());
  ASSERT_TRUE(loc.ok) << loc.message;
  EXPECT_EQ(loc.host_path, home.File("volumes/team/data/model"));
  loc = ResolveStorageUri("pvc://data/model", "other-ns", home.path());
  EXPECT_FALSE(loc.ok);
  EXPECT_EQ(loc.reason, "StorageUriNotFound");
  EXPECT_NE(loc.message.find("PersistentVolumeClaim \"data\""), std::string::npos);

  loc = ResolveStorageUri("gs://my-bucket/mnist-model", "ns", home.path());
  ASSERT_TRUE(loc.ok) << loc.message;
  EXPECT_EQ(loc.host_path, home.File("buckets/my-bucket/mnist-model"));
  loc = ResolveStorageUri("s3://other/model", "ns", home.path());
  EXPECT_FALSE(loc.ok);
  EXPECT_EQ(loc.reason, "StorageUriNotFound");
  EXPECT_NE(loc.message.find(home.File("buckets/other/model")), std::string::npos) << loc.message;
}

TEST(Storage, RefusesWhatItCannotServe) {
  skiff::testing::TempDir home;
  auto loc = ResolveStorageUri("file:///definitely/not/here", "ns", home.path());
  EXPECT_EQ(loc.reason, "StorageUriNotFound");
  loc = ResolveStorageUri("model-registry://mnist/v1", "ns", home.path());
  EXPECT_EQ(loc.reason, "StorageUriNotSupported");
  EXPECT_NE(loc.message.find("resolved by the InferenceService controller"), std::string::npos);
  EXPECT_EQ(ResolveStorageUri("models:/mnist/1", "ns", home.path()).reason,
            "StorageUriNotSupported");
  EXPECT_EQ(ResolveStorageUri("hf://org/model", "ns", home.path()).reason,
            "StorageUriNotSupported");
  EXPECT_EQ(ResolveStorageUri("pvc://data/../../etc", "ns", home.path()).reason,
            "InvalidStorageUri");
  EXPECT_EQ(ResolveStorageUri("", "ns", home.path()).reason, "InvalidStorageUri");
}

}  // namespace
}  // namespace skiff::inference
