// Store semantics, run against every implementation: the in-memory and SQLite stores through their
// public constructors, and both again with a tiny event ring so watches replay from the log.
#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/indexed_store.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"

namespace skiff::store {
namespace {

using std::chrono::seconds;

// A fresh directory under TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-store-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct MemoryImpl {
  std::unique_ptr<Store> Open() { return NewMemoryStore(); }
};

struct SqliteImpl {
  TempDir dir;
  std::unique_ptr<Store> Open() {
    SqliteOptions o;
    o.path = dir.File("db/skiff.db");
    o.compaction_interval_ms = 0;
    auto s = OpenSqliteStore(o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(*s);
  }
};

// A ring of a few events forces watches from all but the newest revisions through Log::ReadEvents.
IndexedStoreOptions SmallRing() {
  IndexedStoreOptions o;
  o.event_ring_capacity = 4;
  return o;
}

struct MemorySmallRingImpl {
  std::unique_ptr<Store> Open() {
    return IndexedStore::Open(std::make_unique<MemoryLog>(), SmallRing()).value();
  }
};

struct SqliteSmallRingImpl {
  TempDir dir;
  std::unique_ptr<Store> Open() {
    SqliteOptions o;
    o.path = dir.File("skiff.db");
    auto log = SqliteLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status().message();
    return IndexedStore::Open(std::move(*log), SmallRing()).value();
  }
};

// Values embed the revision, as the API layer's objects embed their resourceVersion.
Encoder Value(std::string tag) {
  return [tag](int64_t rev) { return tag + "@" + std::to_string(rev); };
}
std::string Expected(const std::string& tag, int64_t rev) {
  return tag + "@" + std::to_string(rev);
}

// Collects a watch's events; waits without fixed sleeps.
class Collector {
 public:
  EventSink Sink() {
    return [this](const std::vector<Event>& events) {
      std::lock_guard<std::mutex> l(mu_);
      ++calls_;
      events_.insert(events_.end(), events.begin(), events.end());
      cv_.notify_all();
      return keep_going_;
    };
  }
  void StopAfterFirstCall() { keep_going_ = false; }
  // True once an event with revision >= `rev` arrived (generous deadline: only a hang fails).
  bool WaitFor(int64_t rev) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, seconds(60),
                        [&] { return !events_.empty() && events_.back().record.revision >= rev; });
  }
  std::vector<Event> events() {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  int calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  int calls_ = 0;
  bool keep_going_ = true;
};

std::vector<int64_t> Revisions(const std::vector<Event>& events) {
  std::vector<int64_t> out;
  for (const Event& e : events) out.push_back(e.record.revision);
  return out;
}

std::vector<std::string> Keys(const ListResult& r) {
  std::vector<std::string> out;
  for (const Record& rec : r.records) out.push_back(rec.key);
  return out;
}

template <typename Impl>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = impl_.Open(); }
  void TearDown() override { store_.reset(); }

  Record MustCreate(const std::string& key, const std::string& tag = "v") {
    auto r = store_->Create(key, Value(tag));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Record{};
  }

  Impl impl_;
  std::unique_ptr<Store> store_;
};

using Impls = ::testing::Types<MemoryImpl, SqliteImpl, MemorySmallRingImpl, SqliteSmallRingImpl>;
class ImplNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryImpl>) return "Memory";
    if (std::is_same_v<T, SqliteImpl>) return "Sqlite";
    if (std::is_same_v<T, MemorySmallRingImpl>) return "MemorySmallRing";
    return "SqliteSmallRing";
  }
};
TYPED_TEST_SUITE(StoreTest, Impls, ImplNames);

