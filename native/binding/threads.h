// How many threads a call gets: small calls run inline on the caller (a hand-off
// costs more than they do, and microseconds cannot oversubscribe anything); larger
// ones lease slots from the process-wide ComputePool.
#pragma once
#include "compute_pool.h"
#include "gemm.h"

namespace na::binding {

inline Lease lease_for(int64_t macs) {
  if (macs < 4 * kParallelMinMacs) return ComputePool::inline_lease();
  ComputePool& pool = ComputePool::instance();
  return pool.acquire(pool.num_threads());
}

}  // namespace na::binding
