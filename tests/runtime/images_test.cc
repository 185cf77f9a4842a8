// The image catalog: normalisation, matching, the file overriding built-ins, argv rules and the
// message for an unknown image.
#include "runtime/images.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "gtest/gtest.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;

class ImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-images-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    file_ = dir_ + "/images.yaml";
    bin_ = dir_ + "/bin";
    fs::create_directories(bin_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Catalog> Load() {
    auto c = Catalog::Load(file_, bin_, dir_ + "/images");
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(*c) : nullptr;
  }

  std::string dir_, file_, bin_;
};

TEST(NormalizeImageTest, Table) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"python", "python"},
      {"python:3.11", "python:3.11"},
      {"docker.io/library/python:3.11-slim", "python:3.11-slim"},
      {"index.docker.io/library/busybox", "busybox"},
      {"library/ubuntu:22.04", "ubuntu:22.04"},
      {"docker.io/tensorflow/tensorflow:2.9", "tensorflow/tensorflow:2.9"},
      {"python@sha256:0123abcd", "python"},
      {"docker.io/library/python:3.11@sha256:0123abcd", "python:3.11"},
      {"gcr.io/x/y", "gcr.io/x/y"},
      {"ghcr.io/org/img:1", "ghcr.io/org/img:1"},
      {"localhost:5000/library/app:1", "localhost:5000/library/app:1"},
      {"public.ecr.aws/docker/library/python:3.12", "python:3.12"},
      {"mirror.gcr.io/library/alpine:3", "alpine:3"},
  };
  for (const auto& c : cases) EXPECT_EQ(NormalizeImage(c.in), c.out) << c.in;
}

TEST_F(ImagesTest, BuiltinsMatchNamesAndTags) {
  auto cat = Load();
  for (const char* img : {"python", "python:3.11", "docker.io/library/python:3.11-slim"}) {
    auto r = cat->Resolve(img);
    ASSERT_TRUE(r.ok()) << img << ": " << r.status().message();
    EXPECT_EQ(r->entry->name, "python");
    EXPECT_EQ(r->entry->cmd, std::vector<std::string>{"python3"});
    EXPECT_TRUE(r->entry->builtin);
  }
  for (const char* img : {"busybox", "alpine:3.19", "ubuntu:22.04", "debian"}) {
    auto r = cat->Resolve(img);
    ASSERT_TRUE(r.ok()) << img;
    EXPECT_EQ(r->entry->cmd, std::vector<std::string>{"sh"});
  }
  EXPECT_FALSE(cat->Resolve("pythonista").ok());
}

TEST_F(ImagesTest, PythonAliasDirIsMaterialised) {
  auto cat = Load();
  auto r = cat->Resolve("python:3");
  ASSERT_TRUE(r.ok());
  if (r->entry->aliases.empty()) GTEST_SKIP() << "no python3 on PATH";
  ASSERT_FALSE(r->alias_dir.empty());
  EXPECT_EQ(fs::read_symlink(r->alias_dir + "/python"), r->entry->aliases.at("python"));
  EXPECT_TRUE(r->alias_dir.rfind(dir_ + "/images/", 0) == 0) << r->alias_dir;
}

TEST_F(ImagesTest, SkiffMlNeedsItsBinary) {
  auto cat = Load();
  auto r = cat->Resolve("skiff/ml:latest");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(bin_ + "/skiff-ml"), std::string::npos)
      << r.status().message();
  std::ofstream(bin_ + "/skiff-ml") << "#!/bin/sh\n";
  fs::permissions(bin_ + "/skiff-ml", fs::perms::owner_all);
  r = cat->Resolve("skiff/ml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->entry->entrypoint, std::vector<std::string>{bin_ + "/skiff-ml"});
}

TEST_F(ImagesTest, UnknownImageSaysHowToMapIt) {
  auto cat = Load();
  auto r = cat->Resolve("tensorflow/tensorflow:2.9");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "image \"tensorflow/tensorflow:2.9\" is not in skiff's image catalog (" + file_ +
                "); map it to a program on this machine with: skiff images add "
                "tensorflow/tensorflow:2.9 --cmd /usr/bin/python3");
}