TYPED_TEST(StoreTest, CreateGetUpdateDelete) {
  Store& s = *this->store_;
  EXPECT_EQ(s.CurrentRevision(), 0);
  Record c = this->MustCreate("pods/a", "one");
  EXPECT_EQ(c.revision, 1);
  EXPECT_EQ(c.create_revision, 1);
  EXPECT_EQ(c.value, Expected("one", 1));

  auto g = s.Get("pods/a");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->value, Expected("one", 1));
  EXPECT_EQ(g->revision, 1);

  auto u = s.Update("pods/a", 1, Value("two"));
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->revision, 2);
  EXPECT_EQ(u->create_revision, 1);
  EXPECT_EQ(s.Get("pods/a")->value, Expected("two", 2));

  auto d = s.Delete("pods/a", 2, Value("gone"));
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->revision, 3);
  EXPECT_EQ(d->value, Expected("gone", 3));
  EXPECT_EQ(s.Get("pods/a").status().code(), Code::kNotFound);
  EXPECT_EQ(s.CurrentRevision(), 3);

  // Re-creating starts a new incarnation.
  Record again = this->MustCreate("pods/a", "three");
  EXPECT_EQ(again.revision, 4);
  EXPECT_EQ(again.create_revision, 4);
}

TYPED_TEST(StoreTest, PreconditionFailuresWriteNothing) {
  Store& s = *this->store_;
  this->MustCreate("k");
  int encoded = 0;
  Encoder counting = [&](int64_t rev) {
    ++encoded;
    return std::string("x");
  };
  auto dup = s.Create("k", counting);
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);
  EXPECT_NE(dup.status().message().find("k"), std::string::npos);
  EXPECT_EQ(s.Update("missing", 0, counting).status().code(), Code::kNotFound);
  EXPECT_EQ(s.Delete("missing", 0, counting).status().code(), Code::kNotFound);
  EXPECT_EQ(encoded, 0);
  EXPECT_EQ(s.CurrentRevision(), 1);

  // An encoder that throws fails only its own write and consumes no revision.
  auto bad = s.Create("bad", [](int64_t) -> std::string { throw std::runtime_error("boom"); });
  EXPECT_EQ(bad.status().code(), Code::kInternal);
  EXPECT_EQ(s.CurrentRevision(), 1);
  EXPECT_EQ(this->MustCreate("next").revision, 2);
}

TYPED_TEST(StoreTest, CompareAndSwapOnRevision) {
  Store& s = *this->store_;
  Record c = this->MustCreate("k", "a");
  ASSERT_TRUE(s.Update("k", c.revision, Value("b")).ok());
  auto stale = s.Update("k", c.revision, Value("c"));
  EXPECT_EQ(stale.status().code(), Code::kConflict);
  EXPECT_EQ(s.Delete("k", c.revision, Value("t")).status().code(), Code::kConflict);
  EXPECT_EQ(s.Get("k")->value, Expected("b", 2));
  // 0 means unconditional.
  auto any = s.Update("k", 0, Value("d"));
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->revision, 3);
  ASSERT_TRUE(s.Delete("k", 0, Value("t")).ok());
}

