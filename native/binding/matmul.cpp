// matmul: C = A · B with cblas_sgemm at the pool's thread count. The package's first
// and simplest kernel entry point, and the benchmark's sgemm ceiling.
#include "args.h"
#include "entry_points.h"
#include "gemm.h"
#include "threads.h"

namespace na::binding {

// matmul(a [M, K], b [K, N], out [M, N], M, N, K)
Napi::Value matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = integer(info, 3, "M", 1, kBlasIntMax);
  const int64_t N = integer(info, 4, "N", 1, kBlasIntMax);
  const int64_t K = integer(info, 5, "K", 1, kBlasIntMax);
  auto a = typed_array<float>(info, 0, "a", product_or_throw(env, {M, K}, "a"));
  auto b = typed_array<float>(info, 1, "b", product_or_throw(env, {K, N}, "b"));
  auto c = typed_array<float>(info, 2, "out", product_or_throw(env, {M, N}, "out"));
  require_disjoint(env, {"out", c.data, c.length * 4}, {{"a", a.data, a.length * 4}, {"b", b.data, b.length * 4}});
  Lease lease = lease_for(M * N * K);
  gemm_bias(lease, int(M), int(N), int(K), a.data, int(K), b.data, int(N), nullptr, c.data, int(N));
  return env.Undefined();
}

}  // namespace na::binding
