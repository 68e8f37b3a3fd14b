// Scratch memory reused across calls, so that a steady stream of calls allocates
// nothing: a call takes a block at least as large as it needs and gives it back.
// Process-wide and thread-safe (concurrent calls each hold their own block).
#pragma once
#include <cstddef>
#include <mutex>

namespace na {

class WorkspacePool;

// A 64-byte aligned float buffer borrowed from the pool; returned on destruction.
class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  Workspace(Workspace&& o) noexcept : data_(o.data_), capacity_(o.capacity_) { o.data_ = nullptr; o.capacity_ = 0; }
  ~Workspace();
  float* data() const { return data_; }
  bool ok() const { return data_ != nullptr; }

 private:
  friend class WorkspacePool;
  Workspace(float* d, size_t cap) : data_(d), capacity_(cap) {}
  float* data_ = nullptr;
  size_t capacity_ = 0;  // in floats
};

class WorkspacePool {
 public:
  static WorkspacePool& instance();
  // A block of at least `floats` floats; !ok() when the allocation failed.
  Workspace acquire(size_t floats);
  void give_back(float* data, size_t capacity);

 private:
  static constexpr int kSlots = 16;
  static constexpr size_t kMaxCachedFloats = size_t(256) << 20 >> 2;  // keep at most 256 MiB idle
  std::mutex mu_;
  float* free_data_[kSlots] = {};
  size_t free_cap_[kSlots] = {};
};

// Carves consecutive 64-byte aligned pieces out of one workspace block.
class Carver {
 public:
  explicit Carver(float* base) : p_(base) {}
  float* take(size_t floats) {
    float* r = p_;
    p_ += round_up(floats);
    return r;
  }
  static size_t round_up(size_t floats) { return (floats + 15) & ~size_t(15); }

 private:
  float* p_;
};

}  // namespace na
