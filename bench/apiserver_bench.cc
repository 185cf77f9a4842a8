// API server figures of the real `skiff up` binary over HTTPS: requests/s and latency of GET,
// POST (create) and LIST of ConfigMaps from 16 keep-alive clients, `wrk` against the same GET as a
// cross-check of the client, GET /healthz as the HTTP+TLS ceiling, cold time-to-ready and RSS.
// Each figure is printed next to its target or peer. Usage: apiserver_bench [path/to/skiff]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/json.h"
#include "http/client.h"

namespace {

using namespace skiff::bench;

constexpr int kThreads = 16;
constexpr int kReps = 3;
constexpr int kColdStarts = 5;
constexpr double kSeconds = 3.0;  // per load run
constexpr int kListSize = 1000;

struct LoadResult {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  long requests = 0, errors = 0;
  std::string first_error;
};

// `threads` clients, each on its own keep-alive connection (opened before the clock starts), send
// requests made by `make(thread, i)` back to back for `seconds`.
LoadResult Load(const Skiff& s, int threads, double seconds,
                const std::function<ClientRequest(int, long)>& make, int want_status) {
  std::vector<std::vector<double>> lat(threads);
  std::vector<long> errors(threads, 0);
  std::vector<std::string> first_error(threads);
  std::vector<Clock::time_point> last(threads);
  std::mutex mu;
  std::condition_variable cv;
  int connected = 0;
  bool go = false;
  Clock::time_point start, deadline;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      auto c = s.NewClient();
      auto warm = c->Do(s.Get("/readyz"));  // TLS handshake outside the measured window
      lat[t].reserve(1 << 16);
      {
        std::unique_lock<std::mutex> l(mu);
        if (!warm.ok()) ++errors[t], first_error[t] = warm.status().message();
        ++connected;
        cv.notify_all();
        cv.wait(l, [&] { return go; });
      }
      long i = 0;
      Clock::time_point now = Clock::now();
      while (now < deadline) {
        ClientRequest req = make(t, i++);
        auto r = c->Do(req);
        Clock::time_point done = Clock::now();
        if (!r.ok() || r->status != want_status) {
          if (errors[t]++ == 0) {
            first_error[t] =
                r.ok() ? "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300)
                       : r.status().message();
          }
        } else {
          lat[t].push_back(Ms(done - now));
        }
        now = done;
      }
      last[t] = now;
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return connected == threads; });
    start = Clock::now();
    deadline =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    go = true;
    cv.notify_all();
  }
  for (auto& th : ts) th.join();
  LoadResult r;
  std::vector<double> all;
  Clock::time_point end = start;
  for (int t = 0; t < threads; ++t) {
    all.insert(all.end(), lat[t].begin(), lat[t].end());
    r.errors += errors[t];
    if (r.first_error.empty()) r.first_error = first_error[t];
    end = std::max(end, last[t]);
  }
  r.requests = static_cast<long>(all.size());
  r.rps = r.requests / (Ms(end - start) / 1000);
  r.p50_ms = Quantile(all, 0.50);
  r.p99_ms = Quantile(all, 0.99);
  return r;
}

// Median of each figure over repetitions; errors add up.
LoadResult MedianOf(const std::vector<LoadResult>& runs) {
  LoadResult m;
  std::vector<double> rps, p50, p99;
  for (const auto& r : runs) {
    rps.push_back(r.rps);
    p50.push_back(r.p50_ms);
    p99.push_back(r.p99_ms);
    m.requests += r.requests;
    m.errors += r.errors;
    if (m.first_error.empty()) m.first_error = r.first_error;
  }
  m.rps = Median(rps);
  m.p50_ms = Median(p50);
  m.p99_ms = Median(p99);
  return m;
}

// wrk's "1.23ms" / "850.00us" / "1.02s" in ms.
double WrkMs(const std::string& v) {
  double x = std::atof(v.c_str());
  if (v.find("us") != std::string::npos) return x / 1000;
  if (v.find("ms") != std::string::npos) return x;
  if (v.find('m') != std::string::npos) return x * 60000;  // minutes
  if (v.find('s') != std::string::npos) return x * 1000;
  return x;
}

