// Native tests of the compute pool: every task runs exactly once, thread ids stay in
// range and are never shared by two threads at once, concurrent callers each get their
// work done, async jobs all run (in order when one runs at a time), and a sync lease
// never waits while async jobs hold every slot.
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "check.h"
#include "compute_pool.h"

using na::ComputePool;

namespace {

// An async job that records its start order and spins until released.
struct Probe final : na::AsyncJob {
  std::atomic<int>* order_counter;
  std::atomic<bool>* gate;
  int64_t work;
  int started_as = -1;
  int threads = 0;
  std::atomic<bool>* finished;
  int64_t macs() const override { return work; }
  void run(const na::Lease& lease) noexcept override {
    started_as = order_counter->fetch_add(1);
    threads = lease.threads();
    while (gate && !gate->load()) std::this_thread::yield();
  }
  void finish() noexcept override { finished->store(true); }
};

bool wait_for(const std::vector<std::atomic<bool>>& flags) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    bool all = true;
    for (const auto& f : flags) all = all && f.load();
    if (all) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

int main() {
  ComputePool& pool = ComputePool::instance();
  pool.set_num_threads(4);
  const int64_t kLarge = int64_t(1) << 40;  // enough work for every thread
  CHECK(pool.threads_for(1) == 1 && pool.threads_for(kLarge) == 4, "threads_for: %d, %d", pool.threads_for(1),
        pool.threads_for(kLarge));

  for (int64_t n : {1, 2, 3, 17, 1000, 100000}) {
    std::vector<std::atomic<int>> hits(n);
    std::vector<std::atomic<int>> busy(4);
    std::atomic<bool> overlap{false}, bad_tid{false};
    {
      na::Lease lease = pool.lease(4);
      CHECK(lease.threads() == 4, "an idle pool gives a large call all 4 threads, got %d", lease.threads());
      lease.parallel_for(n, [&](int64_t t, int tid) {
        if (tid < 0 || tid >= lease.threads()) {
          bad_tid = true;
          return;
        }
        if (busy[tid].fetch_add(1) != 0) overlap = true;
        hits[t].fetch_add(1);
        busy[tid].fetch_sub(1);
      });
    }
    bool once = true;
    for (int64_t t = 0; t < n; ++t) once = once && hits[t].load() == 1;
    CHECK(once, "n=%lld: a task did not run exactly once", (long long)n);
    CHECK(!overlap && !bad_tid, "n=%lld: tid overlap %d, bad tid %d", (long long)n, int(overlap), int(bad_tid));
  }

  // Several callers at once: slots are shared, nothing is lost, nobody deadlocks.
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  callers.reserve(6);
  for (int c = 0; c < 6; ++c)
    callers.emplace_back([&] {
      for (int r = 0; r < 50; ++r) {
        na::Lease lease = pool.lease(4);
        lease.parallel_for(1000, [&](int64_t, int) { total.fetch_add(1); });
      }
    });
  for (auto& t : callers) t.join();
  CHECK(total.load() == int64_t(6) * 50 * 1000, "concurrent callers: %lld tasks", (long long)total.load());

  // Async jobs with one slot: they run one at a time, in submission order.
  {
    pool.set_num_threads(1);
    std::atomic<int> counter{0};
    const int kJobs = 20;
    std::vector<Probe> jobs(kJobs);
    std::vector<std::atomic<bool>> done(kJobs);
    for (int i = 0; i < kJobs; ++i) {
      jobs[i].order_counter = &counter;
      jobs[i].gate = nullptr;
      jobs[i].work = kLarge;
      jobs[i].finished = &done[i];
      pool.submit(&jobs[i]);
    }
    CHECK(wait_for(done), "async jobs did not all finish");
    bool in_order = true;
    for (int i = 0; i < kJobs; ++i) in_order = in_order && jobs[i].started_as == i && jobs[i].threads == 1;
    CHECK(in_order, "async jobs ran out of order or with more than one thread");
  }

  // Async jobs holding every slot: a sync lease does not wait, it runs on its caller alone;
  // queued jobs start once slots come back.
  {
    pool.set_num_threads(2);
    std::atomic<int> counter{0};
    std::atomic<bool> gate{false};
    std::vector<Probe> jobs(3);
    std::vector<std::atomic<bool>> done(3);
    for (int i = 0; i < 3; ++i) {
      jobs[i].order_counter = &counter;
      jobs[i].gate = &gate;
      jobs[i].work = 4 * na::kParallelMinMacs;  // one thread each
      jobs[i].finished = &done[i];
      pool.submit(&jobs[i]);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (counter.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    CHECK(counter.load() == 2, "two one-thread jobs should run at once on two slots, %d started", counter.load());
    CHECK(pool.queued_jobs() == 1, "expected 1 queued job, got %lld", (long long)pool.queued_jobs());
    const auto t0 = std::chrono::steady_clock::now();
    {
      na::Lease lease = pool.lease(4);
      CHECK(lease.threads() == 1, "a sync lease while async jobs hold every slot: %d threads", lease.threads());
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    CHECK(ms < 100, "the sync lease waited %.1f ms", ms);
    gate.store(true);
    CHECK(wait_for(done), "async jobs did not all finish after the gate opened");
  }
  return na_test::test_exit("compute_pool_test");
}
