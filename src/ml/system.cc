// CPU discovery and BLAS thread pinning; see system.h.
#include "ml/system.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

namespace skiff::ml {

int AvailableCpus() {
  int cpus = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  // cgroup v2: "max 100000" or "<quota> <period>".
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (f >> quota >> period && quota != "max") {
    double q = std::stod(quota), p = std::stod(period);
    if (p > 0) cpus = std::min(cpus, std::max(1, static_cast<int>(std::ceil(q / p))));
  }
  return std::max(1, cpus);
}

void SetBlasThreads(int n) {
  // An explicit OPENBLAS_NUM_THREADS from the user wins (OpenBLAS read it at load time).
  if (const char* env = std::getenv("OPENBLAS_NUM_THREADS"); env && *env) return;
  // Looked up at run time so skiff-ml does not link OpenBLAS itself (torch brings in whichever
  // BLAS the system's alternatives point at).
  using SetFn = void (*)(int);
  if (auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
}

void TuneAllocator() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace skiff::ml
