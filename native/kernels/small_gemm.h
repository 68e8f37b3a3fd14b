// Row-major sgemm for tiny products, where OpenBLAS's fixed per-call cost (interface,
// dispatch, packing) outweighs the arithmetic: per-call overhead is what small requests
// (a few tokens, a few heads) pay. Larger products go to cblas_sgemm.
#pragma once
#include <cstdint>

namespace na {

// Products up to this many multiply-adds, with a short inner dimension, take the direct
// loops (a long single-accumulator sum would lose accuracy against BLAS's blocked one).
constexpr int64_t kSmallGemmMacs = 16384;
constexpr int kSmallGemmMaxK = 256;

// C[M, N] = alpha · A[M, K] · op(B) + beta · C, op(B) = B [K, N] or Bᵀ with B [N, K].
// beta must be 0 (C is overwritten, never read) or 1 (accumulate).
void small_sgemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc);

// The one entry point the kernels use: picks small_sgemm or cblas_sgemm by size.
void sgemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc);

}  // namespace na
