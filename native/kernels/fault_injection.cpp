#include "fault_injection.h"

#include <mutex>
#include <new>
#include <thread>

namespace na::fault {

namespace {
// Per kind: checks still to pass, then checks to fail. Armed only by tests, which make
// their calls one at a time, so a lock costs nothing that matters; the disarmed fast
// path reads one atomic.
std::atomic<bool> g_armed[int(Kind::kCount)];
std::mutex g_mu;
int64_t g_skip[int(Kind::kCount)];
int64_t g_fail[int(Kind::kCount)];
bool g_only[int(Kind::kCount)];
std::thread::id g_thread[int(Kind::kCount)];
}  // namespace

void arm(Kind kind, int64_t skip, int64_t count, bool this_thread_only) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_skip[int(kind)] = skip < 0 ? 0 : skip;
  g_fail[int(kind)] = count < 0 ? 0 : count;
  g_only[int(kind)] = this_thread_only;
  g_thread[int(kind)] = std::this_thread::get_id();
  g_armed[int(kind)].store(count > 0, std::memory_order_relaxed);
}

bool should_fail(Kind kind) {
  if (!g_armed[int(kind)].load(std::memory_order_relaxed)) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_only[int(kind)] && std::this_thread::get_id() != g_thread[int(kind)]) return false;
  if (g_skip[int(kind)] > 0) {
    --g_skip[int(kind)];
    return false;
  }
  if (g_fail[int(kind)] == 0) return false;
  if (--g_fail[int(kind)] == 0) g_armed[int(kind)].store(false, std::memory_order_relaxed);
  return true;
}

void check_alloc() {
  if (should_fail(Kind::Alloc)) throw std::bad_alloc();
}

}  // namespace na::fault
