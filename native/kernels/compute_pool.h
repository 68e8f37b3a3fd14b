// Threading ownership, decided once: this pool runs every parallel loop and every
// asynchronous call, and OpenBLAS is kept single-threaded (blas_init sets it to 1). So
// the two never multiply, and libuv's thread pool is never used: the application's fs,
// dns, zlib and crypto work never waits behind attention.
//
// The pool has `num_threads` compute slots shared by the whole process (every Node
// environment: the main thread and each worker thread). A slot is one pool thread
// computing. How many a call gets is sized by its work (threads_for), as MLAS sizes its
// thread count by the work's complexity, so small and large calls share the cores.
//
//  - A synchronous call computes on its caller's own thread plus as many helper slots
//    as are free right now, up to its share. It never waits for a slot: when async work
//    holds them all, it runs on its caller's thread alone.
//  - An asynchronous call is queued (one FIFO for the process) and started on a pool
//    thread as soon as a slot is free; that thread leads it with the slots it could get,
//    then hands the result back (AsyncJob::finish).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "common.h"

namespace na {

class ComputePool;

// An intrusive FIFO: items are linked through their own `Link` member, so queueing
// allocates nothing (the items live on their callers' stacks or heaps).
template <typename T, T* T::*Link>
class Fifo {
 public:
  bool empty() const { return head_ == nullptr; }
  void push(T* item) {
    item->*Link = nullptr;
    if (tail_)
      tail_->*Link = item;
    else
      head_ = item;
    tail_ = item;
  }
  T* pop() {
    T* item = head_;
    head_ = item->*Link;
    if (!head_) tail_ = nullptr;
    return item;
  }
  // Unlinks every item for which drop(item) holds; returns how many.
  template <typename Drop>
  int remove_if(Drop drop) {
    int removed = 0;
    T* prev = nullptr;
    for (T* item = head_; item;) {
      T* next = item->*Link;
      if (drop(item)) {
        (prev ? prev->*Link : head_) = next;
        if (tail_ == item) tail_ = prev;
        ++removed;
      } else {
        prev = item;
      }
      item = next;
    }
    return removed;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

// Work below this many multiply-adds runs on one thread: a hand-off costs more.
constexpr int64_t kParallelMinMacs = int64_t(1) << 18;

// The most threads the pool will ever run (setNumThreads' upper bound, exported to lib/).
constexpr int kMaxThreads = 256;

// One call's share of the pool. Movable; gives its slots back on destruction.
class Lease {
 public:
  Lease() = default;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease(Lease&& o) noexcept : pool_(o.pool_), threads_(o.threads_), slots_(o.slots_) {
    o.pool_ = nullptr;
    o.threads_ = 1;
    o.slots_ = 0;
  }
  ~Lease();

  // Threads available to parallel_for (1 = run inline on the caller).
  int threads() const { return threads_; }

  // Runs fn(task, tid) for every task in [0, n): tasks are handed out dynamically,
  // tid in [0, threads()) is unique among the threads running concurrently (index
  // per-thread scratch with it). Returns when all tasks are done.
  void parallel_for(int64_t n, FunctionRef<void(int64_t, int)> fn) const;

 private:
  friend class ComputePool;
  Lease(ComputePool* pool, int threads, int slots) : pool_(pool), threads_(threads), slots_(slots) {}
  ComputePool* pool_ = nullptr;  // null: an inline lease
  int threads_ = 1;              // the running thread plus its helpers
  int slots_ = 0;                // slots this lease holds (returned on destruction)
};

// An asynchronous call. The pool runs it on one of its threads, then calls finish() on
// that thread, which hands the result on and deletes the job.
class AsyncJob {
 public:
  virtual ~AsyncJob() = default;
  virtual int64_t macs() const = 0;
  // False when nobody waits for the result any more (its Node environment is gone):
  // the pool then skips run() and goes straight to finish().
  virtual bool wanted() const { return true; }
  virtual void run(const Lease& lease) noexcept = 0;
  virtual void finish() noexcept = 0;

 private:
  friend class ComputePool;
  AsyncJob* next_ = nullptr;
  int slots_ = 0;  // given when dispatched
};

class ComputePool {
 public:
  static ComputePool& instance();

  void set_num_threads(int n);  // n >= 1; takes effect for calls started afterwards
  int num_threads() const { return capacity_.load(std::memory_order_relaxed); }

  // Threads a call of `macs` multiply-adds should use: about 1 M multiply-adds each
  // (tens of µs: well above a hand-off), at most num_threads.
  int threads_for(int64_t macs) const;

  // The lease for a synchronous call: the caller's thread plus free helper slots up to
  // threads_for(macs). Never blocks.
  Lease lease_for(int64_t macs) { return lease(threads_for(macs)); }
  // The same for a given thread count (tests and benchmarks that pin it).
  Lease lease(int threads);

  // Queues an asynchronous call; it runs once a slot is free, in submission order.
  // Throws std::system_error when no pool thread can be started at all.
  void submit(AsyncJob* job);

  // Calls queued and not yet started (for tests and diagnostics).
  int64_t queued_jobs();

  // A lease that holds no slot and runs inline.
  static Lease inline_lease() { return Lease(); }

  struct Job;
  // A request for one helper to join a job; lives on the caller's stack until the
  // caller has either seen the helper finish or taken the ticket back unstarted.
  struct Ticket {
    Job* job = nullptr;
    int tid = 0;
    Ticket* next = nullptr;
  };

 private:
  friend class Lease;
  ComputePool();
  void release(int slots);
  void dispatch_locked(std::unique_lock<std::mutex>& lock);
  bool start_workers_locked(int wanted);
  void run(Job& job, int helpers);
  void worker_main();
  void lead(AsyncJob* job, int slots);

  std::mutex mu_;
  std::condition_variable work_cv_;  // a ticket or an async job to lead was queued
  std::condition_variable done_cv_;  // a helper finished its ticket
  std::atomic<int> capacity_{1};
  std::atomic<int> queued_{0};  // items waiting for a thread: lets spinning helpers look without the lock
  int free_slots_ = 1;
  int workers_ = 0;
  int sleepers_ = 0;                          // helpers blocked on work_cv_ (guarded by mu_): notify only when needed
  Fifo<Ticket, &Ticket::next> tickets_;       // tickets waiting for a helper
  Fifo<AsyncJob, &AsyncJob::next_> waiting_;  // async calls waiting for a slot
  int64_t jobs_waiting_ = 0;
  Fifo<AsyncJob, &AsyncJob::next_> leads_;  // async calls given slots, waiting for a thread to lead them
};

// Cores the process may use (affinity-aware), at least 1.
int available_cores();

}  // namespace na
