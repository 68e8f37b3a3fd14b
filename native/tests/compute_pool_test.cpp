// Native tests of the compute pool: every task runs exactly once, thread ids stay in
// range and are never shared by two threads at once, and concurrent callers sharing the
// pool each get their work done. Exit code 0 = pass.
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "compute_pool.h"

int main() {
  int failures = 0;
  na::ComputePool& pool = na::ComputePool::instance();
  pool.set_num_threads(4);
  for (int64_t n : {1, 2, 3, 17, 1000, 100000}) {
    std::vector<std::atomic<int>> hits(n);
    std::vector<std::atomic<int>> busy(4);
    std::atomic<bool> overlap{false}, bad_tid{false};
    {
      na::Lease lease = pool.acquire(4);
      lease.parallel_for(n, [&](int64_t t, int tid) {
        if (tid < 0 || tid >= lease.threads()) { bad_tid = true; return; }
        if (busy[tid].fetch_add(1) != 0) overlap = true;
        hits[t].fetch_add(1);
        busy[tid].fetch_sub(1);
      });
    }
    for (int64_t t = 0; t < n; ++t)
      if (hits[t].load() != 1) { ++failures; std::printf("FAIL n=%lld: task %lld ran %d times\n", (long long)n, (long long)t, hits[t].load()); break; }
    if (overlap || bad_tid) { ++failures; std::printf("FAIL n=%lld: tid overlap %d, bad tid %d\n", (long long)n, int(overlap), int(bad_tid)); }
  }
  // Several callers at once: slots are shared, nothing is lost, nobody deadlocks.
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 6; ++c)
    callers.emplace_back([&] {
      for (int r = 0; r < 50; ++r) {
        na::Lease lease = pool.acquire(4);
        lease.parallel_for(1000, [&](int64_t, int) { total.fetch_add(1); });
      }
    });
  for (auto& t : callers) t.join();
  if (total.load() != 6 * 50 * 1000) { ++failures; std::printf("FAIL concurrent callers: %lld tasks\n", (long long)total.load()); }
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "passed", failures);
  return failures ? 1 : 0;
}