TYPED_TEST(StoreTest, ListPrefixLimitAndContinue) {
  Store& s = *this->store_;
  for (const char* k : {"a/3", "a/1", "b/1", "a/5", "ab/1", "a/2", "a/4"}) this->MustCreate(k);

  auto all = s.List({.prefix = "a/"});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Keys(*all), (std::vector<std::string>{"a/1", "a/2", "a/3", "a/4", "a/5"}));
  EXPECT_FALSE(all->more);
  EXPECT_EQ(all->revision, 7);

  auto p1 = s.List({.prefix = "a/", .limit = 2});
  EXPECT_EQ(Keys(*p1), (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_TRUE(p1->more);
  auto p2 = s.List({.prefix = "a/", .start_after = "a/2", .limit = 2});
  EXPECT_EQ(Keys(*p2), (std::vector<std::string>{"a/3", "a/4"}));
  EXPECT_TRUE(p2->more);
  auto p3 = s.List({.prefix = "a/", .start_after = "a/4", .limit = 2});
  EXPECT_EQ(Keys(*p3), (std::vector<std::string>{"a/5"}));
  EXPECT_FALSE(p3->more);
  // Exactly `limit` left: no phantom "more".
  auto p4 = s.List({.prefix = "a/", .start_after = "a/3", .limit = 2});
  EXPECT_FALSE(p4->more);

  EXPECT_EQ(s.List({})->records.size(), 7u);
  EXPECT_TRUE(s.List({.prefix = "c/"})->records.empty());
}

TYPED_TEST(StoreTest, ListAtOlderRevision) {
  Store& s = *this->store_;
  this->MustCreate("a/1", "a1");                       // 1
  this->MustCreate("a/2", "a2");                       // 2
  ASSERT_TRUE(s.Update("a/1", 1, Value("a1b")).ok());  // 3
  ASSERT_TRUE(s.Delete("a/2", 2, Value("t")).ok());    // 4
  this->MustCreate("a/3", "a3");                       // 5
  this->MustCreate("b/1", "b1");                       // 6

  auto at2 = s.List({.prefix = "a/", .revision = 2});
  ASSERT_TRUE(at2.ok()) << at2.status().message();
  EXPECT_EQ(at2->revision, 2);
  ASSERT_EQ(Keys(*at2), (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ(at2->records[0].value, Expected("a1", 1));
  EXPECT_EQ(at2->records[0].revision, 1);

  auto at4 = s.List({.prefix = "a/", .revision = 4});
  ASSERT_TRUE(at4.ok());
  ASSERT_EQ(Keys(*at4), (std::vector<std::string>{"a/1"}));
  EXPECT_EQ(at4->records[0].value, Expected("a1b", 3));
  EXPECT_EQ(at4->records[0].create_revision, 1);

  auto page = s.List({.prefix = "a/", .start_after = "a/1", .limit = 1, .revision = 5});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (std::vector<std::string>{"a/3"}));
  EXPECT_FALSE(page->more);
  auto first = s.List({.limit = 1, .revision = 5});
  EXPECT_EQ(Keys(*first), (std::vector<std::string>{"a/1"}));
  EXPECT_TRUE(first->more);

  EXPECT_EQ(s.List({.revision = 6})->records.size(), 3u);
  EXPECT_FALSE(s.List({.revision = 99}).ok());
}

TYPED_TEST(StoreTest, CountByPrefix) {
  Store& s = *this->store_;
  for (const char* k : {"pods/ns1/a", "pods/ns1/b", "pods/ns2/a", "podsx/a", "svc/a"}) {
    this->MustCreate(k);
  }
  ASSERT_TRUE(s.Delete("pods/ns1/b", 0, Value("t")).ok());
  EXPECT_EQ(s.Count("pods/"), 2);
  EXPECT_EQ(s.Count("pods/ns1/"), 1);
  EXPECT_EQ(s.Count("pods"), 3);
  EXPECT_EQ(s.Count(""), 4);
  EXPECT_EQ(s.Count("none/"), 0);
}

TYPED_TEST(StoreTest, WatchFromNowSeesOnlyNewEvents) {
  Store& s = *this->store_;
  this->MustCreate("w/old");
  Collector c;
  auto w = s.WatchPrefix("w/", 0, c.Sink());
  ASSERT_TRUE(w.ok());
  this->MustCreate("w/a", "a");                         // 2
  this->MustCreate("x/ignored");                        // 3
  ASSERT_TRUE(s.Update("w/a", 2, Value("b")).ok());     // 4
  ASSERT_TRUE(s.Delete("w/a", 4, Value("tomb")).ok());  // 5
  ASSERT_TRUE(c.WaitFor(5));
  auto ev = c.events();
  ASSERT_EQ(Revisions(ev), (std::vector<int64_t>{2, 4, 5}));
  EXPECT_EQ(ev[0].type, EventType::kCreated);
  EXPECT_EQ(ev[1].type, EventType::kUpdated);
  EXPECT_EQ(ev[1].record.value, Expected("b", 4));
  EXPECT_EQ(ev[2].type, EventType::kDeleted);
  EXPECT_EQ(ev[2].record.value, Expected("tomb", 5));
  EXPECT_EQ(ev[2].record.create_revision, 2);
}

TYPED_TEST(StoreTest, WatchFromPastRevisionReplaysThenFollows) {
  Store& s = *this->store_;
  for (int i = 0; i < 10; ++i) this->MustCreate("w/" + std::to_string(i));  // 1..10
  ASSERT_TRUE(s.Delete("w/3", 0, Value("t")).ok());                         // 11
  this->MustCreate("other/1");                                              // 12
  Collector c;
  auto w = s.WatchPrefix("w/", 2, c.Sink());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_TRUE(s.Update("w/0", 0, Value("live")).ok());  // 13
  ASSERT_TRUE(c.WaitFor(13));
  auto ev = c.events();
  EXPECT_EQ(Revisions(ev), (std::vector<int64_t>{3, 4, 5, 6, 7, 8, 9, 10, 11, 13}));
  EXPECT_EQ(ev[0].type, EventType::kCreated);
  EXPECT_EQ(ev[0].record.key, "w/2");
  EXPECT_EQ(ev[8].type, EventType::kDeleted);
  EXPECT_EQ(ev[8].record.key, "w/3");
  EXPECT_EQ(ev[9].type, EventType::kUpdated);

  // Watching from the current revision replays nothing and misses nothing.
  Collector c2;
  auto w2 = s.WatchPrefix("", s.CurrentRevision(), c2.Sink());
  ASSERT_TRUE(w2.ok());
  this->MustCreate("w/new");  // 14
  ASSERT_TRUE(c2.WaitFor(14));
  EXPECT_EQ(Revisions(c2.events()), (std::vector<int64_t>{14}));
}

TYPED_TEST(StoreTest, WatchesSeeEveryRevisionOnceUnderConcurrentWriters) {
  Store& s = *this->store_;
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 150;
  std::atomic<bool> writing{true};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        std::string key = "k/" + std::to_string(t) + "/" + std::to_string(i % 10);
        if (i < 10) {
          ASSERT_TRUE(s.Create(key, Value("c")).ok());
        } else {
          ASSERT_TRUE(s.Update(key, 0, Value("u")).ok());
        }
      }
    });
  }
  // Watches start while writers run: some from now, some from an earlier revision.
  struct Started {
    int64_t after;
    std::unique_ptr<Collector> collector;
    std::unique_ptr<Watch> watch;
  };
  std::vector<Started> watches;
  for (int i = 0; i < 12; ++i) {
    // Not 0, which would mean "from whatever is current when the watch registers".
    int64_t after = std::max<int64_t>(1, s.CurrentRevision() - (i % 3) * 40);
    auto c = std::make_unique<Collector>();
    auto w = s.WatchPrefix("", after, c->Sink());
    ASSERT_TRUE(w.ok()) << w.status().message();
    watches.push_back({after, std::move(c), std::move(*w)});
    std::this_thread::yield();
  }
  for (auto& t : writers) t.join();
  const int64_t last = s.CurrentRevision();
  EXPECT_EQ(last, kWriters * kPerWriter);
  for (Started& st : watches) {
    ASSERT_TRUE(st.after == last || st.collector->WaitFor(last));
    std::vector<int64_t> revs = Revisions(st.collector->events());
    std::vector<int64_t> want;
    for (int64_t r = st.after + 1; r <= last; ++r) want.push_back(r);
    EXPECT_EQ(revs, want) << "watch after " << st.after;
  }
}

