// Store throughput and latency on a temp dir, each figure printed next to its target.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::store::Encoder;
using skiff::store::Event;
using skiff::store::OpenSqliteStore;
using skiff::store::SqliteOptions;
using skiff::store::Store;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ~1 KB, with the revision embedded as the API layer does.
Encoder Object(const std::string& key) {
  return [key](int64_t rev) {
    std::string v = "{\"metadata\":{\"name\":\"" + key + "\",\"resourceVersion\":\"" +
                    std::to_string(rev) + "\"},\"spec\":\"";
    v.append(1000 - std::min<size_t>(v.size(), 1000), 'x');
    return v + "\"}";
  };
}

class Bench {
 public:
  explicit Bench(bool fsync) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "skiff-bench-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    SqliteOptions o;
    o.path = (dir_ / "skiff.db").string();
    o.fsync_each_commit = fsync;
    o.compaction_interval_ms = 0;
    auto s = OpenSqliteStore(o);
    if (!s.ok()) {
      std::fprintf(stderr, "open: %s\n", s.status().message().c_str());
      std::exit(1);
    }
    store_ = std::move(*s);
  }
  ~Bench() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Store& store() { return *store_; }

  // Runs `per_thread` writes on each of `threads` threads; returns writes per second.
  template <typename F>
  double Rate(int threads, int per_thread, F write) {
    std::vector<std::thread> ts;
    auto start = Clock::now();
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          if (!write(t, i)) {
            std::fprintf(stderr, "write failed\n");
            std::exit(1);
          }
        }
      });
    }
    for (auto& th : ts) th.join();
    return threads * per_thread / Seconds(Clock::now() - start);
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

double Creates(Bench& b, int threads, int per_thread, const std::string& tag) {
  return b.Rate(threads, per_thread, [&](int t, int i) {
    std::string key = tag + "/" + std::to_string(t) + "/" + std::to_string(i);
    return b.store().Create(key, Object(key)).ok();
  });
}

void Print(const char* what, double value, const char* unit, const char* target) {
  std::printf("%-44s %12.2f %-9s %s\n", what, value, unit, target);
}

}  // namespace

int main() {
  std::printf("store_bench: SQLite store (WAL) on %s\n",
              std::filesystem::temp_directory_path().c_str());
  {
    Bench b(/*fsync=*/false);
    double one = Creates(b, 1, 20000, "c1");
    double eight = Creates(b, 8, 5000, "c8");
    double upd = b.Rate(8, 5000, [&](int t, int i) {
      std::string key = "c8/" + std::to_string(t) + "/" + std::to_string(i % 100);
      return b.store().Update(key, 0, Object(key)).ok();
    });
    Print("creates/s, 1 writer (synchronous=NORMAL)", one, "ops/s", "target >= 5000");
    Print("creates/s, 8 writers", eight, "ops/s", "target >= 5000, above 1 writer");
    Print("updates/s, 8 writers", upd, "ops/s", "");
  }
  {
    Bench b(/*fsync=*/true);
    double one = Creates(b, 1, 500, "f1");
    double eight = Creates(b, 8, 250, "f8");
    Print("creates/s, 1 writer (fsync each commit)", one, "ops/s", "(group commit shows here)");
    Print("creates/s, 8 writers (fsync each commit)", eight, "ops/s", "");
  }
  {
    Bench b(/*fsync=*/false);
    Creates(b, 4, 2500, "list");
    std::vector<double> ms;
    size_t n = 0;
    for (int i = 0; i < 9; ++i) {
      auto start = Clock::now();
      auto r = b.store().List({.prefix = "list/"});
      ms.push_back(Seconds(Clock::now() - start) * 1000);
      n = r->records.size();
    }
    std::sort(ms.begin(), ms.end());
    char what[64];
    std::snprintf(what, sizeof what, "list %zu objects (~1 KB), median", n);
    Print(what, ms[ms.size() / 2], "ms", "target < 50 ms");

    // One write at a time, each waiting for its event: latency without queueing behind others.
    constexpr int kWrites = 2000;
    std::mutex mu;
    std::condition_variable cv;
    int delivered = 0;
    Clock::time_point seen;
    auto w = b.store().WatchPrefix("lat/", 0, [&](const std::vector<Event>& events) {
      std::lock_guard<std::mutex> l(mu);
      seen = Clock::now();
      delivered += static_cast<int>(events.size());
      cv.notify_all();
      return true;
    });
    std::vector<double> us;
    for (int i = 0; i < kWrites; ++i) {
      std::string key = "lat/" + std::to_string(i);
      auto start = Clock::now();
      if (!b.store().Create(key, Object(key)).ok()) return 1;
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return delivered > i; });
      us.push_back(Seconds(seen - start) * 1e6);
    }
    std::sort(us.begin(), us.end());
    Print("watch latency write->sink p50", us[us.size() / 2] / 1000, "ms", "");
    Print("watch latency write->sink p99", us[us.size() * 99 / 100] / 1000, "ms",
          "target p99 < 5 ms");
  }
  return 0;
}