// `wrk` with 16 connections (2 threads, one per core) against one URL. nullopt if wrk is missing.
std::optional<LoadResult> Wrk(const Skiff& s, const std::string& target, double seconds) {
  if (access("/usr/bin/wrk", X_OK) != 0 && system("command -v wrk >/dev/null 2>&1") != 0) {
    return std::nullopt;
  }
  std::string cmd = "wrk -t2 -c" + std::to_string(kThreads) + " -d" +
                    std::to_string(static_cast<int>(seconds)) +
                    "s --latency -H 'Authorization: Bearer " + s.token() +
                    "' https://127.0.0.1:" + std::to_string(s.port()) + target + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int rc = pclose(f);
  LoadResult r;
  std::istringstream in(out);
  std::string line;
  bool requests_seen = false;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string a, b;
    ls >> a >> b;
    if (a == "Requests/sec:") r.rps = std::atof(b.c_str()), requests_seen = true;
    if (a == "50%") r.p50_ms = WrkMs(b);
    if (a == "99%") r.p99_ms = WrkMs(b);
    if (line.find("Non-2xx or 3xx responses:") != std::string::npos) {
      r.errors += std::atol(line.c_str() + line.find(':') + 1);
    }
    if (line.find("Socket errors:") != std::string::npos) {
      r.errors += 1;
      if (r.first_error.empty()) r.first_error = line;
    }
    if (line.find(" requests in ") != std::string::npos) r.requests = std::atol(line.c_str());
  }
  if (rc != 0 || !requests_seen) {
    r.errors += 1;
    r.first_error = "wrk failed: " + out.substr(0, 500);
  }
  if (r.errors > 0 && r.first_error.empty()) r.first_error = "non-2xx responses from wrk";
  return r;
}

std::string ConfigMap(const std::string& name) {
  return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":{\"app\":\"bench\"}},\"data\":{\"config.yaml\":\"replicas: 3\\nimage: "
         "skiff/ml\\nlearningRate: 0.01\\n\",\"owner\":\"apiserver-bench\"}}";
}

// A table row: figure | measured | target or peer.
struct Row {
  std::string figure;
  std::string measured;
  std::string against;
};
std::vector<Row> rows;
bool failed = false;

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

void AddLoadRows(const std::string& what, const LoadResult& r, const std::string& rps_against,
                 const std::string& lat_against) {
  std::string errs = r.errors ? " (" + std::to_string(r.errors) + " errors!)" : "";
  rows.push_back({what + " req/s", Fmt("%.0f", r.rps) + errs, rps_against});
  rows.push_back(
      {what + " p50 / p99", Fmt("%.2f", r.p50_ms) + " / " + Fmt("%.2f ms", r.p99_ms), lat_against});
  if (r.errors) {
    failed = true;
    std::fprintf(stderr, "%s: %ld errors, first: %s\n", what.c_str(), r.errors,
                 r.first_error.c_str());
  }
}

