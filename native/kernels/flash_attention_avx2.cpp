// AVX2 + FMA path of the fused attention kernel and the softmax row. Compiled with
// -mavx2 -mfma (CMakeLists.txt, x86 only) and called only when the CPU and the OS support
// them (cpu_features.cpp). Micro-tiles of 6 rows × 16 columns: 12 accumulators, 2 loads and
// a broadcast in 16 ymm registers (MLAS's FMA3 kernel shape).
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "exp_poly.h"
#include "flash_attention.h"

namespace na {
namespace avx2 {
namespace {

constexpr int kVecBytes = 32;  // one vector register
constexpr int kMR = 6;
constexpr int kNR = 16;
// Query rows per task and keys per block; overridable for tuning experiments only
// (-DNA_AVX2_BR=.. -DNA_AVX2_BC=..; BR a multiple of kMR, BC of kNR).
#ifndef NA_AVX2_BR
#define NA_AVX2_BR 48
#endif
#ifndef NA_AVX2_BC
#define NA_AVX2_BC 64
#endif
constexpr int kBr = NA_AVX2_BR;
constexpr int kBc = NA_AVX2_BC;
static_assert(kBr % kMR == 0 && kBc % kNR == 0, "blocks are whole micro-tiles");

// S[M][panels·kNR] = A · B, or += with accumulate (see PanelOperands).
template <int M>
void qk_tile(const PanelOperands& op, int64_t panels, bool accumulate, float* s, int64_t lds) {
  for (int64_t p = 0; p < panels; ++p) {
    const float* b = op.b + p * op.panel_stride;
    float* out = s + p * kNR;
    __m256 acc[M][2];
    for (int r = 0; r < M; ++r) {
      acc[r][0] = accumulate ? _mm256_load_ps(out + r * lds) : _mm256_setzero_ps();
      acc[r][1] = accumulate ? _mm256_load_ps(out + r * lds + 8) : _mm256_setzero_ps();
    }
    for (int64_t d = 0; d < op.depth; ++d) {
      const __m256 b0 = _mm256_load_ps(b + d * kNR), b1 = _mm256_load_ps(b + d * kNR + 8);
      for (int r = 0; r < M; ++r) {
        const __m256 a = _mm256_broadcast_ss(op.a + r * op.lda + d);
        acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < M; ++r) {
      _mm256_store_ps(out + r * lds, acc[r][0]);
      _mm256_store_ps(out + r * lds + 8, acc[r][1]);
    }
  }
}

// Lane mask of the first `cols` (0..8) lanes.
__m256i first_lanes(int64_t cols) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(cols)), idx);
}

// O[M][c0 : c0+16] += P[M][n] · V[n][c0 : c0+16]; `cols` < 16 reads only that many V
// columns (O rows are padded, so O is accessed whole).
template <int M>
void pv_tile(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t cols, float* o, int64_t ldo) {
  __m256 acc[M][2];
  for (int r = 0; r < M; ++r) {
    acc[r][0] = _mm256_load_ps(o + r * ldo);
    acc[r][1] = _mm256_load_ps(o + r * ldo + 8);
  }
  if (cols >= 16) {
    for (int64_t j = 0; j < n; ++j) {
      const __m256 b0 = _mm256_loadu_ps(v + j * ldv), b1 = _mm256_loadu_ps(v + j * ldv + 8);
      for (int r = 0; r < M; ++r) {
        const __m256 a = _mm256_broadcast_ss(p + r * ldp + j);
        acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
      }
    }
  } else {
    const __m256i m0 = first_lanes(cols), m1 = first_lanes(cols - 8);
    for (int64_t j = 0; j < n; ++j) {
      const __m256 b0 = _mm256_maskload_ps(v + j * ldv, m0), b1 = _mm256_maskload_ps(v + j * ldv + 8, m1);
      for (int r = 0; r < M; ++r) {
        const __m256 a = _mm256_broadcast_ss(p + r * ldp + j);
        acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
      }
    }
  }
  for (int r = 0; r < M; ++r) {
    _mm256_store_ps(o + r * ldo, acc[r][0]);
    _mm256_store_ps(o + r * ldo + 8, acc[r][1]);
  }
}

// O[M][Dv] += P[M][n] · V[n][Dv], kNR columns at a time.
template <int M>
void pv_rows(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t Dv, float* o, int64_t ldo) {
  for (int64_t c0 = 0; c0 < Dv; c0 += 16) pv_tile<M>(p, ldp, n, v + c0, ldv, Dv - c0, o + c0, ldo);
}

// exp(x) for x <= 0, one register: x = n·ln2 + r (n rounded by the 1.5·2^23 trick, whose
// low mantissa bits then hold n + 127: shifted into the exponent field they are 2^n), exp(r)
// by exp_poly.h's degree-5 polynomial. Twelve operations where Cephes' expf takes fourteen.
// Below -87 (underflow; -inf = masked) the result is 0; NaN propagates through the
// arithmetic (the hardware's float-to-int is never used, so no clamp is needed).
inline __attribute__((always_inline)) __m256 exp_native(__m256 x) {
  using namespace exp_poly;
  const __m256 magic = _mm256_set1_ps(12583039.0f);  // 1.5·2^23 + 127
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), magic);
  const __m256 n = _mm256_sub_ps(t, magic);
  const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2), x);
  static_assert(kDegree == 5, "one FMA per coefficient below");
  __m256 p = _mm256_set1_ps(kC[5]);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[4]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[3]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[2]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[1]));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[0]));
  const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
  const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, scale));
}

}  // namespace
}  // namespace avx2
}  // namespace na

#define NA_FLASH_NATIVE_EXP 1
#define NA_FLASH_ISA avx2
#include "flash_attention_body.inc"
#endif
