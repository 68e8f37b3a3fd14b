#include "workspace.h"

#include <cstdlib>

namespace na {

WorkspacePool& WorkspacePool::instance() {
  static WorkspacePool* pool = new WorkspacePool();  // outlives every call, never destroyed
  return *pool;
}

Workspace WorkspacePool::acquire(size_t floats) {
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
  if (floats > (SIZE_MAX / sizeof(float)) - 64) return Workspace();
  const size_t bytes = (floats * sizeof(float) + 63) & ~size_t(63);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) return Workspace();
  return Workspace(static_cast<float*>(p), bytes / sizeof(float));
}

void WorkspacePool::give_back(float* data, size_t capacity) {
  if (!data) return;
  float* evict = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t cached = 0;
    int empty = -1, smallest = -1;
    for (int i = 0; i < kSlots; ++i) {
      if (!free_data_[i]) { if (empty < 0) empty = i; continue; }
      cached += free_cap_[i];
      if (smallest < 0 || free_cap_[i] < free_cap_[smallest]) smallest = i;
    }
    if (cached + capacity > kMaxCachedFloats) {
      evict = data;  // too much idle memory already: free this one instead of caching it
    } else if (empty >= 0) {
      free_data_[empty] = data;
      free_cap_[empty] = capacity;
    } else if (free_cap_[smallest] < capacity) {
      evict = free_data_[smallest];
      free_data_[smallest] = data;
      free_cap_[smallest] = capacity;
    } else {
      evict = data;
    }
  }
  std::free(evict);
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
