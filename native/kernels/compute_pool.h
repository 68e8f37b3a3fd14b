// Threading ownership, decided once: this pool runs every parallel loop, and OpenBLAS is
// kept single-threaded (blas_init sets it to 1). So the two never multiply.
//
// The pool has `num_threads` compute slots shared by the whole process (all Node
// environments, sync and async calls). A call takes a Lease of 1..num_threads slots,
// blocking only for the first; its parallel loops then run on the calling thread plus
// one pooled helper per extra slot. Concurrent calls therefore split the cores between
// them instead of oversubscribing: at most num_threads threads compute at any time.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "common.h"

namespace na {

class ComputePool;

// Work below this many multiply-adds runs on one thread: a hand-off costs more.
constexpr int64_t kParallelMinMacs = int64_t(1) << 18;

// The most threads the pool will ever run (setNumThreads' upper bound, exported to lib/).
constexpr int kMaxThreads = 256;

// One call's share of the pool. Movable, releases its slots on destruction.
class Lease {
 public:
  Lease() = default;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease(Lease&& o) noexcept : pool_(o.pool_), slots_(o.slots_) { o.pool_ = nullptr; o.slots_ = 1; }
  ~Lease();

  // Threads available to parallel_for (1 = run inline on the caller).
  int threads() const { return slots_; }

  // Runs fn(task, tid) for every task in [0, n): tasks are handed out dynamically,
  // tid in [0, threads()) is unique among the threads running concurrently (index
  // per-thread scratch with it). Returns when all tasks are done.
  void parallel_for(int64_t n, FunctionRef<void(int64_t, int)> fn) const;

 private:
  friend class ComputePool;
  Lease(ComputePool* pool, int slots) : pool_(pool), slots_(slots) {}
  ComputePool* pool_ = nullptr;  // null: an inline lease that holds no slot
  int slots_ = 1;
};

class ComputePool {
 public:
  static ComputePool& instance();

  void set_num_threads(int n);  // n >= 1; takes effect for leases taken afterwards
  int num_threads() const { return capacity_.load(std::memory_order_relaxed); }

  // Blocks until one slot is free, then takes up to `want` (>= 1) slots.
  Lease acquire(int want);
  // The lease for a call of `macs` multiply-adds: small calls run inline on the caller
  // (a hand-off costs more than they do, and microseconds cannot oversubscribe
  // anything); larger ones take up to every slot of the pool.
  Lease lease_for(int64_t macs);
  // A lease that holds no slot and runs inline: for calls too small to be worth a
  // thread hand-off (their microseconds cannot oversubscribe anything).
  static Lease inline_lease() { return Lease(); }

  struct Job;
  struct Ticket;

 private:
  friend class Lease;
  ComputePool();
  void release(int slots);
  void run(Job& job, int helpers);
  void worker_main();

  std::mutex mu_;
  std::condition_variable slot_cv_;   // a slot was released
  std::condition_variable work_cv_;   // a ticket was queued
  std::condition_variable done_cv_;   // a helper finished its ticket
  std::atomic<int> capacity_{1};
  std::atomic<int> queued_{0};  // tickets waiting: lets spinning helpers look without the lock
  int free_slots_ = 1;
  int workers_ = 0;
  int sleepers_ = 0;  // helpers blocked on work_cv_ (guarded by mu_): notify only when needed
  Ticket* queue_head_ = nullptr;  // intrusive FIFO of tickets waiting for a helper
  Ticket* queue_tail_ = nullptr;
};

// Cores the process may use (affinity-aware), at least 1.
int available_cores();

}  // namespace na
