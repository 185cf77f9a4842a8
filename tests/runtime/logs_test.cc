// ReadLog over hand-written CRI logs: tail, since, partial lines, rotation, limits and follow.
#include "runtime/logs.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

// Record times are t0 + n seconds.
const Clock::time_point kT0 = Clock::from_time_t(1764431298);  // 2025-11-29T15:48:18Z

std::string Rec(int second, const std::string& stream, char tag, const std::string& text) {
  return FormatLogTime(kT0 + std::chrono::seconds(second)) + " " + stream + " " + tag + " " + text +
         "\n";
}

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-logs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/c.log";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
  }

  std::string Read(LogReadOptions o = {}) {
    std::string out;
    Status s = ReadLog(path_, o, [&](const std::string& c) {
      out += c;
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }

  std::string dir_, path_;
};

TEST_F(LogsTest, FormatLogTimeIsRfc3339NanoUtc) {
  EXPECT_EQ(FormatLogTime(kT0 + 123456789ns), "2025-11-29T15:48:18.123456789Z");
  EXPECT_EQ(FormatLogTime(kT0), "2025-11-29T15:48:18.000000000Z");
}

TEST_F(LogsTest, AllLinesBothStreams) {
  Write(path_,
        Rec(0, "stdout", 'F', "one") + Rec(1, "stderr", 'F', "two") + Rec(2, "stdout", 'F', ""));
  EXPECT_EQ(Read(), "one\ntwo\n\n");
}

TEST_F(LogsTest, MissingLogIsNotFound) {
  Status s = ReadLog(dir_ + "/nope.log", {}, [](const std::string&) { return true; });
  EXPECT_EQ(s.code(), Code::kNotFound);
}

TEST_F(LogsTest, PartialRecordsJoinIntoOneLine) {
  Write(path_, Rec(0, "stdout", 'P', "hel") + Rec(1, "stdout", 'P', "lo ") +
                   Rec(2, "stdout", 'F', "world") + Rec(3, "stdout", 'F', "next"));
  EXPECT_EQ(Read(), "hello world\nnext\n");
  LogReadOptions o;
  o.timestamps = true;
  EXPECT_EQ(Read(o), FormatLogTime(kT0) + " hello world\n" + FormatLogTime(kT0 + 3s) + " next\n");
}

TEST_F(LogsTest, TailCountsUserLinesNotRecords) {
  std::string log;
  for (int i = 0; i < 10; ++i) log += Rec(i, "stdout", 'F', "line" + std::to_string(i));
  log += Rec(10, "stdout", 'P', "split-") + Rec(11, "stdout", 'F', "line");
  Write(path_, log);
  LogReadOptions o;
  o.tail_lines = 2;
  EXPECT_EQ(Read(o), "line9\nsplit-line\n");
  o.tail_lines = 0;
  EXPECT_EQ(Read(o), "");
  o.tail_lines = 100;
  EXPECT_EQ(Read(o).substr(0, 6), "line0\n");
}

TEST_F(LogsTest, TailOfALargeLogReadsFromTheEnd) {
  std::string log;
  for (int i = 0; i < 100000; ++i) log += Rec(i % 60, "stdout", 'F', "row " + std::to_string(i));
  Write(path_, log);
  LogReadOptions o;
  o.tail_lines = 3;
  EXPECT_EQ(Read(o), "row 99997\nrow 99998\nrow 99999\n");
}

TEST_F(LogsTest, SinceFiltersByRecordTime) {
  Write(path_, Rec(0, "stdout", 'F', "old") + Rec(5, "stdout", 'F', "new") +
                   Rec(6, "stdout", 'F', "newer"));
  LogReadOptions o;
  o.since = kT0 + 5s;
  EXPECT_EQ(Read(o), "new\nnewer\n");
}

TEST_F(LogsTest, RotatedFilesOldestFirstAndTailAcrossThem) {
  Write(path_ + ".2", Rec(0, "stdout", 'F', "a") + Rec(1, "stdout", 'P', "b-"));
  Write(path_ + ".1", Rec(2, "stdout", 'F', "continued") + Rec(3, "stdout", 'F', "c"));
  Write(path_, Rec(4, "stdout", 'F', "d"));
  EXPECT_EQ(Read(), "a\nb-continued\nc\nd\n");
  LogReadOptions o;
  o.tail_lines = 3;
  EXPECT_EQ(Read(o), "b-continued\nc\nd\n");
}

TEST_F(LogsTest, LimitBytesTruncates) {
  Write(path_, Rec(0, "stdout", 'F', "hello") + Rec(1, "stdout", 'F', "world"));
  LogReadOptions o;
  o.limit_bytes = 8;
  EXPECT_EQ(Read(o), "hello\nwo");
}

TEST_F(LogsTest, SinkCanStopTheRead) {
  Write(path_, Rec(0, "stdout", 'F', "1") + Rec(1, "stdout", 'F', "2"));
  std::string out;
  ASSERT_TRUE(ReadLog(path_, {}, [&](const std::string& c) {
                out += c;
                return false;
              }).ok());
  EXPECT_EQ(out, "1\n");
}

TEST_F(LogsTest, FollowSeesAppendsAndRotationAndEndsWhenFinished) {
  Write(path_, Rec(0, "stdout", 'F', "first"));
  std::atomic<bool> finished{false};
  std::string out;
  std::mutex mu;
  auto has = [&](const std::string& s) {
    std::lock_guard l(mu);
    return out.find(s) != std::string::npos;
  };
  auto wait_for = [&](const std::string& s) {
    for (int i = 0; i < 1000 && !has(s); ++i) std::this_thread::sleep_for(5ms);
    return has(s);
  };
  LogReadOptions o;
  o.follow = true;
  o.poll_interval = 5ms;
  o.finished = [&] { return finished.load(); };
  Status result;
  std::thread reader([&] {
    result = ReadLog(path_, o, [&](const std::string& c) {
      std::lock_guard l(mu);
      out += c;
      return true;
    });
  });
  ASSERT_TRUE(wait_for("first\n"));
  std::ofstream(path_, std::ios::app) << Rec(1, "stdout", 'F', "second");
  ASSERT_TRUE(wait_for("second\n"));
  // Rotate as the shim does, then keep writing to a new file.
  std::ofstream(path_, std::ios::app) << Rec(2, "stdout", 'F', "before-rotate");
  fs::rename(path_, path_ + ".1");
  Write(path_, Rec(3, "stdout", 'F', "after-rotate"));
  ASSERT_TRUE(wait_for("after-rotate\n"));
  std::ofstream(path_, std::ios::app) << Rec(4, "stdout", 'F', "last");
  finished = true;
  reader.join();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(out, "first\nsecond\nbefore-rotate\nafter-rotate\nlast\n");
}

TEST_F(LogsTest, FollowReturnsWhenCancelledAndWaitsForAMissingLog) {
  std::atomic<bool> cancelled{false};
  std::atomic<bool> got{false};
  LogReadOptions o;
  o.follow = true;
  o.poll_interval = 5ms;
  o.cancelled = [&] { return cancelled.load(); };
  std::string out;
  std::thread reader([&] {
    ReadLog(path_, o, [&](const std::string& c) {
      out += c;
      got = true;
      return true;
    });
  });
  Write(path_, Rec(0, "stdout", 'F', "appeared"));
  for (int i = 0; i < 1000 && !got; ++i) std::this_thread::sleep_for(5ms);
  cancelled = true;
  reader.join();  // would hang if cancel were ignored
  EXPECT_EQ(out, "appeared\n");
}

}  // namespace
}  // namespace skiff::runtime
