// Native tests of the workspace pool and the Carver: blocks are aligned and reused (the
// smallest that fits), idle memory stays under its cap, at most kSlots blocks are kept,
// and a Carver measures and carves the same layout and refuses to overrun its block.
#include <cstdint>
#include <vector>

#include "check.h"
#include "workspace.h"

using na::Carver;
using na::Workspace;
using na::WorkspacePool;

static bool aligned64(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

// The layout of a call: three pieces of odd sizes, described once, run twice.
struct Pieces {
  float *a, *b, *c;
};
static Pieces lay_out(Carver& c) { return {c.take(1), c.take(17), c.take(1000)}; }

int main() {
  WorkspacePool& pool = WorkspacePool::instance();

  // Alignment and capacity.
  for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(17), size_t(100000)}) {
    Workspace w = pool.acquire(n);
    CHECK(w.ok() && aligned64(w.data()) && w.capacity() >= n, "acquire(%zu): ok %d aligned %d capacity %zu", n, w.ok(),
          w.ok() && aligned64(w.data()), w.capacity());
  }

  // Reuse: a released block comes back, and the smallest that fits is chosen (sizes
  // larger than any block idle so far).
  float *small_ptr, *large_ptr;
  {
    Workspace small = pool.acquire(200000), large = pool.acquire(1000000);
    small_ptr = small.data();
    large_ptr = large.data();
  }
  {
    Workspace w = pool.acquire(150000);
    CHECK(w.data() == small_ptr, "150000 floats should reuse the 200000-float block");
    Workspace w2 = pool.acquire(500000);
    CHECK(w2.data() == large_ptr, "500000 floats should reuse the 1000000-float block");
  }

  // At most kSlots blocks stay idle: the smallest are dropped first.
  {
    std::vector<Workspace> held;
    held.reserve(WorkspacePool::kSlots + 4);
    for (int i = 0; i < WorkspacePool::kSlots + 4; ++i) held.push_back(pool.acquire(size_t(4096) * (i + 1)));
  }
  CHECK(pool.idle_blocks() <= WorkspacePool::kSlots, "idle blocks %d > %d", pool.idle_blocks(), WorkspacePool::kSlots);

  // Idle memory stays under its cap: a block that would exceed it is freed, not kept.
  {
    const size_t big = WorkspacePool::kMaxCachedFloats / 2 + 1;
    Workspace a = pool.acquire(big), b = pool.acquire(big);
    CHECK(a.ok() && b.ok(), "two blocks of %zu floats", big);
  }
  CHECK(pool.idle_floats() <= WorkspacePool::kMaxCachedFloats, "idle %zu floats > cap %zu", pool.idle_floats(),
        WorkspacePool::kMaxCachedFloats);

  // An impossible size fails cleanly.
  CHECK(!pool.acquire(SIZE_MAX / 2).ok(), "acquire(SIZE_MAX / 2) should fail");

  // Carver: measure, then carve exactly that much; pieces aligned, disjoint, in order.
  Carver measure;
  lay_out(measure);
  CHECK(measure.ok() && measure.used() == 16 + 32 + 1008, "measured %zu floats", measure.used());
  {
    Workspace w = pool.acquire(measure.used());
    Carver cut(w.data(), w.capacity());
    const Pieces p = lay_out(cut);
    CHECK(cut.ok() && cut.used() == measure.used(), "carved %zu of %zu", cut.used(), measure.used());
    CHECK(aligned64(p.a) && aligned64(p.b) && aligned64(p.c), "pieces not 64-byte aligned");
    CHECK(p.b >= p.a + 1 && p.c >= p.b + 17 && p.c + 1000 <= w.data() + w.capacity(), "pieces overlap or overrun");
  }
  // Beyond the block, or an overflowed (negative) size: null and failed, never a pointer past the end.
  {
    std::vector<float> block(64);
    Carver cut(block.data(), block.size());
    CHECK(cut.take(48) != nullptr && cut.ok(), "48 of 64 floats");
    CHECK(cut.take(17) == nullptr && !cut.ok(), "17 more floats should not fit");
    Carver neg;
    CHECK(neg.take(-1) == nullptr && !neg.ok(), "a negative size should fail");
  }
  return na_test::test_exit("workspace_test");
}
