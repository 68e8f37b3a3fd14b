#include "compute_pool.h"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <thread>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "fault_injection.h"

namespace na {

namespace {
// A parallel call runs several loops in a row (projections, heads, output). Between
// them, helpers and callers spin briefly before sleeping, so that each hand-off does not
// pay a futex wake-up; idle for longer, they block and use no CPU. The spin is bounded by
// time, not by PAUSE count: one PAUSE takes ~10 cycles on older cores and ~140 on
// Skylake and later Intel cores, so a count means 20 µs on one machine and 200 on another.
constexpr auto kSpinBudget = std::chrono::microseconds(50);

// Multiply-adds per thread before a call is worth another thread (about 20-100 µs of
// work on the cores we run on, several times a hand-off).
constexpr int64_t kMacsPerThread = 4 * kParallelMinMacs;

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
  std::unique_lock<std::mutex> lock(mu_);
  // Leases already out keep their slots; free_slots_ may go negative until they return.
  free_slots_ += n - capacity_.load();
  capacity_.store(n);
  dispatch_locked(lock);
}

int ComputePool::threads_for(int64_t macs) const {
  return int(std::clamp<int64_t>(macs / kMacsPerThread, 1, num_threads()));
}

// Makes sure at least `wanted` pool threads exist (one per slot in use is enough: a
// thread only ever runs on behalf of a slot). False when none could be started.
bool ComputePool::start_workers_locked(int wanted) {
  wanted = std::min(wanted, kMaxThreads);
  while (workers_ < wanted) {
    try {
      if (fault::should_fail(fault::Kind::ThreadStart))
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
      std::thread([this] { worker_main(); }).detach();
    } catch (const std::system_error&) {
      return workers_ > 0;
    }
    ++workers_;
  }
  return true;
}

Lease ComputePool::lease(int want) {
  if (want <= 1) return inline_lease();
  std::lock_guard<std::mutex> lock(mu_);
  const int helpers = std::min(want - 1, free_slots_);
  if (helpers <= 0) return inline_lease();
  free_slots_ -= helpers;
  if (!start_workers_locked(num_threads() - free_slots_)) {
    free_slots_ += helpers;  // no thread to help: run on the caller alone
    return inline_lease();
  }
  return Lease(this, 1 + helpers, helpers);
}

void ComputePool::submit(AsyncJob* job) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!start_workers_locked(1))
    throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
  waiting_.push(job);
  ++jobs_waiting_;
  dispatch_locked(lock);
}

int64_t ComputePool::queued_jobs() {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_waiting_;
}

// Starts queued async calls while slots are free: each gets its share of the free slots
// and goes to the lead queue, where an idle pool thread picks it up.
void ComputePool::dispatch_locked(std::unique_lock<std::mutex>&) {
  bool queued = false;
  while (!waiting_.empty() && free_slots_ > 0) {
    AsyncJob* job = waiting_.pop();
    --jobs_waiting_;
    job->slots_ = std::min(threads_for(job->macs()), free_slots_);
    free_slots_ -= job->slots_;
    start_workers_locked(num_threads() - free_slots_);  // at least one exists (submit checked)
    leads_.push(job);
    queued_.fetch_add(1, std::memory_order_release);
    queued = true;
  }
  if (queued && sleepers_ > 0) work_cv_.notify_all();
}

void ComputePool::release(int slots) {
  std::unique_lock<std::mutex> lock(mu_);
  free_slots_ += slots;
  dispatch_locked(lock);
}

void ComputePool::lead(AsyncJob* job, int slots) {
  {
    Lease lease(this, slots, slots);
    if (job->wanted()) job->run(lease);
  }  // slots back first: the next queued call can start while this one hands its result on
  job->finish();
}

void ComputePool::run(Job& job, int helpers) {
  Ticket tickets[kMaxThreads];
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < helpers; ++i) {
      tickets[i].job = &job;
      tickets[i].tid = i + 1;
      tickets_.push(&tickets[i]);
    }
    job.pending_helpers.store(helpers, std::memory_order_relaxed);
    queued_.fetch_add(helpers, std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) {
    if (helpers == 1)
      work_cv_.notify_one();
    else
      work_cv_.notify_all();
  }

  run_tasks(job, 0);

  {
    std::lock_guard<std::mutex> lock(mu_);
    // Take back tickets no helper has picked up yet: the work is already done, so
    // there is no reason to wait for a thread to wake only to find nothing left.
    const int unstarted = tickets_.remove_if([&](Ticket* t) { return t->job == &job; });
    queued_.fetch_sub(unstarted, std::memory_order_relaxed);
    job.pending_helpers.fetch_sub(unstarted, std::memory_order_relaxed);
  }
  spin_while([&] { return job.pending_helpers.load(std::memory_order_acquire) > 0; });
  if (job.pending_helpers.load(std::memory_order_acquire) > 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return job.pending_helpers.load(std::memory_order_acquire) == 0; });
  }
}

// Pool threads run a little below normal priority: when the cores are oversubscribed
// (more compute threads than cores, other processes), the event loop and libuv's I/O
// threads get the CPU first, so a server stays responsive while attention queues up.
// Compute throughput is unchanged when the cores are otherwise idle.
constexpr int kWorkerNice = 5;

static void lower_priority() {
#if defined(__linux__)
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kWorkerNice);
#endif
}

void ComputePool::worker_main() {
  lower_priority();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (tickets_.empty() && leads_.empty()) {
      lock.unlock();
      spin_while([&] { return queued_.load(std::memory_order_acquire) == 0; });
      lock.lock();
      if (tickets_.empty() && leads_.empty()) {
        ++sleepers_;
        work_cv_.wait(lock, [&] { return !tickets_.empty() || !leads_.empty(); });
        --sleepers_;
      }
    }
    queued_.fetch_sub(1, std::memory_order_relaxed);
    if (!tickets_.empty()) {  // helping a running call comes first: its caller is waiting
      Ticket* t = tickets_.pop();
      Job* job = t->job;
      const int tid = t->tid;
      lock.unlock();
      run_tasks(*job, tid);
      // After this decrement the caller may return and free the job: touch it no more.
      const bool last = job->pending_helpers.fetch_sub(1, std::memory_order_acq_rel) == 1;
      lock.lock();
      if (last) done_cv_.notify_all();
    } else {
      AsyncJob* job = leads_.pop();
      lock.unlock();
      lead(job, job->slots_);
      lock.lock();
    }
  }
}

Lease::~Lease() {
  if (pool_ && slots_ > 0) pool_->release(slots_);
}

void Lease::parallel_for(int64_t n, FunctionRef<void(int64_t, int)> fn) const {
  if (n <= 0) return;
  if (!pool_ || threads_ <= 1 || n == 1) {
    for (int64_t t = 0; t < n; ++t) fn(t, 0);
    return;
  }
  ComputePool::Job job(fn, n);
  const int helpers = static_cast<int>(std::min<int64_t>(threads_ - 1, n - 1));
  pool_->run(job, helpers);
}

}  // namespace na
