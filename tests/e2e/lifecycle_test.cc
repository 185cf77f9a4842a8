// The server's life as a user sees it: it starts on a fresh data dir, stops cleanly on SIGTERM,
// keeps what it acknowledged across a restart and across kill -9, and its SQLite store stays
// consistent.

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "skiff_server.h"

namespace skiff::e2e {
namespace {

namespace fs = std::filesystem;
const fs::path kE2eDir = fs::path(SKIFF_SOURCE_DIR) / "tests" / "e2e";

std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

std::string ConfigMap(const std::string& name) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {a: \"1\"}\n";
}

std::string IntegrityCheck(const SkiffServer& server) {
  ProcessResult r =
      RunProcess({"sqlite3", (server.data_dir() / "store.db").string(), "PRAGMA integrity_check"},
                 server.io_dir(), milliseconds(30000));
  return r.exit_code == 0 ? r.out : "sqlite3 exit " + std::to_string(r.exit_code) + ": " + r.err;
}

TEST(Lifecycle, StartsServesAndStopsCleanlyOnSigterm) {
  TempDir work;
  SkiffServer server(work.path());
  ASSERT_EQ(server.Start(), "");
  EXPECT_EQ(server.url().rfind("https://127.0.0.1:", 0), 0u) << server.url();
  EXPECT_TRUE(fs::exists(server.kubeconfig()));
  EXPECT_TRUE(fs::exists(server.data_dir() / "kubeconfig"));

  // The dispatcher picks a kubectl by the server's gitVersion, so /version must look like v1.x.
  ProcessResult version = server.Kubectl({"version", "-o", "json"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_NE(version.out.find("\"serverVersion\""), std::string::npos) << version.out;
  EXPECT_NE(version.out.find("\"gitVersion\": \"v1."), std::string::npos) << version.out;

  // `skiff kubeconfig` prints one a user can point kubectl at.
  ProcessResult kc = RunProcess({SkiffServer::Binary(), "--data-dir", server.data_dir().string(),
                                 "kubeconfig", "--server", server.url()},
                                server.io_dir(), milliseconds(10000));
  EXPECT_EQ(kc.exit_code, 0) << kc.err;
  EXPECT_NE(kc.out.find("certificate-authority-data"), std::string::npos) << kc.out;
  EXPECT_NE(kc.out.find("token"), std::string::npos) << kc.out;

  const auto t0 = Clock::now();
  EXPECT_EQ(server.Stop(milliseconds(10000)), 0) << "skiff up should exit 0 on SIGTERM\n"
                                                 << server.log();
  EXPECT_LT(Clock::now() - t0, milliseconds(5000)) << "stopping took too long";
  EXPECT_EQ(IntegrityCheck(server), "ok\n");
}

// The form the docs give: `skiff up --data-dir DIR --port 0` (options after the subcommand).
TEST(Lifecycle, DocumentedUpCommandLineWorks) {
  TempDir work;
  fs::create_directories(work.path() / "data");
  Process up = Process::Start(
      {SkiffServer::Binary(), "up", "--data-dir", (work.path() / "data").string(), "--port", "0"},
      work.path());
  const auto deadline = Clock::now() + milliseconds(30000);
  while (Clock::now() < deadline && up.running() &&
         up.out().find("skiff is ready at") == std::string::npos) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_NE(up.out().find("skiff is ready at https://127.0.0.1:"), std::string::npos)
      << "exit " << up.exit_code() << "\n"
      << up.err();
  up.Kill(SIGTERM);
  EXPECT_TRUE(up.Wait(milliseconds(10000)));
  ProcessResult kc =
      RunProcess({SkiffServer::Binary(), "kubeconfig", "--data-dir",
                  (work.path() / "data").string(), "--server", "https://127.0.0.1:1"},
                 work.path(), milliseconds(10000));
  EXPECT_EQ(kc.exit_code, 0) << kc.err;
}

TEST(Lifecycle, ObjectsSurviveARestart) {
  TempDir work;
  SkiffServer server(work.path());
  ASSERT_EQ(server.Start(), "");
  ProcessResult r = server.Kubectl({"create", "-f", "-"}, ConfigMap("keep-me"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(server.Stop(), 0) << server.log();

  ASSERT_EQ(server.Start(), "");
  r = server.Kubectl({"get", "configmap", "keep-me", "-o", "jsonpath={.data.a}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1");
}

// Writes as fast as the python client can while the server is killed with SIGKILL; every write
// that was acknowledged before the kill must be there after a restart on the same data dir.
TEST(Lifecycle, AcknowledgedWritesSurviveKill9) {
  TempDir work;
  SkiffServer server(work.path());
  ASSERT_EQ(server.Start(), "");
  Process writer = Process::Start(
      {"/usr/bin/python3", (kE2eDir / "durability_writer.py").string(), "100000", "durable"},
      server.io_dir(), "", server.ToolEnv());
  // Let a good number of writes through, then pull the plug mid-stream.
  const auto deadline = Clock::now() + milliseconds(30000);
  while (Clock::now() < deadline && writer.running() && Lines(writer.out()).size() < 60) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  server.Crash();
  ProcessResult w = writer.Finish(milliseconds(20000));
  const std::set<std::string> acknowledged = Lines(w.out);
  ASSERT_GE(acknowledged.size(), 60u) << "the writer made too little progress:\n" << w.err;

  EXPECT_EQ(IntegrityCheck(server), "ok\n") << "after kill -9";

  ASSERT_EQ(server.Start(), "") << "restart after kill -9";
  ProcessResult got = server.Kubectl({"get", "configmaps", "-l", "set=durable", "-o", "name"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  std::set<std::string> present;
  for (const auto& line : Lines(got.out)) present.insert(line.substr(line.find('/') + 1));
  std::vector<std::string> lost;
  for (const auto& name : acknowledged) {
    if (!present.count(name)) lost.push_back(name);
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << acknowledged.size()
                            << " acknowledged objects are gone after kill -9, e.g. " << lost[0];
  // At most the one in flight at the kill may exist without having been acknowledged.
  EXPECT_LE(present.size(), acknowledged.size() + 1);

  // And the restarted server still takes writes.
  ProcessResult r = server.Kubectl({"create", "-f", "-"}, ConfigMap("after-crash"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(IntegrityCheck(server), "ok\n") << "after restart and clean stop";
}

}  // namespace
}  // namespace skiff::e2e
