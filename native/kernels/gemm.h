// Matrix products on OpenBLAS's cblas_sgemm, split across a Lease's threads.
#pragma once
#include <cstdint>

#include "compute_pool.h"

namespace na {

// Once per process: OpenBLAS single-threaded (the ComputePool owns threading).
void blas_init();
const char* blas_config();     // OpenBLAS build configuration string
const char* blas_core_name();  // the kernel family OpenBLAS dispatched to on this CPU

// Row-major C[M, N] (ldc) = A[M, K] (lda) · B[K, N] (ldb) + bias[N] broadcast over rows
// (bias may be null). Splits the longer of M and N across the lease's threads (each
// thread repacks the operand it does not split). Sizes must already be checked against
// kBlasIntMax.
// At most this many rows of A go through sgemv (row by row over L2-sized column panels of
// kGemvPanel columns) instead of sgemm: see gemm.cpp. sgemv's time grows with the rows
// while sgemm's packing makes it flat, so from two rows on sgemm wins (bench/NOTES.md;
// -DNA_GEMV_MAX_ROWS=.. in CXXFLAGS for an A/B build).
#ifndef NA_GEMV_MAX_ROWS
#define NA_GEMV_MAX_ROWS 1
#endif
constexpr int kGemvMaxRows = NA_GEMV_MAX_ROWS;
constexpr int kGemvPanel = 64;

void gemm_bias(const Lease& lease, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               const float* bias, float* C, int ldc);

// C[M, N] (ldc) = A[M, K] (row stride K) · B + bias, B packed once by the active
// instruction set's pack_panels (packed_weights.h): our micro-tiles, panels split across
// the lease's threads. No per-call packing of B, which OpenBLAS does on every call.
// False when the kernel declined or could not run (see FlashKernel::gemm_panels): C is then
// undefined and the caller uses gemm_bias on the unpacked weight instead. Only the columns
// of panels [p0, p1) when given (p1 = -1: to the last).
[[nodiscard]] bool gemm_packed(const Lease& lease, int64_t M, int64_t N, int64_t K, const float* A,
                               const float* packed_b, const float* bias, float* C, int64_t ldc, int64_t p0 = 0,
                               int64_t p1 = -1);

// Row-major C[M, N] = alpha · A[M, K] · op(B) + beta · C, op(B) = B [K, N] or Bᵀ with
// B [N, K]: cblas_sgemm, single-threaded (the caller's thread). OpenBLAS 0.3.21 has its
// own small-matrix kernels; direct loops of ours for tiny products were measured slower
// (1.2-1.7x the per-call time on B=1 L=4..16), so everything goes through it.
void sgemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc);

}  // namespace na
