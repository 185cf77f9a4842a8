// What only the SQLite store promises: state survives reopening and kill -9, background compaction,
// one process per database, SQLite failures surfacing as kInternal.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace skiff::store {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-sqlite-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

Encoder Value(std::string tag) {
  return [tag](int64_t rev) { return tag + "@" + std::to_string(rev); };
}

std::unique_ptr<Store> MustOpen(const SqliteOptions& o) {
  auto s = OpenSqliteStore(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

SqliteOptions Options(const TempDir& dir) {
  SqliteOptions o;
  o.path = dir.File("skiff.db");
  o.compaction_interval_ms = 0;
  return o;
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "open failed";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr);
    result = sqlite3_step(s) == SQLITE_ROW
                 ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0))
                 : sqlite3_errmsg(db);
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return result;
}

class EventLog {
 public:
  EventSink Sink() {
    return [this](const std::vector<Event>& events) {
      std::lock_guard<std::mutex> l(mu_);
      for (const Event& e : events) events_.push_back(e);
      cv_.notify_all();
      return true;
    };
  }
  std::vector<Event> WaitFor(int64_t rev) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::seconds(60),
                 [&] { return !events_.empty() && events_.back().record.revision >= rev; });
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

TEST(SqliteStore, ReopenKeepsValuesRevisionsAndHistory) {
  TempDir dir;
  {
    auto s = MustOpen(Options(dir));
    ASSERT_TRUE(s->Create("a/1", Value("x")).ok());      // 1
    ASSERT_TRUE(s->Create("a/2", Value("y")).ok());      // 2
    ASSERT_TRUE(s->Update("a/1", 1, Value("x2")).ok());  // 3
    ASSERT_TRUE(s->Delete("a/2", 2, Value("t")).ok());   // 4
    ASSERT_TRUE(s->Create("b/1", Value("z")).ok());      // 5
    ASSERT_TRUE(s->Create("a/3", Value("w")).ok());      // 6
    ASSERT_TRUE(s->Compact(5).ok());                     // compacted: 1
  }
  auto s = MustOpen(Options(dir));
  EXPECT_EQ(s->CurrentRevision(), 6);
  EXPECT_EQ(s->CompactedRevision(), 1);
  auto a1 = s->Get("a/1");
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->value, "x2@3");
  EXPECT_EQ(a1->create_revision, 1);
  EXPECT_EQ(s->Get("a/2").status().code(), Code::kNotFound);
  EXPECT_EQ(s->Count("a/"), 2);

  auto at3 = s->List({.prefix = "a/", .revision = 3});
  ASSERT_TRUE(at3.ok()) << at3.status().message();
  ASSERT_EQ(at3->records.size(), 2u);
  EXPECT_EQ(at3->records[1].value, "y@2");

  // The event ring starts empty after a reopen, so this history comes from the table.
  EventLog events;
  auto w = s->WatchPrefix("a/", 1, events.Sink());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_TRUE(s->Create("a/4", Value("v")).ok());  // 7
  auto got = events.WaitFor(7);
  std::vector<int64_t> revs;
  for (const Event& e : got) revs.push_back(e.record.revision);
  EXPECT_EQ(revs, (std::vector<int64_t>{2, 3, 4, 6, 7}));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[2].type, EventType::kDeleted);
  EXPECT_EQ(got[2].record.value, "t@4");
}

