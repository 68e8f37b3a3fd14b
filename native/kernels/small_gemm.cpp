#include "small_gemm.h"

#include <cblas.h>

#include "simd.h"

namespace na {

NA_SIMD_CLONES
void small_sgemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    float* c = C + int64_t(i) * ldc;
    const float* a = A + int64_t(i) * lda;
    if (trans_b) {
      // C[i, j] = alpha · <A[i, :], B[j, :]>: both rows contiguous.
      for (int j = 0; j < N; ++j) {
        const float* b = B + int64_t(j) * ldb;
        float dot = 0.0f;
        for (int k = 0; k < K; ++k) dot += a[k] * b[k];
        c[j] = (beta == 0.0f ? 0.0f : c[j]) + alpha * dot;
      }
    } else {
      // C[i, :] += alpha · A[i, k] · B[k, :]: the inner loop runs along contiguous rows.
      if (beta == 0.0f)
        for (int j = 0; j < N; ++j) c[j] = 0.0f;
      for (int k = 0; k < K; ++k) {
        const float s = alpha * a[k];
        const float* b = B + int64_t(k) * ldb;
        for (int j = 0; j < N; ++j) c[j] += s * b[j];
      }
    }
  }
}

void sgemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc) {
  if (K <= kSmallGemmMaxK && int64_t(M) * N * K <= kSmallGemmMacs) {
    small_sgemm(trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
              ldc);
}

}  // namespace na