void PrintTable() {
  size_t w0 = 6, w1 = 8;
  for (const auto& r : rows)
    w0 = std::max(w0, r.figure.size()), w1 = std::max(w1, r.measured.size());
  std::printf("%-*s | %-*s | %s\n", static_cast<int>(w0), "figure", static_cast<int>(w1),
              "measured", "target / peer");
  std::printf("%s-+-%s-+-%s\n", std::string(w0, '-').c_str(), std::string(w1, '-').c_str(),
              std::string(40, '-').c_str());
  for (const auto& r : rows) {
    std::printf("%-*s | %-*s | %s\n", static_cast<int>(w0), r.figure.c_str(), static_cast<int>(w1),
                r.measured.c_str(), r.against.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::string binary;
  if (argc > 1) {
    binary = argv[1];
  } else {
    binary = (fs::read_symlink("/proc/self/exe").parent_path() / ".." / "bin" / "skiff")
                 .lexically_normal()
                 .string();
  }
  if (access(binary.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "apiserver_bench: no skiff binary at %s (pass its path)\n",
                 binary.c_str());
    return 1;
  }
  std::printf(
      "apiserver_bench: %s over HTTPS (TLS, bearer token, CA verified), %d client "
      "threads,\n  %.0f s per run, median of %d runs; %u CPUs\n",
      binary.c_str(), kThreads, kSeconds, kReps, std::thread::hardware_concurrency());
  std::fflush(stdout);

  // 1. Cold starts on fresh data dirs: exec -> ready line, exec -> first 200 from GET /readyz.
  {
    std::vector<double> line_ms, readyz_ms, reported_ms;
    for (int i = 0; i < kColdStarts; ++i) {
      std::string dir = MakeTempDir("skiff-bench-cold");
      {
        Skiff s(binary, dir);
        if (!s.Start()) return 1;
        double rz = s.WaitReadyz();
        if (rz < 0) {
          std::fprintf(stderr, "GET /readyz never answered 200\n");
          return 1;
        }
        line_ms.push_back(s.ready_line_ms());
        readyz_ms.push_back(rz);
        reported_ms.push_back(s.reported_ms());
        int st = s.Stop();
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
          std::fprintf(stderr, "skiff up did not exit cleanly on SIGTERM (status %d)\n", st);
          failed = true;
        }
      }
      fs::remove_all(dir);
    }
    std::fprintf(stderr, "cold starts (ms, exec->ready line):");
    for (double v : line_ms) std::fprintf(stderr, " %.0f", v);
    std::fprintf(stderr, "\n");
    rows.push_back({"time-to-ready: exec -> ready line (median of 5 cold)",
                    Fmt("%.0f ms", Median(line_ms)), "target < 300 ms"});
    rows.push_back({"time-to-ready: exec -> first GET /readyz 200",
                    Fmt("%.0f ms", Median(readyz_ms)), "target < 300 ms"});
    rows.push_back({"time-to-ready: as skiff reports it (in-process)",
                    Fmt("%.0f ms", Median(reported_ms)), "(excludes exec, dynamic loading)"});
  }

  // 2. One server for the load runs.
  std::string dir = MakeTempDir("skiff-bench");
  Skiff s(binary, dir);
  if (!s.Start() || s.WaitReadyz() < 0) return 1;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Rss idle = ReadRss(s.pid());
  rows.push_back({"idle RSS after startup", Fmt("%.1f MiB", idle.rss), "target < 60 MB"});

  size_t list_bytes = 0;
  // Seed: one ConfigMap to GET, 1000 to LIST (own namespace), a namespace for creates.
  {
    auto c = s.NewClient();
    for (const char* ns : {"bench-list", "bench-create"}) {
      auto r = c->Do(s.Req("POST", "/api/v1/namespaces",
                           std::string("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",") +
                               "\"metadata\":{\"name\":\"" + ns + "\"}}"));
      if (!r.ok() || r->status != 201) {
        std::fprintf(stderr, "create namespace %s failed: %s\n", ns,
                     r.ok() ? r->body.c_str() : r.status().message().c_str());
        return 1;
      }
    }
    auto r = c->Do(s.Req("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("bench-get")));
    if (!r.ok() || r->status != 201) {
      std::fprintf(stderr, "create configmap failed: %s\n",
                   r.ok() ? r->body.c_str() : r.status().message().c_str());
      return 1;
    }
    std::atomic<int> next{0}, bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        auto tc = s.NewClient();
        for (int i; (i = next++) < kListSize;) {
          auto r = tc->Do(s.Req("POST", "/api/v1/namespaces/bench-list/configmaps",
                                ConfigMap("cm-" + std::to_string(i))));
          if (!r.ok() || r->status != 201) ++bad;
        }
      });
    }
    for (auto& th : ts) th.join();
    auto l = c->Do(s.Get("/api/v1/namespaces/bench-list/configmaps"));
    size_t items = 0;
    if (l.ok() && l->status == 200) {
      auto j = skiff::ParseJson(l->body);
      if (j.ok() && j->contains("items")) items = (*j)["items"].size();
    }
    if (bad > 0 || items != kListSize) {
      std::fprintf(stderr, "seeding %d ConfigMaps failed: %d errors, LIST has %zu items\n",
                   kListSize, bad.load(), items);
      return 1;
    }
    list_bytes = l->body.size();
  }

  // 3. Read load runs, interleaved so a noisy neighbour spreads over all of them; then creates
  // (last, since they grow the store and with it the memory).
  const std::string get_target = "/api/v1/namespaces/default/configmaps/bench-get";
  const std::string list_target = "/api/v1/namespaces/bench-list/configmaps";
  std::vector<LoadResult> health, get, post, list, wrk_get, wrk_health;
  bool have_wrk = true;
  auto wrk = [&](const std::string& target, std::vector<LoadResult>* into) {
    if (auto w = Wrk(s, target, kSeconds)) {
      into->push_back(*w);
    } else {
      have_wrk = false;
    }
  };
  for (int rep = 0; rep < kReps; ++rep) {
    std::fprintf(stderr, "reads %d/%d: healthz", rep + 1, kReps);
    health.push_back(Load(
        s, kThreads, kSeconds, [&](int, long) { return s.Get("/healthz"); }, 200));
    std::fprintf(stderr, " wrk-healthz");
    wrk("/healthz", &wrk_health);
    std::fprintf(stderr, " get");
    get.push_back(Load(
        s, kThreads, kSeconds, [&](int, long) { return s.Get(get_target); }, 200));
    std::fprintf(stderr, " wrk-get");
    wrk(get_target, &wrk_get);
    std::fprintf(stderr, " list\n");
    list.push_back(Load(
        s, kThreads, kSeconds, [&](int, long) { return s.Get(list_target); }, 200));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Rss after_reads = ReadRss(s.pid());
  for (int rep = 0; rep < kReps; ++rep) {
    std::fprintf(stderr, "creates %d/%d\n", rep + 1, kReps);
    post.push_back(Load(
        s, kThreads, kSeconds,
        [&](int t, long i) {
          return s.Req("POST", "/api/v1/namespaces/bench-create/configmaps",
                       ConfigMap("r" + std::to_string(rep) + "-t" + std::to_string(t) + "-" +
                                 std::to_string(i)));
        },
        201));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Rss after = ReadRss(s.pid());
  long stored = 1 + kListSize;
  for (const auto& r : post) stored += r.requests;

  LoadResult h = MedianOf(health), g = MedianOf(get), p = MedianOf(post), l = MedianOf(list);
  std::string vs_get = "wrk not installed", vs_get_lat, vs_health = "wrk not installed",
              vs_health_lat;
  if (have_wrk) {
    LoadResult wg = MedianOf(wrk_get), wh = MedianOf(wrk_health);
    vs_get = "wrk: " + Fmt("%.0f", wg.rps) + " (same GET, 16 conns); ceiling " +
             Fmt("%.0f", wh.rps) + " (wrk /healthz)";
    vs_get_lat = "wrk: " + Fmt("%.2f", wg.p50_ms) + " / " + Fmt("%.2f ms", wg.p99_ms);
    vs_health = "wrk: " + Fmt("%.0f", wh.rps) + " (fixed 2-byte body, no auth)";
    vs_health_lat = "wrk: " + Fmt("%.2f", wh.p50_ms) + " / " + Fmt("%.2f ms", wh.p99_ms);
    if (wg.errors + wh.errors > 0) {
      failed = true;
      std::fprintf(stderr, "wrk: %ld errors, first: %s\n", wg.errors + wh.errors,
                   (wg.first_error.empty() ? wh.first_error : wg.first_error).c_str());
    }
  }
  AddLoadRows("GET /healthz", h, vs_health, vs_health_lat);
  AddLoadRows("GET one ConfigMap", g, vs_get, vs_get_lat);
  AddLoadRows("LIST 1000 ConfigMaps", l,
              "no target; = " + Fmt("%.0f", l.rps * kListSize) + " objects/s",
              "no target; body " + Fmt("%.0f KB", list_bytes / 1000.0));
  AddLoadRows("POST create ConfigMap", p, "no target; raw store: store_bench creates/s", "");
  rows.push_back({"idle RSS after read load (1001 ConfigMaps stored)",
                  Fmt("%.1f MiB", after_reads.rss), "target < 60 MB"});
  rows.push_back({"idle RSS after creates (" + std::to_string(stored) + " ConfigMaps stored)",
                  Fmt("%.1f MiB", after.rss), "target < 60 MB (live objects are held in memory)"});
  rows.push_back({"peak RSS (VmHWM) during load", Fmt("%.1f MiB", after.hwm), "(no target)"});

  int st = s.Stop();
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    std::fprintf(stderr, "skiff up did not exit cleanly on SIGTERM (status %d)\n", st);
    failed = true;
  }
  fs::remove_all(dir);

  std::printf("\n");
  PrintTable();
  std::printf("(figures are medians of %d runs; latency p50/p99 over all requests of a run)\n",
              kReps);
  return failed ? 1 : 0;
}
