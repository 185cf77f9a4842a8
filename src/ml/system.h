// Process-wide compute settings: how many CPUs this container may use, and pinning OpenBLAS to one
// thread (it ignores torch's thread setting and oversubscribes the CPUs otherwise).
#pragma once

namespace skiff::ml {

// min(CPUs in the affinity mask, cgroup v2 cpu.max quota rounded up), at least 1.
int AvailableCpus();

// Sets OpenBLAS's own pool to `n` threads if OpenBLAS is loaded and the user did not set
// OPENBLAS_NUM_THREADS; a no-op otherwise.
void SetBlasThreads(int n);

// Keeps freed tensor memory in the heap: glibc otherwise returns large blocks to the kernel after
// every step and the next step page-faults them back in (a third of CNN training time).
void TuneAllocator();

}  // namespace skiff::ml
