#include "compute_pool.h"

#include <algorithm>
#include <chrono>
#include <thread>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace na {

namespace {
// A parallel call runs several loops in a row (projections, heads, output). Between
// them, helpers and callers spin briefly before sleeping, so that each hand-off does not
// pay a futex wake-up; idle for longer, they block and use no CPU. The spin is bounded by
// time, not by PAUSE count: one PAUSE takes ~10 cycles on older cores and ~140 on
// Skylake and later Intel cores, so a count means 20 µs on one machine and 200 on another.
constexpr auto kSpinBudget = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}
// Spins (PAUSE between looks) while `busy()` holds, for at most kSpinBudget.
template <typename Busy>
void spin_while(Busy busy) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
  for (int i = 0; busy(); ++i) {
    cpu_relax();
    // Reading the clock costs ~20 ns: look at it every 64 pauses only.
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= deadline) return;
  }
}
}  // namespace

struct ComputePool::Job {
  FunctionRef<void(int64_t, int)> fn;
  int64_t n;
  std::atomic<int64_t> next{0};
  std::atomic<int> pending_helpers{0};  // helpers that took a ticket and have not finished
  Job(FunctionRef<void(int64_t, int)> f, int64_t count) : fn(f), n(count) {}
};

// A request for one helper to join a job; lives on the caller's stack until the
// caller has either seen the helper finish or taken the ticket back unstarted.
struct ComputePool::Ticket {
  Job* job = nullptr;
  int tid = 0;
  Ticket* next = nullptr;
};

static void run_tasks(ComputePool::Job& job, int tid) {
  for (;;) {
    const int64_t t = job.next.fetch_add(1, std::memory_order_relaxed);
    if (t >= job.n) return;
    job.fn(t, tid);
  }
}

int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

ComputePool& ComputePool::instance() {
  // Deliberately never destroyed: helpers may still be parked on its condition
  // variables while the process exits.
  static ComputePool* pool = new ComputePool();
  return *pool;
}

ComputePool::ComputePool() {
  const int n = std::min(available_cores(), kMaxThreads);
  capacity_.store(n);
  free_slots_ = n;
}

void ComputePool::set_num_threads(int n) {
  n = std::clamp(n, 1, kMaxThreads);
  std::lock_guard<std::mutex> lock(mu_);
  // Leases already out keep their slots; free_slots_ may go negative until they return.
  free_slots_ += n - capacity_.load();
  capacity_.store(n);
  slot_cv_.notify_all();
}

Lease ComputePool::acquire(int want) {
  std::unique_lock<std::mutex> lock(mu_);
  slot_cv_.wait(lock, [&] { return free_slots_ > 0; });
  const int take = std::clamp(want, 1, free_slots_);
  free_slots_ -= take;
  while (workers_ < take - 1) {  // helpers are started lazily, once, and then reused
    std::thread([this] { worker_main(); }).detach();
    ++workers_;
  }
  return Lease(this, take);
}

Lease ComputePool::lease_for(int64_t macs) {
  if (macs < 4 * kParallelMinMacs) return inline_lease();
  return acquire(num_threads());
}

void ComputePool::release(int slots) {
  std::lock_guard<std::mutex> lock(mu_);
  free_slots_ += slots;
  slot_cv_.notify_all();
}

void ComputePool::run(Job& job, int helpers) {
  Ticket tickets[kMaxThreads];
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < helpers; ++i) {
      Ticket* t = &tickets[i];
      t->job = &job;
      t->tid = i + 1;
      t->next = nullptr;
      if (queue_tail_) queue_tail_->next = t; else queue_head_ = t;
      queue_tail_ = t;
    }
    job.pending_helpers.store(helpers, std::memory_order_relaxed);
    queued_.fetch_add(helpers, std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) {
    if (helpers == 1) work_cv_.notify_one(); else work_cv_.notify_all();
  }

  run_tasks(job, 0);

  {
    std::lock_guard<std::mutex> lock(mu_);
    // Take back tickets no helper has picked up yet: the work is already done, so
    // there is no reason to wait for a thread to wake only to find nothing left.
    Ticket* prev = nullptr;
    for (Ticket* t = queue_head_; t;) {
      Ticket* next = t->next;
      if (t->job == &job) {
        if (prev) prev->next = next; else queue_head_ = next;
        if (queue_tail_ == t) queue_tail_ = prev;
        queued_.fetch_sub(1, std::memory_order_relaxed);
        job.pending_helpers.fetch_sub(1, std::memory_order_relaxed);
      } else {
        prev = t;
      }
      t = next;
    }
  }
  spin_while([&] { return job.pending_helpers.load(std::memory_order_acquire) > 0; });
  if (job.pending_helpers.load(std::memory_order_acquire) > 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return job.pending_helpers.load(std::memory_order_acquire) == 0; });
  }
}

void ComputePool::worker_main() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (!queue_head_) {
      lock.unlock();
      spin_while([&] { return queued_.load(std::memory_order_acquire) == 0; });
      lock.lock();
      if (!queue_head_) {
        ++sleepers_;
        work_cv_.wait(lock, [&] { return queue_head_ != nullptr; });
        --sleepers_;
      }
    }
    Ticket* t = queue_head_;
    queue_head_ = t->next;
    if (!queue_head_) queue_tail_ = nullptr;
    queued_.fetch_sub(1, std::memory_order_relaxed);
    Job* job = t->job;
    const int tid = t->tid;
    lock.unlock();
    run_tasks(*job, tid);
    // After this decrement the caller may return and free the job: touch it no more.
    if (job->pending_helpers.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      lock.lock();
      done_cv_.notify_all();
    } else {
      lock.lock();
    }
  }
}

Lease::~Lease() {
  if (pool_) pool_->release(slots_);
}

void Lease::parallel_for(int64_t n, FunctionRef<void(int64_t, int)> fn) const {
  if (n <= 0) return;
  if (!pool_ || slots_ <= 1 || n == 1) {
    for (int64_t t = 0; t < n; ++t) fn(t, 0);
    return;
  }
  ComputePool::Job job(fn, n);
  const int helpers = static_cast<int>(std::min<int64_t>(slots_ - 1, n - 1));
  pool_->run(job, helpers);
}

}  // namespace na
