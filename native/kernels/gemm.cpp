#include "gemm.h"

#include "cpu_features.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
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

bool gemm_packed(const Lease& lease, int64_t M, int64_t N, int64_t K, const float* A, const float* packed_b,
                 const float* bias, float* C, int64_t ldc, int64_t p0, int64_t p1) {
  const FlashKernel& fk = kernels().flash;
  if (p1 < 0) p1 = (N + fk.panel_width - 1) / fk.panel_width;
  const int64_t panels = p1 - p0;
  const int64_t chunks = std::min<int64_t>(lease.threads(), panels);
  const int64_t cols = std::min(N, p1 * fk.panel_width) - p0 * fk.panel_width;
  if (chunks <= 1 || M * cols * K < kParallelMinMacs) return fk.gemm_panels(A, M, K, packed_b, N, bias, C, ldc, p0, p1);
  std::atomic<bool> ok{true};
  lease.parallel_for(chunks, [&](int64_t i, int) {
    if (!fk.gemm_panels(A, M, K, packed_b, N, bias, C, ldc, p0 + panels * i / chunks, p0 + panels * (i + 1) / chunks))
      ok.store(false, std::memory_order_relaxed);
  });
  return ok.load(std::memory_order_relaxed);
}

namespace {

// C[:, 0:n] for a few rows of A, by cblas_sgemv per row: B is streamed as it lies. On a
// column panel narrow enough (K × kGemvPanel floats: 512 KiB at K = 2048) to stay in L2
// while the rows pass over it, B comes from memory once whatever M is.
void gemv_rows(int M, int n, int K, const float* A, int lda, const float* B, int ldb, const float* bias, float* C,
               int ldc) {
  for (int m = 0; m < M; ++m) {
    float* y = C + int64_t(m) * ldc;
    if (bias) std::memcpy(y, bias, sizeof(float) * n);
    cblas_sgemv(CblasRowMajor, CblasTrans, K, n, 1.0f, B, ldb, A + int64_t(m) * lda, 1, bias ? 1.0f : 0.0f, y, 1);
  }
}

}  // namespace

void gemm_bias(const Lease& lease, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
               const float* bias, float* C, int ldc) {
  const int64_t macs = int64_t(M) * N * K;
  const int threads = lease.threads();
  if (M <= kGemvMaxRows) {
    // A decoding step: reading B is the whole cost. sgemm would first pack (copy) all of
    // B, tripling its memory traffic (bench/NOTES.md); sgemv reads it in place.
    const int panels = (N + kGemvPanel - 1) / kGemvPanel;
    const auto panel = [&](int64_t p, int) {
      const int begin = int(p) * kGemvPanel, n = std::min(kGemvPanel, N - begin);
      gemv_rows(M, n, K, A, lda, B + begin, ldb, bias ? bias + begin : nullptr, C + begin, ldc);
    };
    if (threads <= 1 || macs < kParallelMinMacs) {
      for (int p = 0; p < panels; ++p) panel(p, 0);
    } else {
      lease.parallel_for(panels, panel);
    }
    return;
  }
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
