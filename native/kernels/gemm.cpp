#include "gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>

namespace na {

void blas_init() { openblas_set_num_threads(1); }
const char* blas_config() { return openblas_get_config(); }
const char* blas_core_name() { return openblas_get_corename(); }

void sgemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
              ldc);
}

static void gemm_block(int M, int N, int K, const float* A, int lda, const float* B, int ldb, const float* bias,
                       float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  float beta = 0.0f;
  if (bias) {
    // Seed every row of C with the bias and accumulate onto it: no second pass.
    for (int i = 0; i < M; ++i) std::memcpy(C + int64_t(i) * ldc, bias, sizeof(float) * N);
    beta = 1.0f;
  }
  sgemm(false, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void gemm_bias(const Lease& lease, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               const float* bias, float* C, int ldc) {
  const int64_t macs = int64_t(M) * N * K;
  const int threads = lease.threads();
  if (threads <= 1 || macs < kParallelMinMacs) {
    gemm_block(M, N, K, A, lda, B, ldb, bias, C, ldc);
    return;
  }
  // One chunk per thread along the longer of M and N. Each thread packs the whole of the
  // operand it does not split (OpenBLAS packs A and B on every call), so splitting the
  // longer side keeps the repeated packing small: rows when M >= N, columns otherwise
  // (e.g. a 128-token batch against a 512×1536 weight, or a single decoding query).
  const bool by_rows = M >= N;
  const int extent = by_rows ? M : N;
  const int align = by_rows ? 1 : 16;  // column chunks stay multiples of a SIMD width
  const int chunks = std::min(threads, std::max(1, extent / align));
  lease.parallel_for(chunks, [&](int64_t c, int) {
    int begin = int((int64_t(extent) * c / chunks) / align * align);
    int end = c + 1 == chunks ? extent : int((int64_t(extent) * (c + 1) / chunks) / align * align);
    if (end <= begin) return;
    if (by_rows) {
      gemm_block(end - begin, N, K, A + int64_t(begin) * lda, lda, B, ldb, bias, C + int64_t(begin) * ldc, ldc);
    } else {
      gemm_block(M, end - begin, K, A, lda, B + begin, ldb, bias ? bias + begin : nullptr, C + begin, ldc);
    }
  });
}

}  // namespace na
