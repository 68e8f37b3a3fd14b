// matmul: C = A · B with cblas_sgemm at the pool's thread count. The package's first
// and simplest kernel entry point, and the benchmark's sgemm ceiling.
#include "args.h"
#include "entry_points.h"
#include "gemm.h"

namespace na::binding {

// matmul({ a [M, K], b [K, N], out [M, N], M, N, K })
Napi::Value matmul(const Napi::CallbackInfo& info) {
  const Args args(info, "matmul");
  const int64_t M = args.dim("M");
  const int64_t N = args.dim("N");
  const int64_t K = args.dim("K");
  auto a = args.typed_array<float>("a", args.elements("a", {M, K}));
  auto b = args.typed_array<float>("b", args.elements("b", {K, N}));
  auto c = args.typed_array<float>("out", args.elements("out", {M, N}));
  require_disjoint(args.env(), {"out", c.data, c.bytes()}, {{"a", a.data, a.bytes()}, {"b", b.data, b.bytes()}});
  Lease lease = ComputePool::instance().lease_for(saturating_macs(double(M) * N * K));
  gemm_bias(lease, int(M), int(N), int(K), a.data, int(K), b.data, int(N), nullptr, c.data, int(N));
  return args.env().Undefined();
}

}  // namespace na::binding