TYPED_TEST(StoreTest, ConcurrentWritersResolveRacesExactlyOnce) {
  Store& s = *this->store_;
  this->MustCreate("counter", "0");
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  constexpr int kThreads = 8, kIncrements = 25;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      if (s.Create("race", Value("r")).ok()) ++created;
      for (int i = 0; i < kIncrements; ++i) {
        while (true) {
          auto cur = s.Get("counter");
          int n = std::stoi(cur->value.substr(0, cur->value.find('@')));
          auto u = s.Update("counter", cur->revision, Value(std::to_string(n + 1)));
          if (u.ok()) break;
          ASSERT_EQ(u.status().code(), Code::kConflict);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 1);
  auto v = s.Get("counter");
  EXPECT_EQ(v->value.substr(0, v->value.find('@')), std::to_string(kThreads * kIncrements));
}

TYPED_TEST(StoreTest, CancelStopsDelivery) {
  Store& s = *this->store_;
  Collector c;
  auto w = s.WatchPrefix("", 0, c.Sink());
  ASSERT_TRUE(w.ok());
  this->MustCreate("a");
  ASSERT_TRUE(c.WaitFor(1));
  (*w)->Cancel();
  (*w)->Cancel();  // idempotent
  const size_t seen = c.events().size();
  this->MustCreate("b");
  // A later watch seeing revision 2 proves the notifier has moved past it.
  Collector later;
  auto w2 = s.WatchPrefix("", 1, later.Sink());
  ASSERT_TRUE(later.WaitFor(2));
  EXPECT_EQ(c.events().size(), seen);

  // Under a write storm: once Cancel returns, the sink never runs again.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) s.Create("storm/" + std::to_string(i), Value("x"));
  });
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> cancelled{false};
    std::atomic<int> late_calls{0};
    std::atomic<int> calls{0};
    auto sw = s.WatchPrefix("storm/", 0, [&](const std::vector<Event>&) {
      if (cancelled) ++late_calls;
      ++calls;
      return true;
    });
    ASSERT_TRUE(sw.ok());
    while (calls == 0) std::this_thread::yield();
    (*sw)->Cancel();
    cancelled = true;
    sw->reset();
    EXPECT_EQ(late_calls, 0);
  }
  stop = true;
  writer.join();
}

