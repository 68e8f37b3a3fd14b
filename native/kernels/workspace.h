// Scratch memory reused across calls, so that a steady stream of calls allocates
// nothing: a call takes a block at least as large as it needs and gives it back.
// Process-wide and thread-safe (concurrent calls each hold their own block).
#pragma once
#include <cstddef>
#include <mutex>

namespace na {

class WorkspacePool;

// Zeroed memory straight from the OS (mmap), backed only where it is written and returned
// to the OS when freed: for long-lived buffers such as a key/value cache. (From calloc,
// blocks below glibc's moving mmap threshold come from the heap, are zeroed by writing
// every page, and keep their pages after free.) Null on failure.
void* map_zeroed(size_t bytes);
void unmap_zeroed(void* p, size_t bytes);

// A 64-byte aligned float buffer borrowed from the pool; returned on destruction.
class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  Workspace(Workspace&& o) noexcept : data_(o.data_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.capacity_ = 0;
  }
  ~Workspace();
  float* data() const { return data_; }
  size_t capacity() const { return capacity_; }  // in floats
  bool ok() const { return data_ != nullptr; }

 private:
  friend class WorkspacePool;

  // Zeroed memory straight from the OS (mmap), backed only where it is written and returned
  // to the OS when freed: for long-lived buffers such as a key/value cache. (From calloc,
  // blocks below glibc's moving mmap threshold come from the heap, are zeroed by writing
  // every page, and keep their pages after free.) Null on failure.
  void* map_zeroed(size_t bytes);
  void unmap_zeroed(void* p, size_t bytes);
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
  // Floats held idle for reuse, and how many blocks (for tests and diagnostics).
  size_t idle_floats();
  int idle_blocks();

  // Enough blocks for a queue of async calls (each holds copies of its inputs and its
  // outputs) to reuse them instead of mapping fresh pages call after call.
  static constexpr int kSlots = 64;
  static constexpr size_t kMaxCachedFloats = size_t(256) << 20 >> 2;  // keep at most 256 MiB idle

 private:
  std::mutex mu_;
  float* free_data_[kSlots] = {};
  size_t free_cap_[kSlots] = {};
};

// Lays out consecutive 64-byte aligned pieces of one workspace block. One function
// describes a call's pieces and runs twice over the same code: first with a measuring
// Carver (take() returns null and counts), then with a carving one over a block of
// exactly that size (take() hands out pointers, refusing anything beyond the block), so
// the sizes and the pieces can never drift apart.
class Carver {
 public:
  Carver() = default;  // measuring
  Carver(float* base, size_t capacity) : base_(base), capacity_(capacity) {}

  // `floats` < 0 (an overflowed size) or beyond the block marks the carver failed and
  // returns null.
  float* take(int64_t floats) {
    const size_t n = floats < 0 ? 0 : round_up(size_t(floats));
    if (floats < 0 || n > kMaxFloats - used_ || (base_ && used_ + n > capacity_)) {
      failed_ = true;
      return nullptr;
    }
    float* r = base_ ? base_ + used_ : nullptr;
    used_ += n;
    return r;
  }
  size_t used() const { return used_; }
  bool ok() const { return !failed_; }

 private:
  static constexpr size_t kMaxFloats = size_t(1) << 50;
  static size_t round_up(size_t floats) { return (floats + 15) & ~size_t(15); }
  float* base_ = nullptr;
  size_t capacity_ = 0, used_ = 0;
  bool failed_ = false;
};

}  // namespace na
