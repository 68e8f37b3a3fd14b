// Native tests of gemm_bias's threading split against a double reference: rows when
// M >= N, 16-aligned column chunks when M < N, fewer chunks than threads, with and
// without bias, leading dimensions wider than the matrix, and output padding that must
// stay untouched. One thread and four must each match the reference.
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "compute_pool.h"
#include "gemm.h"

using na::ComputePool;

struct Case {
  int M, N, K;
  bool bias;
  int pad;  // extra columns in every leading dimension
};

static double max_rel_error(const Case& c, const std::vector<float>& A, const std::vector<float>& B,
                            const std::vector<float>& bias, const std::vector<float>& C) {
  const int lda = c.K + c.pad, ldb = c.N + c.pad, ldc = c.N + c.pad;
  double worst = 0;
  for (int i = 0; i < c.M; ++i) {
    for (int j = 0; j < c.N; ++j) {
      double ref = c.bias ? bias[j] : 0.0, mag = std::fabs(ref);
      for (int k = 0; k < c.K; ++k) {
        ref += double(A[size_t(i) * lda + k]) * B[size_t(k) * ldb + j];
        mag += std::fabs(double(A[size_t(i) * lda + k]) * B[size_t(k) * ldb + j]);
      }
      worst = std::max(worst, std::fabs(C[size_t(i) * ldc + j] - ref) / std::max(mag, 1e-30));
    }
  }
  return worst;
}

int main() {
  na::blas_init();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  ComputePool& pool = ComputePool::instance();
  pool.set_num_threads(4);
  const Case cases[] = {
      {300, 40, 64, false, 0},   // rows split (M >= N)
      {300, 40, 64, true, 3},    // with bias and padded leading dimensions
      {3, 1000, 200, true, 0},   // columns split (M < N), chunks aligned to 16
      {1, 4097, 512, false, 5},  // a single row: a decoding query against a weight
      {17, 33, 1000, true, 1},   // N = 33: two 16-wide chunks for four threads
      {5, 20, 3000, false, 0},   // M < N with N / 16 = 1 chunk: runs on one thread
      {1000, 1, 300, true, 0},   // N = 1
  };
  for (const Case& c : cases) {
    const int lda = c.K + c.pad, ldb = c.N + c.pad, ldc = c.N + c.pad;
    std::vector<float> A(size_t(c.M) * lda), B(size_t(c.K) * ldb), bias(c.N);
    for (float& x : A) x = u(rng);
    for (float& x : B) x = u(rng);
    for (float& x : bias) x = u(rng);
    const float poison = std::nanf("");
    std::vector<float> one(size_t(c.M) * ldc, poison), four(size_t(c.M) * ldc, poison);
    na::gemm_bias(ComputePool::inline_lease(), c.M, c.N, c.K, A.data(), lda, B.data(), ldb,
                  c.bias ? bias.data() : nullptr, one.data(), ldc);
    {
      na::Lease lease = pool.lease(4);
      na::gemm_bias(lease, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, c.bias ? bias.data() : nullptr, four.data(),
                    ldc);
    }
    const double e1 = max_rel_error(c, A, B, bias, one), e4 = max_rel_error(c, A, B, bias, four);
    CHECK(e1 < 1e-5 && e4 < 1e-5, "M=%d N=%d K=%d bias=%d: rel error 1 thread %g, 4 threads %g", c.M, c.N, c.K, c.bias,
          e1, e4);
    // The padding columns of C are never written.
    for (int i = 0; i < c.M; ++i)
      for (int j = c.N; j < ldc; ++j)
        CHECK(std::isnan(four[size_t(i) * ldc + j]), "M=%d N=%d: padding C[%d][%d] written", c.M, c.N, i, j);
  }
  return na_test::test_exit("gemm_test");
}
