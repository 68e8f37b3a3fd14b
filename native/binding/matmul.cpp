// matmul: C = A · B with cblas_sgemm at the pool's thread count. The package's first
// and simplest kernel entry point, and the benchmark's sgemm ceiling.
#include "args.h"
#include "entry_points.h"
#include "gemm.h"

namespace na::binding {

// matmul(...NA_MATMUL_ARGS): a [M, K], b [K, N], out [M, N]
Napi::Value matmul(const Napi::CallbackInfo& info) {
  using A = MatmulArg;
  const Args<A> args(info, "matmul");
  const int64_t M = args.dim(A::M);
  const int64_t N = args.dim(A::N);
  const int64_t K = args.dim(A::K);
  auto a = args.typed_array<float>(A::a, args.elements(A::a, {M, K}));
  auto b = args.typed_array<float>(A::b, args.elements(A::b, {K, N}));
  auto c = args.typed_array<float>(A::out, args.elements(A::out, {M, N}));
  require_disjoint(args.env(), {"out", c.data, c.bytes()}, {{"a", a.data, a.bytes()}, {"b", b.data, b.bytes()}});
  Lease lease = ComputePool::instance().lease_for(saturating_macs(double(M) * N * K));
  gemm_bias(lease, int(M), int(N), int(K), a.data, int(K), b.data, int(N), nullptr, c.data, int(N));
  return args.env().Undefined();
}

}  // namespace na::binding