TYPED_TEST(StoreTest, SinkReturningFalseEndsTheWatch) {
  Store& s = *this->store_;
  Collector c;
  c.StopAfterFirstCall();
  auto w = s.WatchPrefix("", 0, c.Sink());
  ASSERT_TRUE(w.ok());
  this->MustCreate("a");
  ASSERT_TRUE(c.WaitFor(1));
  this->MustCreate("b");
  this->MustCreate("c");
  Collector later;
  auto w2 = s.WatchPrefix("", 1, later.Sink());
  ASSERT_TRUE(later.WaitFor(3));
  EXPECT_EQ(c.calls(), 1);
  (*w)->Cancel();  // harmless after the sink ended it
}

TYPED_TEST(StoreTest, CompactionDropsHistoryButNotCurrentValues) {
  Store& s = *this->store_;
  this->MustCreate("a", "a");                                                  // 1
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.Update("a", 0, Value("a")).ok());  // 2..5
  this->MustCreate("b", "b");                                                  // 6
  ASSERT_TRUE(s.Delete("b", 0, Value("t")).ok());                              // 7
  this->MustCreate("c", "c");                                                  // 8

  ASSERT_TRUE(s.Compact(2).ok());
  EXPECT_EQ(s.CompactedRevision(), 6);
  auto old_list = s.List({.revision = 5});
  EXPECT_EQ(old_list.status().code(), Code::kGone);
  EXPECT_NE(old_list.status().message().find("too old resource version"), std::string::npos);
  EXPECT_EQ(s.List({.revision = 6}).status().code(), Code::kGone);
  auto old_watch = s.WatchPrefix("", 5, [](const std::vector<Event>&) { return true; });
  EXPECT_EQ(old_watch.status().code(), Code::kGone);
  EXPECT_NE(old_watch.status().message().find("too old resource version: 5 (6)"),
            std::string::npos);

  auto at7 = s.List({.revision = 7});
  ASSERT_TRUE(at7.ok()) << at7.status().message();
  ASSERT_EQ(Keys(*at7), (std::vector<std::string>{"a"}));
  EXPECT_EQ(at7->records[0].revision, 5);

  Collector c;
  auto w = s.WatchPrefix("", 6, c.Sink());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_TRUE(c.WaitFor(8));
  EXPECT_EQ(Revisions(c.events()), (std::vector<int64_t>{7, 8}));

  // Compacting everything keeps every live key's newest value.
  ASSERT_TRUE(s.Compact(0).ok());
  EXPECT_EQ(s.CompactedRevision(), 8);
  EXPECT_EQ(Keys(*s.List({})), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(s.Get("a")->value, Expected("a", 5));
  EXPECT_TRUE(s.Compact(0).ok());  // nothing to do
  EXPECT_EQ(this->MustCreate("d").revision, 9);
  EXPECT_EQ(s.List({.revision = 8}).status().code(), Code::kGone);
  EXPECT_EQ(s.List({.revision = 9})->records.size(), 3u);
}

}  // namespace
}  // namespace skiff::store