TEST(SqliteStore, RevisionIsNotReusedAfterTombstonesAreCompacted) {
  TempDir dir;
  {
    auto s = MustOpen(Options(dir));
    ASSERT_TRUE(s->Create("a", Value("x")).ok());
    ASSERT_TRUE(s->Delete("a", 0, Value("t")).ok());
    ASSERT_TRUE(s->Compact(0).ok());
  }
  auto s = MustOpen(Options(dir));
  EXPECT_EQ(s->CurrentRevision(), 2);
  EXPECT_EQ(s->CompactedRevision(), 2);
  auto c = s->Create("a", Value("again"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->revision, 3);
}

TEST(SqliteStore, FullSyncModeWorks) {
  TempDir dir;
  SqliteOptions o = Options(dir);
  o.fsync_each_commit = true;
  {
    auto s = MustOpen(o);
    ASSERT_TRUE(s->Create("a", Value("x")).ok());
  }
  EXPECT_EQ(MustOpen(o)->Get("a")->value, "x@1");
}

TEST(SqliteStore, SecondOpenOfTheSameFileIsRefused) {
  TempDir dir;
  auto first = MustOpen(Options(dir));
  auto second = OpenSqliteStore(Options(dir));
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  first.reset();
  EXPECT_TRUE(OpenSqliteStore(Options(dir)).ok());
}

TEST(SqliteStore, SqliteFailuresAreInternalErrors) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("adir"));
  SqliteOptions o;
  o.path = dir.File("adir");  // a directory is not a database
  auto s = OpenSqliteStore(o);
  EXPECT_EQ(s.status().code(), Code::kInternal);
  EXPECT_NE(s.status().message().find("sqlite"), std::string::npos) << s.status().message();
}

TEST(SqliteStore, BackgroundCompactionKeepsConfiguredHistory) {
  TempDir dir;
  SqliteOptions o = Options(dir);
  o.history_revisions = 5;
  o.compaction_interval_ms = 5;
  auto s = MustOpen(o);
  ASSERT_TRUE(s->Create("k", Value("v")).ok());
  for (int i = 0; i < 29; ++i) ASSERT_TRUE(s->Update("k", 0, Value("v")).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (s->CompactedRevision() < 25 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(s->CompactedRevision(), 25);
  EXPECT_EQ(s->WatchPrefix("", 10, [](const std::vector<Event>&) { return true; }).status().code(),
            Code::kGone);
  EXPECT_EQ(s->Get("k")->revision, 30);
}

// The child writes as fast as it can and reports each acknowledged write; the parent kills it with
// SIGKILL partway through. Everything acknowledged must be there after reopening.
TEST(SqliteStore, AcknowledgedWritesSurviveKill9) {
  TempDir dir;
  const SqliteOptions o = Options(dir);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto s = OpenSqliteStore(o);
    if (!s.ok()) _exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 1000000; ++i) {
          const std::string key = "k/" + std::to_string(t) + "/" + std::to_string(i);
          auto c = (*s)->Create(key, Value(key));
          if (!c.ok()) _exit(3);
          std::string line = "C " + key + " " + std::to_string(c->revision) + "\n";
          if (i % 5 == 4) {
            // Rewrite an earlier key so updates are covered too.
            const std::string old = "k/" + std::to_string(t) + "/" + std::to_string(i - 4);
            auto u = (*s)->Update(old, 0, Value(old));
            if (!u.ok()) _exit(4);
            line += "U " + old + " " + std::to_string(u->revision) + "\n";
          }
          // One write() per acknowledgement batch: atomic on a pipe below PIPE_BUF.
          if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
            _exit(5);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    _exit(0);
  }
  close(fds[1]);
  std::string data;
  char buf[65536];
  bool killed = false;
  size_t lines = 0;
  while (true) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
    data.append(buf, n);
    if (!killed && lines >= 3000) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(killed) << "child exited early with status " << wstatus;
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);

  std::map<std::string, int64_t> acked;  // key -> newest acknowledged revision
  std::istringstream in(data);
  std::string op, key;
  int64_t rev = 0, max_rev = 0;
  while (in >> op >> key >> rev) {
    acked[key] = std::max(acked[key], rev);
    max_rev = std::max(max_rev, rev);
  }
  ASSERT_GE(acked.size(), 2000u);
  {
    auto s = MustOpen(o);
    ASSERT_NE(s, nullptr);
    EXPECT_GE(s->CurrentRevision(), max_rev);
    size_t missing = 0;
    for (const auto& [k, r] : acked) {
      auto g = s->Get(k);
      if (!g.ok() || g->revision < r || g->value != k + "@" + std::to_string(g->revision)) {
        ++missing;
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged keys";
    // No revision is handed out twice after a crash.
    auto c = s->Create("after-crash", Value("x"));
    ASSERT_TRUE(c.ok());
    EXPECT_GT(c->revision, max_rev);
  }
  EXPECT_EQ(IntegrityCheck(o.path), "ok");
}

}  // namespace
}  // namespace skiff::store