TEST_F(ImagesTest, FileEntriesWinOverBuiltinsAndRoundTrip) {
  ImageEntry e;
  e.name = "my-python";
  e.match = {"python:3.*", "tensorflow/*"};
  e.cmd = {"/usr/bin/python3", "-u"};
  e.env = {"A=1"};
  e.aliases = {{"pip", "/usr/bin/pip3"}};
  e.description = "mine";
  ASSERT_TRUE(Catalog::AddToFile(file_, e).ok());
  auto cat = Load();
  ASSERT_EQ(cat->entries().front().name, "my-python");
  EXPECT_FALSE(cat->entries().front().builtin);
  EXPECT_EQ(cat->Resolve("python:3.11")->entry->name, "my-python");
  EXPECT_EQ(cat->Resolve("tensorflow/tensorflow:2.9")->entry->name, "my-python");
  EXPECT_EQ(cat->Resolve("python")->entry->name, "python");  // not matched by python:3.*
  const ImageEntry& loaded = cat->entries().front();
  EXPECT_EQ(loaded.cmd, e.cmd);
  EXPECT_EQ(loaded.env, e.env);
  EXPECT_EQ(loaded.aliases, e.aliases);
  EXPECT_EQ(loaded.description, "mine");

  // Adding the same name replaces; removing leaves the built-ins.
  e.cmd = {"/bin/true"};
  ASSERT_TRUE(Catalog::AddToFile(file_, e).ok());
  cat = Load();
  EXPECT_EQ(cat->entries().front().cmd, std::vector<std::string>{"/bin/true"});
  EXPECT_EQ(cat->entries()[1].builtin, true);
  ASSERT_TRUE(Catalog::RemoveFromFile(file_, "my-python").ok());
  EXPECT_EQ(Catalog::RemoveFromFile(file_, "my-python").code(), Code::kNotFound);
  cat = Load();
  EXPECT_EQ(cat->Resolve("python:3.11")->entry->name, "python");
}

// `run` replaces whatever the container asks for, and a skiff-* program is found in skiff's own
// bin directory (and must exist there).
TEST_F(ImagesTest, RunEntryReplacesTheContainersCommandAndFindsSkiffPrograms) {
  ImageEntry e;
  e.name = "tensorflow/tensorflow:2.8.0";
  e.run = {"skiff-ml", "train", "--data", "$(DATA)"};
  ASSERT_TRUE(Catalog::AddToFile(file_, e).ok());
  auto cat = Load();
  auto r = cat->Resolve("tensorflow/tensorflow:2.8.0");
  ASSERT_FALSE(r.ok());  // the program is named, but not built yet
  EXPECT_NE(r.status().message().find("--run <program>"), std::string::npos)
      << r.status().message();
  std::ofstream(bin_ + "/skiff-ml") << "#!/bin/sh\n";
  fs::permissions(bin_ + "/skiff-ml", fs::perms::owner_all);
  cat = Load();
  r = cat->Resolve("docker.io/tensorflow/tensorflow:2.8.0");
  ASSERT_TRUE(r.ok()) << r.status().message();
  using V = std::vector<std::string>;
  EXPECT_EQ(*Catalog::Argv(*r->entry, {"python", "/app/train.py"}, {"--x"}, {"DATA=/d"}),
            (V{bin_ + "/skiff-ml", "train", "--data", "/d"}));
}

TEST_F(ImagesTest, MalformedFileNamesTheProblem) {
  std::ofstream(file_) << "images:\n  - name: x\n    match: [a\n";
  auto c = Catalog::Load(file_, bin_, dir_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("line"), std::string::npos) << c.status().message();
  std::ofstream(file_) << "images:\n  - match: [a]\n";
  c = Catalog::Load(file_, bin_, dir_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("name is required"), std::string::npos);
}

