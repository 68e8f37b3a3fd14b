#include "workspace.h"

#include <cstdlib>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

#include "fault_injection.h"

namespace na {

namespace {

// Blocks of this size and more are mapped from the OS directly and unmapped when freed.
// From malloc, blocks freed by one thread while other threads hold blocks of their own
// leave holes the heap cannot return: with 64 async calls in flight (each holding copies
// of its inputs and outputs), RSS crept up by ~90 MiB over 10,000 calls before levelling
// off (bench/NOTES.md). Mapped blocks go back to the OS at once; the pool's cache keeps
// the steady state free of page faults.
constexpr size_t kMapBytes = size_t(128) << 10;

size_t round_to_page(size_t bytes) { return (bytes + 4095) & ~size_t(4095); }

void* allocate(size_t bytes) {
#if defined(__unix__) || defined(__APPLE__)
  if (bytes >= kMapBytes) {
    void* p = mmap(nullptr, round_to_page(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
#endif
  return std::aligned_alloc(64, bytes);
}

void deallocate(void* p, size_t bytes) {
  if (!p) return;
#if defined(__unix__) || defined(__APPLE__)
  if (bytes >= kMapBytes) {
    munmap(p, round_to_page(bytes));
    return;
  }
#endif
  std::free(p);
}

}  // namespace

void* map_zeroed(size_t bytes) {
#if defined(__unix__) || defined(__APPLE__)
  void* p = mmap(nullptr, round_to_page(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
#else
  return std::calloc(bytes, 1);
#endif
}

void unmap_zeroed(void* p, size_t bytes) {
  if (!p) return;
#if defined(__unix__) || defined(__APPLE__)
  munmap(p, round_to_page(bytes));
#else
  (void)bytes;
  std::free(p);
#endif
}

WorkspacePool& WorkspacePool::instance() {
  static WorkspacePool* pool = new WorkspacePool();  // outlives every call, never destroyed
  return *pool;
}

Workspace WorkspacePool::acquire(size_t floats) {
  if (fault::should_fail(fault::Kind::Alloc)) return Workspace();
  if (floats == 0) floats = 16;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int best = -1;
    for (int i = 0; i < kSlots; ++i) {
      if (free_data_[i] && free_cap_[i] >= floats && (best < 0 || free_cap_[i] < free_cap_[best])) best = i;
    }
    if (best >= 0) {
      Workspace w(free_data_[best], free_cap_[best]);
      free_data_[best] = nullptr;
      free_cap_[best] = 0;
      return w;
    }
  }
  if (floats > (SIZE_MAX / sizeof(float)) - 4096) return Workspace();
  const size_t bytes = (floats * sizeof(float) + 63) & ~size_t(63);
  void* p = allocate(bytes);
  if (!p) return Workspace();
  return Workspace(static_cast<float*>(p), bytes / sizeof(float));
}

void WorkspacePool::give_back(float* data, size_t capacity) {
  if (!data) return;
  // Freed outside the lock: the block given back, unless it is cached, or the smallest
  // cached block it replaces.
  float* evict = data;
  size_t evict_capacity = capacity;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t cached = 0;
    int empty = -1, smallest = -1;
    for (int i = 0; i < kSlots; ++i) {
      if (!free_data_[i]) {
        if (empty < 0) empty = i;
        continue;
      }
      cached += free_cap_[i];
      if (smallest < 0 || free_cap_[i] < free_cap_[smallest]) smallest = i;
    }
    // Cache it only while idle memory stays under the cap: into an empty slot, or in
    // place of a smaller block.
    const int slot = empty >= 0 ? empty : (free_cap_[smallest] < capacity ? smallest : -1);
    if (cached + capacity <= kMaxCachedFloats && slot >= 0) {
      evict = free_data_[slot];  // null for an empty slot
      evict_capacity = free_cap_[slot];
      free_data_[slot] = data;
      free_cap_[slot] = capacity;
    }
  }
  deallocate(evict, evict_capacity * sizeof(float));
}

size_t WorkspacePool::idle_floats() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (int i = 0; i < kSlots; ++i) n += free_data_[i] ? free_cap_[i] : 0;
  return n;
}

int WorkspacePool::idle_blocks() {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (int i = 0; i < kSlots; ++i) n += free_data_[i] != nullptr;
  return n;
}

Workspace::~Workspace() {
  if (data_) WorkspacePool::instance().give_back(data_, capacity_);
}

}  // namespace na
