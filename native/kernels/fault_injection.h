// A test hook that makes allocations and thread starts fail on demand, so the tests can
// show that every entry point turns such a failure into a JavaScript error, leaks
// nothing and leaves the module working. Disarmed it costs one relaxed atomic load per
// allocation or thread start. The addon arms it only when the process was started with
// NATIVE_ATTENTION_FAULT_INJECTION=1 (see native/binding/addon.cpp).
#pragma once
#include <atomic>
#include <cstdint>

namespace na::fault {

enum class Kind { Alloc = 0, ThreadStart = 1, kCount = 2 };

// After `skip` more checks of that kind pass, the next `count` fail (count 0 disarms).
// With `this_thread_only`, only checks made on the calling thread count (so a test can
// target the JS thread's allocations while pool threads allocate concurrently).
void arm(Kind kind, int64_t skip, int64_t count, bool this_thread_only = false);

// True when this allocation or thread start should fail.
bool should_fail(Kind kind);

// For allocations made with new / make_shared: throws std::bad_alloc when armed.
void check_alloc();

}  // namespace na::fault