TEST(ArgvTest, KubernetesCommandAndArgsRules) {
  ImageEntry e;
  e.entrypoint = {"/ep"};
  e.cmd = {"c1", "c2"};
  using V = std::vector<std::string>;
  EXPECT_EQ(*Catalog::Argv(e, {}, {}, {}), (V{"/ep", "c1", "c2"}));
  EXPECT_EQ(*Catalog::Argv(e, {}, {"a"}, {}), (V{"/ep", "a"}));
  EXPECT_EQ(*Catalog::Argv(e, {"cmd"}, {}, {}), (V{"cmd"}));
  EXPECT_EQ(*Catalog::Argv(e, {"cmd"}, {"a", "b"}, {}), (V{"cmd", "a", "b"}));
  ImageEntry empty;
  auto r = Catalog::Argv(empty, {}, {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "no command specified");
  EXPECT_EQ(*Catalog::Argv(empty, {}, {"x"}, {}), (V{"x"}));
}

TEST(ArgvTest, VariableExpansion) {
  ImageEntry e;
  std::vector<std::string> env = {"NAME=world", "EMPTY=", "NAME2=$(NAME)"};
  using V = std::vector<std::string>;
  EXPECT_EQ(*Catalog::Argv(e, {"echo", "hello $(NAME)!"}, {}, env), (V{"echo", "hello world!"}));
  EXPECT_EQ(*Catalog::Argv(e, {"echo", "$$(NAME)"}, {}, env), (V{"echo", "$(NAME)"}));
  EXPECT_EQ(*Catalog::Argv(e, {"echo", "$(UNKNOWN)"}, {}, env), (V{"echo", "$(UNKNOWN)"}));
  EXPECT_EQ(*Catalog::Argv(e, {"echo", "[$(EMPTY)]"}, {}, env), (V{"echo", "[]"}));
  EXPECT_EQ(*Catalog::Argv(e, {"echo", "$(NAME"}, {}, env), (V{"echo", "$(NAME"}));
  EXPECT_EQ(*Catalog::Argv(e, {"echo", "$HOME $$ $"}, {}, env), (V{"echo", "$HOME $ $"}));
  EXPECT_EQ(*Catalog::Argv(e, {"echo"}, {"$(NAME)"}, env), (V{"echo", "world"}));
}

// The base images KFP's compiled samples name (../shared/conformance/kfp) map to host programs.
TEST_F(ImagesTest, KfpBaseImagesAreCovered) {
  auto cat = Load();
  struct Case {
    const char* image;
    const char* entry;
  } cases[] = {
      {"python:3.11", "python"},
      {"python:3.7", "python"},
      {"python:alpine3.9", "python"},
      {"public.ecr.aws/docker/library/python:3.12", "python"},
      {"registry.access.redhat.com/ubi9/python-311:latest", "ubi/python"},
      {"registry.access.redhat.com/ubi8/python-39", "ubi/python"},
      {"alpine", "alpine"},
      {"alpine:latest", "alpine"},
      {"alpine:3.23", "alpine"},
      {"ghcr.io/containerd/busybox", "busybox"},
      {"library/bash", "bash"},
      {"jetbrainsinfra/jq", "jetbrainsinfra/jq"},
      {"byrnedo/"
       "alpine-curl@sha256:548379d0a4a0c08b9e55d9d87a592b7d35d9ab3037f4936f5ccd09d0b625a342",
       "byrnedo/alpine-curl"},
  };
  for (const auto& c : cases) {
    auto r = cat->Resolve(c.image);
    ASSERT_TRUE(r.ok()) << c.image << ": " << r.status().message();
    EXPECT_EQ(r->entry->name, c.entry) << c.image;
  }
  auto ubi = cat->Resolve("registry.access.redhat.com/ubi9/python-311:latest");
  EXPECT_EQ(ubi->entry->cmd, std::vector<std::string>{"python3"});
  EXPECT_EQ(cat->Resolve("library/bash")->entry->cmd, std::vector<std::string>{"bash"});
  // Google Cloud images need gcloud and credentials: not mapped by default.
  EXPECT_FALSE(cat->Resolve("google/cloud-sdk:slim").ok());
  EXPECT_FALSE(cat->Resolve("registry.access.redhat.com/ubi9/nodejs-18").ok());
  // alpine's and busybox's sh is ash, whose [[ ]] scripts use: the host's bash stands in.
  auto busybox = cat->Resolve("ghcr.io/containerd/busybox");
  if (busybox->entry->aliases.empty()) GTEST_SKIP() << "no bash on PATH";
  EXPECT_EQ(fs::read_symlink(busybox->alias_dir + "/sh").filename(), "bash");
  EXPECT_TRUE(cat->Resolve("debian")->entry->aliases.empty());  // debian's sh is dash
}

// Every image a conformance file names resolves, except those listed here with the reason.
TEST_F(ImagesTest, EveryConformanceImageResolvesOrIsListed) {
  static const std::set<std::string> kUnmapped = {
      "google/cloud-sdk",
      "google/cloud-sdk:slim",  // gsutil/gcloud and GCP credentials
      "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0",  // Vertex AI jobs
      "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.14.1",
      "argostub/createpvc",
      "argostub/deletepvc",  // kfp-kubernetes PVC ops, not containers
      "gcr.io/image",
      "gcr.io/my-image",
      "kfp-image",
      "dummy",  // placeholders in the samples
  };
  auto cat = Load();
  std::set<std::string> seen;
  for (const auto& f : fs::directory_iterator(SKIFF_SHARED_DIR "/conformance/kfp")) {
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line)) {
      size_t at = line.find_first_not_of(' ');
      if (at == std::string::npos || line.compare(at, 7, "image: ") != 0) continue;
      std::string image = line.substr(at + 7);
      if (!seen.insert(image).second || kUnmapped.contains(image)) continue;
      auto r = cat->Resolve(image);
      EXPECT_TRUE(r.ok()) << f.path().filename() << ": " << r.status().message();
    }
  }
  EXPECT_GT(seen.size(), 15u);
}

}  // namespace
}  // namespace skiff::runtime
